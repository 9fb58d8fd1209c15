//! Worker processes on a supervisor (Storm's `BasicContainer`/`Container`): setting up a worker's
//! directories, launching it (ARCHITECTURE "Worker launch"), reading its local heartbeat, signalling and
//! cleaning it up, re-adopting workers after a supervisor restart, and the supervisor's own LocalState
//! (`local-assignments`, `approved-workers` in `supervisor/localstate`).
//!
//! A launched worker is the supervisor's child: it is reaped with `try_wait`, so no zombies are left.
//! A re-adopted worker is not; its liveness is `kill(pid, 0)` on the pids in `workers/<wid>/pids/`.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::config::Config;
use crate::local_state::{
    LocalState, LS_APPROVED_WORKERS, LS_LOCAL_ASSIGNMENTS, LS_WORKER_HEARTBEAT,
};
use crate::paths::{StormPaths, STORMCONF, STORMJAR};
use crate::thrift::{
    LSApprovedWorkers, LSSupervisorAssignments, LSWorkerHeartbeat, LocalAssignment,
};

use super::localizer::file_is_elf;
use super::slot::Worker;

/// Environment variable naming the worker program to run instead of the stock `worker` binary (tests).
pub const WORKER_BINARY_ENV: &str = "STORM_WORKER_BINARY";

/// mimalloc's switch for committing whole arenas up front.
const MIMALLOC_EAGER_COMMIT_ENV: &str = "MIMALLOC_ARENA_EAGER_COMMIT";

/// The supervisor's `supervisor/localstate`: what each slot runs and which worker ids are approved.
/// One lock serializes the read-modify-write of the shared LocalState.
#[derive(Clone)]
pub struct SupervisorLocalState {
    ls: Arc<Mutex<LocalState>>,
}

impl SupervisorLocalState {
    pub fn open(
        paths: &StormPaths,
    ) -> Result<SupervisorLocalState, crate::local_state::LocalStateError> {
        Ok(SupervisorLocalState {
            ls: Arc::new(Mutex::new(LocalState::open(paths.supervisor_localstate())?)),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LocalState> {
        self.ls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `local-assignments` (empty when missing or unreadable).
    pub fn assignments(&self) -> BTreeMap<i32, LocalAssignment> {
        match self
            .lock()
            .get::<LSSupervisorAssignments>(LS_LOCAL_ASSIGNMENTS)
        {
            Ok(a) => a.map(|a| a.assignments).unwrap_or_default(),
            Err(e) => {
                tracing::warn!("cannot read {LS_LOCAL_ASSIGNMENTS}: {e}");
                BTreeMap::new()
            }
        }
    }

    /// `approved-workers`: worker id → port.
    pub fn approved(&self) -> BTreeMap<String, i32> {
        match self.lock().get::<LSApprovedWorkers>(LS_APPROVED_WORKERS) {
            Ok(a) => a.map(|a| a.approved_workers).unwrap_or_default(),
            Err(e) => {
                tracing::warn!("cannot read {LS_APPROVED_WORKERS}: {e}");
                BTreeMap::new()
            }
        }
    }

    /// Sets (or clears) the slot `port`'s assignment, if it changed.
    pub fn set_assignment(&self, port: u16, assignment: Option<&LocalAssignment>) {
        let ls = self.lock();
        let mut all = ls
            .get::<LSSupervisorAssignments>(LS_LOCAL_ASSIGNMENTS)
            .ok()
            .flatten()
            .map(|a| a.assignments)
            .unwrap_or_default();
        let port = i32::from(port);
        let changed = match assignment {
            Some(a) => all.insert(port, a.clone()).as_ref() != Some(a),
            None => all.remove(&port).is_some(),
        };
        if changed {
            if let Err(e) = ls.put(LS_LOCAL_ASSIGNMENTS, &LSSupervisorAssignments::new(all)) {
                tracing::error!("cannot persist {LS_LOCAL_ASSIGNMENTS}: {e}");
            }
        }
    }

    fn update_approved(&self, f: impl FnOnce(&mut BTreeMap<String, i32>) -> bool) {
        let ls = self.lock();
        let mut all = ls
            .get::<LSApprovedWorkers>(LS_APPROVED_WORKERS)
            .ok()
            .flatten()
            .map(|a| a.approved_workers)
            .unwrap_or_default();
        if f(&mut all) {
            if let Err(e) = ls.put(LS_APPROVED_WORKERS, &LSApprovedWorkers::new(all)) {
                tracing::error!("cannot persist {LS_APPROVED_WORKERS}: {e}");
            }
        }
    }

    pub fn approve(&self, worker_id: &str, port: u16) {
        self.update_approved(|m| {
            m.insert(worker_id.to_string(), i32::from(port)) != Some(i32::from(port))
        });
    }

    pub fn unapprove(&self, worker_id: &str) {
        self.update_approved(|m| m.remove(worker_id).is_some());
    }

    /// Clears both keys (`kill_all_workers`).
    pub fn clear(&self) {
        let ls = self.lock();
        for key in [LS_LOCAL_ASSIGNMENTS, LS_APPROVED_WORKERS] {
            if let Err(e) = ls.remove(key) {
                tracing::warn!("cannot clear {key}: {e}");
            }
        }
    }
}

/// What a launch needs besides the assignment.
#[derive(Clone, Debug)]
pub struct LaunchSettings {
    pub paths: StormPaths,
    /// The supervisor id (the worker's second argument).
    pub supervisor_id: String,
    /// The stock worker program (used when `stormjar.jar` is not an ELF executable).
    pub worker_binary: PathBuf,
    /// `STORM_CONF_FILE` for the worker: the supervisor's `--config`, absolute.
    pub conf_file: Option<PathBuf>,
    /// `STORM_OPTIONS` for the worker: the supervisor's `-c` overrides.
    pub options: Vec<String>,
    /// `supervisor.worker.timeout.secs`.
    pub worker_timeout: Duration,
    /// `worker.max.timeout.secs` (cap of `topology.worker.timeout.secs`).
    pub worker_max_timeout: Duration,
    /// The supervisor's Storm home, given to workers as `STORM_HOME` when the supervisor's
    /// environment has none (so relative paths resolve the same in the worker's working directory).
    pub storm_home: PathBuf,
}

impl LaunchSettings {
    /// Settings from a supervisor configuration.
    pub fn from_config(
        conf: &Config,
        paths: StormPaths,
        supervisor_id: &str,
        worker_binary: Option<PathBuf>,
        conf_file: Option<PathBuf>,
        options: Vec<String>,
    ) -> anyhow::Result<LaunchSettings> {
        let conf_file = conf_file.map(|f| std::path::absolute(&f).unwrap_or(f));
        Ok(LaunchSettings {
            paths,
            supervisor_id: supervisor_id.to_string(),
            worker_binary: worker_binary.unwrap_or_else(default_worker_binary),
            conf_file,
            options,
            worker_timeout: Duration::from_secs(conf.get_u64("supervisor.worker.timeout.secs")?),
            worker_max_timeout: Duration::from_secs(conf.get_u64("worker.max.timeout.secs")?),
            storm_home: std::path::absolute(conf.home())
                .unwrap_or_else(|_| conf.home().to_path_buf()),
        })
    }

    /// The heartbeat timeout of a topology: `supervisor.worker.timeout.secs`, or its
    /// `topology.worker.timeout.secs` when larger (capped by `worker.max.timeout.secs`).
    pub fn heartbeat_timeout(
        &self,
        topology_conf: &serde_json::Map<String, serde_json::Value>,
    ) -> Duration {
        let topo = topology_conf
            .get("topology.worker.timeout.secs")
            .and_then(|v| v.as_u64())
            .map(Duration::from_secs)
            .map(|t| t.min(self.worker_max_timeout));
        match topo {
            Some(t) if t > self.worker_timeout => t,
            _ => self.worker_timeout,
        }
    }
}

/// The stock worker program: `$STORM_WORKER_BINARY`, else `worker` next to the current executable (or
/// one directory up, where Cargo puts binaries relative to test executables).
pub fn default_worker_binary() -> PathBuf {
    if let Some(p) = std::env::var_os(WORKER_BINARY_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("worker"));
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    let here = dir.join("worker");
    if here.is_file() {
        return here;
    }
    if let Some(up) = dir.parent().map(|d| d.join("worker")) {
        if up.is_file() {
            return up;
        }
    }
    here
}

/// Reads a topology's `stormconf.ser` (empty when missing or unreadable).
pub fn read_topology_conf(
    paths: &StormPaths,
    topology_id: &str,
) -> serde_json::Map<String, serde_json::Value> {
    let file = paths.supervisor_stormdist(topology_id).join(STORMCONF);
    match fs::read(&file) {
        Ok(bytes) => crate::thrift::gzip_json_to_conf(&bytes).unwrap_or_else(|e| {
            tracing::warn!(file = %file.display(), "cannot decode the topology conf: {e}");
            serde_json::Map::new()
        }),
        Err(_) => serde_json::Map::new(),
    }
}

/// The newest `worker-heartbeat` of a worker, if any.
pub fn read_heartbeat(paths: &StormPaths, worker_id: &str) -> Option<LSWorkerHeartbeat> {
    let dir = paths.worker_heartbeats(worker_id);
    if !dir.is_dir() {
        return None;
    }
    LocalState::open(dir)
        .ok()?
        .get::<LSWorkerHeartbeat>(LS_WORKER_HEARTBEAT)
        .ok()
        .flatten()
}

/// The pids listed in `workers/<wid>/pids/`.
pub fn worker_pids(paths: &StormPaths, worker_id: &str) -> Vec<i32> {
    let Ok(entries) = fs::read_dir(paths.worker_pids_root(worker_id)) else {
        return Vec::new();
    };
    let mut pids: Vec<i32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| *p > 1)
        .collect();
    pids.sort_unstable();
    pids
}

/// Whether a process exists (`kill(pid, 0)`; EPERM means it exists but is not ours). A zombie (exited,
/// not yet reaped by its parent) counts as dead.
pub fn process_alive(pid: i32) -> bool {
    let exists = match nix::sys::signal::kill(Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(nix::errno::Errno::EPERM) => true,
        Err(_) => false,
    };
    exists && !is_zombie(pid)
}

fn is_zombie(pid: i32) -> bool {
    // /proc/<pid>/stat: "<pid> (<comm>) <state> ..."; comm may contain spaces and parentheses.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let after = s.rsplit_once(')')?.1;
            after
                .split_whitespace()
                .next()
                .map(|st| st == "Z" || st == "X")
        })
        .unwrap_or(false)
}

/// Sends `sig` to `pid`, and to its process group when it leads one (workers do).
pub fn signal_process(pid: i32, sig: Signal) {
    let p = Pid::from_raw(pid);
    if nix::unistd::getpgid(Some(p)).ok() == Some(p) {
        let _ = nix::sys::signal::killpg(p, sig);
    }
    let _ = nix::sys::signal::kill(p, sig);
}

/// Removes a worker's directory and `workers-users` file.
pub fn remove_worker_files(paths: &StormPaths, worker_id: &str) {
    let root = paths.worker_root(worker_id);
    if let Err(e) = fs::remove_dir_all(&root) {
        if e.kind() != io::ErrorKind::NotFound {
            tracing::warn!(dir = %root.display(), "cannot remove the worker directory: {e}");
        }
    }
    let _ = fs::remove_file(paths.worker_user_file(worker_id));
}

/// A worker process (launched by this supervisor or re-adopted).
pub struct WorkerProcess {
    id: String,
    paths: StormPaths,
    state: SupervisorLocalState,
    child: Option<Child>,
    /// The main pid; `None` once reaped.
    main_pid: Option<i32>,
    exited: bool,
    hb_timeout: Duration,
}

impl std::fmt::Debug for WorkerProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerProcess")
            .field("id", &self.id)
            .field("main_pid", &self.main_pid)
            .finish()
    }
}

fn current_user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| {
            use std::os::unix::fs::MetadataExt;
            fs::metadata("/proc/self")
                .map_or_else(|_| "unknown".to_string(), |m| m.uid().to_string())
        })
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    let _ = fs::remove_file(link);
    std::os::unix::fs::symlink(target, link)
}

impl WorkerProcess {
    /// Sets up `workers/<new id>/` and starts the worker for `assignment` on `port`.
    pub fn launch(
        settings: &LaunchSettings,
        state: &SupervisorLocalState,
        port: u16,
        assignment: &LocalAssignment,
    ) -> Result<WorkerProcess, String> {
        let paths = &settings.paths;
        let topo = &assignment.topology_id;
        let id = uuid::Uuid::new_v4().to_string();
        let ctx = |what: &str, p: &Path, e: io::Error| format!("{what} {}: {e}", p.display());
        let dist = paths.supervisor_stormdist(topo);
        let jar = dist.join(STORMJAR);
        for f in [crate::paths::STORMCODE, STORMCONF] {
            if !dist.join(f).is_file() {
                return Err(format!("{} is missing", dist.join(f).display()));
            }
        }
        let topo_conf = read_topology_conf(paths, topo);
        state.approve(&id, port);
        let root = paths.worker_root(&id);
        let setup = || -> Result<(), String> {
            for d in [
                paths.worker_pids_root(&id),
                paths.worker_tmp(&id),
                paths.worker_heartbeats(&id),
            ] {
                fs::create_dir_all(&d).map_err(|e| ctx("cannot create", &d, e))?;
            }
            let artifacts = paths.worker_artifacts(topo, port);
            fs::create_dir_all(&artifacts).map_err(|e| ctx("cannot create", &artifacts, e))?;
            let user_file = paths.worker_user_file(&id);
            if let Some(parent) = user_file.parent() {
                fs::create_dir_all(parent).map_err(|e| ctx("cannot create", parent, e))?;
            }
            fs::write(&user_file, format!("{}\n", current_user()))
                .map_err(|e| ctx("cannot write", &user_file, e))?;
            let link = paths.worker_artifacts_link(&id);
            symlink(&artifacts, &link).map_err(|e| ctx("cannot link", &link, e))?;
            let link = paths.worker_resources_link(&id);
            symlink(&paths.supervisor_resources(topo), &link)
                .map_err(|e| ctx("cannot link", &link, e))?;
            // topology.blobstore.map: each blob under its local name in the worker's directory.
            for entry in super::blobs::blobstore_map(&topo_conf).unwrap_or_default() {
                let link = root.join(&entry.localname);
                symlink(&dist.join(&entry.localname), &link)
                    .map_err(|e| ctx("cannot link", &link, e))?;
            }
            Ok(())
        };
        let cleanup_failed = |e: String| {
            remove_worker_files(paths, &id);
            state.unapprove(&id);
            e
        };
        setup().map_err(cleanup_failed)?;

        let program = if file_is_elf(&jar) {
            jar.clone()
        } else {
            settings.worker_binary.clone()
        };
        let open_log = |p: PathBuf| {
            fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&p)
                .map_err(|e| ctx("cannot open", &p, e))
        };
        let out = open_log(paths.worker_log_out(topo, port)).map_err(cleanup_failed)?;
        let err = open_log(paths.worker_log_err(topo, port)).map_err(cleanup_failed)?;
        let mut cmd = Command::new(&program);
        cmd.arg(topo)
            .arg(&settings.supervisor_id)
            .arg(port.to_string())
            .arg(&id)
            .current_dir(&root)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        // Workers use mimalloc (`storm::Allocator`); committing its arenas lazily keeps an idle
        // worker's RSS at ~12 MB instead of ~23 MB (transparent huge pages). The topology or the
        // supervisor's own environment may override it.
        if std::env::var_os(MIMALLOC_EAGER_COMMIT_ENV).is_none() {
            cmd.env(MIMALLOC_EAGER_COMMIT_ENV, "0");
        }
        if let Some(serde_json::Value::Object(env)) = topo_conf.get("topology.environment") {
            for (k, v) in env {
                let v = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => continue,
                    other => other.to_string(),
                };
                cmd.env(k, v);
            }
        }
        cmd.env("STORM_WORKER", "1");
        // storm-rs: where the topology's `storm jar --jars/--artifacts` files are (Storm puts them on
        // the worker's classpath).
        cmd.env("STORM_DEPENDENCY_DIR", paths.supervisor_dependencies(topo));
        if std::env::var_os("STORM_HOME").is_none() {
            cmd.env("STORM_HOME", &settings.storm_home);
        }
        match &settings.conf_file {
            Some(f) => cmd.env("STORM_CONF_FILE", f),
            None => cmd.env_remove("STORM_CONF_FILE"),
        };
        cmd.env(
            "STORM_OPTIONS",
            serde_json::to_string(&settings.options).unwrap_or_else(|_| "[]".into()),
        );
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        // ETXTBSY: another thread of this process forked while the program was open for writing
        // (a just-written script); it clears as soon as that child execs.
        let mut attempts = 0;
        let child = loop {
            match cmd.spawn() {
                Err(e)
                    if e.raw_os_error() == Some(nix::errno::Errno::ETXTBSY as i32)
                        && attempts < 20 =>
                {
                    attempts += 1;
                    std::thread::sleep(Duration::from_millis(50));
                }
                other => break other,
            }
        }
        .map_err(|e| format!("cannot run {}: {e}", program.display()))
        .map_err(cleanup_failed)?;
        let pid = child.id() as i32;
        let pid_file = paths.worker_pid_path(&id, child.id());
        if let Err(e) = fs::write(&pid_file, b"") {
            tracing::warn!(file = %pid_file.display(), "cannot write the pid file: {e}");
        }
        tracing::info!(
            worker = %id,
            pid,
            port,
            topology = %topo,
            program = %program.display(),
            "worker process started"
        );
        Ok(WorkerProcess {
            id,
            paths: paths.clone(),
            state: state.clone(),
            child: Some(child),
            main_pid: Some(pid),
            exited: false,
            hb_timeout: settings.heartbeat_timeout(&topo_conf),
        })
    }

    /// Re-adopts a worker found after a restart (not our child): liveness from its pid files.
    pub fn recover(
        settings: &LaunchSettings,
        state: &SupervisorLocalState,
        worker_id: &str,
        topology_id: &str,
    ) -> WorkerProcess {
        let topo_conf = read_topology_conf(&settings.paths, topology_id);
        WorkerProcess {
            id: worker_id.to_string(),
            paths: settings.paths.clone(),
            state: state.clone(),
            child: None,
            main_pid: None,
            exited: false,
            hb_timeout: settings.heartbeat_timeout(&topo_conf),
        }
    }

    /// The main process's pid (a launched worker, until reaped).
    pub fn pid(&self) -> Option<i32> {
        self.main_pid
    }

    fn reap(&mut self) {
        if let Some(child) = self.child.as_mut() {
            match child.try_wait() {
                Ok(Some(status)) => {
                    tracing::info!(worker = %self.id, %status, "worker process exited");
                    self.exited = true;
                    self.child = None;
                    self.main_pid = None;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(worker = %self.id, "waiting for the worker failed: {e}");
                }
            }
        }
    }

    fn listed_pids_alive(&self) -> Vec<i32> {
        worker_pids(&self.paths, &self.id)
            .into_iter()
            .filter(|p| Some(*p) != self.main_pid || self.child.is_none())
            .filter(|p| process_alive(*p))
            .collect()
    }

    fn signal_all(&mut self, sig: Signal) {
        self.reap();
        if let Some(pid) = self.main_pid {
            signal_process(pid, sig);
        }
        for pid in self.listed_pids_alive() {
            signal_process(pid, sig);
        }
    }
}

impl Worker for WorkerProcess {
    fn id(&self) -> &str {
        &self.id
    }

    fn heartbeat_timeout(&self) -> Duration {
        self.hb_timeout
    }

    fn heartbeat_secs(&mut self) -> Option<i64> {
        read_heartbeat(&self.paths, &self.id).map(|hb| i64::from(hb.time_secs))
    }

    fn main_exited(&mut self) -> bool {
        self.reap();
        if self.child.is_some() {
            return false;
        }
        if self.exited {
            return true;
        }
        // Re-adopted: the worker is gone when none of its listed processes is.
        self.listed_pids_alive().is_empty()
    }

    fn all_dead(&mut self) -> bool {
        self.reap();
        self.child.is_none() && self.listed_pids_alive().is_empty()
    }

    fn terminate(&mut self) {
        self.signal_all(Signal::SIGTERM);
    }

    fn force_kill(&mut self) {
        self.signal_all(Signal::SIGKILL);
    }

    fn clean_up(&mut self) {
        remove_worker_files(&self.paths, &self.id);
        self.state.unapprove(&self.id);
    }
}

/// Kills a worker that is not bound to a slot (SIGTERM, `grace`, SIGKILL) and removes its files.
pub fn kill_orphan(
    paths: &StormPaths,
    state: &SupervisorLocalState,
    worker_id: &str,
    grace: Duration,
) {
    let alive = |pids: &[i32]| {
        pids.iter()
            .copied()
            .filter(|p| process_alive(*p))
            .collect::<Vec<_>>()
    };
    let pids = worker_pids(paths, worker_id);
    let live = alive(&pids);
    if !live.is_empty() {
        tracing::info!(worker = worker_id, pids = ?live, "killing worker");
        for p in &live {
            signal_process(*p, Signal::SIGTERM);
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline && !alive(&pids).is_empty() {
            std::thread::sleep(Duration::from_millis(50));
        }
        for p in alive(&pids) {
            signal_process(p, Signal::SIGKILL);
        }
    }
    remove_worker_files(paths, worker_id);
    state.unapprove(worker_id);
}

/// The worker ids found under `workers/`.
pub fn worker_dirs(paths: &StormPaths) -> Vec<String> {
    let Ok(entries) = fs::read_dir(paths.workers_root()) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    ids.sort();
    ids
}
