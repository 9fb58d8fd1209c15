//! What every daemon shares: its command-line options ([`DaemonArgs`]: `--config FILE`, `-c key=value`),
//! loading and validating the configuration, the daemon's log file (`<storm.log.dir>/<name>.log`), the
//! stop signals and the foreground life ([`run`]), and its ZooKeeper connection.
//!
//! The daemons themselves (`crate::nimbus`, `crate::supervisor`, `crate::worker`, `crate::drpc`, …) are
//! siblings that build on this module; each binary in `src/bin/` calls its daemon's `main` directly.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser;

use crate::config::{Config, ConfigOptions};
use crate::paths::StormPaths;

/// Options every daemon accepts.
#[derive(Debug, Parser)]
pub struct DaemonArgs {
    /// Override a configuration value (repeatable): -c key=value.
    #[arg(short = 'c', value_name = "KEY=VALUE", action = clap::ArgAction::Append)]
    pub conf: Vec<String>,
    /// Read the cluster configuration from FILE instead of conf/storm.toml.
    #[arg(long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Daemon-specific positional arguments (a worker's topology id, supervisor id, port, worker id).
    pub rest: Vec<String>,
}

/// Loads the configuration for a daemon from its command line.
pub fn load_config(args: &DaemonArgs) -> anyhow::Result<Config> {
    Ok(Config::load(&ConfigOptions {
        config_file: args.config.clone(),
        overrides: args.conf.clone(),
    })?)
}

/// Blocks SIGTERM and SIGINT in the calling thread. Call it before any other thread exists: every thread
/// inherits the mask, so the signals wait for [`wait_for_stop`] (`sigwait`) instead of killing the
/// process.
pub fn block_stop_signals() -> anyhow::Result<nix::sys::signal::SigSet> {
    use anyhow::Context;
    use nix::sys::signal::{SigSet, SigmaskHow, Signal};
    let mut stop = SigSet::empty();
    stop.add(Signal::SIGTERM);
    stop.add(Signal::SIGINT);
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&stop), None)
        .context("cannot block SIGTERM/SIGINT")?;
    Ok(stop)
}

/// Waits for SIGTERM or SIGINT (blocked by [`block_stop_signals`]) and logs it.
pub fn wait_for_stop(stop: &nix::sys::signal::SigSet, name: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    let signal = stop.wait().context("waiting for SIGTERM/SIGINT")?;
    tracing::info!(signal = %signal, "{name} stopping");
    Ok(())
}

/// The life of a foreground daemon: blocks the stop signals, loads the configuration, logs to
/// `<storm.log.dir>/<name>.log`, runs `start` (a failure is logged and returned), serves until
/// SIGTERM/SIGINT, then runs `stop` on what `start` returned.
pub fn run<D>(
    name: &str,
    args: &DaemonArgs,
    start: impl FnOnce(&Config) -> anyhow::Result<D>,
    stop: impl FnOnce(D),
) -> anyhow::Result<()> {
    use anyhow::Context;
    let signals = block_stop_signals()?;
    let conf = load_config(args)?;
    let paths = StormPaths::from_config(&conf)?;
    let log = paths.daemon_log(name);
    crate::logging::init_daemon(&log)
        .with_context(|| format!("cannot open the log file {}", log.display()))?;
    let daemon = match start(&conf) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!("{name} cannot start: {e:#}");
            return Err(e);
        }
    };
    wait_for_stop(&signals, name)?;
    stop(daemon);
    tracing::info!("{name} stopped");
    Ok(())
}

/// A ZooKeeper connection for a daemon, from `storm.zookeeper.*`.
pub fn connect_zookeeper(
    conf: &Config,
) -> anyhow::Result<std::sync::Arc<dyn crate::cluster::StateStorage>> {
    let settings = crate::cluster::ZkSettings::from_config(conf)?;
    connect_zookeeper_with(settings)
}

/// A ZooKeeper connection with explicit settings (a worker's: authenticated as its topology).
pub fn connect_zookeeper_with(
    settings: crate::cluster::ZkSettings,
) -> anyhow::Result<std::sync::Arc<dyn crate::cluster::StateStorage>> {
    use anyhow::Context;
    let servers = settings.servers.clone();
    let storage = crate::cluster::ZkStorage::connect(settings)
        .with_context(|| format!("cannot connect to ZooKeeper at {servers}"))?;
    Ok(std::sync::Arc::new(storage))
}

impl DaemonArgs {
    /// The daemon options from a process's arguments (the first is the program name).
    pub fn from_args(args: impl IntoIterator<Item = OsString>) -> DaemonArgs {
        DaemonArgs::parse_from(args)
    }
}
