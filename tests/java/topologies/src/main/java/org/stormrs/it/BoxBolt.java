package org.stormrs.it;

import java.util.TreeSet;
import org.apache.storm.topology.BasicOutputCollector;
import org.apache.storm.topology.OutputFieldsDeclarer;
import org.apache.storm.topology.base.BaseBasicBolt;
import org.apache.storm.tuple.Fields;
import org.apache.storm.tuple.Tuple;
import org.apache.storm.tuple.Values;

/** Wraps each word in a {@link Word} and adds a set of its letters (objects storm-rs carries opaquely). */
public class BoxBolt extends BaseBasicBolt {
    @Override
    public void execute(Tuple tuple, BasicOutputCollector collector) {
        String w = tuple.getString(0);
        TreeSet<Character> letters = new TreeSet<>();
        for (char c : w.toCharArray()) {
            letters.add(c);
        }
        collector.emit(new Values(new Word(w), letters));
    }

    @Override
    public void declareOutputFields(OutputFieldsDeclarer declarer) {
        declarer.declare(new Fields("word", "letters"));
    }
}
