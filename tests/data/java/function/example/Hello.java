package example;

import com.amazonaws.services.lambda.runtime.Context;

public class Hello {
    public String handleRequest(String name, Context context) {
        context.getLogger().log("greeting " + name + "\nsecond line");
        System.out.println("stdout line");
        return "Hello, " + name + " from " + context.getFunctionName();
    }
}
