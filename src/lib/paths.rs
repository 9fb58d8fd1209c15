//! Every local path of a daemon's `storm.local.dir` and log directory (DESIGN §4, reference §2).
//!
//! No other module builds these paths by hand: nimbus, supervisors and workers all ask [`StormPaths`], so
//! the on-disk tree stays Storm's:
//!
//! ```text
//! nimbus/inbox/stormjar-<uuid>.jar
//! nimbus/stormdist/<topology-id>/{stormjar.jar,stormcode.ser,stormconf.ser}
//! supervisor/isupervisor/   supervisor/localstate/   supervisor/tmp/
//! supervisor/stormdist/<topology-id>/{stormjar.jar,stormcode.ser,stormconf.ser,resources/}
//! workers/<worker-id>/{heartbeats/,pids/,tmp/}
//! workers-users/<worker-id>
//! <storm.log.dir>/{nimbus,supervisor,drpc,ui}.log
//! <storm.log.dir>/workers-artifacts/<topology-id>/<port>/{worker.log,worker.pid}
//! ```

use std::path::{Path, PathBuf};

use crate::config::{Config, ConfigError};

/// The topology artifact inside a stormdist directory.
pub const STORMJAR: &str = "stormjar.jar";
/// The serialized `StormTopology` (Thrift binary).
pub const STORMCODE: &str = "stormcode.ser";
/// The topology configuration (gzip JSON).
pub const STORMCONF: &str = "stormconf.ser";
/// The `resources/` directory unpacked from a jar (multilang scripts).
pub const RESOURCES: &str = "resources";
/// The dependency files of a topology (`storm jar --jars/--artifacts`) inside a stormdist directory
/// (storm-rs; Storm keeps them as `dep-…` blobs).
pub const DEPENDENCIES: &str = "dependencies";

/// The local directory tree of one daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StormPaths {
    local_dir: PathBuf,
    log_dir: PathBuf,
    artifacts_dir: PathBuf,
}

impl StormPaths {
    /// Resolves `storm.local.dir`, `storm.log.dir` and `storm.workers.artifacts.dir` from a configuration
    /// (relative paths against Storm home; the artifacts dir relative to the log dir, as Storm does).
    pub fn from_config(conf: &Config) -> Result<StormPaths, ConfigError> {
        let local_dir = conf.get_path("storm.local.dir")?;
        let log_dir = conf.get_path("storm.log.dir")?;
        let artifacts = PathBuf::from(conf.get_str("storm.workers.artifacts.dir")?);
        let artifacts_dir = if artifacts.is_absolute() {
            artifacts
        } else {
            log_dir.join(artifacts)
        };
        Ok(StormPaths {
            local_dir,
            log_dir,
            artifacts_dir,
        })
    }

    /// A tree rooted at explicit directories (tests).
    pub fn new(local_dir: impl Into<PathBuf>, log_dir: impl Into<PathBuf>) -> StormPaths {
        let log_dir = log_dir.into();
        StormPaths {
            local_dir: local_dir.into(),
            artifacts_dir: log_dir.join("workers-artifacts"),
            log_dir,
        }
    }

    pub fn local_dir(&self) -> &Path {
        &self.local_dir
    }

    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    // ---- nimbus ----

    pub fn nimbus_dir(&self) -> PathBuf {
        self.local_dir.join("nimbus")
    }

    pub fn nimbus_inbox(&self) -> PathBuf {
        self.nimbus_dir().join("inbox")
    }

    /// `nimbus/inbox/stormjar-<uuid>.jar`, where an upload lands.
    pub fn nimbus_inbox_jar(&self, uuid: &str) -> PathBuf {
        self.nimbus_inbox().join(format!("stormjar-{uuid}.jar"))
    }

    pub fn nimbus_stormdist_root(&self) -> PathBuf {
        self.nimbus_dir().join("stormdist")
    }

    pub fn nimbus_stormdist(&self, topology_id: &str) -> PathBuf {
        self.nimbus_stormdist_root().join(encode_id(topology_id))
    }

    /// `nimbus/history/`: LocalState of killed topologies.
    pub fn nimbus_history(&self) -> PathBuf {
        self.nimbus_dir().join("history")
    }

    // ---- supervisor ----

    pub fn supervisor_dir(&self) -> PathBuf {
        self.local_dir.join("supervisor")
    }

    /// LocalState holding the persistent supervisor id.
    pub fn supervisor_isupervisor(&self) -> PathBuf {
        self.supervisor_dir().join("isupervisor")
    }

    /// LocalState holding what each slot runs (crash recovery).
    pub fn supervisor_localstate(&self) -> PathBuf {
        self.supervisor_dir().join("localstate")
    }

    pub fn supervisor_tmp(&self) -> PathBuf {
        self.supervisor_dir().join("tmp")
    }

    pub fn supervisor_stormdist_root(&self) -> PathBuf {
        self.supervisor_dir().join("stormdist")
    }

    pub fn supervisor_stormdist(&self, topology_id: &str) -> PathBuf {
        self.supervisor_stormdist_root()
            .join(encode_id(topology_id))
    }

    /// `supervisor/stormdist/<id>/dependencies`: the topology's `--jars`/`--artifacts` files.
    pub fn supervisor_dependencies(&self, topology_id: &str) -> PathBuf {
        self.supervisor_stormdist(topology_id).join(DEPENDENCIES)
    }

    /// `supervisor/stormdist/<id>/resources`: the working directory of multilang subprocesses.
    pub fn supervisor_resources(&self, topology_id: &str) -> PathBuf {
        self.supervisor_stormdist(topology_id).join(RESOURCES)
    }

    /// `supervisor/usercache`: the distributed cache of users' blobs (`topology.blobstore.map`).
    pub fn supervisor_usercache(&self) -> PathBuf {
        self.supervisor_dir().join("usercache")
    }

    // ---- workers ----

    pub fn workers_root(&self) -> PathBuf {
        self.local_dir.join("workers")
    }

    /// `workers/<worker-id>`: the worker's working directory.
    pub fn worker_root(&self, worker_id: &str) -> PathBuf {
        self.workers_root().join(worker_id)
    }

    pub fn worker_heartbeats(&self, worker_id: &str) -> PathBuf {
        self.worker_root(worker_id).join("heartbeats")
    }

    pub fn worker_pids_root(&self, worker_id: &str) -> PathBuf {
        self.worker_root(worker_id).join("pids")
    }

    /// `workers/<worker-id>/pids/<pid>`: one empty file per process of the worker.
    pub fn worker_pid_path(&self, worker_id: &str, pid: u32) -> PathBuf {
        self.worker_pids_root(worker_id).join(pid.to_string())
    }

    pub fn worker_tmp(&self, worker_id: &str) -> PathBuf {
        self.worker_root(worker_id).join("tmp")
    }

    /// `workers/<worker-id>/artifacts`: symlink to the worker's `workers-artifacts/<id>/<port>`.
    pub fn worker_artifacts_link(&self, worker_id: &str) -> PathBuf {
        self.worker_root(worker_id).join("artifacts")
    }

    /// `workers/<worker-id>/resources`: symlink to `supervisor/stormdist/<id>/resources`.
    pub fn worker_resources_link(&self, worker_id: &str) -> PathBuf {
        self.worker_root(worker_id).join(RESOURCES)
    }

    /// `workers-users/<worker-id>`: the OS user the worker runs as.
    pub fn worker_user_file(&self, worker_id: &str) -> PathBuf {
        self.local_dir.join("workers-users").join(worker_id)
    }

    // ---- logs ----

    /// `<storm.log.dir>/<daemon>.log`.
    pub fn daemon_log(&self, daemon: &str) -> PathBuf {
        self.log_dir.join(format!("{daemon}.log"))
    }

    pub fn workers_artifacts_root(&self) -> PathBuf {
        self.artifacts_dir.clone()
    }

    /// `workers-artifacts/<topology-id>/<port>`.
    pub fn worker_artifacts(&self, topology_id: &str, port: u16) -> PathBuf {
        self.artifacts_dir
            .join(encode_id(topology_id))
            .join(port.to_string())
    }

    pub fn worker_log(&self, topology_id: &str, port: u16) -> PathBuf {
        self.worker_artifacts(topology_id, port).join("worker.log")
    }

    /// `workers-artifacts/<topology-id>/<port>/worker.log.out`: the worker's redirected stdout.
    pub fn worker_log_out(&self, topology_id: &str, port: u16) -> PathBuf {
        self.worker_artifacts(topology_id, port)
            .join("worker.log.out")
    }

    /// `workers-artifacts/<topology-id>/<port>/worker.log.err`: the worker's redirected stderr.
    pub fn worker_log_err(&self, topology_id: &str, port: u16) -> PathBuf {
        self.worker_artifacts(topology_id, port)
            .join("worker.log.err")
    }

    pub fn worker_artifacts_pid(&self, topology_id: &str, port: u16) -> PathBuf {
        self.worker_artifacts(topology_id, port).join("worker.pid")
    }
}

/// The stormdist file `name` (one of [`STORMJAR`], [`STORMCODE`], [`STORMCONF`]) inside `dir`.
/// `<storm home>/lib-java`: storm-rs's Java parts (the bridge jar, Storm's client jars resolved from
/// Maven under `repository/`, and the cached classpath lists).
pub fn java_lib_dir(home: &Path) -> PathBuf {
    home.join("lib-java")
}

pub fn dist_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

/// Whether `name` can name a file in a stormdist `dependencies/` directory: a plain file name (no
/// path separator, NUL or `=`, not starting with `.`), at most 255 bytes.
pub fn is_dependency_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0', '='])
}

/// URL-encodes a topology id for use as a directory name, as Storm does (ids are `[^/.:\\]+` already, so
/// this only matters for ids that came from outside).
pub fn encode_id(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'*') {
            out.push(b as char);
        } else if b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out == "." || out == ".." {
        out = out.replace('.', "%2E");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_matches_storm_layout() {
        let p = StormPaths::new("/s", "/l");
        assert_eq!(
            p.nimbus_inbox_jar("u1"),
            PathBuf::from("/s/nimbus/inbox/stormjar-u1.jar")
        );
        assert_eq!(
            p.nimbus_stormdist("wc-1-2").join(STORMCODE),
            PathBuf::from("/s/nimbus/stormdist/wc-1-2/stormcode.ser")
        );
        assert_eq!(
            p.supervisor_isupervisor(),
            PathBuf::from("/s/supervisor/isupervisor")
        );
        assert_eq!(
            p.supervisor_localstate(),
            PathBuf::from("/s/supervisor/localstate")
        );
        assert_eq!(
            p.supervisor_resources("wc-1-2"),
            PathBuf::from("/s/supervisor/stormdist/wc-1-2/resources")
        );
        assert_eq!(
            p.worker_pid_path("w", 42),
            PathBuf::from("/s/workers/w/pids/42")
        );
        assert_eq!(
            p.worker_heartbeats("w"),
            PathBuf::from("/s/workers/w/heartbeats")
        );
        assert_eq!(p.worker_user_file("w"), PathBuf::from("/s/workers-users/w"));
        assert_eq!(p.daemon_log("nimbus"), PathBuf::from("/l/nimbus.log"));
        assert_eq!(
            p.worker_log("wc-1-2", 6700),
            PathBuf::from("/l/workers-artifacts/wc-1-2/6700/worker.log")
        );
    }

    #[test]
    fn config_resolution_follows_storm() {
        let mut c = Config::defaults();
        c.set_home(PathBuf::from("/opt/storm"));
        c.set("storm.local.dir", "local");
        let p = StormPaths::from_config(&c).unwrap();
        assert_eq!(p.local_dir(), Path::new("/opt/storm/local"));
        assert_eq!(
            p.workers_artifacts_root(),
            PathBuf::from("/opt/storm/logs/workers-artifacts")
        );
        c.set("storm.workers.artifacts.dir", "/var/artifacts");
        assert_eq!(
            StormPaths::from_config(&c)
                .unwrap()
                .workers_artifacts_root(),
            PathBuf::from("/var/artifacts")
        );
    }

    #[test]
    fn ids_are_url_encoded() {
        assert_eq!(encode_id("wc-1-1700000000"), "wc-1-1700000000");
        assert_eq!(encode_id("a/b"), "a%2Fb");
        assert_eq!(encode_id(".."), "%2E%2E");
    }
}
