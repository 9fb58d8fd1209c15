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
/// then each dependency `storm jar` passed ([`dependency_files`]) as a blob, the way Storm's
/// `DependencyUploader` does (jars as `dep-<name>-<uuid>.<ext>`; artifacts as
/// `dep-<group>-<artifact>-<version>.jar`, uploaded only when nimbus does not have them yet, since
/// topologies share them), listed by key in `StormTopology.dependency_jars`/`dependency_artifacts`, and
/// submits the topology ACTIVE with `conf` (laid over the cluster's by nimbus). Supervisors download
/// the blobs into `supervisor/stormdist/<id>/dependencies/<key>`, where the worker finds them.
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
    let mut topology = topology.clone();
    let (mut jars, mut artifacts) = (Vec::new(), Vec::new());
    for dep in &dependencies {
        upload_dependency(&mut client, dep)?;
        if dep.artifact {
            artifacts.push(dep.key.clone());
        } else {
            jars.push(dep.key.clone());
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

/// Uploads one dependency as blob `dep.key` (an artifact nimbus already has is not sent again).
fn upload_dependency(client: &mut NimbusClient, dep: &DependencyFile) -> Result<(), SubmitError> {
    if dep.artifact {
        match client.blob_meta(&dep.key) {
            Ok(_) => {
                tracing::info!(key = %dep.key, "dependency artifact already in nimbus's blob store");
                return Ok(());
            }
            Err(NimbusClientError::Thrift {
                source: thrift::Error::User(u),
                ..
            }) if u
                .downcast_ref::<crate::thrift::KeyNotFoundException>()
                .is_some() => {}
            Err(e) => return Err(e.into()),
        }
    }
    let artifact_error = |source| SubmitError::Artifact {
        path: dep.path.clone(),
        source,
    };
    let file = std::fs::File::open(&dep.path).map_err(artifact_error)?;
    let size = file.metadata().map_err(artifact_error)?.len();
    let mut input = std::io::BufReader::new(file);
    let mut progress =
        crate::cli::progress::Progress::new(format!("uploading {}", dep.key), Some(size));
    let meta = crate::thrift::SettableBlobMeta {
        acl: Vec::new(),
        replication_factor: None,
    };
    let sent = client.create_blob(&dep.key, meta, &mut input, &mut |n| progress.inc(n))?;
    progress.finish();
    tracing::info!(key = %dep.key, bytes = sent, file = %dep.path.display(), "uploaded dependency");
    Ok(())
}

/// A dependency file to upload with the topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyFile {
    /// Its blob key (Storm's `DependencyUploader` names), also its file name on the supervisors
    /// (`dependencies/<key>`).
    pub key: String,
    /// The file's own name.
    pub name: String,
    pub path: PathBuf,
    /// From `--artifacts` (else `--jars`).
    pub artifact: bool,
}

/// The dependencies `storm jar` passed in [`ENV_DEPENDENCY_JARS`] and [`ENV_DEPENDENCY_ARTIFACTS`],
/// with their blob keys.
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
    let mut add = |path: PathBuf, coordinate: Option<&str>| {
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
        let key = match coordinate {
            // Storm's DependencyUploader: `dep-` + the coordinate with ':' as '-' + ".jar".
            Some(c) => format!("dep-{}.jar", c.replace(':', "-")),
            // `dep-` + the name with a UUID before the extension.
            None => {
                let uuid = uuid::Uuid::new_v4();
                match name.rsplit_once('.') {
                    Some((stem, ext)) if !stem.is_empty() => format!("dep-{stem}-{uuid}.{ext}"),
                    _ => format!("dep-{name}-{uuid}"),
                }
            }
        };
        if !crate::nimbus::blobstore::is_valid_key(&key) {
            return Err(bad(format!(
                "dependency {} cannot be a blob: {key} is not a valid blob key (letters, digits, _, -, . only)",
                path.display()
            )));
        }
        files.push(DependencyFile {
            key,
            name,
            path,
            artifact: coordinate.is_some(),
        });
        Ok(())
    };
    for jar in jars.unwrap_or("").split(',').map(str::trim) {
        if !jar.is_empty() {
            add(PathBuf::from(jar), None)?;
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
            add(PathBuf::from(path), Some(&coordinate))?;
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
        // Storm's DependencyUploader keys.
        let key = &files[0].key;
        assert!(
            key.starts_with("dep-x-") && key.ends_with(".jar") && key.len() == 46,
            "{key}"
        );
        assert_eq!(files[2].key, "dep-g-a-1.jar");
        assert!(dependency_files_from(None, None).unwrap().is_empty());
        // Two jars of the same name are two blobs.
        let two = dependency_files_from(Some("/a/x.jar,/b/x.jar"), None).unwrap();
        assert_ne!(two[0].key, two[1].key);
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
