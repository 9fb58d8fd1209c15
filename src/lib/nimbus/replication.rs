//! Topology code as blobs, and blob replication between nimbuses (Storm's LocalFsBlobStore HA,
//! reference §2.3 and §3.8).
//!
//! * A submitted topology's code is three blobs in the blob store: `<id>-stormjar.jar` (when a jar was
//!   uploaded), `<id>-stormcode.ser` (the normalized `StormTopology`, Thrift binary) and
//!   `<id>-stormconf.ser` (gzip JSON of the topology conf); its `--jars`/`--artifacts` are blobs of
//!   their own (`dep-…`, keys listed in the topology's `dependency_jars`/`dependency_artifacts`).
//!   Nimbus reads topologies from them and supervisors download them with the Thrift blob API
//!   (`beginBlobDownload`), so any nimbus holding the blobs can serve a topology.
//! * ZooKeeper records who holds what, as Storm does: `/blobstoremaxkeysequencenumber/<key>` holds the
//!   latest update sequence number (4 bytes, big-endian) that the leader bumps on every create, update
//!   and meta change; each nimbus holding that version of a blob keeps an ephemeral
//!   `/blobstore/<key>/<host:port>-<sequence>` node. A blob's replication count is the number of
//!   nimbuses holding its latest sequence.
//! * Followers sync: on every change under `/blobstore` (watched) and every `nimbus.code.sync.freq.secs`,
//!   a non-leader copies each blob whose latest sequence it does not hold from a nimbus that does
//!   (`getBlobMeta` + `beginBlobDownload` over Thrift, written through a temporary file), registers
//!   it, and deletes the blobs the cluster no longer has.
//! * Submission waits, as Storm's `waitForDesiredCodeReplication`, until the topology's code blobs are
//!   held by `topology.min.replication.count` nimbuses or `topology.max.replication.wait.time.sec`
//!   passed (-1: no limit), checking every second.
//! * A nimbus that gains leadership first copies what it lacks from the nimbuses that have it, then
//!   registers (sequence 1) any blob it holds that ZooKeeper does not know. A topology whose code no
//!   live nimbus holds is logged as an error (Storm gives up leadership instead; with one nimbus left
//!   that would stop the cluster for good).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::core::{lock, Nimbus, NimbusError, Result};
use crate::client::NimbusClient;
use crate::cluster::Subtree;

/// `<id>-stormjar.jar`.
pub fn stormjar_key(id: &str) -> String {
    format!("{id}-stormjar.jar")
}

/// `<id>-stormcode.ser`.
pub fn stormcode_key(id: &str) -> String {
    format!("{id}-stormcode.ser")
}

/// `<id>-stormconf.ser`.
pub fn stormconf_key(id: &str) -> String {
    format!("{id}-stormconf.ser")
}

/// The code blobs of topology `id` (Storm's `ConfigUtils.get*Key`).
pub fn topology_keys(id: &str) -> [String; 3] {
    [stormjar_key(id), stormcode_key(id), stormconf_key(id)]
}

/// The topology id a code blob key belongs to.
pub fn topology_of_key(key: &str) -> Option<&str> {
    ["-stormjar.jar", "-stormcode.ser", "-stormconf.ser"]
        .iter()
        .find_map(|s| key.strip_suffix(s))
}

/// Splits a `/blobstore/<key>` child `host:port-<sequence>`.
pub fn parse_holder(child: &str) -> Option<(&str, i32)> {
    let (holder, seq) = child.rsplit_once('-')?;
    Some((holder, seq.parse().ok()?))
}

/// What one sync round did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// Blobs copied from another nimbus.
    pub copied: Vec<String>,
    /// Blobs this nimbus already had at the latest version and registered.
    pub registered: Vec<String>,
    /// Local blobs deleted because the cluster no longer has them.
    pub deleted: Vec<String>,
    /// Blobs that could not be copied (no live holder, or the copy failed), with why.
    pub failed: Vec<(String, String)>,
}

impl Nimbus {
    /// Leader: `key` changed here (created, updated, meta set): bumps its sequence number and
    /// registers this nimbus as holding it.
    pub(super) fn blob_changed(&self, key: &str) -> Result<()> {
        let seq = self
            .cluster
            .blob_max_sequence(key)?
            .unwrap_or(0)
            .saturating_add(1);
        self.cluster.set_blob_max_sequence(key, seq)?;
        self.cluster.setup_blob(key, &self.id(), seq)?;
        Ok(())
    }

    /// Leader: `key` was deleted; the cluster forgets it (followers delete their copies).
    pub(super) fn blob_removed(&self, key: &str) -> Result<()> {
        self.cluster.remove_blobstore_key(key)?;
        self.cluster.remove_blob_max_sequence(key)?;
        Ok(())
    }

    /// The nimbuses (`host:port`) holding the latest version of `key`.
    pub fn blob_holders(&self, key: &str) -> Result<Vec<String>> {
        let Some(max) = self.cluster.blob_max_sequence(key)? else {
            return Ok(Vec::new());
        };
        Ok(self
            .cluster
            .blobstore_info(key)?
            .iter()
            .filter_map(|c| parse_holder(c))
            .filter(|(_, s)| *s == max)
            .map(|(h, _)| h.to_string())
            .collect())
    }

    /// `getBlobReplication`: how many nimbuses hold the latest version of `key`.
    pub fn blob_replication(&self, key: &str) -> Result<i32> {
        if !self.blobs.contains(key) {
            return Err(NimbusError::KeyNotFound(key.to_string()));
        }
        let holders = self.blob_holders(key)?.len();
        // A blob nobody registered yet (a nimbus older than this code) still has this copy.
        Ok(i32::try_from(holders.max(1)).unwrap_or(i32::MAX))
    }

    /// A topology's replication count (Storm's `replicationCount`: the holders of its code blob).
    pub fn topology_replication(&self, id: &str) -> i32 {
        self.blob_holders(&stormcode_key(id))
            .map(|h| i32::try_from(h.len()).unwrap_or(i32::MAX))
            .unwrap_or(0)
    }

    /// Storm's `waitForDesiredCodeReplication`: waits until every code blob of `id` is held by
    /// `topology.min.replication.count` nimbuses, or `topology.max.replication.wait.time.sec` passed.
    pub(super) fn wait_for_code_replication(
        &self,
        id: &str,
        total_conf: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<()> {
        let int = |k: &str, d: i64| {
            total_conf
                .get(k)
                .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
                .unwrap_or(d)
        };
        let min = int("topology.min.replication.count", 1);
        let max_wait = int("topology.max.replication.wait.time.sec", 60);
        let keys: Vec<String> = topology_keys(id)
            .into_iter()
            .filter(|k| self.blobs.contains(k))
            .collect();
        let started = Instant::now();
        loop {
            let mut lowest = i64::MAX;
            for key in &keys {
                lowest = lowest.min(self.blob_holders(key)?.len() as i64);
            }
            if lowest >= min {
                if min > 1 {
                    tracing::info!(topology = %id, replication = lowest, "desired code replication reached");
                }
                return Ok(());
            }
            if max_wait >= 0 && started.elapsed() >= Duration::from_secs(max_wait as u64) {
                tracing::warn!(
                    topology = %id,
                    replication = lowest,
                    wanted = min,
                    waited_secs = max_wait,
                    "desired code replication not reached; going on (topology.max.replication.wait.time.sec)"
                );
                return Ok(());
            }
            tracing::info!(topology = %id, replication = lowest, wanted = min, "waiting for code replication");
            if self.stopper.wait(Duration::from_secs(1)) {
                return Err(NimbusError::Internal("nimbus is shutting down".into()));
            }
        }
    }

    /// One sync round: copies from other nimbuses every blob whose latest version this nimbus does
    /// not hold, registers what it holds, and (`delete_unknown`, followers only) deletes local blobs
    /// the cluster no longer has. Arms watches on `/blobstore` and each key.
    pub fn sync_blobs(&self, delete_unknown: bool) -> Result<SyncReport> {
        let _sync = lock(&self.blob_sync);
        let me = self.id();
        let mut report = SyncReport::default();
        let keys: BTreeSet<String> = self.cluster.blobstore(true)?.into_iter().collect();
        for key in &keys {
            let entries = self.cluster.watch_blobstore_key(key)?;
            let Some(max) = self.cluster.blob_max_sequence(key)? else {
                continue;
            };
            let holders: Vec<(&str, i32)> =
                entries.iter().filter_map(|c| parse_holder(c)).collect();
            if holders.iter().any(|(h, s)| *h == me && *s == max) && self.blobs.contains(key) {
                continue;
            }
            let sources: Vec<&str> = holders
                .iter()
                .filter(|(h, s)| *h != me && *s == max)
                .map(|(h, _)| *h)
                .collect();
            match self.copy_blob(key, &sources) {
                Ok(copied) => {
                    self.cluster.setup_blob(key, &me, max)?;
                    if copied {
                        report.copied.push(key.clone());
                    } else {
                        report.registered.push(key.clone());
                    }
                }
                Err(why) => {
                    tracing::warn!(%key, %why, "cannot copy blob from another nimbus");
                    report.failed.push((key.clone(), why));
                }
            }
        }
        if delete_unknown {
            for key in self.blobs.keys() {
                if keys.contains(&key) {
                    continue;
                }
                tracing::info!(%key, "deleting a blob the cluster no longer has");
                if self.blobs.delete(&key).is_ok() {
                    report.deleted.push(key);
                }
            }
        }
        if !report.copied.is_empty() || !report.deleted.is_empty() {
            tracing::info!(
                copied = report.copied.len(),
                deleted = report.deleted.len(),
                "blob sync done"
            );
        }
        Ok(report)
    }

    /// Makes this nimbus's copy of `key` the latest one from one of `sources`: `Ok(false)` when the
    /// local copy already had that content (only its meta is refreshed), `Ok(true)` when copied.
    fn copy_blob(&self, key: &str, sources: &[&str]) -> std::result::Result<bool, String> {
        if sources.is_empty() {
            return Err("no live nimbus holds its latest version".into());
        }
        let timeout = Duration::from_millis(
            self.conf
                .get_u64("storm.thrift.socket.timeout.ms")
                .unwrap_or(600_000),
        );
        // Each peer's registered TLS port (`/nimbuses`), used with nimbus.thrift.client.use.tls.
        let tls_ports: BTreeMap<String, i32> = self
            .cluster
            .nimbuses()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|n| Some((format!("{}:{}", n.host, n.port), n.tls_port?)))
            .collect();
        let mut errors = Vec::new();
        for source in sources {
            let attempt = (|| -> std::result::Result<bool, String> {
                let (transport, addr) =
                    crate::client::nimbus_peer(&self.conf, source, tls_ports.get(*source).copied())
                        .map_err(|e| e.to_string())?;
                let mut client =
                    NimbusClient::connect(&addr, timeout, &transport).map_err(|e| e.to_string())?;
                let meta = client.blob_meta(key).map_err(|e| e.to_string())?;
                if self.blobs.version(key).ok() == Some(meta.version) {
                    self.blobs
                        .set_meta(key, &meta.settable)
                        .map_err(|e| e.to_string())?;
                    return Ok(false);
                }
                let mut writer = self.blobs.writer(key).map_err(|e| e.to_string())?;
                client
                    .read_blob(key, &mut writer, &mut |_, _| {})
                    .map_err(|e| e.to_string())?;
                writer.commit(&meta.settable).map_err(|e| e.to_string())?;
                tracing::info!(%key, from = %source, "copied blob from another nimbus");
                Ok(true)
            })();
            match attempt {
                Ok(copied) => return Ok(copied),
                Err(e) => errors.push(format!("{source}: {e}")),
            }
        }
        Err(errors.join("; "))
    }

    /// On gaining leadership: catch up from the other nimbuses, then register every local blob the
    /// cluster does not know (sequence 1), and report topologies whose code is nowhere.
    pub(super) fn claim_blobs(&self) -> Result<()> {
        let report = self.sync_blobs(false)?;
        for (key, why) in &report.failed {
            if self.blobs.contains(key) {
                // Our copy may be older than the latest, but it is the best one alive.
                if let Some(max) = self.cluster.blob_max_sequence(key)? {
                    tracing::warn!(%key, %why, "serving this nimbus's copy of the blob");
                    self.cluster.setup_blob(key, &self.id(), max)?;
                }
            }
        }
        let known: BTreeSet<String> = self.cluster.blobstore(false)?.into_iter().collect();
        for key in self.blobs.keys() {
            if !known.contains(&key) {
                tracing::info!(%key, "registering a blob ZooKeeper did not know");
                self.blob_changed(&key)?;
            }
        }
        for id in self.cluster.active_storms()? {
            let missing: Vec<String> = [stormcode_key(&id), stormconf_key(&id)]
                .into_iter()
                .filter(|k| !self.blobs.contains(k))
                .collect();
            if !missing.is_empty() {
                tracing::error!(
                    topology = %id,
                    missing = ?missing,
                    "this nimbus leads but holds no copy of the topology's code and no live nimbus does; \
                     it cannot be scheduled on new workers (raise topology.min.replication.count to \
                     keep copies on every nimbus)"
                );
            }
        }
        Ok(())
    }

    /// Starts the follower's sync thread: a round after every change under `/blobstore` (polled
    /// each second) and every `nimbus.code.sync.freq.secs`; the leader's rounds are skipped.
    pub(super) fn start_blob_sync(self: &Arc<Self>) -> anyhow::Result<()> {
        let period = Duration::from_secs(self.conf.get_u64("nimbus.code.sync.freq.secs")?.max(1));
        let dirty = Arc::new(AtomicBool::new(true));
        let flag = dirty.clone();
        self.cluster.on_change(
            Subtree::Blobstore,
            Arc::new(move |_| flag.store(true, Ordering::Release)),
        );
        let weak = Arc::downgrade(self);
        let stopper = self.stopper.clone();
        let t = std::thread::Builder::new()
            .name("nimbus-blob-sync".into())
            .spawn(move || {
                let mut last = Instant::now();
                loop {
                    if stopper.wait(Duration::from_secs(1)) {
                        return;
                    }
                    let due = last.elapsed() >= period;
                    if !(due || dirty.swap(false, Ordering::AcqRel)) {
                        continue;
                    }
                    last = Instant::now();
                    let Some(nimbus) = weak.upgrade() else { return };
                    if nimbus.elector.is_leader() {
                        continue;
                    }
                    if let Err(e) = nimbus.sync_blobs(true) {
                        // Retried after the next change or period.
                        dirty.store(true, Ordering::Release);
                        tracing::warn!(error = %e, "blob sync round failed");
                    }
                }
            })?;
        lock(&self.threads).push(t);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_holders() {
        assert_eq!(
            topology_keys("wc-1-2"),
            [
                "wc-1-2-stormjar.jar",
                "wc-1-2-stormcode.ser",
                "wc-1-2-stormconf.ser"
            ]
        );
        assert_eq!(topology_of_key("wc-1-2-stormconf.ser"), Some("wc-1-2"));
        assert_eq!(topology_of_key("dep-x.jar"), None);
        assert_eq!(parse_holder("10.0.0.1:6627-3"), Some(("10.0.0.1:6627", 3)));
        assert_eq!(parse_holder("host-a:6627-12"), Some(("host-a:6627", 12)));
        assert_eq!(parse_holder("nodash"), None);
        assert_eq!(parse_holder("h:1-x"), None);
    }
}
