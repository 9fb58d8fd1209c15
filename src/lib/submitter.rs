//! `StormSubmitter` for topology programs: the one call a topology's `main` makes to run its topology,
//! wherever the `storm` command started it.
//!
//! * Started by `storm local ARTIFACT ARGS… [--local-ttl N]`, the program finds `STORM_LOCAL_TTL` in its
//!   environment: the topology runs in an in-process [`LocalCluster`] for that many seconds, is killed,
//!   and the call returns — Storm's `storm local` behaviour.
//! * Started by `storm jar ARTIFACT ARGS…`, it finds `STORM_JAR` (the artifact's absolute path): the
//!   call does what Storm's `StormSubmitter` does — leader nimbus through `nimbus.seeds` + `getLeader`,
//!   `isTopologyNameAllowed`, the artifact uploaded in 300 KiB chunks, `submitTopologyWithOpts` — and
//!   returns ([`submit_to_cluster`]).
//! * Started by a supervisor as a worker (`STORM_WORKER=1`), it never returns: the process becomes the
//!   worker ([`crate::worker::run_if_worker`]), so a topology program is its own worker executable.
//! * Started any other way, the error is Storm's own ("Must submit topologies using the 'storm' client
//!   script…").
//!
//! The cluster configuration the `storm` command loaded travels in the environment as the config file
//! (`STORM_CONF_FILE`) and the `-c` options (`STORM_OPTIONS`, a JSON list of `key=value` strings); as in
//! Storm, the `-c` options are also laid over the topology's own configuration.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::api::TopologyConf;
use crate::client::{NimbusClient, NimbusClientError};
use crate::config::{self, Config, ConfigError, ConfigOptions};
use crate::local::{LocalCluster, LocalClusterError};
use crate::thrift::{StormTopology, SubmitOptions, TopologyInitialStatus};

/// Set by `storm local`: seconds the topology runs before it is killed.
pub const ENV_LOCAL_TTL: &str = "STORM_LOCAL_TTL";
/// The `--config FILE` of the `storm` command, if any.
pub const ENV_CONF_FILE: &str = "STORM_CONF_FILE";
/// The `-c key=value` options of the `storm` command, as a JSON list of strings.
pub const ENV_OPTIONS: &str = "STORM_OPTIONS";

/// Set by `storm jar`: the artifact to upload (Storm's `storm.jar` system property).
pub const ENV_JAR: &str = "STORM_JAR";
/// Set by `storm jar`: the `--jars` files, absolute paths, comma separated (Storm's
/// `storm.dependency.jars`).
pub const ENV_DEPENDENCY_JARS: &str = "STORM_DEPENDENCY_JARS";
/// Set by `storm jar`: the resolved `--artifacts`, a JSON map coordinate → local file (Storm's
/// `storm.dependency.artifacts`).
pub const ENV_DEPENDENCY_ARTIFACTS: &str = "STORM_DEPENDENCY_ARTIFACTS";

/// Upload chunk size (Storm's `StormSubmitter` sends 300 KiB chunks).
const CHUNK_BYTES: usize = 307_200;

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("cannot read the topology artifact {}: {source}", path.display())]
    Artifact {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Nimbus(#[from] NimbusClientError),
    #[error("{0}")]
    Rejected(String),
    #[error("Must submit topologies using the 'storm' client script so that StormSubmitter knows which jar to upload (run it with `storm jar ARTIFACT …` or `storm local ARTIFACT …`)")]
    NotStartedByStorm,
    #[error("{ENV_LOCAL_TTL}={value:?} is not a number of seconds")]
    BadTtl { value: String },
    #[error("{ENV_OPTIONS} is not a JSON list of key=value strings: {message}")]
    BadOptions { message: String },
    #[error("{0}")]
    Dependencies(String),
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
    crate::worker::run_if_worker();
    let ttl = local_ttl()?;
    let artifact = std::env::var_os(ENV_JAR).map(PathBuf::from);
    if ttl.is_none() && artifact.is_none() {
        return Err(SubmitError::NotStartedByStorm);
    }
    let (cluster_conf, overrides) = inherited_config()?;
    let mut topo_conf = conf.clone();
    for arg in &overrides {
        let (key, value) = config::parse_override(arg)?;
        topo_conf.set(key, value);
    }
    let Some(ttl) = ttl else {
        let artifact = artifact.unwrap_or_default();
        submit_to_cluster(&cluster_conf, name, &topo_conf, topology, &artifact)?;
        return Ok(());
    };
    let cluster = LocalCluster::with_conf(cluster_conf.to_json());
    let id = cluster.submit_topology(name, &topo_conf, topology)?;
    tracing::info!(topology = name, %id, ttl_secs = ttl.as_secs_f64(), "running in local mode");
    std::thread::sleep(ttl);
    cluster.kill_topology(name)?;
    cluster.shutdown();
    Ok(())
}

/// Storm's `StormSubmitter.submitTopologyWithOpts`: finds the leader nimbus through `nimbus.seeds`,
/// checks the name, uploads `artifact` in chunks (`beginFileUpload`/`uploadChunk`/`finishFileUpload`),
/// then each dependency `storm jar` passed ([`dependency_files`]; Storm uploads them as `dep-…` blobs,
/// storm-rs as plain uploads listed in `StormTopology.dependency_jars`/`dependency_artifacts` as
/// `<file name>=<upload location>`), and submits the topology ACTIVE with `conf` (laid over the
/// cluster's by nimbus). Nimbus stores each dependency as `stormdist/<id>/dependencies/<file name>`;
/// supervisors download them next to the topology's files, where the worker finds them.
pub fn submit_to_cluster(
    cluster_conf: &Config,
    name: &str,
    conf: &TopologyConf,
    topology: &StormTopology,
    artifact: &Path,
) -> Result<(), SubmitError> {
    let dependencies = dependency_files()?;
    // Unreadable files fail before nimbus is contacted.
    for path in std::iter::once(artifact).chain(dependencies.iter().map(|d| d.path.as_path())) {
        std::fs::File::open(path).map_err(|source| SubmitError::Artifact {
            path: path.to_path_buf(),
            source,
        })?;
    }
    let mut client = NimbusClient::connect_leader(cluster_conf)?;
    let addr = client.addr().to_string();
    let thrift_error = |e: thrift::Error| match &e {
        thrift::Error::User(_) => SubmitError::Rejected(crate::thrift::describe_thrift_error(&e)),
        _ => SubmitError::Nimbus(NimbusClientError::Thrift {
            addr: addr.clone(),
            source: e,
        }),
    };
    use crate::thrift::TNimbusSyncClient;
    if !client
        .raw()
        .is_topology_name_allowed(name.to_string())
        .map_err(thrift_error)?
    {
        return Err(SubmitError::Rejected(format!(
            "Topology with name `{name}` already exists on cluster"
        )));
    }
    let location = upload_file(&mut client, artifact, &thrift_error)?;
    // Dependencies travel as `<file name>=<upload location>` in the topology's dependency lists; nimbus
    // moves each upload to `stormdist/<id>/dependencies/<file name>` and keeps only the names.
    let mut topology = topology.clone();
    let (mut jars, mut artifacts) = (Vec::new(), Vec::new());
    for dep in &dependencies {
        let location = upload_file(&mut client, &dep.path, &thrift_error)?;
        let entry = format!("{}={location}", dep.name);
        if dep.artifact {
            artifacts.push(entry);
        } else {
            jars.push(entry);
        }
    }
    if !jars.is_empty() {
        topology.dependency_jars = Some(jars);
    }
    if !artifacts.is_empty() {
        topology.dependency_artifacts = Some(artifacts);
    }
    let json_conf = serde_json::Value::Object(conf.as_map().clone()).to_string();
    client
        .raw()
        .submit_topology_with_opts(
            name.to_string(),
            location,
            json_conf,
            topology,
            SubmitOptions {
                initial_status: TopologyInitialStatus::ACTIVE,
                creds: None,
            },
        )
        .map_err(thrift_error)?;
    tracing::info!(topology = name, "Finished submitting topology: {name}");
    Ok(())
}

/// Uploads one file through `beginFileUpload`/`uploadChunk`/`finishFileUpload` in 300 KiB chunks
/// (with a progress line on a terminal); returns its upload location.
fn upload_file(
    client: &mut NimbusClient,
    path: &Path,
    thrift_error: &dyn Fn(thrift::Error) -> SubmitError,
) -> Result<String, SubmitError> {
    use crate::thrift::TNimbusSyncClient;
    let artifact_error = |source| SubmitError::Artifact {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(artifact_error)?;
    let size = file.metadata().map_err(artifact_error)?.len();
    let location = client.raw().begin_file_upload().map_err(thrift_error)?;
    tracing::info!(file = %path.display(), bytes = size, %location, "uploading");
    let label = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let mut progress =
        crate::cli::progress::Progress::new(format!("uploading {label}"), Some(size));
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut sent = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(artifact_error)?;
        if n == 0 {
            break;
        }
        client
            .raw()
            .upload_chunk(location.clone(), buf[..n].to_vec())
            .map_err(thrift_error)?;
        sent += n as u64;
        progress.inc(n as u64);
    }
    if sent != size {
        return Err(SubmitError::Artifact {
            path: path.to_path_buf(),
            source: std::io::Error::other(format!(
                "the file changed while it was uploaded ({sent} of {size} bytes read)"
            )),
        });
    }
    client
        .raw()
        .finish_file_upload(location.clone())
        .map_err(thrift_error)?;
    progress.finish();
    Ok(location)
}

/// A dependency file to upload with the topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyFile {
    /// The file name on nimbus and the supervisors (`dependencies/<name>`).
    pub name: String,
    pub path: PathBuf,
    /// From `--artifacts` (else `--jars`).
    pub artifact: bool,
}

/// The dependencies `storm jar` passed in [`ENV_DEPENDENCY_JARS`] and [`ENV_DEPENDENCY_ARTIFACTS`],
/// named by their file names (which must differ).
pub fn dependency_files() -> Result<Vec<DependencyFile>, SubmitError> {
    dependency_files_from(
        std::env::var(ENV_DEPENDENCY_JARS).ok().as_deref(),
        std::env::var(ENV_DEPENDENCY_ARTIFACTS).ok().as_deref(),
    )
}

/// [`dependency_files`] from the two variables' values.
pub fn dependency_files_from(
    jars: Option<&str>,
    artifacts: Option<&str>,
) -> Result<Vec<DependencyFile>, SubmitError> {
    let bad = |m: String| SubmitError::Dependencies(m);
    let mut files: Vec<DependencyFile> = Vec::new();
    let mut add = |path: PathBuf, artifact: bool| {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.') && !n.contains('='))
            .ok_or_else(|| {
                bad(format!(
                    "dependency {} has no usable file name (it must not start with '.' or contain '=')",
                    path.display()
                ))
            })?;
        if let Some(other) = files.iter().find(|f| f.name == name) {
            return Err(bad(format!(
                "dependencies {} and {} have the same file name {name}; rename one",
                other.path.display(),
                path.display()
            )));
        }
        files.push(DependencyFile {
            name,
            path,
            artifact,
        });
        Ok(())
    };
    for jar in jars.unwrap_or("").split(',').map(str::trim) {
        if !jar.is_empty() {
            add(PathBuf::from(jar), false)?;
        }
    }
    if let Some(json) = artifacts.filter(|a| !a.trim().is_empty()) {
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(json).map_err(|e| {
                bad(format!(
                    "{ENV_DEPENDENCY_ARTIFACTS} is not a JSON map of coordinate to file: {e}"
                ))
            })?;
        for (coordinate, path) in map {
            let path = path.as_str().ok_or_else(|| {
                bad(format!(
                    "{ENV_DEPENDENCY_ARTIFACTS}: the file of {coordinate} is not a string"
                ))
            })?;
            add(PathBuf::from(path), true)?;
        }
    }
    Ok(files)
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
    crate::worker::run_if_worker();
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
    fn dependency_files_from_the_environment() {
        let files = dependency_files_from(
            Some("/a/x.jar, /b/y.jar"),
            Some(r#"{"g:a:1":"/m/g/a/1/a-1.jar"}"#),
        )
        .unwrap();
        let names: Vec<(&str, bool)> = files
            .iter()
            .map(|f| (f.name.as_str(), f.artifact))
            .collect();
        assert_eq!(
            names,
            vec![("x.jar", false), ("y.jar", false), ("a-1.jar", true)]
        );
        assert!(dependency_files_from(None, None).unwrap().is_empty());
        let e = dependency_files_from(Some("/a/x.jar,/b/x.jar"), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("same file name x.jar"), "{e}");
        let e = dependency_files_from(None, Some("[1]"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("STORM_DEPENDENCY_ARTIFACTS"), "{e}");
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
