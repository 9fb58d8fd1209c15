//! The `logviewer` daemon (Storm's `LogviewerServer`): serves this machine's daemon logs
//! (`<storm.log.dir>/*.log`) and worker logs (`<workers-artifacts>/<topology-id>/<port>/worker.log*`)
//! over HTTP on `logviewer.port` (8000) with Storm's `/api/v1/...` endpoints ([`http`]), and keeps the
//! worker logs' disk use bounded ([`cleanup`]). It needs no ZooKeeper and no nimbus: everything it
//! serves or cleans is on local disk, and the Storm UI links to it by host and port.
//!
//! | Part | Owns |
//! |---|---|
//! | [`files`] | what may be served: name → file under one of the two roots, traversal refusal, listings, byte ranges (plain and `.gz`) |
//! | [`page`] | the HTML pages (log page by byte offset with navigation, landing page, search results, dumps) and the paging arithmetic |
//! | [`search`] | streaming substring search with bounded memory; Storm's search and deep-search JSON |
//! | [`cleanup`] | Storm's `LogCleaner`: dead workers' old logs, per-worker and global size caps, never a live worker's active logs |
//! | [`http`] | the HTTP server (on [`crate::http::Server`]), routing, parameters, statuses and headers |
//!
//! [`main`] runs it in the foreground (logging to `<storm.log.dir>/logviewer.log`) until SIGTERM or
//! SIGINT. Differences from Storm: no authentication or per-user authorization (Storm too allows every
//! file when no `logviewer.filter`/`ui.filter` is configured; a configured filter is logged and
//! ignored); no HTTPS; the cleaner runs every `logviewer.cleanup.interval.secs`, which storm-rs sets
//! to 600 by default (Storm leaves it unset, which turns cleanup off; ≤ 0 turns it off here).

pub mod cleanup;
pub mod files;
pub mod http;
pub mod page;
pub mod search;

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::SystemTime;

use crate::config::{Config, ConfigError};
use crate::daemon::DaemonArgs;
use crate::paths::StormPaths;

pub use cleanup::{CleanupSettings, LogCleaner};
pub use files::LogRoots;

/// Why a logviewer operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LogviewerError {
    /// The file does not exist, or the name was refused (both are 404, as in Storm).
    #[error("the file was not found on this node")]
    NotFound,
    /// A parameter is malformed (400).
    #[error("{0}")]
    BadRequest(String),
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on logviewer.port = {port} (0.0.0.0:{port}): {source}")]
    Bind {
        port: u16,
        #[source]
        source: io::Error,
    },
}

impl LogviewerError {
    pub fn io(what: &'static str, path: &Path, source: io::Error) -> LogviewerError {
        LogviewerError::Io {
            what,
            path: path.to_path_buf(),
            source,
        }
    }
}

impl PartialEq for LogviewerError {
    fn eq(&self, other: &LogviewerError) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
            && self.to_string() == other.to_string()
    }
}

/// The cleaner's thread; stops when dropped.
struct CleanerThread {
    stop: Option<mpsc::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl CleanerThread {
    fn start(cleaner: LogCleaner) -> io::Result<Option<CleanerThread>> {
        let Some(interval) = cleaner.settings().interval else {
            tracing::warn!(
                "logviewer.cleanup.interval.secs is not set: worker logs are never cleaned up"
            );
            return Ok(None);
        };
        let (tx, rx) = mpsc::channel::<()>();
        let handle = std::thread::Builder::new()
            .name("logviewer-cleanup".into())
            .spawn(move || loop {
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    cleaner.run_once(SystemTime::now())
                }));
                match run {
                    Ok(r) if r != cleanup::CleanupReport::default() => tracing::info!(
                        dirs = r.dirs_removed,
                        files = r.files_deleted,
                        bytes = r.bytes_freed,
                        "log cleanup"
                    ),
                    Ok(_) => {}
                    Err(_) => {
                        tracing::error!("the log cleanup panicked; it runs again next interval")
                    }
                }
                if !matches!(
                    rx.recv_timeout(interval),
                    Err(mpsc::RecvTimeoutError::Timeout)
                ) {
                    return;
                }
            })?;
        Ok(Some(CleanerThread {
            stop: Some(tx),
            handle: Some(handle),
        }))
    }
}

impl Drop for CleanerThread {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// A running logviewer: the HTTP server and the cleaner.
pub struct Logviewer {
    http: http::HttpServer,
    _cleaner: Option<CleanerThread>,
}

impl Logviewer {
    /// Starts serving on `0.0.0.0:<logviewer.port>` and cleaning up every
    /// `logviewer.cleanup.interval.secs`.
    pub fn start(conf: &Config) -> Result<Logviewer, LogviewerError> {
        let paths = StormPaths::from_config(conf)?;
        let port = conf.get_port("logviewer.port")?;
        for key in ["logviewer.filter", "ui.filter", "logviewer.https.port"] {
            if conf.get(key).is_some_and(|v| !v.is_null()) {
                tracing::warn!(
                    "{key} is set but storm-rs's logviewer does not support it; ignored"
                );
            }
        }
        let slots = conf.get_i64_list("supervisor.slots.ports")?;
        let host = crate::config::local_hostname(conf);
        let root = paths.workers_artifacts_root();
        if let Err(e) = std::fs::create_dir_all(&root) {
            tracing::warn!(dir = %root.display(), "cannot create the worker log root: {e}");
        }
        let roots = LogRoots::new(&paths);
        let settings = CleanupSettings::from_config(conf)?;
        let auth = crate::security::http_auth::BasicAuth::from_config(
            conf,
            "logviewer.filter",
            "logviewer.filter.params",
            Some(("ui.filter", "ui.filter.params")),
        )
        .map_err(|e| LogviewerError::BadRequest(e.to_string()))?;
        let http = http::HttpServer::start(&format!("0.0.0.0:{port}"), |addr| http::Context {
            roots,
            links: search::LinkBase {
                host: host.clone(),
                port: addr.port(),
            },
            slots,
            auth,
        })
        .map_err(|source| LogviewerError::Bind { port, source })?;
        let cleaner = CleanerThread::start(LogCleaner::new(paths.clone(), settings.clone()))
            .map_err(|e| LogviewerError::io("cannot start the cleanup thread for", &root, e))?;
        tracing::info!(
            addr = %http.local_addr(),
            worker_logs = %root.display(),
            daemon_logs = %paths.log_dir().display(),
            cleanup_interval_secs = settings.interval.map(|d| d.as_secs()),
            "logviewer started"
        );
        Ok(Logviewer {
            http,
            _cleaner: cleaner,
        })
    }

    /// The HTTP server's bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.http.local_addr()
    }

    /// Stops the HTTP server and the cleaner.
    pub fn shutdown(mut self) {
        self.http.shutdown();
    }
}

/// `logviewer` / `storm logviewer`: runs the daemon until SIGTERM or SIGINT.
pub fn main(args: &DaemonArgs) -> anyhow::Result<()> {
    crate::daemon::run(
        "logviewer",
        args,
        |conf| Ok(Logviewer::start(conf)?),
        Logviewer::shutdown,
    )
}
