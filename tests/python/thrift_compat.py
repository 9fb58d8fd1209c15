#!/usr/bin/env python3
"""Cross-checks storm-rs's Thrift encoding against an independent encoder: thriftpy2 driven by the
storm.thrift that PyPI's streamparse ships (``streamparse.thrift``, Storm's schema as streamparse knows it).

Usage:
    thrift_compat.py encode DIR     write DIR/<Name>.bin (TBinary, by thriftpy2) and DIR/<Name>.json (the
                                    expected field values) for Assignment, StormBase, SupervisorInfo and
                                    StormTopology
    thrift_compat.py decode DIR     decode DIR/<Name>.bin (written by storm-rs) with thriftpy2 and compare it
                                    with DIR/<Name>.json; exit 1 on any mismatch
    thrift_compat.py check-idl IDL  check that every type, field and method of streamparse's schema exists
                                    in IDL (storm-rs's storm.thrift) with the same id, type, name and
                                    requiredness; exit 1 otherwise

The .json files hold a canonical "view" of a struct: an object of its set fields by name; lists as arrays;
sets as sorted arrays; maps as arrays of [key, value] sorted by key (keys may be structs or lists); binary
as {"hex": ...}; enums as their numbers. The Rust side (tests/it/thrift_compat.rs) builds the same values.

streamparse's schema predates some Storm 2 fields (Assignment 6, WorkerResources 4-7, SupervisorInfo 10,
StormBase 11, StormTopology 9-10): the fixtures leave them out, and when storm-rs writes them thriftpy2
must skip them.
"""

import json
import os
import sys

import thriftpy2
from thriftpy2.thrift import TPayload, TType
import thriftpy2.protocol.binary as tbinary
from thriftpy2.protocol.binary import TBinaryProtocolFactory
from thriftpy2.utils import deserialize, serialize

# thriftpy2 decodes into dicts, so a map whose keys are lists (Assignment's executor maps, keyed by
# [task_start, task_end]) fails with "unhashable type: 'list'" (its Cython decoder too). Reading lists
# as tuples fixes that; the pure-Python binary protocol is used for both directions so the patch applies.
_read_val = tbinary.read_val


def _read_val_hashable(*args, **kwargs):
    value = _read_val(*args, **kwargs)
    return tuple(value) if isinstance(value, list) else value


tbinary.read_val = _read_val_hashable

PROTO = TBinaryProtocolFactory()


def storm_thrift():
    from streamparse.thrift import storm_thrift as st

    return st


# ---------------------------------------------------------------------------------------------------
# Fixtures (kept in step with tests/it/thrift_compat.rs).
# ---------------------------------------------------------------------------------------------------


def fixtures(st):
    node1 = st.NodeInfo(node="sup-1", port={6700})
    node2 = st.NodeInfo(node="sup-2", port={6701})
    assignment = st.Assignment(
        master_code_dir="/var/storm/nimbus/stormdist/wc-1-1700000000",
        node_host={"sup-1": "host-a.example", "sup-2": "host-b.example"},
        executor_node_port={(1, 1): node1, (2, 3): node2, (4, 4): node1},
        executor_start_time_secs={(1, 1): 1700000001, (2, 3): 1700000002, (4, 4): 1700000003},
        worker_resources={
            node1: st.WorkerResources(mem_on_heap=768.0, mem_off_heap=0.0, cpu=50.5),
            node2: st.WorkerResources(mem_on_heap=1024.25, cpu=100.0),
        },
        owner="alice",
    )

    storm_base = st.StormBase(
        name="word-count",
        status=st.TopologyStatus.REBALANCING,
        num_workers=3,
        component_executors={"spout": 2, "count": 4, "__acker": 1},
        launch_time_secs=1700000000,
        owner="alice",
        topology_action_options=st.TopologyActionOptions(
            rebalance_options=st.RebalanceOptions(wait_secs=30, num_workers=4, num_executors={"count": 6})
        ),
        prev_status=st.TopologyStatus.ACTIVE,
        component_debug={"count": st.DebugOptions(enable=True, samplingpct=12.5)},
        principal="alice@EXAMPLE",
    )

    supervisor_info = st.SupervisorInfo(
        time_secs=1700000100,
        hostname="host-a.example",
        assignment_id="sup-1",
        used_ports=[6700],
        meta=[6700, 6701, 6702, 6703],
        scheduler_meta={"rack": "r1"},
        uptime_secs=3600,
        version="2.8.0",
        resources_map={"cpu.pcore.percent": 400.0, "memory.mb": 4096.0},
    )

    spout = st.SpoutSpec(
        spout_object=st.ComponentObject(
            shell=st.ShellComponent(execution_command="python3", script="sentence_spout.py")
        ),
        common=st.ComponentCommon(
            inputs={},
            streams={"default": st.StreamInfo(output_fields=["sentence"], direct=False)},
            parallelism_hint=2,
            json_conf='{"topology.tasks": 2}',
        ),
    )
    split = st.Bolt(
        bolt_object=st.ComponentObject(shell=st.ShellComponent(execution_command="python3", script="split.py")),
        common=st.ComponentCommon(
            inputs={st.GlobalStreamId(componentId="spout", streamId="default"): st.Grouping(shuffle=st.NullStruct())},
            streams={
                "default": st.StreamInfo(output_fields=["word"], direct=False),
                "direct-out": st.StreamInfo(output_fields=["word", "n"], direct=True),
            },
            parallelism_hint=3,
        ),
    )
    count = st.Bolt(
        bolt_object=st.ComponentObject(
            java_object=st.JavaObject(
                full_class_name="org.apache.storm.testing.TestWordCounter",
                args_list=[
                    st.JavaObjectArg(int_arg=7),
                    st.JavaObjectArg(string_arg="x"),
                    st.JavaObjectArg(binary_arg=b"\x00\x01\xff"),
                    st.JavaObjectArg(double_arg=0.25),
                    st.JavaObjectArg(bool_arg=True),
                    st.JavaObjectArg(long_arg=-5000000000),
                ],
            )
        ),
        common=st.ComponentCommon(
            inputs={
                st.GlobalStreamId(componentId="split", streamId="default"): st.Grouping(fields=["word"]),
                st.GlobalStreamId(componentId="spout", streamId="default"): st.Grouping(fields=[]),
                st.GlobalStreamId(componentId="split", streamId="direct-out"): st.Grouping(direct=st.NullStruct()),
            },
            streams={"default": st.StreamInfo(output_fields=["word", "count"], direct=False)},
            parallelism_hint=4,
            json_conf='{"topology.tasks": 8, "topology.debug": true}',
        ),
    )
    topology = st.StormTopology(
        spouts={"spout": spout},
        bolts={"split": split, "count": count},
        state_spouts={},
        worker_hooks=[b"hook-bytes"],
        dependency_jars=["dep.jar"],
        dependency_artifacts=["org.example:lib:1.0"],
        storm_version="2.8.0",
        jdk_version="none",
    )
    return {
        "Assignment": assignment,
        "StormBase": storm_base,
        "SupervisorInfo": supervisor_info,
        "StormTopology": topology,
    }


# ---------------------------------------------------------------------------------------------------
# Canonical view.
# ---------------------------------------------------------------------------------------------------


def _key(v):
    return json.dumps(v, sort_keys=True)


def view(obj):
    if isinstance(obj, TPayload):
        out = {}
        for fid in sorted(obj.thrift_spec):
            name = obj.thrift_spec[fid][1]
            value = getattr(obj, name, None)
            if value is not None:
                out[name] = view(value)
        return out
    if isinstance(obj, (bytes, bytearray)):
        return {"hex": bytes(obj).hex()}
    if isinstance(obj, (list, tuple)):
        return [view(x) for x in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted((view(x) for x in obj), key=_key)
    if isinstance(obj, dict):
        return sorted(([view(k), view(v)] for k, v in obj.items()), key=lambda kv: _key(kv[0]))
    if isinstance(obj, float):
        return obj
    return obj


def first_difference(want, got, path="$"):
    if isinstance(want, dict) and isinstance(got, dict):
        for k in sorted(set(want) | set(got)):
            if k not in got:
                return f"{path}.{k}: missing (expected {want[k]!r})"
            if k not in want:
                return f"{path}.{k}: unexpected {got[k]!r}"
            d = first_difference(want[k], got[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return f"{path}: {len(got)} elements, expected {len(want)}: {got!r} vs {want!r}"
        for i, (w, g) in enumerate(zip(want, got)):
            d = first_difference(w, g, f"{path}[{i}]")
            if d:
                return d
        return None
    if type(want) is bool or type(got) is bool:
        return None if (type(want) is type(got) and want == got) else f"{path}: {got!r}, expected {want!r}"
    return None if want == got else f"{path}: {got!r}, expected {want!r}"


# ---------------------------------------------------------------------------------------------------
# Modes.
# ---------------------------------------------------------------------------------------------------


def encode(directory):
    st = storm_thrift()
    os.makedirs(directory, exist_ok=True)
    for name, value in fixtures(st).items():
        with open(os.path.join(directory, name + ".bin"), "wb") as f:
            f.write(serialize(value, PROTO))
        with open(os.path.join(directory, name + ".json"), "w") as f:
            json.dump(view(value), f, indent=1, sort_keys=True)
        print(f"encoded {name}")
    return 0


def decode(directory):
    st = storm_thrift()
    failures = 0
    for name in fixtures(st):
        with open(os.path.join(directory, name + ".bin"), "rb") as f:
            data = f.read()
        with open(os.path.join(directory, name + ".json")) as f:
            want = json.load(f)
        try:
            value = deserialize(getattr(st, name)(), data, PROTO)
        except Exception as e:  # noqa: BLE001 - report any decoding failure
            print(f"FAIL {name}: thriftpy2 cannot decode {len(data)} bytes: {type(e).__name__}: {e}")
            failures += 1
            continue
        got = json.loads(json.dumps(view(value)))
        diff = first_difference(want, got)
        if diff:
            print(f"FAIL {name}: {diff}")
            failures += 1
        else:
            print(f"ok {name}")
    return 1 if failures else 0


def _norm_type(ttype, sub):
    if ttype == TType.STRUCT:
        return ("struct", sub.__name__)
    if ttype in (TType.LIST, TType.SET):
        return (ttype, _norm_type(*sub) if isinstance(sub, tuple) else (sub,))
    if ttype == TType.MAP:
        k, v = sub
        return (
            ttype,
            _norm_type(*k) if isinstance(k, tuple) else (k,),
            _norm_type(*v) if isinstance(v, tuple) else (v,),
        )
    if ttype == TType.I32 and sub is not None and hasattr(sub, "_VALUES_TO_NAMES"):
        return ("enum", sub.__name__)
    return (ttype,)


def _norm_spec(spec):
    out = {}
    for fid, entry in spec.items():
        ttype, name = entry[0], entry[1]
        sub, required = (None, entry[2]) if len(entry) == 3 else (entry[2], entry[3])
        out[fid] = (name, _norm_type(ttype, sub), required)
    return out


# Differences between streamparse's (older) schema and storm-rs's Storm 2.8 schema that are expected.
EXPECTED_DIFFERENCES = {
    ("ClusterSummary", 2),  # nimbus_uptime_secs: removed in Storm 2
}
OMITTED_TYPES = {  # Pacemaker's protocol, left out of storm-rs's IDL on purpose
    "HBServerMessageType", "HBPulse", "HBRecords", "HBNodes", "HBMessageData", "HBMessage",
    "HBAuthorizationException", "HBExecutionException",
}


def check_idl(idl_path):
    theirs = storm_thrift()
    ours = thriftpy2.load(idl_path, module_name="storm_rs_thrift")
    problems = []
    checked = 0
    for name in dir(theirs):
        t = getattr(theirs, name)
        if not isinstance(t, type) or name in OMITTED_TYPES:
            continue
        if hasattr(t, "_VALUES_TO_NAMES"):
            o = getattr(ours, name, None)
            if o is None or not hasattr(o, "_VALUES_TO_NAMES"):
                problems.append(f"enum {name} is missing")
            elif any(o._VALUES_TO_NAMES.get(v) != n for v, n in t._VALUES_TO_NAMES.items()):
                problems.append(f"enum {name}: {o._VALUES_TO_NAMES} vs {t._VALUES_TO_NAMES}")
            checked += 1
        elif issubclass(t, TPayload) and hasattr(t, "thrift_spec") and not hasattr(t, "thrift_services"):
            o = getattr(ours, name, None)
            if o is None:
                problems.append(f"type {name} is missing")
                continue
            mine, other = _norm_spec(o.thrift_spec), _norm_spec(t.thrift_spec)
            for fid, entry in other.items():
                if (name, fid) in EXPECTED_DIFFERENCES:
                    continue
                if mine.get(fid) != entry:
                    problems.append(f"{name} field {fid}: ours {mine.get(fid)}, streamparse {entry}")
            checked += 1
    for svc in ("Nimbus", "DistributedRPC", "DistributedRPCInvocations"):
        t, o = getattr(theirs, svc), getattr(ours, svc)
        for method in t.thrift_services:
            if method not in o.thrift_services:
                problems.append(f"{svc}.{method} is missing")
                continue
            for suffix in ("_args", "_result"):
                mine = _norm_spec(getattr(o, method + suffix).thrift_spec)
                other = _norm_spec(getattr(t, method + suffix).thrift_spec)
                for fid, entry in other.items():
                    if mine.get(fid) != entry:
                        problems.append(f"{svc}.{method}{suffix} {fid}: ours {mine.get(fid)}, streamparse {entry}")
            checked += 1
    for p in problems:
        print("FAIL", p)
    print(f"checked {checked} types and methods of streamparse's schema: {len(problems)} problems")
    return 1 if problems else 0


def main(argv):
    if len(argv) != 3 or argv[1] not in ("encode", "decode", "check-idl"):
        print(__doc__, file=sys.stderr)
        return 2
    return {"encode": encode, "decode": decode, "check-idl": check_idl}[argv[1]](argv[2])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
