//! Multilang: spouts and bolts run as subprocesses speaking Storm's multilang protocol over stdin/stdout
//! (storm-internals §10), so pystorm, streamparse and Storm's own `storm.py`-style components run on
//! storm-rs workers.
//!
//! What this module owns:
//! * [`codec`]: the `<json>\nend\n` framing (bounded), the messages both ways, tuple values ↔ JSON and
//!   the handshake's `context`;
//! * `process`: one subprocess — launch, handshake (`conf`, `pidDir`, `context` → `{"pid": N}`),
//!   reader/writer/stderr threads, heartbeat tuples, kill on drop;
//! * [`ShellBolt`] (Storm's `ShellBolt`: asynchronous, `topology.shellbolt.max.pending`, heartbeats
//!   every second, `topology.subprocess.timeout.secs` falling back to `supervisor.worker.timeout.secs`)
//!   and [`ShellSpout`] (Storm's `ShellSpout`: synchronous `next`/`ack`/`fail`/`activate`/
//!   `deactivate`, each answered by `sync`);
//! * how shell components travel in a topology: as Storm's `ComponentObject::Shell(ShellComponent{
//!   execution_command, script})`, the command being `[execution_command, script]` (the script is one
//!   argument, as in Storm).
//!
//! # Directories
//!
//! In a cluster worker (`STORM_WORKER=1`, working directory `<storm.local.dir>/workers/<worker-id>`) the
//! subprocess runs in `supervisor/stormdist/<topology-id>/resources` (the jar's `resources/`; the
//! worker's own directory when the topology has none) and its pid file goes to
//! `workers/<worker-id>/pids`, so the supervisor kills it with the worker. Elsewhere (local mode) it
//! runs in the directory named by the storm-rs key `storm.rs.multilang.dir` (topology or component
//! conf), else the current directory, with a temporary pid directory.
//!
//! # When the subprocess dies, hangs or breaks the protocol
//!
//! The component "dies" as Storm's does: it logs `Halting process: ShellBolt died. …` (or
//! `ShellSpout`) with the command, pid, exit status and the child's last stderr lines, reports the error
//! (shown by `/errors`, `storm get-errors` and the UI), and kills the child. In a cluster worker
//! (`STORM_WORKER=1` and `storm.cluster.mode` not `local`) it then exits the worker process with status
//! 11 (Storm's `System.exit(11)`), so the supervisor restarts the worker and acking replays the lost
//! tuples. In local mode the component returns the error instead: the executor is rebuilt (a new
//! subprocess) and the lost tuple trees time out and are replayed.

mod bolt;
pub mod codec;
mod process;
mod spout;

use std::path::PathBuf;
use std::time::Duration;

pub use bolt::ShellBolt;
pub use codec::FrameError;
pub use spout::ShellSpout;

use crate::api::{conf_i64, ComponentCodecError, ConfMap, OutputFieldsDeclarer};
use crate::paths::StormPaths;
use crate::thrift::{ComponentObject, ShellComponent};
use process::TempPidDir;

/// storm-rs configuration key: the subprocesses' working directory outside a cluster worker.
pub const MULTILANG_DIR_KEY: &str = "storm.rs.multilang.dir";

/// Exit status of a worker whose shell component died (Storm's).
pub const SHELL_DIED_EXIT_CODE: i32 = 11;

/// What went wrong with a subprocess.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ShellErrorKind {
    #[error("cannot start the subprocess in {}: {message}", dir.display())]
    Spawn { dir: PathBuf, message: String },
    #[error("bad handshake: {0}")]
    Handshake(String),
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("subprocess heartbeat timeout: nothing received for more than {secs} s while waiting for {waiting_for}")]
    Timeout {
        secs: u64,
        waiting_for: &'static str,
    },
    #[error("{0}")]
    Write(String),
    #[error("{0}")]
    Protocol(String),
}

/// A subprocess failure, naming the component, task, command and process.
#[derive(Debug, Clone, thiserror::Error)]
#[error("component \"{component}\" task {task} (command {command:?}{}{}): {kind}{}",
    pid.map(|p| format!(", pid {p}")).unwrap_or_default(),
    exit.as_ref().map(|e| format!(", {e}")).unwrap_or_default(),
    if stderr.is_empty() { String::new() } else { format!("; subprocess stderr: {}", stderr.join(" | ")) })]
pub struct ShellError {
    pub component: String,
    pub task: i32,
    pub command: Vec<String>,
    pub pid: Option<u32>,
    /// The exit status, when the child had exited.
    pub exit: Option<String>,
    /// The child's last stderr lines.
    pub stderr: Vec<String>,
    pub kind: ShellErrorKind,
}

/// One declared output stream of a shell component.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct OutputDecl {
    pub stream: String,
    pub direct: bool,
    pub fields: Vec<String>,
}

pub(crate) fn declare_outputs(outputs: &[OutputDecl], declarer: &mut OutputFieldsDeclarer) {
    for o in outputs {
        declarer.declare_full(&o.stream, o.direct, o.fields.iter().cloned());
    }
}

pub(crate) fn push_output<I, S>(
    outputs: &mut Vec<OutputDecl>,
    stream: &str,
    direct: bool,
    fields: I,
) where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    outputs.push(OutputDecl {
        stream: stream.to_owned(),
        direct,
        fields: fields.into_iter().map(Into::into).collect(),
    });
}

/// The Thrift form of a shell component running `command` (`[execution_command]` or
/// `[execution_command, script]`, Storm's `ShellComponent`).
pub fn shell_component_object(
    component: &str,
    command: &[String],
) -> Result<ComponentObject, ComponentCodecError> {
    let (execution_command, script) = match command {
        [c] => (c.clone(), String::new()),
        [c, s] => (c.clone(), s.clone()),
        _ => {
            return Err(ComponentCodecError::Serialize {
                component: component.to_owned(),
                message: format!(
                    "a shell component's command is [execution_command, script] (Storm's ShellComponent), got {command:?}; put further arguments in a wrapper script"
                ),
            })
        }
    };
    Ok(ComponentObject::Shell(ShellComponent {
        execution_command: Some(execution_command),
        script: Some(script),
    }))
}

/// The command of a Thrift shell component: `[execution_command, script]` (an empty script is left
/// out).
pub fn command_of(shell: &ShellComponent) -> Vec<String> {
    let mut command = vec![shell.execution_command.clone().unwrap_or_default()];
    if let Some(script) = shell.script.as_ref().filter(|s| !s.is_empty()) {
        command.push(script.clone());
    }
    command
}

/// Where and how a subprocess runs, from the conf `prepare`/`open` received.
pub(crate) struct Settings {
    pub cwd: PathBuf,
    pub pid_dir: PathBuf,
    pub temp_pid_dir: Option<TempPidDir>,
    pub timeout: Duration,
    pub max_pending: usize,
    /// A dead subprocess exits the worker process.
    pub fatal: bool,
}

fn in_cluster_worker() -> bool {
    std::env::var(crate::worker::ENV_WORKER).as_deref() == Ok("1")
}

impl Settings {
    pub fn new(conf: &ConfMap, topology_id: &str) -> Settings {
        let secs = conf_i64(conf, "topology.subprocess.timeout.secs")
            .or_else(|| conf_i64(conf, "supervisor.worker.timeout.secs"))
            .unwrap_or(30)
            .max(1);
        let max_pending = conf_i64(conf, "topology.shellbolt.max.pending")
            .unwrap_or(100)
            .max(1);
        let local_mode = conf.get("storm.cluster.mode").and_then(|v| v.as_str()) == Some("local");
        let worker = in_cluster_worker();
        let mut settings = Settings {
            cwd: PathBuf::from("."),
            pid_dir: PathBuf::new(),
            temp_pid_dir: None,
            timeout: Duration::from_secs(secs as u64),
            max_pending: usize::try_from(max_pending).unwrap_or(100),
            fatal: worker && !local_mode,
        };
        if worker {
            if let Some((cwd, pid_dir)) = worker_dirs(topology_id) {
                settings.cwd = cwd;
                settings.pid_dir = pid_dir;
                return settings;
            }
            tracing::warn!(
                "STORM_WORKER=1 but the working directory is not <storm.local.dir>/workers/<id>; running subprocesses as in local mode"
            );
        }
        settings.cwd = match conf.get(MULTILANG_DIR_KEY).and_then(|v| v.as_str()) {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        };
        let temp = TempPidDir::new();
        settings.pid_dir = temp.0.clone();
        settings.temp_pid_dir = Some(temp);
        settings
    }
}

/// In a cluster worker: (`supervisor/stormdist/<id>/resources` or the worker dir, `workers/<wid>/pids`).
fn worker_dirs(topology_id: &str) -> Option<(PathBuf, PathBuf)> {
    let cwd = std::env::current_dir().ok()?;
    let worker_id = cwd.file_name()?.to_str()?.to_owned();
    let workers = cwd.parent()?;
    if workers.file_name()? != "workers" {
        return None;
    }
    let local_dir = workers.parent()?;
    let paths = StormPaths::new(local_dir, local_dir.join("logs"));
    let resources = paths.supervisor_resources(topology_id);
    let dir = if resources.is_dir() {
        resources
    } else {
        tracing::warn!(
            topology = topology_id,
            "{} does not exist (the topology jar has no resources/); subprocesses run in the worker directory",
            resources.display()
        );
        cwd.clone()
    };
    Some((dir, paths.worker_pids_root(&worker_id)))
}

/// Logs Storm's "Halting process" line; in a cluster worker exits the process (status 11).
pub(crate) fn halt(kind: &str, error: &ShellError, fatal: bool) {
    tracing::error!(
        component = %error.component,
        task = error.task,
        "Halting process: {kind} died. {error}"
    );
    if fatal {
        tracing::error!(
            component = %error.component,
            "a shell component died: exiting the worker with status {SHELL_DIED_EXIT_CODE} so the supervisor restarts it"
        );
        std::process::exit(SHELL_DIED_EXIT_CODE);
    }
}

/// Writes a subprocess's `log` command into the worker log at its level.
pub(crate) fn log_message(component: &str, task: i32, pid: u32, level: codec::LogLevel, msg: &str) {
    use codec::LogLevel::*;
    match level {
        Trace => tracing::trace!(target: "storm::multilang", component, task, pid, "{msg}"),
        Debug => tracing::debug!(target: "storm::multilang", component, task, pid, "{msg}"),
        Info => tracing::info!(target: "storm::multilang", component, task, pid, "{msg}"),
        Warn => tracing::warn!(target: "storm::multilang", component, task, pid, "{msg}"),
        Error => tracing::error!(target: "storm::multilang", component, task, pid, "{msg}"),
    }
}

#[cfg(test)]
mod tests;
