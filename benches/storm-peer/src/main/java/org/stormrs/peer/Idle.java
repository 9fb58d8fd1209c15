package org.stormrs.peer;

import java.util.Map;

import org.apache.storm.spout.SpoutOutputCollector;
import org.apache.storm.task.OutputCollector;
import org.apache.storm.task.TopologyContext;
import org.apache.storm.topology.OutputFieldsDeclarer;
import org.apache.storm.topology.base.BaseRichBolt;
import org.apache.storm.topology.base.BaseRichSpout;
import org.apache.storm.tuple.Fields;
import org.apache.storm.tuple.Tuple;

/**
 * The {@code idle} workload of {@code storm_perf idle} (examples/storm_perf/scaling.rs): a spout that
 * never emits and a bolt that never gets a tuple, so what the worker burns is the framework's own idle
 * cost (Storm's spout wait strategy, timers, heartbeats, metrics). No {@link Meter} thread: the only
 * report is {@code <report dir>/open-<task>-<pid>}, written once when the spout opens.
 */
public final class Idle {
    private Idle() {}

    /** Emits nothing. */
    public static class Spout extends BaseRichSpout {
        private static final long serialVersionUID = 1L;

        @Override
        public void open(Map<String, Object> conf, TopologyContext context, SpoutOutputCollector collector) {
            java.nio.file.Path dir = Meter.reportDir(conf);
            if (dir != null) {
                Meter.write(dir.resolve("open-" + context.getThisTaskId() + "-" + Meter.pid()),
                    Long.toString(System.currentTimeMillis()));
            }
        }

        @Override
        public void nextTuple() {
        }

        @Override
        public void declareOutputFields(OutputFieldsDeclarer declarer) {
            declarer.declare(new Fields("str"));
        }
    }

    /** Drops what it gets (nothing). */
    public static class Bolt extends BaseRichBolt {
        private static final long serialVersionUID = 1L;

        private transient OutputCollector collector;

        @Override
        public void prepare(Map<String, Object> conf, TopologyContext context, OutputCollector collector) {
            this.collector = collector;
        }

        @Override
        public void execute(Tuple input) {
            collector.ack(input);
        }

        @Override
        public void declareOutputFields(OutputFieldsDeclarer declarer) {
        }
    }
}
