//! Daemon entry points: `nimbus`, `supervisor`, `worker`, `drpc`.
//!
//! Each daemon binary is a shim that calls [`main`] with its name. The shared part lives here: parsing
//! `--config FILE` and `-c key=value`, loading and validating the configuration, and opening the daemon's
//! log file (`<storm.log.dir>/<name>.log`). `drpc` runs [`crate::drpc`] and `nimbus` runs
//! [`crate::nimbus`]; supervisor and worker arrive with the cluster issue — until then they validate
//! their configuration and exit with an error saying they are not available in this build.

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
    use anyhow::Context;
    let settings = crate::cluster::ZkSettings::from_config(conf)?;
    let storage = crate::cluster::ZkStorage::connect(settings.clone())
        .with_context(|| format!("cannot connect to ZooKeeper at {}", settings.servers))?;
    Ok(std::sync::Arc::new(storage))
}

/// Runs the daemon `name` with the process arguments `args`.
pub fn main(name: &str, args: impl IntoIterator<Item = OsString>) -> anyhow::Result<()> {
    let args = DaemonArgs::parse_from(args);
    if name == "drpc" {
        return crate::drpc::main(&args);
    }
    if name == "nimbus" {
        return crate::nimbus::main(&args);
    }
    if name == "supervisor" {
        return crate::supervisor::main(&args);
    }
    if name == "worker" {
        return crate::worker::main(&args);
    }
    let conf = load_config(&args)?;
    let paths = StormPaths::from_config(&conf)?;
    crate::logging::init_daemon(&paths.daemon_log(name))?;
    tracing::error!(
        daemon = name,
        "this daemon is not available in this build yet"
    );
    anyhow::bail!(
        "the {name} daemon is not available in this build of storm-rs yet (configuration is valid)"
    )
}
