package org.stormrs.it;

import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import org.apache.storm.Config;
import org.apache.storm.task.TopologyContext;
import org.apache.storm.topology.BasicOutputCollector;
import org.apache.storm.topology.OutputFieldsDeclarer;
import org.apache.storm.topology.base.BaseBasicBolt;
import org.apache.storm.tuple.Fields;
import org.apache.storm.tuple.Tuple;
import org.apache.storm.tuple.Values;
import org.apache.storm.utils.TupleUtils;

/**
 * Counts words (a basic bolt: anchored emits, acked after execute) and, on every tick tuple
 * (once a second, asked for through getComponentConfiguration), writes its counts and how many
 * ticks it saw to {@code counts-<task>.txt}.
 */
public class CountBolt extends BaseBasicBolt {
    private final String outDir;
    private final Map<String, Long> counts = new HashMap<>();
    private int task;
    private long ticks;

    public CountBolt(String outDir) {
        this.outDir = outDir;
    }

    @Override
    public void prepare(Map<String, Object> conf, TopologyContext context) {
        task = context.getThisTaskId();
    }

    @Override
    public void execute(Tuple tuple, BasicOutputCollector collector) {
        if (TupleUtils.isTick(tuple)) {
            ticks++;
            StringBuilder sb = new StringBuilder("ticks " + ticks + "\n");
            for (Map.Entry<String, Long> e : new TreeMap<>(counts).entrySet()) {
                sb.append(e.getKey()).append(' ').append(e.getValue()).append('\n');
            }
            Files.write(outDir, "counts-" + task + ".txt", sb.toString());
            return;
        }
        Object value = tuple.getValue(0);
        if (!(value instanceof String) && !(value instanceof Word)) {
            throw new IllegalArgumentException("unexpected value " + value.getClass());
        }
        if (tuple.size() > 1 && !(tuple.getValue(1) instanceof java.util.TreeSet)) {
            throw new IllegalArgumentException("unexpected letters " + tuple.getValue(1).getClass());
        }
        String word = value.toString();
        long count = counts.merge(word, 1L, Long::sum);
        collector.emit(new Values(word, count));
    }

    @Override
    public Map<String, Object> getComponentConfiguration() {
        Map<String, Object> conf = new HashMap<>();
        conf.put(Config.TOPOLOGY_TICK_TUPLE_FREQ_SECS, 1);
        return conf;
    }

    @Override
    public void declareOutputFields(OutputFieldsDeclarer declarer) {
        declarer.declare(new Fields("word", "count"));
    }
}
