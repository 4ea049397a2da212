package example;

import com.amazonaws.services.lambda.runtime.Context;
import java.util.LinkedHashMap;
import java.util.Map;

public class Info {
    public Map<String, Object> handle(Map<String, Object> event, Context context) throws Exception {
        Object sleep = event.get("sleepMs");
        if (sleep != null) Thread.sleep(((Number) sleep).longValue());
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("version", System.getProperty("java.specification.version"));
        out.put("requestId", context.getAwsRequestId());
        out.put("functionName", context.getFunctionName());
        out.put("functionVersion", context.getFunctionVersion());
        out.put("arn", context.getInvokedFunctionArn());
        out.put("memory", context.getMemoryLimitInMB());
        out.put("remaining", context.getRemainingTimeInMillis());
        out.put("logGroup", context.getLogGroupName());
        out.put("toolOption", System.getProperty("cumulo.test.option"));
        out.put("maxHeapMb", Runtime.getRuntime().maxMemory() / (1024 * 1024));
        out.put("user", System.getProperty("user.name"));
        String greeter;
        try {
            greeter = (String) Class.forName("layer.Greeter").getMethod("greet", String.class).invoke(null, "layer");
        } catch (ClassNotFoundException e) {
            greeter = null;
        }
        out.put("greeter", greeter);
        return out;
    }
}
