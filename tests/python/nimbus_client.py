#!/usr/bin/env python3
"""A Nimbus client from outside storm-rs doing what streamparse's ``sparse submit/list/kill`` do:
thriftpy2 with the storm.thrift that PyPI's streamparse ships (``streamparse.thrift.storm_thrift``),
framed transport and binary protocol.

Usage:
    nimbus_client.py HOST PORT LOCAL_DIR

LOCAL_DIR is the nimbus's ``storm.local.dir`` (to check the files it writes). Runs the whole flow,
printing one line per step, and exits 0 when every check passed (1 with the failed check otherwise).
"""

import io
import json
import os
import sys
import time
import zipfile

from streamparse.thrift import storm_thrift as st
from thriftpy2.protocol import TBinaryProtocolFactory
from thriftpy2.rpc import make_client
from thriftpy2.thrift import TApplicationException
from thriftpy2.transport import TFramedTransportFactory

THRIFT_CHUNK_SIZE = 307200  # streamparse's chunk size
NAME = "wordcount"


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def step(msg):
    print(msg, flush=True)


def shell(script):
    return st.ComponentObject(shell=st.ShellComponent(execution_command="python3", script=script))


def common(inputs, fields, par):
    return st.ComponentCommon(
        inputs=inputs,
        streams={"default": st.StreamInfo(output_fields=fields, direct=False)},
        parallelism_hint=par,
        json_conf=json.dumps({}),
    )


def word_count(count_field="word"):
    """sentence_spout (1) -shuffle-> split_bolt (2) -fields(count_field)-> count_bolt (3)."""
    spouts = {"sentence_spout": st.SpoutSpec(spout_object=shell("sentence_spout.py"),
                                             common=common({}, ["sentence"], 1))}
    bolts = {
        "split_bolt": st.Bolt(
            bolt_object=shell("split_bolt.py"),
            common=common({st.GlobalStreamId(componentId="sentence_spout", streamId="default"):
                           st.Grouping(shuffle=st.NullStruct())}, ["word"], 2)),
        "count_bolt": st.Bolt(
            bolt_object=shell("count_bolt.py"),
            common=common({st.GlobalStreamId(componentId="split_bolt", streamId="default"):
                           st.Grouping(fields=[count_field])}, ["word", "count"], 3)),
    }
    return st.StormTopology(spouts=spouts, bolts=bolts, state_spouts={})


def make_jar():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name in ("sentence_spout.py", "split_bolt.py", "count_bolt.py"):
            z.writestr("resources/" + name, "# %s\nimport storm\n" % name)
        # Incompressible padding so that the upload takes several chunks.
        z.writestr("resources/padding.bin", os.urandom(2 * THRIFT_CHUNK_SIZE + 1234))
    return buf.getvalue()


def summary_of(client, name):
    for t in client.getClusterInfo().topologies:
        if t.name == name:
            return t
    return None


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 1
    host, port, local_dir = argv[1], int(argv[2]), argv[3]
    client = make_client(st.Nimbus, host, port, proto_factory=TBinaryProtocolFactory(),
                         trans_factory=TFramedTransportFactory(), timeout=30_000)
    try:
        # 1. streamparse's version check.
        info = client.getClusterInfo()
        check(len(info.nimbuses) == 1, "one nimbus registered: %r" % info.nimbuses)
        nimbus = info.nimbuses[0]
        check(nimbus.isLeader, "the nimbus leads")
        check(nimbus.version not in ("", "VERSION_NOT_PROVIDED"), "version: %r" % nimbus.version)
        check(nimbus.port == port, "nimbus port %r" % nimbus.port)
        check(info.topologies == [], "no topologies yet")
        leader = client.getLeader()
        check(leader.isLeader and leader.port == port, "getLeader: %r" % leader)
        step("getClusterInfo: nimbus %s:%d version %s leader" % (nimbus.host, nimbus.port, nimbus.version))

        conf = json.loads(client.getNimbusConf())
        check(conf["nimbus.thrift.port"] == port, "getNimbusConf port: %r" % conf.get("nimbus.thrift.port"))
        step("getNimbusConf: %d keys" % len(conf))

        # 2. Upload the jar in streamparse's chunks.
        jar = make_jar()
        location = client.beginFileUpload()
        check("/nimbus/inbox/stormjar-" in location and location.endswith(".jar"), "location %r" % location)
        chunks = 0
        for i in range(0, len(jar), THRIFT_CHUNK_SIZE):
            client.uploadChunk(location, jar[i:i + THRIFT_CHUNK_SIZE])
            chunks += 1
        client.finishFileUpload(location)
        with open(location, "rb") as f:
            check(f.read() == jar, "uploaded bytes equal the jar")
        step("upload: %d bytes in %d chunks to %s" % (len(jar), chunks, location))

        # 3. Submit.
        check(client.isTopologyNameAllowed(NAME) is True, "name allowed")
        check(client.isTopologyNameAllowed("bad.name") is False, "bad.name refused")
        topo_conf = {
            "topology.workers": 2,
            "topology.acker.executors": 2,
            "topology.original_name": NAME,
            "install_virtualenv": False,
            "use_virtualenv": False,
            "storm.workers.list": [],
        }
        client.submitTopologyWithOpts(NAME, location, json.dumps(topo_conf), word_count(),
                                      st.SubmitOptions(initial_status=st.TopologyInitialStatus.ACTIVE))
        t = summary_of(client, NAME)
        check(t is not None, "topology listed")
        check(t.status == "ACTIVE", "status %r" % t.status)
        check(t.num_tasks == 1 + 2 + 3 + 2, "num_tasks %r" % t.num_tasks)
        check(t.num_executors == 1 + 2 + 3 + 2, "num_executors %r" % t.num_executors)
        check(t.num_workers == 2, "num_workers %r" % t.num_workers)
        check(t.id.startswith(NAME + "-1-"), "id %r" % t.id)
        topo_id = t.id
        step("submitTopologyWithOpts: %s ACTIVE num_tasks=%d num_executors=%d num_workers=%d"
             % (topo_id, t.num_tasks, t.num_executors, t.num_workers))

        # The code is in nimbus's blob store (Storm's LocalFsBlobStore keys), readable with the blob API.
        for key in ("-stormjar.jar", "-stormcode.ser", "-stormconf.ser"):
            meta = client.getBlobMeta(topo_id + key)
            check(meta.version != 0, "%s%s has a version" % (topo_id, key))
        begin = client.beginBlobDownload(topo_id + "-stormjar.jar")
        got = b""
        while True:
            chunk = client.downloadBlobChunk(begin.session)
            if not chunk:
                break
            got += chunk
        check(got == jar and begin.data_size == len(jar), "the stormjar.jar blob is the upload")
        saved = json.loads(client.getTopologyConf(topo_id))
        check(saved["topology.name"] == NAME and saved["storm.id"] == topo_id, "getTopologyConf")
        check(saved["topology.original_name"] == NAME, "user conf kept")
        user = client.getUserTopology(topo_id)
        check(sorted(user.bolts) == ["count_bolt", "split_bolt"], "getUserTopology bolts %r" % sorted(user.bolts))
        system = client.getTopology(topo_id)
        check("__acker" in system.bolts and "__system" in system.bolts, "getTopology has system components")
        step("code blobs and getTopologyConf/getUserTopology/getTopology ok")

        # 4. Status flips.
        client.deactivate(NAME)
        check(summary_of(client, NAME).status == "INACTIVE", "deactivate -> INACTIVE")
        client.activate(NAME)
        check(summary_of(client, NAME).status == "ACTIVE", "activate -> ACTIVE")
        step("deactivate -> INACTIVE, activate -> ACTIVE")

        # 5. Refusals.
        try:
            client.submitTopology(NAME, location, "{}", word_count())
            check(False, "duplicate submit refused")
        except st.AlreadyAliveException as e:
            check(e.msg == NAME + " is already alive", "AlreadyAliveException msg %r" % e.msg)
            step("duplicate submit: AlreadyAliveException(%s)" % e.msg)
        try:
            client.submitTopology("badgrouping", location, "{}", word_count("nope"))
            check(False, "bad fields grouping refused")
        except st.InvalidTopologyException as e:
            check("nope" in e.msg, "InvalidTopologyException names the field: %r" % e.msg)
            step("bad fields grouping: InvalidTopologyException(%s)" % e.msg)
        java = word_count()
        java.bolts["split_bolt"].bolt_object = st.ComponentObject(serialized_java=b"\xac\xed\x00\x05sr")
        try:
            client.submitTopology("java", location, "{}", java)
            check(False, "truncated Java component refused")
        except st.InvalidTopologyException as e:
            check("split_bolt" in e.msg and "truncated" in e.msg, "names the component: %r" % e.msg)
            step("truncated Java-serialized component: InvalidTopologyException(%s)" % e.msg)
        try:
            client.rebalance(NAME, st.RebalanceOptions(wait_secs=1, num_executors={"nope": 2}))
            check(False, "rebalance of an unknown component refused")
        except st.InvalidTopologyException as e:
            check("Invalid component nope" in e.msg, "rebalance names the component: %r" % e.msg)
            step("rebalance -e nope=2: InvalidTopologyException(%s)" % e.msg)
        client.rebalance(NAME, st.RebalanceOptions(wait_secs=60))
        t = summary_of(client, NAME)
        check(t is not None and t.status == "REBALANCING", "REBALANCING after rebalance: %r" % (t and t.status))
        step("rebalance: %s" % t.status)
        check(summary_of(client, "badgrouping") is None, "refused topologies are not listed")

        # 6. Kill, then it disappears after wait_secs.
        client.killTopologyWithOpts(NAME, st.KillOptions(wait_secs=1))
        t = summary_of(client, NAME)
        check(t is None or t.status == "KILLED", "KILLED after kill: %r" % (t and t.status))
        try:
            client.activate(NAME)
            check(False, "activate of a KILLED topology refused")
        except TApplicationException as e:
            check("No transition for event: ACTIVATE, status: KILLED" in str(e.message), "%r" % e.message)
        step("killTopologyWithOpts(wait_secs=1): KILLED")
        deadline = time.time() + 30
        while summary_of(client, NAME) is not None:
            check(time.time() < deadline, "killed topology removed within 30 s")
            time.sleep(0.1)
        # As in Storm, the topology leaves ZooKeeper first and its code blobs follow; wait for them.
        while True:
            try:
                client.getBlobMeta(topo_id + "-stormcode.ser")
            except st.KeyNotFoundException:
                break
            check(time.time() < deadline, "the code blobs are removed within 30 s")
            time.sleep(0.1)
        step("killed topology removed")
        try:
            client.killTopology("nope")
            check(False, "killTopology(nope) refused")
        except st.NotAliveException as e:
            check(e.msg == "nope is not alive", "NotAliveException msg %r" % e.msg)
            step("killTopology(nope): NotAliveException(%s)" % e.msg)
        check(client.isTopologyNameAllowed(NAME) is True, "name free again")
    except AssertionError as e:
        print("FAILED: %s" % e, flush=True)
        return 1
    finally:
        client.close()
    print("nimbus_client: all checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
