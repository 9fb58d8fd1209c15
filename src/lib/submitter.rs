//! `StormSubmitter` for topology programs: the one call a topology's `main` makes to run its topology,
//! wherever the `storm` command started it.
//!
//! * Started by `storm local ARTIFACT ARGS… [--local-ttl N]`, the program finds `STORM_LOCAL_TTL` in its
//!   environment: the topology runs in an in-process [`LocalCluster`] for that many seconds, is killed,
//!   and the call returns — Storm's `storm local` behaviour.
//! * Started any other way, there is no cluster to submit to yet, and the error is Storm's own
//!   ("Must submit topologies using the 'storm' client script…").
//!
//! The cluster configuration the `storm` command loaded travels in the environment as the config file
//! (`STORM_CONF_FILE`) and the `-c` options (`STORM_OPTIONS`, a JSON list of `key=value` strings); as in
//! Storm, the `-c` options are also laid over the topology's own configuration.

use std::time::Duration;

use crate::api::TopologyConf;
use crate::config::{self, Config, ConfigError, ConfigOptions};
use crate::local::{LocalCluster, LocalClusterError};
use crate::thrift::StormTopology;

/// Set by `storm local`: seconds the topology runs before it is killed.
pub const ENV_LOCAL_TTL: &str = "STORM_LOCAL_TTL";
/// The `--config FILE` of the `storm` command, if any.
pub const ENV_CONF_FILE: &str = "STORM_CONF_FILE";
/// The `-c key=value` options of the `storm` command, as a JSON list of strings.
pub const ENV_OPTIONS: &str = "STORM_OPTIONS";

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("Must submit topologies using the 'storm' client script so that StormSubmitter knows which jar to upload (run it with `storm local ARTIFACT …`)")]
    NotStartedByStorm,
    #[error("{ENV_LOCAL_TTL}={value:?} is not a number of seconds")]
    BadTtl { value: String },
    #[error("{ENV_OPTIONS} is not a JSON list of key=value strings: {message}")]
    BadOptions { message: String },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Local(#[from] LocalClusterError),
}

/// The cluster configuration and `-c` options handed down by the `storm` command.
pub fn inherited_config() -> Result<(Config, Vec<String>), SubmitError> {
    let overrides: Vec<String> = match std::env::var(ENV_OPTIONS) {
        Ok(json) if !json.trim().is_empty() => {
            serde_json::from_str(&json).map_err(|e| SubmitError::BadOptions {
                message: e.to_string(),
            })?
        }
        _ => Vec::new(),
    };
    let opts = ConfigOptions {
        config_file: std::env::var_os(ENV_CONF_FILE).map(Into::into),
        overrides: overrides.clone(),
    };
    Ok((Config::load(&opts)?, overrides))
}

/// The local-mode time to live requested by `storm local`, if this process was started by it.
pub fn local_ttl() -> Result<Option<Duration>, SubmitError> {
    match std::env::var(ENV_LOCAL_TTL) {
        Err(_) => Ok(None),
        Ok(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Some(Duration::from_secs_f64(s)))
            .ok_or(SubmitError::BadTtl { value: v }),
    }
}

/// Runs `topology` as `name` with `conf`, the way the `storm` command that started this program asks.
pub fn submit_topology(
    name: &str,
    conf: &TopologyConf,
    topology: &StormTopology,
) -> Result<(), SubmitError> {
    let Some(ttl) = local_ttl()? else {
        return Err(SubmitError::NotStartedByStorm);
    };
    let (cluster_conf, overrides) = inherited_config()?;
    let mut topo_conf = conf.clone();
    for arg in &overrides {
        let (key, value) = config::parse_override(arg)?;
        topo_conf.set(key, value);
    }
    let cluster = LocalCluster::with_conf(cluster_conf.to_json());
    let id = cluster.submit_topology(name, &topo_conf, topology)?;
    tracing::info!(topology = name, %id, ttl_secs = ttl.as_secs_f64(), "running in local mode");
    std::thread::sleep(ttl);
    cluster.kill_topology(name)?;
    cluster.shutdown();
    Ok(())
}
