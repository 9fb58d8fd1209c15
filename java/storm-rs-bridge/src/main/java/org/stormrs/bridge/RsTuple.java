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
 * bolt keeps the tuple past {@code execute}, the JVM's cleaner releases it through the handle's own
 * cell, which does not reach the tuple. One atomic cell and no monitor: a bolt may ack from
 * another thread, and the executor checks the handle once per input.
 */
final class RsTuple extends TupleImpl {
    private static final MessageId UNANCHORED = MessageId.makeUnanchored();

    final BoltHost host;
    private final AtomicLong handle;
    private volatile MessageId messageId;

    RsTuple(BoltHost host, GeneralTopologyContext context, List<Object> values, String component, int task,
            String stream, long handle) {
        super(context, values, component, task, stream, UNANCHORED);
        this.host = host;
        this.handle = new AtomicLong(handle);
    }

    /** The handle for anchoring (0 once acked or failed). */
    long handle() {
        return handle.get();
    }

    /** Takes the handle for ack or fail. */
    long take() {
        return handle.getAndSet(0);
    }

    /**
     * Whether the tuple still holds its handle once execute returned; then {@link #cell()} is what
     * the cleaner releases.
     */
    boolean keptAfterExecute() {
        return handle.get() != 0;
    }

    /** The handle's cell, for the cleaner (it must not reach this tuple). */
    AtomicLong cell() {
        return handle;
    }

    @Override
    public MessageId getMessageId() {
        MessageId id = messageId;
        if (id != null) {
            return id;
        }
        long h = handle();
        if (h == 0) {
            return UNANCHORED;
        }
        long[] pairs = host.onExecutor(() -> Native.messageIds(host.ctx(), h));
        Map<Long, Long> ids = new HashMap<>();
        for (int i = 0; i + 1 < pairs.length; i += 2) {
            ids.put(pairs[i], pairs[i + 1]);
        }
        id = MessageId.makeId(ids);
        messageId = id;
        return id;
    }
}
