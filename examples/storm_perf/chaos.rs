//! `storm_perf chaos`: the chaos runner (issue 16). It brings up a multi-host cluster with
//! `scripts/hosts.sh` (network namespaces: a 3-node ZooKeeper ensemble, two nimbus, supervisors),
//! submits the durable ledger topology (`LedgerSpout` replaying every id never acked, `IdLogSink`
//! recording every id it sees), injects faults on a schedule — each kind alone in a fixed order, each
//! kind again in a seeded random order, then kinds drawn at random from the seeded generator — and
//! reports ids emitted, acked, replayed, seen, lost (must be 0) and duplicates, and per fault how long
//! until the acked rate was back to 90 % of the rate before any fault, with what the fault showed
//! (workers re-adopted, `storm list` answering again, a ZooKeeper node rejoining, a reset connection
//! re-established and the ids replayed, the slow host's worker memory).
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
[--supervisors N] [--zk 1|3] [--dir DIR]
  runs as root (network namespaces); binaries from the directory of this program (target/release)
  kinds: worker supervisor nimbus zknode zookeeper partition reset slow (default: all); each runs once
  alone, once more in a seeded order, then kinds are drawn at random (seeded; the seed is printed)
  until --duration (default 600) is over. --zk: ZooKeeper nodes (default 3; zknode needs 3)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `kill -9` of a random worker.
    Worker,
    /// `kill -9` of a random supervisor, restarted 5 s later (its workers keep running: re-adoption).
    Supervisor,
    /// `kill -9` of the leader nimbus, restarted 10 s later as a standby.
    Nimbus,
    /// `kill -9` of one ZooKeeper node of the ensemble (the leader and a follower in turn); the
    /// cluster runs on the other two for 10 s, then the node restarts and rejoins.
    ZkNode,
    /// Every ZooKeeper node stopped for 10 s (past the 6 s session timeout), then started.
    Zookeeper,
    /// A supervisor host's link down for 15 s (past the 6 s heartbeat timeouts), then up.
    Partition,
    /// One established worker-to-worker TCP connection reset mid-stream (`ss -K`: the local socket
    /// is destroyed and the peer gets a RST).
    Reset,
    /// A slow host: a supervisor host's link rate-limited to 200 kbit/s both ways (`tc tbf`) for 15 s.
    /// (`tc netem` delay is not in this kernel.)
    Slow,
}

impl Fault {
    const ALL: [Fault; 8] = [
        Fault::Worker,
        Fault::Supervisor,
        Fault::Nimbus,
        Fault::ZkNode,
        Fault::Zookeeper,
        Fault::Partition,
        Fault::Reset,
        Fault::Slow,
    ];

    fn name(self) -> &'static str {
        match self {
            Fault::Worker => "worker",
            Fault::Supervisor => "supervisor",
            Fault::Nimbus => "nimbus",
            Fault::ZkNode => "zknode",
            Fault::Zookeeper => "zookeeper",
            Fault::Partition => "partition",
            Fault::Reset => "reset",
            Fault::Slow => "slow",
        }
    }

    fn parse(s: &str) -> Result<Fault, String> {
        if s == "delay" {
            return Ok(Fault::Slow);
        }
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
    /// ZooKeeper nodes (1 or 3).
    pub zk: usize,
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
            zk: 3,
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
                "--zk" => o.zk = val()?.parse().map_err(|e| format!("--zk: {e}"))?,
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
        if o.zk != 1 && o.zk != 3 {
            return Err(format!("--zk must be 1 or 3 ZooKeeper nodes, got {}", o.zk));
        }
        if o.zk == 1 && o.faults.contains(&Fault::ZkNode) {
            if args.iter().any(|a| a == "--faults") {
                return Err("the zknode fault needs a 3-node ensemble (--zk 3)".into());
            }
            o.faults.retain(|f| *f != Fault::ZkNode);
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
    subnet: String,
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

    fn ns(&self, i: usize) -> String {
        format!("{}-h{i}", self.name)
    }

    /// Host `i`'s established TCP connections as (local, remote) `ip:port` pairs (`ss` in its
    /// namespace).
    fn connections(&self, i: usize) -> Vec<(String, String)> {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns(i),
                "ss",
                "-tnH",
                "state",
                "established",
            ])
            .output();
        let Ok(out) = out else { return Vec::new() };
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() >= 2).then(|| (f[f.len() - 2].to_string(), f[f.len() - 1].to_string()))
            })
            .collect()
    }

    /// `storm list` from the root namespace answered.
    fn storm_list(&self) -> bool {
        Command::new(super::runner::bin_dir().join("storm"))
            .arg("--config")
            .arg(self.config())
            .arg("list")
            .output()
            .is_ok_and(|o| o.status.success())
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

/// What to verify once a fault has been lifted and the rate measured.
enum Check {
    None,
    /// The supervisor of host `host` was killed while these workers ran: are they still its workers?
    Readopt {
        host: usize,
        pids: Vec<u32>,
    },
    /// The ids replayed since the fault (`replayed`: the replay count when it was injected).
    Replays {
        replayed: usize,
        at: Instant,
    },
    /// The slow host's worker memory: the RSS (kB) before the fault and the largest seen during it.
    /// `end`: when the limit was lifted.
    Rss {
        pid: u32,
        before: u64,
        max: u64,
        end: u64,
    },
}

/// Resident memory of a process in kB (`VmRSS`), 0 when it is gone.
fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Replayed emits so far (lines of the spouts' `.replayed` logs).
fn replayed_count(data: &Path) -> usize {
    std::fs::read_dir(data)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "replayed"))
        .filter_map(|e| std::fs::read(e.path()).ok())
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .sum()
}

/// The server end of a connection: the endpoint whose port is not an ephemeral one (the worker's
/// slot port).
fn split_server(a: &str, b: &str) -> (String, String) {
    let port = |s: &str| -> u32 {
        s.rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or(0)
    };
    if port(a) < port(b) {
        (b.to_string(), a.to_string())
    } else {
        (a.to_string(), b.to_string())
    }
}

fn ip_of(endpoint: &str) -> &str {
    endpoint.rsplit_once(':').map_or(endpoint, |(ip, _)| ip)
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

/// What the runner keeps between faults.
struct State {
    /// ZooKeeper node kills so far (even: the leader, odd: a follower).
    zk_kills: usize,
    baseline: f64,
    data: PathBuf,
}

/// Injects `fault` (and lifts it after its duration); returns (target, note, check).
fn inject(
    h: &Hosts,
    fault: Fault,
    rng: &mut Rng,
    meter: &mut Meter,
    st: &mut State,
) -> Result<(String, String, Check), String> {
    let sups = h.supervisor_hosts();
    let sup = sups[rng.below(sups.len())];
    let (target, note) = match fault {
        Fault::Worker => {
            let mut candidates: Vec<(usize, u32)> = Vec::new();
            for &i in &sups {
                candidates.extend(h.worker_pids(i).into_iter().map(|p| (i, p)));
            }
            if candidates.is_empty() {
                return Ok(("-".into(), "no worker running".into(), Check::None));
            }
            let (i, pid) = candidates[rng.below(candidates.len())];
            super::runner::kill9(pid);
            (format!("worker pid {pid} on {}", h.host(i)), String::new())
        }
        Fault::Supervisor => {
            let pids = h.worker_pids(sup);
            h.script(&["kill", &sup.to_string()])?;
            sleep_metering(meter, Duration::from_secs(5));
            h.script(&["start", &sup.to_string()])?;
            return Ok((
                format!("supervisor on {}", h.host(sup)),
                "restarted after 5 s".into(),
                Check::Readopt { host: sup, pids },
            ));
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
                if h.storm_list() {
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
            (
                format!("leader nimbus on {}", h.host(i)),
                match answered {
                    Some(d) => format!("`storm list` answered after {:.1} s", d.as_secs_f64()),
                    None => "`storm list` did not answer within 30 s".into(),
                },
            )
        }
        Fault::ZkNode => {
            let modes: Vec<(usize, String)> = (1..=3)
                .map(|i| {
                    let m = h.script(&["zk-mode", &i.to_string()]).unwrap_or_default();
                    (i, m.trim().to_string())
                })
                .collect();
            let want_leader = st.zk_kills % 2 == 0;
            st.zk_kills += 1;
            let (i, mode) = modes
                .iter()
                .find(|(_, m)| (m == "leader") == want_leader && !m.is_empty())
                .or_else(|| modes.iter().find(|(_, m)| !m.is_empty()))
                .cloned()
                .unwrap_or((st.zk_kills % 3 + 1, "(mode unknown)".into()));
            h.script(&["zk-kill", &i.to_string()])?;
            let killed = Instant::now();
            // The cluster keeps running on the other two: `storm list` answers while the node is down.
            let mut list_ok = 0;
            let mut list_tries = 0;
            while killed.elapsed() < Duration::from_secs(10) {
                let _ = meter.rate();
                list_tries += 1;
                if h.storm_list() {
                    list_ok += 1;
                }
                sleep_metering(meter, Duration::from_millis(1000));
            }
            let restart = Instant::now();
            let out = h.script(&["zk-start", &i.to_string()])?;
            let rejoined = out
                .lines()
                .find_map(|l| {
                    l.split_once(": ")
                        .filter(|(k, _)| k.starts_with("zookeeper on"))
                })
                .map(|(_, m)| m.trim().to_string())
                .unwrap_or_else(|| "?".into());
            (
                format!("ZooKeeper {mode} on {}", h.host(i)),
                format!(
                    "down 10 s (`storm list` answered {list_ok}/{list_tries}); rejoined as {rejoined} {:.1} s after its restart",
                    restart.elapsed().as_secs_f64()
                ),
            )
        }
        Fault::Zookeeper => {
            h.script(&["zk-stop"])?;
            sleep_metering(meter, Duration::from_secs(10));
            h.script(&["zk-start"])?;
            ("every ZooKeeper node".into(), "stopped 10 s".into())
        }
        Fault::Partition => {
            h.script(&["cut", &sup.to_string()])?;
            sleep_metering(meter, Duration::from_secs(15));
            h.script(&["heal", &sup.to_string()])?;
            (h.host(sup), "link down 15 s".into())
        }
        Fault::Reset => {
            // A supervisor host whose worker has peer connections (after partitions a host may run
            // none), starting from the drawn one.
            let k0 = sups.iter().position(|&i| i == sup).unwrap_or(0);
            let sup = (0..sups.len())
                .map(|k| sups[(k0 + k) % sups.len()])
                .find(|&i| {
                    let others: Vec<String> = sups
                        .iter()
                        .filter(|&&j| j != i)
                        .map(|&j| format!("{}.{}:", h.subnet, j + 1))
                        .collect();
                    h.connections(i)
                        .iter()
                        .any(|(_, r)| others.iter().any(|o| r.starts_with(o.as_str())))
                })
                .unwrap_or(sup);
            let replayed = replayed_count(&st.data);
            let k = rng.below(1000).to_string();
            let out = match h.script(&["reset", &sup.to_string(), &k]) {
                Ok(out) => out,
                Err(e) => return Ok((h.host(sup), format!("skipped: {e}"), Check::None)),
            };
            let at = Instant::now();
            // "reset L -> R (…)"
            let (l, r) = out
                .lines()
                .find_map(|l| l.strip_prefix("reset "))
                .and_then(|l| {
                    let mut f = l.split_whitespace();
                    Some((f.next()?.to_string(), f.nth(1)?.to_string()))
                })
                .ok_or(format!("unexpected reply of hosts.sh reset: {out}"))?;
            let (client, server) = split_server(&l, &r);
            // The workers reconnect: a new connection from the same client address to the same server
            // endpoint (another ephemeral port).
            let client_ip = ip_of(&client).to_string();
            let mut back = None;
            while at.elapsed() < Duration::from_secs(30) {
                let _ = meter.rate();
                let again = h.connections(sup).into_iter().any(|(a, b)| {
                    let (c, s) = split_server(&a, &b);
                    s == server && ip_of(&c) == client_ip && c != client
                });
                if again {
                    back = Some(at.elapsed());
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            return Ok((
                format!("{client} -> {server} on {}", h.host(sup)),
                match back {
                    Some(d) => format!("reconnected after {:.2} s", d.as_secs_f64()),
                    None => "no new connection within 30 s".into(),
                },
                Check::Replays { replayed, at },
            ));
        }
        Fault::Slow => {
            // A host running a worker, starting from the drawn one.
            let k0 = sups.iter().position(|&i| i == sup).unwrap_or(0);
            let sup = (0..sups.len())
                .map(|k| sups[(k0 + k) % sups.len()])
                .find(|&i| !h.worker_pids(i).is_empty())
                .unwrap_or(sup);
            let pid = h.worker_pids(sup).first().copied().unwrap_or(0);
            let before = rss_kb(pid);
            let from = meter.bytes();
            h.script(&["slow", &sup.to_string(), "200kbit"])?;
            let t0 = Instant::now();
            let mut max = before;
            while t0.elapsed() < Duration::from_secs(15) {
                max = max.max(rss_kb(pid));
                sleep_metering(meter, Duration::from_millis(250));
            }
            let during = (meter.bytes().saturating_sub(from)) as f64 / t0.elapsed().as_secs_f64();
            h.script(&["unslow", &sup.to_string()])?;
            let end = rss_kb(pid);
            return Ok((
                h.host(sup),
                format!(
                    "200 kbit/s both ways for 15 s; acked rate {:.0} % of the baseline meanwhile",
                    100.0 * during / st.baseline.max(1.0)
                ),
                Check::Rss {
                    pid,
                    before,
                    max,
                    end,
                },
            ));
        }
    };
    Ok((target, note, Check::None))
}

/// Verifies what a fault should have shown, once the rate has recovered; returns a note.
fn check(h: &Hosts, check: Check, data: &Path) -> String {
    match check {
        Check::None => String::new(),
        Check::Readopt { host, pids } => {
            if pids.is_empty() {
                return "no worker ran on the host".into();
            }
            let now = h.worker_pids(host);
            let kept = pids.iter().filter(|p| now.contains(p)).count();
            if kept == pids.len() {
                format!("its {kept} worker(s) re-adopted (same pids {pids:?})")
            } else {
                format!(
                    "{kept} of {} worker(s) re-adopted (before {pids:?}, now {now:?})",
                    pids.len()
                )
            }
        }
        Check::Replays { replayed, at } => {
            // Tuples lost with the connection are failed by the spout's timeout (10 s, checked on
            // a rotation of up to another 10 s): count the replays 25 s after the reset.
            std::thread::sleep(Duration::from_secs(25).saturating_sub(at.elapsed()));
            format!(
                "{} ids replayed in the 25 s after the reset (message timeout 10 s)",
                replayed_count(data).saturating_sub(replayed)
            )
        }
        Check::Rss {
            pid,
            before,
            max,
            end,
        } => {
            let after = rss_kb(pid);
            format!(
                "worker pid {pid} RSS {:.1} / {:.1} / {:.1} MB before / max during / at the end; {}",
                before as f64 / 1024.0,
                max as f64 / 1024.0,
                end as f64 / 1024.0,
                if after > 0 {
                    format!("{:.1} MB after the recovery", after as f64 / 1024.0)
                } else {
                    "the worker was replaced afterwards (its heartbeats starved)".into()
                }
            )
        }
    }
}

pub fn run(o: &ChaosOptions, out: &mut dyn FnMut(String)) -> Result<(), String> {
    out(format!(
        "chaos: seed {} duration {} s faults {} supervisors {} zookeeper nodes {}",
        o.seed,
        o.duration.as_secs(),
        o.faults
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(","),
        o.supervisors,
        o.zk
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
        subnet: "10.77.250".into(),
    };
    let _ = h.script(&["down"]);
    let pid = std::process::id().to_string();
    h.script(&[
        "up",
        &hosts.to_string(),
        "--name",
        &h.name,
        "--subnet",
        &h.subnet,
        "--zk-tick",
        "500",
        "--zk",
        &o.zk.to_string(),
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
    // Every kind twice: once in the given order, then once in a seeded random order; after that
    // kinds are drawn at random until the duration is over.
    let mut plan: std::collections::VecDeque<Fault> = o.faults.iter().copied().collect();
    let mut second = o.faults.clone();
    for k in (1..second.len()).rev() {
        second.swap(k, rng.below(k + 1));
    }
    plan.extend(second);
    let mut st = State {
        zk_kills: 0,
        baseline,
        data: data.clone(),
    };
    while start.elapsed() < o.duration || !plan.is_empty() {
        let fault = match plan.pop_front() {
            Some(f) => f,
            None => o.faults[rng.below(o.faults.len())],
        };
        let at = start.elapsed();
        let injected = Instant::now();
        // A fault that could not be injected is reported, not fatal: the run goes on.
        let (target, mut note, after) = inject(&h, fault, &mut rng, &mut meter, &mut st)
            .unwrap_or_else(|e| ("-".into(), format!("skipped: {e}"), Check::None));
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
        let checked = check(&h, after, &data);
        if !checked.is_empty() {
            note.push_str(if note.is_empty() { "" } else { "; " });
            note.push_str(&checked);
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
