//! `storm_perf zk-writes`: ZooKeeper writes per second of a cluster running one idle topology with
//! many workers (issue 16 item 4: liveness traffic out of ZooKeeper, measured before and after).
//!
//! It starts ZooKeeper, nimbus and one supervisor with `--workers` slots (Storm's default heartbeat and
//! timeout settings, not the fast ones of the other cluster runs), submits a topology of `--workers`
//! workers (one rate-limited spout task per worker, no ackers), waits until every worker runs and
//! nimbus reports every executor, deactivates it (idle), lets it settle, then samples ZooKeeper's own
//! `Zxid` (the `srvr` four-letter word; every write transaction — create, set, delete, session open
//! and close — takes the next zxid) once a second for `--duration` and prints the write rate.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use storm::prelude::{TopologyBuilder, TopologyConf};
use storm::thrift::TNimbusSyncClient;

use super::runner::PerfCluster;
use storm::local::perf::ConstSpout;

pub const USAGE: &str = "usage: storm_perf zk-writes [--workers N (100)] [--duration SECS (60)] \
[--settle SECS (20)] [--conf KEY=VALUE]...   (KEY=VALUE: storm.toml lines for every daemon)";

pub struct ZkWritesOptions {
    pub workers: u32,
    pub duration: Duration,
    pub settle: Duration,
    pub extra: Vec<(String, String)>,
}

impl ZkWritesOptions {
    pub fn parse(args: &[String]) -> Result<ZkWritesOptions, String> {
        let mut o = ZkWritesOptions {
            workers: 100,
            duration: Duration::from_secs(60),
            settle: Duration::from_secs(20),
            extra: Vec::new(),
        };
        let mut it = args.iter().skip(1);
        while let Some(a) = it.next() {
            let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
            let num = |v: String| {
                v.parse::<u64>()
                    .map_err(|_| format!("{a}: not a number: {v}"))
            };
            match a.as_str() {
                "--workers" => o.workers = num(value()?)? as u32,
                "--duration" => o.duration = Duration::from_secs(num(value()?)?),
                "--settle" => o.settle = Duration::from_secs(num(value()?)?),
                "--conf" => {
                    let v = value()?;
                    let (k, val) = v
                        .split_once('=')
                        .ok_or(format!("--conf {v}: expected KEY=VALUE"))?;
                    o.extra.push((k.to_string(), val.to_string()));
                }
                _ => return Err(format!("unknown argument {a}")),
            }
        }
        if o.workers == 0 {
            return Err("--workers must be at least 1".into());
        }
        Ok(o)
    }
}

/// ZooKeeper's last zxid, from the `srvr` four-letter word.
fn zxid(port: u16) -> Result<u64, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("srvr: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    s.write_all(b"srvr").map_err(|e| format!("srvr: {e}"))?;
    let mut text = String::new();
    s.read_to_string(&mut text)
        .map_err(|e| format!("srvr: {e}"))?;
    let hex = text
        .lines()
        .find_map(|l| l.strip_prefix("Zxid: 0x"))
        .ok_or(format!(
            "srvr answered no Zxid (is srvr in 4lw.commands.whitelist?): {text:?}"
        ))?;
    u64::from_str_radix(hex.trim(), 16).map_err(|e| format!("Zxid {hex}: {e}"))
}

pub fn run(o: &ZkWritesOptions, out: &mut dyn FnMut(String)) -> Result<(), String> {
    // Storm's defaults for everything that paces heartbeats and monitoring.
    let mut settings: Vec<(String, String)> = [
        ("nimbus.monitor.freq.secs", "10"),
        ("nimbus.task.timeout.secs", "30"),
        ("nimbus.task.launch.secs", "120"),
        ("supervisor.heartbeat.frequency.secs", "5"),
        ("supervisor.monitor.frequency.secs", "3"),
        ("supervisor.worker.timeout.secs", "30"),
        ("supervisor.worker.start.timeout.secs", "300"),
        ("task.heartbeat.frequency.secs", "3"),
        ("task.refresh.poll.secs", "10"),
        ("worker.heartbeat.frequency.secs", "1"),
        ("executor.metrics.frequency.secs", "60"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in &o.extra {
        settings.retain(|(key, _)| key != k);
        settings.push((k.clone(), v.clone()));
    }
    let extra: String = settings
        .iter()
        .map(|(k, v)| format!("{k:?} = {v}\n"))
        .collect();
    let cluster = PerfCluster::start_with(o.workers, &extra)?;
    let conf = cluster.conf()?;
    let zk_port = conf
        .get_port("storm.zookeeper.port")
        .map_err(|e| e.to_string())?;
    let artifact = cluster.dir.join("stormjar.jar");
    std::fs::write(&artifact, b"storm-rs perf: run by the stock worker binary")
        .map_err(|e| e.to_string())?;
    let mut b = TopologyBuilder::new();
    b.set_spout(
        "spout",
        ConstSpout::new("idle", false).with_rate(1),
        o.workers,
    );
    let topology = b.create_topology().map_err(|e| e.to_string())?;
    let mut tconf = TopologyConf::new();
    tconf.set_num_workers(o.workers);
    tconf.set_num_ackers(0);
    let name = "zk-writes";
    storm::submitter::submit_to_cluster(&conf, name, &tconf, &topology, &artifact)
        .map_err(|e| e.to_string())?;
    let begin = Instant::now();
    // Workers the scheduler placed (free ports picked at random may repeat: then one slot less).
    let mut want = o.workers as usize;
    // Every worker runs and nimbus reports every executor with a heartbeat (uptime).
    let mut reported = 0;
    loop {
        if let Some(n) = cluster.client().ok().and_then(|mut c| {
            c.raw()
                .get_topology_summary_by_name(name.into())
                .ok()
                .map(|t| t.num_workers)
        }) {
            if n > 0 {
                want = n as usize;
            }
        }
        let running = cluster.worker_pids().len();
        if running >= want {
            reported = cluster
                .client()
                .ok()
                .and_then(|mut c| {
                    let id = c.raw().get_topology_summary_by_name(name.into()).ok()?.id;
                    c.raw().get_topology_info(id).ok()
                })
                .map_or(0, |info| {
                    info.executors
                        .iter()
                        .filter(|e| e.component_id == "spout")
                        .map(|e| (e.host.clone(), e.port))
                        .collect::<std::collections::BTreeSet<_>>()
                        .len()
                });
            if reported >= want {
                break;
            }
        }
        if begin.elapsed() > Duration::from_secs(600) {
            return Err(format!(
                "after 600 s: {running} of {want} workers running, {reported} reported by nimbus"
            ));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let up = begin.elapsed();
    let mut client = cluster.client()?;
    client
        .raw()
        .deactivate(name.into())
        .map_err(|e| format!("deactivate: {e}"))?;
    std::thread::sleep(o.settle);
    let z0 = zxid(zk_port)?;
    let t0 = Instant::now();
    let mut per_sec = Vec::new();
    let mut last = z0;
    while t0.elapsed() < o.duration {
        std::thread::sleep(Duration::from_secs(1));
        let z = zxid(zk_port)?;
        per_sec.push(z - last);
        last = z;
    }
    let secs = t0.elapsed().as_secs_f64();
    let workers_after = cluster.worker_pids().len();
    let max = per_sec.iter().copied().max().unwrap_or(0);
    out(format!(
        "zk-writes workers={} assigned={want} running={workers_after} up_in={:.0}s window={secs:.0}s \
         zk_writes={} writes_per_sec={:.1} max_in_1s={max}",
        o.workers,
        up.as_secs_f64(),
        last - z0,
        (last - z0) as f64 / secs
    ));
    if workers_after < want {
        return Err(format!(
            "only {workers_after} of {want} workers still run at the end: the figure is not for an idle cluster"
        ));
    }
    Ok(())
}
