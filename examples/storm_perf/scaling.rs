//! `storm_perf scaling` and `storm_perf idle` (issue 20, item 5: cost as work grows).
//!
//! * `scaling`: throughput and peak RSS of storm-rs and Apache Storm 2.8.3 as the work grows, on this
//!   machine, interleaved and with `vs-storm`'s outside-load check: an executors sweep (executors per
//!   component 1, 2, 4, 8; local mode: Storm's LocalCluster vs storm-rs local mode) and a workers sweep
//!   (1, 2, 4 workers with `--workers-parallelism` executors per component; cluster mode: real Storm
//!   daemons vs a storm-rs cluster), for `const-spout-null-bolt` and `word-count` with acking off.
//!   Every run is one `vs-storm` run (`peer::run_variant`); one CSV row per run
//!   (`scripts/scaling_plot.py` renders the SVG figures and a Markdown table from it).
//! * `idle`: CPU% (utime + stime over `--duration`) of an idle worker (a topology whose spout emits
//!   nothing) and of nimbus + supervisor + that worker, on storm-rs and on Storm 2.8.3 (plus Storm's
//!   LogWriter JVM, and ZooKeeper apart), both with their daemons' default timer settings.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use storm::config::{Config, ConfigOptions};
use storm::local::perf::NullBolt;
use storm::local::testing::FixedTupleSpout;
use storm::prelude::*;
use storm::thrift::TNimbusSyncClient;

use crate::peer::{self, Assets, Variant, VsOptions};
use crate::runner;

pub const SCALING_USAGE: &str = "usage: storm_perf scaling [--sweeps executors,workers] [--executors 1,2,4,8]
           [--workers 1,2,4] [--workers-parallelism N] [--cases CASE,…] [--local-variants V,…]
           [--cluster-variants V,…] [--rounds N] [--warmup SECS] [--duration SECS] [--csv FILE]
           [--max-outside-load CORES] [--max-pending N] [--ceiling-secs SECS] [--java-opts OPTS]
           [--peer-dir DIR] [--scratch DIR] [--keep-scratch]
Runs, round after round, for each case: the executors sweep (--executors: executors per component,
1 worker, local mode: --local-variants, default storm-local,rs-native-local) and the workers sweep
(--workers: worker processes, --workers-parallelism executors per component, cluster mode:
--cluster-variants, default storm-cluster,rs-native), every variant of a point one after the other.
Writes one CSV row per run to --csv (default target/scaling/scaling.csv); scripts/scaling_plot.py
draws docs/scaling-executors.svg and docs/scaling-workers.svg from it (scripts/scaling.sh does both).
A point of a round whose runs had more than --max-outside-load cores used outside is marked kept=0.
defaults: --sweeps executors,workers --executors 1,2,4,8 --workers 1,2,4 --workers-parallelism 4
          --cases const-spout-null-bolt:off,word-count:off --rounds 1 --warmup 20 --duration 15
          --max-outside-load 0.25 --ceiling-secs 2 --java-opts -Xmx768m (about 20-25 minutes;
          the warm-up counts from the first counted tuple: Storm's JIT needs it)";

pub const IDLE_USAGE: &str = "usage: storm_perf idle [--systems storm-rs,storm] [--duration SECS] [--settle SECS]
           [--java-opts OPTS] [--peer-dir DIR] [--scratch DIR] [--keep-scratch]
CPU% (utime + stime over --duration, of one core) of an idle worker (the `idle` topology: a spout that
emits nothing → a bolt, 1 executor each, 0 ackers, 1 worker) and of its cluster, measured --settle
seconds after the worker is up: storm-rs (nimbus, supervisor, worker) and Apache Storm 2.8.3 (nimbus,
supervisor, worker JVM, its LogWriter JVM). ZooKeeper (the same server for both) is shown apart.
Both run with their defaults' timers (storm-rs: defaults.toml, not storm_perf's 1 s cluster settings).
defaults: --systems storm-rs,storm --duration 60 --settle 20 --java-opts -Xmx768m";

fn u32_list(flag: &str, s: &str, max: u32) -> Result<Vec<u32>, String> {
    let out: Vec<u32> = s
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<u32>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| format!("{flag}: '{p}' is not a number from 1 to {max}"))
        })
        .collect::<Result<_, _>>()?;
    if out.is_empty() {
        return Err(format!("{flag}: empty list"));
    }
    Ok(out)
}

fn variant_list(flag: &str, s: &str) -> Result<Vec<Variant>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| Variant::parse(p).map_err(|e| format!("{flag}: {e}")))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sweep {
    Executors,
    Workers,
}

impl Sweep {
    fn name(self) -> &'static str {
        match self {
            Sweep::Executors => "executors",
            Sweep::Workers => "workers",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ScalingOptions {
    /// rounds, warm-up, window, cases, load limit, JVM options, directories.
    pub vs: VsOptions,
    pub sweeps: Vec<Sweep>,
    pub executors: Vec<u32>,
    pub workers: Vec<u32>,
    pub workers_parallelism: u32,
    pub local_variants: Vec<Variant>,
    pub cluster_variants: Vec<Variant>,
    pub csv: PathBuf,
}

impl ScalingOptions {
    /// `scaling [options]`: its own options; the others are `vs-storm`'s, with other defaults.
    pub fn parse(args: &[String]) -> Result<ScalingOptions, String> {
        let mut vs_args: Vec<String> = [
            "vs-storm",
            "--rounds",
            "1",
            "--warmup",
            "20",
            "--duration",
            "15",
            "--cases",
            "const-spout-null-bolt:off,word-count:off",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut sweeps = vec![Sweep::Executors, Sweep::Workers];
        let mut executors = vec![1, 2, 4, 8];
        let mut workers = vec![1, 2, 4];
        let mut workers_parallelism = 4;
        let mut local_variants = vec![Variant::StormLocal, Variant::RsNativeLocal];
        let mut cluster_variants = vec![Variant::StormCluster, Variant::RsNative];
        let mut csv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/scaling/scaling.csv");
        let mut it = args.iter().skip(1);
        while let Some(flag) = it.next() {
            match flag.as_str() {
                "-h" | "--help" => return Err(String::new()),
                "--keep-scratch" => {
                    vs_args.push(flag.clone());
                    continue;
                }
                "--variants" | "--parallelism" => {
                    return Err(format!(
                        "{flag} is not a scaling option: the sweeps set them (--local-variants, \
                         --cluster-variants, --executors, --workers, --workers-parallelism)"
                    ))
                }
                _ => {}
            }
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--sweeps" => {
                    sweeps = value
                        .split(',')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(|p| match p {
                            "executors" => Ok(Sweep::Executors),
                            "workers" => Ok(Sweep::Workers),
                            _ => Err(format!("--sweeps: executors or workers, not '{p}'")),
                        })
                        .collect::<Result<_, _>>()?;
                    if sweeps.is_empty() {
                        return Err("--sweeps: empty list".into());
                    }
                }
                "--executors" => executors = u32_list(flag, value, 256)?,
                "--workers" => workers = u32_list(flag, value, 64)?,
                "--workers-parallelism" => workers_parallelism = runner::parallelism(flag, value)?,
                "--local-variants" => local_variants = variant_list(flag, value)?,
                "--cluster-variants" => cluster_variants = variant_list(flag, value)?,
                "--csv" => csv = PathBuf::from(value),
                _ => {
                    vs_args.push(flag.clone());
                    vs_args.push(value.clone());
                }
            }
        }
        if let Some(v) = local_variants.iter().find(|v| !v.local()) {
            return Err(format!(
                "--local-variants: {} is not a local-mode variant (storm-local, rs-native-local)",
                v.name()
            ));
        }
        if let Some(v) = cluster_variants.iter().find(|v| v.local()) {
            return Err(format!(
                "--cluster-variants: {} is not a cluster variant (storm-cluster, rs-native, rs-java)",
                v.name()
            ));
        }
        let vs = VsOptions::parse(&vs_args)?;
        Ok(ScalingOptions {
            vs,
            sweeps,
            executors,
            workers,
            workers_parallelism,
            local_variants,
            cluster_variants,
            csv,
        })
    }

    /// A sweep's points: (point, executors per component, workers).
    fn points(&self, sweep: Sweep) -> Vec<(u32, u32, u32)> {
        match sweep {
            Sweep::Executors => self.executors.iter().map(|&p| (p, p, 1)).collect(),
            Sweep::Workers => self
                .workers
                .iter()
                .map(|&w| (w, self.workers_parallelism, w))
                .collect(),
        }
    }

    fn variants(&self, sweep: Sweep) -> &[Variant] {
        match sweep {
            Sweep::Executors => &self.local_variants,
            Sweep::Workers => &self.cluster_variants,
        }
    }
}

const CSV_HEADER: &str = "round,case,sweep,point,variant,executors_per_component,workers,\
tuples_per_sec,peak_rss_mb,cpu_s_per_M,daemons_rss_mb,outside_cores,kept,error";

fn csv_row(
    r: &peer::Record,
    sweep: Sweep,
    point: u32,
    parallelism: u32,
    workers: u32,
    kept: bool,
) -> String {
    let (tps, rss, cpu, daemons, error) = match &r.result {
        Ok(f) => (
            format!("{:.1}", f.tuples_per_sec),
            format!("{:.1}", f.rss_mb),
            format!("{:.3}", f.cpu_per_million),
            f.daemons_rss_mb
                .map_or(String::new(), |d| format!("{d:.1}")),
            String::new(),
        ),
        Err(e) => (
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            // One line, no commas or quotes: the CSV stays trivial to read.
            e.lines()
                .next()
                .unwrap_or("")
                .replace([',', '"'], ";")
                .chars()
                .take(200)
                .collect(),
        ),
    };
    format!(
        "{},{},{},{point},{},{parallelism},{workers},{tps},{rss},{cpu},{daemons},{:.3},{},{error}",
        r.round,
        r.case.name(),
        sweep.name(),
        r.variant.name(),
        r.outside,
        u8::from(kept)
    )
}

/// Runs the sweeps; `out` gets every line.
pub fn run_scaling(o: &ScalingOptions, out: &mut dyn FnMut(String)) -> Result<(), String> {
    if let Some(dir) = o.csv.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("--csv: {}: {e}", dir.display()))?;
    }
    let mut csv =
        std::fs::File::create(&o.csv).map_err(|e| format!("--csv: {}: {e}", o.csv.display()))?;
    peer::with_session(o.vs.scratch.as_deref(), o.vs.keep_scratch, &mut |scratch| {
        scaling_session(o, scratch, &mut csv, out)
    })
}

fn scaling_session(
    o: &ScalingOptions,
    scratch: &Path,
    csv: &mut std::fs::File,
    out: &mut dyn FnMut(String),
) -> Result<(), String> {
    let assets = Assets::load(&o.vs, scratch)?;
    let points = |s: Sweep| {
        o.points(s)
            .iter()
            .map(|p| p.0.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let header = [
        peer::run_header("scaling"),
        format!("machine: {}; {}", peer::machine(), assets.java_version),
        format!(
            "rounds {}; warm-up {} s, window {} s; cases [{}]; JVM options {}; outside-load limit {:.2} cores",
            o.vs.rounds,
            o.vs.warmup.as_secs_f64(),
            o.vs.duration.as_secs_f64(),
            o.vs.cases.iter().map(|c| c.name()).collect::<Vec<_>>().join(" "),
            o.vs.java_opts.join(" "),
            o.vs.max_outside
        ),
        format!(
            "sweeps: {}",
            o.sweeps
                .iter()
                .map(|&s| match s {
                    Sweep::Executors => format!(
                        "executors per component [{}], 1 worker, [{}]",
                        points(s),
                        names(&o.local_variants)
                    ),
                    Sweep::Workers => format!(
                        "workers [{}] with {} executors per component, [{}]",
                        points(s),
                        o.workers_parallelism,
                        names(&o.cluster_variants)
                    ),
                })
                .collect::<Vec<_>>()
                .join("; ")
        ),
    ];
    for line in &header {
        out(line.clone());
    }
    let mut write = |line: String| -> Result<(), String> {
        writeln!(csv, "{line}")
            .and_then(|_| csv.flush())
            .map_err(|e| format!("--csv: {}: {e}", o.csv.display()))
    };
    for line in &header {
        write(format!("# {line}"))?;
    }
    if let Some(c) = peer::ceilings_line(&o.vs) {
        out(format!("ceilings at start: {c}"));
        write(format!("# ceilings at start: {c}"))?;
    }
    write(CSV_HEADER.into())?;
    out(format!("results: {}", o.csv.display()));
    let started = Instant::now();
    let mut run_no = 0u32;
    let mut failed = 0u32;
    for round in 1..=o.vs.rounds {
        for &case in &o.vs.cases {
            for &sweep in &o.sweeps {
                for (point, parallelism, workers) in o.points(sweep) {
                    let mut vs = o.vs.clone();
                    vs.parallelism = parallelism;
                    vs.workers = workers;
                    out(format!(
                        "round {round} {} {} {point}: {parallelism} executor(s) per component, {workers} worker(s) ({:.0} s in)",
                        case.name(),
                        sweep.name(),
                        started.elapsed().as_secs_f64()
                    ));
                    let mut records = Vec::new();
                    for &variant in o.variants(sweep) {
                        run_no += 1;
                        let dir = scratch.join(format!("run-{run_no:03}-{}", variant.name()));
                        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
                        let record =
                            peer::run_variant(&vs, &assets, case, variant, round, &dir, scratch);
                        out(peer::run_line(&record, record.outside <= vs.max_outside));
                        if let Err(e) = &record.result {
                            failed += 1;
                            for line in e.lines().skip(1).take(25) {
                                out(format!("      {line}"));
                            }
                        } else if !vs.keep_scratch {
                            let _ = std::fs::remove_dir_all(&dir);
                        }
                        records.push(record);
                    }
                    // A point of a round counts only when none of its runs had outside load.
                    let kept = records.iter().all(|r| r.outside <= vs.max_outside);
                    for r in &records {
                        write(csv_row(r, sweep, point, parallelism, workers, kept))?;
                    }
                }
            }
        }
    }
    if let Some(c) = peer::ceilings_line(&o.vs) {
        out(format!("ceilings at end: {c}"));
        write(format!("# ceilings at end: {c}"))?;
    }
    out(format!(
        "{run_no} runs ({failed} failed) in {:.0} s; results in {} (render: python3 scripts/scaling_plot.py {} --out-dir docs)",
        started.elapsed().as_secs_f64(),
        o.csv.display(),
        o.csv.display()
    ));
    Ok(())
}

fn names(v: &[Variant]) -> String {
    v.iter().map(|v| v.name()).collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------------------------
// Idle cost.

#[derive(Debug, Clone)]
pub struct IdleOptions {
    pub storm_rs: bool,
    pub storm: bool,
    pub duration: Duration,
    pub settle: Duration,
    pub vs: VsOptions,
}

impl IdleOptions {
    pub fn parse(args: &[String]) -> Result<IdleOptions, String> {
        let mut o = IdleOptions {
            storm_rs: true,
            storm: true,
            duration: Duration::from_secs(60),
            settle: Duration::from_secs(20),
            vs: VsOptions::parse(&["vs-storm".to_string()])?,
        };
        let mut it = args.iter().skip(1);
        while let Some(flag) = it.next() {
            match flag.as_str() {
                "-h" | "--help" => return Err(String::new()),
                "--keep-scratch" => {
                    o.vs.keep_scratch = true;
                    continue;
                }
                _ => {}
            }
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--systems" => {
                    o.storm_rs = false;
                    o.storm = false;
                    for s in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        match s {
                            "storm-rs" => o.storm_rs = true,
                            "storm" => o.storm = true,
                            _ => return Err(format!("--systems: storm-rs or storm, not '{s}'")),
                        }
                    }
                    if !(o.storm_rs || o.storm) {
                        return Err("--systems: empty list".into());
                    }
                }
                "--duration" => o.duration = peer::secs(flag, value)?,
                "--settle" => {
                    o.settle = value
                        .parse::<f64>()
                        .ok()
                        .filter(|v| *v >= 0.0 && v.is_finite())
                        .map(Duration::from_secs_f64)
                        .ok_or_else(|| format!("--settle: '{value}' is not a number of seconds"))?
                }
                "--java-opts" => {
                    o.vs.java_opts = value.split_whitespace().map(String::from).collect()
                }
                "--peer-dir" => o.vs.peer_dir = PathBuf::from(value),
                "--scratch" => o.vs.scratch = Some(PathBuf::from(value)),
                _ => return Err(format!("unknown option {flag}")),
            }
        }
        Ok(o)
    }
}

/// A role (`worker`, `nimbus`, …), its CPU % of one core and its RSS now (MB).
type RoleFigures = (&'static str, f64, f64);

/// One system's idle figures.
struct IdleRow {
    system: &'static str,
    /// Per role, in display order.
    roles: Vec<RoleFigures>,
    zookeeper: Option<(f64, f64)>,
    outside: f64,
}

/// CPU % of one core and current RSS of each role's processes over `d`.
fn sample_idle(
    roles: &[(&'static str, Vec<u32>)],
    zk: Option<u32>,
    d: Duration,
) -> (Vec<RoleFigures>, Option<(f64, f64)>) {
    let cpu0: Vec<f64> = roles.iter().map(|(_, p)| peer::cpu(p)).collect();
    let zk0 = zk.and_then(runner::cpu_secs);
    let t0 = Instant::now();
    std::thread::sleep(d);
    let secs = t0.elapsed().as_secs_f64();
    let rss = |pids: &[u32]| -> f64 {
        pids.iter()
            .filter_map(|&p| runner::status_mb(p, "VmRSS"))
            .sum()
    };
    let rows = roles
        .iter()
        .zip(cpu0)
        .map(|((role, pids), c0)| (*role, (peer::cpu(pids) - c0) / secs * 100.0, rss(pids)))
        .collect();
    let zk = zk.and_then(|p| {
        let c1 = runner::cpu_secs(p)?;
        Some(((c1 - zk0?) / secs * 100.0, rss(&[p])))
    });
    (rows, zk)
}

fn wait_for(
    what: &str,
    timeout: Duration,
    mut ok: impl FnMut() -> Result<bool, String>,
) -> Result<(), String> {
    let end = Instant::now() + timeout;
    loop {
        if ok()? {
            return Ok(());
        }
        if Instant::now() > end {
            return Err(format!("{what} within {} s", timeout.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The storm-rs daemons' timer settings from defaults.toml (storm_perf's clusters use 1 s timers).
fn default_timers_toml() -> Result<String, String> {
    let defaults = Config::load(&ConfigOptions {
        config_file: None,
        overrides: vec![],
    })
    .map_err(|e| e.to_string())?;
    let mut toml = String::new();
    for key in [
        "nimbus.monitor.freq.secs",
        "nimbus.task.timeout.secs",
        "nimbus.task.launch.secs",
        "supervisor.heartbeat.frequency.secs",
        "supervisor.monitor.frequency.secs",
        "supervisor.worker.start.timeout.secs",
        "supervisor.worker.timeout.secs",
        "supervisor.worker.shutdown.sleep.secs",
        "task.heartbeat.frequency.secs",
        "executor.metrics.frequency.secs",
        "task.refresh.poll.secs",
        "topology.message.timeout.secs",
    ] {
        let v = defaults
            .get_u64(key)
            .map_err(|e| format!("defaults: {key}: {e}"))?;
        toml.push_str(&format!("\"{key}\" = {v}\n"));
    }
    Ok(toml)
}

fn idle_storm_rs(o: &IdleOptions) -> Result<IdleRow, String> {
    let monitor = peer::LoadMonitor::start();
    let cluster = runner::PerfCluster::start_with(2, &default_timers_toml()?)?;
    let mut b = TopologyBuilder::new();
    b.set_spout("spout", FixedTupleSpout::new(["str"], Vec::new(), None), 1);
    b.set_bolt("null", NullBolt, 1)
        .local_or_shuffle_grouping("spout");
    let topology = b.create_topology().map_err(|e| e.to_string())?;
    let mut conf = TopologyConf::new();
    conf.set_num_workers(1);
    conf.set_num_ackers(0);
    let artifact = cluster.dir.join("stormjar.jar");
    std::fs::write(&artifact, b"storm-rs perf: run by the stock worker binary")
        .map_err(|e| e.to_string())?;
    let name = "idle";
    storm::submitter::submit_to_cluster(&cluster.conf()?, name, &conf, &topology, &artifact)
        .map_err(|e| e.to_string())?;
    let mut client = cluster.client()?;
    // Up: a worker process, and nimbus shows its executors' heartbeats.
    wait_for(
        "no storm-rs worker heartbeat",
        Duration::from_secs(120),
        || {
            Ok(!cluster.worker_pids().is_empty()
                && runner::topology_executors(&mut client, name)
                    .is_some_and(|e| !e.is_empty() && e.iter().all(|e| e.stats.is_some())))
        },
    )?;
    std::thread::sleep(o.settle);
    let daemons = cluster.daemon_pids();
    let workers = cluster.worker_pids();
    let mut zk = Vec::new();
    peer::pid_files(&cluster.dir.join("zookeeper"), 1, &mut zk);
    let roles = vec![
        ("worker", workers),
        ("nimbus", daemons.first().copied().into_iter().collect()),
        ("supervisor", daemons.get(1).copied().into_iter().collect()),
    ];
    let (roles, zookeeper) = sample_idle(&roles, zk.first().copied(), o.duration);
    let _ = client.raw().kill_topology(name.to_string());
    let (_, _, outside) = monitor.finish();
    Ok(IdleRow {
        system: "storm-rs",
        roles,
        zookeeper,
        outside,
    })
}

fn idle_storm(o: &IdleOptions, a: &Assets, dir: &Path) -> Result<IdleRow, String> {
    let monitor = peer::LoadMonitor::start();
    let report = dir.join("report");
    std::fs::create_dir_all(&report).map_err(|e| e.to_string())?;
    let mut daemons = peer::StormDaemons::start(a, dir, 2, false)?;
    let mut args = vec!["topology.workers=1".to_string()];
    if !o.vs.java_opts.is_empty() {
        args.push(format!(
            "topology.worker.childopts={}",
            o.vs.java_opts.join(" ")
        ));
    }
    daemons.submit_workload(a, "idle", "off", &report, &args)?;
    // Up: the worker JVM and its spout opened (the spout writes open-<task>-<pid>).
    wait_for(
        "Storm's idle spout did not open",
        Duration::from_secs(240),
        || {
            daemons.check()?;
            let opened = std::fs::read_dir(&report).is_ok_and(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with("open-"))
            });
            Ok(opened && !daemons.worker_pids().is_empty())
        },
    )?;
    std::thread::sleep(o.settle);
    daemons.check()?;
    let workers = daemons.worker_pids();
    let nimbus: Vec<u32> = daemons.nimbus_pid().into_iter().collect();
    let supervisor: Vec<u32> = daemons.supervisor_pid().into_iter().collect();
    let logwriters: Vec<u32> = daemons
        .daemon_pids()
        .into_iter()
        .filter(|p| !nimbus.contains(p) && !supervisor.contains(p))
        .collect();
    let roles = vec![
        ("worker", workers),
        ("nimbus", nimbus),
        ("supervisor", supervisor),
        ("LogWriter", logwriters),
    ];
    let (roles, zookeeper) = sample_idle(&roles, daemons.zookeeper_pid(), o.duration);
    drop(daemons);
    let (_, _, outside) = monitor.finish();
    Ok(IdleRow {
        system: "Apache Storm 2.8.3",
        roles,
        zookeeper,
        outside,
    })
}

pub fn run_idle(o: &IdleOptions, out: &mut dyn FnMut(String)) -> Result<(), String> {
    peer::with_session(o.vs.scratch.as_deref(), o.vs.keep_scratch, &mut |scratch| {
        idle_session(o, scratch, out)
    })
}

fn idle_session(
    o: &IdleOptions,
    scratch: &Path,
    out: &mut dyn FnMut(String),
) -> Result<(), String> {
    let assets = if o.storm {
        Some(Assets::load(&o.vs, scratch)?)
    } else {
        None
    };
    let date = peer::command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    out(format!(
        "storm_perf idle: {date}; machine: {}; window {} s, {} s after the worker is up",
        peer::machine(),
        o.duration.as_secs_f64(),
        o.settle.as_secs_f64()
    ));
    let mut rows = Vec::new();
    if o.storm_rs {
        out("storm-rs: ZooKeeper, nimbus, supervisor, idle topology …".into());
        let r = idle_storm_rs(o);
        peer::sweep(scratch);
        rows.push(r.map_err(|e| format!("storm-rs: {e}"))?);
    }
    if let Some(a) = &assets {
        out("Apache Storm 2.8.3: ZooKeeper, nimbus, supervisor, idle topology …".into());
        let dir = scratch.join("run-storm-idle");
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let r = idle_storm(o, a, &dir);
        peer::sweep(scratch);
        rows.push(r.map_err(|e| format!("Storm: {e}"))?);
    }
    out(String::new());
    out(format!(
        "CPU % of one core (utime + stime over {} s) and RSS now (MB); idle topology: a spout that emits nothing → a bolt, 1 worker, 0 ackers",
        o.duration.as_secs_f64()
    ));
    out(String::new());
    out("| System | idle worker | nimbus | supervisor | LogWriter | nimbus + supervisor + worker (+ LogWriter) | ZooKeeper (apart) | outside load (cores) |".into());
    out("|---|---|---|---|---|---|---|---|".into());
    for r in &rows {
        let cell = |role: &str| {
            r.roles
                .iter()
                .find(|x| x.0 == role)
                .map_or("–".into(), |(_, c, m)| format!("{c:.2} % · {m:.0} MB"))
        };
        let cpu: f64 = r.roles.iter().map(|x| x.1).sum();
        let rss: f64 = r.roles.iter().map(|x| x.2).sum();
        out(format!(
            "| {} | {} | {} | {} | {} | **{cpu:.2} %** · {rss:.0} MB | {} | {:.2} |",
            r.system,
            cell("worker"),
            cell("nimbus"),
            cell("supervisor"),
            cell("LogWriter"),
            r.zookeeper
                .map_or("–".into(), |(c, m)| format!("{c:.2} % · {m:.0} MB")),
            r.outside
        ));
    }
    Ok(())
}
