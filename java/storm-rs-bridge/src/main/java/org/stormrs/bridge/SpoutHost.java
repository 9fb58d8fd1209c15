package org.stormrs.bridge;

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
 */
public final class SpoutHost extends Host {
    private final ISpout spout;
    private final Map<Long, Object> pending = new HashMap<>();
    private long nextKey = 1;
    private TopologyContext context;

    SpoutHost(long ctx, long wakeCtx, Bridge.Worker worker, ISpout spout, String componentId, int taskId, String[] streams,
              int bufferBytes) {
        super(ctx, wakeCtx, worker, componentId, taskId, streams, bufferBytes);
        this.spout = spout;
    }

    public void open(String confJson) {
        context = worker.taskContext(taskId, new HashMap<>());
        spout.open(conf(confJson), context, new SpoutOutputCollector(new Collector()));
    }

    public void nextTuple() {
        drain();
        spout.nextTuple();
    }

    public void ack(long key) {
        drain();
        Object id = pending.remove(key);
        if (id != null) {
            spout.ack(id);
        }
    }

    public void fail(long key) {
        drain();
        Object id = pending.remove(key);
        if (id != null) {
            spout.fail(id);
        }
    }

    public void activate() {
        drain();
        spout.activate();
    }

    public void deactivate() {
        drain();
        spout.deactivate();
    }

    public void close() {
        drain();
        spout.close();
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
        return tasks(n);
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
            return onExecutor(() -> Native.spoutPending(ctx()));
        }

        @Override
        public void flush() {}

        @Override
        public void reportError(Throwable error) {
            SpoutHost.this.reportError(error);
        }
    }
}
