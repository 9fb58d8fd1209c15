//! Worker log cleanup, as Storm's `LogCleaner` + `DirectoryCleaner` do it, every
//! `logviewer.cleanup.interval.secs`:
//!
//! 1. A worker log directory (`<workers-artifacts>/<topology>/<port>`) whose newest entry (or the
//!    directory itself) was modified more than `logviewer.cleanup.age.mins` ago, and whose worker is not
//!    alive, is removed whole; a topology directory left empty goes too.
//! 2. Per worker directory: while it holds more than `logviewer.max.per.worker.logs.size.mb` (at most
//!    half the global cap), its oldest files are deleted, never the active ones (names ending in `.log`,
//!    `.err`, `.out`, `.current`, `.yaml`, `.pid`, `.metrics`), so only rotated logs go.
//! 3. Globally: while all worker directories hold more than `logviewer.max.sum.worker.logs.size.mb`,
//!    the oldest files anywhere are deleted, except the active files of live workers and the metadata
//!    (`.yaml`, `.pid`) of all.
//!
//! Deletion looks at the oldest 1024 files per round and at most 512 rounds per run, as Storm does, so a
//! run's memory is bounded however many files there are.
//!
//! **Alive workers** are found the way Storm finds them, from this machine's local tree: a worker is
//! alive while the newest heartbeat in `<storm.local.dir>/workers/<worker-id>/heartbeats` is younger than
//! its timeout (`supervisor.worker.timeout.secs`, or the topology's larger `topology.worker.timeout.secs`
//! from `supervisor/stormdist/<id>/stormconf.ser`). Storm maps a log directory to its worker through the
//! `worker-id` in the directory's `worker.yaml`; storm-rs maps the heartbeat's topology id and port to
//! `workers-artifacts/<topology-id>/<port>` (the heartbeat names both), which needs no `worker.yaml`.

use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::files::{mtime, sub_dirs};
use crate::config::{Config, ConfigError};
use crate::local_state::{LocalState, LS_WORKER_HEARTBEAT};
use crate::paths::{StormPaths, STORMCONF};
use crate::thrift::LSWorkerHeartbeat;

/// Files considered per deletion round.
pub const PQ_SIZE: usize = 1024;
/// Deletion rounds per run.
pub const MAX_ROUNDS: usize = 512;

const MB: u64 = 1024 * 1024;

/// What the cleaner is told by the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanupSettings {
    /// `logviewer.cleanup.interval.secs`; `None` (unset or ≤ 0) turns cleanup off.
    pub interval: Option<Duration>,
    /// `logviewer.cleanup.age.mins`.
    pub age: Duration,
    /// `logviewer.max.sum.worker.logs.size.mb`, in bytes.
    pub max_sum_bytes: u64,
    /// `logviewer.max.per.worker.logs.size.mb` (at most half of the sum), in bytes.
    pub max_per_worker_bytes: u64,
    /// `supervisor.worker.timeout.secs`.
    pub worker_timeout_secs: u64,
}

impl CleanupSettings {
    pub fn from_config(conf: &Config) -> Result<CleanupSettings, ConfigError> {
        let interval = conf
            .get_opt_i64("logviewer.cleanup.interval.secs")?
            .filter(|s| *s > 0)
            .map(|s| Duration::from_secs(s as u64));
        let age = Duration::from_secs(
            conf.get_u64("logviewer.cleanup.age.mins")?
                .saturating_mul(60),
        );
        let max_sum = conf.get_u64("logviewer.max.sum.worker.logs.size.mb")?;
        let max_per = conf
            .get_u64("logviewer.max.per.worker.logs.size.mb")?
            .min(max_sum / 2);
        Ok(CleanupSettings {
            interval,
            age,
            max_sum_bytes: max_sum.saturating_mul(MB),
            max_per_worker_bytes: max_per.saturating_mul(MB),
            worker_timeout_secs: conf.get_u64("supervisor.worker.timeout.secs")?,
        })
    }
}

/// What one run removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanupReport {
    pub dirs_removed: usize,
    pub files_deleted: usize,
    pub bytes_freed: u64,
}

/// Which files a quota deletion must leave alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// Logs being written (`.log`, `.err`, `.out`, `.current`) and metadata (`.yaml`, `.pid`,
    /// `.metrics`).
    Active,
    /// Metadata only (`.yaml`, `.pid`).
    Meta,
}

fn is_active_name(name: &str) -> bool {
    [
        ".log", ".err", ".out", ".current", ".yaml", ".pid", ".metrics",
    ]
    .iter()
    .any(|s| name.ends_with(s))
}

fn is_meta_name(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".pid")
}

/// The cleaner of one machine's worker logs.
#[derive(Debug, Clone)]
pub struct LogCleaner {
    paths: StormPaths,
    settings: CleanupSettings,
}

impl LogCleaner {
    pub fn new(paths: StormPaths, settings: CleanupSettings) -> LogCleaner {
        LogCleaner { paths, settings }
    }

    pub fn settings(&self) -> &CleanupSettings {
        &self.settings
    }

    /// Every worker log directory, sorted (symlinks skipped).
    fn worker_dirs(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for (_, topo) in sub_dirs(&self.paths.workers_artifacts_root(), usize::MAX) {
            out.extend(sub_dirs(&topo, usize::MAX).into_iter().map(|(_, p)| p));
        }
        out
    }

    /// The newest modification time of a worker directory and its entries.
    fn last_modified(dir: &Path) -> SystemTime {
        let mut newest = mtime(dir);
        if let Ok(rd) = fs::read_dir(dir) {
            for e in rd.flatten() {
                newest = newest.max(mtime(&e.path()));
            }
        }
        newest
    }

    /// Worker directories untouched for `logviewer.cleanup.age.mins`.
    pub fn old_dirs(&self, now: SystemTime) -> Vec<PathBuf> {
        let cutoff = now.checked_sub(self.settings.age).unwrap_or(UNIX_EPOCH);
        self.worker_dirs()
            .into_iter()
            .filter(|d| Self::last_modified(d) <= cutoff)
            .collect()
    }

    /// A topology's heartbeat timeout: `supervisor.worker.timeout.secs`, or its larger
    /// `topology.worker.timeout.secs`.
    fn timeout_secs(&self, topology_id: &str) -> u64 {
        let file = self.paths.supervisor_stormdist(topology_id).join(STORMCONF);
        let topo = fs::read(file)
            .ok()
            .and_then(|b| crate::thrift::gzip_json_to_conf(&b).ok())
            .and_then(|c| {
                c.get("topology.worker.timeout.secs")
                    .and_then(|v| v.as_u64())
            });
        self.settings.worker_timeout_secs.max(topo.unwrap_or(0))
    }

    /// The log directories of the workers alive at `now` (see the module doc).
    pub fn alive_dirs(&self, now: SystemTime) -> BTreeSet<PathBuf> {
        let now_secs = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let mut timeouts: HashMap<String, u64> = HashMap::new();
        let mut out = BTreeSet::new();
        for (worker_id, _) in sub_dirs(&self.paths.workers_root(), usize::MAX) {
            let dir = self.paths.worker_heartbeats(&worker_id);
            // Never `LocalState::open`: it would re-create a directory the supervisor just removed.
            let hb = LocalState::open_existing(&dir).and_then(|ls| {
                ls.get::<LSWorkerHeartbeat>(LS_WORKER_HEARTBEAT)
                    .ok()
                    .flatten()
            });
            let Some(hb) = hb else { continue };
            let timeout = *timeouts
                .entry(hb.topology_id.clone())
                .or_insert_with(|| self.timeout_secs(&hb.topology_id));
            let age = now_secs - i64::from(hb.time_secs);
            if age < timeout as i64 {
                if let Ok(port) = u16::try_from(hb.port) {
                    out.insert(self.paths.worker_artifacts(&hb.topology_id, port));
                }
            }
        }
        out
    }

    /// One cleanup run (Storm's `LogCleaner.run`).
    pub fn run_once(&self, now: SystemTime) -> CleanupReport {
        let mut report = CleanupReport::default();
        let alive = self.alive_dirs(now);
        for dir in self.old_dirs(now).iter().filter(|d| !alive.contains(*d)) {
            let size = dir_size(dir);
            match fs::remove_dir_all(dir) {
                Ok(()) => {
                    tracing::info!(dir = %dir.display(), kb = size / 1024, "removed the logs of a dead worker");
                    report.dirs_removed += 1;
                    report.bytes_freed += size;
                    if let Some(topo) = dir.parent() {
                        // Only succeeds when empty.
                        let _ = fs::remove_dir(topo);
                    }
                }
                Err(e) => tracing::warn!(dir = %dir.display(), "cannot remove: {e}"),
            }
        }
        let dirs = self.worker_dirs();
        for dir in &dirs {
            let (files, bytes) = delete_oldest_while_too_large(
                std::slice::from_ref(dir),
                self.settings.max_per_worker_bytes,
                &|_| Keep::Active,
            );
            report.files_deleted += files;
            report.bytes_freed += bytes;
        }
        let (files, bytes) =
            delete_oldest_while_too_large(&dirs, self.settings.max_sum_bytes, &|d| {
                if alive.contains(d) {
                    Keep::Active
                } else {
                    Keep::Meta
                }
            });
        report.files_deleted += files;
        report.bytes_freed += bytes;
        report
    }
}

fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            match e.path().symlink_metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// Storm's `deleteOldestWhileTooLarge`: deletes the oldest regular files directly in `dirs` until they
/// hold at most `quota` bytes, skipping what `keep` protects in each directory. Returns (files, bytes).
fn delete_oldest_while_too_large(
    dirs: &[PathBuf],
    quota: u64,
    keep: &dyn Fn(&Path) -> Keep,
) -> (usize, u64) {
    // Directory entries are streamed, never collected: a directory may hold very many files.
    let files_of = |dir: &Path| {
        fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let m = e.path().symlink_metadata().ok()?;
                m.is_file().then(|| (e.path(), m))
            })
    };
    let total: u64 = dirs
        .iter()
        .flat_map(|d| files_of(d))
        .map(|(_, m)| m.len())
        .sum();
    let Some(mut excess) = total.checked_sub(quota).filter(|e| *e > 0) else {
        return (0, 0);
    };
    let (mut files, mut bytes) = (0usize, 0u64);
    let mut excluded: HashSet<PathBuf> = HashSet::new();
    for _round in 0..MAX_ROUNDS {
        // The oldest PQ_SIZE candidates (a max-heap on age order keeps the oldest).
        let mut heap: BinaryHeap<(SystemTime, PathBuf)> = BinaryHeap::new();
        for dir in dirs {
            let mode = keep(dir);
            for (path, meta) in files_of(dir) {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                let protected = match mode {
                    Keep::Active => is_active_name(name),
                    Keep::Meta => is_meta_name(name),
                };
                if protected || excluded.contains(&path) {
                    continue;
                }
                let t = meta.modified().unwrap_or(UNIX_EPOCH);
                if heap.len() < PQ_SIZE {
                    heap.push((t, path));
                } else if heap.peek().is_some_and(|(newest, _)| t < *newest) {
                    heap.pop();
                    heap.push((t, path));
                }
            }
        }
        if heap.is_empty() {
            tracing::warn!(
                over_by_mb = excess / MB,
                "worker logs are over their quota but nothing more may be deleted"
            );
            break;
        }
        let mut oldest_first: Vec<(SystemTime, PathBuf)> = heap.into_vec();
        oldest_first.sort();
        for (_, path) in oldest_first {
            if excess == 0 {
                break;
            }
            let size = fs::symlink_metadata(&path).map_or(0, |m| m.len());
            match fs::remove_file(&path) {
                Ok(()) => {
                    tracing::info!(file = %path.display(), size, "deleted a worker log over quota");
                    excess = excess.saturating_sub(size);
                    files += 1;
                    bytes += size;
                }
                Err(_) => {
                    excluded.insert(path);
                }
            }
        }
        if excess == 0 {
            break;
        }
    }
    (files, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thrift::LSWorkerHeartbeat;

    const HOUR: Duration = Duration::from_secs(3600);

    struct Tree {
        _dir: tempfile::TempDir,
        paths: StormPaths,
        now: SystemTime,
    }

    fn settings() -> CleanupSettings {
        CleanupSettings {
            interval: Some(Duration::from_secs(60)),
            age: Duration::from_secs(60 * 60 * 24),
            max_sum_bytes: 1 << 40,
            max_per_worker_bytes: 1 << 39,
            worker_timeout_secs: 30,
        }
    }

    fn set_mtime(p: &Path, t: SystemTime) {
        fs::File::open(p).unwrap().set_modified(t).unwrap();
    }

    impl Tree {
        fn new() -> Tree {
            let dir = tempfile::tempdir().unwrap();
            let paths = StormPaths::new(dir.path().join("local"), dir.path().join("logs"));
            Tree {
                _dir: dir,
                paths,
                now: SystemTime::now(),
            }
        }

        /// A worker log dir with `files` (name, size, age), the dir's mtime set to the newest.
        fn worker(&self, topo: &str, port: u16, files: &[(&str, usize, Duration)]) -> PathBuf {
            let dir = self.paths.worker_artifacts(topo, port);
            fs::create_dir_all(&dir).unwrap();
            let mut newest = UNIX_EPOCH;
            for (name, size, age) in files {
                let p = dir.join(name);
                fs::write(&p, vec![b'x'; *size]).unwrap();
                let t = self.now - *age;
                set_mtime(&p, t);
                newest = newest.max(t);
            }
            set_mtime(&dir, newest);
            dir
        }

        fn heartbeat(&self, worker_id: &str, topo: &str, port: u16, age_secs: i64) {
            let now = self.now.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
            let ls = LocalState::open(self.paths.worker_heartbeats(worker_id)).unwrap();
            let hb =
                LSWorkerHeartbeat::new((now - age_secs) as i32, topo.into(), vec![], port as i32);
            ls.put(LS_WORKER_HEARTBEAT, &hb).unwrap();
        }
    }

    #[test]
    fn old_dead_worker_dirs_go_and_live_or_recent_ones_stay() {
        let t = Tree::new();
        let week = HOUR * 24 * 7;
        let alive = t.worker("a-1-1", 6700, &[("worker.log", 10, week)]);
        let dead = t.worker(
            "b-1-1",
            6701,
            &[("worker.log", 10, week), ("worker.yaml", 1, week)],
        );
        let stale_hb = t.worker("c-1-1", 6702, &[("worker.log", 10, week)]);
        let recent = t.worker("d-1-1", 6703, &[("worker.log", 10, HOUR)]);
        t.heartbeat("w-a", "a-1-1", 6700, 5);
        t.heartbeat("w-c", "c-1-1", 6702, 31);
        let cleaner = LogCleaner::new(t.paths.clone(), settings());
        assert_eq!(cleaner.alive_dirs(t.now), BTreeSet::from([alive.clone()]));
        let old = cleaner.old_dirs(t.now);
        assert_eq!(old, vec![alive.clone(), dead.clone(), stale_hb.clone()]);
        let report = cleaner.run_once(t.now);
        assert_eq!(report.dirs_removed, 2);
        assert!(alive.exists() && recent.exists());
        assert!(!dead.exists() && !stale_hb.exists());
        // Their emptied topology directories go too.
        assert!(!dead.parent().unwrap().exists());
    }

    #[test]
    fn a_longer_topology_timeout_keeps_a_worker_alive() {
        let t = Tree::new();
        let dir = t.worker("slow-1-1", 6700, &[("worker.log", 1, HOUR * 48)]);
        t.heartbeat("w", "slow-1-1", 6700, 100);
        let cleaner = LogCleaner::new(t.paths.clone(), settings());
        assert!(cleaner.alive_dirs(t.now).is_empty());
        let dist = t.paths.supervisor_stormdist("slow-1-1");
        fs::create_dir_all(&dist).unwrap();
        let mut conf = serde_json::Map::new();
        conf.insert("topology.worker.timeout.secs".into(), 300.into());
        fs::write(
            dist.join(STORMCONF),
            crate::thrift::conf_to_gzip_json(&conf),
        )
        .unwrap();
        assert_eq!(cleaner.alive_dirs(t.now), BTreeSet::from([dir.clone()]));
        cleaner.run_once(t.now);
        assert!(dir.exists());
    }

    #[test]
    fn per_worker_quota_deletes_oldest_rotated_logs_only() {
        let t = Tree::new();
        let dir = t.worker(
            "a-1-1",
            6700,
            &[
                ("worker.log", 400, Duration::ZERO),
                ("worker.log.err", 400, HOUR * 9),
                ("worker.log.3.gz", 300, HOUR * 3),
                ("worker.log.2.gz", 300, HOUR * 2),
                ("worker.log.1.gz", 300, HOUR),
            ],
        );
        let mut s = settings();
        s.max_per_worker_bytes = 1200;
        let report = LogCleaner::new(t.paths.clone(), s.clone()).run_once(t.now);
        // 1700 bytes, 500 over: the two oldest rotated files go, the older active .err stays.
        assert_eq!((report.files_deleted, report.bytes_freed), (2, 600));
        assert!(!dir.join("worker.log.3.gz").exists() && !dir.join("worker.log.2.gz").exists());
        for f in ["worker.log", "worker.log.err", "worker.log.1.gz"] {
            assert!(dir.join(f).exists(), "{f}");
        }
        // Over quota with only active files left: nothing more is deleted.
        s.max_per_worker_bytes = 10;
        let report = LogCleaner::new(t.paths.clone(), s).run_once(t.now);
        assert_eq!(report.files_deleted, 1);
        assert!(dir.join("worker.log").exists() && dir.join("worker.log.err").exists());
    }

    #[test]
    fn global_quota_spares_live_workers_active_logs_and_all_metadata() {
        let t = Tree::new();
        let live = t.worker(
            "a-1-1",
            6700,
            &[
                ("worker.log", 500, HOUR * 5),
                ("worker.log.1.gz", 500, HOUR * 4),
            ],
        );
        let dead = t.worker(
            "b-1-1",
            6701,
            &[
                ("worker.log", 500, HOUR * 3),
                ("worker.yaml", 10, HOUR * 6),
                ("worker.pid", 5, HOUR * 6),
            ],
        );
        t.heartbeat("w-a", "a-1-1", 6700, 1);
        let mut s = settings();
        s.max_sum_bytes = 100;
        let report = LogCleaner::new(t.paths.clone(), s).run_once(t.now);
        assert_eq!(report.files_deleted, 2);
        assert!(live.join("worker.log").exists());
        assert!(!live.join("worker.log.1.gz").exists());
        assert!(!dead.join("worker.log").exists());
        assert!(dead.join("worker.yaml").exists() && dead.join("worker.pid").exists());
    }

    #[test]
    fn settings_follow_storm() {
        let mut c = Config::defaults();
        let s = CleanupSettings::from_config(&c).unwrap();
        assert_eq!(s.age, Duration::from_secs(10080 * 60));
        assert_eq!(s.max_sum_bytes, 4096 * MB);
        // The per-worker cap is at most half the global one.
        assert_eq!(s.max_per_worker_bytes, 2048 * MB);
        c.set("logviewer.max.sum.worker.logs.size.mb", 1000);
        assert_eq!(
            CleanupSettings::from_config(&c)
                .unwrap()
                .max_per_worker_bytes,
            500 * MB
        );
        c.set("logviewer.cleanup.interval.secs", 0);
        assert_eq!(CleanupSettings::from_config(&c).unwrap().interval, None);
    }
}
