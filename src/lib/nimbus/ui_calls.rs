//! The `Nimbus` calls only the UI makes, with Storm's semantics: `getTopologyHistory` (topologies
//! with an assignment plus the killed ones remembered in the `nimbus/history` LocalState for
//! `logviewer.cleanup.age.mins`), `getOwnerResourceSummaries` (per topology owner: topologies,
//! executors, workers and tasks from the assignments; storm-rs has no resource-aware scheduler, so
//! memory and CPU are 0 and the guarantees are left unset, which the UI shows as `N/A`) and `debug`
//! (Storm's `component_debug` entry in `/storms/<id>`, keyed by the component or, without one, by
//! the topology id; the sampling percentage is clamped to 0–100).
//!
//! Without authorization every caller is an administrator: a user name is accepted and ignored.

use std::collections::{BTreeMap, BTreeSet};

use thrift::OrderedFloat;

use super::core::{now_secs, Nimbus, NimbusError};
use crate::cluster::StormBaseUpdate;
use crate::local_state::{LocalState, LS_TOPO_HISTORY};
use crate::thrift::{DebugOptions, LSTopoHistory, LSTopoHistoryList, OwnerResourceSummary};

type Result<T> = std::result::Result<T, NimbusError>;

fn history_error(e: crate::local_state::LocalStateError) -> NimbusError {
    NimbusError::Internal(format!("topology history: {e}"))
}

impl Nimbus {
    fn history_state(&self) -> Result<LocalState> {
        LocalState::open(self.paths.nimbus_history()).map_err(history_error)
    }

    /// How long a killed topology stays in the history (`logviewer.cleanup.age.mins`, as Storm).
    fn history_max_age_secs(&self) -> i64 {
        self.conf
            .get_i64("logviewer.cleanup.age.mins")
            .unwrap_or(10080)
            .max(0)
            .saturating_mul(60)
    }

    /// Remembers a killed topology (Storm's `addTopoToHistoryLog`), dropping entries older than
    /// [`Self::history_max_age_secs`]. Called by `kill`, which holds `submit_lock` (so the
    /// read-modify-write of the history is never concurrent). Failures are logged: the kill itself
    /// has happened.
    pub(super) fn add_to_history(&self, id: &str) {
        let result = (|| -> Result<()> {
            let state = self.history_state()?;
            let mut list: LSTopoHistoryList = state
                .get(LS_TOPO_HISTORY)
                .map_err(history_error)?
                .unwrap_or_else(|| LSTopoHistoryList::new(Vec::new()));
            let now = now_secs();
            let oldest = now - self.history_max_age_secs();
            list.topo_history
                .retain(|h| h.time_stamp >= oldest && h.topology_id != id);
            list.topo_history.push(LSTopoHistory::new(
                id.to_string(),
                now,
                Vec::new(),
                Vec::new(),
            ));
            state.put(LS_TOPO_HISTORY, &list).map_err(history_error)
        })();
        if let Err(e) = result {
            tracing::warn!(topology = %id, error = %e, "cannot add the topology to the history");
        }
    }

    /// `getTopologyHistory(user)`: every topology with an assignment and every topology killed in
    /// the last `logviewer.cleanup.age.mins`, sorted.
    pub fn topology_history(&self, _user: &str) -> Result<Vec<String>> {
        let mut ids: BTreeSet<String> = self.cluster.assignments(false)?.into_iter().collect();
        let list: LSTopoHistoryList = self
            .history_state()?
            .get(LS_TOPO_HISTORY)
            .map_err(history_error)?
            .unwrap_or_else(|| LSTopoHistoryList::new(Vec::new()));
        let oldest = now_secs() - self.history_max_age_secs();
        ids.extend(
            list.topo_history
                .into_iter()
                .filter(|h| h.time_stamp >= oldest)
                .map(|h| h.topology_id),
        );
        Ok(ids.into_iter().collect())
    }

    /// `getOwnerResourceSummaries(owner)`: one summary per owner of a live topology (`owner` empty:
    /// every owner), or for `owner` alone (with zeros when it owns nothing).
    pub fn owner_resource_summaries(&self, owner: &str) -> Result<Vec<OwnerResourceSummary>> {
        let mut by_owner: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if !owner.is_empty() {
            by_owner.insert(owner.to_string(), Vec::new());
        }
        for id in self.cluster.active_storms()? {
            let Some(base) = self.cluster.storm_base(&id, false)? else {
                continue;
            };
            let base_owner = base.owner.clone().unwrap_or_default();
            if owner.is_empty() || base_owner == owner {
                by_owner.entry(base_owner).or_default().push(id);
            }
        }
        let zero = Some(OrderedFloat(0.0));
        let mut out = Vec::new();
        for (name, ids) in by_owner {
            let (mut executors, mut workers, mut tasks) = (0i64, 0i64, 0i64);
            for id in &ids {
                let Some(a) = self.cluster.assignment_info(id, false)? else {
                    continue;
                };
                let enp = a.executor_node_port.unwrap_or_default();
                executors += enp.len() as i64;
                workers += enp
                    .values()
                    .map(|ni| (ni.node.clone(), ni.first_port()))
                    .collect::<BTreeSet<_>>()
                    .len() as i64;
                tasks += enp
                    .keys()
                    .filter_map(|k| match (k.first(), k.last()) {
                        (Some(s), Some(e)) if *s >= 0 => Some(e - s + 1),
                        _ => None,
                    })
                    .sum::<i64>();
            }
            out.push(OwnerResourceSummary {
                owner: name,
                total_topologies: Some(super::core::to_i32(ids.len() as i64)),
                total_executors: Some(super::core::to_i32(executors)),
                total_workers: Some(super::core::to_i32(workers)),
                memory_usage: zero,
                cpu_usage: zero,
                memory_guarantee: None,
                cpu_guarantee: None,
                memory_guarantee_remaining: None,
                cpu_guarantee_remaining: None,
                isolated_node_guarantee: None,
                total_tasks: Some(super::core::to_i32(tasks)),
                requested_on_heap_memory: zero,
                requested_off_heap_memory: zero,
                requested_total_memory: zero,
                requested_cpu: zero,
                assigned_on_heap_memory: zero,
                assigned_off_heap_memory: zero,
            });
        }
        Ok(out)
    }

    /// `debug(name, component, enable, samplingPercentage)`.
    pub fn debug(
        &self,
        name: &str,
        component: &str,
        enable: bool,
        sampling_pct: f64,
    ) -> Result<()> {
        self.assert_leader()?;
        let _guard = super::core::lock(&self.submit_lock);
        let (id, _) = self.alive(name)?;
        let pct = if sampling_pct.is_nan() {
            0.0
        } else {
            sampling_pct.clamp(0.0, 100.0)
        };
        let options = DebugOptions {
            enable: Some(enable),
            samplingpct: enable.then_some(OrderedFloat(pct)),
        };
        let key = if component.is_empty() {
            id.clone()
        } else {
            component.to_string()
        };
        tracing::info!(topology = %id, key = %key, enable, sampling_pct = pct, "debug set");
        self.cluster.update_storm(
            &id,
            StormBaseUpdate {
                component_debug: Some(BTreeMap::from([(key, options)])),
                ..StormBaseUpdate::default()
            },
        )?;
        Ok(())
    }
}
