//! Starting the worker's embedded JVM when its topology has Java components: Storm's worker
//! classpath and JVM options (`worker.childopts`, `topology.worker.childopts`, the GC options, with
//! Storm's `%HEAP-MEM%`, `%ID%`, `%WORKER-ID%`, `%TOPOLOGY-ID%`, `%WORKER-PORT%` substitutions, and the
//! `-D` properties Storm's supervisor passes), and the bridge's worker state.

use super::{WorkerArgs, WorkerDaemonError};
use crate::api::ConfMap;
use crate::config::Config;
use crate::jvm::{self, JavaSetup, JvmOptions, WorkerInit};
use crate::paths::{dist_file, StormPaths, STORMJAR};
use crate::thrift::StormTopology;

/// Splits a childopts value (a string of space-separated options, or a list) and substitutes Storm's
/// placeholders.
pub fn childopts(value: Option<&serde_json::Value>, subst: &[(&str, String)]) -> Vec<String> {
    let raw: Vec<String> = match value {
        Some(serde_json::Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str())
            .flat_map(|s| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .collect(),
        _ => Vec::new(),
    };
    raw.into_iter()
        .map(|mut o| {
            for (k, v) in subst {
                o = o.replace(k, v);
            }
            o
        })
        .collect()
}

/// The JVM options of a worker, as Storm's `BasicContainer.mkLaunchCommand` builds them (the options
/// of a worker JVM; what is not a JVM option — `-cp`, the main class — has no place here).
pub fn jvm_options(
    conf: &Config,
    merged: &ConfMap,
    paths: &StormPaths,
    args: &WorkerArgs,
) -> Vec<String> {
    let get = |key: &str| merged.get(key).or_else(|| conf.get(key));
    let heap = get("topology.worker.max.heap.size.mb")
        .and_then(serde_json::Value::as_f64)
        .map(|mb| mb as i64)
        .filter(|mb| *mb > 0)
        .or_else(|| get("worker.heap.memory.mb").and_then(serde_json::Value::as_i64))
        .unwrap_or(768);
    let subst = [
        ("%HEAP-MEM%", heap.to_string()),
        ("%ID%", args.port.to_string()),
        ("%WORKER-ID%", args.worker_id.clone()),
        ("%TOPOLOGY-ID%", args.topology_id.clone()),
        ("%WORKER-PORT%", args.port.to_string()),
    ];
    let mut opts = childopts(get("worker.childopts"), &subst);
    opts.extend(childopts(get("topology.worker.childopts"), &subst));
    let gc = childopts(get("topology.worker.gc.childopts"), &subst);
    if gc.is_empty() {
        opts.extend(childopts(get("worker.gc.childopts"), &subst));
    } else {
        opts.extend(gc);
    }
    // Only JVM options make sense for an embedded JVM.
    opts.retain(|o| {
        o.starts_with("-X") || o.starts_with("-D") || o.starts_with("-ea") || o.starts_with("-da")
    });
    let resources = paths.supervisor_resources(&args.topology_id);
    let mut library_path = vec![
        resources
            .join(format!("{}-{}", os_name(), os_arch()))
            .display()
            .to_string(),
        resources.display().to_string(),
    ];
    if let Some(p) = get("java.library.path").and_then(serde_json::Value::as_str) {
        library_path.push(p.to_owned());
    }
    opts.extend([
        format!("-Djava.library.path={}", library_path.join(":")),
        format!(
            "-Djava.io.tmpdir={}",
            paths.worker_tmp(&args.worker_id).display()
        ),
        format!("-Dstorm.home={}", conf.home().display()),
        format!("-Dstorm.log.dir={}", paths.log_dir().display()),
        format!("-Dstorm.id={}", args.topology_id),
        format!("-Dworker.id={}", args.worker_id),
        format!("-Dworker.port={}", args.port),
        "-Dlogfile.name=worker.log".to_owned(),
        // Before the bridge attaches its appender: warnings to stderr.
        "-Dlog4j2.configurationFile=classpath:storm-rs-log4j2.xml".to_owned(),
    ]);
    opts
}

/// Java's `os.name` and `os.arch` as Storm uses them for native library directories.
fn os_name() -> &'static str {
    match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Mac OS X",
        other => other,
    }
}

fn os_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "aarch64",
        other => other,
    }
}

/// Starts the JVM for `topology` (whose system topology is `system`) if it has Java components.
#[allow(clippy::too_many_arguments)]
pub fn start_if_needed(
    conf: &Config,
    merged: &ConfMap,
    paths: &StormPaths,
    args: &WorkerArgs,
    topology: &StormTopology,
    system: &StormTopology,
    task_to_component: &std::collections::BTreeMap<i32, String>,
    executors: &[(i32, i32)],
) -> Result<(), WorkerDaemonError> {
    if !crate::api::has_java_components(topology) {
        return Ok(());
    }
    let java = |e: jvm::JvmError| WorkerDaemonError::Java(e.to_string());
    let setup = JavaSetup::from_config(conf).map_err(java)?;
    let dist = paths.supervisor_stormdist(&args.topology_id);
    let jar = dist_file(&dist, STORMJAR);
    let dependencies =
        jvm::classpath::dependency_jars(&paths.supervisor_dependencies(&args.topology_id));
    let classpath =
        jvm::worker_classpath(&setup, &jar, &dependencies, merged, conf.home()).map_err(java)?;
    let options = JvmOptions {
        classpath,
        options: jvm_options(conf, merged, paths, args),
    };
    let worker_tasks: Vec<i32> = executors.iter().flat_map(|&(s, e)| s..=e).collect();
    let init = WorkerInit {
        system_topology: crate::thrift::serialize(system),
        user_topology: crate::thrift::serialize(topology),
        conf_json: serde_json::to_string(merged).unwrap_or_else(|_| "{}".into()),
        topology_id: args.topology_id.clone(),
        port: i32::from(args.port),
        worker_tasks,
        tasks: task_to_component
            .iter()
            .map(|(t, c)| (*t, c.clone()))
            .collect(),
        code_dir: paths
            .supervisor_resources(&args.topology_id)
            .display()
            .to_string(),
        pid_dir: paths
            .worker_pids_root(&args.worker_id)
            .display()
            .to_string(),
    };
    tracing::info!(
        jars = options.classpath.len(),
        options = ?options.options,
        "starting the embedded JVM for the topology's Java components"
    );
    tracing::debug!(classpath = ?options.classpath, "JVM classpath");
    jvm::start(&options, &init).map_err(java)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn childopts_split_and_substitute() {
        let v = serde_json::json!("-Xmx%HEAP-MEM%m  -Dport=%ID% -Dw=%WORKER-ID%");
        let got = childopts(
            Some(&v),
            &[
                ("%HEAP-MEM%", "512".into()),
                ("%ID%", "6700".into()),
                ("%WORKER-ID%", "w1".into()),
            ],
        );
        assert_eq!(got, ["-Xmx512m", "-Dport=6700", "-Dw=w1"]);
        let list = serde_json::json!(["-Xss1m -Da=b", "-Dc=d"]);
        assert_eq!(childopts(Some(&list), &[]), ["-Xss1m", "-Da=b", "-Dc=d"]);
        assert!(childopts(None, &[]).is_empty());
    }
}
