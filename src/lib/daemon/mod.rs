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
