package org.stormrs.it;

import java.util.Map;
import org.apache.storm.task.ShellBolt;
import org.apache.storm.topology.IRichBolt;
import org.apache.storm.topology.OutputFieldsDeclarer;
import org.apache.storm.tuple.Fields;

/** storm-starter's SplitSentence: a ShellBolt running a pystorm script from the jar's resources/. */
public class PySplitBolt extends ShellBolt implements IRichBolt {
    public PySplitBolt(String python) {
        super(python, "split_bolt.py");
    }

    @Override
    public void declareOutputFields(OutputFieldsDeclarer declarer) {
        declarer.declare(new Fields("word"));
    }

    @Override
    public Map<String, Object> getComponentConfiguration() {
        return null;
    }
}
