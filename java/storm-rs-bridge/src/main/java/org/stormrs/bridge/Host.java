package org.stormrs.bridge;

import java.nio.BufferOverflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.AbstractList;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.RandomAccess;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

/**
 * What spout, bolt and grouping hosts share: the direct buffer shared with the Rust side (values
 * in, values and task ids out), the declared streams by index, the queue of collector calls
 * made from threads other than the executor's (run on the executor thread at its next call), and
 * the queue of collector calls waiting in the buffer for one crossing into Rust.
 *
 * <p>Crossing into Rust costs more than a cheap emit or ack, so spout and bolt hosts queue
 * collector calls as records in the shared buffer and hand them over together ({@link #flush}):
 * when the buffer or the queue is full, before any other call into Rust, and before each call
 * from the executor returns. The order of the calls is kept; the task ids an emit returns are
 * read lazily (reading them early flushes). Emits that Rust could refuse (an undeclared stream,
 * the wrong number of fields, a direct/regular mismatch, an unanchored emit of a bolt) are not
 * queued but made one by one, so Storm's emit-time errors are still thrown by the emit itself.
 */
abstract class Host {
    /** Largest encoded tuple accepted (the worker's frames are far smaller in practice). */
    static final int MAX_BUFFER = 256 << 20;
    /** Most collector calls queued before they are handed to Rust (storm-rs's executor batch). */
    static final int MAX_QUEUED = 64;

    /** The Rust state's address; 0 once the Rust side let go of this host ({@link #detach}). */
    volatile long ctx;
    /** The Rust wake flag's address (valid for the life of the process). */
    final long wakeCtx;
    final Bridge.Worker worker;
    final String componentId;
    final int taskId;
    final Codec codec;
    private final Map<String, Integer> streamIndex = new HashMap<>();
    private final String[] streamNames;
    ByteBuffer buffer;
    /** The executor thread (the thread that created the host). */
    final Thread owner = Thread.currentThread();
    private final ConcurrentLinkedQueue<Runnable> deferred = new ConcurrentLinkedQueue<>();
    /** Collector calls queued in the buffer, and the bytes they take. */
    int queued;
    int queuedBytes;
    /** Where the task ids of the queued emits will be. */
    private Batch batch = new Batch();
    private int[] results = new int[2 * MAX_QUEUED + 2];

    Host(long ctx, long wakeCtx, Bridge.Worker worker, String componentId, int taskId, String[] streams,
         int bufferBytes) {
        this.ctx = ctx;
        this.wakeCtx = wakeCtx;
        this.worker = worker;
        this.componentId = componentId;
        this.taskId = taskId;
        this.codec = new Codec(new ObjectCodec(worker.conf));
        this.streamNames = streams;
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

    /** By stream index: the declared number of fields, or -1 when emits on it are not queued (direct). */
    private int[] fieldCounts = new int[0];

    /** Learns the declared streams' field counts (which emits may be queued). */
    final void learnStreams(org.apache.storm.task.TopologyContext context) {
        Map<String, org.apache.storm.generated.StreamInfo> declared =
            context.getComponentCommon(componentId).get_streams();
        int[] counts = new int[streamNames.length];
        for (int i = 0; i < streamNames.length; i++) {
            org.apache.storm.generated.StreamInfo info = declared == null ? null : declared.get(streamNames[i]);
            counts[i] = info != null && !info.is_direct() ? info.get_output_fields_size() : -1;
        }
        fieldCounts = counts;
    }

    final int fieldCount(int stream) {
        return stream < fieldCounts.length ? fieldCounts[stream] : -1;
    }

    final String streamName(int stream) {
        return streamNames[stream];
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

    /*
     * Queuing a record: write it at recordStart(); on BufferOverflowException call
     * recordOverflow() and write it again; then recordEnd() gives its index. (A loop at each
     * caller rather than a callback: a lambda per emit would cost an allocation and a call.)
     */

    /** Where the next queued record goes. */
    final ByteBuffer recordStart() {
        buffer.clear();
        buffer.position(queuedBytes);
        return buffer;
    }

    /** The record did not fit: runs the queue, or grows the buffer when it is empty. */
    final void recordOverflow(String what) {
        if (queued > 0) {
            flush();
        } else {
            grow(buffer.capacity() * 2, what);
        }
    }

    /** The record is written: returns its index in the queue. */
    final int recordEnd() {
        queuedBytes = buffer.position();
        return queued++;
    }

    /** The task ids of queued emit {@code index}, once its batch reached Rust. */
    final List<Integer> lazyTasks(int index) {
        return new Tasks(batch, index);
    }

    /** Flushes when the queue is full (after the caller's bookkeeping for the last record). */
    final void flushIfFull() {
        if (queued >= MAX_QUEUED) {
            flush();
        }
    }

    /**
     * Rust's side of {@link #flush}: runs the {@code n} queued records (see {@code Native.spoutFlush}).
     */
    int flushNative(long ctx, int n, int[] results) {
        throw new IllegalStateException(componentId + " queues no collector calls");
    }

    /** Records {@code from..to} were not run (an emit before them was refused). */
    void dropped(int from, int to) {}

    /**
     * Hands the queued collector calls to Rust, in order. If Rust refuses an emit (a user's stream
     * grouping threw), the calls before it took effect, the emits after it are dropped (a spout's
     * with their message ids; acks and fails still apply), and the refusal is thrown here.
     */
    final void flush() {
        if (queued == 0) {
            return;
        }
        int n = queued;
        Batch done = batch;
        queued = 0;
        queuedBytes = 0;
        batch = new Batch();
        int total;
        try {
            total = flushNative(ctx(), n, results);
        } catch (RuntimeException e) {
            done.tasks = new int[n + 1];
            dropped(0, n);
            throw e;
        }
        if (total < 0) {
            done.tasks = new int[n + 1];
            dropped(-total - 1, n);
            buffer.clear();
            byte[] text = new byte[buffer.getInt(0)];
            buffer.position(4);
            buffer.get(text);
            throw new IllegalArgumentException(new String(text, StandardCharsets.UTF_8));
        }
        if (total > results.length) {
            results = new int[Math.max(total, results.length * 2)];
            Native.lastResults(ctx(), results);
        }
        done.tasks = Arrays.copyOf(results, total);
    }

    /** The task ids of one flush: each record's offset into the array (n + 1 of them), then the ids. */
    private static final class Batch {
        volatile int[] tasks;
    }

    /** An emit's task ids, read once its batch reached Rust (flushing it when asked earlier). */
    private final class Tasks extends AbstractList<Integer> implements RandomAccess {
        private final Batch batch;
        private final int index;

        Tasks(Batch batch, int index) {
            this.batch = batch;
            this.index = index;
        }

        private int[] resolved() {
            int[] t = batch.tasks;
            if (t == null) {
                onExecutor(() -> {
                    if (batch.tasks == null) {
                        flush();
                    }
                    return null;
                });
                t = batch.tasks;
            }
            return t;
        }

        @Override
        public int size() {
            int[] t = resolved();
            return t[index + 1] - t[index];
        }

        @Override
        public Integer get(int i) {
            int[] t = resolved();
            int from = t[index];
            if (i < 0 || from + i >= t[index + 1]) {
                throw new IndexOutOfBoundsException("index " + i + " of " + (t[index + 1] - from) + " task ids");
            }
            return t[from + i];
        }
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
