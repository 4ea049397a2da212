package cumulo.lambda;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Cumulo's Java runtime: a Lambda Runtime API client for java11/17/21/25 functions, standard
 * library only (compiled by Cumulo from this source with the JDK at hand, no download).
 *
 * The function's code is loaded by its own class loader over the code root, ``lib/*.jar`` and
 * the layers' ``/opt/java/lib/*.jar``, as AWS's runtime does; Cumulo's classes stay out of its
 * sight. Errors reach the Runtime API in AWS's Java shape: errorMessage, errorType, stackTrace
 * (the user's frames, without the runtime's) and cause.
 *
 * No lambdas and no indy string concatenation (javac -XDstringConcat=inline): their bootstrap
 * costs a cold start tens of milliseconds.
 */
public final class LambdaRuntime {
    private final RuntimeApi api;
    private final Map<String, String> env;
    private final OutputStream log;  // AWS's framed telemetry log, or stdout
    private final boolean framed;
    private volatile String requestId = "";

    LambdaRuntime(RuntimeApi api, Map<String, String> env, OutputStream log, boolean framed) {
        this.api = api;
        this.env = env;
        this.log = log;
        this.framed = framed;
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("--train")) {
            Training.run();
            return;
        }
        Map<String, String> env = System.getenv();
        String fd = env.get("_LAMBDA_TELEMETRY_LOG_FD");
        OutputStream log = System.out;
        boolean framed = false;
        if (fd != null) {
            try {
                log = new FileOutputStream("/proc/self/fd/" + fd);
                framed = true;
            } catch (IOException unavailable) {
                // stdout then
            }
        }
        LambdaRuntime runtime = new LambdaRuntime(new RuntimeApi(env.get("AWS_LAMBDA_RUNTIME_API")), env, log, framed);
        ClassLoader loader = functionClassLoader(env.getOrDefault("LAMBDA_TASK_ROOT", "/var/task"),
                System.getProperty("cumulo.opt", "/opt"));
        Thread.currentThread().setContextClassLoader(loader);
        if (!runtime.run(env.get("_HANDLER"), loader)) System.exit(1);
    }

    /** The code root, its lib/*.jar, then the layers' java/lib/*.jar (each folder's jars by name). */
    static ClassLoader functionClassLoader(String taskRoot, String opt) throws IOException {
        List<URL> urls = new ArrayList<>();
        urls.add(new File(taskRoot).toURI().toURL());
        for (String dir : new String[] {taskRoot + "/lib", opt + "/java/lib"}) {
            File[] files = new File(dir).listFiles();
            if (files == null) continue;
            Arrays.sort(files);
            for (File file : files) {
                if (file.getName().endsWith(".jar")) urls.add(file.toURI().toURL());
            }
        }
        return new URLClassLoader(urls.toArray(new URL[0]), ClassLoader.getPlatformClassLoader());
    }

    /** INIT, then events until the Runtime API goes away; false when INIT failed. */
    boolean run(String handlerName, ClassLoader loader) throws IOException {
        Handler handler;
        try {
            handler = Handler.load(handlerName, loader);
        } catch (Handler.Fault fault) {
            report("init/error", fault.type, fault);
            return false;
        } catch (Throwable t) {
            report("init/error", t.getClass().getName(), t);
            return false;
        }
        while (true) {
            RuntimeApi.Response next;
            try {
                next = api.next();
            } catch (IOException gone) {
                return true;
            }
            requestId = next.headers.getOrDefault("lambda-runtime-aws-request-id", "");
            String trace = next.headers.get("lambda-runtime-trace-id");
            if (trace != null) System.setProperty("com.amazonaws.xray.traceHeader", trace);
            else System.clearProperty("com.amazonaws.xray.traceHeader");
            Object context = handler.contextType == null ? null : context(handler.contextType, next.headers);
            byte[] response;
            try {
                response = handler.invoke(next.body, context);
            } catch (Handler.Fault fault) {
                report("invocation/" + requestId + "/error", fault.type, fault);
                continue;
            } catch (Throwable t) {
                report("invocation/" + requestId + "/error", t.getClass().getName(), t);
                continue;
            }
            api.post("invocation/" + requestId + "/response", response, null);
        }
    }

    private void report(String path, String type, Throwable t) throws IOException {
        Map<String, Object> error = errorShape(type, t);
        String json;
        try {
            json = Json.write(error);
        } catch (ReflectiveOperationException impossible) {
            json = "{\"errorType\":\"" + type + "\"}";
        }
        write(json.getBytes(StandardCharsets.UTF_8));
        api.post(path, json.getBytes(StandardCharsets.UTF_8), type);
    }

    /** AWS's Java error: errorMessage, errorType, stackTrace (without Cumulo's frames), cause. */
    static Map<String, Object> errorShape(String type, Throwable t) {
        Map<String, Object> out = new LinkedHashMap<>();
        boolean fault = t instanceof Handler.Fault;
        out.put("errorMessage", t.getMessage());
        out.put("errorType", type);
        List<String> frames = new ArrayList<>();
        if (!fault) {
            for (StackTraceElement frame : t.getStackTrace()) {
                if (frame.getClassName().startsWith("cumulo.lambda.")) break;
                frames.add(frame.toString());
            }
        }
        out.put("stackTrace", frames);
        Throwable cause = t.getCause();
        if (cause != null && cause != t) out.put("cause", errorShape(cause.getClass().getName(), cause));
        return out;
    }

    /** One log event: framed for the telemetry fd (AWS's protocol), or a line on stdout. */
    synchronized void write(byte[] message) {
        try {
            if (framed) {
                ByteBuffer frame = ByteBuffer.allocate(16 + message.length);
                frame.putInt(0xa55a0003).putInt(message.length).putLong(System.currentTimeMillis() * 1000L).put(message);
                log.write(frame.array());
            } else {
                log.write(message);
                log.write('\n');
            }
            log.flush();
        } catch (IOException ignored) {
            // the agent is gone: nothing to log to
        }
    }

    /** The Context the handler asked for (aws-lambda-java-core's interface, from the function's loader). */
    Object context(Class<?> contextType, Map<String, String> headers) {
        return Proxy.newProxyInstance(contextType.getClassLoader(), new Class<?>[] {contextType},
                new ContextAnswers(this, headers));
    }

    /** The Context's methods, by name. */
    private static final class ContextAnswers implements InvocationHandler {
        private final LambdaRuntime runtime;
        private final long deadline;
        private final String id;
        private final String arn;

        ContextAnswers(LambdaRuntime runtime, Map<String, String> headers) {
            this.runtime = runtime;
            this.deadline = Long.parseLong(headers.getOrDefault("lambda-runtime-deadline-ms", "0"));
            this.id = headers.getOrDefault("lambda-runtime-aws-request-id", "");
            this.arn = headers.getOrDefault("lambda-runtime-invoked-function-arn", "");
        }

        @Override
        public Object invoke(Object proxy, Method method, Object[] args) {
            Map<String, String> env = runtime.env;
            switch (method.getName()) {
                case "getAwsRequestId": return id;
                case "getLogGroupName": return env.get("AWS_LAMBDA_LOG_GROUP_NAME");
                case "getLogStreamName": return env.get("AWS_LAMBDA_LOG_STREAM_NAME");
                case "getFunctionName": return env.get("AWS_LAMBDA_FUNCTION_NAME");
                case "getFunctionVersion": return env.get("AWS_LAMBDA_FUNCTION_VERSION");
                case "getInvokedFunctionArn": return arn;
                case "getRemainingTimeInMillis": return (int) Math.max(0, deadline - System.currentTimeMillis());
                case "getMemoryLimitInMB": return Integer.parseInt(env.getOrDefault("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"));
                case "getLogger":
                    Class<?> type = method.getReturnType();
                    return Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, new LoggerAnswers(runtime));
                case "toString": return "LambdaContext[" + id + "]";
                case "hashCode": return System.identityHashCode(proxy);
                case "equals": return proxy == args[0];
                default: return zero(method.getReturnType());
            }
        }
    }

    /** LambdaLogger.log(String | byte[] [, LogLevel]): one log event. */
    private static final class LoggerAnswers implements InvocationHandler {
        private final LambdaRuntime runtime;

        LoggerAnswers(LambdaRuntime runtime) {
            this.runtime = runtime;
        }

        @Override
        public Object invoke(Object proxy, Method method, Object[] args) {
            String name = method.getName();
            if (name.equals("log") && args != null && args.length >= 1) {
                Object message = args[0];
                runtime.write(message instanceof byte[] ? (byte[]) message
                        : String.valueOf(message).getBytes(StandardCharsets.UTF_8));
                return null;
            }
            if (name.equals("toString")) return "LambdaLogger";
            if (name.equals("hashCode")) return System.identityHashCode(proxy);
            if (name.equals("equals")) return proxy == args[0];
            return zero(method.getReturnType());
        }
    }

    private static Object zero(Class<?> type) {
        if (type == boolean.class) return false;
        if (type == int.class) return 0;
        if (type == long.class) return 0L;
        return null;
    }
}
