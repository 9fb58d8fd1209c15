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

/// What [`run_or_submit`] did.
pub enum Launch {
    /// The program was started by the `storm` command and the topology went to [`submit_topology`].
    Submitted,
    /// The topology ran in this program's own local cluster for the requested time; it is still
    /// running, so the caller can read its stats before killing it.
    Local {
        cluster: LocalCluster,
        name: String,
        id: String,
    },
}

/// storm-starter's `main`: with a topology name as first argument the program was started by `storm
/// local` (or later `storm jar`) and the topology goes to [`submit_topology`] under that name; otherwise it
/// runs as `local_name` in a [`LocalCluster`] of its own for `--local-ttl` seconds (default `default_ttl`).
pub fn run_or_submit(
    program: &str,
    local_name: &str,
    conf: &TopologyConf,
    topology: &StormTopology,
    default_ttl: Duration,
) -> Result<Launch, Box<dyn std::error::Error>> {
    if let Some(name) = std::env::args().nth(1).filter(|a| !a.starts_with("--")) {
        submit_topology(&name, conf, topology)?;
        return Ok(Launch::Submitted);
    }
    let ttl = local_ttl_from_args(program, std::env::args().skip(1), default_ttl)?;
    let cluster = LocalCluster::new();
    let id = cluster.submit_topology(local_name, conf, topology)?;
    println!("running topology {id} for {:.1} s", ttl.as_secs_f64());
    std::thread::sleep(ttl);
    Ok(Launch::Local {
        cluster,
        name: local_name.to_string(),
        id,
    })
}

/// Parses a topology program's own `--local-ttl SECONDS` (or `--local-ttl=SECONDS`) when it runs its own
/// local cluster (`cargo run --example …`); any other argument is an error naming `program`'s usage.
pub fn local_ttl_from_args(
    program: &str,
    args: impl IntoIterator<Item = String>,
    default: Duration,
) -> Result<Duration, String> {
    let mut args = args.into_iter();
    let mut ttl = default;
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "--local-ttl" => args.next().ok_or("--local-ttl needs a number of seconds")?,
            other => other
                .strip_prefix("--local-ttl=")
                .map(str::to_owned)
                .ok_or_else(|| {
                    format!("unknown argument {other}; usage: {program} [--local-ttl SECONDS]")
                })?,
        };
        let secs: f64 = value
            .parse()
            .ok()
            .filter(|s: &f64| s.is_finite() && *s >= 0.0)
            .ok_or_else(|| format!("--local-ttl: {value} is not a number of seconds"))?;
        ttl = Duration::from_secs_f64(secs);
    }
    Ok(ttl)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Duration, String> {
        local_ttl_from_args(
            "prog",
            args.iter().map(|s| s.to_string()),
            Duration::from_secs(10),
        )
    }

    #[test]
    fn local_ttl_arguments() {
        assert_eq!(parse(&[]).unwrap(), Duration::from_secs(10));
        assert_eq!(
            parse(&["--local-ttl", "2.5"]).unwrap(),
            Duration::from_millis(2500)
        );
        assert_eq!(parse(&["--local-ttl=3"]).unwrap(), Duration::from_secs(3));
        assert!(parse(&["--local-ttl"])
            .unwrap_err()
            .contains("needs a number"));
        assert!(parse(&["--local-ttl", "-1"])
            .unwrap_err()
            .contains("not a number of seconds"));
        assert!(parse(&["wc"]).unwrap_err().contains("usage: prog"));
    }
}
