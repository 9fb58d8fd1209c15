package org.stormrs.bridge;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.storm.generated.Bolt;
import org.apache.storm.generated.ComponentCommon;
import org.apache.storm.generated.ComponentObject;
import org.apache.storm.generated.SpoutSpec;
import org.apache.storm.generated.StormTopology;
import org.apache.storm.generated.StreamInfo;
import org.apache.storm.grouping.CustomStreamGrouping;
import org.apache.storm.metrics2.StormMetricRegistry;
import org.apache.storm.spout.ISpout;
import org.apache.storm.spout.ShellSpout;
import org.apache.storm.task.GeneralTopologyContext;
import org.apache.storm.task.IBolt;
import org.apache.storm.task.ShellBolt;
import org.apache.storm.task.TopologyContext;
import org.apache.storm.task.WorkerTopologyContext;
import org.apache.storm.thrift.TDeserializer;
import org.apache.storm.tuple.Fields;
import org.apache.storm.utils.Utils;

/**
 * The entry points the storm-rs worker calls: {@link #init} once per JVM with what Storm's
 * {@code WorkerState} holds, then one host per Java spout or bolt task and per Java grouping.
 * Everything here runs on the calling executor thread.
 */
public final class Bridge {
    private Bridge() {}

    /** Storm's worker-level state, as the hosts' contexts need it. */
    static final class Worker {
        final StormTopology systemTopology;
        final StormTopology userTopology;
        final Map<String, Object> conf;
        final String topologyId;
        final int port;
        final List<Integer> workerTasks;
        final String codeDir;
        final String pidDir;
        final Map<Integer, String> taskToComponent = new HashMap<>();
        final Map<String, List<Integer>> componentToSortedTasks = new HashMap<>();
        final Map<String, Map<String, Fields>> componentToStreamToFields = new HashMap<>();
        final Map<String, Long> blobToLastKnownVersion = new ConcurrentHashMap<>();
        final Map<String, Object> defaultResources = new ConcurrentHashMap<>();
        final Map<String, Object> userResources = new ConcurrentHashMap<>();
        final StormMetricRegistry metricRegistry = new StormMetricRegistry();
        final GeneralTopologyContext general;
        final WorkerTopologyContext workerContext;

        Worker(StormTopology system, StormTopology user, Map<String, Object> conf, String topologyId,
               int port, int[] tasks, int[] taskIds, String[] taskComponents, String codeDir, String pidDir) {
            this.systemTopology = system;
            this.userTopology = user;
            this.conf = conf;
            this.topologyId = topologyId;
            this.port = port;
            List<Integer> own = new ArrayList<>();
            for (int t : tasks) {
                own.add(t);
            }
            this.workerTasks = Collections.unmodifiableList(own);
            this.codeDir = codeDir;
            this.pidDir = pidDir;
            // Task numbering as the Rust side computed it (it is Storm's).
            for (int i = 0; i < taskIds.length; i++) {
                taskToComponent.put(taskIds[i], taskComponents[i]);
                componentToSortedTasks.computeIfAbsent(taskComponents[i], k -> new ArrayList<>()).add(taskIds[i]);
            }
            taskToComponent.put(-1, "__system");
            componentToSortedTasks.computeIfAbsent("__system", k -> new ArrayList<>(List.of(-1)));
            for (List<Integer> sorted : componentToSortedTasks.values()) {
                Collections.sort(sorted);
            }
            for (String id : componentIds(system)) {
                Map<String, Fields> streams = new HashMap<>();
                for (Map.Entry<String, StreamInfo> e : common(system, id).get_streams().entrySet()) {
                    streams.put(e.getKey(), new Fields(e.getValue().get_output_fields()));
                }
                componentToStreamToFields.put(id, streams);
            }
            this.general = new GeneralTopologyContext(system, conf, taskToComponent,
                componentToSortedTasks, componentToStreamToFields, topologyId);
            this.workerContext = new WorkerTopologyContext(system, conf, taskToComponent,
                componentToSortedTasks, componentToStreamToFields, topologyId, codeDir, pidDir, port,
                workerTasks, defaultResources, userResources);
        }

        /** Storm's per-task context of the user topology. */
        TopologyContext taskContext(int taskId, Map<String, Object> executorData) {
            return new TopologyContext(userTopology, conf, taskToComponent, componentToSortedTasks,
                componentToStreamToFields, blobToLastKnownVersion, topologyId, codeDir, pidDir, taskId,
                port, workerTasks, defaultResources, userResources, executorData, new HashMap<>(),
                new java.util.concurrent.atomic.AtomicBoolean(false), metricRegistry);
        }
    }

    private static volatile Worker worker;

    static Worker worker() {
        Worker w = worker;
        if (w == null) {
            throw new IllegalStateException("storm-rs bridge: Bridge.init was not called");
        }
        return w;
    }

    /**
     * Gives a thread attached through JNI (which has no context class loader) the application
     * class loader, which Storm's and users' code expect (Utils reads defaults.yaml through it).
     */
    static void adopt() {
        Thread t = Thread.currentThread();
        if (t.getContextClassLoader() == null) {
            t.setContextClassLoader(Bridge.class.getClassLoader());
        }
    }

    static List<String> componentIds(StormTopology t) {
        List<String> ids = new ArrayList<>();
        ids.addAll(t.get_spouts().keySet());
        ids.addAll(t.get_bolts().keySet());
        return ids;
    }

    static ComponentCommon common(StormTopology t, String id) {
        SpoutSpec s = t.get_spouts().get(id);
        if (s != null) {
            return s.get_common();
        }
        Bolt b = t.get_bolts().get(id);
        if (b != null) {
            return b.get_common();
        }
        throw new IllegalArgumentException("no component " + id);
    }

    /** Sets up the worker state; {@code taskComponents[i]} runs task {@code taskIds[i]}. */
    public static void init(byte[] systemTopology, byte[] userTopology, String confJson, String topologyId,
                            int port, int[] workerTasks, int[] taskIds, String[] taskComponents,
                            String codeDir, String pidDir) throws Exception {
        adopt();
        StormTopology system = new StormTopology();
        new TDeserializer().deserialize(system, systemTopology);
        StormTopology user = new StormTopology();
        new TDeserializer().deserialize(user, userTopology);
        Map<String, Object> conf = Utils.parseJson(confJson);
        Worker w = new Worker(system, user, conf, topologyId, port, workerTasks, taskIds, taskComponents, codeDir,
            pidDir);
        LogBridge.install(conf);
        worker = w;
    }

    /** Makes the component (Storm's {@code Utils.getSetComponentObject}) from its Thrift bytes. */
    static Object component(byte[] componentObject) throws Exception {
        adopt();
        ComponentObject object = new ComponentObject();
        new TDeserializer().deserialize(object, componentObject);
        return Utils.getSetComponentObject(object);
    }

    /** The multilang command of a Java ShellBolt/ShellSpout (storm-rs runs it natively), else null. */
    public static String[] shellCommand(byte[] componentObject) throws Exception {
        Object o = component(componentObject);
        Class<?> base = o instanceof ShellBolt ? ShellBolt.class : o instanceof ShellSpout ? ShellSpout.class : null;
        if (base == null) {
            return null;
        }
        Field f = base.getDeclaredField("command");
        f.setAccessible(true);
        String[] command = (String[]) f.get(o);
        return command == null ? null : Arrays.copyOf(command, command.length);
    }

    public static SpoutHost newSpout(long ctx, byte[] componentObject, String componentId, int taskId,
                                     String[] streams, int bufferBytes, long wakeCtx) throws Exception {
        Object o = component(componentObject);
        if (!(o instanceof ISpout)) {
            throw new IllegalArgumentException("component " + componentId + " is a "
                + o.getClass().getName() + ", not an org.apache.storm.spout.ISpout");
        }
        return new SpoutHost(ctx, wakeCtx, worker(), (ISpout) o, componentId, taskId, streams, bufferBytes);
    }

    public static BoltHost newBolt(long ctx, byte[] componentObject, String componentId, int taskId,
                                   String[] streams, int bufferBytes, long wakeCtx) throws Exception {
        Object o = component(componentObject);
        if (!(o instanceof IBolt)) {
            throw new IllegalArgumentException("component " + componentId + " is a "
                + o.getClass().getName() + ", not an org.apache.storm.task.IBolt");
        }
        return new BoltHost(ctx, wakeCtx, worker(), (IBolt) o, componentId, taskId, streams, bufferBytes);
    }

    public static GroupingHost newGrouping(long ctx, byte[] serialized, int bufferBytes, long wakeCtx) {
        adopt();
        CustomStreamGrouping g = Utils.javaDeserialize(serialized, CustomStreamGrouping.class);
        return new GroupingHost(ctx, wakeCtx, worker(), g, bufferBytes);
    }

    /** A throwable with its stack trace, as Storm reports errors. */
    /** Sets (or, with a null level, restores) a log4j logger's level: storm set_log_level. */
    public static void setLogLevel(String logger, String level) {
        LogBridge.setLevel(logger, level);
    }

    public static String describe(Throwable t) {
        StringWriter w = new StringWriter();
        t.printStackTrace(new PrintWriter(w));
        return w.toString();
    }

}
