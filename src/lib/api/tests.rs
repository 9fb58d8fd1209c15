//! Tests of the API types: tuples, the builder's Thrift output, component serialization, grouping
//! conversion and the basic-bolt adapter (the executors are tested in `executor` and `local`).

use serde::{Deserialize, Serialize};

use super::*;
use crate::grouping::Grouping as RouteGrouping;
use crate::thrift::{ComponentObject, GlobalStreamId, Grouping, NullStruct, ShellComponent};
use crate::tuple::Value;

#[test]
fn api_tuple_reading_values_is_noted_per_thread_until_taken() {
    // Tests share threads only one at a time, but start from a known state.
    take_values_read();
    let t = Tuple::for_test("split", "default", &["word"], values!["cow"]);
    // What a null bolt touches (the tuple's header) is not a read of its values.
    let _ = (
        t.len(),
        t.is_empty(),
        t.message_id(),
        t.source_stream(),
        t.ack_val(),
    );
    assert!(!take_values_read());
    assert_eq!(t.get_str_by_field("word").unwrap(), "cow");
    assert!(take_values_read());
    assert!(!take_values_read(), "taking it resets it");
    let _ = t.values();
    // Another thread's reads are its own.
    std::thread::spawn(|| assert!(!take_values_read()))
        .join()
        .unwrap();
    assert!(take_values_read());
    // The prefetch hints read the values without noting it, and never fault.
    t.prefetch();
    t.prefetch_values();
    t.prefetch_payload();
    t.prefetch_values_for_write();
    t.prefetch_payload_for_write();
    assert!(!take_values_read());
    let empty = Tuple::for_test("s", "default", &[], Vec::new());
    empty.prefetch_values();
    empty.prefetch_payload();
    empty.prefetch_values_for_write();
    empty.prefetch_payload_for_write();
}

#[test]
fn api_tuple_getters_name_the_field() {
    let t = Tuple::for_test("split", "default", &["word", "count"], values!["cow", 3i64]);
    assert_eq!(t.get_str(0).unwrap(), "cow");
    assert_eq!(t.get_str_by_field("word").unwrap(), "cow");
    assert_eq!(t.get_i64_by_field("count").unwrap(), 3);
    assert_eq!(t.get_i32(1).unwrap(), 3);
    assert_eq!(t.get_f64(1).unwrap(), 3.0);
    assert_eq!(t.value_by_field("count").unwrap(), &Value::Long(3));
    assert_eq!(t.source_component(), "split");
    assert_eq!(t.source_stream(), "default");
    assert!(!t.is_tick() && !t.is_anchored());
    assert_eq!(
        t.get_i64_by_field("word").unwrap_err().to_string(),
        "field \"word\" (value 0) of a tuple from split:default is a String, not a Long"
    );
    assert_eq!(
        t.get_str_by_field("wrd").unwrap_err().to_string(),
        "tuple from split:default has no field \"wrd\" (its fields are [word, count])"
    );
    assert_eq!(
        t.value(5).unwrap_err().to_string(),
        "tuple from split:default has no value 5 (it has 2 values)"
    );
    let sel = crate::tuple::Fields::new(["count", "word"]).unwrap();
    assert_eq!(t.select(&sel).unwrap(), values![3i64, "cow"]);
    assert_eq!(
        t.to_string(),
        "source: split:1, stream: default, id: {}, [cow, 3]"
    );
    let tick = Tuple::for_test("__system", "__tick", &["rate_secs"], values![5]);
    assert!(tick.is_tick());
}

#[derive(Serialize, Deserialize)]
struct NumberSpout {
    limit: i64,
}

#[typetag::serde(name = "storm::api::tests::NumberSpout")]
impl Spout for NumberSpout {
    fn next_tuple(&mut self, _c: &mut SpoutOutputCollector<'_>) -> Result<(), ComponentError> {
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["n"]);
        declarer.declare_stream_direct("odd", ["n", "parity"]);
    }

    fn component_configuration(&self) -> Option<ConfMap> {
        let mut m = ConfMap::new();
        m.insert("topology.max.spout.pending".into(), 5.into());
        m.insert("custom".into(), "from-component".into());
        Some(m)
    }
}

/// Doubles `n`; fails inputs equal to `fail_on`; any other error for negative inputs.
#[derive(Serialize, Deserialize)]
struct Doubler {
    fail_on: i64,
}

#[typetag::serde(name = "storm::api::tests::Doubler")]
impl BasicBolt for Doubler {
    fn execute(
        &mut self,
        input: &Tuple,
        collector: &mut BasicOutputCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        let n = input.get_i64(0)?;
        if n == self.fail_on {
            return Err(FailedException::reported(format!("cannot double {n}")).into());
        }
        if n < 0 {
            return Err("negative".into());
        }
        collector.emit(values![n * 2])?;
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare(["doubled"]);
    }
}

#[test]
fn api_builder_creates_storms_thrift_topology() {
    let mut b = TopologyBuilder::new();
    b.set_spout("numbers", NumberSpout { limit: 10 }, 2)
        .set_num_tasks(4)
        .add_configuration("custom", "from-declarer");
    b.set_basic_bolt("double", Doubler { fail_on: 7 }, 3)
        .shuffle_grouping("numbers")
        .direct_grouping_stream("numbers", "odd")
        .fields_grouping_stream("numbers", "other", ["n"])
        .partial_key_grouping_stream("numbers", "pk", ["n"])
        .custom_grouping_stream("numbers", "cg", "my-grouping", vec![1, 2])
        .all_grouping_stream("numbers", "all")
        .global_grouping_stream("numbers", "global")
        .none_grouping_stream("numbers", "none")
        .local_or_shuffle_grouping_stream("numbers", "local");
    let t = b.create_topology().unwrap();

    let spout = &t.spouts["numbers"];
    assert_eq!(spout.common.parallelism_hint, Some(2));
    let conf: ConfMap = serde_json::from_str(spout.common.json_conf.as_deref().unwrap()).unwrap();
    assert_eq!(conf["topology.tasks"], 4);
    assert_eq!(conf["topology.max.spout.pending"], 5);
    assert_eq!(
        conf["custom"], "from-declarer",
        "the declarer overrides the component"
    );
    assert_eq!(spout.common.streams["default"].output_fields, vec!["n"]);
    assert!(!spout.common.streams["default"].direct);
    assert!(spout.common.streams["odd"].direct);
    assert_eq!(t.storm_version.as_deref(), Some(crate::STORM_VERSION));

    let bolt = &t.bolts["double"];
    let gsid = |s: &str| GlobalStreamId::of("numbers", s);
    let inputs = &bolt.common.inputs;
    assert_eq!(inputs[&gsid("default")], Grouping::Shuffle(NullStruct {}));
    assert_eq!(inputs[&gsid("odd")], Grouping::Direct(NullStruct {}));
    assert_eq!(inputs[&gsid("other")], Grouping::Fields(vec!["n".into()]));
    assert_eq!(inputs[&gsid("global")], Grouping::Fields(vec![]));
    assert_eq!(inputs[&gsid("all")], Grouping::All(NullStruct {}));
    assert_eq!(inputs[&gsid("none")], Grouping::None(NullStruct {}));
    assert_eq!(
        inputs[&gsid("local")],
        Grouping::LocalOrShuffle(NullStruct {})
    );
    assert_eq!(
        grouping_from_thrift(&inputs[&gsid("pk")]).unwrap(),
        RouteGrouping::PartialKey(vec!["n".into()])
    );
    assert_eq!(
        grouping_from_thrift(&inputs[&gsid("cg")]).unwrap(),
        RouteGrouping::Custom {
            name: "my-grouping".into(),
            payload: vec![1, 2]
        }
    );
    assert_eq!(
        bolt.common.streams["default"].output_fields,
        vec!["doubled"]
    );
    assert!(bolt.common.json_conf.is_none());

    // Components come back from their bytes by type name.
    let ComponentObject::SerializedJava(bytes) = &spout.spout_object else {
        panic!("not serialized: {:?}", spout.spout_object);
    };
    assert!(bytes.starts_with(RUST_COMPONENT_MAGIC));
    let json: serde_json::Value = serde_json::from_slice(&bytes[8..]).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"storm::api::tests::NumberSpout": {"limit": 10}})
    );
    let rebuilt = decode_spout("numbers", &spout.spout_object).unwrap();
    let mut d = OutputFieldsDeclarer::new();
    rebuilt.declare_output_fields(&mut d);
    assert_eq!(d.streams().len(), 2);
    let bolt = decode_bolt("double", &bolt.bolt_object).unwrap();
    let mut d = OutputFieldsDeclarer::new();
    bolt.declare_output_fields(&mut d);
    assert_eq!(d.streams()["default"].output_fields, vec!["doubled"]);
}

#[test]
fn api_builder_and_codec_errors_are_clear() {
    let mut b = TopologyBuilder::new();
    b.set_spout("x", NumberSpout { limit: 1 }, 1);
    b.set_basic_bolt("x", Doubler { fail_on: 0 }, 1);
    assert_eq!(
        b.create_topology().unwrap_err().to_string(),
        "Bolt has already been declared for id x"
    );

    let mut d = OutputFieldsDeclarer::new();
    d.declare(["a"]);
    d.declare(["b"]);
    d.declare_stream("s", ["c", "c"]);
    assert_eq!(
        d.errors(),
        [
            "Fields for default already set",
            "stream s: duplicate field 'c'"
        ]
    );

    // A Java component decodes to a host made in the worker's JVM; LocalCluster refuses it.
    let java = ComponentObject::SerializedJava(vec![0xAC, 0xED, 0, 5]);
    assert!(decode_spout("spout", &java).is_ok());
    let err = check_component_object("spout", &java).unwrap_err();
    assert!(matches!(err, ComponentCodecError::JavaSerialized { .. }));
    assert!(err.to_string().contains("storm jar"), "{err}");

    let unknown = ComponentObject::SerializedJava(
        [RUST_COMPONENT_MAGIC.as_slice(), br#"{"NoSuchType":{}}"#].concat(),
    );
    let err = decode_bolt("b", &unknown).err().unwrap().to_string();
    assert!(
        err.contains("NoSuchType") && err.contains("compiled into"),
        "{err}"
    );

    let shell = ComponentObject::Shell(ShellComponent {
        execution_command: Some("python3".into()),
        script: Some("x.py".into()),
    });
    // A shell component runs as a multilang ShellBolt (src/lib/multilang).
    assert!(decode_bolt("b", &shell).is_ok());
    // A Java-serialized grouping runs in the worker's JVM; other custom_serialized bytes are refused.
    assert!(matches!(
        grouping_from_thrift(&Grouping::CustomSerialized(vec![0xAC, 0xED])).unwrap(),
        crate::grouping::Grouping::Custom { name, .. } if name == crate::jvm::JAVA_GROUPING
    ));
    assert!(grouping_from_thrift(&Grouping::CustomSerialized(vec![1, 2])).is_err());
}

/// Records what a bolt does through its collector.
#[derive(Default)]
struct Recorder {
    emitted: Vec<(String, usize, crate::tuple::Values, Option<i32>)>,
    acked: usize,
    failed: usize,
    errors: Vec<String>,
}

impl BoltOutput for Recorder {
    fn emit(
        &mut self,
        stream: &str,
        anchors: &[&Tuple],
        values: crate::tuple::Values,
        direct_task: Option<i32>,
    ) -> Result<Vec<i32>, EmitError> {
        self.emitted
            .push((stream.to_owned(), anchors.len(), values, direct_task));
        Ok(vec![7])
    }

    fn ack(&mut self, _input: &Tuple) {
        self.acked += 1;
    }

    fn fail(&mut self, _input: &Tuple) {
        self.failed += 1;
    }

    fn reset_timeout(&mut self, _input: &Tuple) {}

    fn report_error(&mut self, message: String) {
        self.errors.push(message);
    }
}

#[test]
fn api_basic_bolt_anchors_acks_and_fails() {
    let mut bolt = BasicBoltExecutor::new(Box::new(Doubler { fail_on: 7 }));
    let mut rec = Recorder::default();
    let input = |n: i64| Tuple::for_test("numbers", "default", &["n"], values![n]);
    {
        let mut c = OutputCollector::new(&mut rec);
        bolt.execute(input(2), &mut c).unwrap();
        bolt.execute(input(7), &mut c).unwrap();
        assert!(
            bolt.execute(input(-1), &mut c).is_err(),
            "other errors propagate"
        );
    }
    assert_eq!(
        rec.emitted,
        vec![("default".to_owned(), 1, values![4i64], None)],
        "anchored to the input"
    );
    assert_eq!((rec.acked, rec.failed), (1, 1));
    assert_eq!(rec.errors, ["cannot double 7"]);
}

#[test]
fn api_conf_setters_and_values_macro() {
    let mut conf = TopologyConf::new();
    conf.set_num_workers(2)
        .set_num_ackers(0)
        .set_max_spout_pending(10)
        .set_message_timeout_secs(5)
        .set("my.key", "v");
    let m = conf.as_map();
    assert_eq!(conf_i64(m, "topology.workers"), Some(2));
    assert_eq!(conf_i64(m, "topology.acker.executors"), Some(0));
    assert_eq!(conf_i64(m, "topology.max.spout.pending"), Some(10));
    assert_eq!(conf_i64(m, "topology.message.timeout.secs"), Some(5));
    assert_eq!(m["my.key"], "v");
    let mut strings = ConfMap::new();
    strings.insert("n".into(), "42".into());
    strings.insert("b".into(), "true".into());
    assert_eq!(conf_i64(&strings, "n"), Some(42));
    assert_eq!(conf_bool(&strings, "b"), Some(true));
    assert_eq!(conf_i64(&strings, "missing"), None);
    assert_eq!(
        values!["a", 1, 2i64, 1.5, true],
        vec![
            Value::String("a".into()),
            Value::Int(1),
            Value::Long(2),
            Value::Double(1.5),
            Value::Bool(true)
        ]
    );
}
