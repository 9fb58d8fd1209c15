package org.stormrs.bridge;

import java.nio.BufferOverflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * storm-rs's compact tuple-values encoding (the Rust side is {@code src/lib/tuple/codec.rs}; the
 * grammar is there), read and written on a host's shared direct buffer. Storm's value types map to
 * the tags one to one: null, Boolean, Integer, Long, Float, Double, String, byte[], List, Map; any
 * other object travels as tag 0x0b with its {@code hashCode()} and its bytes from the host's
 * {@link ObjectCodec} (Storm's Kryo registrations, Java serialization as the fall-back).
 */
final class Codec {
    static final byte NULL = 0x00;
    static final byte FALSE = 0x01;
    static final byte TRUE = 0x02;
    static final byte INT = 0x03;
    static final byte LONG = 0x04;
    static final byte FLOAT = 0x05;
    static final byte DOUBLE = 0x06;
    static final byte STRING = 0x07;
    static final byte BYTES = 0x08;
    static final byte LIST = 0x09;
    static final byte MAP = 0x0a;
    static final byte OBJECT = 0x0b;

    /** Deepest nesting the Rust side accepts. */
    static final int MAX_DEPTH = 100;

    private final ObjectCodec objects;
    private byte[] scratch = new byte[256];

    Codec(ObjectCodec objects) {
        this.objects = objects;
    }

    /** Writes {@code values} at the buffer's position; BufferOverflowException if it does not fit. */
    void encodeValues(ByteBuffer b, List<Object> values) {
        putVarint(b, values.size());
        for (Object v : values) {
            encode(b, v, 0);
        }
    }

    private void encode(ByteBuffer b, Object v, int depth) {
        if (v == null) {
            b.put(NULL);
        } else if (v instanceof String) {
            putString(b, (String) v);
        } else if (v instanceof Long) {
            b.put(LONG);
            long x = (Long) v;
            putVarint(b, (x << 1) ^ (x >> 63));
        } else if (v instanceof Integer) {
            b.put(INT);
            int x = (Integer) v;
            putVarint(b, ((x << 1) ^ (x >> 31)) & 0xffffffffL);
        } else if (v instanceof Boolean) {
            b.put(((Boolean) v) ? TRUE : FALSE);
        } else if (v instanceof Double) {
            b.put(DOUBLE);
            b.putLong(Double.doubleToRawLongBits((Double) v));
        } else if (v instanceof Float) {
            b.put(FLOAT);
            b.putInt(Float.floatToRawIntBits((Float) v));
        } else if (v instanceof byte[]) {
            byte[] bytes = (byte[]) v;
            b.put(BYTES);
            putVarint(b, bytes.length);
            b.put(bytes);
        } else if (v instanceof List && depth < MAX_DEPTH) {
            List<?> list = (List<?>) v;
            b.put(LIST);
            putVarint(b, list.size());
            for (Object item : list) {
                encode(b, item, depth + 1);
            }
        } else if (v instanceof Map && depth < MAX_DEPTH) {
            Map<?, ?> map = (Map<?, ?>) v;
            b.put(MAP);
            putVarint(b, map.size());
            for (Map.Entry<?, ?> e : map.entrySet()) {
                encode(b, e.getKey(), depth + 1);
                encode(b, e.getValue(), depth + 1);
            }
        } else {
            byte[] bytes = objects.serialize(v);
            b.put(OBJECT);
            b.putInt(v.hashCode());
            putVarint(b, bytes.length);
            b.put(bytes);
        }
    }

    private static void putString(ByteBuffer b, String s) {
        int n = s.length();
        int ascii = 0;
        while (ascii < n && s.charAt(ascii) < 0x80) {
            ascii++;
        }
        b.put(STRING);
        if (ascii == n) {
            putVarint(b, n);
            if (b.remaining() < n) {
                throw new BufferOverflowException();
            }
            for (int i = 0; i < n; i++) {
                b.put((byte) s.charAt(i));
            }
        } else {
            byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
            putVarint(b, utf8.length);
            b.put(utf8);
        }
    }

    static void putVarint(ByteBuffer b, long v) {
        while ((v & ~0x7fL) != 0) {
            b.put((byte) ((v & 0x7f) | 0x80));
            v >>>= 7;
        }
        b.put((byte) v);
    }

    /** Reads one tuple's values from the buffer's position. */
    List<Object> decodeValues(ByteBuffer b) {
        int n = (int) varint(b);
        ArrayList<Object> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(decode(b));
        }
        return out;
    }

    private Object decode(ByteBuffer b) {
        byte tag = b.get();
        switch (tag) {
            case NULL:
                return null;
            case FALSE:
                return Boolean.FALSE;
            case TRUE:
                return Boolean.TRUE;
            case INT: {
                int z = (int) varint(b);
                return (z >>> 1) ^ -(z & 1);
            }
            case LONG: {
                long z = varint(b);
                return (z >>> 1) ^ -(z & 1);
            }
            case FLOAT:
                return Float.intBitsToFloat(b.getInt());
            case DOUBLE:
                return Double.longBitsToDouble(b.getLong());
            case STRING: {
                int len = (int) varint(b);
                byte[] s = scratch(len);
                b.get(s, 0, len);
                return new String(s, 0, len, StandardCharsets.UTF_8);
            }
            case BYTES: {
                byte[] bytes = new byte[(int) varint(b)];
                b.get(bytes);
                return bytes;
            }
            case LIST: {
                int n = (int) varint(b);
                ArrayList<Object> list = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    list.add(decode(b));
                }
                return list;
            }
            case MAP: {
                int n = (int) varint(b);
                LinkedHashMap<Object, Object> map = new LinkedHashMap<>();
                for (int i = 0; i < n; i++) {
                    Object k = decode(b);
                    map.put(k, decode(b));
                }
                return map;
            }
            case OBJECT: {
                b.getInt(); // the hash code, for Rust's groupings
                byte[] bytes = new byte[(int) varint(b)];
                b.get(bytes);
                return objects.deserialize(bytes);
            }
            default:
                throw new IllegalStateException("storm-rs bridge: unknown value tag " + tag);
        }
    }

    private byte[] scratch(int len) {
        if (scratch.length < len) {
            scratch = new byte[Math.max(len, scratch.length * 2)];
        }
        return scratch;
    }

    static long varint(ByteBuffer b) {
        long v = 0;
        int shift = 0;
        while (true) {
            byte x = b.get();
            v |= (long) (x & 0x7f) << shift;
            if ((x & 0x80) == 0) {
                return v;
            }
            shift += 7;
            if (shift > 63) {
                throw new IllegalStateException("storm-rs bridge: malformed varint");
            }
        }
    }

    /** The values as a description for errors: each value's class. */
    static String classes(List<Object> values) {
        StringBuilder sb = new StringBuilder("[");
        for (Iterator<Object> it = values.iterator(); it.hasNext(); ) {
            Object v = it.next();
            sb.append(v == null ? "null" : v.getClass().getName());
            if (it.hasNext()) {
                sb.append(", ");
            }
        }
        return sb.append(']').toString();
    }
}
