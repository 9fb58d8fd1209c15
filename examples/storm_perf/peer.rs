//! `storm_perf vs-storm` (issue 20): storm-rs beside Apache Storm 2.8.3 on the same machine, in the
//! same run. For each case (a storm_perf workload with acking on or off) it runs, round after round,
//! every variant once, interleaved (A B C … A B C …):
//!
//! * `storm-local`: our Java peer topology jar (`benches/storm-peer`) on Storm 2.8.3's `LocalCluster`
//!   (one JVM, Storm's jars from Maven Central);
//! * `storm-cluster`: the same jar on real Storm 2.8.3 daemons launched from the Maven Central jars
//!   (ZooKeeper, `Nimbus`, `Supervisor`; the supervisor launches the worker JVM and its LogWriter from
//!   a Storm home this runner lays out: `lib-worker/` = storm-client and its dependencies, our
//!   `log4j2/` files);
//! * `rs-java`: the same jar on a storm-rs cluster (`storm jar`; the Java spouts and bolts run in the
//!   JVM embedded in the Rust worker);
//! * `rs-native`, `rs-native-local`: storm_perf's native Rust workload in cluster mode (1 worker) and
//!   local mode, run as child `storm_perf … --json` processes.
//!
//! `--parallelism N` (executors of every component) and `--workers N` (worker processes of the
//! cluster variants, which then really run N workers: max(2, N) slots, Storm's even
//! `DefaultScheduler` for N > 1, and a check of the worker processes after the warm-up) apply to every
//! variant; `storm_perf scaling` (`scaling.rs`) sweeps them.
//!
//! Every topology has storm_perf's shapes, parallelism, groupings, ackers and max-spout-pending, plus
//! the settings Storm's storm-perf ships for the corresponding topology
//! (`benches/storm-peer/src/main/resources/storm-perf-settings.txt`, read by the Java topology and
//! passed to the native runs with `--conf`). Java variants count through their components' own
//! counters (`counts-<pid>.txt`, a snapshot with its `System.nanoTime()` every 100 ms) and latency
//! histograms (`latency-<task>-<pid>.txt`, storm_perf's format); throughput is the median of 1 s
//! rates over the window, as storm_perf computes it. Around every run the runner records
//! `/proc/loadavg` and the CPU used by processes outside its own session (`/proc/stat` busy time
//! minus its session's processes, sampled every 500 ms); rounds with a run above
//! `--max-outside-load` are left out of the tables.
//!
//! Every process started is killed when its run ends (process groups, worker pid files, ZooKeeper
//! through `scripts/zookeeper.sh stop`); SIGINT/SIGTERM/SIGHUP make the runner sweep everything it
//! started and exit; direct children also get SIGKILL if the runner dies (`PR_SET_PDEATHSIG`).

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use storm::local::perf::LatencyHistogram;

use crate::runner::{self, Workload};

pub const USAGE: &str = "usage: storm_perf vs-storm [--cases CASE,…] [--variants VARIANT,…] [--rounds N]
           [--warmup SECS] [--duration SECS] [--parallelism N] [--workers N] [--max-pending N]
           [--max-outside-load CORES]
           [--ceiling-secs SECS] [--java-opts OPTS] [--peer-dir DIR] [--scratch DIR] [--keep-scratch]
       storm_perf WORKLOAD --vs-storm [--acking on|off] [the same options]
CASE: WORKLOAD:on|off with WORKLOAD one of const-spout-null-bolt const-spout-id-bolt-null-bolt word-count
      (default const-spout-null-bolt:off,const-spout-null-bolt:on,const-spout-id-bolt-null-bolt:on,word-count:off)
VARIANT: storm-local rs-native-local storm-cluster rs-java rs-native (default all, in this order)
--parallelism N: executors of every component (spout and bolts; ackers stay 1 with acking on, 0 off)
--workers N: worker processes of the cluster variants (storm-cluster, rs-java, rs-native); Storm's
      supervisor and storm-rs's get max(2, N) slots; with N > 1 Storm's nimbus runs its DefaultScheduler
      (the resource-aware scheduler, Storm's default, packs by memory and ignores topology.workers)
defaults: --rounds 5 --warmup 30 --duration 30 --parallelism 1 --workers 1 --max-pending 5000
          --max-outside-load 0.25
          --ceiling-secs 2 --java-opts -Xmx768m --peer-dir benches/storm-peer
needs: cargo build --release --bins --examples, scripts/build-java.sh bridge, and the peer jar with
its classpaths (benches/storm-peer/target); scripts/bench_vs_storm.sh builds all of it and runs this";

/// How long a system may take from start to its first counted tuple.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(240);

// ---------------------------------------------------------------------------------------------
// Options.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case {
    pub workload: Workload,
    pub acking: bool,
}

impl Case {
    pub fn parse(s: &str) -> Result<Case, String> {
        let (w, a) = match s.split_once(':') {
            Some((w, a)) => (w, Some(a)),
            None => (s, None),
        };
        let workload = Workload::parse(w.trim())?;
        if !matches!(
            workload,
            Workload::ConstSpoutNullBolt | Workload::ConstSpoutIdBoltNullBolt | Workload::WordCount
        ) {
            return Err(format!(
                "vs-storm runs const-spout-null-bolt, const-spout-id-bolt-null-bolt and word-count, not {w}"
            ));
        }
        let acking = match a.map(str::trim) {
            Some("on") => true,
            Some("off") => false,
            None => workload == Workload::ConstSpoutIdBoltNullBolt,
            Some(other) => return Err(format!("{s}: acking is on or off, not '{other}'")),
        };
        Ok(Case { workload, acking })
    }

    pub fn name(self) -> String {
        format!(
            "{}:{}",
            self.workload.name(),
            if self.acking { "on" } else { "off" }
        )
    }

    /// The Java counter the throughput is read from (the same component and count as storm_perf's).
    fn counter(self) -> &'static str {
        match self.workload {
            Workload::WordCount => "count.executed",
            _ => "null.executed",
        }
    }

    fn unit(self) -> &'static str {
        match self.workload {
            Workload::WordCount => "count bolt executes/s (= words/s)",
            _ => "null bolt executes/s",
        }
    }

    /// Executors of its topology with `parallelism` per component, ackers included: the most
    /// workers it can occupy.
    fn executors(self, parallelism: u32) -> u32 {
        let components = match self.workload {
            Workload::ConstSpoutNullBolt => 2,
            _ => 3,
        };
        components * parallelism + u32::from(self.acking)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Variant {
    StormLocal,
    StormCluster,
    RsJava,
    RsNative,
    RsNativeLocal,
}

impl Variant {
    const DEFAULT: [Variant; 5] = [
        Variant::StormLocal,
        Variant::RsNativeLocal,
        Variant::StormCluster,
        Variant::RsJava,
        Variant::RsNative,
    ];

    pub fn parse(s: &str) -> Result<Variant, String> {
        Variant::DEFAULT
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| format!("unknown variant '{s}'"))
    }

    pub fn name(self) -> &'static str {
        match self {
            Variant::StormLocal => "storm-local",
            Variant::StormCluster => "storm-cluster",
            Variant::RsJava => "rs-java",
            Variant::RsNative => "rs-native",
            Variant::RsNativeLocal => "rs-native-local",
        }
    }

    fn label(self, workers: u32) -> String {
        let w = if workers == 1 {
            "1 worker".to_owned()
        } else {
            format!("{workers} workers")
        };
        match self {
            Variant::StormLocal => "Apache Storm 2.8.3, LocalCluster, Java jar".into(),
            Variant::StormCluster => format!("Apache Storm 2.8.3 daemons, {w}, Java jar"),
            Variant::RsJava => format!("storm-rs cluster, {w}, same Java jar (`storm jar`)"),
            Variant::RsNative => format!("storm-rs cluster, {w}, native Rust"),
            Variant::RsNativeLocal => "storm-rs local mode, native Rust".into(),
        }
    }

    /// What its peak RSS covers (with several workers: the sum of their peaks).
    fn rss_scope(self, workers: u32) -> &'static str {
        match (self, workers > 1) {
            (Variant::StormLocal, _) => "whole JVM",
            (Variant::StormCluster, false) => "worker JVM",
            (Variant::StormCluster, true) => "sum of worker JVMs",
            (Variant::RsJava, false) => "worker + JVM",
            (Variant::RsJava, true) => "sum of workers + JVMs",
            (Variant::RsNative, false) => "worker",
            (Variant::RsNative, true) => "sum of workers",
            (Variant::RsNativeLocal, _) => "process",
        }
    }

    pub fn is_storm(self) -> bool {
        matches!(self, Variant::StormLocal | Variant::StormCluster)
    }

    pub fn local(self) -> bool {
        matches!(self, Variant::StormLocal | Variant::RsNativeLocal)
    }
}

#[derive(Debug, Clone)]
pub struct VsOptions {
    pub cases: Vec<Case>,
    pub variants: Vec<Variant>,
    pub rounds: u32,
    pub warmup: Duration,
    pub duration: Duration,
    /// Executors per component (`--parallelism`).
    pub parallelism: u32,
    /// Worker processes of the cluster variants (`--workers`).
    pub workers: u32,
    pub max_pending: u32,
    pub max_outside: f64,
    pub ceiling: Duration,
    pub java_opts: Vec<String>,
    pub peer_dir: PathBuf,
    pub scratch: Option<PathBuf>,
    pub keep_scratch: bool,
}

fn list<T>(s: &str, parse: impl Fn(&str) -> Result<T, String>) -> Result<Vec<T>, String> {
    let out: Vec<T> = s
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(parse)
        .collect::<Result<_, _>>()?;
    if out.is_empty() {
        return Err(format!("empty list '{s}'"));
    }
    Ok(out)
}

pub fn secs(flag: &str, s: &str) -> Result<Duration, String> {
    s.parse::<f64>()
        .ok()
        .filter(|v| *v > 0.0 && v.is_finite())
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{flag}: '{s}' is not a positive number of seconds"))
}

/// `--workers N`: 1–64 worker processes.
pub fn workers(flag: &str, value: &str) -> Result<u32, String> {
    value
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=64).contains(n))
        .ok_or_else(|| format!("{flag}: '{value}' is not a number of workers from 1 to 64"))
}

impl VsOptions {
    /// `vs-storm [options]` or `WORKLOAD --vs-storm [--acking on|off] [options]`.
    pub fn parse(args: &[String]) -> Result<VsOptions, String> {
        let mut o = VsOptions {
            cases: vec![
                Case::parse("const-spout-null-bolt:off")?,
                Case::parse("const-spout-null-bolt:on")?,
                Case::parse("const-spout-id-bolt-null-bolt:on")?,
                Case::parse("word-count:off")?,
            ],
            variants: Variant::DEFAULT.to_vec(),
            rounds: 5,
            warmup: Duration::from_secs(30),
            duration: Duration::from_secs(30),
            parallelism: 1,
            workers: 1,
            max_pending: 5000,
            max_outside: 0.25,
            ceiling: Duration::from_secs(2),
            java_opts: vec!["-Xmx768m".into()],
            peer_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/storm-peer"),
            scratch: None,
            keep_scratch: false,
        };
        let mut it = args.iter().map(String::as_str).peekable();
        let mut single: Option<Workload> = None;
        let mut acking: Option<bool> = None;
        match it.next() {
            Some("vs-storm") => {}
            Some(w) => single = Some(Workload::parse(w)?),
            None => return Err("missing vs-storm".into()),
        }
        while let Some(flag) = it.next() {
            match flag {
                "--vs-storm" => continue,
                "--keep-scratch" => {
                    o.keep_scratch = true;
                    continue;
                }
                "-h" | "--help" => return Err(String::new()),
                _ => {}
            }
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let num = || {
                value
                    .parse::<u64>()
                    .map_err(|_| format!("{flag}: '{value}' is not a number"))
            };
            match flag {
                "--cases" => o.cases = list(value, Case::parse)?,
                "--variants" => o.variants = list(value, Variant::parse)?,
                "--acking" => {
                    acking = Some(match value {
                        "on" => true,
                        "off" => false,
                        _ => return Err(format!("--acking: on or off, not '{value}'")),
                    })
                }
                "--rounds" => o.rounds = num()?.clamp(1, 1000) as u32,
                "--warmup" => o.warmup = secs(flag, value)?,
                "--duration" => o.duration = secs(flag, value)?,
                "--parallelism" => o.parallelism = runner::parallelism(flag, value)?,
                "--workers" => o.workers = workers(flag, value)?,
                "--max-pending" => {
                    o.max_pending = num()?.clamp(1, u32::MAX as u64) as u32;
                }
                "--max-outside-load" => {
                    o.max_outside = value
                        .parse::<f64>()
                        .ok()
                        .filter(|v| *v >= 0.0)
                        .ok_or_else(|| format!("{flag}: '{value}' is not a number of cores"))?
                }
                "--ceiling-secs" => {
                    o.ceiling = value
                        .parse::<f64>()
                        .ok()
                        .filter(|v| *v >= 0.0 && v.is_finite())
                        .map(Duration::from_secs_f64)
                        .ok_or_else(|| format!("{flag}: '{value}' is not a number of seconds"))?
                }
                "--java-opts" => o.java_opts = value.split_whitespace().map(String::from).collect(),
                "--peer-dir" => o.peer_dir = PathBuf::from(value),
                "--scratch" => o.scratch = Some(PathBuf::from(value)),
                _ => return Err(format!("unknown option {flag}")),
            }
        }
        if let Some(w) = single {
            let spec = match acking {
                Some(a) => format!("{}:{}", w.name(), if a { "on" } else { "off" }),
                None => w.name().to_owned(),
            };
            o.cases = vec![Case::parse(&spec)?];
        } else if acking.is_some() {
            return Err(
                "--acking goes with `WORKLOAD --vs-storm`; use --cases WORKLOAD:on|off".into(),
            );
        }
        Ok(o)
    }
}

// ---------------------------------------------------------------------------------------------
// What the runs need: Java, the peer jar and its classpaths, the bridge, a Storm home.

pub struct Assets {
    java: PathBuf,
    pub java_version: String,
    jar: PathBuf,
    /// storm-client 2.8.3 and its dependencies (what a topology jar is run with).
    client_cp: String,
    /// The same plus storm-server and its dependencies (LocalCluster, nimbus, supervisor).
    server_cp: String,
    bridge: PathBuf,
    /// Our `log4j2/{cluster,worker}.xml`.
    log4j: PathBuf,
    /// storm-perf's settings per workload name.
    settings: BTreeMap<String, Vec<(String, String)>>,
    /// The Storm home the Storm daemons run with (`lib-worker/`, `log4j2/`, `conf/`).
    storm_home: PathBuf,
}

fn read_classpath(path: &Path) -> Result<String, String> {
    let cp = std::fs::read_to_string(path)
        .map_err(|e| {
            format!(
                "{}: {e} (build the peer jar: scripts/bench_vs_storm.sh does)",
                path.display()
            )
        })?
        .trim()
        .to_owned();
    if let Some(missing) = cp.split(':').find(|j| !Path::new(j).is_file()) {
        return Err(format!(
            "{} lists {missing}, which does not exist (rebuild: scripts/bench_vs_storm.sh)",
            path.display()
        ));
    }
    Ok(cp)
}

/// `[workload]` sections of `key = value` lines.
fn parse_settings(text: &str) -> BTreeMap<String, Vec<(String, String)>> {
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut section = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = Some(name.trim().to_owned());
            continue;
        }
        if let (Some(s), Some((k, v))) = (&section, line.split_once('=')) {
            out.entry(s.clone())
                .or_default()
                .push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    out
}

impl Assets {
    pub fn load(o: &VsOptions, scratch: &Path) -> Result<Assets, String> {
        let java = storm::jvm::locate::java_executable().map_err(|e| e.to_string())?;
        let version = Command::new(&java)
            .arg("-version")
            .output()
            .map_err(|e| format!("{}: {e}", java.display()))?;
        let java_version = String::from_utf8_lossy(&version.stderr)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned();
        let target = o.peer_dir.join("target");
        let jar = target.join("storm-rs-peer.jar");
        if !jar.is_file() {
            return Err(format!(
                "{} is missing: build it with scripts/bench_vs_storm.sh (Maven)",
                jar.display()
            ));
        }
        let client_cp = read_classpath(&target.join("client-classpath.txt"))?;
        let server_cp = read_classpath(&target.join("server-classpath.txt"))?;
        let settings_file = o
            .peer_dir
            .join("src/main/resources/storm-perf-settings.txt");
        let settings = parse_settings(
            &std::fs::read_to_string(&settings_file)
                .map_err(|e| format!("{}: {e}", settings_file.display()))?,
        );
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let bridge = [
            repo.join("java/storm-rs-bridge/target/storm-rs-bridge.jar"),
            repo.join("lib-java/storm-rs-bridge.jar"),
        ]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or("storm-rs's Java bridge is not built: scripts/build-java.sh bridge")?;
        let log4j = o.peer_dir.join("log4j2");
        // A Storm home as a Storm distribution lays it out, for the supervisor to launch workers from.
        let storm_home = scratch.join("storm-home");
        let lib_worker = storm_home.join("lib-worker");
        for dir in [&lib_worker, &storm_home.join("conf")] {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        for jar in client_cp.split(':') {
            let jar = Path::new(jar);
            if let Some(name) = jar.file_name() {
                let _ = std::os::unix::fs::symlink(jar, lib_worker.join(name));
            }
        }
        let _ = std::os::unix::fs::symlink(&log4j, storm_home.join("log4j2"));
        Ok(Assets {
            java,
            java_version,
            jar,
            client_cp,
            server_cp,
            bridge,
            log4j,
            settings,
            storm_home,
        })
    }

    fn settings(&self, case: Case) -> &[(String, String)] {
        self.settings
            .get(case.workload.name())
            .map_or(&[], Vec::as_slice)
    }

    /// The peer topology's KEY=VALUE arguments: workers, executors per component, storm_perf's
    /// max-spout-pending and the JVM options of the worker (the storm-perf settings are read by the
    /// topology from its jar). `local` (Storm's LocalCluster): 1 worker whatever `--workers`, which
    /// is a cluster-variant option.
    fn topology_args(&self, o: &VsOptions, case: Case, local: bool) -> Vec<String> {
        let mut args = vec![
            format!("topology.workers={}", if local { 1 } else { o.workers }),
            format!("stormrs.peer.parallelism={}", o.parallelism),
        ];
        if case.acking {
            args.push(format!("topology.max.spout.pending={}", o.max_pending));
        }
        if !o.java_opts.is_empty() {
            args.push(format!(
                "topology.worker.childopts={}",
                o.java_opts.join(" ")
            ));
        }
        args
    }
}

// ---------------------------------------------------------------------------------------------
// Processes.

pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A child in a process group of its own, which gets SIGKILL when the runner dies; on drop its whole
/// group is killed (a Storm supervisor's workers and their LogWriter are in its group).
struct Proc {
    child: Child,
    name: String,
    log: PathBuf,
}

impl Proc {
    fn spawn(mut cmd: Command, name: &str, log: &Path) -> Result<Proc, String> {
        let out = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        cmd.process_group(0);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                nix::libc::prctl(nix::libc::PR_SET_PDEATHSIG, nix::libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| format!("start {name}: {e}"))?;
        Ok(Proc {
            child,
            name: name.to_owned(),
            log: log.to_owned(),
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Err (with the end of its log) once it has exited.
    fn check(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!(
                "{} exited ({status}); the end of {}:\n{}",
                self.name,
                self.log.display(),
                tail(&self.log, 25)
            )),
            Err(e) => Err(format!("{}: {e}", self.name)),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One `/proc/<pid>/stat`: (parent, session, start time in ticks, utime + stime in ticks).
pub fn proc_stat(pid: u32) -> Option<(u32, i64, u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let f: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some((
        f.get(1)?.parse().ok()?,
        f.get(3)?.parse().ok()?,
        f.get(19)?.parse().ok()?,
        f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?,
    ))
}

fn all_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
                .collect()
        })
        .unwrap_or_default()
}

/// Every live descendant of `root`.
pub fn descendants(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = all_pids()
        .into_iter()
        .filter_map(|p| proc_stat(p).map(|s| (p, s.0)))
        .collect();
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for &(child, parent) in &parents {
            if parent == p && !out.contains(&child) {
                out.push(child);
                frontier.push(child);
            }
        }
    }
    out
}

fn our_session() -> i64 {
    nix::unistd::getsid(None).map_or(-1, |s| s.as_raw() as i64)
}

/// Worker pids listed under `<dir>/**/workers/*/pids/` and ZooKeeper pids in `<dir>/**/zk.pid`.
pub fn pid_files(dir: &Path, depth: usize, out: &mut Vec<u32>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if is_dir && name == "pids" {
            if let Ok(pids) = std::fs::read_dir(&path) {
                out.extend(
                    pids.flatten()
                        .filter_map(|p| p.file_name().to_str()?.parse::<u32>().ok()),
                );
            }
        } else if is_dir && depth > 0 {
            pid_files(&path, depth - 1, out);
        } else if name == "zk.pid" {
            if let Some(pid) = std::fs::read_to_string(&path)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                out.push(pid);
            }
        }
    }
}

/// Kills everything this runner started: its descendants, and the processes of its session named in
/// pid files under `scratch` (workers and ZooKeeper servers that were re-parented).
pub fn sweep(scratch: &Path) {
    let me = std::process::id();
    let mut victims = descendants(me);
    let mut listed = Vec::new();
    pid_files(scratch, 8, &mut listed);
    let sid = our_session();
    victims.extend(
        listed
            .into_iter()
            .filter(|&p| proc_stat(p).is_some_and(|s| s.1 == sid)),
    );
    victims.sort_unstable();
    victims.dedup();
    for pid in victims.into_iter().filter(|&p| p != me) {
        runner::kill9(pid);
    }
}

// ---------------------------------------------------------------------------------------------
// Machine load: CPU used outside this runner's session while a run goes on.

/// `/proc/stat`'s busy time (user, nice, system, irq, softirq, steal) in ticks.
fn busy_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    [0, 1, 2, 5, 6, 7]
        .iter()
        .map(|&i| f.get(i).copied().unwrap_or(0))
        .sum()
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Default)]
struct LoadState {
    busy: u64,
    ours: u64,
    last_busy: u64,
    /// Our session's processes: pid → (start time, CPU ticks) at the last sample.
    last: BTreeMap<u32, (u64, u64)>,
}

/// Samples the machine's busy time and this session's processes every 500 ms (a process of ours
/// that exits loses at most its last half second, which then counts as outside).
pub struct LoadMonitor {
    state: Arc<Mutex<LoadState>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    start: Instant,
    loadavg: String,
}

impl LoadMonitor {
    pub fn start() -> LoadMonitor {
        let sid = our_session();
        let state = Arc::new(Mutex::new(LoadState::default()));
        let sample = {
            let state = state.clone();
            move |first: bool| {
                let busy = busy_ticks();
                let mut now = BTreeMap::new();
                for pid in all_pids() {
                    if let Some((_, s, start, cpu)) = proc_stat(pid) {
                        if s == sid {
                            now.insert(pid, (start, cpu));
                        }
                    }
                }
                let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
                if !first {
                    st.busy += busy.saturating_sub(st.last_busy);
                    let mut ours = 0;
                    for (pid, &(start, cpu)) in &now {
                        ours += match st.last.get(pid) {
                            Some(&(s0, c0)) if s0 == start => cpu.saturating_sub(c0),
                            Some(_) | None => cpu,
                        };
                    }
                    st.ours += ours;
                }
                st.last_busy = busy;
                st.last = now;
            }
        };
        sample(true);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(500));
                    sample(false);
                }
            })
        };
        LoadMonitor {
            state,
            stop,
            thread: Some(thread),
            start: Instant::now(),
            loadavg: loadavg(),
        }
    }

    /// (load average before, after, CPU cores used outside the session on average).
    pub fn finish(mut self) -> (String, String, f64) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let secs = self.start.elapsed().as_secs_f64().max(1e-3);
        let outside = st.busy.saturating_sub(st.ours) as f64 / 100.0 / secs;
        (self.loadavg.clone(), loadavg(), outside)
    }
}

// ---------------------------------------------------------------------------------------------
// One run's figures.

#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub tuples_per_sec: f64,
    pub intervals: usize,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Peak RSS (VmHWM) of the measured process(es), summed (several workers: the sum of their
    /// peaks).
    pub rss_mb: f64,
    pub cpu_per_million: f64,
    /// Peak RSS of the daemons (nimbus, supervisor, Storm's LogWriter), summed, where known.
    pub daemons_rss_mb: Option<f64>,
}

/// Per `counts-*.txt` under `dir`: (snapshot time in ns, the sum of `counter`'s lines).
fn read_counts(dir: &Path, counter: &str) -> BTreeMap<String, (i64, u64)> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if !(name.starts_with("counts-") && name.ends_with(".txt")) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(e.path()) else {
            continue;
        };
        let mut lines = text.lines();
        let Some(t) = lines.next().and_then(|l| l.trim().parse::<i64>().ok()) else {
            continue;
        };
        let mut sum = 0;
        for line in lines {
            let mut f = line.split_whitespace();
            if f.next() == Some(counter) {
                sum += f.nth(1).and_then(|c| c.parse::<u64>().ok()).unwrap_or(0);
            }
        }
        out.insert(name, (t, sum));
    }
    out
}

pub fn vm_hwm(pids: &[u32]) -> f64 {
    pids.iter()
        .filter_map(|&p| runner::status_mb(p, "VmHWM"))
        .sum()
}

pub fn cpu(pids: &[u32]) -> f64 {
    pids.iter().filter_map(|&p| runner::cpu_secs(p)).sum()
}

/// Sleeps `d`, checking the system every 200 ms.
fn sleep_checking(
    d: Duration,
    check: &mut dyn FnMut() -> Result<(), String>,
) -> Result<(), String> {
    let end = Instant::now() + d;
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        check()?;
        std::thread::sleep(left.min(Duration::from_millis(200)));
    }
    Ok(())
}

/// The Java variants' measurement: wait for the counter to move, warm up, then read it every second
/// for the window. `pids` names the measured processes (read after the warm-up); fewer than
/// `expected` of them is an error (`--workers N` must mean N workers).
fn measure_java(
    o: &VsOptions,
    case: Case,
    report: &Path,
    expected: usize,
    pids: &mut dyn FnMut() -> Vec<u32>,
    check: &mut dyn FnMut() -> Result<(), String>,
) -> Result<Figures, String> {
    let counter = case.counter();
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        check()?;
        if read_counts(report, counter).values().any(|v| v.1 > 0) {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "nothing counted on {counter} within {} s",
                STARTUP_TIMEOUT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    sleep_checking(o.warmup, check)?;
    let pids = pids();
    if pids.is_empty() {
        return Err("no process to measure (no worker pid found)".into());
    }
    if pids.len() < expected {
        return Err(format!(
            "--workers {}: {} worker process(es) running after the warm-up, {expected} expected",
            o.workers,
            pids.len()
        ));
    }
    let hist0 = LatencyHistogram::read_dir(report);
    let cpu0 = cpu(&pids);
    let start = Instant::now();
    let first = read_counts(report, counter);
    let mut last = first.clone();
    let mut rates = Vec::new();
    let intervals = (o.duration.as_secs_f64().round() as u64).max(1);
    for i in 1..=intervals {
        if let Some(d) = (start + Duration::from_secs(i)).checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        }
        check()?;
        let now = read_counts(report, counter);
        let mut rate = 0.0;
        let mut advanced = false;
        for (file, &(t, c)) in &now {
            match last.get(file) {
                Some(&(t0, c0)) if t > t0 => {
                    rate += c.saturating_sub(c0) as f64 / ((t - t0) as f64 / 1e9);
                    advanced = true;
                    last.insert(file.clone(), (t, c));
                }
                Some(_) => {}
                None => {
                    last.insert(file.clone(), (t, c));
                }
            }
        }
        if advanced {
            rates.push(rate);
        }
    }
    let window = start.elapsed().as_secs_f64();
    let cpu1 = cpu(&pids);
    let rss = vm_hwm(&pids);
    // The histograms are rewritten every 200 ms.
    std::thread::sleep(Duration::from_millis(250));
    let hist1 = LatencyHistogram::read_dir(report);
    let mut counted = 0u64;
    let mut span = 0f64;
    for (file, &(t1, c1)) in &last {
        if let Some(&(t0, c0)) = first.get(file) {
            counted += c1.saturating_sub(c0);
            span = span.max((t1 - t0) as f64 / 1e9);
        }
    }
    if rates.is_empty() || counted == 0 {
        return Err(format!("{counter} did not move during the window"));
    }
    let mut f = Figures {
        tuples_per_sec: runner::median(&rates),
        intervals: rates.len(),
        rss_mb: rss,
        ..Figures::default()
    };
    // Tuples of the counters' span scaled to the CPU window.
    let tuples = counted as f64 / span.max(1e-3) * window;
    f.cpu_per_million = (cpu1 - cpu0) / tuples.max(1.0) * 1e6;
    if case.acking {
        let h = hist1.since(&hist0);
        if h.count > 0 {
            f.p50_ms = Some(h.quantile_ns(0.5) as f64 / 1e6);
            f.p99_ms = Some(h.quantile_ns(0.99) as f64 / 1e6);
        }
    }
    Ok(f)
}

// ---------------------------------------------------------------------------------------------
// The variants.

pub fn java_cmd(a: &Assets, classpath: &str) -> Command {
    let mut cmd = Command::new(&a.java);
    cmd.env_remove("STORM_CONF_DIR")
        .env_remove("STORM_HOME")
        .env_remove("JAVA_TOOL_OPTIONS")
        .arg("-cp")
        .arg(classpath);
    cmd
}

fn log_props(cmd: &mut Command, a: &Assets, logs: &Path, file: &str, xml: &str) {
    cmd.arg(format!("-Dstorm.log.dir={}", logs.display()))
        .arg(format!("-Dlogfile.name={file}"))
        .arg(format!(
            "-Dlog4j.configurationFile={}",
            a.log4j.join(xml).display()
        ));
}

pub fn acking_arg(case: Case) -> &'static str {
    if case.acking {
        "on"
    } else {
        "off"
    }
}

/// Storm's LocalCluster in one JVM, running the peer topology.
fn storm_local(o: &VsOptions, a: &Assets, case: Case, dir: &Path) -> Result<Figures, String> {
    let report = dir.join("report");
    let logs = dir.join("logs");
    for d in [&report, &logs] {
        std::fs::create_dir_all(d).map_err(|e| e.to_string())?;
    }
    let lifetime = STARTUP_TIMEOUT + o.warmup + o.duration + Duration::from_secs(60);
    let classpath = format!("{}:{}", a.server_cp, a.jar.display());
    let mut cmd = Command::new(&a.java);
    cmd.env_remove("STORM_CONF_DIR")
        .env_remove("STORM_HOME")
        .env_remove("JAVA_TOOL_OPTIONS")
        .args(&o.java_opts);
    log_props(&mut cmd, a, &logs, "local.log", "cluster.xml");
    cmd.arg("-cp")
        .arg(classpath)
        .args(["org.stormrs.peer.PeerTopology", "local", "peer"])
        .arg(case.workload.name())
        .arg(acking_arg(case))
        .arg(&report)
        .arg(lifetime.as_secs().to_string())
        .args(a.topology_args(o, case, true));
    let mut jvm = Proc::spawn(cmd, "Storm LocalCluster JVM", &dir.join("java.out"))?;
    let pid = jvm.pid();
    measure_java(o, case, &report, 1, &mut || vec![pid], &mut || jvm.check())
}

/// Real Storm daemons from the Maven Central jars: ZooKeeper, nimbus, one supervisor with `slots`
/// slots (2 unless more workers are asked for).
pub struct StormDaemons {
    zk_dir: PathBuf,
    conf_file: PathBuf,
    local_dir: PathBuf,
    logs: PathBuf,
    nimbus: Option<Proc>,
    supervisor: Option<Proc>,
}

fn zookeeper_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/zookeeper.sh")
}

fn wait_port(port: u16, what: &str, proc: &mut Proc) -> Result<(), String> {
    let end = Instant::now() + Duration::from_secs(120);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        proc.check()?;
        if Instant::now() > end {
            return Err(format!("{what} did not listen on {port} within 120 s"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

impl StormDaemons {
    /// `even`: nimbus schedules with Storm's `DefaultScheduler` (executors spread evenly over
    /// `topology.workers` slots) instead of its default resource-aware scheduler, which packs
    /// executors by memory and would put a small topology in one worker whatever `topology.workers`.
    pub fn start(a: &Assets, dir: &Path, slots: u32, even: bool) -> Result<StormDaemons, String> {
        let zk_dir = dir.join("zookeeper");
        let logs = dir.join("logs");
        let local_dir = dir.join("storm-local");
        for d in [&logs, &local_dir] {
            std::fs::create_dir_all(d).map_err(|e| e.to_string())?;
        }
        let mut d = StormDaemons {
            zk_dir: zk_dir.clone(),
            conf_file: dir.join("storm.yaml"),
            local_dir: local_dir.clone(),
            logs: logs.clone(),
            nimbus: None,
            supervisor: None,
        };
        let zk_port = runner::free_port();
        let out = Command::new("bash")
            .arg(zookeeper_script())
            .args(["start", "--port", &zk_port.to_string(), "--dir"])
            .arg(&zk_dir)
            .args(["--watch-pid", &std::process::id().to_string()])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("zookeeper.sh: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "zookeeper.sh start failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let nimbus_port = runner::free_port();
        let slots: Vec<u16> = (0..slots.max(1)).map(|_| runner::free_port()).collect();
        // JSON is YAML.
        let mut conf = serde_json::json!({
            "storm.zookeeper.servers": ["127.0.0.1"],
            "storm.zookeeper.port": zk_port,
            "storm.zookeeper.root": "/storm-peer",
            "storm.local.dir": local_dir,
            "storm.local.hostname": "127.0.0.1",
            "storm.log.dir": logs,
            "nimbus.seeds": ["127.0.0.1"],
            "nimbus.thrift.port": nimbus_port,
            "supervisor.thrift.port": runner::free_port(),
            "supervisor.slots.ports": slots,
            "ui.port": runner::free_port(),
            "logviewer.port": runner::free_port(),
            "drpc.port": runner::free_port(),
            "drpc.invocations.port": runner::free_port(),
            "drpc.http.port": runner::free_port(),
        });
        if even {
            conf["storm.scheduler"] = "org.apache.storm.scheduler.DefaultScheduler".into();
        }
        std::fs::write(
            &d.conf_file,
            serde_json::to_string_pretty(&conf).unwrap_or_default(),
        )
        .map_err(|e| e.to_string())?;
        let daemon = |main: &str, heap: &str, name: &str| {
            let mut cmd = java_cmd(a, &a.server_cp);
            cmd.arg("-server")
                .arg(heap)
                .arg(format!("-Dstorm.home={}", a.storm_home.display()))
                .arg(format!("-Dstorm.conf.file={}", d.conf_file.display()))
                .arg(format!("-Djava.io.tmpdir={}", dir.display()));
            log_props(&mut cmd, a, &logs, &format!("{name}.log"), "cluster.xml");
            // The main class after the options (java_cmd put -cp first).
            cmd.arg(main).current_dir(dir);
            cmd
        };
        // Storm's defaults: nimbus.childopts -Xmx1024m, supervisor.childopts -Xmx256m.
        let mut nimbus = Proc::spawn(
            daemon(
                "org.apache.storm.daemon.nimbus.Nimbus",
                "-Xmx1024m",
                "nimbus",
            ),
            "Storm nimbus",
            &logs.join("nimbus.out"),
        )?;
        wait_port(nimbus_port, "Storm's nimbus", &mut nimbus)?;
        d.nimbus = Some(nimbus);
        d.supervisor = Some(Proc::spawn(
            daemon(
                "org.apache.storm.daemon.supervisor.Supervisor",
                "-Xmx256m",
                "supervisor",
            ),
            "Storm supervisor",
            &logs.join("supervisor.out"),
        )?);
        Ok(d)
    }

    pub fn check(&mut self) -> Result<(), String> {
        for p in self.nimbus.iter_mut().chain(self.supervisor.iter_mut()) {
            p.check()?;
        }
        Ok(())
    }

    pub fn worker_pids(&self) -> Vec<u32> {
        let mut out = Vec::new();
        pid_files(&self.local_dir.join("workers"), 2, &mut out);
        out.retain(|&p| runner::alive(p));
        out.sort_unstable();
        out.dedup();
        out
    }

    pub fn nimbus_pid(&self) -> Option<u32> {
        self.nimbus.as_ref().map(Proc::pid)
    }

    pub fn supervisor_pid(&self) -> Option<u32> {
        self.supervisor.as_ref().map(Proc::pid)
    }

    /// The ZooKeeper server's pid (from its `zk.pid`).
    pub fn zookeeper_pid(&self) -> Option<u32> {
        let mut out = Vec::new();
        pid_files(&self.zk_dir, 2, &mut out);
        out.into_iter().find(|&p| runner::alive(p))
    }

    /// nimbus, the supervisor and the workers' LogWriter JVMs.
    pub fn daemon_pids(&self) -> Vec<u32> {
        let workers = self.worker_pids();
        let mut out: Vec<u32> = self
            .nimbus
            .iter()
            .chain(self.supervisor.iter())
            .map(Proc::pid)
            .collect();
        if let Some(s) = &self.supervisor {
            out.extend(
                descendants(s.pid())
                    .into_iter()
                    .filter(|p| !workers.contains(p)),
            );
        }
        out
    }

    /// Submits with Storm's own client (what `storm jar` does: `-Dstorm.jar`), retrying while nimbus
    /// is not ready.
    fn submit(&self, o: &VsOptions, a: &Assets, case: Case, report: &Path) -> Result<(), String> {
        let workload = case.workload.name();
        self.submit_workload(
            a,
            workload,
            acking_arg(case),
            report,
            &a.topology_args(o, case, false),
        )
    }

    /// Submits `PeerTopology submit peer WORKLOAD ACKING REPORT ARGS…`.
    pub fn submit_workload(
        &self,
        a: &Assets,
        workload: &str,
        acking: &str,
        report: &Path,
        args: &[String],
    ) -> Result<(), String> {
        let end = Instant::now() + Duration::from_secs(120);
        let log = self.logs.join("submit.out");
        loop {
            let mut cmd = java_cmd(a, &format!("{}:{}", a.client_cp, a.jar.display()));
            cmd.arg(format!("-Dstorm.jar={}", a.jar.display()))
                .arg(format!("-Dstorm.conf.file={}", self.conf_file.display()))
                .arg(format!("-Dstorm.home={}", a.storm_home.display()));
            log_props(&mut cmd, a, &self.logs, "submit.log", "cluster.xml");
            cmd.args(["org.stormrs.peer.PeerTopology", "submit", "peer"])
                .arg(workload)
                .arg(acking)
                .arg(report)
                .args(args);
            let out = File::create(&log).map_err(|e| e.to_string())?;
            let err = out.try_clone().map_err(|e| e.to_string())?;
            let status = cmd
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .status()
                .map_err(|e| format!("submit to Storm: {e}"))?;
            if status.success() {
                return Ok(());
            }
            if Instant::now() > end {
                return Err(format!(
                    "submitting to Storm's nimbus failed ({status}); the end of {}:\n{}",
                    log.display(),
                    tail(&log, 25)
                ));
            }
            std::thread::sleep(Duration::from_secs(2));
        }
    }
}

impl Drop for StormDaemons {
    fn drop(&mut self) {
        let workers = self.worker_pids();
        self.supervisor = None;
        for pid in workers {
            runner::kill9(pid);
        }
        self.nimbus = None;
        let _ = Command::new("bash")
            .arg(zookeeper_script())
            .arg("stop")
            .arg("--dir")
            .arg(&self.zk_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn storm_cluster(o: &VsOptions, a: &Assets, case: Case, dir: &Path) -> Result<Figures, String> {
    let report = dir.join("report");
    std::fs::create_dir_all(&report).map_err(|e| e.to_string())?;
    let mut daemons = StormDaemons::start(a, dir, o.workers.max(2), o.workers > 1)?;
    daemons.submit(o, a, case, &report)?;
    let d = &mut daemons;
    let local_dir = d.local_dir.clone();
    let mut f = measure_java(
        o,
        case,
        &report,
        o.workers.min(case.executors(o.parallelism)) as usize,
        &mut || {
            let mut out = Vec::new();
            pid_files(&local_dir.join("workers"), 2, &mut out);
            out.retain(|&p| runner::alive(p));
            out
        },
        &mut || d.check(),
    )?;
    f.daemons_rss_mb = Some(vm_hwm(&daemons.daemon_pids()));
    Ok(f)
}

/// The same jar on a storm-rs cluster (`storm jar`).
fn rs_java(o: &VsOptions, a: &Assets, case: Case, dir: &Path) -> Result<Figures, String> {
    let report = dir.join("report");
    std::fs::create_dir_all(&report).map_err(|e| e.to_string())?;
    let toml = format!(
        "\"storm.rs.java.client.classpath\" = {:?}\n\"storm.rs.java.bridge.jar\" = {:?}\n\
         \"supervisor.worker.start.timeout.secs\" = 120\n\"nimbus.task.launch.secs\" = 120\n",
        a.client_cp,
        a.bridge.display().to_string()
    );
    let cluster = runner::PerfCluster::start_with(o.workers.max(2), &toml)?;
    let result = rs_java_run(o, a, case, dir, &report, &cluster);
    if result.is_err() {
        // The cluster's directory goes with it: keep its logs beside the run's.
        let _ = Command::new("cp")
            .arg("-a")
            .arg(&cluster.dir)
            .arg(dir.join("storm-rs-cluster"))
            .status();
    }
    result
}

fn rs_java_run(
    o: &VsOptions,
    a: &Assets,
    case: Case,
    dir: &Path,
    report: &Path,
    cluster: &runner::PerfCluster,
) -> Result<Figures, String> {
    let log = dir.join("storm-jar.out");
    let out = File::create(&log).map_err(|e| e.to_string())?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let status = Command::new(runner::bin_dir().join("storm"))
        .arg("--config")
        .arg(&cluster.config)
        .arg("jar")
        .arg(&a.jar)
        .args(["org.stormrs.peer.PeerTopology", "submit", "peer"])
        .arg(case.workload.name())
        .arg(acking_arg(case))
        .arg(report)
        .args(a.topology_args(o, case, false))
        .current_dir(&cluster.dir)
        .env_remove("STORM_CONF_DIR")
        .env_remove("STORM_HOME")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status()
        .map_err(|e| format!("storm jar: {e} (cargo build --release --bins)"))?;
    if !status.success() {
        return Err(format!(
            "storm jar failed ({status}); the end of {}:\n{}",
            log.display(),
            tail(&log, 25)
        ));
    }
    let expected = o.workers.min(case.executors(o.parallelism)) as usize;
    let mut f = measure_java(
        o,
        case,
        report,
        expected,
        &mut || cluster.worker_pids(),
        &mut || Ok(()),
    )?;
    f.daemons_rss_mb = Some(vm_hwm(&cluster.daemon_pids()));
    Ok(f)
}

/// storm_perf's own native run, as a child `storm_perf … --json`.
fn rs_native(
    o: &VsOptions,
    a: &Assets,
    case: Case,
    dir: &Path,
    local: bool,
) -> Result<Figures, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(exe);
    cmd.arg(case.workload.name())
        .args(["--mode", if local { "local" } else { "cluster" }])
        .arg("--workers")
        .arg(if local { 1 } else { o.workers }.to_string())
        .arg("--parallelism")
        .arg(o.parallelism.to_string())
        .args(["--runs", "1", "--ceiling-secs", "0", "--json"])
        .args(["--acking", acking_arg(case)])
        .arg("--warmup")
        .arg(o.warmup.as_secs_f64().to_string())
        .arg("--duration")
        .arg(o.duration.as_secs_f64().to_string())
        .arg("--max-pending")
        .arg(o.max_pending.to_string());
    for (k, v) in a.settings(case) {
        cmd.arg("--conf").arg(format!("{k}={v}"));
    }
    let log = dir.join("storm_perf.out");
    cmd.env("TMPDIR", dir).stdout(Stdio::piped());
    let err = File::create(&log).map_err(|e| e.to_string())?;
    cmd.stderr(err).stdin(Stdio::null());
    // SAFETY: prctl is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            nix::libc::prctl(nix::libc::PR_SET_PDEATHSIG, nix::libc::SIGKILL);
            Ok(())
        });
    }
    let out = cmd.output().map_err(|e| format!("storm_perf: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok());
    let Some(v) = json.filter(|_| out.status.success()) else {
        return Err(format!(
            "storm_perf {} failed ({}): {}\n{}",
            case.workload.name(),
            out.status,
            stdout.trim(),
            tail(&log, 25)
        ));
    };
    let num = |k: &str| v.get(k).and_then(serde_json::Value::as_f64);
    Ok(Figures {
        tuples_per_sec: num("tuples_per_sec").unwrap_or(0.0),
        intervals: num("intervals").unwrap_or(0.0) as usize,
        p50_ms: num("p50_ns").map(|n| n / 1e6),
        p99_ms: num("p99_ns").map(|n| n / 1e6),
        rss_mb: v
            .get("rss_mb")
            .and_then(serde_json::Value::as_array)
            .map_or(0.0, |a| {
                a.iter().filter_map(serde_json::Value::as_f64).sum()
            }),
        cpu_per_million: num("cpu_per_million").unwrap_or(0.0),
        daemons_rss_mb: None,
    })
}

// ---------------------------------------------------------------------------------------------
// The session.

#[derive(Clone)]
pub struct Record {
    pub case: Case,
    pub variant: Variant,
    pub round: u32,
    pub result: Result<Figures, String>,
    pub load_before: String,
    pub load_after: String,
    /// CPU cores used outside this runner's session during the run, on average.
    pub outside: f64,
}

/// One run of `variant` on `case` in `dir`, with the machine's load around it; then whatever the
/// run left under `scratch` is swept.
pub fn run_variant(
    o: &VsOptions,
    assets: &Assets,
    case: Case,
    variant: Variant,
    round: u32,
    dir: &Path,
    scratch: &Path,
) -> Record {
    let monitor = LoadMonitor::start();
    let result = match variant {
        Variant::StormLocal => storm_local(o, assets, case, dir),
        Variant::StormCluster => storm_cluster(o, assets, case, dir),
        Variant::RsJava => rs_java(o, assets, case, dir),
        Variant::RsNative => rs_native(o, assets, case, dir, false),
        Variant::RsNativeLocal => rs_native(o, assets, case, dir, true),
    };
    let (load_before, load_after, outside) = monitor.finish();
    // Whatever the run left (it cleans up after itself; this is the safety net).
    sweep(scratch);
    Record {
        case,
        variant,
        round,
        result,
        load_before,
        load_after,
        outside,
    }
}

fn fmt_ms(v: Option<f64>) -> String {
    v.map_or("–".into(), |ms| {
        if ms >= 10.0 {
            format!("{ms:.0}")
        } else if ms >= 1.0 {
            format!("{ms:.1}")
        } else {
            format!("{ms:.3}")
        }
    })
}

pub fn run_line(r: &Record, kept: bool) -> String {
    let verdict = if kept { "" } else { " OUTSIDE LOAD" };
    let load = format!(
        "load {} → {}, outside {:.2} cores{verdict}",
        r.load_before, r.load_after, r.outside
    );
    match &r.result {
        Ok(f) => format!(
            "  {} round {}: {}/s ({} intervals) p50={} p99={} ms rss={:.1} MB{} cpu_s_per_M={:.2} | {load}",
            r.variant.name(),
            r.round,
            runner::fmt_rate(f.tuples_per_sec),
            f.intervals,
            fmt_ms(f.p50_ms),
            fmt_ms(f.p99_ms),
            f.rss_mb,
            f.daemons_rss_mb
                .map_or(String::new(), |d| format!(" daemons_rss={d:.1} MB")),
            f.cpu_per_million
        ),
        Err(e) => format!(
            "  {} round {}: FAILED: {} | {load}",
            r.variant.name(),
            r.round,
            e.lines().next().unwrap_or("")
        ),
    }
}

pub fn command_output(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("?", |(_, m)| m.trim())
        .to_owned();
    let mem_gb = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cpus} CPUs ({model}), {mem_gb:.0} GiB, Linux {}",
        kernel.trim()
    )
}

pub fn ceilings_line(o: &VsOptions) -> Option<String> {
    if o.ceiling.is_zero() {
        return None;
    }
    let c = runner::measure_ceilings(o.ceiling);
    let wire = runner::wire_bytes(runner::CONST_VALUE, false);
    Some(format!(
        "loopback TCP {:.0} MB/s ({}/s of {wire}-byte tuples), two-thread queue hand-off {}/s",
        c.tcp_bytes_per_sec / 1e6,
        runner::fmt_rate(c.tcp_bytes_per_sec / wire as f64),
        runner::fmt_rate(c.queue_items_per_sec)
    ))
}

/// Median, min and max of `v`.
fn spread(v: &[f64]) -> (f64, f64, f64) {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (runner::median(v), min, max)
}

fn table(o: &VsOptions, case: Case, records: &[Record], kept: &[u32], out: &mut dyn FnMut(String)) {
    let rounds_run: Vec<u32> = {
        let mut r: Vec<u32> = records.iter().map(|r| r.round).collect();
        r.dedup();
        r
    };
    let use_all = kept.is_empty();
    let used: Vec<u32> = if use_all {
        rounds_run.clone()
    } else {
        kept.to_vec()
    };
    out(String::new());
    out(format!(
        "### {}, acking {} — {}",
        case.workload.name(),
        if case.acking { "on" } else { "off" },
        case.unit()
    ));
    out(String::new());
    if use_all {
        out(format!(
            "**No round passed the load check (outside load ≤ {:.2} cores): all {} rounds are shown, taken under outside load.**",
            o.max_outside,
            rounds_run.len()
        ));
    } else {
        out(format!(
            "{} of {} rounds kept (outside load ≤ {:.2} cores in every run of the round).",
            used.len(),
            rounds_run.len(),
            o.max_outside
        ));
    }
    out(String::new());
    out("| System | tuples/s: median (min–max) | runs | × Storm | complete latency p50 / p99 (ms) | peak RSS (MB) | CPU s / M tuples | daemons' RSS (MB) |".into());
    out("|---|---|---|---|---|---|---|---|".into());
    let figures = |v: Variant| -> Vec<&Figures> {
        records
            .iter()
            .filter(|r| r.variant == v && used.contains(&r.round))
            .filter_map(|r| r.result.as_ref().ok())
            .collect()
    };
    let med = |fs: &[&Figures], g: &dyn Fn(&Figures) -> Option<f64>| -> Option<f64> {
        let v: Vec<f64> = fs.iter().filter_map(|f| g(f)).collect();
        (!v.is_empty()).then(|| runner::median(&v))
    };
    let throughput = |v: Variant| med(&figures(v), &|f| Some(f.tuples_per_sec));
    for &v in &o.variants {
        let fs = figures(v);
        let failed = records
            .iter()
            .filter(|r| r.variant == v && used.contains(&r.round) && r.result.is_err())
            .count();
        if fs.is_empty() {
            out(format!(
                "| {} | failed ({failed} runs) | 0 | | | | | |",
                v.label(o.workers)
            ));
            continue;
        }
        let rates: Vec<f64> = fs.iter().map(|f| f.tuples_per_sec).collect();
        let (m, lo, hi) = spread(&rates);
        let reference = [
            if v.local() {
                Variant::StormLocal
            } else {
                Variant::StormCluster
            },
            if v.local() {
                Variant::StormCluster
            } else {
                Variant::StormLocal
            },
        ]
        .into_iter()
        .find_map(|r| throughput(r).map(|t| (r, t)));
        let ratio = match reference {
            _ if v.is_storm() => "1 (ref.)".to_owned(),
            Some((r, t)) if t > 0.0 => format!(
                "{:.2}× {}",
                m / t,
                if r == Variant::StormLocal {
                    "LocalCluster"
                } else {
                    "daemons"
                }
            ),
            _ => "–".into(),
        };
        let latency = if case.acking {
            format!(
                "{} / {}",
                fmt_ms(med(&fs, &|f| f.p50_ms)),
                fmt_ms(med(&fs, &|f| f.p99_ms))
            )
        } else {
            "–".into()
        };
        out(format!(
            "| {} | **{}** ({}–{}) | {}{} | {} | {} | {:.0} ({}) | {:.2} | {} |",
            v.label(o.workers),
            runner::fmt_rate(m),
            runner::fmt_rate(lo),
            runner::fmt_rate(hi),
            fs.len(),
            if failed > 0 {
                format!(" (+{failed} failed)")
            } else {
                String::new()
            },
            ratio,
            latency,
            med(&fs, &|f| Some(f.rss_mb)).unwrap_or(0.0),
            v.rss_scope(o.workers),
            med(&fs, &|f| Some(f.cpu_per_million)).unwrap_or(0.0),
            med(&fs, &|f| f.daemons_rss_mb).map_or("–".into(), |d| format!("{d:.0}")),
        ));
    }
}

/// Runs the whole comparison and prints its tables; `out` gets every line.
pub fn run(o: &VsOptions, out: &mut dyn FnMut(String)) -> Result<(), String> {
    with_session(o.scratch.as_deref(), o.keep_scratch, &mut |scratch| {
        session(o, scratch, out)
    })
}

/// Runs `body` as this runner's session: its own session id (for the load check), signals handled
/// by a thread that kills everything started, TMPDIR and the scratch directory set up, and
/// everything started swept (and the scratch removed unless kept, or a run failed) at the end.
pub fn with_session(
    scratch: Option<&Path>,
    keep_scratch: bool,
    body: &mut dyn FnMut(&Path) -> Result<(), String>,
) -> Result<(), String> {
    // Signals go to one thread, which stops everything this runner started.
    let mut signals = nix::sys::signal::SigSet::empty();
    for s in [
        nix::sys::signal::Signal::SIGINT,
        nix::sys::signal::Signal::SIGTERM,
        nix::sys::signal::Signal::SIGHUP,
    ] {
        signals.add(s);
    }
    signals
        .thread_block()
        .map_err(|e| format!("block signals: {e}"))?;
    // A session of its own (when not a process-group leader already), so that the load check can tell
    // its processes from the machine's others.
    let _ = nix::unistd::setsid();
    let scratch = match scratch {
        Some(s) => s.to_owned(),
        None => std::env::temp_dir().join(format!("storm-perf-vs-storm-{}", std::process::id())),
    };
    std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let scratch = scratch
        .canonicalize()
        .map_err(|e| format!("{}: {e}", scratch.display()))?;
    // Everything below the scratch directory: storm-rs clusters (PerfCluster) and child runs too.
    std::env::set_var("TMPDIR", &scratch);
    {
        let scratch = scratch.clone();
        let keep = keep_scratch;
        std::thread::spawn(move || {
            if let Ok(sig) = signals.wait() {
                eprintln!("storm_perf vs-storm: {sig:?}: stopping everything it started");
                sweep(&scratch);
                if !keep {
                    let _ = std::fs::remove_dir_all(&scratch);
                }
                std::process::exit(130);
            }
        });
    }
    let result = body(&scratch);
    sweep(&scratch);
    // Logs are worth keeping when asked for, or when a run failed (a set-up error has none).
    let has_runs = std::fs::read_dir(&scratch).is_ok_and(|d| {
        d.flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("run-"))
    });
    if keep_scratch || (result.is_err() && has_runs) {
        eprintln!("storm_perf vs-storm: logs kept in {}", scratch.display());
    } else {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    result
}

/// The first line of a side-by-side report: the subcommand, this build (`git describe`) and the
/// date.
pub fn run_header(subcommand: &str) -> String {
    let date = command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let commit = command_output(
        "git",
        &[
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "describe",
            "--always",
            "--dirty",
        ],
    );
    format!(
        "storm_perf {subcommand}: storm-rs {commit} vs Apache Storm 2.8.3 (Maven Central jars), {date}"
    )
}

fn session(o: &VsOptions, scratch: &Path, out: &mut dyn FnMut(String)) -> Result<(), String> {
    let assets = Assets::load(o, scratch)?;
    out(run_header("vs-storm"));
    out(format!("machine: {}; {}", machine(), assets.java_version));
    out(format!(
        "rounds {} × variants [{}]; warm-up {} s after the first counted tuple, window {} s; JVM options {}; \
max-spout-pending {} (acking on); outside-load limit {:.2} cores; {} executor(s) per component, {} worker(s) \
in the cluster variants",
        o.rounds,
        o.variants.iter().map(|v| v.name()).collect::<Vec<_>>().join(" "),
        o.warmup.as_secs_f64(),
        o.duration.as_secs_f64(),
        o.java_opts.join(" "),
        o.max_pending,
        o.max_outside,
        o.parallelism,
        o.workers
    ));
    if let Some(c) = ceilings_line(o) {
        out(format!("ceilings at start: {c}"));
    }
    let mut all: Vec<Record> = Vec::new();
    let mut run_no = 0u32;
    for &case in &o.cases {
        let settings: Vec<String> = assets
            .settings(case)
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        out(format!(
            "case {}: storm-perf settings {}",
            case.name(),
            settings.join(" ")
        ));
        for round in 1..=o.rounds {
            for &variant in &o.variants {
                run_no += 1;
                let dir = scratch.join(format!("run-{run_no:03}-{}", variant.name()));
                std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
                let record = run_variant(o, &assets, case, variant, round, &dir, scratch);
                out(run_line(&record, record.outside <= o.max_outside));
                if let Err(e) = &record.result {
                    for line in e.lines().skip(1).take(25) {
                        out(format!("      {line}"));
                    }
                    // Keep the failed run's logs; a passing run's files can go.
                } else if !o.keep_scratch {
                    let _ = std::fs::remove_dir_all(&dir);
                }
                all.push(record);
            }
        }
    }
    if let Some(c) = ceilings_line(o) {
        out(format!("ceilings at end: {c}"));
    }
    for &case in &o.cases {
        let records: Vec<Record> = all.iter().filter(|r| r.case == case).cloned().collect();
        let kept: Vec<u32> = (1..=o.rounds)
            .filter(|round| {
                records
                    .iter()
                    .filter(|r| r.round == *round)
                    .all(|r| r.outside <= o.max_outside)
            })
            .collect();
        table(o, case, &records, &kept, out);
    }
    out(String::new());
    out("Throughput: median of 1 s rates over the window (Java variants: the components' own counters; \
native: storm-rs executor statistics, as storm_perf). × Storm: the median against Storm's of the same mode \
(LocalCluster for local mode, the daemons for cluster mode; the other when that one did not run). \
Peak RSS: VmHWM of the process(es) named in parentheses. CPU s / M: their utime + stime over the window \
per million counted tuples. Daemons' RSS: nimbus + supervisor (+ Storm's LogWriter JVM).".into());
    Ok(())
}
