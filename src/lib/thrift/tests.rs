//! Unit and property tests of the Thrift codecs: round trips of the cluster-state, topology and
//! LocalState structs, exact bytes for a few known encodings, and bad input (truncated, corrupt,
//! hostile or arbitrary bytes) that must give errors, never panics.

use std::collections::{BTreeMap, BTreeSet};

use proptest::collection::{btree_map, btree_set, vec};
use proptest::option::of as opt;
use proptest::prelude::*;
use thrift::protocol::{
    TBinaryOutputProtocol, TFieldIdentifier, TListIdentifier, TOutputProtocol, TStructIdentifier,
    TType,
};
use thrift::OrderedFloat;

use super::*;

// ---------------------------------------------------------------------------------------------------
// Strategies.
// ---------------------------------------------------------------------------------------------------

fn text() -> impl Strategy<Value = String> {
    "\\PC{0,6}"
}

fn dbl() -> impl Strategy<Value = OrderedFloat<f64>> {
    any::<f64>().prop_map(OrderedFloat)
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..12)
}

fn map<K: Strategy, V: Strategy>(k: K, v: V) -> impl Strategy<Value = BTreeMap<K::Value, V::Value>>
where
    K::Value: Ord,
{
    btree_map(k, v, 0..4)
}

fn node_info() -> impl Strategy<Value = NodeInfo> {
    (text(), btree_set(any::<i64>(), 0..3)).prop_map(|(node, port)| NodeInfo { node, port })
}

fn worker_resources() -> impl Strategy<Value = WorkerResources> {
    (
        opt(dbl()),
        opt(dbl()),
        opt(dbl()),
        opt(dbl()),
        opt(dbl()),
        opt(map(text(), dbl())),
        opt(map(text(), dbl())),
    )
        .prop_map(|(a, b, c, d, e, f, g)| WorkerResources {
            mem_on_heap: a,
            mem_off_heap: b,
            cpu: c,
            shared_mem_on_heap: d,
            shared_mem_off_heap: e,
            resources: f,
            shared_resources: g,
        })
}

fn assignment() -> impl Strategy<Value = Assignment> {
    (
        text(),
        opt(map(text(), text())),
        opt(map(vec(any::<i64>(), 0..3), node_info())),
        opt(map(vec(any::<i64>(), 0..3), any::<i64>())),
        opt(map(node_info(), worker_resources())),
        opt(map(text(), dbl())),
        opt(text()),
    )
        .prop_map(|(a, b, c, d, e, f, g)| Assignment {
            master_code_dir: a,
            node_host: b,
            executor_node_port: c,
            executor_start_time_secs: d,
            worker_resources: e,
            total_shared_off_heap: f,
            owner: g,
        })
}

fn debug_options() -> impl Strategy<Value = DebugOptions> {
    (opt(any::<bool>()), opt(dbl())).prop_map(|(enable, samplingpct)| DebugOptions {
        enable,
        samplingpct,
    })
}

fn rebalance_options() -> impl Strategy<Value = RebalanceOptions> {
    (
        opt(any::<i32>()),
        opt(any::<i32>()),
        opt(map(text(), any::<i32>())),
        opt(map(text(), map(text(), dbl()))),
        opt(text()),
        opt(text()),
    )
        .prop_map(|(a, b, c, d, e, f)| RebalanceOptions {
            wait_secs: a,
            num_workers: b,
            num_executors: c,
            topology_resources_overrides: d,
            topology_conf_overrides: e,
            principal: f,
        })
}

fn storm_base() -> impl Strategy<Value = StormBase> {
    let action = prop_oneof![
        opt(any::<i32>())
            .prop_map(|wait_secs| TopologyActionOptions::KillOptions(KillOptions { wait_secs })),
        rebalance_options().prop_map(TopologyActionOptions::RebalanceOptions),
    ];
    (
        text(),
        any::<i32>().prop_map(TopologyStatus::from),
        any::<i32>(),
        opt(map(text(), any::<i32>())),
        opt(any::<i32>()),
        opt(text()),
        opt(action),
        opt((1..=4i32).prop_map(TopologyStatus::from)),
        opt(map(text(), debug_options())),
        opt(text()),
        opt(text()),
    )
        .prop_map(|(a, b, c, d, e, f, g, h, i, j, k)| StormBase {
            name: a,
            status: b,
            num_workers: c,
            component_executors: d,
            launch_time_secs: e,
            owner: f,
            topology_action_options: g,
            prev_status: h,
            component_debug: i,
            principal: j,
            topology_version: k,
        })
}

fn supervisor_info() -> impl Strategy<Value = SupervisorInfo> {
    (
        any::<i64>(),
        text(),
        opt(text()),
        opt(vec(any::<i64>(), 0..4)),
        opt(vec(any::<i64>(), 0..4)),
        opt(map(text(), text())),
        opt(any::<i64>()),
        opt(text()),
        opt(map(text(), dbl())),
        opt(any::<i32>()),
    )
        .prop_map(|(a, b, c, d, e, f, g, h, i, j)| SupervisorInfo {
            time_secs: a,
            hostname: b,
            assignment_id: c,
            used_ports: d,
            meta: e,
            scheduler_meta: f,
            uptime_secs: g,
            version: h,
            resources_map: i,
            server_port: j,
        })
}

fn java_object() -> impl Strategy<Value = JavaObject> {
    let arg = prop_oneof![
        any::<i32>().prop_map(JavaObjectArg::IntArg),
        any::<i64>().prop_map(JavaObjectArg::LongArg),
        text().prop_map(JavaObjectArg::StringArg),
        any::<bool>().prop_map(JavaObjectArg::BoolArg),
        bytes().prop_map(JavaObjectArg::BinaryArg),
        dbl().prop_map(JavaObjectArg::DoubleArg),
    ];
    (text(), vec(arg, 0..3)).prop_map(|(full_class_name, args_list)| JavaObject {
        full_class_name,
        args_list,
    })
}

fn component_object() -> impl Strategy<Value = ComponentObject> {
    prop_oneof![
        bytes().prop_map(ComponentObject::SerializedJava),
        // ShellComponent's fields have Thrift's default requiredness: an absent one reads back as
        // Some(""), so only present values round-trip exactly (see `shell_component_defaults`).
        (text(), text()).prop_map(|(command, script)| ComponentObject::Shell(ShellComponent {
            execution_command: Some(command),
            script: Some(script),
        })),
        java_object().prop_map(ComponentObject::JavaObject),
    ]
}

fn grouping() -> impl Strategy<Value = Grouping> {
    prop_oneof![
        vec(text(), 0..3).prop_map(Grouping::Fields),
        Just(Grouping::Shuffle(NullStruct {})),
        Just(Grouping::All(NullStruct {})),
        Just(Grouping::None(NullStruct {})),
        Just(Grouping::Direct(NullStruct {})),
        java_object().prop_map(Grouping::CustomObject),
        bytes().prop_map(Grouping::CustomSerialized),
        Just(Grouping::LocalOrShuffle(NullStruct {})),
    ]
}

fn component_common() -> impl Strategy<Value = ComponentCommon> {
    let stream_id = (text(), text()).prop_map(|(c, s)| GlobalStreamId::of(c, s));
    let stream_info =
        (vec(text(), 0..3), any::<bool>()).prop_map(|(output_fields, direct)| StreamInfo {
            output_fields,
            direct,
        });
    (
        map(stream_id, grouping()),
        map(text(), stream_info),
        opt(any::<i32>()),
        opt(text()),
    )
        .prop_map(
            |(inputs, streams, parallelism_hint, json_conf)| ComponentCommon {
                inputs,
                streams,
                parallelism_hint,
                json_conf,
            },
        )
}

fn storm_topology() -> impl Strategy<Value = StormTopology> {
    let spout =
        (component_object(), component_common()).prop_map(|(spout_object, common)| SpoutSpec {
            spout_object,
            common,
        });
    let bolt = (component_object(), component_common()).prop_map(|(bolt_object, common)| Bolt {
        bolt_object,
        common,
    });
    let state_spout =
        (component_object(), component_common()).prop_map(|(state_spout_object, common)| {
            StateSpoutSpec {
                state_spout_object,
                common,
            }
        });
    let shared =
        (text(), opt(dbl()), opt(dbl()), opt(dbl())).prop_map(|(name, a, b, c)| SharedMemory {
            name,
            on_heap: a,
            off_heap_worker: b,
            off_heap_node: c,
        });
    (
        btree_map(text(), spout, 0..3),
        btree_map(text(), bolt, 0..3),
        btree_map(text(), state_spout, 0..2),
        opt(vec(bytes(), 0..3)),
        opt(vec(text(), 0..3)),
        opt(vec(text(), 0..3)),
        opt(text()),
        opt(text()),
        opt(map(text(), btree_set(text(), 0..3))),
        opt(map(text(), shared)),
    )
        .prop_map(|(a, b, c, d, e, f, g, h, i, j)| StormTopology {
            spouts: a,
            bolts: b,
            state_spouts: c,
            worker_hooks: d,
            dependency_jars: e,
            dependency_artifacts: f,
            storm_version: g,
            jdk_version: h,
            component_to_shared_memory: i,
            shared_memory: j,
        })
}

fn window_map<V: Strategy>(
    v: V,
) -> impl Strategy<Value = BTreeMap<String, BTreeMap<String, V::Value>>> {
    map(
        prop_oneof![
            Just(":all-time".to_string()),
            Just("600".to_string()),
            text()
        ],
        map(text(), v),
    )
}

fn executor_stats() -> impl Strategy<Value = ExecutorStats> {
    let gsid = || (text(), text()).prop_map(|(c, s)| GlobalStreamId::of(c, s));
    let by_gsid = move |v: BoxedStrategy<_>| map(text(), map(gsid(), v));
    let bolt = (
        by_gsid(any::<i64>().boxed()),
        by_gsid(any::<i64>().boxed()),
        map(text(), map(gsid(), dbl())),
        by_gsid(any::<i64>().boxed()),
        map(text(), map(gsid(), dbl())),
    )
        .prop_map(
            |(acked, failed, process_ms_avg, executed, execute_ms_avg)| {
                ExecutorSpecificStats::Bolt(BoltStats {
                    acked,
                    failed,
                    process_ms_avg,
                    executed,
                    execute_ms_avg,
                })
            },
        );
    let spout = (
        window_map(any::<i64>()),
        window_map(any::<i64>()),
        window_map(dbl()),
        proptest::option::of(window_map(any::<i64>())),
        proptest::option::of(window_map(any::<i64>())),
    )
        .prop_map(
            |(acked, failed, complete_ms_avg, failed_timeout, failed_explicit)| {
                ExecutorSpecificStats::Spout(SpoutStats {
                    acked,
                    failed,
                    complete_ms_avg,
                    failed_timeout,
                    failed_explicit,
                })
            },
        );
    (
        window_map(any::<i64>()),
        window_map(any::<i64>()),
        prop_oneof![bolt, spout],
        dbl(),
        proptest::option::of(proptest::collection::btree_map(
            "[0-9:a-z-]{1,10}",
            any::<i64>(),
            0..4,
        )),
    )
        .prop_map(
            |(emitted, transferred, specific, rate, reported_errors)| ExecutorStats {
                emitted,
                transferred,
                specific,
                rate,
                reported_errors,
            },
        )
}

fn cluster_worker_heartbeat() -> impl Strategy<Value = ClusterWorkerHeartbeat> {
    let executor = (any::<i32>(), any::<i32>()).prop_map(|(s, e)| ExecutorInfo::new(s, e));
    (
        text(),
        btree_map(executor, executor_stats(), 0..3),
        any::<i32>(),
        any::<i32>(),
    )
        .prop_map(|(storm_id, executor_stats, time_secs, uptime_secs)| {
            ClusterWorkerHeartbeat {
                storm_id,
                executor_stats,
                time_secs,
                uptime_secs,
            }
        })
}

fn local_state_data() -> impl Strategy<Value = LocalStateData> {
    let part = (text(), bytes()).prop_map(|(name, bits)| ThriftSerializedObject { name, bits });
    map(text(), part).prop_map(|serialized_parts| LocalStateData { serialized_parts })
}

// ---------------------------------------------------------------------------------------------------
// Round trips.
// ---------------------------------------------------------------------------------------------------

/// serialize → deserialize, gzip → deserialize_any and plain → deserialize_any all give `value` back,
/// and strict prefixes of the encoding are errors.
fn check_round_trip<T: TSerializable + PartialEq + std::fmt::Debug>(
    value: &T,
) -> Result<(), TestCaseError> {
    let plain = serialize(value);
    prop_assert_eq!(
        &deserialize::<T>(&plain).map_err(|e| TestCaseError::fail(e.to_string()))?,
        value
    );
    prop_assert_eq!(
        &deserialize_any::<T>(&plain).map_err(|e| TestCaseError::fail(e.to_string()))?,
        value
    );
    let zipped = serialize_gzip(value);
    prop_assert_eq!(detect_encoding(&zipped), Encoding::Gzip);
    prop_assert_eq!(
        &deserialize_any::<T>(&zipped).map_err(|e| TestCaseError::fail(e.to_string()))?,
        value
    );
    // Every prefix of short encodings, about 64 evenly spread ones of long encodings.
    for cut in (0..plain.len()).step_by(plain.len() / 64 + 1) {
        prop_assert!(
            deserialize::<T>(&plain[..cut]).is_err(),
            "prefix of {} of {} bytes decoded",
            cut,
            plain.len()
        );
    }
    for cut in [zipped.len() / 2, zipped.len() - 1] {
        prop_assert!(deserialize_any::<T>(&zipped[..cut]).is_err());
    }
    Ok(())
}

proptest! {
    // The two deepest structs get fewer (but larger) cases to keep debug-mode test time down.
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn storm_topology_round_trips(v in storm_topology()) { check_round_trip(&v)?; }

    #[test]
    fn cluster_worker_heartbeat_round_trips(v in cluster_worker_heartbeat()) { check_round_trip(&v)?; }
}

proptest! {
    #[test]
    fn assignment_round_trips(v in assignment()) { check_round_trip(&v)?; }

    #[test]
    fn storm_base_round_trips(v in storm_base()) { check_round_trip(&v)?; }

    #[test]
    fn supervisor_info_round_trips(v in supervisor_info()) { check_round_trip(&v)?; }

    #[test]
    fn local_state_data_round_trips(v in local_state_data()) { check_round_trip(&v)?; }

    #[test]
    fn gzip_round_trips(data in vec(any::<u8>(), 0..2000)) {
        let zipped = gzip(&data);
        prop_assert_eq!(detect_encoding(&zipped), Encoding::Gzip);
        prop_assert_eq!(gunzip(&zipped, DEFAULT_GZIP_MAX_DECOMPRESSED_BYTES).unwrap(), data.clone());
        prop_assert_eq!(gunzip(&zipped, data.len() as u64).unwrap(), data);
    }

    // Bad input: arbitrary bytes, arbitrary bytes behind a gzip header, gzip of arbitrary bytes, and
    // valid encodings with bytes overwritten. Each must decode or fail, never panic or blow up.
    #[test]
    fn arbitrary_bytes_never_panic(data in vec(any::<u8>(), 0..256)) {
        let _ = deserialize_any::<StormTopology>(&data);
        let _ = deserialize_any::<Assignment>(&data);
        let _ = deserialize_any::<ClusterWorkerHeartbeat>(&data);
        let _ = deserialize_any::<LocalStateData>(&data);
        let mut with_magic = vec![0x1f, 0x8b];
        with_magic.extend_from_slice(&data);
        let _ = deserialize_any::<StormBase>(&with_magic);
        let _ = deserialize_any::<SupervisorInfo>(&gzip(&data));
        let _ = gzip_json_to_conf(&data);
    }

    #[test]
    fn mutated_encodings_never_panic(
        v in storm_topology(),
        hb in cluster_worker_heartbeat(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        for mut bytes in [serialize(&v), serialize(&hb)] {
            for (at, b) in &edits {
                let i = at.index(bytes.len());
                bytes[i] = *b;
            }
            let _ = deserialize::<StormTopology>(&bytes);
            let _ = deserialize::<ClusterWorkerHeartbeat>(&bytes);
            let _ = deserialize::<Assignment>(&bytes);
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Exact bytes and Storm-compatibility details.
// ---------------------------------------------------------------------------------------------------

fn written(f: impl FnOnce(&mut TBinaryOutputProtocol<&mut Vec<u8>>)) -> Vec<u8> {
    let mut out = Vec::new();
    let mut p = TBinaryOutputProtocol::new(&mut out, true);
    f(&mut p);
    out
}

#[test]
fn known_encodings() {
    // KillOptions{wait_secs=5}: i32 field 1, then STOP.
    assert_eq!(
        serialize(&KillOptions { wait_secs: Some(5) }),
        [0x08, 0x00, 0x01, 0, 0, 0, 5, 0x00]
    );
    // NodeInfo{"n", {6700}}: string field 1, set<i64> field 2, STOP.
    assert_eq!(
        serialize(&NodeInfo::slot("n", 6700)),
        [
            0x0b, 0x00, 0x01, 0, 0, 0, 1, b'n', 0x0e, 0x00, 0x02, 0x0a, 0, 0, 0, 1, 0, 0, 0, 0, 0,
            0, 0x1a, 0x2c, 0x00
        ]
    );
    // Grouping.shuffle: struct field 2 holding an empty struct.
    assert_eq!(
        serialize(&Grouping::shuffle()),
        [0x0c, 0x00, 0x02, 0x00, 0x00]
    );
}

#[test]
fn unknown_fields_are_skipped_and_trailing_bytes_ignored() {
    // A Storm 1.x ClusterSummary still sends the retired field 2 (nimbus_uptime_secs).
    let bytes = written(|p| {
        p.write_struct_begin(&TStructIdentifier::new("ClusterSummary"))
            .unwrap();
        p.write_field_begin(&TFieldIdentifier::new("supervisors", TType::List, 1))
            .unwrap();
        p.write_list_begin(&TListIdentifier::new(TType::Struct, 0))
            .unwrap();
        p.write_field_begin(&TFieldIdentifier::new("nimbus_uptime_secs", TType::I32, 2))
            .unwrap();
        p.write_i32(42).unwrap();
        p.write_field_begin(&TFieldIdentifier::new("topologies", TType::List, 3))
            .unwrap();
        p.write_list_begin(&TListIdentifier::new(TType::Struct, 0))
            .unwrap();
        p.write_field_begin(&TFieldIdentifier::new("nimbuses", TType::List, 4))
            .unwrap();
        p.write_list_begin(&TListIdentifier::new(TType::Struct, 0))
            .unwrap();
        p.write_field_stop().unwrap();
    });
    let summary: ClusterSummary = deserialize(&bytes).unwrap();
    assert!(
        summary.supervisors.is_empty()
            && summary.topologies.is_empty()
            && summary.nimbuses.is_empty()
    );

    let mut with_tail = serialize(&KillOptions { wait_secs: Some(1) });
    with_tail.extend_from_slice(b"tail");
    assert_eq!(
        deserialize::<KillOptions>(&with_tail).unwrap().wait_secs,
        Some(1)
    );
}

#[test]
fn shell_component_defaults() {
    // Fields of default requiredness are written only when set and read back as their default ("").
    let none = ShellComponent {
        execution_command: None,
        script: None,
    };
    assert_eq!(serialize(&none), [0x00]);
    assert_eq!(
        deserialize::<ShellComponent>(&[0x00]).unwrap(),
        ShellComponent::default()
    );
    assert_eq!(
        ShellComponent::default().execution_command.as_deref(),
        Some("")
    );
}

#[test]
fn missing_required_field_is_an_error() {
    // An empty struct (just STOP) lacks Assignment.master_code_dir.
    let e = deserialize::<Assignment>(&[0x00]).unwrap_err().to_string();
    assert!(
        e.contains("Assignment") && e.contains("master_code_dir"),
        "{e}"
    );
}

#[test]
fn unknown_union_member_is_an_error_not_a_panic() {
    // A Grouping whose only member has id 9 (not in the schema).
    let e = deserialize::<Grouping>(&[0x0c, 0x00, 0x09, 0x00, 0x00])
        .unwrap_err()
        .to_string();
    assert!(e.contains("union member"), "{e}");
    let e = deserialize::<Grouping>(&[0x00]).unwrap_err().to_string();
    assert!(e.contains("empty union"), "{e}");
}

#[test]
fn hostile_sizes_are_errors() {
    // StormTopology with spouts = map of -1 entries.
    let e = deserialize::<StormTopology>(&[0x0d, 0x00, 0x01, 0x0b, 0x0c, 0xff, 0xff, 0xff, 0xff])
        .unwrap_err();
    assert!(e.to_string().contains("negative size"), "{e}");
    // LocalStateData whose map claims 2^31-1 entries in 4 bytes.
    let e = deserialize::<LocalStateData>(&[
        0x0d, 0x00, 0x01, 0x0b, 0x0c, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0,
    ])
    .unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");
    // A string of 2 GiB.
    let e = deserialize::<LSSupervisorId>(&[0x0b, 0x00, 0x01, 0x7f, 0xff, 0xff, 0xff, b'x'])
        .unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");
}

#[test]
fn wider_heartbeat_time_is_a_schema_mismatch_error() {
    // Storm 3.x's LSWorkerHeartbeat writes time_secs as an i64; this schema has Storm 2's i32.
    let bytes = written(|p| {
        p.write_field_begin(&TFieldIdentifier::new("time_secs", TType::I64, 1))
            .unwrap();
        p.write_i64(1_700_000_000).unwrap();
        p.write_field_begin(&TFieldIdentifier::new("topology_id", TType::String, 2))
            .unwrap();
        p.write_string("t-1").unwrap();
        p.write_field_stop().unwrap();
    });
    let e = deserialize::<LSWorkerHeartbeat>(&bytes)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("LSWorkerHeartbeat") && e.contains("field 1 has wire type i64"),
        "{e}"
    );
}

#[test]
fn errors_name_the_type_and_the_encoding() {
    let zipped = gzip(&[0x0b, 0x00, 0x01, 0, 0, 0, 9, b'a']);
    let e = deserialize_any::<LSSupervisorId>(&zipped)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("LSSupervisorId")
            && e.contains("gzip(Thrift binary)")
            && e.contains("truncated"),
        "{e}"
    );
    let e = deserialize_any::<StormBase>(&[]).unwrap_err();
    assert!(
        matches!(
            e,
            CodecError::Empty {
                type_name: "StormBase"
            }
        ),
        "{e}"
    );
}

#[test]
fn gzip_problems_are_named() {
    let value = LSSupervisorId {
        supervisor_id: "a-supervisor-id".repeat(20),
    };
    let zipped = serialize_gzip(&value);

    let e = deserialize_any::<LSSupervisorId>(&zipped[..zipped.len() - 4]).unwrap_err();
    assert!(
        matches!(e, CodecError::Gzip { .. }) && e.to_string().contains("truncated"),
        "{e}"
    );
    let e = deserialize_any::<LSSupervisorId>(&zipped[..12]).unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");

    // Damage the CRC32 in the trailer.
    let mut bad_crc = zipped.clone();
    let n = bad_crc.len();
    bad_crc[n - 8] ^= 0xff;
    let e = deserialize_any::<LSSupervisorId>(&bad_crc).unwrap_err();
    assert!(e.to_string().contains("corrupt"), "{e}");

    // A bad compression method in the header.
    let mut bad_header = zipped.clone();
    bad_header[2] = 0x07;
    let e = deserialize_any::<LSSupervisorId>(&bad_header).unwrap_err();
    assert!(e.to_string().contains("corrupt"), "{e}");
}

#[test]
fn gzip_decompression_is_capped() {
    let big = vec![0u8; 1 << 20];
    let zipped = gzip(&big);
    assert!(zipped.len() < 4096);
    let e = gunzip(&zipped, (1 << 20) - 1).unwrap_err();
    assert!(
        matches!(e, CodecError::TooLarge { limit } if limit == (1 << 20) - 1),
        "{e}"
    );
    assert!(
        e.to_string().contains(GZIP_MAX_DECOMPRESSED_BYTES_KEY),
        "{e}"
    );
    assert_eq!(gunzip(&zipped, 1 << 20).unwrap().len(), 1 << 20);

    let value = LSSupervisorId {
        supervisor_id: "x".repeat(5000),
    };
    let e = deserialize_any_with_limit::<LSSupervisorId>(&serialize_gzip(&value), 100).unwrap_err();
    assert!(matches!(e, CodecError::TooLarge { limit: 100 }), "{e}");
    let e = gzip_json_to_conf_with_limit(&gzip(&big), 10).unwrap_err();
    assert!(matches!(e, CodecError::TooLarge { limit: 10 }), "{e}");
}

#[test]
fn zstd_payloads_are_refused_clearly() {
    let zstd = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58, 0x01, 0x00];
    assert_eq!(detect_encoding(&zstd), Encoding::Zstd);
    let e = deserialize_any::<Assignment>(&zstd).unwrap_err();
    assert!(matches!(e, CodecError::ZstdUnsupported));
    assert!(
        e.to_string().contains("zstd") && e.to_string().contains("Storm 3"),
        "{e}"
    );
    assert!(matches!(
        gzip_json_to_conf(&zstd),
        Err(CodecError::ZstdUnsupported)
    ));
}

#[test]
fn conf_round_trips_as_gzip_json() {
    let conf: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        r#"{"topology.workers": 2, "topology.name": "wc", "topology.debug": false,
            "storm.zookeeper.servers": ["a", "b"], "nested": {"x": 1.5, "n": null}}"#,
    )
    .unwrap();
    let bytes = conf_to_gzip_json(&conf);
    assert_eq!(detect_encoding(&bytes), Encoding::Gzip);
    let back = gzip_json_to_conf(&bytes).unwrap();
    assert_eq!(back, conf);
    // Key order survives (serde_json's preserve_order), like Storm's JSON maps.
    assert_eq!(
        back.keys().collect::<Vec<_>>(),
        conf.keys().collect::<Vec<_>>()
    );
    // Plain JSON is accepted too.
    assert_eq!(gzip_json_to_conf(br#"{"a": 1}"#).unwrap()["a"], 1);

    let e = gzip_json_to_conf(&gzip(b"[1, 2]")).unwrap_err();
    assert!(
        matches!(e, CodecError::ConfNotAnObject { found: "an array" }),
        "{e}"
    );
    let e = gzip_json_to_conf(&gzip(b"{\"a\": ")).unwrap_err();
    assert!(matches!(e, CodecError::Json(_)), "{e}");
    let e = gzip_json_to_conf(&gzip(b"{}")[..10]).unwrap_err();
    assert!(matches!(e, CodecError::Gzip { .. }), "{e}");
}

#[test]
fn helpers() {
    assert_eq!(executor_key(3, 5), vec![3i64, 5]);
    let e = ExecutorInfo::new(3, 5);
    assert_eq!(e.key(), vec![3, 5]);
    assert_eq!(ExecutorInfo::from_key(&e.key()), Some(e));
    assert_eq!(ExecutorInfo::from_key(&[1]), None);
    assert_eq!(ExecutorInfo::from_key(&[1, i64::MAX]), None);

    let slot = NodeInfo::slot("sup-1", 6700);
    assert_eq!(slot.port, BTreeSet::from([6700]));
    assert_eq!(slot.first_port(), Some(6700));

    assert_eq!(TopologyStatus::ACTIVE.name(), Some("ACTIVE"));
    assert_eq!(TopologyStatus::REBALANCING.name(), Some("REBALANCING"));
    assert_eq!(TopologyStatus::from(9).name(), None);
    assert_eq!(
        DRPCExceptionType::FAILED_REQUEST.name(),
        Some("FAILED_REQUEST")
    );
    assert_eq!(Grouping::global(), Grouping::Fields(vec![]));
    assert_eq!(GlobalStreamId::of("spout", "default").component_id, "spout");
}
