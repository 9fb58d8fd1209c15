//! A whole storm-rs cluster on one machine for the cluster tests: real `nimbus` and `supervisor`
//! processes (which fork real `worker` processes) against the shared ZooKeeper, each daemon with its own
//! `storm.local.dir`, all reading one `storm.toml` with timeouts shortened so failures are detected in
//! seconds. Everything started is killed on drop — daemons and every worker listed in a supervisor's
//! `workers/*/pids`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use storm::cluster::{ClusterState, StateStorage, ZkSettings, ZkStorage};
use storm::config::{Config, ConfigOptions};
use storm::thrift::{Assignment, StormBase, TNimbusSyncClient};

use crate::support::{free_port, scratch_dir, unique_root, wait_until, zk_connect};

/// One daemon process; SIGKILLed on drop.
pub struct Daemon {
    pub name: String,
    pub child: Option<Child>,
    pub dir: PathBuf,
    args: Vec<String>,
    binary: PathBuf,
    config: PathBuf,
}

impl Daemon {
    fn spawn(&mut self) {
        std::fs::create_dir_all(&self.dir).unwrap();
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("stderr.txt"))
            .unwrap();
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--config").arg(&self.config);
        for a in &self.args {
            cmd.arg("-c").arg(a);
        }
        let child = cmd
            .current_dir(&self.dir)
            .env_remove("STORM_CONF_DIR")
            .env_remove("STORM_HOME")
            .env_remove("STORM_WORKER")
            .env("STORM_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.binary.display()));
        self.child = Some(child);
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("running").id() as i32
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// The value of a `-c key=value` option this daemon was started with.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.args
            .iter()
            .rev()
            .find_map(|a| a.strip_prefix(key)?.strip_prefix('='))
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.txt")).unwrap_or_default()
    }

    pub fn local_dir(&self) -> PathBuf {
        self.dir.join("local")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.dir.join("logs")
    }

    /// `kill -9`, then reap.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(c.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let mut status = None;
        wait_until(
            Duration::from_secs(30),
            &format!("{} to exit on SIGTERM", self.name),
            || {
                status = c.try_wait().unwrap();
                status.is_some()
            },
        );
        status.unwrap()
    }

    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// Pids of the workers this daemon's directory lists (supervisors).
    pub fn worker_pids(&self) -> Vec<i32> {
        worker_pids(&self.local_dir())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
        for pid in self.worker_pids() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// Every pid listed under `<local>/workers/*/pids/`.
pub fn worker_pids(local: &Path) -> Vec<i32> {
    let mut out = Vec::new();
    if let Ok(workers) = std::fs::read_dir(local.join("workers")) {
        for w in workers.flatten() {
            if let Ok(pids) = std::fs::read_dir(w.path().join("pids")) {
                for p in pids.flatten() {
                    if let Some(pid) = p.file_name().to_str().and_then(|s| s.parse().ok()) {
                        out.push(pid);
                    }
                }
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether a process exists (and is not a zombie).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// A cluster: its config file, ZooKeeper root, nimbus(es) and supervisors.
pub struct TestCluster {
    pub dir: PathBuf,
    pub root: String,
    pub config: PathBuf,
    pub nimbus_port: u16,
    /// The Thrift port of each nimbus, in `nimbuses` order.
    pub nimbus_ports: Vec<u16>,
    pub nimbuses: Vec<Daemon>,
    pub supervisors: Vec<Daemon>,
    pub others: Vec<Daemon>,
    state: Option<ClusterState>,
}

impl TestCluster {
    /// Writes the cluster config (shortened timeouts) and starts one nimbus.
    pub fn start(name: &str, extra: &[(&str, &str)]) -> TestCluster {
        TestCluster::start_nimbuses(name, extra, 1)
    }

    /// Like [`TestCluster::start`] with `n` nimbuses on their own ports, all in `nimbus.seeds`
    /// (`127.0.0.1:<port>` each); the first one started leads.
    pub fn start_nimbuses(name: &str, extra: &[(&str, &str)], n: usize) -> TestCluster {
        let dir = scratch_dir(&format!("cluster-{name}"));
        let root = unique_root(name);
        let zk = zk_connect();
        let zk_port = zk.rsplit_once(':').unwrap().1.to_string();
        let nimbus_ports: Vec<u16> = (0..n.max(1)).map(|_| free_port()).collect();
        let nimbus_port = nimbus_ports[0];
        let seeds = if n <= 1 {
            r#"["127.0.0.1"]"#.to_string()
        } else {
            let list: Vec<String> = nimbus_ports
                .iter()
                .map(|p| format!("\"127.0.0.1:{p}\""))
                .collect();
            format!("[{}]", list.join(", "))
        };
        let mut entries: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in [
            ("storm.zookeeper.servers", r#"["127.0.0.1"]"#.to_string()),
            ("storm.zookeeper.port", zk_port),
            ("storm.zookeeper.root", format!("{root:?}")),
            ("storm.zookeeper.session.timeout", "6000".into()),
            ("storm.local.hostname", r#""127.0.0.1""#.into()),
            ("nimbus.seeds", seeds),
            ("nimbus.thrift.port", nimbus_port.to_string()),
            ("nimbus.monitor.freq.secs", "1".into()),
            ("nimbus.task.timeout.secs", "6".into()),
            ("nimbus.task.launch.secs", "10".into()),
            ("supervisor.heartbeat.frequency.secs", "1".into()),
            ("supervisor.monitor.frequency.secs", "1".into()),
            ("supervisor.worker.start.timeout.secs", "30".into()),
            ("supervisor.worker.timeout.secs", "6".into()),
            ("supervisor.worker.shutdown.sleep.secs", "1".into()),
            ("task.heartbeat.frequency.secs", "1".into()),
            ("executor.metrics.frequency.secs", "1".into()),
            ("task.refresh.poll.secs", "2".into()),
            ("topology.message.timeout.secs", "10".into()),
        ] {
            entries.insert(k.to_string(), v);
        }
        for (k, v) in extra {
            entries.insert(k.to_string(), v.to_string());
        }
        let toml: String = entries
            .iter()
            .map(|(k, v)| format!("{k:?} = {v}\n"))
            .collect();
        let config = dir.join("storm.toml");
        std::fs::write(&config, toml).unwrap();
        let mut c = TestCluster {
            dir,
            root,
            config,
            nimbus_port,
            nimbus_ports: Vec::new(),
            nimbuses: Vec::new(),
            supervisors: Vec::new(),
            others: Vec::new(),
            state: None,
        };
        for (i, port) in nimbus_ports.into_iter().enumerate() {
            c.add_nimbus(port);
            if i == 0 && n > 1 {
                wait_until(Duration::from_secs(30), "the first nimbus to lead", || {
                    storm::client::NimbusClient::connect(
                        &format!("127.0.0.1:{port}"),
                        Duration::from_secs(10),
                        &storm::client::ClientTransport::Simple,
                    )
                    .and_then(|mut cl| cl.leader())
                    .is_ok_and(|l| l.port == i32::from(port))
                });
            }
        }
        c
    }

    fn daemon(&self, name: &str, binary: &str, args: Vec<String>) -> Daemon {
        let dir = self.dir.join(name);
        let mut args = args;
        args.push(format!("storm.local.dir={}", dir.join("local").display()));
        args.push(format!("storm.log.dir={}", dir.join("logs").display()));
        let mut d = Daemon {
            name: name.to_string(),
            child: None,
            dir,
            args,
            binary: PathBuf::from(binary),
            config: self.config.clone(),
        };
        d.spawn();
        d
    }

    /// Starts a nimbus on `port` with its HTTP file server on a free port.
    pub fn add_nimbus(&mut self, port: u16) -> usize {
        self.add_nimbus_with(port, None)
    }

    /// Like [`TestCluster::add_nimbus`], with `nimbus.thrift.tls.port` set to `tls_port` for this
    /// nimbus alone when given (two TLS nimbuses on one host).
    pub fn add_nimbus_with(&mut self, port: u16, tls_port: Option<u16>) -> usize {
        let name = format!("nimbus{}", self.nimbuses.len());
        let mut args = vec![format!("nimbus.thrift.port={port}")];
        args.extend(tls_port.map(|p| format!("nimbus.thrift.tls.port={p}")));
        let d = self.daemon(&name, env!("CARGO_BIN_EXE_nimbus"), args);
        self.nimbuses.push(d);
        self.nimbus_ports.push(port);
        // A nimbus serving TLS only listens on nimbus.thrift.tls.port alone.
        let conf = self.conf();
        let listen = match conf.get("nimbus.thrift.tls.server.only") {
            Some(serde_json::Value::Bool(true)) => {
                tls_port.unwrap_or_else(|| conf.get_port("nimbus.thrift.tls.port").unwrap())
            }
            _ => port,
        };
        wait_until(Duration::from_secs(30), "nimbus to listen", || {
            TcpStream::connect(("127.0.0.1", listen)).is_ok()
        });
        self.nimbuses.len() - 1
    }

    /// Starts a supervisor with `slots` free slot ports.
    pub fn add_supervisor(&mut self, slots: usize) -> usize {
        let name = format!("supervisor{}", self.supervisors.len());
        let ports: Vec<String> = (0..slots).map(|_| free_port().to_string()).collect();
        let d = self.daemon(
            &name,
            env!("CARGO_BIN_EXE_supervisor"),
            vec![
                format!("supervisor.slots.ports=[{}]", ports.join(",")),
                // Each supervisor of a one-host test cluster serves its own Thrift port.
                format!("supervisor.thrift.port={}", free_port()),
            ],
        );
        self.supervisors.push(d);
        self.supervisors.len() - 1
    }

    /// Starts the `drpc` daemon; its ports come from the cluster config (`drpc.port`,
    /// `drpc.invocations.port`, `drpc.http.port`), which workers read too.
    pub fn add_drpc(&mut self) {
        let d = self.daemon("drpc", env!("CARGO_BIN_EXE_drpc"), vec![]);
        self.others.push(d);
        let port = self.conf().get_port("drpc.http.port").unwrap();
        wait_until(Duration::from_secs(30), "drpc to listen", || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }

    /// Starts a `ui` daemon on a free port with `-c` overrides `extra` (e.g. `ui.actions.enabled=false`)
    /// and returns its port once it listens.
    pub fn add_ui(&mut self, extra: &[&str]) -> u16 {
        let port = free_port();
        let mut args = vec![
            format!("ui.port={port}"),
            "ui.host=\"127.0.0.1\"".to_string(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let name = format!("ui{}", self.others.len());
        let d = self.daemon(&name, env!("CARGO_BIN_EXE_ui"), args);
        self.others.push(d);
        wait_until(Duration::from_secs(30), "the ui to listen", || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        port
    }

    /// The cluster configuration as a client sees it.
    pub fn conf(&self) -> Config {
        Config::load(&ConfigOptions {
            config_file: Some(self.config.clone()),
            overrides: vec![],
        })
        .unwrap()
    }

    /// A ZooKeeper view of the cluster (opened once).
    pub fn state(&mut self) -> &ClusterState {
        if self.state.is_none() {
            let settings = ZkSettings::from_config(&self.conf()).unwrap();
            let storage: Arc<dyn StateStorage> = Arc::new(ZkStorage::connect(settings).unwrap());
            self.state = Some(ClusterState::new(storage).unwrap());
        }
        self.state.as_ref().unwrap()
    }

    pub fn nimbus_client(&self) -> storm::client::NimbusClient {
        storm::client::NimbusClient::connect_leader(&self.conf())
            .expect("connect to the leader nimbus")
    }

    /// Waits until `n` supervisors are registered in ZooKeeper.
    pub fn wait_supervisors(&mut self, n: usize) {
        wait_until(Duration::from_secs(30), "supervisors to register", || {
            self.state()
                .supervisors(false)
                .map(|s| s.len())
                .unwrap_or(0)
                >= n
        });
    }

    /// The id of the topology named `name`.
    pub fn topology_id(&mut self, name: &str) -> Option<String> {
        let ids = self.state().active_storms().ok()?;
        ids.into_iter().find(|id| {
            self.state()
                .storm_base(id, false)
                .ok()
                .flatten()
                .is_some_and(|b| b.name == name)
        })
    }

    pub fn assignment(&mut self, id: &str) -> Option<Assignment> {
        self.state().assignment_info(id, false).ok().flatten()
    }

    pub fn storm_base(&mut self, id: &str) -> Option<StormBase> {
        self.state().storm_base(id, false).ok().flatten()
    }

    /// The distinct (node, port) slots of an assignment.
    pub fn slots(&mut self, id: &str) -> Vec<(String, i64)> {
        let mut out: Vec<(String, i64)> = self
            .assignment(id)
            .and_then(|a| a.executor_node_port)
            .unwrap_or_default()
            .values()
            .map(|ni| (ni.node.clone(), *ni.port.iter().next().unwrap()))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Calls `getClusterInfo` on the leader.
    pub fn cluster_info(&self) -> storm::thrift::ClusterSummary {
        self.nimbus_client().raw().get_cluster_info().unwrap()
    }

    /// Daemon stderr of every process, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for d in self
            .nimbuses
            .iter()
            .chain(&self.supervisors)
            .chain(&self.others)
        {
            out.push_str(&format!("--- {} stderr (last 3000 bytes)\n", d.name));
            let s = d.stderr();
            let mut start = s.len().saturating_sub(3000);
            while !s.is_char_boundary(start) {
                start += 1;
            }
            out.push_str(&s[start..]);
        }
        out
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if let Some(s) = self.state.take() {
            s.disconnect();
        }
        // Supervisors first (their drop kills their workers), then nimbus.
        self.supervisors.clear();
        self.nimbuses.clear();
        self.others.clear();
    }
}

/// A stand-in topology jar for topologies whose components are built into the worker binary: an
/// empty zip (its end-of-central-directory record only) at `DIR/topology.jar`.
pub fn empty_jar(dir: &Path) -> PathBuf {
    let mut eocd = vec![0x50, 0x4b, 0x05, 0x06];
    eocd.extend([0u8; 18]);
    let p = dir.join("topology.jar");
    std::fs::write(&p, eocd).unwrap();
    p
}

/// The reliable word count the cluster tests run: a ledger spout (2 tasks, `limit` sentences each,
/// `interval_ms` apart) → split (2, shuffle) → a counting file sink (2, fields on `word`) writing
/// into `data`. Returned as a builder so a test can add components.
pub fn ledger_word_count(data: &Path, limit: i64, interval_ms: u64) -> storm::api::TopologyBuilder {
    use storm::local::components::SplitSentence;
    use storm::local::durable::{CountFileSink, LedgerSpout};
    let mut b = storm::api::TopologyBuilder::new();
    b.set_spout("spout", LedgerSpout::new(data, limit, interval_ms), 2);
    b.set_basic_bolt("split", SplitSentence::default(), 2)
        .shuffle_grouping("spout");
    b.set_basic_bolt("count", CountFileSink::new(data), 2)
        .fields_grouping("split", ["word"]);
    b
}

/// A [`ledger_word_count`] running on two workers of a [`TestCluster`] (see
/// [`TestCluster::run_two_worker_word_count`]).
pub struct TwoWorkerWordCount {
    pub id: String,
    /// The two workers' slot ports.
    pub ports: Vec<u16>,
    data: PathBuf,
    limit: i64,
}

impl TestCluster {
    /// Starts a supervisor with two slots and runs [`ledger_word_count`] (300 sentences per spout
    /// task) as `name` on two workers, so its fields grouping crosses workers; returns once both
    /// workers heartbeat.
    pub fn run_two_worker_word_count(&mut self, name: &str) -> TwoWorkerWordCount {
        self.add_supervisor(2);
        self.wait_supervisors(1);
        let data = self.dir.join("data");
        let limit = 300;
        let topology = ledger_word_count(&data, limit, 5)
            .create_topology()
            .unwrap();
        let mut conf = storm::api::TopologyConf::new();
        conf.set_num_workers(2).set_max_spout_pending(200);
        storm::submitter::submit_to_cluster(
            &self.conf(),
            name,
            &conf,
            &topology,
            &empty_jar(&self.dir),
        )
        .unwrap_or_else(|e| panic!("submit: {e}\n{}", self.logs()));
        let id = self
            .topology_id(name)
            .unwrap_or_else(|| panic!("{name} is not in /storms"));
        wait_until(
            Duration::from_secs(90),
            "two workers with heartbeats",
            || self.state().worker_heartbeats(&id).unwrap().len() == 2,
        );
        let ports: Vec<u16> = self.slots(&id).into_iter().map(|s| s.1 as u16).collect();
        assert_eq!(ports.len(), 2);
        TwoWorkerWordCount {
            id,
            ports,
            data,
            limit,
        }
    }
}

impl TwoWorkerWordCount {
    /// Waits until the counts are exactly the spouts' words (nothing lost, nothing injected).
    pub fn assert_exact_counts(&self, c: &TestCluster) {
        use storm::local::durable::{expected_counts, read_counts};
        let expected = expected_counts(self.limit, 2);
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_until(
                Duration::from_secs(90),
                "the word counts to be complete",
                || read_counts(&self.data) == expected,
            )
        }));
        assert!(
            ok.is_ok(),
            "counts {:?}\n{}",
            read_counts(&self.data),
            c.logs()
        );
        assert!(!read_counts(&self.data).contains_key("intruder"));
    }
}

/// A well-formed worker frame of `["intruder"]` tuples to tasks 1–12, as a raw TCP client would
/// inject it.
pub fn intruder_frame() -> Vec<u8> {
    use storm::transport::wire::{encode_frame, WireMessage};
    let messages: Vec<WireMessage> = (1..=12)
        .map(|task| WireMessage {
            dest: task,
            source_task: 3,
            stream: "default".into(),
            anchors: vec![],
            values: vec![storm::tuple::Value::from("intruder")],
        })
        .collect();
    encode_frame(&messages).unwrap()
}
