package org.stormrs.it;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.InputStream;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import net.minidev.json.JSONArray;
import net.minidev.json.JSONObject;

import org.apache.storm.StormSubmitter;
import org.apache.storm.blobstore.AtomicOutputStream;
import org.apache.storm.blobstore.InputStreamWithMeta;
import org.apache.storm.blobstore.NimbusBlobStore;
import org.apache.storm.dependency.DependencyUploader;
import org.apache.storm.generated.AccessControl;
import org.apache.storm.generated.AccessControlType;
import org.apache.storm.generated.Credentials;
import org.apache.storm.generated.GetInfoOptions;
import org.apache.storm.generated.KeyNotFoundException;
import org.apache.storm.generated.Nimbus;
import org.apache.storm.generated.NumErrorsChoice;
import org.apache.storm.generated.SettableBlobMeta;
import org.apache.storm.generated.StormTopology;
import org.apache.storm.generated.TopologySummary;
import org.apache.storm.thrift.TBase;
import org.apache.storm.thrift.TDeserializer;
import org.apache.storm.thrift.TEnum;
import org.apache.storm.thrift.TFieldIdEnum;
import org.apache.storm.thrift.meta_data.FieldMetaData;
import org.apache.storm.utils.DRPCClient;
import org.apache.storm.utils.NimbusClient;
import org.apache.storm.utils.Utils;

/**
 * storm-rs's driver of Apache Storm's own Java clients: every call goes through Storm's classes
 * (NimbusClient, DRPCClient, NimbusBlobStore, DependencyUploader, StormSubmitter) with the
 * configuration from {@code Utils.readStormConfig()} ({@code -Dstorm.conf.file=<yaml>}), and prints
 * one JSON line per call: {"call": name, "result": value} or {"call": name, "error": class,
 * "message": text}. Thrift structs are printed field by field (only the fields that are set).
 *
 * <pre>
 * nimbus TOPOLOGY_NAME            every read call of the Nimbus service a Storm client makes
 * drpc FUNCTION ARGS              DRPCClient.execute
 * blobs JAR                       a blob round trip (NimbusBlobStore) and DependencyUploader.uploadFiles
 * submit NAME TOPOLOGY_FILE       StormSubmitter.submitTopology of a Thrift-binary StormTopology
 *                                 (-Dstorm.jar, -Dstorm.dependency.jars as bin/storm sets them)
 * unsupported                     a Nimbus method storm-rs does not serve, then one it does
 * </pre>
 */
public final class ClientChecks {
    private ClientChecks() {
    }

    /** A Thrift struct, collection or value as JSON. */
    @SuppressWarnings({"rawtypes", "unchecked"})
    static Object json(Object o) {
        if (o == null) {
            return null;
        }
        if (o instanceof TBase) {
            TBase b = (TBase) o;
            JSONObject m = new JSONObject();
            Map<? extends TFieldIdEnum, FieldMetaData> fields = FieldMetaData.getStructMetaDataMap(b.getClass());
            for (TFieldIdEnum f : fields.keySet()) {
                if (b.isSet(f)) {
                    m.put(f.getFieldName(), json(b.getFieldValue(f)));
                }
            }
            return m;
        }
        if (o instanceof Map) {
            JSONObject m = new JSONObject();
            for (Map.Entry e : ((Map<Object, Object>) o).entrySet()) {
                Object k = e.getKey();
                String key = k instanceof TBase ? json(k).toString() : String.valueOf(k);
                m.put(key, json(e.getValue()));
            }
            return m;
        }
        if (o instanceof Collection) {
            JSONArray a = new JSONArray();
            for (Object x : (Collection) o) {
                a.add(json(x));
            }
            return a;
        }
        if (o instanceof TEnum) {
            return o.toString();
        }
        if (o instanceof ByteBuffer) {
            return "<" + ((ByteBuffer) o).remaining() + " bytes>";
        }
        if (o instanceof byte[]) {
            return "<" + ((byte[]) o).length + " bytes>";
        }
        if (o instanceof Double && (((Double) o).isNaN() || ((Double) o).isInfinite())) {
            return o.toString();
        }
        return o;
    }

    static void print(String call, Object result) {
        JSONObject line = new JSONObject();
        line.put("call", call);
        line.put("result", json(result));
        System.out.println(line.toJSONString());
        System.out.flush();
    }

    static void printError(String call, Throwable e) {
        JSONObject line = new JSONObject();
        line.put("call", call);
        line.put("error", e.getClass().getName());
        String msg = e.getMessage();
        try {
            // Thrift exceptions keep their text in the "msg" field.
            Field f = e.getClass().getField("msg");
            Object v = f.get(e);
            if (v != null) {
                msg = v.toString();
            }
        } catch (ReflectiveOperationException ignored) {
            // not a Storm exception
        }
        line.put("message", msg);
        System.out.println(line.toJSONString());
        System.out.flush();
    }

    interface Call {
        Object run() throws Exception;
    }

    static void call(String name, Call c) {
        try {
            print(name, c.run());
        } catch (Throwable e) {
            printError(name, e);
        }
    }

    public static void main(String[] args) throws Exception {
        Map<String, Object> conf = Utils.readStormConfig();
        String mode = args.length > 0 ? args[0] : "";
        switch (mode) {
            case "nimbus":
                nimbus(conf, args[1]);
                break;
            case "drpc":
                try (DRPCClient drpc = DRPCClient.getConfiguredClient(conf)) {
                    call("drpc.execute", () -> drpc.execute(args[1], args[2]));
                }
                break;
            case "blobs":
                blobs(conf, new File(args[1]));
                break;
            case "submit":
                submit(conf, args[1], new File(args[2]));
                break;
            case "unsupported":
                try (NimbusClient client = NimbusClient.getConfiguredClient(conf)) {
                    Nimbus.Iface n = client.getClient();
                    call("uploadNewCredentials", () -> {
                        n.uploadNewCredentials("nobody", new Credentials(new HashMap<>()));
                        return null;
                    });
                    call("getOwnerResourceSummaries", () -> n.getOwnerResourceSummaries(null));
                    call("getTopologyHistory", () -> n.getTopologyHistory("nobody"));
                    call("getLeader", n::getLeader);
                }
                break;
            default:
                System.err.println("usage: ClientChecks nimbus NAME | drpc FUNC ARGS | blobs JAR | submit NAME FILE | unsupported");
                System.exit(2);
        }
    }

    static void nimbus(Map<String, Object> conf, String name) throws Exception {
        try (NimbusClient client = NimbusClient.getConfiguredClient(conf)) {
            Nimbus.Iface n = client.getClient();
            call("getClusterInfo", n::getClusterInfo);
            call("getLeader", n::getLeader);
            call("getNimbusConf", n::getNimbusConf);
            call("getTopologySummaries", n::getTopologySummaries);
            call("isTopologyNameAllowed", () -> n.isTopologyNameAllowed(name));
            call("isTopologyNameAllowed.fresh", () -> n.isTopologyNameAllowed("fresh-name"));
            call("isTopologyNameAllowed.invalid", () -> n.isTopologyNameAllowed("a/b"));
            call("getTopologySummaryByName.unknown", () -> n.getTopologySummaryByName("no-such-topology"));
            TopologySummary summary = n.getTopologySummaryByName(name);
            print("getTopologySummaryByName", summary);
            String id = summary.get_id();
            call("getTopologyInfo", () -> n.getTopologyInfo(id));
            GetInfoOptions one = new GetInfoOptions();
            one.set_num_err_choice(NumErrorsChoice.ONE);
            call("getTopologyInfoWithOpts.ONE", () -> n.getTopologyInfoWithOpts(id, one));
            GetInfoOptions none = new GetInfoOptions();
            none.set_num_err_choice(NumErrorsChoice.NONE);
            call("getTopologyInfoWithOpts.NONE", () -> n.getTopologyInfoWithOpts(id, none));
            call("getTopologyInfo.unknown", () -> n.getTopologyInfo("no-such-id-1-1"));
            for (String window : new String[] {":all-time", "600"}) {
                for (boolean sys : new boolean[] {false, true}) {
                    call("getTopologyPageInfo." + window + "." + sys, () -> n.getTopologyPageInfo(id, window, sys));
                }
            }
            StormTopology user = n.getUserTopology(id);
            print("getUserTopology", user);
            call("getTopology", () -> n.getTopology(id));
            call("getTopologyConf", () -> n.getTopologyConf(id));
            List<String> components = new ArrayList<>(user.get_spouts().keySet());
            components.addAll(user.get_bolts().keySet());
            components.add("__acker");
            Collections.sort(components);
            for (String comp : components) {
                call("getComponentPageInfo." + comp, () -> n.getComponentPageInfo(id, comp, ":all-time", false));
                call("getComponentPageInfo." + comp + ".sys", () -> n.getComponentPageInfo(id, comp, "600", true));
            }
            String supervisor = n.getClusterInfo().get_supervisors().get(0).get_supervisor_id();
            String host = n.getClusterInfo().get_supervisors().get(0).get_host();
            call("getSupervisorPageInfo.id", () -> n.getSupervisorPageInfo(supervisor, null, true));
            call("getSupervisorPageInfo.host", () -> n.getSupervisorPageInfo(null, host, false));
            call("getLogConfig", () -> n.getLogConfig(id));
        }
    }

    static void blobs(Map<String, Object> conf, File jar) throws Exception {
        byte[] content = ("storm-rs blob " + System.nanoTime()).getBytes(StandardCharsets.UTF_8);
        String key = "stormrs-roundtrip-" + System.nanoTime() + ".txt";
        try (NimbusBlobStore store = new NimbusBlobStore()) {
            store.prepare(conf);
            call("getBlobMeta.missing", () -> store.getBlobMeta(key));
            SettableBlobMeta meta = new SettableBlobMeta(Collections.singletonList(
                new AccessControl(AccessControlType.OTHER, 7)));
            AtomicOutputStream out = store.createBlob(key, meta);
            out.write(content);
            out.close();
            call("createBlob.again", () -> store.createBlob(key, meta));
            call("getBlobMeta", () -> store.getBlobMeta(key));
            call("getBlob", () -> {
                try (InputStreamWithMeta in = store.getBlob(key)) {
                    JSONObject r = new JSONObject();
                    r.put("version", in.getVersion());
                    r.put("length", in.getFileLength());
                    r.put("content", new String(readAll(in), StandardCharsets.UTF_8));
                    r.put("expected", new String(content, StandardCharsets.UTF_8));
                    return r;
                }
            });
            AtomicOutputStream update = store.updateBlob(key);
            update.write("updated".getBytes(StandardCharsets.UTF_8));
            update.close();
            call("getBlob.updated", () -> {
                try (InputStreamWithMeta in = store.getBlob(key)) {
                    return new String(readAll(in), StandardCharsets.UTF_8);
                }
            });
            AtomicOutputStream cancelled = store.createBlob(key + ".cancelled", meta);
            cancelled.write(content);
            cancelled.cancel();
            call("getBlobMeta.cancelled", () -> store.getBlobMeta(key + ".cancelled"));
            call("listKeys", () -> {
                List<String> keys = new ArrayList<>();
                for (Iterator<String> it = store.listKeys(); it.hasNext();) {
                    keys.add(it.next());
                }
                return keys;
            });
            call("getBlobReplication", () -> store.getBlobReplication(key));
            call("updateBlobReplication", () -> store.updateBlobReplication(key, 3));
            call("isRemoteBlobExists", () -> store.isRemoteBlobExists(key));
            call("createBlob.badKey", () -> store.createBlob("bad/key", meta));
            call("deleteBlob", () -> {
                store.deleteBlob(key);
                return "deleted";
            });
            call("isRemoteBlobExists.deleted", () -> store.isRemoteBlobExists(key));
            call("deleteBlob.again", () -> {
                store.deleteBlob(key);
                return "deleted";
            });
        }
        DependencyUploader uploader = new DependencyUploader();
        uploader.init();
        try {
            call("DependencyUploader.uploadFiles", () -> uploader.uploadFiles(Collections.singletonList(jar), true));
            Map<String, File> artifacts = new HashMap<>();
            artifacts.put("org.stormrs:demo:1.0", jar);
            call("DependencyUploader.uploadArtifacts", () -> uploader.uploadArtifacts(artifacts));
            // Shared artifacts are uploaded once: a second upload of the same coordinate is a no-op.
            call("DependencyUploader.uploadArtifacts.again", () -> uploader.uploadArtifacts(artifacts));
        } finally {
            uploader.shutdown();
        }
    }

    static byte[] readAll(InputStream in) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[1000];
        int n;
        while ((n = in.read(buf)) > 0) {
            out.write(buf, 0, n);
        }
        return out.toByteArray();
    }

    static void submit(Map<String, Object> conf, String name, File topologyFile) throws Exception {
        StormTopology topology = new StormTopology();
        new TDeserializer().deserialize(topology, Files.readAllBytes(topologyFile.toPath()));
        Map<String, Object> topoConf = new HashMap<>();
        topoConf.put("topology.workers", 1);
        call("StormSubmitter.submitTopology", () -> {
            StormSubmitter.submitTopology(name, topoConf, topology);
            return "submitted";
        });
        try (NimbusClient client = NimbusClient.getConfiguredClient(conf)) {
            String id = client.getClient().getTopologySummaryByName(name).get_id();
            call("getUserTopology.submitted", () -> client.getClient().getUserTopology(id));
            print("submitted.id", id);
        }
        // The same name again: StormSubmitter's own check (isTopologyNameAllowed) refuses it.
        call("StormSubmitter.submitTopology.again", () -> {
            StormSubmitter.submitTopology(name, topoConf, topology);
            return "submitted";
        });
        call("getBlobMeta.unknown", () -> {
            try (NimbusBlobStore store = new NimbusBlobStore()) {
                store.prepare(conf);
                return store.getBlobMeta("no-such-key");
            } catch (KeyNotFoundException e) {
                throw e;
            }
        });
    }
}
