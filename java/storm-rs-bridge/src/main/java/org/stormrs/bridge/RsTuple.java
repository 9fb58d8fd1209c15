package org.stormrs.bridge;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.storm.task.GeneralTopologyContext;
import org.apache.storm.tuple.MessageId;
import org.apache.storm.tuple.TupleImpl;

/**
 * A bolt's input: Storm's {@link TupleImpl} (values, fields, source) plus the handle of the Rust
 * tuple behind it. The handle is taken by ack/fail (a second ack or fail does nothing); when the
 * bolt keeps the tuple past {@code execute} it moves into a box the JVM's cleaner can reach.
 */
final class RsTuple extends TupleImpl {
    private static final MessageId UNANCHORED = MessageId.makeUnanchored();

    final BoltHost host;
    private long handle;
    private AtomicLong box;
    private MessageId messageId;

    RsTuple(BoltHost host, GeneralTopologyContext context, List<Object> values, String component, int task,
            String stream, long handle) {
        super(context, values, component, task, stream, UNANCHORED);
        this.host = host;
        this.handle = handle;
    }

    /** The handle for anchoring (0 once acked or failed). */
    synchronized long handle() {
        return box != null ? box.get() : handle;
    }

    /** Takes the handle for ack or fail. */
    synchronized long take() {
        if (box != null) {
            return box.getAndSet(0);
        }
        long h = handle;
        handle = 0;
        return h;
    }

    /** Whether the tuple still holds its handle once execute returned (then it moves into a box). */
    synchronized boolean keptAfterExecute() {
        if (box == null && handle != 0) {
            box = new AtomicLong(handle);
            handle = 0;
            return true;
        }
        return false;
    }

    synchronized AtomicLong box() {
        return box;
    }

    @Override
    public MessageId getMessageId() {
        long h;
        synchronized (this) {
            if (messageId != null) {
                return messageId;
            }
            h = handle();
        }
        if (h == 0) {
            return UNANCHORED;
        }
        long[] pairs = host.onExecutor(() -> Native.messageIds(host.ctx(), h));
        Map<Long, Long> ids = new HashMap<>();
        for (int i = 0; i + 1 < pairs.length; i += 2) {
            ids.put(pairs[i], pairs[i + 1]);
        }
        MessageId id = MessageId.makeId(ids);
        synchronized (this) {
            messageId = id;
        }
        return id;
    }
}
