package org.stormrs.bridge;

import java.lang.ref.Cleaner;
import java.nio.BufferOverflowException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.storm.task.IBolt;
import org.apache.storm.task.IOutputCollector;
import org.apache.storm.task.OutputCollector;
import org.apache.storm.task.TopologyContext;
import org.apache.storm.tuple.Tuple;

/**
 * One Java bolt task driven by a storm-rs bolt executor. Each input is an {@link RsTuple} holding
 * a handle to the Rust tuple (for anchoring, ack, fail); the handle is given back when the tuple
 * is acked or failed, or, for a tuple the bolt drops without either, when the JVM collects it.
 *
 * <p>Inputs arrive several at a time ({@link #executeBatch}); emits, acks and fails are queued in
 * the buffer and reach Rust together (see {@link Host}).
 */
public final class BoltHost extends Host {
    private static final Cleaner CLEANER = Cleaner.create();

    private final IBolt bolt;
    private TopologyContext context;
    private String[] sourceComponents = new String[8];
    private int[] sourceTasks = new int[8];
    private String[] sourceStreams = new String[8];
    /** Kinds of queued records. */
    private static final byte EMIT = 1;
    private static final byte ACK = 2;
    private static final byte FAIL = 3;
    private static final byte RESET_TIMEOUT = 4;

    /** Whether an unanchored emit may be queued (Rust refuses them in a stateful topology). */
    private boolean queueUnanchored;
    private RsTuple[] inputs = new RsTuple[MAX_QUEUED];
    /** Handles of tuples the JVM collected un-acked, released on the executor thread. */
    private final ConcurrentLinkedQueue<Long> released = new ConcurrentLinkedQueue<>();

    BoltHost(long ctx, long wakeCtx, Bridge.Worker worker, IBolt bolt, String componentId, int taskId, String[] streams,
             int bufferBytes) {
        super(ctx, wakeCtx, worker, componentId, taskId, streams, bufferBytes);
        this.bolt = bolt;
    }

    public void prepare(String confJson) {
        context = worker.taskContext(taskId, new HashMap<>());
        learnStreams(context);
        queueUnanchored = !context.getRawTopology().get_spouts().containsKey("$checkpointspout");
        try {
            drain();
            bolt.prepare(conf(confJson), context, new OutputCollector(new Collector()));
        } finally {
            flush();
        }
    }

    /** Names source {@code index} (a component's task and stream) for later inputs. */
    public void registerSource(int index, String component, int task, String stream) {
        if (index >= sourceComponents.length) {
            int n = Math.max(index + 1, sourceComponents.length * 2);
            sourceComponents = Arrays.copyOf(sourceComponents, n);
            sourceTasks = Arrays.copyOf(sourceTasks, n);
            sourceStreams = Arrays.copyOf(sourceStreams, n);
        }
        sourceComponents[index] = component;
        sourceTasks[index] = task;
        sourceStreams[index] = stream;
    }

    /**
     * Executes the {@code count} inputs at the start of the buffer, in order: each an int source
     * index, a long handle and the encoded values.
     */
    public void executeBatch(int count) {
        try {
            drain();
            if (count > inputs.length) {
                inputs = new RsTuple[count];
            }
            buffer.clear();
            for (int i = 0; i < count; i++) {
                int source = buffer.getInt();
                long handle = buffer.getLong();
                List<Object> values = codec.decodeValues(buffer);
                inputs[i] = new RsTuple(this, worker.general, values, sourceComponents[source], sourceTasks[source],
                    sourceStreams[source], handle);
            }
            for (int i = 0; i < count; i++) {
                RsTuple t = inputs[i];
                inputs[i] = null;
                bolt.execute(t);
                if (t.keptAfterExecute()) {
                    AtomicLong cell = t.cell();
                    CLEANER.register(t, () -> {
                        long h = cell.getAndSet(0);
                        if (h != 0) {
                            released.add(h);
                            Native.wake(wakeCtx);
                        }
                    });
                }
            }
        } finally {
            Arrays.fill(inputs, null);
            flush();
        }
    }

    /** Runs queued collector calls from other threads and releases collected tuples. */
    public void poll() {
        try {
            drain();
        } finally {
            flush();
        }
    }

    public void cleanup() {
        try {
            drain();
            bolt.cleanup();
        } finally {
            flush();
        }
    }

    @Override
    void drainMore() {
        Long h;
        while ((h = released.poll()) != null) {
            Native.release(ctx(), h);
        }
    }

    private long handleOf(Tuple t) {
        if (t instanceof RsTuple && ((RsTuple) t).host == this) {
            return ((RsTuple) t).handle();
        }
        throw new IllegalArgumentException("component " + componentId + " anchored, acked or failed a tuple ("
            + (t == null ? "null" : t.getClass().getName()) + ") that is not one of its own inputs");
    }

    private List<Integer> emit(String stream, Collection<Tuple> anchors, List<Object> values, int directTask) {
        if (onExecutorThread()) {
            return emitNow(stream, anchors, values, directTask);
        }
        return onExecutor(() -> emitNow(stream, anchors, values, directTask));
    }

    private List<Integer> emitNow(String stream, Collection<Tuple> anchors, List<Object> values, int directTask) {
        int s = stream(stream);
        int anchorCount = anchors == null ? 0 : anchors.size();
        if (directTask < 0 && s >= 0 && values != null && values.size() == fieldCount(s)
                && (anchorCount > 0 || queueUnanchored)) {
            int index;
            while (true) {
                ByteBuffer b = recordStart();
                try {
                    b.put(EMIT);
                    b.putInt(s);
                    b.putInt(anchorCount);
                    if (anchorCount > 0) {
                        for (Tuple t : anchors) {
                            b.putLong(handleOf(t));
                        }
                    }
                    codec.encodeValues(b, values);
                    index = recordEnd();
                    break;
                } catch (BufferOverflowException e) {
                    recordOverflow(stream);
                }
            }
            List<Integer> tasks = lazyTasks(index);
            flushIfFull();
            return tasks;
        }
        flush();
        encode(stream, values);
        long anchor = 0;
        long[] many = null;
        if (anchorCount > 0) {
            if (anchorCount == 1) {
                anchor = handleOf(anchors.iterator().next());
            } else {
                many = new long[anchorCount];
                int i = 0;
                for (Tuple a : anchors) {
                    many[i++] = handleOf(a);
                }
            }
        }
        return tasks(Native.boltEmit(ctx(), s, stream, directTask, anchor, many));
    }

    /** Queues an ack, fail or timeout reset of {@code handle}. */
    private void verdict(byte kind, long handle) {
        while (true) {
            ByteBuffer b = recordStart();
            try {
                b.put(kind);
                b.putLong(handle);
                recordEnd();
                break;
            } catch (BufferOverflowException e) {
                recordOverflow("ack");
            }
        }
        flushIfFull();
    }

    @Override
    int flushNative(long ctx, int n, int[] results) {
        return Native.boltFlush(ctx, n, results);
    }

    private final class Collector implements IOutputCollector {
        @Override
        public List<Integer> emit(String streamId, Collection<Tuple> anchors, List<Object> tuple) {
            return BoltHost.this.emit(streamId, anchors, tuple, -1);
        }

        @Override
        public void emitDirect(int taskId, String streamId, Collection<Tuple> anchors, List<Object> tuple) {
            BoltHost.this.emit(streamId, anchors, tuple, taskId);
        }

        @Override
        public void ack(Tuple input) {
            long h = take(input);
            if (h == 0) {
                return;
            }
            if (onExecutorThread()) {
                verdict(ACK, h);
            } else {
                later(() -> verdict(ACK, h));
            }
        }

        @Override
        public void fail(Tuple input) {
            long h = take(input);
            if (h == 0) {
                return;
            }
            if (onExecutorThread()) {
                verdict(FAIL, h);
            } else {
                later(() -> verdict(FAIL, h));
            }
        }

        @Override
        public void resetTimeout(Tuple input) {
            long h = handleOf(input);
            if (h != 0) {
                later(() -> verdict(RESET_TIMEOUT, h));
            }
        }

        @Override
        public void flush() {}

        @Override
        public void reportError(Throwable error) {
            BoltHost.this.reportError(error);
        }

        private long take(Tuple input) {
            handleOf(input);
            return ((RsTuple) input).take();
        }
    }
}
