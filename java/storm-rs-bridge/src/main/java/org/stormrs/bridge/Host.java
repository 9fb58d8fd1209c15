package org.stormrs.bridge;

import java.nio.BufferOverflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

/**
 * What spout, bolt and grouping hosts share: the direct buffer shared with the Rust side (values
 * in, values and task ids out), the declared streams by index, and the queue of collector calls
 * made from threads other than the executor's (run on the executor thread at its next call).
 */
abstract class Host {
    /** Largest encoded tuple accepted (the worker's frames are far smaller in practice). */
    static final int MAX_BUFFER = 256 << 20;

    /** The Rust state's address; 0 once the Rust side let go of this host ({@link #detach}). */
    volatile long ctx;
    /** The Rust wake flag's address (valid for the life of the process). */
    final long wakeCtx;
    final Bridge.Worker worker;
    final String componentId;
    final int taskId;
    final Codec codec;
    private final Map<String, Integer> streamIndex = new HashMap<>();
    ByteBuffer buffer;
    /** The executor thread (the thread that created the host). */
    final Thread owner = Thread.currentThread();
    private final ConcurrentLinkedQueue<Runnable> deferred = new ConcurrentLinkedQueue<>();

    Host(long ctx, long wakeCtx, Bridge.Worker worker, String componentId, int taskId, String[] streams,
         int bufferBytes) {
        this.ctx = ctx;
        this.wakeCtx = wakeCtx;
        this.worker = worker;
        this.componentId = componentId;
        this.taskId = taskId;
        this.codec = new Codec(new ObjectCodec(worker.conf));
        for (int i = 0; i < streams.length; i++) {
            streamIndex.put(streams[i], i);
        }
        this.buffer = ByteBuffer.allocateDirect(Math.max(bufferBytes, 4096)).order(ByteOrder.LITTLE_ENDIAN);
        Native.setBuffer(ctx, buffer);
    }

    /** The Rust side stopped using this host: later calls from Java fail instead of reaching it. */
    public final void detach() {
        ctx = 0;
    }

    /** Makes the buffer at least {@code bytes} long (the Rust side writes a larger tuple). */
    public final void ensure(int bytes) {
        if (bytes > buffer.capacity()) {
            grow(Math.max(bytes, buffer.capacity() * 2), "input");
        }
    }

    final long ctx() {
        long c = ctx;
        if (c == 0) {
            throw new IllegalStateException("the storm-rs executor of " + componentId + " has stopped");
        }
        return c;
    }

    final int stream(String id) {
        Integer i = streamIndex.get(id);
        return i == null ? -1 : i;
    }

    /** Encodes {@code values} at the start of the buffer, growing it as needed. */
    final void encode(String stream, List<Object> values) {
        if (values == null) {
            throw new NullPointerException("component " + componentId + " emitted a null tuple on stream " + stream);
        }
        while (true) {
            buffer.clear();
            try {
                codec.encodeValues(buffer, values);
                return;
            } catch (BufferOverflowException e) {
                grow(buffer.capacity() * 2, stream);
            }
        }
    }

    final void grow(int bytes, String what) {
        if (bytes > MAX_BUFFER) {
            throw new IllegalArgumentException("component " + componentId + ": a tuple on " + what
                + " is larger than " + (MAX_BUFFER >> 20) + " MiB encoded");
        }
        buffer = ByteBuffer.allocateDirect(bytes).order(ByteOrder.LITTLE_ENDIAN);
        Native.setBuffer(ctx, buffer);
    }

    /** The {@code n} task ids the Rust side wrote at the start of the buffer. */
    final List<Integer> tasks(int n) {
        if (n == 0) {
            return Collections.emptyList();
        }
        if (n == 1) {
            return Collections.singletonList(buffer.getInt(0));
        }
        List<Integer> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(buffer.getInt(4 * i));
        }
        return out;
    }

    final boolean onExecutorThread() {
        return Thread.currentThread() == owner;
    }

    /**
     * Runs {@code call} on the executor thread: now when already there, else at the executor's next
     * call into this host (the caller waits for the result; Storm's collectors are called from
     * other threads by, e.g., ShellBolt readers and asynchronous clients).
     */
    final <T> T onExecutor(java.util.concurrent.Callable<T> call) {
        if (onExecutorThread()) {
            try {
                return call.call();
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        }
        FutureTask<T> task = new FutureTask<>(call);
        deferred.add(task);
        Native.wake(wakeCtx);
        try {
            return task.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RuntimeException("interrupted while waiting for the executor of " + componentId, e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException) {
                throw (RuntimeException) cause;
            }
            throw new RuntimeException(cause);
        }
    }

    /** Like {@link #onExecutor} without waiting (acks, fails, errors from other threads). */
    final void later(Runnable call) {
        if (onExecutorThread()) {
            call.run();
        } else {
            deferred.add(call);
            Native.wake(wakeCtx);
        }
    }

    /** Runs what other threads queued; called by the executor thread on each call into the host. */
    final void drain() {
        Runnable r;
        while ((r = deferred.poll()) != null) {
            r.run();
        }
        drainMore();
    }

    /** More to do at each call from the executor (bolts release collected tuples). */
    void drainMore() {}

    final void reportError(Throwable t) {
        String text = Bridge.describe(t);
        later(() -> Native.reportError(ctx(), text));
    }

    static Map<String, Object> conf(String json) {
        return org.apache.storm.utils.Utils.parseJson(json);
    }
}
