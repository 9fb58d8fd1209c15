//! A multi-host storm-rs cluster for the integration tests, made by `scripts/hosts.sh` (the same script
//! users run): N network namespaces joined by a bridge, hosts 1..3 running a 3-node ZooKeeper ensemble
//! (every daemon lists all three in `storm.zookeeper.servers`), hosts 2 and 3 nimbus
//! (HA, both in `nimbus.seeds`), hosts 4..N a supervisor each, every daemon advertising its own host
//! name. The test process is the root namespace (the CLI's place). Timeouts are shortened so faults are
//! detected in seconds. Everything is torn down on drop (`hosts.sh down` kills every process left in
//! the namespaces and deletes them), and `--watch-pid` deletes the namespaces even if the test process
//! is killed. One multi-host cluster runs at a time (each is a ZooKeeper, two nimbus and
//! supervisors); the tests using them take turns.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use storm::config::{Config, ConfigOptions};

use crate::cluster_support::worker_pids;
use crate::support::{init_logging, repo, scratch_dir};

/// The configuration every multi-host test cluster runs with (ZooKeeper's tick is 500 ms, so a 6 s
/// session timeout is allowed).
const TEST_CONF: &[(&str, &str)] = &[
    ("storm.zookeeper.session.timeout", "6000"),
    ("storm.zookeeper.connection.timeout", "5000"),
    ("nimbus.monitor.freq.secs", "1"),
    ("nimbus.task.timeout.secs", "6"),
    ("nimbus.task.launch.secs", "20"),
    ("nimbus.supervisor.timeout.secs", "6"),
    ("supervisor.heartbeat.frequency.secs", "1"),
    ("supervisor.monitor.frequency.secs", "1"),
    ("supervisor.worker.start.timeout.secs", "30"),
    ("supervisor.worker.timeout.secs", "6"),
    ("supervisor.worker.shutdown.sleep.secs", "1"),
    ("task.heartbeat.frequency.secs", "1"),
    ("executor.metrics.frequency.secs", "1"),
    ("task.refresh.poll.secs", "2"),
    ("topology.message.timeout.secs", "10"),
];

/// Whether this machine can make network namespaces; the reason when it cannot.
pub fn namespaces_available() -> Result<(), String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { nix::libc::geteuid() } != 0 {
        return Err("not running as root".into());
    }
    static PROBE: AtomicUsize = AtomicUsize::new(0);
    let probe = format!(
        "stormprobe{}-{}",
        std::process::id(),
        PROBE.fetch_add(1, Ordering::SeqCst)
    );
    let add = Command::new("ip")
        .args(["netns", "add", &probe])
        .output()
        .map_err(|e| format!("cannot run `ip` (iproute2): {e}"))?;
    let _ = Command::new("ip").args(["netns", "del", &probe]).output();
    if !add.status.success() {
        return Err(format!(
            "`ip netns add` failed: {}",
            String::from_utf8_lossy(&add.stderr).trim()
        ));
    }
    Ok(())
}

/// The multi-host cluster of one test.
pub struct HostCluster {
    /// The hosts' prefix (`<name>-hI` namespaces, `<name>hI` host names).
    pub name: String,
    pub dir: PathBuf,
    pub hosts: usize,
    pub subnet: String,
    pub config: PathBuf,
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl HostCluster {
    /// Brings up `hosts` hosts (≥ 4) with `extra` configuration on top of [`TEST_CONF`]; `None` (after
    /// printing why the test is skipped) where network namespaces cannot be made.
    pub fn up(test: &str, hosts: usize, extra: &[(&str, &str)]) -> Option<HostCluster> {
        init_logging();
        static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
        // A test that failed while holding its turn poisons the lock; the next one still runs.
        let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(why) = namespaces_available() {
            eprintln!("SKIPPED {test}: network namespaces cannot be made here ({why})");
            return None;
        }
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let k = NEXT.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id() as usize;
        let name = format!("t{}{}", pid % 100_000, (b'a' + (k % 26) as u8) as char);
        let subnet = format!("10.77.{}", (pid * 7 + k) % 250 + 1);
        let dir = scratch_dir(&format!("hosts-{test}"));
        let mut lines = String::new();
        for (k, v) in TEST_CONF.iter().chain(extra) {
            lines.push_str(&format!("{k:?} = {v}\n"));
        }
        let conf_extra = dir.join("conf-extra.toml");
        std::fs::write(&conf_extra, lines).unwrap();
        let c = HostCluster {
            name,
            config: dir.join("storm.toml"),
            dir,
            hosts,
            subnet,
            _turn: turn,
        };
        let pid = std::process::id().to_string();
        let hosts_arg = hosts.to_string();
        let out = c.script(&[
            "up",
            &hosts_arg,
            "--name",
            &c.name,
            "--subnet",
            &c.subnet,
            "--zk-tick",
            "500",
            "--conf",
            conf_extra.to_str().unwrap(),
            "--watch-pid",
            &pid,
        ]);
        assert!(
            out.0,
            "scripts/hosts.sh up failed:\n{}\n{}",
            out.1,
            c.logs()
        );
        Some(c)
    }

    /// Runs `scripts/hosts.sh ARGS… --dir <dir>`: (success, stdout + stderr).
    pub fn script(&self, args: &[&str]) -> (bool, String) {
        let bin = Path::new(env!("CARGO_BIN_EXE_storm")).parent().unwrap();
        let out = Command::new(repo().join("scripts/hosts.sh"))
            .args(args)
            .arg("--dir")
            .arg(&self.dir)
            .env("BIN", bin)
            .output()
            .expect("run scripts/hosts.sh");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    fn must(&self, args: &[&str]) {
        let (ok, out) = self.script(args);
        assert!(ok, "scripts/hosts.sh {args:?} failed: {out}");
    }

    /// Host `i`'s name (1-based), e.g. `t1234ah4`.
    pub fn host(&self, i: usize) -> String {
        format!("{}h{i}", self.name)
    }

    /// Host `i`'s address.
    pub fn addr(&self, i: usize) -> String {
        format!("{}.{}", self.subnet, i + 1)
    }

    /// The host number of a host name.
    pub fn index_of(&self, host: &str) -> Option<usize> {
        host.strip_prefix(&format!("{}h", self.name))?.parse().ok()
    }

    /// The hosts that run a supervisor.
    pub fn supervisor_hosts(&self) -> Vec<usize> {
        (4..=self.hosts).collect()
    }

    /// The pid of host `i`'s daemon (nimbus or supervisor) as last started.
    pub fn daemon_pid(&self, i: usize) -> i32 {
        std::fs::read_to_string(self.dir.join(format!("h{i}/daemon.pid")))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    /// `kill -9` of host `i`'s daemon.
    pub fn kill(&self, i: usize) {
        self.must(&["kill", &i.to_string()]);
    }

    /// (Re)starts host `i`'s daemon.
    pub fn start(&self, i: usize) {
        self.must(&["start", &i.to_string()]);
    }

    /// Cuts host `i` off (its link down).
    pub fn cut(&self, i: usize) {
        self.must(&["cut", &i.to_string()]);
    }

    /// Puts host `i`'s link back up.
    pub fn heal(&self, i: usize) {
        self.must(&["heal", &i.to_string()]);
    }

    pub fn zk_stop(&self) {
        self.must(&["zk-stop"]);
    }

    pub fn zk_start(&self) {
        self.must(&["zk-start"]);
    }

    /// `kill -9` of the ZooKeeper node on host `i` (1..3, the ensemble).
    pub fn zk_kill(&self, i: usize) {
        self.must(&["zk-kill", &i.to_string()]);
    }

    /// Restarts the ZooKeeper node on host `i`; returns once it serves again (rejoined the quorum).
    pub fn zk_start_node(&self, i: usize) {
        self.must(&["zk-start", &i.to_string()]);
    }

    /// The ZooKeeper node of host `i`: `leader`, `follower`, `standalone`, or empty when it does not
    /// serve.
    pub fn zk_mode(&self, i: usize) -> String {
        self.script(&["zk-mode", &i.to_string()])
            .1
            .trim()
            .to_string()
    }

    /// The storm.local.dir of host `i`.
    pub fn local_dir(&self, i: usize) -> PathBuf {
        self.dir.join(format!("h{i}/local"))
    }

    /// The workers host `i`'s supervisor started (pids from its `workers/*/pids`).
    pub fn worker_pids(&self, i: usize) -> Vec<i32> {
        worker_pids(&self.local_dir(i))
    }

    /// The cluster configuration as a client in the root namespace sees it.
    pub fn conf(&self) -> Config {
        Config::load(&ConfigOptions {
            config_file: Some(self.config.clone()),
            overrides: vec![],
        })
        .unwrap()
    }

    /// A client of the leader nimbus, found through `nimbus.seeds`.
    pub fn client(&self) -> Result<storm::client::NimbusClient, String> {
        storm::client::NimbusClient::connect_leader(&self.conf()).map_err(|e| e.to_string())
    }

    /// `storm --config <cluster> ARGS…` from the root namespace: (exit code, stdout, stderr).
    pub fn storm(&self, args: &[&str]) -> (i32, String, String) {
        let mut all = vec!["--config", self.config.to_str().unwrap()];
        all.extend_from_slice(args);
        crate::support::storm(&self.dir, &all)
    }

    /// The tail of every daemon's console output, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for i in 1..=self.hosts {
            let logs = self.dir.join(format!("h{i}/logs"));
            for prog in ["nimbus", "supervisor"] {
                let p = logs.join(format!("{prog}.out"));
                if let Ok(s) = std::fs::read_to_string(&p) {
                    let mut start = s.len().saturating_sub(2000);
                    while !s.is_char_boundary(start) {
                        start += 1;
                    }
                    out.push_str(&format!("--- {} {prog} (last 2000 bytes)\n", self.host(i)));
                    out.push_str(&s[start..]);
                }
            }
        }
        out
    }
}

impl Drop for HostCluster {
    fn drop(&mut self) {
        let (ok, out) = self.script(&["down"]);
        if !ok {
            eprintln!("scripts/hosts.sh down failed: {out}");
        }
    }
}

/// The node ids of a topology's assignment, mapped to their hosts: (node, host) pairs in order.
pub fn assigned_hosts(a: &storm::thrift::Assignment) -> Vec<(String, String)> {
    let hosts = a.node_host.clone().unwrap_or_default();
    let mut out: Vec<(String, String)> = a
        .executor_node_port
        .clone()
        .unwrap_or_default()
        .values()
        .map(|ni| {
            (
                ni.node.clone(),
                hosts.get(&ni.node).cloned().unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Process `pid`'s established TCP connections as (local, remote) `ip:port` strings, from
/// `/proc/<pid>/net/tcp` (its network namespace's table).
pub fn tcp_connections(pid: i32) -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")) else {
        return Vec::new();
    };
    let addr = |hex: &str| -> Option<String> {
        let (ip, port) = hex.split_once(':')?;
        let ip = u32::from_str_radix(ip, 16).ok()?;
        let port = u16::from_str_radix(port, 16).ok()?;
        let o = ip.to_le_bytes();
        Some(format!("{}.{}.{}.{}:{port}", o[0], o[1], o[2], o[3]))
    };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // State 01 = ESTABLISHED.
            if f.len() > 3 && f[3] == "01" {
                Some((addr(f[1])?, addr(f[2])?))
            } else {
                None
            }
        })
        .collect()
}

/// A default wait for cluster events in these tests.
pub const LONG: Duration = Duration::from_secs(90);
