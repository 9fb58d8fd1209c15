package org.stormrs.peer;

import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.storm.task.OutputCollector;
import org.apache.storm.task.TopologyContext;
import org.apache.storm.topology.OutputFieldsDeclarer;
import org.apache.storm.topology.base.BaseRichBolt;
import org.apache.storm.tuple.Tuple;

/** Acks and drops every input (storm-rs's {@code storm::perf::NullBolt}); counts {@code <component>.executed}. */
public class NullBolt extends BaseRichBolt {
    private static final long serialVersionUID = 1L;

    private transient OutputCollector collector;
    private transient AtomicLong counter;
    private transient long executed;

    @Override
    public void prepare(Map<String, Object> conf, TopologyContext context, OutputCollector collector) {
        this.collector = collector;
        this.counter = Meter.counter(conf, context.getThisComponentId() + ".executed", context.getThisTaskId());
    }

    @Override
    public void execute(Tuple input) {
        collector.ack(input);
        counter.lazySet(++executed);
    }

    @Override
    public void declareOutputFields(OutputFieldsDeclarer declarer) {
    }
}
