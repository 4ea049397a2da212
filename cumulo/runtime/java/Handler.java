package cumulo.lambda;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A function's handler, loaded as AWS's Java runtime loads it: ``package.Class::method`` (the
 * public method of that name with the most parameters: (InputStream, OutputStream[, Context]),
 * (input[, Context]) or ()) or ``package.Class`` implementing RequestHandler or
 * RequestStreamHandler from aws-lambda-java-core (bundled with the function, seen by name).
 */
final class Handler {
    static final String CONTEXT = "com.amazonaws.services.lambda.runtime.Context";
    static final String REQUEST_HANDLER = "com.amazonaws.services.lambda.runtime.RequestHandler";
    static final String STREAM_HANDLER = "com.amazonaws.services.lambda.runtime.RequestStreamHandler";

    /** A failure reported with AWS's error type and message (init errors, deserialization). */
    static final class Fault extends Exception {
        private static final long serialVersionUID = 1L;
        final String type;

        Fault(String type, String message, Throwable cause) {
            super(message, cause);
            this.type = type;
        }
    }

    private final Object instance;  // null for a static method
    private final Method method;
    private final boolean stream;
    private final Type inputType;  // null: the method takes no input
    final Class<?> contextType;  // null: the method takes no Context

    private Handler(Object instance, Method method, boolean stream, Type inputType, Class<?> contextType) {
        this.instance = instance;
        this.method = method;
        this.stream = stream;
        this.inputType = inputType;
        this.contextType = contextType;
        method.setAccessible(true);
    }

    static Handler load(String spec, ClassLoader loader) throws Fault {
        if (spec == null || spec.isEmpty()) throw new Fault("java.lang.IllegalArgumentException", "Invalid handler: (empty)", null);
        int sep = spec.indexOf("::");
        String className = sep < 0 ? spec : spec.substring(0, sep);
        Class<?> cls;
        try {
            cls = Class.forName(className, true, loader);
        } catch (ClassNotFoundException | NoClassDefFoundError e) {
            throw new Fault("java.lang.ClassNotFoundException", "Class not found: " + className, e);
        } catch (ExceptionInInitializerError e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new Fault(cause.getClass().getName(), "Error loading class " + className + ": " + cause, cause);
        } catch (LinkageError e) {
            throw new Fault(e.getClass().getName(), "Error loading class " + className + ": " + e, e);
        }
        return sep < 0 ? forClass(cls) : forMethod(cls, spec.substring(sep + 2));
    }

    private static Handler forClass(Class<?> cls) throws Fault {
        if (implementsNamed(cls, STREAM_HANDLER)) {
            Method m = publicMethod(cls, "handleRequest", 3);
            return new Handler(instance(cls), m, true, null, m.getParameterTypes()[2]);
        }
        if (implementsNamed(cls, REQUEST_HANDLER)) {
            Type input = typeArgument(cls, REQUEST_HANDLER);
            Method chosen = null;
            for (Method m : cls.getMethods()) {
                if (m.getName().equals("handleRequest") && m.getParameterCount() == 2 && !m.isBridge()) chosen = m;
            }
            if (chosen == null) chosen = publicMethod(cls, "handleRequest", 2);
            if (input == null || input instanceof TypeVariable) input = chosen.getGenericParameterTypes()[0];
            return new Handler(instance(cls), chosen, false, input, chosen.getParameterTypes()[1]);
        }
        throw new Fault("java.lang.ClassCastException", "Class " + cls.getName()
                + " does not implement RequestHandler or RequestStreamHandler: name the method as "
                + cls.getName() + "::methodName", null);
    }

    private static Handler forMethod(Class<?> cls, String name) throws Fault {
        List<Method> candidates = new ArrayList<>();
        for (Method m : cls.getMethods()) {
            if (m.getName().equals(name) && usable(m)) candidates.add(m);
        }
        if (candidates.isEmpty()) {
            throw new Fault("java.lang.NoSuchMethodException", "No public method named " + name
                    + " with appropriate method signature found on class " + cls.getName(), null);
        }
        candidates.sort(new Preference());
        Method m = candidates.get(0);
        Object target = Modifier.isStatic(m.getModifiers()) ? null : instance(cls);
        Class<?>[] p = m.getParameterTypes();
        if (isStream(p)) return new Handler(target, m, true, null, p.length == 3 ? p[2] : null);
        Type[] generic = m.getGenericParameterTypes();
        if (p.length == 0) return new Handler(target, m, false, null, null);
        if (p.length == 1) {
            return isContext(p[0]) ? new Handler(target, m, false, null, p[0]) : new Handler(target, m, false, generic[0], null);
        }
        return new Handler(target, m, false, generic[0], p[1]);
    }

    /** Non-bridge methods first, then the most parameters (a class, not a lambda: no bootstrap at start-up). */
    private static final class Preference implements java.util.Comparator<Method> {
        @Override
        public int compare(Method a, Method b) {
            if (a.isBridge() != b.isBridge()) return a.isBridge() ? 1 : -1;
            return Integer.compare(b.getParameterCount(), a.getParameterCount());
        }
    }

    private static boolean usable(Method m) {
        Class<?>[] p = m.getParameterTypes();
        if (p.length == 3) return isStream(p);
        if (p.length == 2) return isStream(p) || isContext(p[1]);
        return p.length <= 1;
    }

    private static boolean isStream(Class<?>[] p) {
        return p.length >= 2 && p[0] == InputStream.class && p[1] == OutputStream.class && (p.length == 2 || isContext(p[2]));
    }

    private static boolean isContext(Class<?> c) {
        return c.getName().equals(CONTEXT);
    }

    private static Method publicMethod(Class<?> cls, String name, int params) throws Fault {
        for (Method m : cls.getMethods()) {
            if (m.getName().equals(name) && m.getParameterCount() == params) return m;
        }
        throw new Fault("java.lang.NoSuchMethodException", "No public method named " + name
                + " with appropriate method signature found on class " + cls.getName(), null);
    }

    private static Object instance(Class<?> cls) throws Fault {
        try {
            Constructor<?> ctor = cls.getDeclaredConstructor();
            ctor.setAccessible(true);
            return ctor.newInstance();
        } catch (NoSuchMethodException e) {
            throw new Fault("java.lang.NoSuchMethodException", "Class " + cls.getName()
                    + " has no public zero-argument constructor", e);
        } catch (java.lang.reflect.InvocationTargetException e) {
            Throwable cause = e.getCause();
            throw new Fault(cause.getClass().getName(), "An error occurred during class instantiation: " + cause, cause);
        } catch (ReflectiveOperationException e) {
            throw new Fault(e.getClass().getName(), "Cannot instantiate " + cls.getName() + ": " + e, e);
        }
    }

    private static boolean implementsNamed(Class<?> cls, String name) {
        for (Class<?> c = cls; c != null; c = c.getSuperclass()) {
            for (Class<?> i : c.getInterfaces()) {
                if (i.getName().equals(name) || implementsNamed(i, name)) return true;
            }
        }
        return false;
    }

    /** The first type argument ``cls`` gives the generic interface ``name`` (RequestHandler<I, O>'s I). */
    private static Type typeArgument(Class<?> cls, String name) {
        for (Class<?> c = cls; c != null; c = c.getSuperclass()) {
            for (Type t : c.getGenericInterfaces()) {
                if (t instanceof ParameterizedType && ((Class<?>) ((ParameterizedType) t).getRawType()).getName().equals(name)) {
                    return ((ParameterizedType) t).getActualTypeArguments()[0];
                }
            }
        }
        return null;
    }

    /** Run one event: the response payload, or the user's exception (InvocationTargetException unwrapped). */
    byte[] invoke(byte[] event, Object context) throws Throwable {
        try {
            if (stream) {
                ByteArrayOutputStream output = new ByteArrayOutputStream();
                InputStream input = new ByteArrayInputStream(event);
                if (contextType != null) method.invoke(instance, input, output, context);
                else method.invoke(instance, input, output);
                return output.toByteArray();
            }
            Object result;
            if (inputType == null) {
                result = contextType != null ? method.invoke(instance, context) : method.invoke(instance);
            } else {
                Object input = input(event);
                result = contextType != null ? method.invoke(instance, input, context) : method.invoke(instance, input);
            }
            return output(result);
        } catch (java.lang.reflect.InvocationTargetException e) {
            throw e.getCause();
        }
    }

    private Object input(byte[] event) throws Fault {
        if (inputType == InputStream.class) return new ByteArrayInputStream(event);
        if (inputType == byte[].class) return event;
        String text = new String(event, StandardCharsets.UTF_8);
        try {
            return text.trim().isEmpty() ? null : Json.bind(Json.parse(text), inputType);
        } catch (IllegalArgumentException | ReflectiveOperationException e) {
            throw new Fault("java.lang.RuntimeException", "An error occurred during JSON parsing", e);
        }
    }

    private byte[] output(Object result) throws Fault {
        if (method.getReturnType() == void.class) return "null".getBytes(StandardCharsets.UTF_8);
        try {
            return Json.write(result).getBytes(StandardCharsets.UTF_8);
        } catch (IllegalArgumentException | ReflectiveOperationException e) {
            throw new Fault("java.lang.RuntimeException", "An error occurred during JSON serialization of response", e);
        }
    }
}
