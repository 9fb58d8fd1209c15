package org.stormrs.bridge;

import java.util.ArrayList;
import java.util.List;
import org.apache.storm.generated.GlobalStreamId;
import org.apache.storm.grouping.CustomStreamGrouping;

/**
 * A Java {@link CustomStreamGrouping} (a subscription's {@code custom_serialized} grouping) used
 * by a storm-rs emitter: the Rust side writes the tuple's values into the buffer and reads the
 * chosen tasks back from it.
 */
public final class GroupingHost extends Host {
    private final CustomStreamGrouping grouping;

    GroupingHost(long ctx, long wakeCtx, Bridge.Worker worker, CustomStreamGrouping grouping, int bufferBytes) {
        super(ctx, wakeCtx, worker, "grouping " + grouping.getClass().getName(), -1, new String[0], bufferBytes);
        this.grouping = grouping;
    }

    public void prepare(String component, String stream, int[] targets) {
        List<Integer> tasks = new ArrayList<>(targets.length);
        for (int t : targets) {
            tasks.add(t);
        }
        grouping.prepare(worker.workerContext, new GlobalStreamId(component, stream), tasks);
    }

    /** Chooses tasks for the values at the start of the buffer; writes them there, returns how many. */
    public int chooseTasks(int sourceTask) {
        buffer.clear();
        List<Object> values = codec.decodeValues(buffer);
        List<Integer> chosen = grouping.chooseTasks(sourceTask, values);
        if (chosen == null) {
            return 0;
        }
        if (chosen.size() * 4 > buffer.capacity()) {
            grow(Math.max(chosen.size() * 4, buffer.capacity() * 2), "chosen tasks");
        }
        buffer.clear();
        for (Integer t : chosen) {
            buffer.putInt(t);
        }
        return chosen.size();
    }
}
