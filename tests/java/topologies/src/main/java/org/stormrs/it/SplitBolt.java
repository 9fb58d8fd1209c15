package org.stormrs.it;

import java.util.Map;
import org.apache.storm.task.OutputCollector;
import org.apache.storm.task.TopologyContext;
import org.apache.storm.topology.OutputFieldsDeclarer;
import org.apache.storm.topology.base.BaseRichBolt;
import org.apache.storm.tuple.Fields;
import org.apache.storm.tuple.Tuple;
import org.apache.storm.tuple.Values;

/**
 * Splits sentences into words, anchored, then acks. With {@code failEvery} > 0 it fails (once) the
 * first delivery of every id divisible by it, so the spout replays it. With a non-null
 * {@code throwMarker} it throws on its first tuple unless the marker file exists (creating it
 * first), so its worker dies once and is relaunched.
 */
public class SplitBolt extends BaseRichBolt {
    private final int failEvery;
    private final String outDir;
    private final boolean throwOnce;
    private OutputCollector collector;
    private final java.util.HashSet<Integer> failedOnce = new java.util.HashSet<>();

    public SplitBolt(int failEvery, String outDir, boolean throwOnce) {
        this.failEvery = failEvery;
        this.outDir = outDir;
        this.throwOnce = throwOnce;
    }

    @Override
    public void prepare(Map<String, Object> conf, TopologyContext context, OutputCollector collector) {
        this.collector = collector;
    }

    @Override
    public void execute(Tuple input) {
        if (throwOnce && !Files.exists(outDir, "thrown")) {
            Files.write(outDir, "thrown", "yes\n");
            throw new IllegalStateException("storm-rs test: SplitBolt throws once on purpose");
        }
        int id = input.getIntegerByField("id");
        if (failEvery > 0 && id % failEvery == 0 && failedOnce.add(id)) {
            if (failedOnce.size() == 1) {
                collector.reportError(new IllegalArgumentException("storm-rs test: failing id " + id));
            }
            collector.fail(input);
            return;
        }
        for (String word : input.getStringByField("sentence").split(" ")) {
            collector.emit(input, new Values(word));
        }
        collector.ack(input);
    }

    @Override
    public void declareOutputFields(OutputFieldsDeclarer declarer) {
        declarer.declare(new Fields("word"));
    }
}
