//! The `ui` daemon: Storm's UI — the REST API under `/api/v1` ([`api`], [`json`]) and the web pages
//! ([`assets`]) — over HTTP on `ui.host`:`ui.port` (default `0.0.0.0:8080`). A sibling of `drpc`
//! (DESIGN §12): it reads the cluster only through the Nimbus Thrift API of the leader nimbus
//! ([`nimbus`], leader found through `nimbus.seeds`), keeps no state of its own, and can run on any
//! machine that reaches nimbus.
//!
//! [`main`] runs it in the foreground, logging to `<storm.log.dir>/ui.log`, until SIGTERM or SIGINT.
//! `ui.actions.enabled` (default true) allows the POST actions (activate, deactivate, rebalance,
//! kill, debug, log levels); links to worker logs point at each host's logviewer
//! (`logviewer.port`, or `logviewer.https.port` when set).

pub mod api;
pub mod assets;
pub mod format;
pub mod json;
pub mod nimbus;
pub mod server;

use std::sync::Arc;

use crate::config::Config;
use crate::daemon::DaemonArgs;

pub use api::Api;
pub use server::UiServer;

/// A running UI.
pub struct UiDaemon {
    server: UiServer,
}

impl UiDaemon {
    /// Binds `ui.host`:`ui.port` and starts serving.
    pub fn start(conf: &Config) -> anyhow::Result<UiDaemon> {
        let host = conf.get_str("ui.host")?.to_string();
        let port = conf.get_port("ui.port")?;
        let addr = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let api = Arc::new(Api::new(conf).with_security(
            crate::security::http_auth::BasicAuth::from_config(
                conf,
                "ui.filter",
                "ui.filter.params",
                None,
            )?,
            crate::security::Authorizer::from_conf(&conf.to_json(), "nimbus.authorizer")?,
        ));
        let server = UiServer::start(&addr, api).map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on ui.host:ui.port = {addr}: {e}{}",
                if e.kind() == std::io::ErrorKind::AddrInUse {
                    "; is another ui (or another program) using this port? Set a free one with -c ui.port=PORT"
                } else {
                    ""
                }
            )
        })?;
        Ok(UiDaemon { server })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.server.local_addr()
    }

    /// Stops serving.
    pub fn shutdown(mut self) {
        self.server.shutdown();
    }
}

/// The `ui` daemon: serves until SIGTERM or SIGINT, then stops and returns `Ok`.
pub fn main(args: &DaemonArgs) -> anyhow::Result<()> {
    crate::daemon::run(
        "ui",
        args,
        |conf| {
            let daemon = UiDaemon::start(conf)?;
            tracing::info!(
                addr = %daemon.local_addr(),
                actions = conf.get_bool("ui.actions.enabled").unwrap_or(true),
                "ui started"
            );
            Ok(daemon)
        },
        UiDaemon::shutdown,
    )
}
