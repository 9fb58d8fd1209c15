//! Process-wide logging set-up with `tracing`.
//!
//! Commands log warnings to stderr; daemons log to `<storm.log.dir>/<daemon>.log` (Storm's file names) and
//! to stderr, so they work both under systemd (journal) and by hand. The level comes from `STORM_LOG`
//! (an `EnvFilter` directive such as `info` or `storm::cluster=debug`), defaulting to `info` for daemons
//! and `warn` for commands.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::writer::MakeWriterExt;
use tracing_subscriber::EnvFilter;

fn filter(default: &str) -> EnvFilter {
    EnvFilter::try_from_env("STORM_LOG").unwrap_or_else(|_| EnvFilter::new(default))
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
/// worker's stderr to `worker.log.err`, so mirroring would write every line twice).
pub fn init_worker(log_file: &Path) -> std::io::Result<()> {
    init_file(log_file, false)
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
