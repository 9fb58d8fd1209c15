//! The JSON documents of Storm's UI REST API, built from what nimbus answers over Thrift, with the
//! field names, value types and conventions of Storm's `UIHelpers`:
//!
//! * counts are JSON numbers (an unset Thrift count is 0, as Java's primitive getters return), memory
//!   and CPU figures are numbers with a fraction (`128.0`);
//! * latencies and capacities that Storm formats are strings with three decimals (`"1.234"`);
//! * uptimes come twice: `uptime` (`"1d 2h 3m 4s"`) and `uptimeSeconds` (a number);
//! * a component without an error has `lastError: ""`, `errorHost: ""`, `errorPort: null`,
//!   `errorWorkerLogLink: ""`, `errorTime: null`, `errorLapsedSecs: null`;
//! * owner guarantees that are not set are `"N/A"`; offline nimbus seeds are `"Not applicable"`.
//!
//! Where Storm 2.x's own code is broken, the documented behaviour is served instead (and said so):
//! `/topology/<id>/metrics` has the per-stream shape of `docs/STORM-UI-REST-API.md` (Storm 2.x
//! returns the topology page there, and Datadog's check reads the documented shape);
//! `/visualization-init` lists the input streams (Storm 2.x fails with a `ClassCastException`);
//! `requestedTotalMem` is requested on-heap + off-heap (Storm adds assigned on-heap).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};
use thrift::OrderedFloat;

use super::format::{
    daemon_log_link, float_str, logviewer, pretty_uptime_secs, sanitize_stream_name, url_encode,
    window_hint, worker_log_link,
};
use crate::config::Config;
use crate::thrift::{
    BoltAggregateStats, ClusterSummary, CommonAggregateStats, ComponentAggregateStats,
    ComponentPageInfo, ComponentType, ErrorInfo, ExecutorAggregateStats, ExecutorSpecificStats,
    ExecutorSummary, GlobalStreamId, Grouping, LogConfig, NimbusSummary, OwnerResourceSummary,
    SpecificAggregateStats, SpoutAggregateStats, StormTopology, SupervisorPageInfo,
    SupervisorSummary, TopologyInfo, TopologyPageInfo, TopologySummary, WorkerSummary,
};
use crate::topology::system::is_system_id;

/// Seconds since the epoch.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn of(v: Option<OrderedFloat<f64>>) -> f64 {
    v.map_or(0.0, |f| f.0)
}

/// A Thrift double as JSON: always a number with a fraction when written (`128.0`), `null` for a
/// NaN or infinity (JSON has none).
fn num(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// Storm's `scheduler.display.resource` and friends, read from the UI's configuration.
fn conf_value(conf: &Config, key: &str) -> Value {
    conf.get(key).cloned().unwrap_or(Value::Null)
}

/// Java's `Double.toString` for the values resource maps hold.
fn java_double(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e7 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

/// Storm's resource names that are not generic resources.
const NON_GENERIC: [&str; 6] = [
    "onheap.memory.mb",
    "offheap.memory.mb",
    "memory.mb",
    "cpu.pcore.percent",
    "supervisor.memory.capacity.mb",
    "supervisor.cpu.capacity",
];

/// `prettifyGenericResources`: `"gpu.count=1.0 fpga=2.0"` (sorted), `""` without any, `null`
/// without a map.
fn generic_resources(m: Option<&BTreeMap<String, OrderedFloat<f64>>>) -> Value {
    let Some(m) = m else {
        return Value::Null;
    };
    let parts: Vec<String> = m
        .iter()
        .filter(|(k, _)| !NON_GENERIC.contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={}", java_double(v.0)))
        .collect();
    Value::String(parts.join(" "))
}

fn total_memory(s: &SupervisorSummary) -> f64 {
    let r = s.total_resources.as_ref();
    r.and_then(|r| {
        r.get("memory.mb")
            .or_else(|| r.get("supervisor.memory.capacity.mb"))
    })
    .map_or(0.0, |v| v.0)
}

fn total_cpu(s: &SupervisorSummary) -> f64 {
    let r = s.total_resources.as_ref();
    r.and_then(|r| {
        r.get("cpu.pcore.percent")
            .or_else(|| r.get("supervisor.cpu.capacity"))
    })
    .map_or(0.0, |v| v.0)
}

fn subtract(
    total: &BTreeMap<String, OrderedFloat<f64>>,
    used: Option<&BTreeMap<String, OrderedFloat<f64>>>,
) -> BTreeMap<String, OrderedFloat<f64>> {
    let mut out = total.clone();
    for (k, v) in used.into_iter().flatten() {
        let e = out.entry(k.clone()).or_insert(OrderedFloat(0.0));
        e.0 -= v.0;
    }
    out
}

/// `/cluster/summary` (`getClusterSummary`).
pub fn cluster_summary(s: &ClusterSummary, conf: &Config) -> Value {
    let sups = &s.supervisors;
    let used_slots: i64 = sups.iter().map(|x| i64::from(x.num_used_workers)).sum();
    let total_slots: i64 = sups.iter().map(|x| i64::from(x.num_workers)).sum();
    let tasks: i64 = s.topologies.iter().map(|t| i64::from(t.num_tasks)).sum();
    let executors: i64 = s
        .topologies
        .iter()
        .map(|t| i64::from(t.num_executors))
        .sum();
    let total_mem: f64 = sups.iter().map(total_memory).sum();
    let total_cpu: f64 = sups.iter().map(total_cpu).sum();
    let used_mem: f64 = sups.iter().map(|x| of(x.used_mem)).sum();
    let used_cpu: f64 = sups.iter().map(|x| of(x.used_cpu)).sum();
    let mut total_generic: BTreeMap<String, OrderedFloat<f64>> = BTreeMap::new();
    let mut used_generic: BTreeMap<String, OrderedFloat<f64>> = BTreeMap::new();
    for x in sups {
        for (k, v) in x.total_resources.iter().flatten() {
            total_generic
                .entry(k.clone())
                .or_insert(OrderedFloat(0.0))
                .0 += v.0;
        }
        for (k, v) in x.used_generic_resources.iter().flatten() {
            used_generic.entry(k.clone()).or_insert(OrderedFloat(0.0)).0 += v.0;
        }
    }
    let percent = |used: f64, total: f64| {
        if total > 0.0 {
            float_str(Some(used * 100.0 / total))
        } else {
            "0.0".to_string()
        }
    };
    json!({
        "user": Value::Null,
        "stormVersion": crate::STORM_VERSION,
        "stormVersionInfo": {
            "version": crate::STORM_VERSION,
            "revision": format!("storm-rs {}", crate::STORM_RS_VERSION),
            "branch": "storm-rs",
            "date": "",
            "srcChecksum": "",
        },
        "supervisors": sups.len(),
        "topologies": s.topologies.len(),
        "slotsUsed": used_slots,
        "slotsTotal": total_slots,
        "slotsFree": total_slots - used_slots,
        "tasksTotal": tasks,
        "executorsTotal": executors,
        "totalMem": num(total_mem),
        "totalCpu": num(total_cpu),
        "availMem": num(total_mem - used_mem),
        "availCpu": num(total_cpu - used_cpu),
        "fragmentedMem": num(sups.iter().map(|x| of(x.fragmented_mem)).sum()),
        "fragmentedCpu": num(sups.iter().map(|x| of(x.fragmented_cpu)).sum()),
        "schedulerDisplayResource": conf_value(conf, "scheduler.display.resource"),
        "memAssignedPercentUtil": percent(used_mem, total_mem),
        "cpuAssignedPercentUtil": percent(used_cpu, total_cpu),
        "bugtracker-url": conf_value(conf, "ui.project.bugtracker.url"),
        "central-log-url": conf_value(conf, "ui.central.logging.url"),
        "availGenerics": generic_resources(Some(&subtract(&total_generic, Some(&used_generic)))),
        "totalGenerics": generic_resources(Some(&total_generic)),
    })
}

/// Java's `Utils.isLocalhostAddress`.
fn is_localhost(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "0:0:0:0:0:0:0:1" | "::1")
}

/// `/nimbus/summary` (`getNimbusSummary`): the registered nimbuses, then every seed (not on
/// localhost) that has not registered, as `"Offline"`.
pub fn nimbus_summary(nimbuses: &[NimbusSummary], conf: &Config) -> Value {
    let port = conf.get_i64("nimbus.thrift.port").unwrap_or(6627);
    let mut seeds: Vec<String> = conf
        .get_string_list("nimbus.seeds")
        .unwrap_or_default()
        .into_iter()
        .filter(|h| !is_localhost(h))
        .map(|h| format!("{h}:{port}"))
        .collect();
    let mut out = Vec::new();
    for n in nimbuses {
        out.push(json!({
            "host": n.host,
            "port": n.port,
            "status": if n.is_leader { "Leader" } else { "Not a Leader" },
            "version": n.version,
            "nimbusUpTimeSeconds": n.uptime_secs,
            "nimbusUpTime": pretty_uptime_secs(i64::from(n.uptime_secs)),
            "nimbusLogLink": daemon_log_link(conf, &n.host, "nimbus"),
        }));
        let me = format!("{}:{}", n.host, n.port);
        seeds.retain(|s| *s != me);
    }
    for seed in seeds {
        let (host, port) = seed.rsplit_once(':').unwrap_or((seed.as_str(), ""));
        out.push(json!({
            "host": host,
            "port": port,
            "status": "Offline",
            "version": "Not applicable",
            "nimbusUpTimeSeconds": "Not applicable",
            "nimbusUpTime": "Not applicable",
            "nimbusLogLink": daemon_log_link(conf, host, "nimbus"),
        }));
    }
    json!({ "nimbuses": out })
}

/// One supervisor (`getPrettifiedSupervisorMap`).
fn supervisor_map(s: &SupervisorSummary, conf: &Config) -> Value {
    let (total_mem, total_cpu) = (total_memory(s), total_cpu(s));
    let (used_mem, used_cpu) = (of(s.used_mem), of(s.used_cpu));
    let total = s.total_resources.clone().unwrap_or_default();
    json!({
        "id": s.supervisor_id,
        "host": s.host,
        "uptime": pretty_uptime_secs(i64::from(s.uptime_secs)),
        "blacklisted": s.blacklisted.unwrap_or(false),
        "uptimeSeconds": s.uptime_secs,
        "slotsTotal": s.num_workers,
        "slotsUsed": s.num_used_workers,
        "slotsFree": (s.num_workers - s.num_used_workers).max(0),
        "totalMem": num(total_mem),
        "totalCpu": num(total_cpu),
        "usedMem": num(used_mem),
        "usedCpu": num(used_cpu),
        "logLink": daemon_log_link(conf, &s.host, "supervisor"),
        "availMem": num(total_mem - used_mem),
        "availCpu": num(total_cpu - used_cpu),
        "version": s.version,
        "totalGenericResources": generic_resources(Some(&total)),
        "usedGenericResources": generic_resources(s.used_generic_resources.as_ref()),
        "availGenericResources":
            generic_resources(Some(&subtract(&total, s.used_generic_resources.as_ref()))),
    })
}

fn add_logviewer(conf: &Config, out: &mut Map<String, Value>) {
    let (scheme, port) = logviewer(conf);
    out.insert("logviewerPort".into(), json!(port));
    out.insert("logviewerScheme".into(), json!(scheme));
}

/// `/supervisor/summary` (`getSupervisorSummary`).
pub fn supervisor_summary(list: &[SupervisorSummary], conf: &Config) -> Value {
    let mut out = Map::new();
    add_logviewer(conf, &mut out);
    out.insert(
        "supervisors".into(),
        Value::Array(list.iter().map(|s| supervisor_map(s, conf)).collect()),
    );
    out.insert(
        "schedulerDisplayResource".into(),
        conf_value(conf, "scheduler.display.resource"),
    );
    Value::Object(out)
}

/// One worker (`getWorkerSummaryMap`).
fn worker_map(w: &WorkerSummary, conf: &Config) -> Value {
    let host = w.host.clone().unwrap_or_default();
    let port = w.port.unwrap_or(0);
    let topology = w.topology_id.clone().unwrap_or_default();
    let uptime = w.uptime_secs.unwrap_or(0);
    json!({
        "supervisorId": w.supervisor_id,
        "host": w.host,
        "port": port,
        "topologyId": w.topology_id,
        "topologyName": w.topology_name,
        "executorsTotal": w.num_executors.unwrap_or(0),
        "assignedMemOnHeap": num(of(w.assigned_memonheap)),
        "assignedMemOffHeap": num(of(w.assigned_memoffheap)),
        "assignedCpu": num(of(w.assigned_cpu)),
        "componentNumTasks": w.component_to_num_tasks,
        "uptime": pretty_uptime_secs(i64::from(uptime)),
        "uptimeSeconds": uptime,
        "workerLogLink": worker_log_link(conf, &host, i64::from(port), &topology),
        "owner": w.owner,
    })
}

/// `/supervisor?id=|host=` (`getSupervisorPageInfo`).
pub fn supervisor_page(p: &SupervisorPageInfo, conf: &Config) -> Value {
    let mut out = Map::new();
    out.insert(
        "workers".into(),
        Value::Array(
            p.worker_summaries
                .iter()
                .flatten()
                .map(|w| worker_map(w, conf))
                .collect(),
        ),
    );
    out.insert(
        "schedulerDisplayResource".into(),
        conf_value(conf, "scheduler.display.resource"),
    );
    out.insert(
        "supervisors".into(),
        Value::Array(
            p.supervisor_summaries
                .iter()
                .flatten()
                .map(|s| supervisor_map(s, conf))
                .collect(),
        ),
    );
    add_logviewer(conf, &mut out);
    Value::Object(out)
}

/// One topology of `/topology/summary` (`getTopologyMap`).
pub fn topology_map(t: &TopologySummary) -> Value {
    let (req_on, req_off) = (of(t.requested_memonheap), of(t.requested_memoffheap));
    let (as_on, as_off) = (of(t.assigned_memonheap), of(t.assigned_memoffheap));
    json!({
        "id": t.id,
        "encodedId": url_encode(&t.id),
        "owner": t.owner,
        "name": t.name,
        "status": t.status,
        "uptime": pretty_uptime_secs(i64::from(t.uptime_secs)),
        "uptimeSeconds": t.uptime_secs,
        "tasksTotal": t.num_tasks,
        "workersTotal": t.num_workers,
        "executorsTotal": t.num_executors,
        "replicationCount": t.replication_count.unwrap_or(0),
        "schedulerInfo": t.sched_status,
        "requestedMemOnHeap": num(req_on),
        "requestedMemOffHeap": num(req_off),
        "requestedTotalMem": num(req_on + req_off),
        "requestedCpu": num(of(t.requested_cpu)),
        "requestedGenericResources": generic_resources(t.requested_generic_resources.as_ref()),
        "assignedMemOnHeap": num(as_on),
        "assignedMemOffHeap": num(as_off),
        "assignedTotalMem": num(as_on + as_off),
        "assignedCpu": num(of(t.assigned_cpu)),
        "assignedGenericResources": generic_resources(t.assigned_generic_resources.as_ref()),
        "topologyVersion": t.topology_version,
        "stormVersion": t.storm_version,
    })
}

/// `/topology/summary` (`getAllTopologiesSummary`).
pub fn topology_summary(list: &[TopologySummary], conf: &Config) -> Value {
    json!({
        "topologies": list.iter().map(topology_map).collect::<Vec<_>>(),
        "schedulerDisplayResource": conf_value(conf, "scheduler.display.resource"),
    })
}

/// `/owner-resources` (`getOwnerResourceSummaries`).
pub fn owner_resources(list: &[OwnerResourceSummary], conf: &Config) -> Value {
    json!({
        "schedulerDisplayResource": conf_value(conf, "scheduler.display.resource"),
        "owners": list.iter().map(owner_map).collect::<Vec<_>>(),
    })
}

/// `/owner-resources/<owner>` (`getOwnerResourceSummary`).
pub fn owner_resource(
    list: &[OwnerResourceSummary],
    topologies: &[TopologySummary],
    owner: &str,
    conf: &Config,
) -> Value {
    let Some(first) = list.first() else {
        return owner_map(&OwnerResourceSummary {
            owner: owner.to_string(),
            ..empty_owner()
        });
    };
    let mut out = Map::new();
    out.insert(
        "schedulerDisplayResource".into(),
        conf_value(conf, "scheduler.display.resource"),
    );
    if let Value::Object(m) = owner_map(first) {
        out.extend(m);
    }
    out.insert(
        "topologies".into(),
        Value::Array(
            topologies
                .iter()
                .filter(|t| t.owner.as_deref() == Some(owner))
                .map(topology_map)
                .collect(),
        ),
    );
    Value::Object(out)
}

fn empty_owner() -> OwnerResourceSummary {
    OwnerResourceSummary {
        owner: String::new(),
        total_topologies: None,
        total_executors: None,
        total_workers: None,
        memory_usage: None,
        cpu_usage: None,
        memory_guarantee: None,
        cpu_guarantee: None,
        memory_guarantee_remaining: None,
        cpu_guarantee_remaining: None,
        isolated_node_guarantee: None,
        total_tasks: None,
        requested_on_heap_memory: None,
        requested_off_heap_memory: None,
        requested_total_memory: None,
        requested_cpu: None,
        assigned_on_heap_memory: None,
        assigned_off_heap_memory: None,
    }
}

/// `unpackOwnerResourceSummary`: guarantees not set are `"N/A"`.
fn owner_map(o: &OwnerResourceSummary) -> Value {
    let na = |v: Option<OrderedFloat<f64>>| v.map_or(json!("N/A"), |f| num(f.0));
    json!({
        "owner": o.owner,
        "totalTopologies": o.total_topologies.unwrap_or(0),
        "totalExecutors": o.total_executors.unwrap_or(0),
        "totalWorkers": o.total_workers.unwrap_or(0),
        "totalTasks": o.total_tasks.unwrap_or(0),
        "totalMemoryUsage": num(of(o.memory_usage)),
        "totalCpuUsage": num(of(o.cpu_usage)),
        "memoryGuarantee": na(o.memory_guarantee),
        "cpuGuarantee": na(o.cpu_guarantee),
        "isolatedNodes": o.isolated_node_guarantee.unwrap_or(-1),
        "memoryGuaranteeRemaining": na(o.memory_guarantee_remaining),
        "cpuGuaranteeRemaining": na(o.cpu_guarantee_remaining),
        "totalReqOnHeapMem": num(of(o.requested_on_heap_memory)),
        "totalReqOffHeapMem": num(of(o.requested_off_heap_memory)),
        "totalReqMem": num(of(o.requested_total_memory)),
        "totalReqCpu": num(of(o.requested_cpu)),
        "totalAssignedOnHeapMem": num(of(o.assigned_on_heap_memory)),
        "totalAssignedOffHeapMem": num(of(o.assigned_off_heap_memory)),
    })
}

/// `/history/summary`.
pub fn history(ids: Vec<String>) -> Value {
    json!({ "topo-history": ids })
}

/// Windows in the order the UI shows them: rolling windows by length, then `:all-time`.
fn window_order(a: &str, b: &str) -> std::cmp::Ordering {
    let key = |w: &str| match w.parse::<i64>() {
        Ok(n) => (0, n, String::new()),
        Err(_) => (1, 0, w.to_string()),
    };
    key(a).cmp(&key(b))
}

fn truncated(error: &str) -> String {
    error.chars().take(200).collect()
}

/// `getComponentErrorInfo`: one error with its host, port, time and worker log link.
fn error_map(e: &ErrorInfo, conf: &Config, topology_id: &str, as_last: bool) -> Map<String, Value> {
    let host = e.host.clone().unwrap_or_default();
    let port = e.port.unwrap_or(0);
    let mut m = Map::new();
    m.insert("errorTime".into(), json!(e.error_time_secs));
    m.insert("errorHost".into(), json!(e.host));
    m.insert("errorPort".into(), json!(port));
    m.insert(
        "errorWorkerLogLink".into(),
        json!(worker_log_link(conf, &host, i64::from(port), topology_id)),
    );
    m.insert(
        "errorLapsedSecs".into(),
        json!(now_secs() - i64::from(e.error_time_secs)),
    );
    if as_last {
        m.insert("lastError".into(), json!(truncated(&e.error)));
    } else {
        m.insert("error".into(), json!(e.error));
    }
    m
}

/// `getComponentLastErrorInfo`: Storm's empty template, or the last error.
fn last_error(e: Option<&ErrorInfo>, conf: &Config, topology_id: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("lastError".into(), json!(""));
    m.insert("errorHost".into(), json!(""));
    m.insert("errorPort".into(), Value::Null);
    m.insert("errorWorkerLogLink".into(), json!(""));
    m.insert("errorTime".into(), Value::Null);
    m.insert("errorLapsedSecs".into(), Value::Null);
    if let Some(e) = e {
        m.extend(error_map(e, conf, topology_id, true));
    }
    m
}

fn common(s: &ComponentAggregateStats) -> CommonAggregateStats {
    s.common_stats.clone().unwrap_or_default()
}

fn spout_stats(s: &ComponentAggregateStats) -> SpoutAggregateStats {
    match &s.specific_stats {
        Some(SpecificAggregateStats::Spout(x)) => x.clone(),
        _ => SpoutAggregateStats::default(),
    }
}

fn bolt_stats(s: &ComponentAggregateStats) -> BoltAggregateStats {
    match &s.specific_stats {
        Some(SpecificAggregateStats::Bolt(x)) => x.clone(),
        _ => BoltAggregateStats::default(),
    }
}

/// storm-rs's extra spout fields: the failures by cause (timeout, explicit `fail`).
fn spout_failure_causes(m: &mut Map<String, Value>, sp: &SpoutAggregateStats) {
    if let Some(n) = sp.failed_timeout {
        m.insert("failedTimeout".into(), json!(n));
    }
    if let Some(n) = sp.failed_explicit {
        m.insert("failedExplicit".into(), json!(n));
    }
}

/// `getCommonAggStatsMap`.
fn common_map(c: &CommonAggregateStats) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("executors".into(), json!(c.num_executors.unwrap_or(0)));
    m.insert("tasks".into(), json!(c.num_tasks.unwrap_or(0)));
    m.insert("emitted".into(), json!(c.emitted.unwrap_or(0)));
    m.insert("transferred".into(), json!(c.transferred.unwrap_or(0)));
    m.insert("acked".into(), json!(c.acked.unwrap_or(0)));
    m.insert("failed".into(), json!(c.failed.unwrap_or(0)));
    // storm-rs's extra field (never in place of Storm's): errors reported by the component.
    if let Some(n) = c.reported_errors {
        m.insert("reportedErrors".into(), json!(n));
    }
    if let Some(r) = &c.resources_map {
        let get = |k: &str| r.get(k).map_or(Value::Null, |v| num(v.0));
        m.insert("requestedMemOnHeap".into(), get("onheap.memory.mb"));
        m.insert("requestedMemOffHeap".into(), get("offheap.memory.mb"));
        m.insert("requestedCpu".into(), get("cpu.pcore.percent"));
        m.insert(
            "requestedGenericResourcesComp".into(),
            generic_resources(Some(r)),
        );
    }
    m
}

/// `/topology/<id>` and the pieces of it (`getTopologySummary` + `unpackTopologyInfo`).
pub fn topology_page(p: &TopologyPageInfo, window: &str, conf: &Config) -> Value {
    let id = p.id.as_str();
    let topo_conf: Map<String, Value> = p
        .topology_conf
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    let msg_timeout = topo_conf
        .get("topology.message.timeout.secs")
        .and_then(Value::as_i64)
        .unwrap_or(30);
    let (req_on, req_off) = (of(p.requested_memonheap), of(p.requested_memoffheap));
    let (as_on, as_off) = (of(p.assigned_memonheap), of(p.assigned_memoffheap));
    let uptime = p.uptime_secs.unwrap_or(0);

    // topologyStats: one entry per window nimbus reports emitted counts for.
    let stats = p.topology_stats.clone().unwrap_or_default();
    let emitted = stats.window_to_emitted.unwrap_or_default();
    let transferred = stats.window_to_transferred.unwrap_or_default();
    let latency = stats.window_to_complete_latencies_ms.unwrap_or_default();
    let acked = stats.window_to_acked.unwrap_or_default();
    let failed = stats.window_to_failed.unwrap_or_default();
    let failed_timeout = stats.window_to_failed_timeout.unwrap_or_default();
    let failed_explicit = stats.window_to_failed_explicit.unwrap_or_default();
    let reported_errors = stats.window_to_reported_errors.unwrap_or_default();
    let mut windows: Vec<&String> = emitted.keys().collect();
    windows.sort_by(|a, b| window_order(a, b));
    let topology_stats: Vec<Value> = windows
        .into_iter()
        .map(|w| {
            json!({
                "windowPretty": window_hint(w).unwrap_or_else(|| w.clone()),
                "window": w,
                "emitted": emitted.get(w),
                "transferred": transferred.get(w),
                "completeLatency": float_str(latency.get(w).map(|v| v.0)),
                "acked": acked.get(w).copied().unwrap_or(0),
                "failed": failed.get(w).copied().unwrap_or(0),
                // storm-rs's extra fields: the failures by cause.
                "failedTimeout": failed_timeout.get(w).copied().unwrap_or(0),
                "failedExplicit": failed_explicit.get(w).copied().unwrap_or(0),
                "reportedErrors": reported_errors.get(w).copied().unwrap_or(0),
            })
        })
        .collect();

    let spouts: Vec<Value> = p
        .id_to_spout_agg_stats
        .iter()
        .flatten()
        .map(|(sid, s)| {
            let mut m = common_map(&common(s));
            m.insert("spoutId".into(), json!(sid));
            m.insert("encodedSpoutId".into(), json!(url_encode(sid)));
            let sp = spout_stats(s);
            m.insert(
                "completeLatency".into(),
                json!(float_str(sp.complete_latency_ms.map(|v| v.0))),
            );
            spout_failure_causes(&mut m, &sp);
            m.extend(last_error(s.last_error.as_ref(), conf, id));
            Value::Object(m)
        })
        .collect();
    let bolts: Vec<Value> = p
        .id_to_bolt_agg_stats
        .iter()
        .flatten()
        .map(|(bid, s)| {
            let b = bolt_stats(s);
            let mut m = common_map(&common(s));
            m.insert("boltId".into(), json!(bid));
            m.insert("encodedBoltId".into(), json!(url_encode(bid)));
            m.insert("capacity".into(), json!(float_str(b.capacity.map(|v| v.0))));
            m.insert(
                "executeLatency".into(),
                json!(float_str(b.execute_latency_ms.map(|v| v.0))),
            );
            m.insert("executed".into(), json!(b.executed.unwrap_or(0)));
            m.insert(
                "processLatency".into(),
                json!(float_str(b.process_latency_ms.map(|v| v.0))),
            );
            m.extend(last_error(s.last_error.as_ref(), conf, id));
            Value::Object(m)
        })
        .collect();
    let debug = p
        .debug_options
        .as_ref()
        .and_then(|d| d.enable)
        .unwrap_or(false);
    let sampling = if debug {
        p.debug_options
            .as_ref()
            .and_then(|d| d.samplingpct)
            .map_or(0.0, |v| v.0)
    } else {
        10.0
    };
    let head = json!({
        "id": id,
        "encodedId": url_encode(id),
        "owner": p.owner,
        "name": p.name,
        "status": p.status,
        "uptime": pretty_uptime_secs(i64::from(uptime)),
        "uptimeSeconds": uptime,
        "tasksTotal": p.num_tasks.unwrap_or(0),
        "workersTotal": p.num_workers.unwrap_or(0),
        "executorsTotal": p.num_executors.unwrap_or(0),
        "schedulerInfo": p.sched_status,
        "requestedMemOnHeap": num(req_on),
        "requestedMemOffHeap": num(req_off),
        "requestedCpu": num(of(p.requested_cpu)),
        "requestedTotalMem": num(req_on + req_off),
        "assignedMemOnHeap": num(as_on),
        "assignedMemOffHeap": num(as_off),
        "assignedTotalMem": num(as_on + as_off),
        "assignedCpu": num(of(p.assigned_cpu)),
        "requestedRegularOnHeapMem": num(of(p.requested_regular_on_heap_memory)),
        "requestedSharedOnHeapMem": num(of(p.requested_shared_on_heap_memory)),
        "requestedRegularOffHeapMem": num(of(p.requested_regular_off_heap_memory)),
        "requestedSharedOffHeapMem": num(of(p.requested_shared_off_heap_memory)),
        "requestedGenericResources": generic_resources(p.requested_generic_resources.as_ref()),
        "assignedRegularOnHeapMem": num(of(p.assigned_regular_on_heap_memory)),
        "assignedSharedOnHeapMem": num(of(p.assigned_shared_on_heap_memory)),
        "assignedRegularOffHeapMem": num(of(p.assigned_regular_off_heap_memory)),
        "assignedSharedOffHeapMem": num(of(p.assigned_shared_off_heap_memory)),
        "assignedGenericResources": generic_resources(p.assigned_generic_resources.as_ref()),
    });
    let rest = json!({
        "topologyStats": topology_stats,
        "workers": p.workers.iter().flatten().map(|w| worker_map(w, conf)).collect::<Vec<_>>(),
        "spouts": spouts,
        "bolts": bolts,
        "debug": debug,
        "samplingPct": num(sampling),
        "replicationCount": p.replication_count.unwrap_or(0),
        "topologyVersion": p.topology_version,
        "stormVersion": p.storm_version,
        "user": Value::Null,
        "window": window,
        "windowHint": window_hint(window),
        "msgTimeout": msg_timeout,
        "configuration": topo_conf,
        "visualizationTable": [],
        "schedulerDisplayResource": conf_value(conf, "scheduler.display.resource"),
        "bugtracker-url": conf_value(conf, "ui.project.bugtracker.url"),
        "central-log-url": conf_value(conf, "ui.central.logging.url"),
    });
    merge(head, rest)
}

/// The fields of `a` followed by those of `b` (objects; anything else is `a`).
fn merge(a: Value, b: Value) -> Value {
    match (a, b) {
        (Value::Object(mut a), Value::Object(b)) => {
            a.extend(b);
            Value::Object(a)
        }
        (a, _) => a,
    }
}

/// `/topology-workers/<id>` (`getTopologyWorkers`): every distinct host and port.
pub fn topology_workers(info: &TopologyInfo, conf: &Config) -> Value {
    let slots: BTreeSet<(String, i32)> = info
        .executors
        .iter()
        .map(|e| (e.host.clone(), e.port))
        .collect();
    let mut out = Map::new();
    out.insert(
        "hostPortList".into(),
        Value::Array(
            slots
                .into_iter()
                .map(|(host, port)| json!({ "host": host, "port": port }))
                .collect(),
        ),
    );
    add_logviewer(conf, &mut out);
    Value::Object(out)
}

fn pretty_executor(e: &ExecutorSummary) -> String {
    format!(
        "[{}-{}]",
        e.executor_info.task_start, e.executor_info.task_end
    )
}

/// One executor of the component page (`getSpoutExecutorStats` / `getBoltExecutorStats`).
fn executor_map(e: &ExecutorAggregateStats, topology_id: &str, conf: &Config) -> Option<Value> {
    let summary = e.exec_summary.as_ref()?;
    let stats = e.stats.clone().unwrap_or_default();
    let c = common(&stats);
    let id = pretty_executor(summary);
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    m.insert("encodedId".into(), json!(url_encode(&id)));
    m.insert(
        "uptime".into(),
        json!(pretty_uptime_secs(i64::from(summary.uptime_secs))),
    );
    m.insert("uptimeSeconds".into(), json!(summary.uptime_secs));
    m.insert("host".into(), json!(summary.host));
    m.insert("port".into(), json!(summary.port));
    m.insert("emitted".into(), json!(c.emitted.unwrap_or(0)));
    m.insert("transferred".into(), json!(c.transferred.unwrap_or(0)));
    match &stats.specific_stats {
        Some(SpecificAggregateStats::Bolt(b)) => {
            m.insert(
                "capacity".into(),
                json!(float_str(Some(b.capacity.map_or(0.0, |v| v.0)))),
            );
            m.insert(
                "executeLatency".into(),
                json!(float_str(b.execute_latency_ms.map(|v| v.0))),
            );
            m.insert("executed".into(), json!(b.executed.unwrap_or(0)));
            m.insert(
                "processLatency".into(),
                json!(float_str(b.process_latency_ms.map(|v| v.0))),
            );
        }
        _ => {
            let sp = spout_stats(&stats);
            m.insert(
                "completeLatency".into(),
                json!(float_str(sp.complete_latency_ms.map(|v| v.0))),
            );
            spout_failure_causes(&mut m, &sp);
        }
    }
    m.insert("acked".into(), json!(c.acked.unwrap_or(0)));
    m.insert("failed".into(), json!(c.failed.unwrap_or(0)));
    m.insert(
        "workerLogLink".into(),
        json!(worker_log_link(
            conf,
            &summary.host,
            i64::from(summary.port),
            topology_id
        )),
    );
    Some(Value::Object(m))
}

/// `/topology/<id>/component/<component>` (`getComponentPage`).
pub fn component_page(
    p: &ComponentPageInfo,
    topology_id: &str,
    window: &str,
    conf: &Config,
) -> Value {
    let is_bolt = p.component_type == ComponentType::BOLT;
    let mut out = Map::new();
    let mut windows: Vec<(&String, &ComponentAggregateStats)> =
        p.window_to_stats.iter().flatten().collect();
    windows.sort_by(|a, b| window_order(a.0, b.0));
    let window_stats: Vec<Value> = windows
        .into_iter()
        .map(|(w, s)| {
            let c = common(s);
            let mut m = Map::new();
            m.insert("window".into(), json!(w));
            m.insert("windowPretty".into(), json!(window_hint(w)));
            m.insert("emitted".into(), json!(c.emitted.unwrap_or(0)));
            m.insert("transferred".into(), json!(c.transferred.unwrap_or(0)));
            m.insert("acked".into(), json!(c.acked.unwrap_or(0)));
            m.insert("failed".into(), json!(c.failed.unwrap_or(0)));
            if let Some(n) = c.reported_errors {
                m.insert("reportedErrors".into(), json!(n));
            }
            if is_bolt {
                let b = bolt_stats(s);
                m.insert(
                    "executeLatency".into(),
                    json!(float_str(b.execute_latency_ms.map(|v| v.0))),
                );
                m.insert("executed".into(), json!(b.executed.unwrap_or(0)));
                m.insert(
                    "processLatency".into(),
                    json!(float_str(b.process_latency_ms.map(|v| v.0))),
                );
                m.insert("capacity".into(), json!(float_str(b.capacity.map(|v| v.0))));
            } else {
                // Storm puts the raw double here (a number), unlike everywhere else.
                let sp = spout_stats(s);
                m.insert(
                    "completeLatency".into(),
                    num(sp.complete_latency_ms.map_or(0.0, |v| v.0)),
                );
                spout_failure_causes(&mut m, &sp);
                m.insert(
                    "lastError".into(),
                    json!(s
                        .last_error
                        .as_ref()
                        .map_or(String::new(), |e| truncated(&e.error))),
                );
            }
            Value::Object(m)
        })
        .collect();
    let outputs: Vec<Value> = p
        .sid_to_output_stats
        .iter()
        .flatten()
        .map(|(stream, s)| {
            let c = common(s);
            let mut m = Map::new();
            m.insert("stream".into(), json!(stream));
            m.insert("emitted".into(), json!(c.emitted.unwrap_or(0)));
            m.insert("transferred".into(), json!(c.transferred.unwrap_or(0)));
            if !is_bolt {
                m.insert(
                    "completeLatency".into(),
                    json!(float_str(spout_stats(s).complete_latency_ms.map(|v| v.0))),
                );
                m.insert("acked".into(), json!(c.acked.unwrap_or(0)));
                m.insert("failed".into(), json!(c.failed.unwrap_or(0)));
            }
            Value::Object(m)
        })
        .collect();
    let executors: Vec<Value> = p
        .exec_stats
        .iter()
        .flatten()
        .filter_map(|e| executor_map(e, topology_id, conf))
        .collect();
    if is_bolt {
        out.insert("boltStats".into(), Value::Array(window_stats));
        let inputs: Vec<Value> = p
            .gsid_to_input_stats
            .iter()
            .flatten()
            .map(|(g, s)| {
                let b = bolt_stats(s);
                let c = common(s);
                json!({
                    "component": g.component_id,
                    "encodedComponentId": url_encode(&g.component_id),
                    "stream": g.stream_id,
                    "executeLatency": float_str(b.execute_latency_ms.map(|v| v.0)),
                    "processLatency": float_str(b.process_latency_ms.map(|v| v.0)),
                    "executed": b.executed.unwrap_or(0),
                    "acked": c.acked.unwrap_or(0),
                    "failed": c.failed.unwrap_or(0),
                })
            })
            .collect();
        out.insert("inputStats".into(), Value::Array(inputs));
    } else {
        out.insert("spoutSummary".into(), Value::Array(window_stats));
    }
    out.insert("outputStats".into(), Value::Array(outputs));
    out.insert("executorStats".into(), Value::Array(executors));
    let mut errors: Vec<&ErrorInfo> = p.errors.iter().flatten().collect();
    errors.sort_by_key(|e| e.error_time_secs);
    out.insert(
        "componentErrors".into(),
        Value::Array(
            errors
                .into_iter()
                .map(|e| Value::Object(error_map(e, conf, topology_id, false)))
                .collect(),
        ),
    );
    let resources = p.resources_map.clone().unwrap_or_default();
    let res = |k: &str| resources.get(k).map_or(Value::Null, |v| num(v.0));
    let component = p.component_id.as_str();
    let debug = p.debug_options.as_ref();
    out.insert("user".into(), Value::Null);
    out.insert("id".into(), json!(component));
    out.insert("encodedId".into(), json!(url_encode(component)));
    out.insert("name".into(), json!(p.topology_name));
    out.insert("executors".into(), json!(p.num_executors.unwrap_or(0)));
    out.insert("tasks".into(), json!(p.num_tasks.unwrap_or(0)));
    out.insert("requestedMemOnHeap".into(), res("onheap.memory.mb"));
    out.insert("requestedMemOffHeap".into(), res("offheap.memory.mb"));
    out.insert("requestedCpu".into(), res("cpu.pcore.percent"));
    out.insert(
        "requestedGenericResources".into(),
        generic_resources(Some(&resources)),
    );
    out.insert(
        "schedulerDisplayResource".into(),
        conf_value(conf, "scheduler.display.resource"),
    );
    out.insert("topologyId".into(), json!(topology_id));
    out.insert("topologyStatus".into(), json!(p.topology_status));
    out.insert("encodedTopologyId".into(), json!(url_encode(topology_id)));
    out.insert("window".into(), json!(window));
    out.insert(
        "componentType".into(),
        json!(if is_bolt { "bolt" } else { "spout" }),
    );
    out.insert("windowHint".into(), json!(window_hint(window)));
    out.insert(
        "debug".into(),
        json!(debug.and_then(|d| d.enable).unwrap_or(false)),
    );
    out.insert(
        "samplingPct".into(),
        num(debug.map_or(10.0, |d| d.samplingpct.map_or(0.0, |v| v.0))),
    );
    if let Some(host) = p.eventlog_host.as_deref().filter(|h| !h.is_empty()) {
        let port = p.eventlog_port.unwrap_or(0);
        out.insert(
            "eventLogLink".into(),
            json!(super::format::logviewer_link(
                conf,
                host,
                &format!("{topology_id}/{port}/events.log")
            )),
        );
    }
    out.insert("profilingAndDebuggingCapable".into(), json!(true));
    out.insert(
        "profileActionEnabled".into(),
        conf_value(conf, "worker.profiler.enabled"),
    );
    out.insert("profilerActive".into(), json!([]));
    Value::Object(out)
}

/// `/topology/<id>/logconfig` (`getTopolgoyLogConfig`).
pub fn log_config(lc: &LogConfig) -> Value {
    let mut levels = Map::new();
    for (name, l) in lc.named_logger_level.iter().flatten() {
        levels.insert(
            name.clone(),
            json!({
                "target_level": l.target_log_level,
                "reset_level": l.reset_log_level,
                "timeout": l.reset_log_level_timeout_secs.unwrap_or(0),
                "timeout_epoch": l.reset_log_level_timeout_epoch.unwrap_or(0),
            }),
        );
    }
    json!({ "namedLoggerLevels": levels })
}

/// The answer to a topology action (`getTopologyOpResponse`).
pub fn topology_op(id: &str, op: &str) -> Value {
    json!({ "topologyOperation": op, "topologyId": id, "status": "success" })
}

/// One executor's stats summed over streams for one window, system streams left out unless
/// `sys` (Storm's `aggregateSpoutStats`/`aggregateBoltStats` then `aggregate*Streams`).
#[derive(Default, Clone)]
struct StreamTotals {
    /// Stream → count.
    emitted: BTreeMap<String, i64>,
    transferred: BTreeMap<String, i64>,
    /// Spouts: per stream.
    spout: BTreeMap<String, SpoutStream>,
    /// Bolts: per input.
    bolt: BTreeMap<GlobalStreamId, BoltInput>,
}

/// A spout's totals on one stream.
#[derive(Default, Clone, Copy)]
struct SpoutStream {
    acked: i64,
    failed: i64,
    /// Σ complete latency × acked.
    latency_total: f64,
}

/// A bolt's totals on one input.
#[derive(Default, Clone, Copy)]
struct BoltInput {
    acked: i64,
    failed: i64,
    executed: i64,
    /// Σ process latency × acked.
    process_total: f64,
    /// Σ execute latency × executed.
    execute_total: f64,
}

impl StreamTotals {
    fn add(&mut self, e: &ExecutorSummary, window: &str, sys: bool) {
        let Some(stats) = &e.stats else {
            return;
        };
        for (m, out) in [
            (&stats.emitted, &mut self.emitted),
            (&stats.transferred, &mut self.transferred),
        ] {
            for (stream, n) in m.get(window).into_iter().flatten() {
                if sys || !is_system_id(stream) {
                    *out.entry(stream.clone()).or_default() += n;
                }
            }
        }
        match &stats.specific {
            ExecutorSpecificStats::Spout(s) => {
                let acked = s.acked.get(window);
                for (stream, n) in acked.into_iter().flatten() {
                    let lat = s
                        .complete_ms_avg
                        .get(window)
                        .and_then(|m| m.get(stream))
                        .map_or(0.0, |v| v.0);
                    let e = self.spout.entry(stream.clone()).or_default();
                    e.acked += n;
                    e.latency_total += lat * *n as f64;
                }
                for (stream, n) in s.failed.get(window).into_iter().flatten() {
                    self.spout.entry(stream.clone()).or_default().failed += n;
                }
            }
            ExecutorSpecificStats::Bolt(b) => {
                let get = |m: &BTreeMap<String, BTreeMap<GlobalStreamId, i64>>,
                           g: &GlobalStreamId| {
                    m.get(window).and_then(|x| x.get(g)).copied().unwrap_or(0)
                };
                let avg = |m: &BTreeMap<String, BTreeMap<GlobalStreamId, OrderedFloat<f64>>>,
                           g: &GlobalStreamId| {
                    m.get(window).and_then(|x| x.get(g)).map_or(0.0, |v| v.0)
                };
                let mut keys: BTreeSet<&GlobalStreamId> = BTreeSet::new();
                for m in [&b.acked, &b.failed, &b.executed] {
                    keys.extend(m.get(window).into_iter().flatten().map(|(k, _)| k));
                }
                for g in keys {
                    let (acked, executed) = (get(&b.acked, g), get(&b.executed, g));
                    let e = self.bolt.entry(g.clone()).or_default();
                    e.acked += acked;
                    e.failed += get(&b.failed, g);
                    e.executed += executed;
                    e.process_total += avg(&b.process_ms_avg, g) * acked as f64;
                    e.execute_total += avg(&b.execute_ms_avg, g) * executed as f64;
                }
            }
        }
    }
}

fn ratio(total: f64, count: i64) -> f64 {
    if count > 0 {
        total / count as f64
    } else {
        0.0
    }
}

/// Storm's `computeExecutorCapacity`: executed × execute latency over the 10-minute window,
/// divided by `1000 × min(uptime, 600)`.
fn executor_capacity(e: &ExecutorSummary) -> f64 {
    let mut t = StreamTotals::default();
    t.add(e, "600", true);
    let executed: i64 = t.bolt.values().map(|v| v.executed).sum();
    let lat_total: f64 = t.bolt.values().map(|v| v.execute_total).sum();
    let win = i64::from(e.uptime_secs).min(600);
    if win > 0 {
        ratio(lat_total, executed) * executed as f64 / (1000.0 * win as f64)
    } else {
        0.0
    }
}

fn grouping_name(g: &Grouping) -> &'static str {
    match g {
        Grouping::Fields(_) => "fields",
        Grouping::Shuffle(_) => "shuffle",
        Grouping::All(_) => "all",
        Grouping::None(_) => "none",
        Grouping::Direct(_) => "direct",
        Grouping::CustomObject(_) => "custom_object",
        Grouping::CustomSerialized(_) => "custom_serialized",
        Grouping::LocalOrShuffle(_) => "local_or_shuffle",
    }
}

/// `/topology/<id>/visualization` (`getVisualizationData`): per component its type, capacity,
/// latency and transferred count in `window`, per-executor transferred counts by sanitized stream,
/// a link to its page, and its inputs with their groupings. `topology` is the system topology.
pub fn visualization(
    info: &TopologyInfo,
    topology: &StormTopology,
    topology_id: &str,
    window: &str,
    sys: bool,
) -> Value {
    let mut by_component: BTreeMap<&str, Vec<&ExecutorSummary>> = BTreeMap::new();
    for e in &info.executors {
        by_component
            .entry(e.component_id.as_str())
            .or_default()
            .push(e);
    }
    let mut out = Map::new();
    let components = topology
        .spouts
        .iter()
        .map(|(id, s)| (id, &s.common, false))
        .chain(topology.bolts.iter().map(|(id, b)| (id, &b.common, true)));
    for (id, common, is_bolt) in components {
        let Some(execs) = by_component.get(id.as_str()) else {
            continue;
        };
        if is_bolt && !sys && is_system_id(id) {
            continue;
        }
        let mut totals = StreamTotals::default();
        for e in execs {
            totals.add(e, window, sys);
        }
        let has_window = execs.iter().any(|e| {
            e.stats
                .as_ref()
                .is_some_and(|s| s.transferred.contains_key(window))
        });
        let transferred = if has_window {
            json!(totals.transferred.values().sum::<i64>())
        } else {
            Value::Null
        };
        let (capacity, latency) = if is_bolt {
            let cap = execs
                .iter()
                .map(|e| executor_capacity(e))
                .fold(0.0, f64::max);
            let acked: i64 = totals.bolt.values().map(|v| v.acked).sum();
            let lat: f64 = totals.bolt.values().map(|v| v.process_total).sum();
            (num(cap), num(ratio(lat, acked)))
        } else {
            let acked: i64 = totals.spout.values().map(|v| v.acked).sum();
            let lat: f64 = totals.spout.values().map(|v| v.latency_total).sum();
            (json!(0), num(ratio(lat, acked)))
        };
        let stats: Vec<Value> = execs
            .iter()
            .map(|e| {
                let transferred = e.stats.as_ref().map(|s| {
                    s.transferred
                        .iter()
                        .map(|(w, streams)| {
                            let m: Map<String, Value> = streams
                                .iter()
                                .map(|(k, v)| (sanitize_stream_name(k), json!(v)))
                                .collect();
                            (w.clone(), Value::Object(m))
                        })
                        .collect::<Map<String, Value>>()
                });
                json!({
                    ":host": e.host,
                    ":port": e.port,
                    ":uptime_secs": e.uptime_secs,
                    ":transferred": transferred,
                })
            })
            .collect();
        let inputs: Vec<Value> = common
            .inputs
            .iter()
            .map(|(g, grouping)| {
                json!({
                    ":component": g.component_id,
                    ":stream": g.stream_id,
                    ":sani-stream": sanitize_stream_name(&g.stream_id),
                    ":grouping": grouping_name(grouping),
                })
            })
            .collect();
        out.insert(
            id.clone(),
            json!({
                ":type": if is_bolt { "bolt" } else { "spout" },
                ":capacity": capacity,
                ":latency": latency,
                ":transferred": transferred,
                ":stats": stats,
                ":link": format!(
                    "/component.html?id={}&topology_id={}",
                    url_encode(id),
                    url_encode(topology_id)
                ),
                ":inputs": inputs,
            }),
        );
    }
    Value::Object(out)
}

/// `/topology/<id>/visualization-init`: the input streams of every component shown, four per row,
/// system streams unchecked.
pub fn visualization_init(viz: &Value) -> Value {
    let mut streams: BTreeSet<String> = BTreeSet::new();
    if let Some(m) = viz.as_object() {
        for c in m.values() {
            for i in c[":inputs"].as_array().into_iter().flatten() {
                if let Some(s) = i[":stream"].as_str() {
                    streams.insert(s.to_string());
                }
            }
        }
    }
    let boxes: Vec<Value> = streams
        .iter()
        .map(|s| {
            json!({
                "stream": s,
                "sani-stream": sanitize_stream_name(s),
                "checked": !is_system_id(s),
            })
        })
        .collect();
    let rows: Vec<Value> = boxes.chunks(4).map(|c| Value::Array(c.to_vec())).collect();
    json!({ "visualizationTable": rows })
}

/// `/topology/<id>/metrics`: the documented per-stream metrics of every spout and bolt in
/// `window` (`docs/STORM-UI-REST-API.md`).
pub fn metrics(info: &TopologyInfo, topology: &StormTopology, window: &str, sys: bool) -> Value {
    let mut totals: BTreeMap<&str, StreamTotals> = BTreeMap::new();
    for e in &info.executors {
        if !sys && is_system_id(&e.component_id) {
            continue;
        }
        totals
            .entry(e.component_id.as_str())
            .or_default()
            .add(e, window, sys);
    }
    let streams = |m: &BTreeMap<String, i64>| -> Vec<Value> {
        m.iter()
            .map(|(s, v)| json!({ "stream_id": s, "value": v }))
            .collect()
    };
    let mut spouts = Vec::new();
    let mut bolts = Vec::new();
    for (id, t) in &totals {
        if topology.spouts.contains_key(*id) {
            let per_stream = |f: fn(&SpoutStream) -> Value| -> Vec<Value> {
                t.spout
                    .iter()
                    .map(|(s, v)| json!({ "stream_id": s, "value": f(v) }))
                    .collect()
            };
            spouts.push(json!({
                "id": id,
                "emitted": streams(&t.emitted),
                "transferred": streams(&t.transferred),
                "acked": per_stream(|v| json!(v.acked)),
                "failed": per_stream(|v| json!(v.failed)),
                "complete_ms_avg":
                    per_stream(|v| json!(float_str(Some(ratio(v.latency_total, v.acked))))),
            }));
        } else {
            let per_input = |f: fn(&BoltInput) -> Value| -> Vec<Value> {
                t.bolt
                    .iter()
                    .map(|(g, v)| {
                        json!({
                            "component_id": g.component_id,
                            "stream_id": g.stream_id,
                            "value": f(v),
                        })
                    })
                    .collect()
            };
            bolts.push(json!({
                "id": id,
                "emitted": streams(&t.emitted),
                "transferred": streams(&t.transferred),
                "acked": per_input(|v| json!(v.acked)),
                "failed": per_input(|v| json!(v.failed)),
                "process_ms_avg":
                    per_input(|v| json!(float_str(Some(ratio(v.process_total, v.acked))))),
                "executed": per_input(|v| json!(v.executed)),
                "executed_ms_avg":
                    per_input(|v| json!(float_str(Some(ratio(v.execute_total, v.executed))))),
            }));
        }
    }
    json!({
        "window": window,
        "window-hint": window_hint(window),
        "windowHint": window_hint(window),
        "spouts": spouts,
        "bolts": bolts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thrift::{DebugOptions, TopologyStats};

    fn stats(emitted: i64, acked: i64, last_error: Option<ErrorInfo>) -> ComponentAggregateStats {
        ComponentAggregateStats {
            type_: Some(ComponentType::SPOUT),
            common_stats: Some(CommonAggregateStats {
                num_executors: Some(2),
                num_tasks: Some(4),
                emitted: Some(emitted),
                transferred: Some(emitted),
                acked: Some(acked),
                failed: None,
                resources_map: None,
                reported_errors: None,
            }),
            specific_stats: Some(SpecificAggregateStats::Spout(SpoutAggregateStats {
                complete_latency_ms: Some(OrderedFloat(12.34567)),
                failed_timeout: Some(2),
                failed_explicit: Some(1),
            })),
            last_error,
        }
    }

    #[test]
    fn the_topology_page_has_storms_fields_and_types() {
        let conf = Config::defaults();
        let error = ErrorInfo {
            error: "x".repeat(300),
            error_time_secs: 100,
            host: Some("h1".into()),
            port: Some(6700),
        };
        let page = TopologyPageInfo {
            id: "wc-1-2".into(),
            name: Some("wc".into()),
            uptime_secs: Some(213),
            status: Some("ACTIVE".into()),
            topology_conf: Some(r#"{"topology.message.timeout.secs": 45}"#.into()),
            id_to_spout_agg_stats: Some(BTreeMap::from([
                ("a".to_string(), stats(10, 7, None)),
                ("b".to_string(), stats(3, 1, Some(error))),
            ])),
            topology_stats: Some(TopologyStats {
                window_to_emitted: Some(BTreeMap::from([
                    (":all-time".to_string(), 13),
                    ("600".to_string(), 5),
                ])),
                window_to_transferred: None,
                window_to_complete_latencies_ms: Some(BTreeMap::from([(
                    ":all-time".to_string(),
                    OrderedFloat(2.0),
                )])),
                window_to_acked: Some(BTreeMap::from([(":all-time".to_string(), 8)])),
                window_to_failed: None,
                window_to_failed_timeout: None,
                window_to_failed_explicit: None,
                window_to_reported_errors: None,
            }),
            debug_options: Some(DebugOptions {
                enable: Some(true),
                samplingpct: Some(OrderedFloat(20.0)),
            }),
            num_tasks: None,
            num_workers: None,
            num_executors: None,
            id_to_bolt_agg_stats: None,
            sched_status: None,
            owner: None,
            replication_count: None,
            workers: None,
            storm_version: None,
            topology_version: None,
            requested_memonheap: None,
            requested_memoffheap: None,
            requested_cpu: None,
            assigned_memonheap: None,
            assigned_memoffheap: None,
            assigned_cpu: None,
            requested_regular_on_heap_memory: None,
            requested_shared_on_heap_memory: None,
            requested_regular_off_heap_memory: None,
            requested_shared_off_heap_memory: None,
            assigned_regular_on_heap_memory: None,
            assigned_shared_on_heap_memory: None,
            assigned_regular_off_heap_memory: None,
            assigned_shared_off_heap_memory: None,
            requested_generic_resources: None,
            assigned_generic_resources: None,
        };
        let v = topology_page(&page, ":all-time", &conf);
        assert_eq!(v["uptime"], "3m 33s");
        assert_eq!(v["uptimeSeconds"], 213);
        assert_eq!(v["msgTimeout"], 45);
        assert_eq!(v["debug"], true);
        assert_eq!(v["samplingPct"], json!(20.0));
        assert_eq!(v["configuration"]["topology.message.timeout.secs"], 45);
        // Windows in order, all-time last; missing counts are 0, missing latencies "0".
        let stats = v["topologyStats"].as_array().unwrap();
        assert_eq!(stats[0]["window"], "600");
        assert_eq!(stats[0]["windowPretty"], "10m 0s");
        assert_eq!(stats[0]["completeLatency"], "0");
        assert_eq!(stats[0]["acked"], 0);
        assert_eq!(stats[1]["window"], ":all-time");
        assert_eq!(stats[1]["completeLatency"], "2.000");
        let a = &v["spouts"][0];
        assert_eq!(a["spoutId"], "a");
        assert_eq!(a["completeLatency"], "12.346");
        assert_eq!(a["failed"], 0);
        assert_eq!(a["lastError"], "");
        assert_eq!(a["errorPort"], Value::Null);
        assert_eq!(a["errorLapsedSecs"], Value::Null);
        let b = &v["spouts"][1];
        assert_eq!(b["lastError"].as_str().unwrap().len(), 200);
        assert_eq!(b["errorHost"], "h1");
        assert_eq!(b["errorPort"], 6700);
        assert_eq!(b["errorTime"], 100);
        assert_eq!(
            b["errorWorkerLogLink"],
            "http://h1:8000/api/v1/log?file=wc-1-2%2F6700%2Fworker.log"
        );
        assert!(b["errorLapsedSecs"].as_i64().unwrap() > 0);
    }

    #[test]
    fn nimbus_seeds_that_never_registered_are_offline() {
        let mut conf = Config::defaults();
        conf.set("nimbus.seeds", json!(["n1", "n2", "localhost"]));
        let up = NimbusSummary::new("n1".to_string(), 6627, 5, true, "2.8.0".to_string(), None);
        let v = nimbus_summary(&[up], &conf);
        let list = v["nimbuses"].as_array().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0]["status"], "Leader");
        assert_eq!(list[0]["nimbusUpTime"], "5s");
        assert_eq!(list[1]["host"], "n2");
        assert_eq!(list[1]["status"], "Offline");
        assert_eq!(list[1]["nimbusUpTimeSeconds"], "Not applicable");
    }

    #[test]
    fn owners_without_guarantees_read_na() {
        let v = owner_map(&OwnerResourceSummary {
            owner: "alice".into(),
            total_topologies: Some(2),
            ..empty_owner()
        });
        assert_eq!(v["owner"], "alice");
        assert_eq!(v["totalTopologies"], 2);
        assert_eq!(v["memoryGuarantee"], "N/A");
        assert_eq!(v["cpuGuaranteeRemaining"], "N/A");
        assert_eq!(v["isolatedNodes"], -1);
        assert_eq!(v["totalMemoryUsage"], json!(0.0));
        assert_eq!(
            generic_resources(Some(&BTreeMap::from([
                ("memory.mb".to_string(), OrderedFloat(1.0)),
                ("gpu.count".to_string(), OrderedFloat(2.0)),
                ("fpga".to_string(), OrderedFloat(0.5)),
            ]))),
            json!("fpga=0.5 gpu.count=2.0")
        );
    }
}
