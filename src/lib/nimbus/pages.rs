//! The UI's aggregated views (Storm's `getTopologyPageInfo`, `getComponentPageInfo`,
//! `getSupervisorPageInfo`, after `StatsUtil`'s `aggTopoExecsStats`, `aggCompExecsStats` and
//! `aggWorkerStats`): executor stats from `/workerbeats` summed per component, per stream and per
//! window, latencies weighted by their counts, bolt capacity from the 10-minute window.
//!
//! Storm's rules kept: executors without a heartbeat are left out; system components (`__acker`, …)
//! and, for emitted/transferred, system streams are left out unless `is_include_sys`; a topology
//! page whose components have no stats yet gets placeholders from the topology (parallelism hint,
//! `topology.tasks`, zeros); `num_tasks` counts every task of the system topology; latencies are in
//! milliseconds, uptimes and times in seconds.
//!
//! Windows: workers report every executor's stats in all of Storm's windows (`600`, `10800`,
//! `86400` seconds, rolling, and `:all-time`); a page aggregates the `window` asked for, and the
//! topology totals and a component's `window_to_stats` every window there is. storm-rs additions
//! (Thrift fields Storm's clients skip): spout failures by cause (`failed_timeout`,
//! `failed_explicit`) and errors reported by executors (`reported_errors`), summed like `failed`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};
use thrift::OrderedFloat;

use super::core::{now_secs, status_name, to_i32, Nimbus, NimbusError};
use crate::cluster::ExecutorBeat;
use crate::thrift::{
    Assignment, BoltAggregateStats, CommonAggregateStats, ComponentAggregateStats,
    ComponentPageInfo, ComponentType, ExecutorAggregateStats, ExecutorInfo, ExecutorSpecificStats,
    ExecutorStats, ExecutorSummary, GlobalStreamId, SpecificAggregateStats, SpoutAggregateStats,
    StormBase, StormTopology, SupervisorPageInfo, TopologyPageInfo, TopologyStats, WorkerSummary,
};
use crate::topology::system::{is_system_id, parallelism_hint, SYSTEM_COMPONENT_ID};

type Result<T> = std::result::Result<T, NimbusError>;

/// Storm's all-time window key.
pub const ALL_TIME: &str = ":all-time";
/// The window bolt capacity is computed over.
const CAPACITY_WINDOW: &str = "600";

fn f(v: f64) -> OrderedFloat<f64> {
    OrderedFloat(v)
}

/// Σ of one window's counts, leaving out system streams unless `include_sys`.
fn sum_streams(m: &BTreeMap<String, BTreeMap<String, i64>>, w: &str, include_sys: bool) -> i64 {
    m.get(w)
        .map(|s| {
            s.iter()
                .filter(|(k, _)| include_sys || !is_system_id(k))
                .map(|(_, v)| *v)
                .sum()
        })
        .unwrap_or(0)
}

fn sum_all<K>(m: &BTreeMap<String, BTreeMap<K, i64>>, w: &str) -> i64 {
    m.get(w).map(|s| s.values().sum()).unwrap_or(0)
}

/// The errors an executor reported in window `w` (storm-rs addition).
fn reported_errors(stats: &ExecutorStats, w: &str) -> i64 {
    stats
        .reported_errors
        .as_ref()
        .and_then(|m| m.get(w))
        .copied()
        .unwrap_or(0)
}

/// Storm's `weightAvgAndSum`: Σ avg(k) × count(k) over the keys of the averages.
fn weighted<K: Ord>(
    avg: &BTreeMap<String, BTreeMap<K, OrderedFloat<f64>>>,
    count: &BTreeMap<String, BTreeMap<K, i64>>,
    w: &str,
) -> f64 {
    let (Some(a), Some(c)) = (avg.get(w), count.get(w)) else {
        return 0.0;
    };
    a.iter()
        .map(|(k, v)| v.0 * c.get(k).copied().unwrap_or(0) as f64)
        .sum()
}

/// Storm's `computeAggCapacity`: Σ execute latency × executed over the 10-minute window, divided by
/// `1000 × min(uptime, 600)`.
fn capacity(stats: &ExecutorStats, uptime: i64) -> f64 {
    let ExecutorSpecificStats::Bolt(b) = &stats.specific else {
        return 0.0;
    };
    if uptime == 0 {
        return 0.0;
    }
    weighted(&b.execute_ms_avg, &b.executed, CAPACITY_WINDOW) / (uptime.min(600) as f64 * 1000.0)
}

/// One executor with a heartbeat (Storm's `extractDataFromHb` entry).
struct Beat<'a> {
    exec: (i32, i32),
    component: &'a str,
    node: String,
    host: String,
    port: i64,
    uptime: i64,
    stats: ExecutorStats,
}

/// What every page reads about a topology (Storm's `getCommonTopoInfo`).
pub(super) struct Common {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) base: StormBase,
    pub(super) topo_conf: Map<String, Value>,
    pub(super) user: StormTopology,
    pub(super) system: StormTopology,
    pub(super) tasks: std::sync::Arc<BTreeMap<i32, String>>,
    pub(super) assignment: Option<Assignment>,
    pub(super) beats: BTreeMap<Vec<i64>, ExecutorBeat>,
}

impl Common {
    fn is_spout(&self, component: &str) -> bool {
        self.system.spouts.contains_key(component)
    }

    /// Assigned executors (system executor excluded) as (executor key, node, host, port).
    fn slots(&self) -> Vec<(Vec<i64>, String, String, i64)> {
        let Some(a) = &self.assignment else {
            return Vec::new();
        };
        let hosts = a.node_host.clone().unwrap_or_default();
        a.executor_node_port
            .iter()
            .flatten()
            .filter(|(k, _)| k.first().is_some_and(|s| *s >= 0))
            .map(|(k, ni)| {
                let host = hosts
                    .get(&ni.node)
                    .cloned()
                    .unwrap_or_else(|| ni.node.clone());
                (
                    k.clone(),
                    ni.node.clone(),
                    host,
                    ni.first_port().unwrap_or(0),
                )
            })
            .collect()
    }

    fn beats(&self, include_sys: bool, only: Option<&str>) -> Vec<Beat<'_>> {
        let mut out = Vec::new();
        for (k, node, host, port) in self.slots() {
            let Some(info) = ExecutorInfo::from_key(&k) else {
                continue;
            };
            let Some(beat) = self.beats.get(&k) else {
                continue;
            };
            let Some(stats) = beat.stats.clone() else {
                continue;
            };
            let Some(component) = self.tasks.get(&info.task_start) else {
                continue;
            };
            if only.is_some_and(|c| c != component) || (!include_sys && is_system_id(component)) {
                continue;
            }
            out.push(Beat {
                exec: (info.task_start, info.task_end),
                component,
                node,
                host,
                port,
                uptime: i64::from(beat.uptime_secs),
                stats,
            });
        }
        out
    }
}

#[derive(Default, Clone, Copy)]
struct Agg {
    executors: i64,
    tasks: i64,
    emitted: i64,
    transferred: i64,
    acked: i64,
    failed: i64,
    executed: i64,
    /// storm-rs additions: spout failures by cause, errors the executors reported.
    failed_timeout: i64,
    failed_explicit: i64,
    reported_errors: i64,
    /// Spouts: Σ complete latency × acked; bolts: Σ execute latency × executed.
    lat_total: f64,
    proc_lat_total: f64,
    capacity: f64,
}

impl Agg {
    fn common(&self) -> CommonAggregateStats {
        CommonAggregateStats {
            num_executors: Some(to_i32(self.executors)),
            num_tasks: Some(to_i32(self.tasks)),
            emitted: Some(self.emitted),
            transferred: Some(self.transferred),
            acked: Some(self.acked),
            failed: Some(self.failed),
            resources_map: None,
            reported_errors: Some(self.reported_errors),
        }
    }

    /// Storm's `thriftifySpoutAggStats`.
    fn spout(&self) -> ComponentAggregateStats {
        let latency = if self.acked > 0 {
            self.lat_total / self.acked as f64
        } else {
            0.0
        };
        ComponentAggregateStats {
            type_: Some(ComponentType::SPOUT),
            common_stats: Some(self.common()),
            specific_stats: Some(SpecificAggregateStats::Spout(SpoutAggregateStats {
                complete_latency_ms: Some(f(latency)),
                failed_timeout: Some(self.failed_timeout),
                failed_explicit: Some(self.failed_explicit),
            })),
            last_error: None,
        }
    }

    /// Storm's `thriftifyBoltAggStats`.
    fn bolt(&self) -> ComponentAggregateStats {
        let (exec, proc) = if self.executed > 0 {
            (
                self.lat_total / self.executed as f64,
                self.proc_lat_total / self.executed as f64,
            )
        } else {
            (0.0, 0.0)
        };
        ComponentAggregateStats {
            type_: Some(ComponentType::BOLT),
            common_stats: Some(self.common()),
            specific_stats: Some(SpecificAggregateStats::Bolt(BoltAggregateStats {
                execute_latency_ms: Some(f(exec)),
                process_latency_ms: Some(f(proc)),
                executed: Some(self.executed),
                capacity: Some(f(self.capacity)),
            })),
            last_error: None,
        }
    }

    /// Adds one executor's window `w` (emitted/transferred without system streams unless asked).
    fn add(&mut self, b: &Beat<'_>, w: &str, include_sys: bool) {
        self.executors += 1;
        self.tasks += i64::from(b.exec.1 - b.exec.0 + 1);
        self.emitted += sum_streams(&b.stats.emitted, w, include_sys);
        self.transferred += sum_streams(&b.stats.transferred, w, include_sys);
        self.reported_errors += reported_errors(&b.stats, w);
        match &b.stats.specific {
            ExecutorSpecificStats::Spout(s) => {
                self.acked += sum_all(&s.acked, w);
                self.failed += sum_all(&s.failed, w);
                self.failed_timeout += s.failed_timeout.as_ref().map_or(0, |m| sum_all(m, w));
                self.failed_explicit += s.failed_explicit.as_ref().map_or(0, |m| sum_all(m, w));
                self.lat_total += weighted(&s.complete_ms_avg, &s.acked, w);
            }
            ExecutorSpecificStats::Bolt(s) => {
                self.acked += sum_all(&s.acked, w);
                self.failed += sum_all(&s.failed, w);
                self.executed += sum_all(&s.executed, w);
                self.lat_total += weighted(&s.execute_ms_avg, &s.executed, w);
                self.proc_lat_total += weighted(&s.process_ms_avg, &s.executed, w);
                self.capacity = self.capacity.max(capacity(&b.stats, b.uptime));
            }
        }
    }
}

/// Windows any of the maps has.
fn windows_of<K, V>(maps: &[&BTreeMap<String, BTreeMap<K, V>>]) -> BTreeSet<String> {
    maps.iter().flat_map(|m| m.keys().cloned()).collect()
}

/// Storm's normalized component resources (`onheap.memory.mb`, `offheap.memory.mb`,
/// `cpu.pcore.percent`) from the component's JSON conf over the topology conf.
fn resources(
    total: &Map<String, Value>,
    component_conf: Option<&str>,
) -> BTreeMap<String, OrderedFloat<f64>> {
    let comp: Map<String, Value> = component_conf
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default();
    let get = |key: &str, default: f64| {
        comp.get(key)
            .or_else(|| total.get(key))
            .and_then(Value::as_f64)
            .unwrap_or(default)
    };
    BTreeMap::from([
        (
            "onheap.memory.mb".to_string(),
            f(get("topology.component.resources.onheap.memory.mb", 128.0)),
        ),
        (
            "offheap.memory.mb".to_string(),
            f(get("topology.component.resources.offheap.memory.mb", 0.0)),
        ),
        (
            "cpu.pcore.percent".to_string(),
            f(get("topology.component.cpu.pcore.percent", 10.0)),
        ),
    ])
}

fn component_common<'a>(
    t: &'a StormTopology,
    id: &str,
) -> Option<&'a crate::thrift::ComponentCommon> {
    t.spouts
        .get(id)
        .map(|s| &s.common)
        .or_else(|| t.bolts.get(id).map(|b| &b.common))
}

impl Nimbus {
    /// Storm's `getCommonTopoInfo`.
    pub(super) fn common_topo_info(&self, id: &str) -> Result<Common> {
        let base = self
            .cluster
            .storm_base(id, false)?
            .ok_or_else(|| NimbusError::NotAlive(id.to_string()))?;
        let topo_conf = self.read_topology_conf(id)?;
        let user = self.read_user_topology(id)?;
        let system = self.read_system_topology(id)?;
        let tasks = self.facts(id)?.tasks;
        let assignment = self.cluster.assignment_info(id, false)?;
        let beats = match &assignment {
            Some(a) => self
                .cluster
                .executor_beats(id, &a.executor_node_port.clone().unwrap_or_default())?,
            None => BTreeMap::new(),
        };
        Ok(Common {
            id: id.to_string(),
            name: base.name.clone(),
            base,
            topo_conf,
            user,
            system,
            tasks,
            assignment,
            beats,
        })
    }

    /// Storm's `aggWorkerStats`: one summary per slot of the topology (on supervisor `only`, if given).
    fn worker_summaries(
        &self,
        c: &Common,
        include_sys: bool,
        only: Option<&str>,
    ) -> Vec<WorkerSummary> {
        let mut out: BTreeMap<(String, i64), WorkerSummary> = BTreeMap::new();
        for (k, node, host, port) in c.slots() {
            if only.is_some_and(|n| n != node) {
                continue;
            }
            let ws = out
                .entry((node.clone(), port))
                .or_insert_with(|| WorkerSummary {
                    supervisor_id: Some(node.clone()),
                    host: Some(host.clone()),
                    port: Some(to_i32(port)),
                    topology_id: Some(c.id.clone()),
                    topology_name: Some(c.name.clone()),
                    num_executors: Some(0),
                    component_to_num_tasks: Some(BTreeMap::new()),
                    owner: c.base.owner.clone(),
                    assigned_memonheap: Some(f(0.0)),
                    assigned_memoffheap: Some(f(0.0)),
                    assigned_cpu: Some(f(0.0)),
                    ..WorkerSummary::default()
                });
            ws.uptime_secs = Some(c.beats.get(&k).map_or(0, |b| b.uptime_secs));
            ws.num_executors = Some(ws.num_executors.unwrap_or(0) + 1);
            let (Some(&start), Some(&end)) = (k.first(), k.last()) else {
                continue;
            };
            let counts = ws.component_to_num_tasks.get_or_insert_with(BTreeMap::new);
            for task in start..=end {
                let Some(comp) = c.tasks.get(&(task as i32)) else {
                    continue;
                };
                if !include_sys && is_system_id(comp) {
                    continue;
                }
                *counts.entry(comp.clone()).or_insert(0) += 1;
            }
        }
        out.into_values().collect()
    }

    /// `getTopologyPageInfo(id, window, is_include_sys)`.
    pub fn topology_page_info(
        &self,
        id: &str,
        window: &str,
        include_sys: bool,
    ) -> Result<TopologyPageInfo> {
        let c = self.common_topo_info(id)?;
        let total = super::core::merged_conf(&self.cluster_conf, &c.topo_conf);
        let beats = c.beats(include_sys, None);

        let mut spouts: BTreeMap<String, Agg> = BTreeMap::new();
        let mut bolts: BTreeMap<String, Agg> = BTreeMap::new();
        let mut workers: BTreeSet<(String, i64)> = BTreeSet::new();
        let mut w_emitted: BTreeMap<String, i64> = BTreeMap::new();
        let mut w_transferred: BTreeMap<String, i64> = BTreeMap::new();
        let mut w_acked: BTreeMap<String, i64> = BTreeMap::new();
        let mut w_failed: BTreeMap<String, i64> = BTreeMap::new();
        let mut w_lat: BTreeMap<String, f64> = BTreeMap::new();
        let mut w_failed_timeout: BTreeMap<String, i64> = BTreeMap::new();
        let mut w_failed_explicit: BTreeMap<String, i64> = BTreeMap::new();
        let mut w_errors: BTreeMap<String, i64> = BTreeMap::new();
        for b in &beats {
            workers.insert((b.node.clone(), b.port));
            for (w, n) in b.stats.reported_errors.iter().flatten() {
                *w_errors.entry(w.clone()).or_default() += n;
            }
            for w in windows_of(&[&b.stats.emitted]) {
                *w_emitted.entry(w.clone()).or_default() +=
                    sum_streams(&b.stats.emitted, &w, include_sys);
            }
            for w in windows_of(&[&b.stats.transferred]) {
                *w_transferred.entry(w.clone()).or_default() +=
                    sum_streams(&b.stats.transferred, &w, include_sys);
            }
            let target = match &b.stats.specific {
                ExecutorSpecificStats::Spout(s) => {
                    for w in windows_of(&[&s.acked]) {
                        *w_acked.entry(w.clone()).or_default() += sum_all(&s.acked, &w);
                        *w_lat.entry(w.clone()).or_default() +=
                            weighted(&s.complete_ms_avg, &s.acked, &w);
                    }
                    for w in windows_of(&[&s.failed]) {
                        *w_failed.entry(w.clone()).or_default() += sum_all(&s.failed, &w);
                    }
                    for (m, into) in [
                        (&s.failed_timeout, &mut w_failed_timeout),
                        (&s.failed_explicit, &mut w_failed_explicit),
                    ] {
                        for (w, streams) in m.iter().flatten() {
                            *into.entry(w.clone()).or_default() += streams.values().sum::<i64>();
                        }
                    }
                    &mut spouts
                }
                ExecutorSpecificStats::Bolt(_) => &mut bolts,
            };
            target
                .entry(b.component.to_string())
                .or_default()
                .add(b, window, include_sys);
        }
        let complete: BTreeMap<String, OrderedFloat<f64>> = w_lat
            .iter()
            .filter_map(|(w, lat)| {
                let acked = w_acked.get(w).copied().unwrap_or(0);
                (acked > 0).then(|| (w.clone(), f(lat / acked as f64)))
            })
            .collect();

        let finish =
            |id: &str, mut s: ComponentAggregateStats| -> Result<ComponentAggregateStats> {
                s.last_error = self.cluster.last_error(&c.id, id)?;
                if let Some(common) = s.common_stats.as_mut() {
                    common.resources_map = Some(resources(
                        &total,
                        component_common(&c.system, id).and_then(|cc| cc.json_conf.as_deref()),
                    ));
                }
                Ok(s)
            };
        let placeholder = |id: &str| -> Agg {
            let common = component_common(&c.system, id);
            let tasks = common
                .and_then(|cc| cc.json_conf.as_deref())
                .and_then(|j| serde_json::from_str::<Map<String, Value>>(j).ok())
                .and_then(|m| super::core::json_int(m.get("topology.tasks")))
                .unwrap_or(0);
            Agg {
                executors: common.map_or(0, |cc| i64::from(parallelism_hint(cc))),
                tasks,
                ..Agg::default()
            }
        };
        let mut spout_stats = BTreeMap::new();
        if spouts.is_empty() {
            for sid in c.system.spouts.keys() {
                spout_stats.insert(sid.clone(), finish(sid, placeholder(sid).spout())?);
            }
        } else {
            for (sid, a) in &spouts {
                spout_stats.insert(sid.clone(), finish(sid, a.spout())?);
            }
        }
        let mut bolt_stats = BTreeMap::new();
        if bolts.is_empty() {
            for bid in c.system.bolts.keys() {
                if (!include_sys && is_system_id(bid)) || bid == SYSTEM_COMPONENT_ID {
                    continue;
                }
                bolt_stats.insert(bid.clone(), finish(bid, placeholder(bid).bolt())?);
            }
        } else {
            for (bid, a) in &bolts {
                bolt_stats.insert(bid.clone(), finish(bid, a.bolt())?);
            }
        }
        let num_executors = c.slots().len();
        let mut page = TopologyPageInfo::new(
            id.to_string(),
            c.name.clone(),
            c.base
                .launch_time_secs
                .map(|t| to_i32((now_secs() - i64::from(t)).max(0)))
                .unwrap_or(0),
            status_name(c.base.status),
            to_i32(c.tasks.len() as i64),
            to_i32(workers.len() as i64),
            to_i32(num_executors as i64),
            Value::Object(total.clone()).to_string(),
            spout_stats,
            bolt_stats,
            None,
            TopologyStats {
                window_to_emitted: Some(w_emitted),
                window_to_transferred: Some(w_transferred),
                window_to_complete_latencies_ms: Some(complete),
                window_to_acked: Some(w_acked),
                window_to_failed: Some(w_failed),
                window_to_failed_timeout: Some(w_failed_timeout),
                window_to_failed_explicit: Some(w_failed_explicit),
                window_to_reported_errors: Some(w_errors),
            },
            c.base.owner.clone(),
            c.base
                .component_debug
                .as_ref()
                .and_then(|d| d.get(id).cloned()),
            1,
            None,
            c.user.storm_version.clone(),
            c.base.topology_version.clone(),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        );
        if c.assignment.is_some() {
            page.workers = Some(self.worker_summaries(&c, include_sys, None));
        }
        Ok(page)
    }

    /// `getComponentPageInfo(topology id, component id, window, is_include_sys)`.
    pub fn component_page_info(
        &self,
        id: &str,
        component: &str,
        window: &str,
        include_sys: bool,
    ) -> Result<ComponentPageInfo> {
        let component = crate::http::url_decode(component).unwrap_or_else(|| component.to_string());
        let c = self.common_topo_info(id)?;
        let total = super::core::merged_conf(&self.cluster_conf, &c.topo_conf);
        let is_spout = c.is_spout(&component);
        let beats = c.beats(include_sys, Some(&component));

        let mut all = Agg::default();
        let mut per_window: BTreeMap<String, Agg> = BTreeMap::new();
        let mut outputs: BTreeMap<String, Agg> = BTreeMap::new();
        let mut inputs: BTreeMap<GlobalStreamId, Agg> = BTreeMap::new();
        let mut executors = Vec::new();
        for b in &beats {
            all.executors += 1;
            all.tasks += i64::from(b.exec.1 - b.exec.0 + 1);
            // Every window's totals.
            let ws = match &b.stats.specific {
                ExecutorSpecificStats::Spout(s) => {
                    windows_of(&[&b.stats.emitted, &b.stats.transferred, &s.acked, &s.failed])
                }
                ExecutorSpecificStats::Bolt(s) => {
                    let mut ws = windows_of(&[&b.stats.emitted, &b.stats.transferred]);
                    ws.extend(windows_of(&[&s.acked, &s.failed, &s.executed]));
                    ws
                }
            };
            for w in ws {
                per_window
                    .entry(w.clone())
                    .or_default()
                    .add(b, &w, include_sys);
            }
            // Per output stream, window `window`.
            let mut out_streams: BTreeSet<String> = BTreeSet::new();
            for m in [&b.stats.emitted, &b.stats.transferred] {
                out_streams.extend(m.get(window).into_iter().flatten().map(|(k, _)| k.clone()));
            }
            if let ExecutorSpecificStats::Spout(s) = &b.stats.specific {
                out_streams.extend(
                    s.acked
                        .get(window)
                        .into_iter()
                        .flatten()
                        .map(|(k, _)| k.clone()),
                );
                out_streams.extend(
                    s.failed
                        .get(window)
                        .into_iter()
                        .flatten()
                        .map(|(k, _)| k.clone()),
                );
            }
            for sid in out_streams {
                if !include_sys && is_system_id(&sid) {
                    continue;
                }
                let get = |m: &BTreeMap<String, BTreeMap<String, i64>>| {
                    m.get(window)
                        .and_then(|s| s.get(&sid))
                        .copied()
                        .unwrap_or(0)
                };
                let o = outputs.entry(sid.clone()).or_default();
                o.emitted += get(&b.stats.emitted);
                o.transferred += get(&b.stats.transferred);
                if let ExecutorSpecificStats::Spout(s) = &b.stats.specific {
                    let acked = get(&s.acked);
                    o.acked += acked;
                    o.failed += get(&s.failed);
                    o.failed_timeout += s.failed_timeout.as_ref().map_or(0, get);
                    o.failed_explicit += s.failed_explicit.as_ref().map_or(0, get);
                    o.lat_total += s
                        .complete_ms_avg
                        .get(window)
                        .and_then(|m| m.get(&sid))
                        .map_or(0.0, |v| v.0 * acked as f64);
                }
            }
            // Per input stream (bolts), window `window`.
            if let ExecutorSpecificStats::Bolt(s) = &b.stats.specific {
                let mut keys: BTreeSet<GlobalStreamId> = BTreeSet::new();
                for m in [&s.acked, &s.failed, &s.executed] {
                    keys.extend(m.get(window).into_iter().flatten().map(|(k, _)| k.clone()));
                }
                for g in keys {
                    let get = |m: &BTreeMap<String, BTreeMap<GlobalStreamId, i64>>| {
                        m.get(window).and_then(|s| s.get(&g)).copied().unwrap_or(0)
                    };
                    let avg =
                        |m: &BTreeMap<String, BTreeMap<GlobalStreamId, OrderedFloat<f64>>>| {
                            m.get(window).and_then(|s| s.get(&g)).map_or(0.0, |v| v.0)
                        };
                    let executed = get(&s.executed);
                    let i = inputs.entry(g.clone()).or_default();
                    i.acked += get(&s.acked);
                    i.failed += get(&s.failed);
                    i.executed += executed;
                    i.lat_total += avg(&s.execute_ms_avg) * executed as f64;
                    i.proc_lat_total += avg(&s.process_ms_avg) * executed as f64;
                }
            }
            // The executor itself, window `window`.
            let mut one = Agg::default();
            one.add(b, window, include_sys);
            executors.push(ExecutorAggregateStats {
                exec_summary: Some(ExecutorSummary {
                    executor_info: ExecutorInfo {
                        task_start: b.exec.0,
                        task_end: b.exec.1,
                    },
                    component_id: component.clone(),
                    host: b.host.clone(),
                    port: to_i32(b.port),
                    uptime_secs: to_i32(b.uptime),
                    stats: None,
                }),
                stats: Some(if is_spout { one.spout() } else { one.bolt() }),
            });
        }
        let to_stats = |a: &Agg| if is_spout { a.spout() } else { a.bolt() };
        // Storm's window maps (`thriftifyCompPageData`) hold the counts and latencies only: no
        // executor or task counts (the page has them) and no capacity (the executors have it).
        let window_to_stats: BTreeMap<String, ComponentAggregateStats> = per_window
            .iter()
            .map(|(w, a)| {
                let a = Agg {
                    executors: 0,
                    tasks: 0,
                    capacity: 0.0,
                    ..*a
                };
                (w.clone(), to_stats(&a))
            })
            .collect();
        let errors = self.cluster.errors(id, &component)?;
        let mut page = ComponentPageInfo::new(
            component.clone(),
            if is_spout {
                ComponentType::SPOUT
            } else {
                ComponentType::BOLT
            },
            id.to_string(),
            c.name.clone(),
            to_i32(all.executors),
            to_i32(all.tasks),
            window_to_stats,
            None,
            outputs
                .iter()
                .map(|(k, a)| (k.clone(), to_stats(a)))
                .collect::<BTreeMap<_, _>>(),
            executors,
            errors,
            None,
            None,
            c.base
                .component_debug
                .as_ref()
                .and_then(|d| d.get(&component).cloned()),
            status_name(c.base.status),
            resources(
                &total,
                component_common(&c.system, &component).and_then(|cc| cc.json_conf.as_deref()),
            ),
        );
        if !is_spout {
            page.gsid_to_input_stats =
                Some(inputs.iter().map(|(k, a)| (k.clone(), a.bolt())).collect());
        }
        Ok(page)
    }

    /// `getSupervisorPageInfo(id, host, is_include_sys)`: the supervisor `id` (or, when `id` is
    /// empty, every supervisor on `host`) with the workers of every topology on it.
    pub fn supervisor_page_info(
        &self,
        id: &str,
        host: &str,
        include_sys: bool,
    ) -> Result<SupervisorPageInfo> {
        let supervisors = self.cluster.all_supervisor_info()?;
        let ids: Vec<String> = if id.is_empty() {
            supervisors
                .iter()
                .filter(|(_, info)| info.hostname == host)
                .map(|(sid, _)| sid.clone())
                .collect()
        } else {
            vec![id.to_string()]
        };
        let used = self.used_slots_by_node()?;
        let mut page = SupervisorPageInfo {
            supervisor_summaries: Some(Vec::new()),
            worker_summaries: Some(Vec::new()),
        };
        let mut topologies: Vec<String> = self.cluster.assignments(false)?;
        topologies.sort();
        for sid in &ids {
            let Some(info) = supervisors.get(sid) else {
                return Err(NimbusError::NotAlive(format!(
                    "supervisor {sid} is not alive"
                )));
            };
            page.supervisor_summaries
                .get_or_insert_with(Vec::new)
                .push(self.supervisor_summary(sid, info, &used));
            for t in &topologies {
                let on_it = self.cluster.assignment_info(t, false)?.is_some_and(|a| {
                    a.executor_node_port
                        .iter()
                        .flatten()
                        .any(|(_, ni)| ni.node == *sid)
                });
                if !on_it {
                    continue;
                }
                let c = match self.common_topo_info(t) {
                    Ok(c) => c,
                    Err(NimbusError::NotAlive(_)) => continue,
                    Err(e) => return Err(e),
                };
                page.worker_summaries
                    .get_or_insert_with(Vec::new)
                    .extend(self.worker_summaries(&c, include_sys, Some(sid)));
            }
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thrift::{BoltStats, SpoutStats};

    /// A stat in two windows: the last ten minutes and all time (the others as all time).
    fn two<K: Ord + Clone, V: Clone>(
        recent: &[(K, V)],
        all: &[(K, V)],
    ) -> BTreeMap<String, BTreeMap<K, V>> {
        let all: BTreeMap<K, V> = all.iter().cloned().collect();
        BTreeMap::from([
            ("600".to_string(), recent.iter().cloned().collect()),
            ("10800".to_string(), all.clone()),
            ("86400".to_string(), all.clone()),
            (ALL_TIME.to_string(), all),
        ])
    }

    fn gsid(c: &str, s: &str) -> GlobalStreamId {
        GlobalStreamId {
            component_id: c.into(),
            stream_id: s.into(),
        }
    }

    fn beat(stats: ExecutorStats, uptime: i64) -> Beat<'static> {
        Beat {
            exec: (3, 4),
            component: "split",
            node: "n".into(),
            host: "h".into(),
            port: 1,
            uptime,
            stats,
        }
    }

    /// A bolt up two hours: 72 000 inputs all time at 10 ms, 6 000 in the last ten minutes at 50 ms.
    fn busy_bolt() -> ExecutorStats {
        let g = gsid("spout", "default");
        ExecutorStats {
            emitted: two(
                &[("default".to_string(), 10), ("__ack_ack".to_string(), 7)],
                &[("default".to_string(), 100), ("__ack_ack".to_string(), 70)],
            ),
            transferred: two(
                &[("default".to_string(), 10)],
                &[("default".to_string(), 100)],
            ),
            specific: ExecutorSpecificStats::Bolt(BoltStats {
                acked: two(&[(g.clone(), 6_000)], &[(g.clone(), 72_000)]),
                failed: two(&[(g.clone(), 0)], &[(g.clone(), 2)]),
                process_ms_avg: two(&[(g.clone(), f(60.0))], &[(g.clone(), f(12.0))]),
                executed: two(&[(g.clone(), 6_000)], &[(g.clone(), 72_000)]),
                execute_ms_avg: two(&[(g.clone(), f(50.0))], &[(g.clone(), f(10.0))]),
            }),
            rate: f(1.0),
            reported_errors: Some(
                [("600", 1), ("10800", 4), ("86400", 4), (ALL_TIME, 4)]
                    .map(|(w, n)| (w.to_string(), n))
                    .into(),
            ),
        }
    }

    #[test]
    fn bolt_capacity_comes_from_the_ten_minute_window() {
        let stats = busy_bolt();
        // 6 000 executed × 50 ms over 600 s (all time would say 72 000 × 10 ms over 600 s = 1.2).
        assert!((capacity(&stats, 7_200) - 0.5).abs() < 1e-12);
        // A younger executor divides by its uptime.
        assert!((capacity(&stats, 300) - 1.0).abs() < 1e-12);
        assert_eq!(capacity(&stats, 0), 0.0);
        // Capacity is the 10-minute window's whatever window a page shows.
        for w in ["600", ALL_TIME] {
            let mut a = Agg::default();
            a.add(&beat(busy_bolt(), 7_200), w, false);
            assert!((a.capacity - 0.5).abs() < 1e-12, "{w}");
        }
    }

    #[test]
    fn a_window_sums_its_own_counts_and_weights_its_own_latencies() {
        let b = beat(busy_bolt(), 7_200);
        let mut recent = Agg::default();
        recent.add(&b, "600", false);
        assert_eq!(
            (
                recent.executors,
                recent.tasks,
                recent.emitted,
                recent.acked,
                recent.failed
            ),
            (1, 2, 10, 6_000, 0)
        );
        assert_eq!(recent.reported_errors, 1);
        let mut all = Agg::default();
        all.add(&b, ALL_TIME, true);
        assert_eq!((all.emitted, all.acked, all.failed), (170, 72_000, 2));
        assert_eq!(all.reported_errors, 4);
        for (a, exec, proc) in [(recent, 50.0, 60.0), (all, 10.0, 12.0)] {
            let ComponentAggregateStats {
                specific_stats: Some(SpecificAggregateStats::Bolt(bs)),
                ..
            } = a.bolt()
            else {
                panic!("bolt stats");
            };
            assert_eq!(bs.execute_latency_ms, Some(f(exec)));
            assert_eq!(bs.process_latency_ms, Some(f(proc)));
        }
    }

    #[test]
    fn spout_failures_are_split_by_cause_beside_storms_failed() {
        let stats = ExecutorStats {
            emitted: two(
                &[("default".to_string(), 5)],
                &[("default".to_string(), 50)],
            ),
            transferred: BTreeMap::new(),
            specific: ExecutorSpecificStats::Spout(SpoutStats {
                acked: two(
                    &[("default".to_string(), 4)],
                    &[("default".to_string(), 40)],
                ),
                failed: two(
                    &[("default".to_string(), 3)],
                    &[("default".to_string(), 10)],
                ),
                complete_ms_avg: two(
                    &[("default".to_string(), f(2.5))],
                    &[("default".to_string(), f(5.0))],
                ),
                failed_timeout: Some(two(
                    &[("default".to_string(), 1)],
                    &[("default".to_string(), 7)],
                )),
                failed_explicit: Some(two(
                    &[("default".to_string(), 2)],
                    &[("default".to_string(), 3)],
                )),
            }),
            rate: f(1.0),
            reported_errors: None,
        };
        let b = beat(stats, 7_200);
        for (w, acked, failed, timeout, explicit, latency) in
            [("600", 4, 3, 1, 2, 2.5), (ALL_TIME, 40, 10, 7, 3, 5.0)]
        {
            let mut a = Agg::default();
            a.add(&b, w, false);
            let s = a.spout();
            let common = s.common_stats.unwrap();
            assert_eq!((common.acked, common.failed), (Some(acked), Some(failed)));
            assert_eq!(common.reported_errors, Some(0));
            let Some(SpecificAggregateStats::Spout(sp)) = s.specific_stats else {
                panic!("spout stats");
            };
            assert_eq!(sp.complete_latency_ms, Some(f(latency)), "{w}");
            assert_eq!(
                (sp.failed_timeout, sp.failed_explicit),
                (Some(timeout), Some(explicit))
            );
        }
    }
}
