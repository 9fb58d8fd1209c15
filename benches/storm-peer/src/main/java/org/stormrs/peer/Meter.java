package org.stormrs.peer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The counters the benchmark runner reads, one set per JVM. A component registers a counter
 * ({@link #counter}) and publishes its running count into it (a release store, no fence on the hot
 * path); a daemon thread writes every counter of this JVM every 100 ms to
 * {@code <report dir>/counts-<pid>.txt} (temp file + rename):
 *
 * <pre>
 *   &lt;System.nanoTime() at the snapshot&gt;
 *   &lt;component&gt;.&lt;what&gt; &lt;task&gt; &lt;count&gt;
 *   …
 * </pre>
 *
 * The runner computes rates between two snapshots of the same file from the counts and the
 * snapshot times, so a late write shifts a sample but does not bend the rate.
 */
final class Meter {
    /** Topology configuration key: the directory the counters and latency histograms go to. */
    static final String REPORT_DIR = "stormrs.peer.report.dir";

    private static final long PERIOD_MS = 100;
    private static final Map<String, AtomicLong> COUNTERS = new ConcurrentSkipListMap<>();
    private static Path dir;
    private static Thread reporter;

    private Meter() {}

    static long pid() {
        return ProcessHandle.current().pid();
    }

    /** The report directory from the topology configuration, or null when none is set. */
    static Path reportDir(Map<String, Object> conf) {
        Object d = conf.get(REPORT_DIR);
        return d == null || d.toString().isEmpty() ? null : Paths.get(d.toString());
    }

    /** A counter published as {@code name task}; starts the reporter on first use. */
    static synchronized AtomicLong counter(Map<String, Object> conf, String name, int task) {
        AtomicLong c = COUNTERS.computeIfAbsent(name + " " + task, k -> new AtomicLong());
        Path d = reportDir(conf);
        if (d != null && reporter == null) {
            dir = d;
            reporter = new Thread(Meter::report, "stormrs-peer-meter");
            reporter.setDaemon(true);
            reporter.start();
        }
        return c;
    }

    private static void report() {
        Path file = dir.resolve("counts-" + pid() + ".txt");
        while (true) {
            StringBuilder s = new StringBuilder();
            s.append(System.nanoTime()).append('\n');
            for (Map.Entry<String, AtomicLong> e : COUNTERS.entrySet()) {
                s.append(e.getKey()).append(' ').append(e.getValue().get()).append('\n');
            }
            write(file, s.toString());
            try {
                Thread.sleep(PERIOD_MS);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** Writes {@code text} to {@code file} through a temporary file and a rename (readers never see half). */
    static void write(Path file, String text) {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            Files.createDirectories(file.getParent());
            Files.write(tmp, text.getBytes(StandardCharsets.UTF_8));
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            // A benchmark counter is not worth failing a task for; the runner notices missing files.
        }
    }
}
