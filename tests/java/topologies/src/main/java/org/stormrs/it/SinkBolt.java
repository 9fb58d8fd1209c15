package org.stormrs.it;

import java.util.ArrayDeque;
import java.util.Map;
import org.apache.storm.task.TopologyContext;
import org.apache.storm.topology.BasicOutputCollector;
import org.apache.storm.topology.OutputFieldsDeclarer;
import org.apache.storm.topology.base.BaseBasicBolt;
import org.apache.storm.tuple.Tuple;

/** Keeps the last 20 values it received and how many, in {@code sink-<task>.txt}. */
public class SinkBolt extends BaseBasicBolt {
    private final String outDir;
    private final ArrayDeque<String> last = new ArrayDeque<>();
    private long seen;
    private int task;

    public SinkBolt(String outDir) {
        this.outDir = outDir;
    }

    @Override
    public void prepare(Map<String, Object> conf, TopologyContext context) {
        task = context.getThisTaskId();
    }

    @Override
    public void execute(Tuple tuple, BasicOutputCollector collector) {
        seen++;
        last.add(String.valueOf(tuple.getValue(0)));
        if (last.size() > 20) {
            last.poll();
        }
        if (seen % 100 == 1) {
            Files.write(outDir, "sink-" + task + ".txt", "seen " + seen + "\n" + String.join("\n", last) + "\n");
        }
    }

    @Override
    public void declareOutputFields(OutputFieldsDeclarer declarer) {}
}
