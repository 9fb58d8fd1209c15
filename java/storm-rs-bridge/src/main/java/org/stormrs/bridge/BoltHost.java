package org.stormrs.bridge;

import java.lang.ref.Cleaner;
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
 */
public final class BoltHost extends Host {
    private static final Cleaner CLEANER = Cleaner.create();

    private final IBolt bolt;
    private TopologyContext context;
    private String[] sourceComponents = new String[8];
    private int[] sourceTasks = new int[8];
    private String[] sourceStreams = new String[8];
    /** Handles of tuples the JVM collected un-acked, released on the executor thread. */
    private final ConcurrentLinkedQueue<Long> released = new ConcurrentLinkedQueue<>();

    BoltHost(long ctx, long wakeCtx, Bridge.Worker worker, IBolt bolt, String componentId, int taskId, String[] streams,
             int bufferBytes) {
        super(ctx, wakeCtx, worker, componentId, taskId, streams, bufferBytes);
        this.bolt = bolt;
    }

    public void prepare(String confJson) {
        context = worker.taskContext(taskId, new HashMap<>());
        bolt.prepare(conf(confJson), context, new OutputCollector(new Collector()));
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

    /** Executes the input whose values are at the start of the buffer. */
    public void execute(int source, long handle) {
        drain();
        buffer.clear();
        List<Object> values = codec.decodeValues(buffer);
        RsTuple t = new RsTuple(this, worker.general, values, sourceComponents[source], sourceTasks[source],
            sourceStreams[source], handle);
        bolt.execute(t);
        if (t.keptAfterExecute()) {
            AtomicLong box = t.box();
            CLEANER.register(t, () -> {
                long h = box.getAndSet(0);
                if (h != 0) {
                    released.add(h);
                    Native.wake(wakeCtx);
                }
            });
        }
    }

    /** Runs queued collector calls from other threads and releases collected tuples. */
    public void poll() {
        drain();
    }

    public void cleanup() {
        drain();
        bolt.cleanup();
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
        encode(stream, values);
        long anchor = 0;
        long[] many = null;
        if (anchors != null && !anchors.isEmpty()) {
            if (anchors.size() == 1) {
                anchor = handleOf(anchors.iterator().next());
            } else {
                many = new long[anchors.size()];
                int i = 0;
                for (Tuple a : anchors) {
                    many[i++] = handleOf(a);
                }
            }
        }
        return tasks(Native.boltEmit(ctx(), stream(stream), stream, directTask, anchor, many));
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
                Native.ack(ctx(), h);
            } else {
                later(() -> Native.ack(ctx(), h));
            }
        }

        @Override
        public void fail(Tuple input) {
            long h = take(input);
            if (h == 0) {
                return;
            }
            if (onExecutorThread()) {
                Native.fail(ctx(), h);
            } else {
                later(() -> Native.fail(ctx(), h));
            }
        }

        @Override
        public void resetTimeout(Tuple input) {
            long h = handleOf(input);
            if (h != 0) {
                later(() -> Native.resetTimeout(ctx(), h));
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
