package org.stormrs.it;

import org.apache.storm.Config;
import org.apache.storm.StormSubmitter;
import org.apache.storm.drpc.LinearDRPCTopologyBuilder;
import org.apache.storm.generated.StormTopology;
import org.apache.storm.testing.TestWordSpout;
import org.apache.storm.topology.TopologyBuilder;
import org.apache.storm.topology.base.BaseWindowedBolt;
import org.apache.storm.tuple.Fields;

/**
 * The integration tests' topologies, each submitted with Storm's StormSubmitter:
 * <pre>
 *   wordcount NAME OUTDIR TOTAL   sentences → split → count (fields grouping, anchored acks, ticks)
 *   failing   NAME OUTDIR TOTAL   the same, split fails every 10th id once; a custom grouping to count
 *   throwing  NAME OUTDIR TOTAL   the same, split throws on its first tuple once (its worker dies)
 *   exclamation NAME OUTDIR       TestWordSpout → exclaim1 → exclaim2 → sink
 *   drpc      NAME FUNCTION       LinearDRPCTopologyBuilder: FUNCTION(x) = x + "!"
 *   mixed     NAME OUTDIR TOTAL PYTHON   Java spout → pystorm split (ShellBolt) → Java count
 *   pyspout   NAME OUTDIR TOTAL PYTHON   pystorm spout (ShellSpout) → pystorm split → Java count
 *   objects   NAME OUTDIR TOTAL   split → box (a user's POJO and a TreeSet) → count grouped on the POJO
 *   windowed  NAME OUTDIR TOTAL   split → a BaseWindowedBolt with a tumbling one-second window
 * </pre>
 */
public final class Topologies {
    private Topologies() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: Topologies KIND NAME ARGS…");
            System.exit(2);
        }
        String kind = args[0];
        String name = args[1];
        Config conf = new Config();
        conf.setNumWorkers(2);
        conf.setNumAckers(1);
        conf.setMaxSpoutPending(500);
        conf.setMessageTimeoutSecs(10);
        StormTopology topology;
        switch (kind) {
            case "wordcount":
            case "failing":
            case "throwing": {
                String out = args[2];
                int total = Integer.parseInt(args[3]);
                TopologyBuilder b = new TopologyBuilder();
                b.setSpout("sentences", new SentenceSpout(total, out), 1);
                b.setBolt("split", new SplitBolt(kind.equals("failing") ? 10 : 0, out, kind.equals("throwing")), 2)
                    .shuffleGrouping("sentences");
                if (kind.equals("failing")) {
                    b.setBolt("count", new CountBolt(out), 2).customGrouping("split", new WordLengthGrouping());
                } else {
                    b.setBolt("count", new CountBolt(out), 2).fieldsGrouping("split", new Fields("word"));
                }
                topology = b.createTopology();
                break;
            }
            case "exclamation": {
                String out = args[2];
                TopologyBuilder b = new TopologyBuilder();
                b.setSpout("word", new TestWordSpout(), 1);
                b.setBolt("exclaim1", new ExclamationBolt(), 2).shuffleGrouping("word");
                b.setBolt("exclaim2", new ExclamationBolt(), 2).shuffleGrouping("exclaim1");
                b.setBolt("sink", new SinkBolt(out), 1).shuffleGrouping("exclaim2");
                conf.setMaxSpoutPending(100);
                topology = b.createTopology();
                break;
            }
            case "drpc": {
                LinearDRPCTopologyBuilder b = new LinearDRPCTopologyBuilder(args[2]);
                b.addBolt(new ExclaimDrpcBolt(), 2);
                topology = b.createRemoteTopology();
                break;
            }
            case "objects": {
                String out = args[2];
                int total = Integer.parseInt(args[3]);
                TopologyBuilder b = new TopologyBuilder();
                b.setSpout("sentences", new SentenceSpout(total, out), 1);
                b.setBolt("split", new SplitBolt(0, out, false), 2).shuffleGrouping("sentences");
                b.setBolt("box", new BoxBolt(), 2).shuffleGrouping("split");
                b.setBolt("count", new CountBolt(out), 2).fieldsGrouping("box", new Fields("word"));
                topology = b.createTopology();
                break;
            }
            case "windowed": {
                String out = args[2];
                int total = Integer.parseInt(args[3]);
                TopologyBuilder b = new TopologyBuilder();
                b.setSpout("sentences", new SentenceSpout(total, out), 1);
                b.setBolt("split", new SplitBolt(0, out, false), 2).shuffleGrouping("sentences");
                b.setBolt("window", new WindowCountBolt(out)
                    .withTumblingWindow(BaseWindowedBolt.Duration.seconds(1)), 1).shuffleGrouping("split");
                topology = b.createTopology();
                break;
            }
            case "mixed": {
                String out = args[2];
                int total = Integer.parseInt(args[3]);
                TopologyBuilder b = new TopologyBuilder();
                b.setSpout("sentences", new SentenceSpout(total, out), 1);
                b.setBolt("split", new PySplitBolt(args[4]), 2).shuffleGrouping("sentences");
                b.setBolt("count", new CountBolt(out), 2).fieldsGrouping("split", new Fields("word"));
                topology = b.createTopology();
                break;
            }
            case "pyspout": {
                String out = args[2];
                int total = Integer.parseInt(args[3]);
                conf.put("test.sentences", total);
                TopologyBuilder b = new TopologyBuilder();
                b.setSpout("sentences", new PySentenceSpout(args[4]), 1);
                b.setBolt("split", new PySplitBolt(args[4]), 1).shuffleGrouping("sentences");
                b.setBolt("count", new CountBolt(out), 2).fieldsGrouping("split", new Fields("word"));
                topology = b.createTopology();
                break;
            }
            default:
                System.err.println("unknown topology kind " + kind);
                System.exit(2);
                return;
        }
        StormSubmitter.submitTopology(name, conf, topology);
    }
}
