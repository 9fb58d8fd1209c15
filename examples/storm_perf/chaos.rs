//! `storm_perf chaos`: the chaos runner (issue 16). It brings up a multi-host cluster with
//! `scripts/hosts.sh` (network namespaces: ZooKeeper, two nimbus, supervisors), submits the durable
//! ledger topology (`LedgerSpout` replaying every id never acked, `IdLogSink` recording every id it
//! sees), injects faults on a schedule — first each kind alone, then kinds drawn at random from a
//! seeded generator — and reports ids emitted, acked, replayed, seen, lost (must be 0) and duplicates,
//! and per fault how long until the acked rate was back to 90 % of the rate before any fault.
//!
//! Throughput is the growth of the spouts' `.acked` ledgers (bytes; every id is one line of the same
//! length), sampled every 250 ms over a 2 s window.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use storm::api::{TopologyBuilder, TopologyConf};
use storm::local::durable::{ledger, ledger_report, IdLogSink, LedgerSpout};
use storm::thrift::TNimbusSyncClient;

pub const USAGE: &str = "usage: storm_perf chaos [--duration SECS] [--seed N] [--faults KIND,…] \
[--supervisors N] [--dir DIR]
  runs as root (network namespaces); binaries from the directory of this program (target/release)
  kinds: worker supervisor nimbus zookeeper partition delay (default: all); each runs once alone,
  then kinds are drawn at random (seeded; the seed is printed) until --duration (default 600) is over";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `kill -9` of a random worker.
    Worker,
    /// `kill -9` of a random supervisor, restarted 5 s later (its workers keep running: re-adoption).
    Supervisor,
    /// `kill -9` of the leader nimbus, restarted 10 s later as a standby.
    Nimbus,
    /// ZooKeeper stopped for 10 s (past the 6 s session timeout), then started.
    Zookeeper,
    /// A supervisor host's link down for 15 s (past the 6 s heartbeat timeouts), then up.
    Partition,
    /// 100 ms of `tc netem` delay on a supervisor host's link for 15 s.
    Delay,
}

impl Fault {
    const ALL: [Fault; 6] = [
        Fault::Worker,
        Fault::Supervisor,
        Fault::Nimbus,
        Fault::Zookeeper,
        Fault::Partition,
        Fault::Delay,
    ];

    fn name(self) -> &'static str {
        match self {
            Fault::Worker => "worker",
            Fault::Supervisor => "supervisor",
            Fault::Nimbus => "nimbus",
            Fault::Zookeeper => "zookeeper",
            Fault::Partition => "partition",
            Fault::Delay => "delay",
        }
    }

    fn parse(s: &str) -> Result<Fault, String> {
        Fault::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| format!("unknown fault kind '{s}'"))
    }
}

pub struct ChaosOptions {
    pub duration: Duration,
    pub seed: u64,
    pub faults: Vec<Fault>,
    pub supervisors: usize,
    pub dir: PathBuf,
}

impl ChaosOptions {
    pub fn parse(args: &[String]) -> Result<ChaosOptions, String> {
        let mut o = ChaosOptions {
            duration: Duration::from_secs(600),
            seed: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1),
            faults: Fault::ALL.to_vec(),
            supervisors: 4,
            dir: PathBuf::from("local/chaos"),
        };
        let mut it = args.iter().skip(1);
        while let Some(a) = it.next() {
            let mut val = || it.next().cloned().ok_or(format!("{a} needs a value"));
            match a.as_str() {
                "--duration" => {
                    o.duration =
                        Duration::from_secs(val()?.parse().map_err(|e| format!("--duration: {e}"))?)
                }
                "--seed" => o.seed = val()?.parse().map_err(|e| format!("--seed: {e}"))?,
                "--faults" => {
                    o.faults = val()?
                        .split(',')
                        .map(Fault::parse)
                        .collect::<Result<_, _>>()?
                }
                "--supervisors" => {
                    o.supervisors = val()?.parse().map_err(|e| format!("--supervisors: {e}"))?
                }
                "--dir" => o.dir = PathBuf::from(val()?),
                "-h" | "--help" => return Err(String::new()),
                other => return Err(format!("unknown argument '{other}'")),
            }
        }
        if o.supervisors < 2 {
            return Err(
                "--supervisors must be at least 2 (a partition needs somewhere to go)".into(),
            );
        }
        if o.faults.is_empty() {
            return Err("--faults is empty".into());
        }
        Ok(o)
    }
}

/// splitmix64: a small seeded generator, so a run can be repeated from its printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The cluster, through `scripts/hosts.sh`.
struct Hosts {
    dir: PathBuf,
    hosts: usize,
    name: String,
}

impl Hosts {
    fn script(&self, args: &[&str]) -> Result<String, String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = Command::new(root.join("scripts/hosts.sh"))
            .args(args)
            .arg("--dir")
            .arg(&self.dir)
            .env("BIN", super::runner::bin_dir())
            .output()
            .map_err(|e| format!("run scripts/hosts.sh: {e}"))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() {
            Ok(text)
        } else {
            Err(format!("scripts/hosts.sh {args:?} failed: {text}"))
        }
    }

    fn host(&self, i: usize) -> String {
        format!("{}h{i}", self.name)
    }

    fn supervisor_hosts(&self) -> Vec<usize> {
        (4..=self.hosts).collect()
    }

    fn worker_pids(&self, i: usize) -> Vec<u32> {
        let mut out = Vec::new();
        let workers = self.dir.join(format!("h{i}/local/workers"));
        for w in std::fs::read_dir(workers).into_iter().flatten().flatten() {
            for p in std::fs::read_dir(w.path().join("pids"))
                .into_iter()
                .flatten()
                .flatten()
            {
                if let Some(pid) = p.file_name().to_str().and_then(|s| s.parse().ok()) {
                    if super::runner::alive(pid) {
                        out.push(pid);
                    }
                }
            }
        }
        out
    }

    fn config(&self) -> PathBuf {
        self.dir.join("storm.toml")
    }

    fn conf(&self) -> Result<storm::config::Config, String> {
        storm::config::Config::load(&storm::config::ConfigOptions {
            config_file: Some(self.config()),
            overrides: vec![],
        })
        .map_err(|e| e.to_string())
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        if let Err(e) = self.script(&["down"]) {
            eprintln!("storm_perf chaos: {e}");
        }
    }
}

/// Acked-ledger bytes over time (a rate needs 1.5 s of samples: after `samples.clear()`, the next
/// rate covers only what happened since).
struct Meter {
    data: PathBuf,
    samples: std::collections::VecDeque<(Instant, u64)>,
}

impl Meter {
    fn bytes(&self) -> u64 {
        std::fs::read_dir(&self.data)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "acked"))
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum()
    }

    /// Samples now; the rate in bytes/s over the last 2 s (None until 2 s of samples exist).
    fn rate(&mut self) -> Option<f64> {
        let now = Instant::now();
        self.samples.push_back((now, self.bytes()));
        while self
            .samples
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > Duration::from_secs(2))
        {
            self.samples.pop_front();
        }
        let (t0, b0) = *self.samples.front()?;
        let (_, b1) = *self.samples.back()?;
        let dt = now.duration_since(t0).as_secs_f64();
        (dt >= 1.5).then(|| b1.saturating_sub(b0) as f64 / dt)
    }
}

struct Outcome {
    fault: Fault,
    at: Duration,
    target: String,
    /// From injection until the acked rate is back to 90 % of the baseline.
    recovered: Option<Duration>,
    note: String,
}

fn sleep_metering(meter: &mut Meter, d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end {
        let _ = meter.rate();
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Injects `fault` (and lifts it after its duration); returns (target, note).
fn inject(
    h: &Hosts,
    fault: Fault,
    rng: &mut Rng,
    meter: &mut Meter,
) -> Result<(String, String), String> {
    let sups = h.supervisor_hosts();
    let sup = sups[rng.below(sups.len())];
    match fault {
        Fault::Worker => {
            let mut candidates: Vec<(usize, u32)> = Vec::new();
            for &i in &sups {
                candidates.extend(h.worker_pids(i).into_iter().map(|p| (i, p)));
            }
            if candidates.is_empty() {
                return Ok(("-".into(), "no worker running".into()));
            }
            let (i, pid) = candidates[rng.below(candidates.len())];
            super::runner::kill9(pid);
            Ok((format!("worker pid {pid} on {}", h.host(i)), String::new()))
        }
        Fault::Supervisor => {
            h.script(&["kill", &sup.to_string()])?;
            sleep_metering(meter, Duration::from_secs(5));
            h.script(&["start", &sup.to_string()])?;
            Ok((
                format!("supervisor on {}", h.host(sup)),
                "restarted after 5 s".into(),
            ))
        }
        Fault::Nimbus => {
            let leader = storm::client::NimbusClient::connect_leader(&h.conf()?)
                .and_then(|mut c| c.leader())
                .map_err(|e| format!("no leader nimbus: {e}"))?;
            let i = (2..=3)
                .find(|&i| h.host(i) == leader.host)
                .ok_or(format!("leader {} is not host 2 or 3", leader.host))?;
            h.script(&["kill", &i.to_string()])?;
            let killed = Instant::now();
            let mut answered = None;
            while killed.elapsed() < Duration::from_secs(30) {
                let _ = meter.rate();
                let ok = Command::new(super::runner::bin_dir().join("storm"))
                    .arg("--config")
                    .arg(h.config())
                    .arg("list")
                    .output()
                    .is_ok_and(|o| o.status.success());
                if ok {
                    answered = Some(killed.elapsed());
                    break;
                }
                std::thread::sleep(Duration::from_millis(250));
            }
            sleep_metering(
                meter,
                Duration::from_secs(10).saturating_sub(killed.elapsed()),
            );
            h.script(&["start", &i.to_string()])?;
            Ok((
                format!("leader nimbus on {}", h.host(i)),
                match answered {
                    Some(d) => format!("`storm list` answered after {} ms", d.as_millis()),
                    None => "`storm list` did not answer within 30 s".into(),
                },
            ))
        }
        Fault::Zookeeper => {
            h.script(&["zk-stop"])?;
            sleep_metering(meter, Duration::from_secs(10));
            h.script(&["zk-start"])?;
            Ok((h.host(1), "stopped 10 s".into()))
        }
        Fault::Partition => {
            h.script(&["cut", &sup.to_string()])?;
            sleep_metering(meter, Duration::from_secs(15));
            h.script(&["heal", &sup.to_string()])?;
            Ok((h.host(sup), "link down 15 s".into()))
        }
        Fault::Delay => {
            let ns = format!("{}-h{sup}", h.name);
            let add = Command::new("ip")
                .args(["netns", "exec", &ns, "tc", "qdisc", "add", "dev", "eth0"])
                .args(["root", "netem", "delay", "100ms"])
                .output()
                .map_err(|e| format!("run tc: {e}"))?;
            if !add.status.success() {
                return Ok((
                    h.host(sup),
                    format!(
                        "skipped: tc netem unavailable here ({})",
                        String::from_utf8_lossy(&add.stderr).trim()
                    ),
                ));
            }
            sleep_metering(meter, Duration::from_secs(15));
            let _ = Command::new("ip")
                .args([
                    "netns", "exec", &ns, "tc", "qdisc", "del", "dev", "eth0", "root",
                ])
                .output();
            Ok((h.host(sup), "100 ms delay for 15 s".into()))
        }
    }
}

pub fn run(o: &ChaosOptions, out: &mut dyn FnMut(String)) -> Result<(), String> {
    out(format!(
        "chaos: seed {} duration {} s faults {} supervisors {}",
        o.seed,
        o.duration.as_secs(),
        o.faults
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(","),
        o.supervisors
    ));
    let mut rng = Rng(o.seed);
    std::fs::create_dir_all(&o.dir).map_err(|e| format!("{}: {e}", o.dir.display()))?;
    let dir = o.dir.canonicalize().map_err(|e| e.to_string())?;
    let conf_extra = dir.join("conf-extra.toml");
    std::fs::write(
        &conf_extra,
        "\"storm.zookeeper.session.timeout\" = 6000\n\
         \"nimbus.monitor.freq.secs\" = 1\n\
         \"nimbus.task.timeout.secs\" = 6\n\
         \"nimbus.supervisor.timeout.secs\" = 6\n\
         \"supervisor.heartbeat.frequency.secs\" = 1\n\
         \"supervisor.monitor.frequency.secs\" = 1\n\
         \"supervisor.worker.timeout.secs\" = 6\n\
         \"supervisor.worker.shutdown.sleep.secs\" = 1\n\
         \"task.heartbeat.frequency.secs\" = 1\n\
         \"executor.metrics.frequency.secs\" = 1\n\
         \"task.refresh.poll.secs\" = 2\n\
         \"topology.message.timeout.secs\" = 10\n",
    )
    .map_err(|e| e.to_string())?;
    let hosts = 3 + o.supervisors;
    let h = Hosts {
        dir: dir.join("hosts"),
        hosts,
        name: "chaos".into(),
    };
    let _ = h.script(&["down"]);
    let pid = std::process::id().to_string();
    h.script(&[
        "up",
        &hosts.to_string(),
        "--name",
        &h.name,
        "--subnet",
        "10.77.250",
        "--zk-tick",
        "500",
        "--conf",
        conf_extra.to_str().unwrap_or_default(),
        "--watch-pid",
        &pid,
    ])?;
    let data = dir.join("data");
    let _ = std::fs::remove_dir_all(&data);
    let workers = o.supervisors;
    let mut b = TopologyBuilder::new();
    b.set_spout(
        "ledger",
        LedgerSpout::new(&data, 900_000_000, 1).with_ids(),
        workers as u32,
    );
    b.set_basic_bolt("sink", IdLogSink::new(&data), workers as u32)
        .shuffle_grouping("ledger");
    let topology = b.create_topology().map_err(|e| e.to_string())?;
    let mut conf = TopologyConf::new();
    conf.set_num_workers(workers as u32)
        .set_max_spout_pending(500);
    let jar = dir.join("topology.jar");
    let mut eocd = vec![0x50, 0x4b, 0x05, 0x06];
    eocd.extend([0u8; 18]);
    std::fs::write(&jar, eocd).map_err(|e| e.to_string())?;
    // Every supervisor registered first, so the workers spread over all hosts.
    let cconf = h.conf()?;
    let t0 = Instant::now();
    loop {
        let n = storm::client::NimbusClient::connect_leader(&cconf)
            .map(|mut c| c.raw().get_cluster_info())
            .ok()
            .and_then(|r| r.ok())
            .map_or(0, |i| i.supervisors.len());
        if n == o.supervisors {
            break;
        }
        if t0.elapsed() > Duration::from_secs(60) {
            return Err(format!(
                "{n} of {} supervisors registered after 60 s",
                o.supervisors
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    storm::submitter::submit_to_cluster(&cconf, "chaos", &conf, &topology, &jar)
        .map_err(|e| format!("submit: {e}"))?;
    let mut meter = Meter {
        data: data.clone(),
        samples: Default::default(),
    };
    // Warm up until ids flow, then take the baseline rate over 20 s.
    let t0 = Instant::now();
    while meter.bytes() == 0 {
        if t0.elapsed() > Duration::from_secs(120) {
            return Err("no id acked within 120 s of the submit".into());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    sleep_metering(&mut meter, Duration::from_secs(10));
    let mut rates = Vec::new();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(20) {
        if let Some(r) = meter.rate() {
            rates.push(r);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let baseline = super::runner::median(&rates);
    let id_bytes = 11.0; // "<task><9 digits>\n"
    out(format!(
        "chaos: baseline {:.0} acked ids/s (median of 2 s windows over 20 s)",
        baseline / id_bytes
    ));

    let start = Instant::now();
    let mut outcomes: Vec<Outcome> = Vec::new();
    // Once `tc netem` proved missing, the delay fault is not drawn again.
    let mut delay_unsupported = false;
    let mut plan: std::collections::VecDeque<Fault> = o.faults.iter().copied().collect();
    while start.elapsed() < o.duration || !plan.is_empty() {
        let fault = match plan.pop_front() {
            Some(f) => f,
            None => o.faults[rng.below(o.faults.len())],
        };
        if fault == Fault::Delay && delay_unsupported {
            if o.faults.iter().all(|f| *f == Fault::Delay) {
                break;
            }
            continue;
        }
        let at = start.elapsed();
        let injected = Instant::now();
        let (target, mut note) = inject(&h, fault, &mut rng, &mut meter)?;
        // Recovered: a whole 2 s window after the fault was lifted at ≥ 90 % of the baseline.
        meter.samples.clear();
        let skipped = note.starts_with("skipped");
        let mut recovered = None;
        let limit = Duration::from_secs(120);
        while !skipped && injected.elapsed() < limit {
            if meter.rate().is_some_and(|r| r >= 0.9 * baseline) {
                recovered = Some(injected.elapsed());
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        if recovered.is_none() && !skipped {
            note.push_str(if note.is_empty() { "" } else { "; " });
            note.push_str("not back to 90 % within 120 s");
        }
        let line = format!(
            "chaos: t={:>4}s {:<10} {:<32} back to 90 % after {} {}",
            at.as_secs(),
            fault.name(),
            target,
            recovered.map_or("-".into(), |d| format!("{:.1} s", d.as_secs_f64())),
            note
        );
        out(line);
        delay_unsupported |= fault == Fault::Delay && skipped;
        outcomes.push(Outcome {
            fault,
            at,
            target,
            recovered,
            note,
        });
        // A quiet gap of 3..10 s between faults.
        sleep_metering(&mut meter, Duration::from_secs(3 + rng.below(8) as u64));
    }

    // Drain: no new ids; every emitted id must be acked (replayed until it is).
    std::fs::write(data.join("STOP"), b"").map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    loop {
        let (emitted, acked) = ledger(&data);
        if !emitted.is_empty() && emitted.is_subset(&acked) {
            break;
        }
        if t0.elapsed() > Duration::from_secs(300) {
            out(format!(
                "chaos: {} ids still unacked 300 s after the stop",
                emitted.difference(&acked).count()
            ));
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let report = ledger_report(&data);
    out(format!("chaos: report {}", report.line()));
    out("| # | t (s) | fault | target | back to 90 % (s) | note |".into());
    out("|---|---|---|---|---|---|".into());
    for (k, f) in outcomes.iter().enumerate() {
        out(format!(
            "| {} | {} | {} | {} | {} | {} |",
            k + 1,
            f.at.as_secs(),
            f.fault.name(),
            f.target,
            f.recovered
                .map_or("-".into(), |d| format!("{:.1}", d.as_secs_f64())),
            f.note
        ));
    }
    let mut counts: Vec<String> = Vec::new();
    for kind in Fault::ALL {
        let n = outcomes.iter().filter(|f| f.fault == kind).count();
        if n > 0 {
            counts.push(format!("{}×{n}", kind.name()));
        }
    }
    out(format!("chaos: faults {}", counts.join(" ")));
    if report.lost_count > 0 || report.acked_unseen > 0 {
        return Err(format!(
            "{} ids lost (e.g. {:?}), {} acked but never seen",
            report.lost_count, report.lost, report.acked_unseen
        ));
    }
    Ok(())
}
