package org.stormrs.peer;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.storm.task.TopologyContext;
import org.apache.storm.topology.BasicOutputCollector;
import org.apache.storm.topology.OutputFieldsDeclarer;
import org.apache.storm.topology.base.BaseBasicBolt;
import org.apache.storm.tuple.Fields;
import org.apache.storm.tuple.Tuple;
import org.apache.storm.tuple.Values;

/**
 * Counts words (field {@code word}) and emits {@code [word, count]} after each (storm-rs's
 * {@code WordCount}); counts {@code <component>.executed}.
 */
public class CountBolt extends BaseBasicBolt {
    private static final long serialVersionUID = 1L;

    private transient Map<String, Long> counts;
    private transient AtomicLong counter;
    private transient long executed;

    @Override
    public void prepare(Map<String, Object> conf, TopologyContext context) {
        counts = new HashMap<>();
        counter = Meter.counter(conf, context.getThisComponentId() + ".executed", context.getThisTaskId());
    }

    @Override
    public void execute(Tuple input, BasicOutputCollector collector) {
        String word = input.getString(0);
        long n = counts.merge(word, 1L, Long::sum);
        collector.emit(new Values(word, n));
        counter.lazySet(++executed);
    }

    @Override
    public void declareOutputFields(OutputFieldsDeclarer declarer) {
        declarer.declare(new Fields("word", "count"));
    }
}
