package org.stormrs.it;

import java.util.Map;
import org.apache.storm.task.OutputCollector;
import org.apache.storm.task.TopologyContext;
import org.apache.storm.topology.OutputFieldsDeclarer;
import org.apache.storm.topology.base.BaseWindowedBolt;
import org.apache.storm.windowing.TupleWindow;

/**
 * Storm's windowing (a tumbling one-second time window; Storm's WindowedBoltExecutor triggers it
 * from its own timer thread): writes how many windows and tuples it saw to {@code windows-<task>.txt}.
 */
public class WindowCountBolt extends BaseWindowedBolt {
    private final String outDir;
    private int task;
    private long windows;
    private long tuples;

    public WindowCountBolt(String outDir) {
        this.outDir = outDir;
    }

    @Override
    public void prepare(Map<String, Object> conf, TopologyContext context, OutputCollector collector) {
        task = context.getThisTaskId();
    }

    @Override
    public void execute(TupleWindow window) {
        int n = window.get().size();
        if (n == 0) {
            return;
        }
        windows++;
        tuples += n;
        Files.write(outDir, "windows-" + task + ".txt", "windows " + windows + " tuples " + tuples + "\n");
    }

    @Override
    public void declareOutputFields(OutputFieldsDeclarer declarer) {}
}
