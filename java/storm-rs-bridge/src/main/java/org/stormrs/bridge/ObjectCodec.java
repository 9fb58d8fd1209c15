package org.stormrs.bridge;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.ObjectStreamClass;
import java.io.Serializable;
import java.util.Map;
import org.apache.storm.serialization.SerializationFactory;

/**
 * Bytes for tuple values that are not one of Storm's plain types (a user's POJO, a Set, a
 * BigDecimal…): Storm's own Kryo set-up ({@code topology.kryo.register}, decorators, the
 * {@code topology.fall.back.on.java.serialization} rule), so whatever travels between Storm
 * workers travels here; a Serializable object Kryo refuses (unregistered) falls back to Java
 * serialization, because on storm-rs every tuple crosses the Rust engine, also between two Java
 * components of one worker where Storm would pass the reference. The first byte says which.
 * One instance per host (Kryo is not thread-safe).
 */
final class ObjectCodec {
    private static final byte KRYO = 'K';
    private static final byte JAVA = 'J';

    private final Map<String, Object> conf;
    private Kryo kryo;
    private final Output output = new Output(4096, -1);

    ObjectCodec(Map<String, Object> conf) {
        this.conf = conf;
    }

    private Kryo kryo() {
        if (kryo == null) {
            kryo = SerializationFactory.getKryo(conf);
        }
        return kryo;
    }

    byte[] serialize(Object v) {
        try {
            output.reset();
            output.writeByte(KRYO);
            kryo().writeClassAndObject(output, v);
            return output.toBytes();
        } catch (RuntimeException kryoError) {
            if (!(v instanceof Serializable)) {
                throw new IllegalArgumentException("storm-rs cannot carry a tuple value of class "
                    + v.getClass().getName() + ": Kryo refused it (" + kryoError.getMessage()
                    + ") and it is not java.io.Serializable; register it with topology.kryo.register "
                    + "or emit Storm's plain types (String, Integer, Long, Double, Float, Boolean, byte[], "
                    + "List, Map)", kryoError);
            }
            try {
                ByteArrayOutputStream bytes = new ByteArrayOutputStream();
                bytes.write(JAVA);
                try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
                    out.writeObject(v);
                }
                return bytes.toByteArray();
            } catch (IOException e) {
                throw new IllegalArgumentException("storm-rs cannot serialize a tuple value of class "
                    + v.getClass().getName() + ": " + e, e);
            }
        }
    }

    Object deserialize(byte[] bytes) {
        if (bytes.length == 0) {
            throw new IllegalStateException("storm-rs bridge: empty object value");
        }
        if (bytes[0] == KRYO) {
            Input input = new Input(bytes, 1, bytes.length - 1);
            return kryo().readClassAndObject(input);
        }
        if (bytes[0] == JAVA) {
            try (ObjectInputStream in = new ContextObjectInputStream(
                    new ByteArrayInputStream(bytes, 1, bytes.length - 1))) {
                return in.readObject();
            } catch (IOException | ClassNotFoundException e) {
                throw new IllegalStateException("storm-rs bridge: cannot deserialize a tuple value: " + e, e);
            }
        }
        throw new IllegalStateException("storm-rs bridge: unknown object value format " + bytes[0]);
    }

    /** Resolves classes through the context class loader (the topology's). */
    static final class ContextObjectInputStream extends ObjectInputStream {
        ContextObjectInputStream(java.io.InputStream in) throws IOException {
            super(in);
        }

        @Override
        protected Class<?> resolveClass(ObjectStreamClass desc) throws IOException, ClassNotFoundException {
            ClassLoader loader = Thread.currentThread().getContextClassLoader();
            if (loader != null) {
                try {
                    return Class.forName(desc.getName(), false, loader);
                } catch (ClassNotFoundException e) {
                    // fall through to the default resolution
                }
            }
            return super.resolveClass(desc);
        }
    }
}
