package dev.promptgrad.json;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A typed, read-only view of one parsed JSON object for readers of configuration files: each accessor checks
 * the value's type and range and otherwise throws a {@link JsonException} naming the file and the key's path
 * ({@code config.json: key 'rope_scaling.factor' must be a number, but is a string "2"}). {@code require*}
 * refuses a missing key or JSON null; {@code *Or} and {@code optional*} treat both as absent. It copies nothing.
 */
public final class JsonObject {
    private final Map<String, Object> map;
    private final String source;
    private final String path;  // "" at the top level, else the dotted keys leading here, e.g. "rope_scaling"

    private JsonObject(Map<String, Object> map, String source, String path) {
        this.map = map;
        this.source = source;
        this.path = path;
    }

    /** Views a parsed top-level value, which must be an object; {@code source} names it in errors. */
    public static JsonObject of(Object value, String source) {
        return of(value, source, "");
    }

    /** Views a parsed value found at {@code path} (for messages; "" for the top level), which must be an object. */
    @SuppressWarnings("unchecked")
    public static JsonObject of(Object value, String source, String path) {
        if (!(value instanceof Map)) {
            String where = path.isEmpty() ? "the top-level value" : "key '" + path + "'";
            throw new JsonException(source, where + " must be an object, but is " + Json.describe(value));
        }
        return new JsonObject((Map<String, Object>) value, source, path);
    }

    /** The underlying map, unmodifiable, in document order. */
    public Map<String, Object> map() {
        return Collections.unmodifiableMap(map);
    }

    /** The name of the document this object came from. */
    public String source() {
        return source;
    }

    /** The keys in document order. */
    public Set<String> keys() {
        return Collections.unmodifiableSet(map.keySet());
    }

    /** Whether the key is present with a value other than JSON null. */
    public boolean has(String key) {
        return map.get(key) != null;
    }

    /** The raw value (Map, List, String, Long, Double, Boolean) or null when missing or JSON null. */
    public Object get(String key) {
        return map.get(key);
    }

    public long requireLong(String key) {
        return asLong(require(key), key);
    }

    public long longOr(String key, long fallback) {
        return has(key) ? asLong(map.get(key), key) : fallback;
    }

    /** A 32-bit integer; a value outside the int range is an error, not a truncation. */
    public int requireInt(String key) {
        return asInt(require(key), key);
    }

    public int intOr(String key, int fallback) {
        return has(key) ? asInt(map.get(key), key) : fallback;
    }

    /** A number; an integer is converted to the nearest double. */
    public double requireDouble(String key) {
        return asDouble(require(key), key);
    }

    public double doubleOr(String key, double fallback) {
        return has(key) ? asDouble(map.get(key), key) : fallback;
    }

    public boolean requireBoolean(String key) {
        return asBoolean(require(key), key);
    }

    public boolean booleanOr(String key, boolean fallback) {
        return has(key) ? asBoolean(map.get(key), key) : fallback;
    }

    public String requireString(String key) {
        return asString(require(key), key);
    }

    public String stringOr(String key, String fallback) {
        return has(key) ? asString(map.get(key), key) : fallback;
    }

    public JsonObject requireObject(String key) {
        return of(require(key), source, childPath(key));
    }

    public Optional<JsonObject> optionalObject(String key) {
        return has(key) ? Optional.of(requireObject(key)) : Optional.empty();
    }

    /** An array, unmodifiable, with raw element values. */
    public List<Object> requireArray(String key) {
        return asArray(require(key), key);
    }

    public Optional<List<Object>> optionalArray(String key) {
        return has(key) ? Optional.of(requireArray(key)) : Optional.empty();
    }

    /** An array whose elements must all be 64-bit integers. */
    public long[] requireLongs(String key) {
        List<Object> items = requireArray(key);
        long[] values = new long[items.size()];
        for (int i = 0; i < values.length; i++) values[i] = asLong(items.get(i), key + "[" + i + "]");
        return values;
    }

    /** An array whose elements must all be 32-bit integers. */
    public int[] requireInts(String key) {
        List<Object> items = requireArray(key);
        int[] values = new int[items.size()];
        for (int i = 0; i < values.length; i++) values[i] = asInt(items.get(i), key + "[" + i + "]");
        return values;
    }

    /** An array whose elements must all be numbers. */
    public double[] requireDoubles(String key) {
        List<Object> items = requireArray(key);
        double[] values = new double[items.size()];
        for (int i = 0; i < values.length; i++) values[i] = asDouble(items.get(i), key + "[" + i + "]");
        return values;
    }

    /** An array whose elements must all be strings. */
    public List<String> requireStrings(String key) {
        List<Object> items = requireArray(key);
        List<String> values = new ArrayList<>(items.size());
        for (int i = 0; i < items.size(); i++) values.add(asString(items.get(i), key + "[" + i + "]"));
        return Collections.unmodifiableList(values);
    }

    /** An error about {@code key} of this object, for checks the accessors cannot make (allowed values, ranges). */
    public JsonException error(String key, String problem) {
        return new JsonException(source, "key '" + childPath(key) + "' " + problem);
    }

    @Override
    public String toString() {
        return source + (path.isEmpty() ? "" : " at '" + path + "'") + " " + JsonWriter.compact().write(map);
    }

    private Object require(String key) {
        if (!map.containsKey(key)) {
            throw new JsonException(source, "missing required key '" + childPath(key) + "'");
        }
        Object value = map.get(key);
        if (value == null) throw error(key, "must not be null");
        return value;
    }

    private long asLong(Object value, String key) {
        if (value instanceof Long) return (Long) value;
        throw error(key, "must be an integer, but is " + Json.describe(value));
    }

    private int asInt(Object value, String key) {
        long v = asLong(value, key);
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw error(key, "must be a 32-bit integer, but is " + v);
        }
        return (int) v;
    }

    private double asDouble(Object value, String key) {
        if (value instanceof Long) return (Long) value;
        if (value instanceof Double) return (Double) value;
        throw error(key, "must be a number, but is " + Json.describe(value));
    }

    private boolean asBoolean(Object value, String key) {
        if (value instanceof Boolean) return (Boolean) value;
        throw error(key, "must be true or false, but is " + Json.describe(value));
    }

    private String asString(Object value, String key) {
        if (value instanceof String) return (String) value;
        throw error(key, "must be a string, but is " + Json.describe(value));
    }

    @SuppressWarnings("unchecked")
    private List<Object> asArray(Object value, String key) {
        if (value instanceof List) return Collections.unmodifiableList((List<Object>) value);
        throw error(key, "must be an array, but is " + Json.describe(value));
    }

    private String childPath(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }
}
