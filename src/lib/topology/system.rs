//! From a user topology to Storm's *system topology*, its tasks and its executors (reference §3.1).
//!
//! Nimbus and every worker compute the same things from the same inputs:
//! * [`normalize_topology`]: each component's `topology.tasks` fixed at submit
//!   (`min(topology.max.task.parallelism, topology.tasks ?? parallelism_hint)`);
//! * [`system_topology`]: the user topology validated ([`validate_basic`]) and extended with the `__acker`
//!   bolt and its `__ack_*` streams, the `__system` component and the `__metrics`/`__system` streams,
//!   then validated again ([`validate_structure`]) — with Storm's error texts;
//! * [`task_to_component`]: task ids handed out from 1 in sorted component-id order (Java `String` order);
//! * [`partition_fixed`] / [`compute_executors`]: a component's tasks split into contiguous executors,
//!   larger chunks first.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::thrift::{
    Bolt, ComponentCommon, ComponentObject, GlobalStreamId, Grouping, NullStruct, StormTopology,
    StreamInfo,
};

pub const ACKER_COMPONENT_ID: &str = "__acker";
pub const ACKER_INIT_STREAM_ID: &str = "__ack_init";
pub const ACKER_ACK_STREAM_ID: &str = "__ack_ack";
pub const ACKER_FAIL_STREAM_ID: &str = "__ack_fail";
pub const ACKER_RESET_TIMEOUT_STREAM_ID: &str = "__ack_reset_timeout";
pub const SYSTEM_COMPONENT_ID: &str = "__system";
pub const SYSTEM_TASK_ID: i32 = -1;
pub const SYSTEM_STREAM_ID: &str = "__system";
pub const SYSTEM_TICK_STREAM_ID: &str = "__tick";
pub const METRICS_STREAM_ID: &str = "__metrics";
pub const METRICS_TICK_STREAM_ID: &str = "__metrics_tick";
pub const CREDENTIALS_CHANGED_STREAM_ID: &str = "__credentials";
pub const FLUSH_STREAM_ID: &str = "__flush";
pub const DEFAULT_STREAM_ID: &str = "default";

/// The serialized-object name the system components carry (they are built into every worker).
pub const BUILTIN_ACKER: &str = "storm-rs:builtin:acker";
pub const BUILTIN_SYSTEM: &str = "storm-rs:builtin:system";

/// A topology Storm would refuse; the text is Storm's `InvalidTopologyException` message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidTopology(pub String);

/// Storm's rule for reserved ids: anything starting with `__`.
pub fn is_system_id(id: &str) -> bool {
    id.starts_with("__")
}

/// Every component's `ComponentCommon`, by id (spouts, bolts and state spouts).
pub fn all_components(t: &StormTopology) -> BTreeMap<&str, &ComponentCommon> {
    let mut out = BTreeMap::new();
    out.extend(t.bolts.iter().map(|(k, v)| (k.as_str(), &v.common)));
    out.extend(t.spouts.iter().map(|(k, v)| (k.as_str(), &v.common)));
    out.extend(t.state_spouts.iter().map(|(k, v)| (k.as_str(), &v.common)));
    out
}

fn all_commons_mut(t: &mut StormTopology) -> impl Iterator<Item = &mut ComponentCommon> {
    t.bolts
        .values_mut()
        .map(|b| &mut b.common)
        .chain(t.spouts.values_mut().map(|s| &mut s.common))
        .chain(t.state_spouts.values_mut().map(|s| &mut s.common))
}

/// A component's JSON conf as a map (empty when unset).
pub fn component_conf(common: &ComponentCommon) -> Result<Map<String, Value>, InvalidTopology> {
    match common.json_conf.as_deref() {
        None | Some("") => Ok(Map::new()),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(Value::Null) => Ok(Map::new()),
            Ok(_) => Err(InvalidTopology(format!(
                "Component conf is not a JSON object: {text}"
            ))),
            Err(e) => Err(InvalidTopology(format!(
                "Component conf is not valid JSON ({e}): {text}"
            ))),
        },
    }
}

fn set_component_conf(common: &mut ComponentCommon, conf: &Map<String, Value>) {
    common.json_conf = Some(Value::Object(conf.clone()).to_string());
}

/// A JSON value read as an integer the way Storm's `ObjectReader.getInt` does (numbers and numeric strings).
fn as_int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The parallelism hint (executors); unset means 1.
pub fn parallelism_hint(common: &ComponentCommon) -> i32 {
    common.parallelism_hint.unwrap_or(1)
}

/// Storm's `validateBasic`: ids, spout inputs, tasks vs. executors.
pub fn validate_basic(t: &StormTopology) -> Result<(), InvalidTopology> {
    let mut seen = BTreeSet::new();
    let mut dups = Vec::new();
    let groups: [Vec<(&String, &ComponentCommon)>; 3] = [
        t.bolts.iter().map(|(k, v)| (k, &v.common)).collect(),
        t.spouts.iter().map(|(k, v)| (k, &v.common)).collect(),
        t.state_spouts.iter().map(|(k, v)| (k, &v.common)).collect(),
    ];
    for group in &groups {
        for (id, _) in group {
            if is_system_id(id) {
                return Err(InvalidTopology(format!(
                    "{id} is not a valid component id."
                )));
            }
        }
        for (_, common) in group {
            if let Some(stream) = common.streams.keys().find(|s| is_system_id(s)) {
                return Err(InvalidTopology(format!(
                    "{stream} is not a valid stream id."
                )));
            }
        }
        for (id, _) in group {
            if !seen.insert(id.as_str()) {
                dups.push(id.to_string());
            }
        }
    }
    if !dups.is_empty() {
        return Err(InvalidTopology(format!(
            "Duplicate component ids: [{}]",
            dups.join(", ")
        )));
    }
    if t.spouts.values().any(|s| !s.common.inputs.is_empty()) {
        return Err(InvalidTopology("May not declare inputs for a spout".into()));
    }
    for common in all_components(t).values() {
        let tasks = as_int(component_conf(common)?.get("topology.tasks")).unwrap_or(0);
        if tasks > 0 && parallelism_hint(common) <= 0 {
            return Err(InvalidTopology(
                "Number of executors must be greater than 0 when number of tasks is greater than 0"
                    .into(),
            ));
        }
    }
    Ok(())
}

/// Storm's `validateStructure`: every subscription names an existing component and stream, and fields
/// groupings name fields the source declares (on any of its streams, as Storm checks).
pub fn validate_structure(t: &StormTopology) -> Result<(), InvalidTopology> {
    let components = all_components(t);
    for (id, common) in &components {
        for (gsid, grouping) in &common.inputs {
            let (src, stream) = (&gsid.component_id, &gsid.stream_id);
            let Some(source) = components.get(src.as_str()) else {
                return Err(InvalidTopology(format!(
                    "Component: [{id}] subscribes from non-existent component [{src}]"
                )));
            };
            if !source.streams.contains_key(stream) {
                return Err(InvalidTopology(format!(
                    "Component: [{id}] subscribes from non-existent stream: [{stream}] of component [{src}]"
                )));
            }
            if let Grouping::Fields(fields) = grouping {
                let declared: BTreeSet<&String> = source
                    .streams
                    .values()
                    .flat_map(|s| &s.output_fields)
                    .collect();
                let missing: Vec<&String> =
                    fields.iter().filter(|f| !declared.contains(f)).collect();
                if !missing.is_empty() {
                    let missing = missing
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ");
                    return Err(InvalidTopology(format!(
                        "Component: [{id}] subscribes from stream: [{stream}] of component [{src}] + with non-existent fields: [{missing}]"
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Nimbus's `normalizeTopology`: every component's conf gets `topology.tasks` =
/// `min(topology.max.task.parallelism, topology.tasks ?? parallelism_hint)`.
pub fn normalize_topology(
    t: &StormTopology,
    topo_conf: &Map<String, Value>,
) -> Result<StormTopology, InvalidTopology> {
    let mut out = t.clone();
    let max = as_int(topo_conf.get("topology.max.task.parallelism"));
    for common in all_commons_mut(&mut out) {
        let mut conf = component_conf(common)?;
        let wanted =
            as_int(conf.get("topology.tasks")).unwrap_or(i64::from(parallelism_hint(common)));
        let tasks = max.map_or(wanted, |m| wanted.min(m));
        conf.insert("topology.tasks".into(), Value::from(tasks));
        set_component_conf(common, &conf);
    }
    Ok(out)
}

fn fields_stream(fields: &[&str], direct: bool) -> StreamInfo {
    StreamInfo {
        output_fields: fields.iter().map(|f| f.to_string()).collect(),
        direct,
    }
}

fn gsid(component: &str, stream: &str) -> GlobalStreamId {
    GlobalStreamId {
        component_id: component.into(),
        stream_id: stream.into(),
    }
}

/// Whether the topology runs ackers: `topology.acker.executors` unset (one per worker) or > 0.
pub fn has_ackers(topo_conf: &Map<String, Value>) -> bool {
    as_int(topo_conf.get("topology.acker.executors")).is_none_or(|n| n > 0)
}

/// Storm's `systemTopology`: validates and adds the acker, the system component and system streams.
/// `topo_conf` is the merged (cluster + topology) configuration.
pub fn system_topology(
    t: &StormTopology,
    topo_conf: &Map<String, Value>,
) -> Result<StormTopology, InvalidTopology> {
    validate_basic(t)?;
    crate::window::validate_topology(t, topo_conf).map_err(|e| InvalidTopology(e.to_string()))?;
    let mut ret = t.clone();
    let timeout = as_int(topo_conf.get("topology.message.timeout.secs")).unwrap_or(30);

    // The acker: one per worker unless topology.acker.executors says otherwise (0 still adds a
    // zero-task component, exactly as Storm does).
    let ackers = as_int(topo_conf.get("topology.acker.executors"))
        .or_else(|| as_int(topo_conf.get("topology.workers")))
        .unwrap_or(1);
    let mut inputs = BTreeMap::new();
    for id in ret.spouts.keys() {
        inputs.insert(
            gsid(id, ACKER_INIT_STREAM_ID),
            Grouping::Fields(vec!["id".into()]),
        );
    }
    for id in ret.bolts.keys() {
        for s in [
            ACKER_ACK_STREAM_ID,
            ACKER_FAIL_STREAM_ID,
            ACKER_RESET_TIMEOUT_STREAM_ID,
        ] {
            inputs.insert(gsid(id, s), Grouping::Fields(vec!["id".into()]));
        }
    }
    let mut acker_streams = BTreeMap::new();
    for s in [
        ACKER_ACK_STREAM_ID,
        ACKER_FAIL_STREAM_ID,
        ACKER_RESET_TIMEOUT_STREAM_ID,
    ] {
        acker_streams.insert(s.to_string(), fields_stream(&["id", "time-delta-ms"], true));
    }
    let mut acker_conf = Map::new();
    acker_conf.insert("topology.tasks".into(), Value::from(ackers));
    acker_conf.insert("topology.tick.tuple.freq.secs".into(), Value::from(timeout));
    let acker = Bolt {
        bolt_object: ComponentObject::SerializedJava(BUILTIN_ACKER.as_bytes().to_vec()),
        common: ComponentCommon {
            inputs,
            streams: acker_streams,
            parallelism_hint: Some(ackers as i32),
            json_conf: Some(Value::Object(acker_conf).to_string()),
        },
    };
    for bolt in ret.bolts.values_mut() {
        let streams = &mut bolt.common.streams;
        streams.insert(
            ACKER_ACK_STREAM_ID.into(),
            fields_stream(&["id", "ack-val"], false),
        );
        streams.insert(ACKER_FAIL_STREAM_ID.into(), fields_stream(&["id"], false));
        streams.insert(
            ACKER_RESET_TIMEOUT_STREAM_ID.into(),
            fields_stream(&["id"], false),
        );
    }
    for spout in ret.spouts.values_mut() {
        let mut conf = component_conf(&spout.common)?;
        conf.insert("topology.tick.tuple.freq.secs".into(), Value::from(timeout));
        set_component_conf(&mut spout.common, &conf);
        spout.common.streams.insert(
            ACKER_INIT_STREAM_ID.into(),
            fields_stream(&["id", "init-val", "spout-task"], false),
        );
        for s in [
            ACKER_ACK_STREAM_ID,
            ACKER_FAIL_STREAM_ID,
            ACKER_RESET_TIMEOUT_STREAM_ID,
        ] {
            spout
                .common
                .inputs
                .insert(gsid(ACKER_COMPONENT_ID, s), Grouping::Direct(NullStruct {}));
        }
    }
    ret.bolts.insert(ACKER_COMPONENT_ID.into(), acker);

    // The per-worker system component: zero tasks in the topology (it is executor [-1 -1] in each worker).
    let mut system_streams = BTreeMap::new();
    system_streams.insert(
        SYSTEM_TICK_STREAM_ID.to_string(),
        fields_stream(&["rate_secs"], false),
    );
    system_streams.insert(
        METRICS_TICK_STREAM_ID.to_string(),
        fields_stream(&["interval"], false),
    );
    system_streams.insert(
        CREDENTIALS_CHANGED_STREAM_ID.to_string(),
        fields_stream(&["creds"], false),
    );
    let mut system_conf = Map::new();
    system_conf.insert("topology.tasks".into(), Value::from(0));
    ret.bolts.insert(
        SYSTEM_COMPONENT_ID.into(),
        Bolt {
            bolt_object: ComponentObject::SerializedJava(BUILTIN_SYSTEM.as_bytes().to_vec()),
            common: ComponentCommon {
                inputs: BTreeMap::new(),
                streams: system_streams,
                parallelism_hint: Some(0),
                json_conf: Some(Value::Object(system_conf).to_string()),
            },
        },
    );

    for common in all_commons_mut(&mut ret) {
        common.streams.insert(
            METRICS_STREAM_ID.into(),
            fields_stream(&["task-info", "data-points"], false),
        );
        common
            .streams
            .insert(SYSTEM_STREAM_ID.into(), fields_stream(&["event"], false));
    }
    validate_structure(&ret)?;
    Ok(ret)
}

/// Java's `String.compareTo`: UTF-16 code-unit order (differs from byte order only beyond the BMP).
pub fn java_string_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Task id → component id for a *system* topology whose components carry `topology.tasks` (normalized):
/// ids from 1 in sorted component-id order; components with 0 tasks get none.
pub fn task_to_component(system: &StormTopology) -> Result<BTreeMap<i32, String>, InvalidTopology> {
    let mut components: Vec<(&str, i64)> = Vec::new();
    for (id, common) in all_components(system) {
        components.push((
            id,
            as_int(component_conf(common)?.get("topology.tasks")).unwrap_or(0),
        ));
    }
    components.sort_by(|a, b| java_string_cmp(a.0, b.0));
    let mut out = BTreeMap::new();
    let mut next = 1;
    for (id, n) in components {
        for _ in 0..n.max(0) {
            out.insert(next, id.to_string());
            next += 1;
        }
    }
    Ok(out)
}

/// Component id → its task ids, ascending.
pub fn component_to_sorted_tasks(
    task_to_component: &BTreeMap<i32, String>,
) -> BTreeMap<String, Vec<i32>> {
    let mut out: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for (task, comp) in task_to_component {
        out.entry(comp.clone()).or_default().push(*task);
    }
    out
}

/// Storm's `Utils.partitionFixed`: `items` split into at most `buckets` contiguous chunks, the first
/// `len % buckets` one longer. With more buckets than items, one item per chunk.
pub fn partition_fixed<T: Clone>(buckets: usize, items: &[T]) -> Vec<Vec<T>> {
    if buckets == 0 || items.is_empty() {
        return Vec::new();
    }
    let buckets = buckets.min(items.len());
    let (base, extra) = (items.len() / buckets, items.len() % buckets);
    let mut out = Vec::with_capacity(buckets);
    let mut start = 0;
    for i in 0..buckets {
        let len = base + usize::from(i < extra);
        out.push(items[start..start + len].to_vec());
        start += len;
    }
    out
}

/// Executors `[start, end]` of every component, given executors per component (a component missing
/// from `component_executors` keeps one executor per task).
pub fn compute_executors(
    task_to_component: &BTreeMap<i32, String>,
    component_executors: &BTreeMap<String, i32>,
) -> Vec<(i32, i32)> {
    let mut out = Vec::new();
    for (comp, tasks) in component_to_sorted_tasks(task_to_component) {
        let n = component_executors
            .get(&comp)
            .copied()
            .map_or(tasks.len(), |n| n.max(0) as usize);
        for chunk in partition_fixed(n, &tasks) {
            out.push((chunk[0], chunk[chunk.len() - 1]));
        }
    }
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thrift::{ShellComponent, SpoutSpec};
    use serde_json::json;

    fn common(
        inputs: Vec<(&str, &str, Grouping)>,
        streams: Vec<(&str, Vec<&str>)>,
        par: Option<i32>,
    ) -> ComponentCommon {
        ComponentCommon {
            inputs: inputs
                .into_iter()
                .map(|(c, s, g)| (gsid(c, s), g))
                .collect(),
            streams: streams
                .into_iter()
                .map(|(s, f)| (s.to_string(), fields_stream(&f, false)))
                .collect(),
            parallelism_hint: par,
            json_conf: None,
        }
    }

    fn shell() -> ComponentObject {
        ComponentObject::Shell(ShellComponent {
            execution_command: Some("python3".into()),
            script: Some("x.py".into()),
        })
    }

    /// spout (2) → split (3, shuffle) → count (4, fields "word").
    fn word_count() -> StormTopology {
        let mut t = StormTopology {
            spouts: BTreeMap::new(),
            bolts: BTreeMap::new(),
            state_spouts: BTreeMap::new(),
            worker_hooks: None,
            dependency_jars: None,
            dependency_artifacts: None,
            storm_version: None,
            jdk_version: None,
            component_to_shared_memory: None,
            shared_memory: None,
        };
        t.spouts.insert(
            "spout".into(),
            SpoutSpec {
                spout_object: shell(),
                common: common(vec![], vec![("default", vec!["sentence"])], Some(2)),
            },
        );
        t.bolts.insert(
            "split".into(),
            Bolt {
                bolt_object: shell(),
                common: common(
                    vec![("spout", "default", Grouping::Shuffle(NullStruct {}))],
                    vec![("default", vec!["word"])],
                    Some(3),
                ),
            },
        );
        t.bolts.insert(
            "count".into(),
            Bolt {
                bolt_object: shell(),
                common: common(
                    vec![("split", "default", Grouping::Fields(vec!["word".into()]))],
                    vec![("default", vec!["word", "count"])],
                    Some(4),
                ),
            },
        );
        t
    }

    fn conf(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn system_topology_adds_acker_system_and_streams_like_storm() {
        let c = conf(json!({"topology.workers": 2, "topology.message.timeout.secs": 30}));
        let sys = system_topology(&normalize_topology(&word_count(), &c).unwrap(), &c).unwrap();
        let acker = &sys.bolts[ACKER_COMPONENT_ID];
        assert_eq!(
            acker.common.parallelism_hint,
            Some(2),
            "one acker per worker when unset"
        );
        assert_eq!(
            component_conf(&acker.common).unwrap()["topology.tasks"],
            json!(2)
        );
        assert_eq!(
            component_conf(&acker.common).unwrap()["topology.tick.tuple.freq.secs"],
            json!(30)
        );
        assert_eq!(
            acker.common.inputs[&gsid("spout", ACKER_INIT_STREAM_ID)],
            Grouping::Fields(vec!["id".into()])
        );
        assert_eq!(
            acker.common.inputs[&gsid("count", ACKER_FAIL_STREAM_ID)],
            Grouping::Fields(vec!["id".into()])
        );
        assert!(acker.common.streams[ACKER_ACK_STREAM_ID].direct);
        let spout = &sys.spouts["spout"].common;
        assert_eq!(
            spout.streams[ACKER_INIT_STREAM_ID].output_fields,
            vec!["id", "init-val", "spout-task"]
        );
        assert_eq!(
            spout.inputs[&gsid(ACKER_COMPONENT_ID, ACKER_ACK_STREAM_ID)],
            Grouping::Direct(NullStruct {})
        );
        assert_eq!(
            component_conf(spout).unwrap()["topology.tick.tuple.freq.secs"],
            json!(30)
        );
        assert_eq!(
            sys.bolts["split"].common.streams[ACKER_ACK_STREAM_ID].output_fields,
            vec!["id", "ack-val"]
        );
        for (_, c) in all_components(&sys) {
            assert!(
                c.streams.contains_key(METRICS_STREAM_ID)
                    && c.streams.contains_key(SYSTEM_STREAM_ID)
            );
        }
        assert_eq!(
            component_conf(&sys.bolts[SYSTEM_COMPONENT_ID].common).unwrap()["topology.tasks"],
            json!(0)
        );
    }

    #[test]
    fn tasks_are_numbered_in_sorted_component_order_with_acker_first() {
        let c = conf(json!({"topology.workers": 2}));
        let sys = system_topology(&normalize_topology(&word_count(), &c).unwrap(), &c).unwrap();
        let t2c = task_to_component(&sys).unwrap();
        let by_comp = component_to_sorted_tasks(&t2c);
        assert_eq!(by_comp["__acker"], vec![1, 2]);
        assert_eq!(by_comp["count"], vec![3, 4, 5, 6]);
        assert_eq!(by_comp["split"], vec![7, 8, 9]);
        assert_eq!(by_comp["spout"], vec![10, 11]);
        assert!(!by_comp.contains_key("__system"), "no tasks for __system");
    }

    #[test]
    fn executors_split_like_partition_fixed() {
        assert_eq!(
            partition_fixed(3, &(1..=10).collect::<Vec<_>>()),
            vec![vec![1, 2, 3, 4], vec![5, 6, 7], vec![8, 9, 10]]
        );
        assert_eq!(partition_fixed(5, &[1, 2]), vec![vec![1], vec![2]]);
        assert!(partition_fixed(0, &[1]).is_empty());
        let t2c: BTreeMap<i32, String> = (1..=10).map(|t| (t, "c".to_string())).collect();
        let execs = compute_executors(&t2c, &BTreeMap::from([("c".to_string(), 3)]));
        assert_eq!(execs, vec![(1, 4), (5, 7), (8, 10)]);
        assert_eq!(compute_executors(&t2c, &BTreeMap::new()).len(), 10);
    }

    #[test]
    fn normalization_caps_tasks_and_honours_set_num_tasks() {
        let mut t = word_count();
        t.bolts.get_mut("count").unwrap().common.json_conf =
            Some(json!({"topology.tasks": 8}).to_string());
        let n = normalize_topology(&t, &conf(json!({}))).unwrap();
        assert_eq!(
            component_conf(&n.bolts["count"].common).unwrap()["topology.tasks"],
            json!(8)
        );
        assert_eq!(
            component_conf(&n.bolts["split"].common).unwrap()["topology.tasks"],
            json!(3)
        );
        let capped =
            normalize_topology(&t, &conf(json!({"topology.max.task.parallelism": 2}))).unwrap();
        assert_eq!(
            component_conf(&capped.bolts["count"].common).unwrap()["topology.tasks"],
            json!(2)
        );
    }

    #[test]
    fn validation_errors_use_storms_words() {
        let c = conf(json!({}));
        let err = |t: StormTopology| system_topology(&t, &c).unwrap_err().0;

        let mut t = word_count();
        let b = t.bolts.remove("split").unwrap();
        t.bolts.insert("__split".into(), b);
        assert_eq!(err(t), "__split is not a valid component id.");

        let mut t = word_count();
        t.bolts
            .get_mut("split")
            .unwrap()
            .common
            .streams
            .insert("__x".into(), fields_stream(&["a"], false));
        assert_eq!(err(t), "__x is not a valid stream id.");

        let mut t = word_count();
        t.spouts.insert("split".into(), t.spouts["spout"].clone());
        assert_eq!(err(t), "Duplicate component ids: [split]");

        let mut t = word_count();
        t.spouts
            .get_mut("spout")
            .unwrap()
            .common
            .inputs
            .insert(gsid("split", "default"), Grouping::Shuffle(NullStruct {}));
        assert_eq!(err(t), "May not declare inputs for a spout");

        let mut t = word_count();
        t.bolts.get_mut("count").unwrap().common.inputs =
            BTreeMap::from([(gsid("nope", "default"), Grouping::All(NullStruct {}))]);
        assert_eq!(
            err(t),
            "Component: [count] subscribes from non-existent component [nope]"
        );

        let mut t = word_count();
        t.bolts.get_mut("count").unwrap().common.inputs =
            BTreeMap::from([(gsid("split", "other"), Grouping::All(NullStruct {}))]);
        assert_eq!(
            err(t),
            "Component: [count] subscribes from non-existent stream: [other] of component [split]"
        );

        let mut t = word_count();
        t.bolts.get_mut("count").unwrap().common.inputs = BTreeMap::from([(
            gsid("split", "default"),
            Grouping::Fields(vec!["wrd".into()]),
        )]);
        assert_eq!(
            err(t),
            "Component: [count] subscribes from stream: [default] of component [split] + with non-existent fields: [wrd]"
        );

        let mut t = word_count();
        let split = &mut t.bolts.get_mut("split").unwrap().common;
        split.parallelism_hint = Some(0);
        split.json_conf = Some(json!({"topology.tasks": 2}).to_string());
        assert_eq!(
            err(t),
            "Number of executors must be greater than 0 when number of tasks is greater than 0"
        );
    }

    #[test]
    fn acking_switch() {
        assert!(has_ackers(&conf(json!({}))));
        assert!(has_ackers(&conf(json!({"topology.acker.executors": 2}))));
        assert!(!has_ackers(&conf(json!({"topology.acker.executors": 0}))));
    }

    #[test]
    fn java_string_order_is_utf16() {
        use std::cmp::Ordering::*;
        assert_eq!(java_string_cmp("__acker", "count"), Less);
        assert_eq!(java_string_cmp("Zed", "apple"), Less);
        // U+FF61 sorts after a surrogate pair (U+1F600 → D83D DE00) in UTF-16, before it in UTF-8.
        assert_eq!(java_string_cmp("\u{FF61}", "\u{1F600}"), Greater);
    }
}
