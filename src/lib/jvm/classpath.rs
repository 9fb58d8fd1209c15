//! The classpaths of Java topologies: Storm's client jars (resolved from a Maven repository once and
//! cached under Storm home, or configured for offline clusters), storm-rs's bridge jar, and a
//! worker's classpath in Storm's order (`topology.classpath.beginning`, the framework jars, the
//! topology jar, its `--jars`/`--artifacts` dependencies, `topology.classpath`).
//!
//! Keys (storm-rs, in `defaults.toml`): `storm.rs.java.client.version` (2.8.3),
//! `storm.rs.java.client.classpath` (jars or `dir/*` globs; empty = resolve from
//! `storm.rs.java.repositories`), `storm.rs.java.bridge.jar` (empty = look in Storm home).

use std::path::{Path, PathBuf};

use super::JvmError;
use crate::config::Config;

/// What any Java process of storm-rs needs besides the topology: Storm's client jars and the bridge.
#[derive(Debug, Clone)]
pub struct JavaSetup {
    pub storm_client: Vec<PathBuf>,
    pub bridge: PathBuf,
}

impl JavaSetup {
    /// Resolves (or reads the cached) Storm client classpath and finds the bridge jar.
    pub fn from_config(conf: &Config) -> Result<JavaSetup, JvmError> {
        Ok(JavaSetup {
            storm_client: storm_client_classpath(conf)?,
            bridge: bridge_jar(conf)?,
        })
    }
}

fn setup_err(e: impl std::fmt::Display) -> JvmError {
    JvmError::Setup(e.to_string())
}

/// Expands configured classpath entries: a path, or `dir/*` for every jar in `dir` (Java's rule).
pub fn expand_entries(entries: &[String], home: &Path) -> Result<Vec<PathBuf>, JvmError> {
    let mut out = Vec::new();
    for entry in entries
        .iter()
        .flat_map(|e| e.split(':'))
        .filter(|e| !e.is_empty())
    {
        let path = Path::new(entry);
        let path = if path.is_absolute() {
            path.to_path_buf()
        } else {
            home.join(path)
        };
        if path.file_name().is_some_and(|n| n == "*") {
            let dir = path.parent().unwrap_or(Path::new("."));
            let mut jars: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|e| setup_err(format!("classpath entry {entry}: {}: {e}", dir.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("jar")))
                .collect();
            jars.sort();
            out.extend(jars);
        } else {
            out.push(path);
        }
    }
    Ok(out)
}

/// The cached list of Storm's client jars for `version` (one absolute path per line).
fn cached_list(conf: &Config, version: &str) -> PathBuf {
    crate::paths::java_lib_dir(conf.home()).join(format!("storm-client-{version}.classpath"))
}

/// Storm's client jars (`org.apache.storm:storm-client` and its runtime dependencies): the configured
/// `storm.rs.java.client.classpath`, else the cached resolution, else a fresh resolution from
/// `storm.rs.java.repositories` into `<storm home>/lib-java/repository` (cached for next time).
pub fn storm_client_classpath(conf: &Config) -> Result<Vec<PathBuf>, JvmError> {
    let configured = conf
        .get_string_list("storm.rs.java.client.classpath")
        .map_err(setup_err)?;
    if !configured.is_empty() {
        let jars = expand_entries(&configured, conf.home())?;
        if let Some(missing) = jars.iter().find(|j| !j.exists()) {
            return Err(setup_err(format!(
                "storm.rs.java.client.classpath lists {}, which does not exist",
                missing.display()
            )));
        }
        return Ok(jars);
    }
    let version = conf
        .get_str("storm.rs.java.client.version")
        .map_err(setup_err)?
        .to_owned();
    let list = cached_list(conf, &version);
    if let Ok(text) = std::fs::read_to_string(&list) {
        let jars: Vec<PathBuf> = text
            .lines()
            .filter(|l| !l.is_empty())
            .map(PathBuf::from)
            .collect();
        if !jars.is_empty() && jars.iter().all(|j| j.is_file()) {
            return Ok(jars);
        }
    }
    let jars = resolve_storm_client(conf, &version)?;
    let text: String = jars.iter().map(|j| format!("{}\n", j.display())).collect();
    if let Some(dir) = list.parent() {
        std::fs::create_dir_all(dir).map_err(|e| setup_err(format!("{}: {e}", dir.display())))?;
    }
    let tmp = list.with_extension(format!("classpath.{}.tmp", std::process::id()));
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, &list))
        .map_err(|e| setup_err(format!("{}: {e}", list.display())))?;
    Ok(jars)
}

#[cfg(any())] // MAVEN-MERGE: enabled once src/lib/maven lands
fn resolve_storm_client(conf: &Config, version: &str) -> Result<Vec<PathBuf>, JvmError> {
    use crate::maven;
    let repos = conf
        .get_string_list("storm.rs.java.repositories")
        .map_err(setup_err)?
        .join(",");
    let repositories = maven::parse_repositories(&repos).map_err(setup_err)?;
    let cache = crate::paths::java_lib_dir(conf.home()).join("repository");
    let coordinate = maven::parse_coordinate(&format!("org.apache.storm:storm-client:{version}"))
        .map_err(setup_err)?;
    tracing::info!(%version, cache = %cache.display(), "resolving Storm's client jars (first use)");
    let resolver = maven::Resolver::new(repositories, cache, None)
        .map_err(setup_err)?
        .quiet();
    let resolved = resolver.resolve_transitive(&[coordinate]).map_err(|e| {
        setup_err(format!(
            "cannot resolve Storm's client jars (org.apache.storm:storm-client:{version}): {e}; for an offline cluster list them in storm.rs.java.client.classpath"
        ))
    })?;
    Ok(resolved.into_iter().map(|r| r.path).collect())
}

fn resolve_storm_client(_conf: &Config, version: &str) -> Result<Vec<PathBuf>, JvmError> {
    Err(setup_err(format!("MAVEN-MERGE: cannot resolve storm-client {version} yet; set storm.rs.java.client.classpath")))
}

/// storm-rs's bridge jar: `storm.rs.java.bridge.jar`, else `<storm home>/lib-java/storm-rs-bridge.jar`,
/// else the one built in the source tree (`java/storm-rs-bridge/target/storm-rs-bridge.jar`), else
/// next to the running executable.
pub fn bridge_jar(conf: &Config) -> Result<PathBuf, JvmError> {
    if let Some(configured) = conf
        .get_opt_str("storm.rs.java.bridge.jar")
        .map_err(setup_err)?
        .filter(|s| !s.is_empty())
    {
        let path = conf.home().join(configured);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(setup_err(format!(
                "storm.rs.java.bridge.jar is {}, which does not exist; build it with scripts/build-java.sh",
                path.display()
            )))
        };
    }
    let mut candidates = vec![
        crate::paths::java_lib_dir(conf.home()).join("storm-rs-bridge.jar"),
        conf.home()
            .join("java/storm-rs-bridge/target/storm-rs-bridge.jar"),
    ];
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        candidates.push(dir.join("storm-rs-bridge.jar"));
        // target/<profile>/ in the source tree
        if let Some(root) = dir.parent().and_then(Path::parent) {
            candidates.push(root.join("java/storm-rs-bridge/target/storm-rs-bridge.jar"));
        }
    }
    candidates.iter().find(|c| c.is_file()).cloned().ok_or_else(|| {
        setup_err(format!(
            "the storm-rs Java bridge (storm-rs-bridge.jar) was not found (looked in {}); build it with scripts/build-java.sh (Maven) or set storm.rs.java.bridge.jar",
            candidates
                .iter()
                .map(|c| c.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// A worker's classpath, in Storm's order (`BasicContainer.getWorkerClassPath`).
pub fn worker_classpath(
    setup: &JavaSetup,
    topology_jar: &Path,
    dependencies: &[PathBuf],
    topology_conf: &crate::api::ConfMap,
    home: &Path,
) -> Result<Vec<PathBuf>, JvmError> {
    let list = |key: &str| -> Vec<String> {
        match topology_conf.get(key) {
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    let mut cp = expand_entries(&list("topology.classpath.beginning"), home)?;
    cp.extend(setup.storm_client.iter().cloned());
    cp.push(setup.bridge.clone());
    cp.push(topology_jar.to_path_buf());
    cp.extend(dependencies.iter().cloned());
    cp.extend(expand_entries(&list("topology.classpath"), home)?);
    Ok(cp)
}

/// The jars among a topology's dependency files, in name order.
pub fn dependency_jars(dir: &Path) -> Vec<PathBuf> {
    let mut jars: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    jars.sort();
    jars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expand_globs_in_name_order_and_resolve_against_home() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lib")).unwrap();
        for name in ["b.jar", "a.jar", "notes.txt"] {
            std::fs::write(dir.path().join("lib").join(name), b"").unwrap();
        }
        let got = expand_entries(&["lib/*:/abs/x.jar".into(), "y.jar".into()], dir.path()).unwrap();
        assert_eq!(
            got,
            vec![
                dir.path().join("lib/a.jar"),
                dir.path().join("lib/b.jar"),
                PathBuf::from("/abs/x.jar"),
                dir.path().join("y.jar"),
            ]
        );
        let e = expand_entries(&["missing/*".into()], dir.path()).unwrap_err();
        assert!(e.to_string().contains("missing/*"), "{e}");
    }

    #[test]
    fn worker_classpath_follows_storm_order() {
        let setup = JavaSetup {
            storm_client: vec![PathBuf::from("/s/storm-client.jar")],
            bridge: PathBuf::from("/s/bridge.jar"),
        };
        let mut conf = crate::api::ConfMap::new();
        conf.insert("topology.classpath".into(), "/t/after.jar".into());
        conf.insert(
            "topology.classpath.beginning".into(),
            serde_json::json!(["/t/first.jar"]),
        );
        let cp = worker_classpath(
            &setup,
            Path::new("/d/stormjar.jar"),
            &[PathBuf::from("/d/dependencies/dep.jar")],
            &conf,
            Path::new("/home"),
        )
        .unwrap();
        let cp: Vec<String> = cp.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            cp,
            [
                "/t/first.jar",
                "/s/storm-client.jar",
                "/s/bridge.jar",
                "/d/stormjar.jar",
                "/d/dependencies/dep.jar",
                "/t/after.jar"
            ]
        );
    }
}
