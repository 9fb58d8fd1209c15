package org.stormrs.peer;

/**
 * A log-linear latency histogram over nanoseconds: 16 buckets per power of two (a quantile read from
 * it is at most 6.25 % high), plus count, max and sum. Its text form is the one storm_perf's
 * {@code LatencyHistogram} reads ({@code src/lib/local/perf.rs}): {@code count max sum} on the first
 * line, then {@code bucket n} for every non-empty bucket. Not thread-safe: the spout's executor
 * thread records and writes it.
 */
final class Histogram {
    private static final int SUB_BITS = 4;
    private static final int SUB = 1 << SUB_BITS;
    private static final int BUCKETS = 64 * SUB;

    private final long[] counts = new long[BUCKETS];
    private long count;
    private long max;
    private long sum;

    static int bucketOf(long ns) {
        if (ns < SUB) {
            return (int) Math.max(ns, 0);
        }
        int msb = 63 - Long.numberOfLeadingZeros(ns);
        int shift = msb - SUB_BITS;
        int sub = (int) ((ns >>> shift) & (SUB - 1));
        return Math.min((shift + 1) * SUB + sub, BUCKETS - 1);
    }

    void record(long ns) {
        ns = Math.max(ns, 0);
        counts[bucketOf(ns)]++;
        count++;
        max = Math.max(max, ns);
        sum += ns;
    }

    long count() {
        return count;
    }

    String toText() {
        StringBuilder s = new StringBuilder();
        s.append(count).append(' ').append(max).append(' ').append(sum).append('\n');
        for (int b = 0; b < BUCKETS; b++) {
            if (counts[b] > 0) {
                s.append(b).append(' ').append(counts[b]).append('\n');
            }
        }
        return s.toString();
    }
}
