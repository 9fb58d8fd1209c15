package org.stormrs.it;

import java.util.ArrayDeque;
import java.util.Map;
import java.util.TreeSet;
import org.apache.storm.spout.SpoutOutputCollector;
import org.apache.storm.task.TopologyContext;
import org.apache.storm.topology.OutputFieldsDeclarer;
import org.apache.storm.topology.base.BaseRichSpout;
import org.apache.storm.tuple.Fields;
import org.apache.storm.tuple.Values;

/**
 * Emits sentence {@code i % SENTENCES.length} for i = 0 … total-1 with message id i (reliable),
 * replays what fails, and writes "emitted E acked A failed F" to {@code spout-<task>.txt} in the
 * output directory whenever a count changes. Each task emits its share of the ids.
 */
public class SentenceSpout extends BaseRichSpout {
    static final String[] SENTENCES = {
        "the cow jumped over the moon",
        "an apple a day keeps the doctor away",
        "four score and seven years ago",
        "snow white and the seven dwarfs",
        "i am at two with nature",
    };

    private final int total;
    private final String outDir;
    private SpoutOutputCollector collector;
    private int task;
    private int next;
    private int stride;
    private final ArrayDeque<Integer> replay = new ArrayDeque<>();
    private final TreeSet<Integer> acked = new TreeSet<>();
    private long emitted;
    private long failed;
    private long lastWrite;

    public SentenceSpout(int total, String outDir) {
        this.total = total;
        this.outDir = outDir;
    }

    @Override
    public void open(Map<String, Object> conf, TopologyContext context, SpoutOutputCollector collector) {
        this.collector = collector;
        this.task = context.getThisTaskId();
        this.next = context.getThisTaskIndex();
        this.stride = context.getComponentTasks(context.getThisComponentId()).size();
        write();
    }

    @Override
    public void nextTuple() {
        Integer id = replay.poll();
        if (id == null) {
            if (next >= total) {
                if (System.currentTimeMillis() - lastWrite > 500) {
                    write();
                }
                return;
            }
            id = next;
            next += stride;
        }
        collector.emit(new Values(SENTENCES[id % SENTENCES.length], id), id);
        emitted++;
        if (emitted % 1000 == 0) {
            write();
        }
    }

    @Override
    public void ack(Object msgId) {
        acked.add((Integer) msgId);
        if (acked.size() % 100 == 0 || acked.size() * stride >= total) {
            write();
        }
    }

    @Override
    public void fail(Object msgId) {
        failed++;
        replay.add((Integer) msgId);
        write();
    }

    private void write() {
        lastWrite = System.currentTimeMillis();
        Files.write(outDir, "spout-" + task + ".txt",
            "emitted " + emitted + " acked " + acked.size() + " failed " + failed + "\n");
    }

    @Override
    public void declareOutputFields(OutputFieldsDeclarer declarer) {
        declarer.declare(new Fields("sentence", "id"));
    }
}
