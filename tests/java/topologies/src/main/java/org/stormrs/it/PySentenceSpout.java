package org.stormrs.it;

import java.util.Map;
import org.apache.storm.spout.ShellSpout;
import org.apache.storm.topology.IRichSpout;
import org.apache.storm.topology.OutputFieldsDeclarer;
import org.apache.storm.tuple.Fields;

/**
 * A ShellSpout running our pystorm sentence spout from the jar's resources/: emits
 * {@code test.sentences} sentences once each, reliably.
 */
public class PySentenceSpout extends ShellSpout implements IRichSpout {
    public PySentenceSpout(String python) {
        super(python, "sentence_spout.py");
    }

    @Override
    public void declareOutputFields(OutputFieldsDeclarer declarer) {
        declarer.declare(new Fields("sentence"));
    }

    @Override
    public Map<String, Object> getComponentConfiguration() {
        return null;
    }
}
