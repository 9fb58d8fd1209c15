//! `storm jar` for a Java topology jar, as Storm's `bin/storm jar` does it: `java` (from `JAVA_HOME`
//! or `PATH`) runs the jar's main class with Storm's client jars, the jar and its `--jars`/
//! `--artifacts` on the classpath, and `-Dstorm.jar`, `-Dstorm.dependency.jars`,
//! `-Dstorm.dependency.artifacts`, `-Dstorm.conf.file` set, so the topology's own
//! `StormSubmitter.submitTopology` uploads the jar and submits over Nimbus Thrift to our nimbus
//! (its dependencies go through nimbus's blob store, as in Storm).
//!
//! The Java client reads Storm's YAML configuration: this command's configuration (`storm.toml` and
//! `-c`, where it differs from the built-in defaults, which are Storm's) is written to a temporary
//! `storm.yaml` (JSON, which YAML reads) for the run. `STORM_JAR_JVM_OPTS` adds JVM options.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::artifacts::Dependencies;
use super::CliError;
use crate::config::Config;

/// Whether `path` is a jar (a zip file) rather than a topology program.
pub fn is_java_jar(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"PK\x03\x04"
}

/// The configuration a Java Storm client should see: every key whose value differs from the
/// built-in defaults (Storm's own defaults come from its `defaults.yaml`), storm-rs's own keys left
/// out.
pub fn client_conf(conf: &Config) -> serde_json::Map<String, serde_json::Value> {
    let defaults = Config::defaults();
    conf.iter()
        .filter(|(k, v)| !k.starts_with("storm.rs.") && defaults.get(k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The `java` command line (without the executable) for `storm jar JAR MAIN ARGS…`.
pub fn command_args(
    storm_client: &[PathBuf],
    jar: &Path,
    deps: &Dependencies,
    conf_file: &Path,
    conf: &Config,
    main_and_args: &[String],
) -> Vec<String> {
    let mut classpath: Vec<PathBuf> = storm_client.to_vec();
    classpath.push(jar.to_path_buf());
    classpath.extend(deps.jars.iter().cloned());
    classpath.extend(deps.artifacts.values().cloned());
    let classpath = std::env::join_paths(&classpath)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut args: Vec<String> = std::env::var("STORM_JAR_JVM_OPTS")
        .map(|o| o.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let log_dir = conf
        .get_path("storm.log.dir")
        .unwrap_or_else(|_| conf.home().join("logs"));
    args.extend([
        format!("-Dstorm.home={}", conf.home().display()),
        format!("-Dstorm.log.dir={}", log_dir.display()),
        format!("-Dstorm.conf.file={}", conf_file.display()),
        format!("-Dstorm.jar={}", jar.display()),
        format!("-Dstorm.dependency.jars={}", deps.jars_env()),
        format!("-Dstorm.dependency.artifacts={}", deps.artifacts_env()),
        "-cp".to_owned(),
        classpath,
    ]);
    args.extend(main_and_args.iter().cloned());
    args
}

/// Runs the jar's main class and exits with its status.
pub fn run(
    conf: &Config,
    deps: &Dependencies,
    jar: &Path,
    main_and_args: &[String],
) -> Result<std::convert::Infallible, CliError> {
    let Some(main) = main_and_args.first() else {
        return Err(CliError::Other(format!(
            "{} is a Java jar: give its main class, e.g. `storm jar {} com.example.MyTopology NAME`",
            jar.display(),
            jar.display()
        )));
    };
    if main.starts_with('-') {
        return Err(CliError::Other(format!(
            "expected the main class after {}, got the option {main}",
            jar.display()
        )));
    }
    let java = crate::jvm::locate::java_executable().map_err(|e| CliError::Other(e.to_string()))?;
    let storm_client =
        crate::jvm::storm_client_classpath(conf).map_err(|e| CliError::Other(e.to_string()))?;
    let conf_file = std::env::temp_dir().join(format!("storm-rs-jar-{}.yaml", std::process::id()));
    let yaml = serde_json::to_string_pretty(&serde_json::Value::Object(client_conf(conf)))
        .unwrap_or_else(|_| "{}".into());
    std::fs::write(&conf_file, yaml)
        .map_err(|e| CliError::Other(format!("cannot write {}: {e}", conf_file.display())))?;
    let args = command_args(&storm_client, jar, deps, &conf_file, conf, main_and_args);
    tracing::debug!(java = %java.display(), ?args, "running the topology's main class");
    let status = std::process::Command::new(&java).args(&args).status();
    let _ = std::fs::remove_file(&conf_file);
    let status =
        status.map_err(|e| CliError::Other(format!("cannot run {}: {e}", java.display())))?;
    std::process::exit(status.code().unwrap_or(1));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jars_are_told_from_programs_by_their_zip_magic() {
        let dir = tempfile::tempdir().unwrap();
        let jar = dir.path().join("t.jar");
        std::fs::write(&jar, b"PK\x03\x04rest").unwrap();
        let elf = dir.path().join("prog");
        std::fs::write(&elf, b"\x7fELF").unwrap();
        assert!(is_java_jar(&jar));
        assert!(!is_java_jar(&elf));
        assert!(!is_java_jar(&dir.path().join("missing")));
    }

    #[test]
    fn client_conf_keeps_what_differs_from_the_defaults() {
        let mut conf = Config::defaults();
        conf.set("nimbus.seeds", serde_json::json!(["10.0.0.1"]));
        conf.set("storm.rs.java.bridge.jar", "x.jar");
        let c = client_conf(&conf);
        assert_eq!(
            c.get("nimbus.seeds"),
            Some(&serde_json::json!(["10.0.0.1"]))
        );
        assert!(!c.contains_key("storm.rs.java.bridge.jar"));
        assert!(
            !c.contains_key("nimbus.thrift.port"),
            "a default is Storm's own"
        );
    }

    #[test]
    fn command_line_is_storms() {
        let conf = Config::defaults();
        let deps = Dependencies {
            jars: vec![PathBuf::from("/d/a.jar")],
            artifacts: [("g:a:1".to_owned(), PathBuf::from("/m/a-1.jar"))].into(),
        };
        let args = command_args(
            &[PathBuf::from("/s/storm-client.jar")],
            Path::new("/t/topo.jar"),
            &deps,
            Path::new("/tmp/c.yaml"),
            &conf,
            &["com.example.Main".into(), "wc".into()],
        );
        let cp = args.iter().position(|a| a == "-cp").unwrap();
        assert_eq!(
            args[cp + 1],
            "/s/storm-client.jar:/t/topo.jar:/d/a.jar:/m/a-1.jar"
        );
        assert_eq!(&args[cp + 2..], ["com.example.Main", "wc"]);
        assert!(args.contains(&"-Dstorm.jar=/t/topo.jar".to_owned()));
        assert!(args.contains(&"-Dstorm.dependency.jars=/d/a.jar".to_owned()));
        assert!(args.contains(&r#"-Dstorm.dependency.artifacts={"g:a:1":"/m/a-1.jar"}"#.to_owned()));
        assert!(args.contains(&"-Dstorm.conf.file=/tmp/c.yaml".to_owned()));
    }
}
