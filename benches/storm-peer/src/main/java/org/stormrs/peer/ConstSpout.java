package org.stormrs.peer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.storm.spout.SpoutOutputCollector;
import org.apache.storm.task.TopologyContext;
import org.apache.storm.topology.OutputFieldsDeclarer;
import org.apache.storm.topology.base.BaseRichSpout;
import org.apache.storm.tuple.Fields;

/**
 * The constant spout of the storm_perf workloads (storm-rs's {@code storm::perf::ConstSpout}):
 * emits one string (or cycles through a few) on field {@code str} as fast as the executor asks.
 *
 * <p>Reliable (acking on): one tuple in eight carries its emit time ({@code System.nanoTime()}) as
 * message id and the others {@code 0L}, so every tuple is tracked and {@link #ack} records a sample
 * of the complete latency (emit → ack callback, what the user's spout sees) into a {@link Histogram},
 * written to {@code <report dir>/latency-<task>-<pid>.txt} at most every 200 ms. Unreliable: no
 * message id. Counters: {@code <component>.emitted} and {@code <component>.acked} (see {@link Meter}).
 */
public class ConstSpout extends BaseRichSpout {
    private static final long serialVersionUID = 1L;
    private static final int LATENCY_SAMPLE = 8;
    private static final long REPORT_NANOS = 200_000_000L;
    private static final Long UNTIMED = 0L;

    private final String[] values;
    private final boolean reliable;

    private transient SpoutOutputCollector collector;
    private transient Histogram hist;
    private transient Path latencyFile;
    private transient AtomicLong emittedCounter;
    private transient AtomicLong ackedCounter;
    private transient long emitted;
    private transient long acked;
    private transient int next;
    private transient long lastReport;

    public ConstSpout(boolean reliable, String... values) {
        this.values = values;
        this.reliable = reliable;
    }

    @Override
    public void open(Map<String, Object> conf, TopologyContext context, SpoutOutputCollector collector) {
        this.collector = collector;
        this.hist = new Histogram();
        String component = context.getThisComponentId();
        int task = context.getThisTaskId();
        emittedCounter = Meter.counter(conf, component + ".emitted", task);
        ackedCounter = Meter.counter(conf, component + ".acked", task);
        Path dir = Meter.reportDir(conf);
        if (dir != null && reliable) {
            latencyFile = dir.resolve("latency-" + task + "-" + Meter.pid() + ".txt");
        }
        lastReport = System.nanoTime();
    }

    @Override
    public void nextTuple() {
        List<Object> tuple = new ArrayList<>(1);
        tuple.add(values[next]);
        if (++next == values.length) {
            next = 0;
        }
        if (reliable) {
            Long id = emitted % LATENCY_SAMPLE == 0 ? Long.valueOf(System.nanoTime()) : UNTIMED;
            collector.emit(tuple, id);
        } else {
            collector.emit(tuple);
        }
        emitted++;
        if ((emitted & 1023) == 0) {
            emittedCounter.lazySet(emitted);
            report(false);
        }
    }

    @Override
    public void ack(Object msgId) {
        if (msgId instanceof Long) {
            long t = (Long) msgId;
            if (t != 0) {
                hist.record(System.nanoTime() - t);
            }
        }
        ackedCounter.lazySet(++acked);
        if ((acked & 127) == 0) {
            report(false);
        }
    }

    @Override
    public void close() {
        report(true);
    }

    private void report(boolean force) {
        if (latencyFile == null) {
            return;
        }
        long now = System.nanoTime();
        if (force || now - lastReport >= REPORT_NANOS) {
            lastReport = now;
            Meter.write(latencyFile, hist.toText());
        }
    }

    @Override
    public void declareOutputFields(OutputFieldsDeclarer declarer) {
        declarer.declare(new Fields("str"));
    }
}
