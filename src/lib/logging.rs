//! Process-wide logging set-up with `tracing`.
//!
//! Commands log warnings to stderr; daemons log to `<storm.log.dir>/<daemon>.log` (Storm's file names) and
//! to stderr, so they work both under systemd (journal) and by hand. The level comes from `STORM_LOG`
//! (an `EnvFilter` directive such as `info` or `storm::cluster=debug`), defaulting to `info` for daemons
//! and `warn` for commands.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::fmt::writer::MakeWriterExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

fn filter(default: &str) -> EnvFilter {
    EnvFilter::try_from_env("STORM_LOG").unwrap_or_else(|_| EnvFilter::new(default))
}

/// The directives a process's log filter starts from: `STORM_LOG`, else `default`.
pub fn base_directives(default: &str) -> String {
    std::env::var("STORM_LOG")
        .ok()
        .filter(|d| !d.trim().is_empty() && EnvFilter::try_new(d).is_ok())
        .unwrap_or_else(|| default.to_string())
}

/// The worker's filter, replaceable while it runs (`storm set_log_level`).
static WORKER_FILTER: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

/// Replaces the worker's log filter with `directives` (an `EnvFilter` string). An error names a bad
/// directive; without a reloadable filter (not a worker) nothing happens.
pub fn set_worker_filter(directives: &str) -> Result<(), String> {
    let filter = EnvFilter::try_new(directives).map_err(|e| format!("{directives:?}: {e}"))?;
    match WORKER_FILTER.get() {
        Some(handle) => handle.reload(filter).map_err(|e| e.to_string()),
        None => Ok(()),
    }
}

/// Logging for short-lived commands: warnings and errors on stderr. Does nothing in a topology
/// program started as a worker (`STORM_WORKER=1`), which logs to its `worker.log` instead.
pub fn init_cli() {
    if std::env::var("STORM_WORKER").as_deref() == Ok("1") {
        // A topology program started by a supervisor becomes a worker and logs to its worker.log.
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter("warn"))
        .with_writer(std::io::stderr)
        .try_init();
}

/// Logging for a daemon: appends to `log_file` (creating its directory) and mirrors to stderr.
pub fn init_daemon(log_file: &Path) -> std::io::Result<()> {
    init_file(log_file, true)
}

/// Logging for a worker process: appends to `log_file` only (the supervisor already sends the
/// worker's stderr to `worker.log.err`, so mirroring would write every line twice), through a
/// filter [`set_worker_filter`] can replace.
pub fn init_worker(log_file: &Path) -> std::io::Result<()> {
    if let Some(dir) = log_file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_file)?;
    let file = Arc::new(Mutex::new(file));
    let (layer, handle) = reload::Layer::new(filter("info"));
    let installed = tracing_subscriber::registry()
        .with(layer)
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(move || FileWriter(file.clone())),
        )
        .try_init();
    if installed.is_ok() {
        let _ = WORKER_FILTER.set(handle);
    }
    Ok(())
}

fn init_file(log_file: &Path, mirror_to_stderr: bool) -> std::io::Result<()> {
    if let Some(dir) = log_file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_file)?;
    let file = Arc::new(Mutex::new(file));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter("info"))
        .with_ansi(false);
    let _ = if mirror_to_stderr {
        builder
            .with_writer(std::io::stderr.and(move || FileWriter(file.clone())))
            .try_init()
    } else {
        builder
            .with_writer(move || FileWriter(file.clone()))
            .try_init()
    };
    Ok(())
}

/// A shared log file; each event is written whole under the lock.
struct FileWriter(Arc<Mutex<std::fs::File>>);

impl std::io::Write for FileWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut f = self.0.lock().unwrap_or_else(|p| p.into_inner());
        std::io::Write::write_all(&mut *f, buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let mut f = self.0.lock().unwrap_or_else(|p| p.into_inner());
        std::io::Write::flush(&mut *f)
    }
}
