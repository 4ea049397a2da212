package cumulo.lambda;

import java.lang.reflect.Array;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The JSON Cumulo's Java runtime needs, standard library only: a parser into Map/List/String/
 * Number/Boolean/null (numbers as Jackson reads untyped ones: Integer, Long, BigInteger, Double),
 * binding of those values to a declared type (POJOs through setters or public fields, unknown
 * properties ignored, names matched exactly, then ignoring case), and a serializer (POJOs
 * through their getters and public fields), which is what AWS's Java runtime does with Jackson.
 */
final class Json {
    private final String text;
    private int pos;

    private Json(String text) {
        this.text = text;
    }

    /** The value of a JSON document. */
    static Object parse(String text) {
        Json p = new Json(text);
        p.skipSpace();
        Object value = p.value();
        p.skipSpace();
        if (p.pos != text.length()) throw p.error("Unexpected character");
        return value;
    }

    private IllegalArgumentException error(String what) {
        return new IllegalArgumentException(what + " at position " + pos);
    }

    private void skipSpace() {
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return;
            pos++;
        }
    }

    private Object value() {
        if (pos >= text.length()) throw error("Unexpected end of input");
        char c = text.charAt(pos);
        switch (c) {
            case '{': return object();
            case '[': return array();
            case '"': return string();
            case 't': return literal("true", Boolean.TRUE);
            case 'f': return literal("false", Boolean.FALSE);
            case 'n': return literal("null", null);
            default:
                if (c == '-' || (c >= '0' && c <= '9')) return number();
                throw error("Unexpected character '" + c + "'");
        }
    }

    private Object literal(String word, Object value) {
        if (!text.startsWith(word, pos)) throw error("Unrecognized token");
        pos += word.length();
        return value;
    }

    private Map<String, Object> object() {
        Map<String, Object> map = new LinkedHashMap<>();
        pos++;
        skipSpace();
        if (pos < text.length() && text.charAt(pos) == '}') {
            pos++;
            return map;
        }
        while (true) {
            skipSpace();
            if (pos >= text.length() || text.charAt(pos) != '"') throw error("Expected a property name");
            String key = string();
            skipSpace();
            if (pos >= text.length() || text.charAt(pos) != ':') throw error("Expected ':'");
            pos++;
            skipSpace();
            map.put(key, value());
            skipSpace();
            if (pos >= text.length()) throw error("Unexpected end of input");
            char c = text.charAt(pos++);
            if (c == '}') return map;
            if (c != ',') throw error("Expected ',' or '}'");
        }
    }

    private List<Object> array() {
        List<Object> list = new ArrayList<>();
        pos++;
        skipSpace();
        if (pos < text.length() && text.charAt(pos) == ']') {
            pos++;
            return list;
        }
        while (true) {
            skipSpace();
            list.add(value());
            skipSpace();
            if (pos >= text.length()) throw error("Unexpected end of input");
            char c = text.charAt(pos++);
            if (c == ']') return list;
            if (c != ',') throw error("Expected ',' or ']'");
        }
    }

    private String string() {
        StringBuilder out = new StringBuilder();
        pos++;
        while (true) {
            if (pos >= text.length()) throw error("Unterminated string");
            char c = text.charAt(pos++);
            if (c == '"') return out.toString();
            if (c != '\\') {
                out.append(c);
                continue;
            }
            if (pos >= text.length()) throw error("Unterminated string");
            char e = text.charAt(pos++);
            switch (e) {
                case 'n': out.append('\n'); break;
                case 't': out.append('\t'); break;
                case 'r': out.append('\r'); break;
                case 'b': out.append('\b'); break;
                case 'f': out.append('\f'); break;
                case 'u':
                    if (pos + 4 > text.length()) throw error("Bad unicode escape");
                    out.append((char) Integer.parseInt(text.substring(pos, pos + 4), 16));
                    pos += 4;
                    break;
                default: out.append(e);
            }
        }
    }

    private Number number() {
        int start = pos;
        boolean decimal = false;
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c == '.' || c == 'e' || c == 'E') decimal = true;
            else if (!(c == '-' || c == '+' || (c >= '0' && c <= '9'))) break;
            pos++;
        }
        String digits = text.substring(start, pos);
        try {
            if (decimal) return Double.valueOf(digits);
            BigInteger big = new BigInteger(digits);
            if (big.bitLength() < 32) return big.intValue();
            if (big.bitLength() < 64) return big.longValue();
            return big;
        } catch (NumberFormatException ex) {
            throw error("Bad number");
        }
    }

    // --- binding parsed values to declared types ------------------------------------------------

    /** ``value`` (from {@link #parse}) as an instance of ``type``. */
    static Object bind(Object value, Type type) throws ReflectiveOperationException {
        if (type instanceof ParameterizedType) {
            ParameterizedType pt = (ParameterizedType) type;
            Class<?> raw = (Class<?>) pt.getRawType();
            Type[] args = pt.getActualTypeArguments();
            if (Map.class.isAssignableFrom(raw) && value instanceof Map) {
                Map<String, Object> out = newMap(raw);
                for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) {
                    out.put((String) e.getKey(), bind(e.getValue(), args[1]));
                }
                return out;
            }
            if (Collection.class.isAssignableFrom(raw) && value instanceof List) {
                Collection<Object> out = newCollection(raw);
                for (Object item : (List<?>) value) out.add(bind(item, args[0]));
                return out;
            }
            return bind(value, raw);
        }
        if (type instanceof GenericArrayType) {
            return bindArray(value, ((GenericArrayType) type).getGenericComponentType());
        }
        if (!(type instanceof Class)) return value;  // a type variable: the value as parsed
        Class<?> cls = (Class<?>) type;
        if (value == null) {
            if (cls.isPrimitive()) throw new IllegalArgumentException("Cannot map null into type " + cls.getName());
            return null;
        }
        if (cls == Object.class) return value;
        if (cls == String.class || cls == CharSequence.class) {
            if (value instanceof Map || value instanceof List) {
                throw new IllegalArgumentException("Cannot deserialize value of type `java.lang.String` from "
                        + (value instanceof Map ? "Object" : "Array") + " value");
            }
            return String.valueOf(value);
        }
        if (cls == boolean.class || cls == Boolean.class) {
            return value instanceof Boolean ? value : Boolean.valueOf(String.valueOf(value));
        }
        if (cls.isPrimitive() || Number.class.isAssignableFrom(cls)) return number(value, cls);
        if (cls == char.class || cls == Character.class) return String.valueOf(value).charAt(0);
        if (cls.isEnum()) {
            for (Object constant : cls.getEnumConstants()) {
                if (((Enum<?>) constant).name().equals(value)) return constant;
            }
            throw new IllegalArgumentException("Cannot deserialize value of type `" + cls.getName()
                    + "` from String \"" + value + "\": not one of the values accepted for Enum class");
        }
        if (cls.isArray()) return bindArray(value, cls.getComponentType());
        if (Map.class.isAssignableFrom(cls) && value instanceof Map) {
            Map<String, Object> out = newMap(cls);
            for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) out.put((String) e.getKey(), e.getValue());
            return out;
        }
        if (Collection.class.isAssignableFrom(cls) && value instanceof List) {
            Collection<Object> out = newCollection(cls);
            out.addAll((List<?>) value);
            return out;
        }
        if (value instanceof Map) return pojo((Map<?, ?>) value, cls);
        throw new IllegalArgumentException("Cannot deserialize value of type `" + cls.getName() + "` from "
                + value.getClass().getSimpleName() + " value");
    }

    private static Object bindArray(Object value, Type component) throws ReflectiveOperationException {
        if (!(value instanceof List)) throw new IllegalArgumentException("Cannot deserialize an array from " + value);
        List<?> list = (List<?>) value;
        Class<?> raw = component instanceof ParameterizedType
                ? (Class<?>) ((ParameterizedType) component).getRawType()
                : component instanceof Class ? (Class<?>) component : Object.class;
        Object out = Array.newInstance(raw, list.size());
        for (int i = 0; i < list.size(); i++) Array.set(out, i, bind(list.get(i), component));
        return out;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> newMap(Class<?> cls) throws ReflectiveOperationException {
        if (cls.isInterface() || Modifier.isAbstract(cls.getModifiers())) return new LinkedHashMap<>();
        return (Map<String, Object>) cls.getDeclaredConstructor().newInstance();
    }

    @SuppressWarnings("unchecked")
    private static Collection<Object> newCollection(Class<?> cls) throws ReflectiveOperationException {
        if (!cls.isInterface() && !Modifier.isAbstract(cls.getModifiers())) {
            return (Collection<Object>) cls.getDeclaredConstructor().newInstance();
        }
        return Set.class.isAssignableFrom(cls) ? new LinkedHashSet<>() : new ArrayList<>();
    }

    private static Object number(Object value, Class<?> cls) {
        BigDecimal n;
        try {
            n = value instanceof Number ? new BigDecimal(value.toString()) : new BigDecimal(String.valueOf(value).trim());
        } catch (NumberFormatException ex) {
            throw new IllegalArgumentException("Cannot deserialize value of type `" + cls.getName()
                    + "` from String \"" + value + "\": not a valid number");
        }
        if (cls == int.class || cls == Integer.class) return n.intValue();
        if (cls == long.class || cls == Long.class) return n.longValue();
        if (cls == double.class || cls == Double.class) return n.doubleValue();
        if (cls == float.class || cls == Float.class) return n.floatValue();
        if (cls == short.class || cls == Short.class) return n.shortValue();
        if (cls == byte.class || cls == Byte.class) return n.byteValue();
        if (cls == BigInteger.class) return n.toBigInteger();
        if (cls == BigDecimal.class) return n;
        return value;
    }

    private static Object pojo(Map<?, ?> values, Class<?> cls) throws ReflectiveOperationException {
        java.lang.reflect.Constructor<?> ctor = cls.getDeclaredConstructor();
        ctor.setAccessible(true);
        Object target = ctor.newInstance();
        for (Map.Entry<?, ?> e : values.entrySet()) {
            String name = (String) e.getKey();
            Method setter = setter(cls, name);
            if (setter != null) {
                setter.invoke(target, bind(e.getValue(), setter.getGenericParameterTypes()[0]));
                continue;
            }
            Field field = field(cls, name);
            if (field != null) field.set(target, bind(e.getValue(), field.getGenericType()));
        }
        return target;
    }

    private static Method setter(Class<?> cls, String property) {
        String wanted = "set" + property;
        Method loose = null;
        for (Method m : cls.getMethods()) {
            if (m.getParameterCount() != 1 || Modifier.isStatic(m.getModifiers()) || !m.getName().startsWith("set")) continue;
            if (m.getName().length() == wanted.length() && m.getName().substring(3).equals(capitalize(property))) return m;
            if (m.getName().equalsIgnoreCase(wanted) && loose == null) loose = m;
        }
        return loose;
    }

    private static Field field(Class<?> cls, String property) {
        Field loose = null;
        for (Field f : cls.getFields()) {
            if (Modifier.isStatic(f.getModifiers()) || Modifier.isFinal(f.getModifiers())) continue;
            if (f.getName().equals(property)) return f;
            if (f.getName().equalsIgnoreCase(property) && loose == null) loose = f;
        }
        return loose;
    }

    private static String capitalize(String s) {
        return s.isEmpty() ? s : Character.toUpperCase(s.charAt(0)) + s.substring(1);
    }

    // --- serializing ----------------------------------------------------------------------------

    /** ``value`` as JSON text. */
    static String write(Object value) throws ReflectiveOperationException {
        StringBuilder out = new StringBuilder();
        write(value, out, 0);
        return out.toString();
    }

    private static void write(Object value, StringBuilder out, int depth) throws ReflectiveOperationException {
        if (depth > 1000) throw new IllegalArgumentException("Infinite recursion (StackOverflowError)");
        if (value == null) {
            out.append("null");
        } else if (value instanceof CharSequence || value instanceof Character || value instanceof Enum) {
            quote(value instanceof Enum ? ((Enum<?>) value).name() : value.toString(), out);
        } else if (value instanceof Double || value instanceof Float) {
            double d = ((Number) value).doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d)) quote(value.toString(), out);
            else out.append(value);
        } else if (value instanceof Number || value instanceof Boolean) {
            out.append(value);
        } else if (value instanceof Map) {
            out.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) {
                if (!first) out.append(',');
                first = false;
                quote(String.valueOf(e.getKey()), out);
                out.append(':');
                write(e.getValue(), out, depth + 1);
            }
            out.append('}');
        } else if (value instanceof Iterable || value.getClass().isArray()) {
            out.append('[');
            Iterator<?> items = value instanceof Iterable ? ((Iterable<?>) value).iterator() : arrayIterator(value);
            boolean first = true;
            while (items.hasNext()) {
                if (!first) out.append(',');
                first = false;
                write(items.next(), out, depth + 1);
            }
            out.append(']');
        } else {
            writePojo(value, out, depth);
        }
    }

    private static Iterator<Object> arrayIterator(Object array) {
        List<Object> items = new ArrayList<>();
        for (int i = 0, n = Array.getLength(array); i < n; i++) items.add(Array.get(array, i));
        return items.iterator();
    }

    private static void writePojo(Object value, StringBuilder out, int depth) throws ReflectiveOperationException {
        Map<String, Object> properties = new LinkedHashMap<>();
        for (Method m : value.getClass().getMethods()) {
            if (m.getParameterCount() != 0 || Modifier.isStatic(m.getModifiers()) || m.getDeclaringClass() == Object.class) continue;
            String name = m.getName();
            String property = null;
            if (name.startsWith("get") && name.length() > 3 && m.getReturnType() != void.class) property = name.substring(3);
            else if (name.startsWith("is") && name.length() > 2 && m.getReturnType() == boolean.class) property = name.substring(2);
            if (property == null) continue;
            m.setAccessible(true);
            properties.put(decapitalize(property), m.invoke(value));
        }
        for (Field f : value.getClass().getFields()) {
            if (!Modifier.isStatic(f.getModifiers())) properties.putIfAbsent(f.getName(), f.get(value));
        }
        write(properties, out, depth + 1);
    }

    /** Jackson's naming: getURL -> "url", getName -> "name". */
    private static String decapitalize(String s) {
        int upper = 0;
        while (upper < s.length() && Character.isUpperCase(s.charAt(upper))) upper++;
        if (upper <= 1) return s.isEmpty() ? s : Character.toLowerCase(s.charAt(0)) + s.substring(1);
        if (upper == s.length()) return s.toLowerCase();
        return s.substring(0, upper - 1).toLowerCase() + s.substring(upper - 1);
    }

    static void quote(String s, StringBuilder out) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': out.append("\\\""); break;
                case '\\': out.append("\\\\"); break;
                case '\n': out.append("\\n"); break;
                case '\r': out.append("\\r"); break;
                case '\t': out.append("\\t"); break;
                case '\b': out.append("\\b"); break;
                case '\f': out.append("\\f"); break;
                default:
                    if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
                    else out.append(c);
            }
        }
        out.append('"');
    }
}
