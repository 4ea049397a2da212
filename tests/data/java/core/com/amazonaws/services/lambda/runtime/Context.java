package com.amazonaws.services.lambda.runtime;

/** The subset of aws-lambda-java-core's Context the tests use (the real jar is on Maven Central). */
public interface Context {
    String getAwsRequestId();
    String getLogGroupName();
    String getLogStreamName();
    String getFunctionName();
    String getFunctionVersion();
    String getInvokedFunctionArn();
    Object getIdentity();
    Object getClientContext();
    int getRemainingTimeInMillis();
    int getMemoryLimitInMB();
    LambdaLogger getLogger();
}
