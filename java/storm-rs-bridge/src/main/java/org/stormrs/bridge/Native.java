package org.stormrs.bridge;

import java.nio.ByteBuffer;

/**
 * The calls into the storm-rs worker (registered by the Rust side with RegisterNatives when the JVM
 * starts). {@code ctx} is the address of the calling host's state on the Rust side; it is valid
 * while the host lives and is used only on the host's executor thread.
 */
final class Native {
    private Native() {}

    /**
     * Emits the values encoded at the start of the host's buffer on stream {@code stream} (an index
     * into the host's declared streams; -1 with {@code streamName} for an undeclared one), to
     * {@code directTask} when it is not -1, reliably with message key {@code messageKey} when not 0.
     * Returns how many target tasks were chosen; their ids are then at the start of the buffer.
     */
    static native int spoutEmit(long ctx, int stream, String streamName, int directTask, long messageKey);

    static native long spoutPending(long ctx);

    /**
     * Emits the {@code count} emits queued at the start of the host's buffer, each an int stream
     * index, a long message key (0: unreliable) and the encoded values. Writes into
     * {@code results}, when it is long enough, each emit's offset into it (count + 1 of them) and
     * then the chosen task ids, and returns how many ints that is (fetch them with
     * {@link #spoutResults} when more than {@code results.length}). When an emit is refused it
     * returns {@code -(emits sent) - 1}, with the reason at the start of the buffer (an int length,
     * then UTF-8).
     */
    static native int spoutFlush(long ctx, int count, int[] results);

    /**
     * As {@link #spoutFlush}, for a bolt's queued records, each a byte kind then: 1 (emit) an int
     * stream index, an int anchor count, that many long handles and the values; 2 (ack), 3 (fail)
     * or 4 (reset timeout) a long handle. After a refused emit, later emits are dropped and acks
     * and fails still apply.
     */
    static native int boltFlush(long ctx, int count, int[] results);

    /** The results of the last flush into {@code results} (long enough for them). */
    static native void lastResults(long ctx, int[] results);

    /**
     * As {@link #spoutEmit}, for a bolt: anchored to the tuple handle {@code anchor} (0: none) or,
     * when {@code anchors} is not null, to every handle in it.
     */
    static native int boltEmit(long ctx, int stream, String streamName, int directTask, long anchor, long[] anchors);

    /** Forgets a tuple the bolt dropped without acking (its Java object was collected). */
    static native void release(long ctx, long handle);

    /** The tuple's anchors as (root, id) pairs, for {@code Tuple.getMessageId()}. */
    static native long[] messageIds(long ctx, long handle);

    static native void reportError(long ctx, String error);

    /** The host replaced its shared buffer by a larger one. */
    static native void setBuffer(long ctx, ByteBuffer buffer);

    /** Wakes the host's executor: work from another thread waits in the host's queue. */
    static native void wake(long ctx);

    /** A log4j event, logged by the worker's log with the thread's topology, component and task. */
    static native void log(int level, String logger, String thread, String message);
}
