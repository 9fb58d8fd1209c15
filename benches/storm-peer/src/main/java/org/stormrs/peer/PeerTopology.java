package org.stormrs.peer;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

import org.apache.storm.Config;
import org.apache.storm.StormSubmitter;
import org.apache.storm.generated.StormTopology;
import org.apache.storm.topology.TopologyBuilder;
import org.apache.storm.tuple.Fields;

/**
 * The storm_perf workloads as one Java topology jar, for `storm_perf vs-storm`
 * (examples/storm_perf/peer.rs):
 *
 * <pre>
 *   PeerTopology submit NAME WORKLOAD ACKING REPORT_DIR [KEY=VALUE…]
 *       StormSubmitter.submitTopology: `storm jar` on storm-rs, or Storm's own client against its daemons
 *   PeerTopology local NAME WORKLOAD ACKING REPORT_DIR SECONDS [KEY=VALUE…]
 *       Storm's LocalCluster in this JVM (storm-server on the classpath) for SECONDS, then exits
 *
 *   WORKLOAD  const-spout-null-bolt | const-spout-id-bolt-null-bolt | word-count
 *             | idle (a spout that emits nothing → a bolt, for storm_perf idle)
 *   ACKING    on (1 acker, topology.max.spout.pending 5000 unless given) | off (0 ackers, no message ids)
 *   KEY=VALUE topology settings; stormrs.peer.parallelism=N (not a setting: the executors of every
 *             component, default 1; the ackers stay as ACKING sets them)
 * </pre>
 *
 * Shapes, parallelism (1 everywhere unless stormrs.peer.parallelism), groupings, component names, acker count and max-spout-pending
 * are those of storm-rs's storm_perf runner ({@code examples/storm_perf/runner.rs}, {@code build}); on
 * top come the settings Storm's storm-perf ships for the corresponding topology
 * ({@code storm-perf-settings.txt} in this jar), then KEY=VALUE overrides. The components write their
 * counters and latency histograms to REPORT_DIR (see {@link Meter}).
 */
public final class PeerTopology {
    /** storm_perf's word-count sentences (storm-rs's {@code RandomSentenceSpout::SENTENCES}), cycled. */
    static final String[] SENTENCES = {
        "the cow jumped over the moon",
        "an apple a day keeps the doctor away",
        "four score and seven years ago",
        "snow white and the seven dwarfs",
        "i am at two with nature",
    };

    /** The KEY=VALUE argument that sets the executors of every component. */
    static final String PARALLELISM = "stormrs.peer.parallelism";

    private PeerTopology() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 5 || !(args[0].equals("submit") || args[0].equals("local"))) {
            usage();
        }
        boolean local = args[0].equals("local");
        String name = args[1];
        String workload = args[2];
        boolean acking;
        switch (args[3]) {
            case "on":
                acking = true;
                break;
            case "off":
                acking = false;
                break;
            default:
                usage();
                return;
        }
        String reportDir = args[4];
        int first = 5;
        long seconds = 0;
        if (local) {
            if (args.length < 6) {
                usage();
            }
            seconds = Long.parseLong(args[5]);
            first = 6;
        }
        Config conf = new Config();
        conf.setNumWorkers(1);
        conf.setNumAckers(acking ? 1 : 0);
        if (acking) {
            conf.setMaxSpoutPending(5000);
        }
        conf.putAll(settings(workload));
        int parallelism = 1;
        for (int i = first; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            if (eq <= 0) {
                System.err.println("PeerTopology: expected KEY=VALUE, got " + args[i]);
                System.exit(2);
            }
            String key = args[i].substring(0, eq).trim();
            String value = args[i].substring(eq + 1).trim();
            if (key.equals(PARALLELISM)) {
                try {
                    parallelism = Integer.parseInt(value);
                } catch (NumberFormatException e) {
                    parallelism = 0;
                }
                if (parallelism < 1) {
                    System.err.println("PeerTopology: " + PARALLELISM + " must be a positive integer, not " + value);
                    System.exit(2);
                }
                continue;
            }
            conf.put(key, parse(value));
        }
        conf.put(Meter.REPORT_DIR, reportDir);
        StormTopology topology = topology(workload, acking, parallelism);
        if (local) {
            runLocal(name, conf, topology, seconds);
        } else {
            StormSubmitter.submitTopology(name, conf, topology);
        }
    }

    private static void usage() {
        System.err.println("usage: PeerTopology submit NAME WORKLOAD on|off REPORT_DIR [KEY=VALUE…]\n"
            + "       PeerTopology local NAME WORKLOAD on|off REPORT_DIR SECONDS [KEY=VALUE…]\n"
            + "workloads: const-spout-null-bolt const-spout-id-bolt-null-bolt word-count idle\n"
            + PARALLELISM + "=N: executors of every component (default 1)");
        System.exit(2);
    }

    static StormTopology topology(String workload, boolean acking, int p) {
        TopologyBuilder b = new TopologyBuilder();
        switch (workload) {
            case "const-spout-null-bolt":
                b.setSpout("spout", new ConstSpout(acking, "some data"), p);
                b.setBolt("null", new NullBolt(), p).localOrShuffleGrouping("spout");
                break;
            case "const-spout-id-bolt-null-bolt":
                b.setSpout("spout", new ConstSpout(acking, "some data"), p);
                b.setBolt("id", new IdBolt(), p).localOrShuffleGrouping("spout");
                b.setBolt("null", new NullBolt(), p).localOrShuffleGrouping("id");
                break;
            case "word-count":
                b.setSpout("spout", new ConstSpout(acking, SENTENCES), p);
                b.setBolt("split", new SplitBolt(), p).localOrShuffleGrouping("spout");
                b.setBolt("count", new CountBolt(), p).fieldsGrouping("split", new Fields("word"));
                break;
            case "idle":
                b.setSpout("spout", new Idle.Spout(), p);
                b.setBolt("null", new Idle.Bolt(), p).localOrShuffleGrouping("spout");
                break;
            default:
                System.err.println("PeerTopology: unknown workload " + workload);
                System.exit(2);
        }
        return b.createTopology();
    }

    /** The [workload] section of storm-perf-settings.txt. */
    static Map<String, Object> settings(String workload) throws IOException {
        Map<String, Object> out = new LinkedHashMap<>();
        try (InputStream in = PeerTopology.class.getResourceAsStream("/storm-perf-settings.txt")) {
            if (in == null) {
                throw new IOException("storm-perf-settings.txt is missing from the jar");
            }
            BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            String section = null;
            for (String line; (line = r.readLine()) != null; ) {
                line = line.trim();
                if (line.isEmpty() || line.startsWith("#")) {
                    continue;
                }
                if (line.startsWith("[") && line.endsWith("]")) {
                    section = line.substring(1, line.length() - 1).trim();
                    continue;
                }
                int eq = line.indexOf('=');
                if (eq > 0 && workload.equals(section)) {
                    out.put(line.substring(0, eq).trim(), parse(line.substring(eq + 1).trim()));
                }
            }
        }
        return out;
    }

    /** An integer (as Integer when it fits), a float, true/false, or the string itself. */
    static Object parse(String v) {
        if (v.equals("true") || v.equals("false")) {
            return Boolean.valueOf(v);
        }
        try {
            long l = Long.parseLong(v);
            return l == (int) l ? (Object) (int) l : (Object) l;
        } catch (NumberFormatException e) {
            // not an integer
        }
        try {
            return Double.valueOf(v);
        } catch (NumberFormatException e) {
            return v;
        }
    }

    /**
     * Storm's LocalCluster, reached by reflection so that this jar compiles against storm-client alone
     * (storm-server must be on the classpath at run time). Runs for {@code seconds}, then halts the JVM
     * (the runner has read what it needs); also halts as soon as the process that started it is gone.
     */
    private static void runLocal(String name, Map<String, Object> conf, StormTopology topology, long seconds)
        throws Exception {
        ProcessHandle parent = ProcessHandle.current().parent().orElse(null);
        if (parent != null) {
            Thread watchdog = new Thread(() -> {
                while (parent.isAlive()) {
                    try {
                        Thread.sleep(500);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                Runtime.getRuntime().halt(3);
            }, "stormrs-peer-watchdog");
            watchdog.setDaemon(true);
            watchdog.start();
        }
        Class<?> cls = Class.forName("org.apache.storm.LocalCluster");
        Object cluster = cls.getConstructor().newInstance();
        cls.getMethod("submitTopology", String.class, Map.class, StormTopology.class)
            .invoke(cluster, name, conf, topology);
        System.out.println("PeerTopology: submitted " + name + " to Storm's LocalCluster");
        System.out.flush();
        Thread.sleep(seconds * 1000);
        Runtime.getRuntime().halt(0);
    }
}
