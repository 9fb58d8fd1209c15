package org.stormrs.bridge;

import java.nio.BufferOverflowException;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.storm.spout.ISpout;
import org.apache.storm.spout.ISpoutOutputCollector;
import org.apache.storm.spout.SpoutOutputCollector;
import org.apache.storm.task.TopologyContext;

/**
 * One Java spout task driven by a storm-rs spout executor. Message ids stay here (any Java
 * object, as in Storm); the Rust side tracks them by a numeric key.
 *
 * <p>The executor asks for many {@code nextTuple} calls at once ({@link #nextTuples}); emits are
 * queued in the buffer and reach Rust together (see {@link Host}).
 */
public final class SpoutHost extends Host {
    private final ISpout spout;
    private final Map<Long, Object> pending = new HashMap<>();
    private long nextKey = 1;
    private TopologyContext context;
    /** The message keys of the queued emits. */
    private final long[] queuedKeys = new long[MAX_QUEUED];
    /** Emits and reliable emits so far (the executor's allowance counts the latter). */
    private long emits;
    private long reliableEmits;

    SpoutHost(long ctx, long wakeCtx, Bridge.Worker worker, ISpout spout, String componentId, int taskId, String[] streams,
              int bufferBytes) {
        super(ctx, wakeCtx, worker, componentId, taskId, streams, bufferBytes);
        this.spout = spout;
    }

    public void open(String confJson) {
        context = worker.taskContext(taskId, new HashMap<>());
        learnStreams(context);
        try {
            drain();
            spout.open(conf(confJson), context, new SpoutOutputCollector(new Collector()));
        } finally {
            flush();
        }
    }

    /**
     * Delivers the {@code verdicts} acker verdicts at the start of the buffer (message keys, negated
     * for a fail), then calls the spout's {@code nextTuple} up to {@code maxCalls} times: fewer
     * when a call emits nothing (the executor then waits as Storm's spout wait strategy does) or
     * once {@code allowance} reliable emits were made (the room left under
     * {@code topology.max.spout.pending}, checked before each call as Storm does). Returns the
     * number of calls made.
     */
    public int nextTuples(int verdicts, int maxCalls, long allowance) {
        int calls = 0;
        try {
            drain();
            runVerdicts(verdicts);
            long reliableAtStart = reliableEmits;
            while (calls < maxCalls) {
                long before = emits;
                spout.nextTuple();
                calls++;
                if (emits == before || reliableEmits - reliableAtStart >= allowance) {
                    break;
                }
            }
        } finally {
            flush();
        }
        return calls;
    }

    /** Delivers the {@code n} acker verdicts at the start of the buffer (see {@link #nextTuples}). */
    public void verdicts(int n) {
        try {
            drain();
            runVerdicts(n);
        } finally {
            flush();
        }
    }

    private long[] verdictKeys = new long[64];

    private void runVerdicts(int n) {
        if (n == 0) {
            return;
        }
        if (n > verdictKeys.length) {
            verdictKeys = new long[n];
        }
        // Copied out first: emits from ack/fail reuse the buffer.
        for (int i = 0; i < n; i++) {
            verdictKeys[i] = buffer.getLong(8 * i);
        }
        for (int i = 0; i < n; i++) {
            long key = verdictKeys[i];
            Object id = pending.remove(key < 0 ? -key : key);
            if (id == null) {
                continue;
            }
            if (key > 0) {
                spout.ack(id);
            } else {
                spout.fail(id);
            }
        }
    }

    public void activate() {
        try {
            drain();
            spout.activate();
        } finally {
            flush();
        }
    }

    public void deactivate() {
        try {
            drain();
            spout.deactivate();
        } finally {
            flush();
        }
    }

    public void close() {
        try {
            drain();
            spout.close();
        } finally {
            flush();
        }
    }

    /** Pending message ids (Java side), for tests and the Rust side's checks. */
    public int pendingIds() {
        return pending.size();
    }

    private List<Integer> emit(String stream, List<Object> values, Object messageId, int directTask) {
        if (onExecutorThread()) {
            return emitNow(stream, values, messageId, directTask);
        }
        return onExecutor(() -> emitNow(stream, values, messageId, directTask));
    }

    private List<Integer> emitNow(String stream, List<Object> values, Object messageId, int directTask) {
        int s = stream(stream);
        if (directTask < 0 && s >= 0 && values != null && values.size() == fieldCount(s)) {
            return queue(s, values, messageId);
        }
        flush();
        encode(stream, values);
        long key = 0;
        if (messageId != null) {
            key = nextKey++;
            pending.put(key, messageId);
        }
        int n;
        try {
            n = Native.spoutEmit(ctx(), stream(stream), stream, directTask, key);
        } catch (RuntimeException e) {
            if (key != 0) {
                pending.remove(key);
            }
            throw e;
        }
        emits++;
        if (key != 0) {
            reliableEmits++;
        }
        return tasks(n);
    }

    /** Queues an emit (see {@link Host}): an int stream index, a long message key (0: none), the values. */
    private List<Integer> queue(int stream, List<Object> values, Object messageId) {
        final long key = messageId == null ? 0 : nextKey++;
        if (key != 0) {
            pending.put(key, messageId);
        }
        int index;
        try {
            while (true) {
                ByteBuffer b = recordStart();
                try {
                    b.putInt(stream);
                    b.putLong(key);
                    codec.encodeValues(b, values);
                    index = recordEnd();
                    break;
                } catch (BufferOverflowException e) {
                    recordOverflow(streamName(stream));
                }
            }
        } catch (RuntimeException e) {
            if (key != 0) {
                pending.remove(key);
            }
            throw e;
        }
        if (key != 0) {
            reliableEmits++;
        }
        emits++;
        queuedKeys[index] = key;
        List<Integer> tasks = lazyTasks(index);
        flushIfFull();
        return tasks;
    }

    @Override
    int flushNative(long ctx, int n, int[] results) {
        return Native.spoutFlush(ctx, n, results);
    }

    @Override
    void dropped(int from, int to) {
        for (int i = from; i < to; i++) {
            if (queuedKeys[i] != 0) {
                pending.remove(queuedKeys[i]);
            }
        }
    }

    private final class Collector implements ISpoutOutputCollector {
        @Override
        public List<Integer> emit(String streamId, List<Object> tuple, Object messageId) {
            return SpoutHost.this.emit(streamId, tuple, messageId, -1);
        }

        @Override
        public void emitDirect(int taskId, String streamId, List<Object> tuple, Object messageId) {
            SpoutHost.this.emit(streamId, tuple, messageId, taskId);
        }

        @Override
        public long getPendingCount() {
            return onExecutor(() -> {
                flush();
                return Native.spoutPending(ctx());
            });
        }

        @Override
        public void flush() {}

        @Override
        public void reportError(Throwable error) {
            SpoutHost.this.reportError(error);
        }
    }
}
