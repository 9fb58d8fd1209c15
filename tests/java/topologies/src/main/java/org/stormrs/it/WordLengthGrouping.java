package org.stormrs.it;

import java.util.Collections;
import java.util.List;
import org.apache.storm.generated.GlobalStreamId;
import org.apache.storm.grouping.CustomStreamGrouping;
import org.apache.storm.task.WorkerTopologyContext;

/** A user's CustomStreamGrouping: a word goes to the target task chosen by its length. */
public class WordLengthGrouping implements CustomStreamGrouping {
    private List<Integer> targets;

    @Override
    public void prepare(WorkerTopologyContext context, GlobalStreamId stream, List<Integer> targetTasks) {
        if (!context.getComponentOutputFields(stream).contains("word")) {
            throw new IllegalArgumentException("WordLengthGrouping needs a word field on " + stream);
        }
        targets = targetTasks;
    }

    @Override
    public List<Integer> chooseTasks(int taskId, List<Object> values) {
        String word = (String) values.get(0);
        return Collections.singletonList(targets.get(word.length() % targets.size()));
    }
}
