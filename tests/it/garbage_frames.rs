//! Hostile bytes at the live daemons' ports (issue 16 item 3, issue 18): a black-box companion of the
//! `cargo fuzz` targets. A real cluster (nimbus, one supervisor with two worker slots, drpc) runs one
//! topology with a durable word count (ledger spout → split → count, fields grouping over two
//! workers) and a DRPC `exclamation` function. Then every port gets truncated frames, oversized and
//! zero/negative length prefixes, random bytes (seeded: the seed is printed, `STORM_GARBAGE_SEED`
//! replays it), valid frame headers around garbage Thrift messages, a wrong protocol version,
//! silent half-open connections and more connections at once than the server takes. After each
//! kind the daemon must still be alive and a correct client must get a correct answer within a
//! deadline; a length prefix must never make a daemon allocate what it promises (checked through
//! the process's resident memory once the daemon has read the prefix). At the worker's messaging
//! port the word counts must stay exact: no garbage reaches an executor. A second cluster's nimbus
//! serves `DigestSaslTransportPlugin` and gets garbage SASL negotiation messages.
//!
//! Run: `cargo test --test it -- garbage_frames`.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use storm::api::TopologyConf;
use storm::drpc::topology::{DRPCSpout, ExclaimBolt, ReturnResults};
use storm::local::durable::{expected_counts, read_counts};
use storm::thrift::{
    DistributedRPCInvocationsSyncClient, DistributedRPCSyncClient, ExecutorInfo,
    SupervisorSyncClient, SupervisorWorkerHeartbeat, TDistributedRPCInvocationsSyncClient,
    TDistributedRPCSyncClient, TNimbusSyncClient, TSupervisorSyncClient,
};
use storm::transport::wire::{encode_frame, WireMessage};
use storm::tuple::Value;

use crate::cluster_support::{alive, TestCluster};
use crate::support::{free_port, scratch_dir, wait_until, wait_until_ok};

/// How long a daemon has to answer a correct client (or close a garbage connection).
const ANSWER: Duration = Duration::from_secs(15);
const NIMBUS_THREADS: usize = 12;
/// The Thrift frame cap of every server (`*.thrift.max_buffer_size`, `drpc.max_buffer_size`): four
/// times Storm's default, so that a daemon allocating what a prefix promises shows clearly in its
/// resident memory.
const MAX_FRAME: u32 = 4 * 1024 * 1024;
const SUPERVISOR_THREADS: usize = 8;
const DRPC_THREADS: usize = 4;
const DRPC_QUEUE: usize = 4;
const INVOCATION_THREADS: usize = 12;
const WORKER_MAX_FRAME: u32 = 5_242_880;
const DIGEST: &str = "org.apache.storm.security.auth.digest.DigestSaslTransportPlugin";

// ---- a seeded generator (splitmix64): failures reproduce from the printed seed ------------------

struct Rng(u64);

impl Rng {
    fn from_env(test: &str) -> Rng {
        let seed = std::env::var("STORM_GARBAGE_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!("{test}: garbage seed {seed} (replay with STORM_GARBAGE_SEED={seed})");
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

// ---- raw connections ------------------------------------------------------------------------------

fn raw(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("connect to port {port}: {e}"));
    s.set_write_timeout(Some(ANSWER)).unwrap();
    s
}

/// What a daemon did with a garbage connection after the client's FIN: the bytes it answered, and
/// whether it closed the connection (`false`: it still held it open at the deadline).
fn outcome(mut s: TcpStream, within: Duration) -> (Vec<u8>, bool) {
    let _ = s.shutdown(Shutdown::Write);
    let until = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (got, false);
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (got, false)
            }
            // Reset: the daemon closed with our bytes unread.
            Err(_) => return (got, true),
        }
    }
}

/// Sends `bytes` on a fresh connection, half-closes it and requires the daemon to close it within
/// the deadline (it must never wait forever for bytes a closed peer cannot send). Returns what it
/// answered.
fn throw(port: u16, what: &str, bytes: &[u8]) -> Vec<u8> {
    let mut s = raw(port);
    // The daemon may close as soon as it has seen enough: a failed write is fine.
    let _ = s.write_all(bytes);
    let (answer, closed) = outcome(s, ANSWER);
    assert!(
        closed,
        "port {port}: the daemon kept the connection open after `{what}` and the client's FIN"
    );
    answer
}

/// Sends `bytes` and closes at once, without reading (a truncated frame and a vanished peer).
fn throw_and_vanish(port: u16, bytes: &[u8]) {
    let mut s = raw(port);
    let _ = s.write_all(bytes);
    drop(s);
}

/// Like [`throw`], for inputs the daemon must refuse by closing the connection without any answer.
fn refused(port: u16, what: &str, bytes: &[u8]) {
    let answer = throw(port, what, bytes);
    assert!(
        answer.is_empty(),
        "port {port}: `{what}` was answered with {answer:02x?}"
    );
}

/// Bytes of our connection's daemon end that the daemon has not read yet (`/proc/net/tcp*`).
fn unread_by_daemon(s: &TcpStream) -> Option<u64> {
    let daemon_port = s.peer_addr().ok()?.port();
    let our_port = s.local_addr().ok()?.port();
    let port_of = |addr: &str| u16::from_str_radix(addr.rsplit(':').next()?, 16).ok();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() > 4 && port_of(f[1]) == Some(daemon_port) && port_of(f[2]) == Some(our_port)
            {
                return u64::from_str_radix(f[4].split(':').nth(1)?, 16).ok();
            }
        }
    }
    None
}

/// Writes `bytes` and waits until the daemon has read them all.
fn feed(s: &mut TcpStream, bytes: &[u8]) {
    s.write_all(bytes).unwrap();
    wait_until(ANSWER, "the daemon to read what was sent", || {
        unread_by_daemon(s) == Some(0)
    });
}

/// Resident memory of `pid`, in KiB.
fn rss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// `n` connections each send a length prefix of `len` (at most the daemon's cap) and one payload
/// byte, and stay open. Once the daemon has read every byte, the processes of `pids` together must
/// not have grown by anything like `n * len`: a daemon holds what arrived, not what was promised.
/// Returns the connections (dropping them is the vanished peer case).
fn promise_without_paying(port: u16, len: u32, n: usize, pids: &[i32]) -> Vec<TcpStream> {
    let before: u64 = pids.iter().map(|p| rss_kib(*p)).sum();
    let mut conns: Vec<TcpStream> = (0..n).map(|_| raw(port)).collect();
    for s in &mut conns {
        feed(s, &len.to_be_bytes());
    }
    for s in &mut conns {
        feed(s, &[0x80]);
    }
    let after: u64 = pids.iter().map(|p| rss_kib(*p)).sum();
    let promised_kib = n as u64 * u64::from(len) / 1024;
    eprintln!("port {port}: {n} prefixes of {len} bytes: {before} KiB -> {after} KiB resident");
    assert!(
        after.saturating_sub(before) < promised_kib / 4,
        "port {port}: {n} prefixes of {len} bytes (1 byte sent each) grew the daemon from {before} KiB \
         to {after} KiB: it allocates what a hostile length promises"
    );
    conns
}

/// Whether the daemon has closed `s` (a read sees the end, or a reset), waiting at most `within`;
/// nothing is sent.
fn closed_by_daemon(s: &TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut b = [0u8; 64];
    loop {
        match (&*s).read(&mut b) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        }
    }
}

/// More connections at once than the server serves (`cap`), all silent: at least the 8 over the
/// cap are closed promptly (the server goes on serving rather than queueing them forever); the
/// rest stay open until dropped.
fn flood(port: u16, cap: usize) -> Vec<TcpStream> {
    let conns: Vec<TcpStream> = (0..cap + 8).map(|_| raw(port)).collect();
    let mut closed = vec![false; conns.len()];
    wait_until(ANSWER, "the connections over the cap to be closed", || {
        for (s, c) in conns.iter().zip(closed.iter_mut()) {
            if !*c {
                *c = closed_by_daemon(s, Duration::from_millis(10));
            }
        }
        closed.iter().filter(|c| **c).count() >= 8
    });
    conns
}

// ---- Thrift messages --------------------------------------------------------------------------------

/// A framed strict binary-protocol call of `method` whose argument struct bytes are `args`;
/// `version` is the 16-bit protocol version (0x8001 is the right one).
fn call(version: u16, method: &str, args: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&version.to_be_bytes());
    m.extend_from_slice(&[0, 1]); // CALL
    m.extend_from_slice(&(method.len() as i32).to_be_bytes());
    m.extend_from_slice(method.as_bytes());
    m.extend_from_slice(&1i32.to_be_bytes());
    m.extend_from_slice(args);
    framed(&m)
}

fn framed(payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(payload);
    f
}

/// A binary-protocol exception reply to `method`.
fn is_exception_reply(answer: &[u8], method: &str) -> bool {
    answer.len() > 12
        && answer[4..6] == [0x80, 0x01]
        && answer[7] == 3
        && answer.windows(method.len()).any(|w| w == method.as_bytes())
}

/// Fires every Thrift garbage kind at `port` (a server with frame cap `max` and connection cap
/// `cap`, served by `pids`), calling `healthy` (which panics with a reason when the daemon does not
/// answer correctly in time) after each kind.
fn thrift_garbage(
    name: &str,
    port: u16,
    max: u32,
    cap: usize,
    pids: &[i32],
    rng: &mut Rng,
    healthy: &mut dyn FnMut(&str),
) {
    let mut after = |kind: &str| {
        for pid in pids {
            assert!(alive(*pid), "{name} (pid {pid}) died after {kind}");
        }
        healthy(kind);
        eprintln!("{name}: survived {kind}");
    };
    // A half-open connection that never says anything, held through everything below.
    let silent = raw(port);

    // Truncated frames: a prefix promising more than is sent, then the peer goes.
    throw_and_vanish(port, &[0, 0, 0x03, 0xe8, 1, 2, 3, 4, 5]);
    throw(
        port,
        "a truncated frame",
        &[0, 0, 0x03, 0xe8, 0x80, 0x01, 0, 1],
    );
    throw(port, "a truncated length prefix", &[0, 0]);
    let promises = promise_without_paying(port, max, (cap / 2).max(1), pids);
    drop(promises);
    after("truncated frames");

    // Oversized frames: refused from the prefix alone (a 2 GiB one would not fit in memory).
    refused(
        port,
        "a frame one byte over the cap",
        &(max + 1).to_be_bytes(),
    );
    let mut big = 0x7fff_ffffu32.to_be_bytes().to_vec();
    big.extend(rng.bytes(64));
    refused(port, "a 2 GiB frame", &big);
    after("oversized frames");

    // Zero and negative lengths.
    refused(port, "a zero-length frame", &[0, 0, 0, 0]);
    refused(port, "a negative length", &(-1i32).to_be_bytes());
    refused(port, "i32::MIN as length", &i32::MIN.to_be_bytes());
    after("zero and negative lengths");

    // Random bytes, and random bytes under a valid frame header.
    for _ in 0..12 {
        let n = 1 + rng.below(2048);
        throw(port, "random bytes", &rng.bytes(n));
        let n = 1 + rng.below(2048);
        throw(port, "a frame of random bytes", &framed(&rng.bytes(n)));
    }
    after("random bytes");

    // Valid frame headers around garbage Thrift messages.
    let mut string_2g = vec![11u8, 0, 1];
    string_2g.extend_from_slice(&0x7fff_fff0i32.to_be_bytes());
    let mut map_2g = vec![13u8, 0, 1, 11, 11];
    map_2g.extend_from_slice(&i32::MAX.to_be_bytes());
    let mut list_2g = vec![15u8, 0, 1, 12];
    list_2g.extend_from_slice(&i32::MAX.to_be_bytes());
    let mut deep_structs = Vec::new();
    for _ in 0..20_000 {
        deep_structs.extend_from_slice(&[12, 0, 1]);
    }
    let mut deep_lists = vec![15u8, 0, 1];
    for _ in 0..20_000 {
        deep_lists.extend_from_slice(&[15, 0, 0, 0, 1]);
    }
    let mut huge_name = 0x8001_0001u32.to_be_bytes().to_vec();
    huge_name.extend_from_slice(&0x7fff_ff00i32.to_be_bytes());
    huge_name.extend_from_slice(b"getCl");
    let mut old_style_huge_name = 0x7fff_0000i32.to_be_bytes().to_vec();
    old_style_huge_name.extend_from_slice(b"get");
    for (what, frame) in [
        (
            "a 2 GiB string argument",
            call(0x8001, "getClusterInfo", &string_2g),
        ),
        (
            "a map of 2^31 entries",
            call(0x8001, "getClusterInfo", &map_2g),
        ),
        (
            "a list of 2^31 structs",
            call(0x8001, "getClusterInfo", &list_2g),
        ),
        (
            "20000 nested structs",
            call(0x8001, "getClusterInfo", &deep_structs),
        ),
        (
            "20000 nested lists",
            call(0x8001, "getClusterInfo", &deep_lists),
        ),
        (
            "nested structs in a nullable-string call",
            call(0x8001, "getSupervisorPageInfo", &deep_structs),
        ),
        ("a name of 2 GiB", framed(&huge_name)),
        ("an old-style name of 2 GiB", framed(&old_style_huge_name)),
        (
            "an unknown field type",
            call(0x8001, "getClusterInfo", &[0x42, 0, 1, 1, 2, 3]),
        ),
        (
            "a truncated message",
            call(0x8001, "getClusterInfo", &[11, 0, 1, 0, 0]),
        ),
    ] {
        throw(port, what, &frame);
    }
    // An unknown method is a clean exception, and the connection stays usable.
    let answer = throw(
        port,
        "an unknown method",
        &call(0x8001, "noSuchMethod", &[0]),
    );
    assert!(
        is_exception_reply(&answer, "noSuchMethod"),
        "{name}: an unknown method gets a TApplicationException: {answer:02x?}"
    );
    after("garbage Thrift messages");

    // A wrong protocol version: an exception naming the call, or a closed connection.
    for version in [0x8002u16, 0x8000, 0xffff] {
        let answer = throw(
            port,
            "a wrong protocol version",
            &call(version, "getClusterInfo", &[0]),
        );
        assert!(
            answer.is_empty() || is_exception_reply(&answer, "getClusterInfo"),
            "{name}: version {version:#06x} answered with {answer:02x?}"
        );
    }
    after("a wrong protocol version");

    // Half-open connections: a prefix then silence, and the silent one opened first.
    let mut half = raw(port);
    feed(&mut half, &64u32.to_be_bytes());
    after("half-open silent connections");
    drop(half);
    drop(silent);

    // More connections at once than the server takes.
    let held = flood(port, cap);
    drop(held);
    after("more connections than the cap");
}

// ---- the cluster ------------------------------------------------------------------------------------

use crate::cluster_support::empty_jar;

/// The value of `-c key=VALUE` on a daemon's command line.
fn cmdline_option(pid: i32, key: &str) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let prefix = format!("{key}=");
    raw.split(|b| *b == 0)
        .filter_map(|a| std::str::from_utf8(a).ok())
        .find_map(|a| a.strip_prefix(&prefix).map(str::to_string))
}

fn curl(url: &str) -> (u16, String) {
    let out = std::process::Command::new("curl")
        .args(["-s", "-m", "15", "-w", "\n%{http_code}", url])
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// Waits for `f` to succeed within [`ANSWER`], panicking with its last error and `logs`.
fn answers(what: &str, logs: &dyn Fn() -> String, mut f: impl FnMut() -> Result<(), String>) {
    let mut last = String::new();
    if !wait_until_ok(ANSWER, || match f() {
        Ok(()) => true,
        Err(e) => {
            last = e;
            false
        }
    }) {
        panic!(
            "{what}: no correct answer within {ANSWER:?}: {last}\n{}",
            logs()
        );
    }
}

#[test]
fn garbage_frames_leave_every_daemon_serving_and_the_counts_exact() {
    let mut rng = Rng::from_env("garbage_frames");
    let (rpc, inv, http) = (free_port(), free_port(), free_port());
    let (rpc_s, inv_s, http_s) = (rpc.to_string(), inv.to_string(), http.to_string());
    let (nt, st, dt, dq, it) = (
        NIMBUS_THREADS.to_string(),
        SUPERVISOR_THREADS.to_string(),
        DRPC_THREADS.to_string(),
        DRPC_QUEUE.to_string(),
        INVOCATION_THREADS.to_string(),
    );
    let max = MAX_FRAME.to_string();
    let mut c = TestCluster::start(
        "garbage",
        &[
            ("nimbus.thrift.threads", &nt),
            ("nimbus.thrift.max_buffer_size", &max),
            ("supervisor.thrift.threads", &st),
            ("supervisor.thrift.max_buffer_size", &max),
            ("drpc.max_buffer_size", &max),
            ("drpc.servers", r#"["127.0.0.1"]"#),
            ("drpc.port", &rpc_s),
            ("drpc.invocations.port", &inv_s),
            ("drpc.http.port", &http_s),
            ("drpc.worker.threads", &dt),
            ("drpc.queue.size", &dq),
            ("drpc.invocations.threads", &it),
            ("drpc.request.timeout.secs", "30"),
        ],
    );
    c.add_drpc();
    c.add_supervisor(2);
    c.wait_supervisors(1);

    let data = c.dir.join("data");
    let limit = 400;
    let mut b = crate::cluster_support::ledger_word_count(&data, limit, 15);
    b.set_spout("drpc", DRPCSpout::new("exclamation"), 1);
    b.set_basic_bolt("exclaim", ExclaimBolt::failing_on("bad"), 1)
        .shuffle_grouping("drpc");
    b.set_bolt("return", ReturnResults::new(), 1)
        .shuffle_grouping("exclaim");
    let mut conf = TopologyConf::new();
    conf.set_num_workers(2).set_max_spout_pending(200);
    storm::submitter::submit_to_cluster(
        &c.conf(),
        "garbage",
        &conf,
        &b.create_topology().unwrap(),
        &empty_jar(&c.dir),
    )
    .unwrap_or_else(|e| panic!("submit: {e}\n{}", c.logs()));
    let id = c
        .topology_id("garbage")
        .expect("the topology is in /storms");
    wait_until(Duration::from_secs(90), "both workers to heartbeat", || {
        c.state().worker_heartbeats(&id).unwrap().len() == 2
    });
    let mut first = (0, String::new());
    wait_until(Duration::from_secs(60), "the first DRPC answer", || {
        first = curl(&format!("http://127.0.0.1:{http}/drpc/exclamation/ready"));
        first == (200, "ready!".to_string())
    });

    let nimbus_pid = c.nimbuses[0].pid();
    let supervisor_pid = c.supervisors[0].pid();
    let drpc_pid = c.others[0].pid();
    let worker_pids = c.supervisors[0].worker_pids();
    assert_eq!(worker_pids.len(), 2, "two workers");
    let slot_ports: Vec<u16> = c.slots(&id).into_iter().map(|s| s.1 as u16).collect();
    let supervisor_port: u16 = cmdline_option(supervisor_pid, "supervisor.thrift.port")
        .and_then(|p| p.parse().ok())
        .expect("the supervisor's thrift port on its command line");
    let cluster_logs = || c.logs();

    // ---- the workers' messaging ports (while the spouts still emit) ----
    let intruders: Vec<WireMessage> = (1..=16)
        .map(|task| WireMessage {
            dest: task,
            source_task: 1,
            stream: "default".into(),
            anchors: vec![],
            values: vec![Value::from("intruder")],
        })
        .collect();
    let valid = encode_frame(&intruders).unwrap();
    for port in &slot_ports {
        let port = *port;
        let worker_check = |kind: &str| {
            for pid in &worker_pids {
                assert!(alive(*pid), "worker {pid} died after {kind}");
            }
            eprintln!("worker {port}: survived {kind}");
        };
        let silent = raw(port);
        throw_and_vanish(port, &[0, 0, 0x03, 0xe8, 1, 2, 3]);
        // A whole valid frame but its last byte: never completed, never decoded.
        throw(
            port,
            "a frame missing its last byte",
            &valid[..valid.len() - 1],
        );
        let held = promise_without_paying(port, WORKER_MAX_FRAME, 24, &worker_pids);
        drop(held);
        worker_check("truncated frames");
        refused(
            port,
            "a frame over the cap",
            &(WORKER_MAX_FRAME + 1).to_be_bytes(),
        );
        refused(port, "a 4 GiB frame", &[0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
        worker_check("oversized frames");
        refused(port, "a zero-length frame", &[0, 0, 0, 0]);
        refused(port, "a frame of 2^32-1 runs", &framed(&[0xff; 64]));
        worker_check("zero lengths and count bombs");
        // Valid tuples followed by a corrupt run in the same frame: the whole frame is dropped.
        let mut poisoned = valid[4..].to_vec();
        let runs = u32::from_be_bytes(poisoned[..4].try_into().unwrap());
        poisoned[..4].copy_from_slice(&(runs + 1).to_be_bytes());
        // dest 1, source 1, a stream id of 65535 bytes that is not there.
        poisoned.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0xff, b'x']);
        refused(port, "valid tuples then a corrupt run", &framed(&poisoned));
        let mut trailing = valid[4..].to_vec();
        trailing.push(0);
        refused(
            port,
            "valid tuples then a trailing byte",
            &framed(&trailing),
        );
        for _ in 0..12 {
            let n = 1 + rng.below(4096);
            throw(port, "random bytes", &rng.bytes(n));
            let n = 1 + rng.below(4096);
            throw(port, "a frame of random bytes", &framed(&rng.bytes(n)));
        }
        worker_check("garbage payloads and random bytes");
        let mut many: Vec<TcpStream> = (0..64).map(|_| raw(port)).collect();
        for s in &mut many {
            let _ = s.write_all(&rng.bytes(16));
        }
        drop(many);
        drop(silent);
        worker_check("many connections and half-open ones");
    }
    assert_eq!(
        c.supervisors[0].worker_pids(),
        worker_pids,
        "no worker was restarted"
    );

    // ---- nimbus ----
    let nimbus_port = c.nimbus_port;
    thrift_garbage(
        "nimbus",
        nimbus_port,
        MAX_FRAME,
        NIMBUS_THREADS,
        &[nimbus_pid],
        &mut rng,
        &mut |kind| {
            answers(&format!("nimbus after {kind}"), &cluster_logs, || {
                let mut client = storm::client::NimbusClient::connect(
                    &format!("127.0.0.1:{nimbus_port}"),
                    ANSWER,
                    &storm::client::ClientTransport::Simple,
                )
                .map_err(|e| e.to_string())?;
                let info = client.raw().get_cluster_info().map_err(|e| e.to_string())?;
                let t = info
                    .topologies
                    .iter()
                    .find(|t| t.name == "garbage")
                    .ok_or("the topology is not listed")?;
                (t.status == "ACTIVE" && info.supervisors.len() == 1)
                    .then_some(())
                    .ok_or(format!("wrong cluster info: {info:?}"))
            })
        },
    );

    // ---- the supervisor's Thrift service ----
    let beat = SupervisorWorkerHeartbeat::new(
        id.clone(),
        vec![ExecutorInfo::new(1, 1)],
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i32,
    );
    thrift_garbage(
        "supervisor",
        supervisor_port,
        MAX_FRAME,
        SUPERVISOR_THREADS,
        &[supervisor_pid],
        &mut rng,
        &mut |kind| {
            answers(&format!("supervisor after {kind}"), &cluster_logs, || {
                let (i, o) = storm::client::connect(
                    &format!("127.0.0.1:{supervisor_port}"),
                    ANSWER,
                    &storm::client::ClientTransport::Simple,
                )
                .map_err(|e| e.to_string())?;
                SupervisorSyncClient::new(i, o)
                    .send_supervisor_worker_heartbeat(beat.clone())
                    .map_err(|e| e.to_string())
            })
        },
    );

    // ---- drpc: drpc.port, drpc.invocations.port ----
    let mut n = 0;
    thrift_garbage(
        "drpc",
        rpc,
        MAX_FRAME,
        DRPC_THREADS + DRPC_QUEUE,
        &[drpc_pid],
        &mut rng,
        &mut |kind| {
            answers(&format!("drpc.port after {kind}"), &cluster_logs, || {
                n += 1;
                let (i, o) = storm::client::connect(
                    &format!("127.0.0.1:{rpc}"),
                    ANSWER,
                    &storm::client::ClientTransport::Simple,
                )
                .map_err(|e| e.to_string())?;
                let got = DistributedRPCSyncClient::new(i, o)
                    .execute("exclamation".into(), format!("thrift{n}"))
                    .map_err(|e| e.to_string())?;
                (got == format!("thrift{n}!"))
                    .then_some(())
                    .ok_or(format!("wrong answer {got:?}"))
            })
        },
    );
    thrift_garbage(
        "drpc-invocations",
        inv,
        MAX_FRAME,
        INVOCATION_THREADS,
        &[drpc_pid],
        &mut rng,
        &mut |kind| {
            answers(
                &format!("drpc.invocations.port after {kind}"),
                &cluster_logs,
                || {
                    let (i, o) = storm::client::connect(
                        &format!("127.0.0.1:{inv}"),
                        ANSWER,
                        &storm::client::ClientTransport::Simple,
                    )
                    .map_err(|e| e.to_string())?;
                    let r = DistributedRPCInvocationsSyncClient::new(i, o)
                        .fetch_request("nobody-serves-this".into())
                        .map_err(|e| e.to_string())?;
                    (r.request_id.is_empty() && r.func_args.is_empty())
                        .then_some(())
                        .ok_or(format!("wrong answer {r:?}"))
                },
            );
            // And the topology still gets its requests through this port.
            answers(
                "a DRPC request through the topology",
                &cluster_logs,
                || match curl(&format!("http://127.0.0.1:{http}/drpc/exclamation/inv")) {
                    (200, body) if body == "inv!" => Ok(()),
                    other => Err(format!("{other:?}")),
                },
            );
        },
    );

    // ---- drpc's HTTP port ----
    http_garbage(http, drpc_pid, &mut rng, &cluster_logs);

    // ---- the topology's results: exact, nothing injected counted ----
    let expected = expected_counts(limit, 2);
    let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until(
            Duration::from_secs(60),
            "the word counts to be complete",
            || read_counts(&data) == expected,
        )
    }));
    assert!(
        ok.is_ok(),
        "counts {:?}, expected {expected:?}\n{}",
        read_counts(&data),
        c.logs()
    );
    assert!(!read_counts(&data).contains_key("intruder"));
    assert_eq!(
        c.supervisors[0].worker_pids(),
        worker_pids,
        "no worker was restarted"
    );
    for (name, pid) in [
        ("nimbus", nimbus_pid),
        ("supervisor", supervisor_pid),
        ("drpc", drpc_pid),
    ] {
        assert!(alive(pid), "{name} is alive at the end");
    }
    let log = daemon_logs(&c.dir);
    assert!(
        log.contains("closing worker connection") && log.contains("bad frame"),
        "the workers log the connections they close"
    );
}

/// Every `worker.log` and daemon `stderr.txt` under `dir`, concatenated.
fn daemon_logs(dir: &Path) -> String {
    let mut out = String::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .file_name()
                .is_some_and(|n| n == "worker.log" || n == "stderr.txt")
            {
                out.push_str(&std::fs::read_to_string(&p).unwrap_or_default());
            }
        }
    }
    out
}

/// Garbage HTTP at drpc's HTTP port; after each kind `curl` gets a correct DRPC answer.
fn http_garbage(port: u16, pid: i32, rng: &mut Rng, logs: &dyn Fn() -> String) {
    let mut n = 0;
    let mut after = |kind: &str| {
        assert!(alive(pid), "drpc died after {kind}");
        n += 1;
        let arg = format!("http{n}");
        answers(&format!("drpc HTTP after {kind}"), logs, || {
            match curl(&format!("http://127.0.0.1:{port}/drpc/exclamation/{arg}")) {
                (200, body) if body == format!("{arg}!") => Ok(()),
                other => Err(format!("{other:?}")),
            }
        });
        eprintln!("drpc http: survived {kind}");
    };
    let silent = raw(port);
    throw_and_vanish(port, b"GET /drpc/exclam");
    throw(
        port,
        "a truncated request line",
        b"GET /drpc/exclamation/x HTT",
    );
    throw(
        port,
        "a truncated body",
        b"POST /drpc/exclamation HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc",
    );
    after("truncated requests");
    let answer = throw(
        port,
        "a body over drpc.max_buffer_size",
        b"POST /drpc/exclamation HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\nabc",
    );
    let text = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || text.starts_with("HTTP/1.1 "),
        "an oversized content length: {text}"
    );
    throw(
        port,
        "a negative content length",
        b"POST /drpc/exclamation HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\nabc",
    );
    throw(
        port,
        "a chunk of 2^64-1 bytes",
        b"POST /drpc/exclamation HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nabc",
    );
    after("oversized and negative lengths");
    for _ in 0..12 {
        let len = 1 + rng.below(2048);
        throw(port, "random bytes", &rng.bytes(len));
        let mut req = b"GET /drpc/exclamation/".to_vec();
        req.extend(rng.bytes(64));
        req.extend_from_slice(b" HTTP/1.1\r\n");
        req.extend(rng.bytes(256));
        req.extend_from_slice(b"\r\n\r\n");
        throw(port, "a request line and headers of random bytes", &req);
    }
    throw(port, "a Thrift frame", &call(0x8001, "execute", &[0]));
    throw(port, "an unknown HTTP version", b"GET / HTTP/9.9\r\n\r\n");
    throw(
        port,
        "a non-ASCII header",
        b"GET / HTTP/1.1\r\nX: \xff\xfe\r\n\r\n",
    );
    after("random bytes");
    let held: Vec<TcpStream> = (0..64).map(|_| raw(port)).collect();
    after("64 silent connections");
    drop(held);
    drop(silent);
    after("half-open connections closed");
}

// ---- the SASL nimbus ------------------------------------------------------------------------------

fn jaas(dir: &Path) -> PathBuf {
    let path = dir.join("jaas.conf");
    std::fs::write(
        &path,
        r#"StormServer {
    org.apache.storm.security.auth.digest.DigestLoginModule required
    user_bob="bob-secret";
};
StormClient {
    org.apache.storm.security.auth.digest.DigestLoginModule required
    username="bob"
    password="bob-secret";
};
"#,
    )
    .unwrap();
    path
}

/// A SASL negotiation message: status byte, 4-byte length, payload.
fn sasl(status: u8, payload: &[u8]) -> Vec<u8> {
    let mut m = vec![status];
    m.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    m.extend_from_slice(payload);
    m
}

/// Opens a connection and runs the client's first two steps of DIGEST-MD5; returns it once the
/// server's challenge has arrived.
fn sasl_challenged(port: u16) -> TcpStream {
    let mut s = raw(port);
    s.write_all(&sasl(1, b"DIGEST-MD5")).unwrap();
    s.write_all(&sasl(2, b"")).unwrap();
    s.set_read_timeout(Some(ANSWER)).unwrap();
    let mut head = [0u8; 5];
    s.read_exact(&mut head).expect("the server's challenge");
    assert_eq!(head[0], 2, "an OK with the challenge");
    let mut challenge = vec![0u8; u32::from_be_bytes(head[1..].try_into().unwrap()) as usize];
    s.read_exact(&mut challenge).unwrap();
    assert!(String::from_utf8_lossy(&challenge).contains("nonce="));
    s
}

/// The server refused the negotiation: it answered ERROR or BAD (or nothing) and closed.
fn sasl_refused(s: TcpStream, what: &str) {
    let (answer, closed) = outcome(s, ANSWER);
    assert!(closed, "nimbus kept the connection open after {what}");
    assert!(
        answer.is_empty() || matches!(answer[0], 3 | 4),
        "{what}: answered {answer:02x?}"
    );
}

#[test]
fn garbage_sasl_negotiation_leaves_a_digest_nimbus_serving() {
    let mut rng = Rng::from_env("garbage_sasl");
    let dir = scratch_dir("garbage-sasl-jaas");
    let jaas = jaas(&dir);
    let transport = format!("{DIGEST:?}");
    let jaas_value = format!("{:?}", jaas.display().to_string());
    let threads = "6";
    let c = TestCluster::start(
        "garbage-sasl",
        &[
            ("storm.thrift.transport", &transport),
            ("java.security.auth.login.config", &jaas_value),
            ("nimbus.thrift.threads", threads),
        ],
    );
    let port = c.nimbus_port;
    let pid = c.nimbuses[0].pid();
    let logs = || c.logs();
    let after = |kind: &str| {
        assert!(alive(pid), "nimbus died after {kind}");
        answers(&format!("a SASL client after {kind}"), &logs, || {
            let mut client = storm::client::NimbusClient::connect_leader(&c.conf())
                .map_err(|e| e.to_string())?;
            let info = client.raw().get_cluster_info().map_err(|e| e.to_string())?;
            info.topologies
                .is_empty()
                .then_some(())
                .ok_or(format!("wrong cluster info {info:?}"))
        });
        eprintln!("sasl nimbus: survived {kind}");
    };
    after("nothing");
    // Silent from the start: the handshake deadline closes it (checked at the end).
    let silent_since = Instant::now();
    let silent = raw(port);

    // Bad status bytes.
    for status in [0u8, 6, 0x80, 0xff] {
        refused(port, "a bad status byte", &sasl(status, b"DIGEST-MD5"));
    }
    after("bad status bytes");
    // Huge negotiation payload lengths: refused from the length.
    for len in [u32::MAX, 0x7fff_ffff, 8193] {
        let mut m = vec![1u8];
        m.extend_from_slice(&len.to_be_bytes());
        m.extend_from_slice(b"DIGEST-MD5");
        sasl_refused(
            {
                let mut s = raw(port);
                s.write_all(&m).unwrap();
                s
            },
            "a huge START payload",
        );
        let mut s = sasl_challenged(port);
        let mut m = vec![2u8];
        m.extend_from_slice(&len.to_be_bytes());
        m.extend_from_slice(b"username=");
        s.write_all(&m).unwrap();
        sasl_refused(s, "a huge response length");
    }
    after("huge SASL payload lengths");
    // Truncated DIGEST-MD5 responses: a length promising more than is sent, and a response whose
    // text stops half way.
    let mut s = sasl_challenged(port);
    let mut m = vec![2u8];
    m.extend_from_slice(&300u32.to_be_bytes());
    m.extend_from_slice(b"username=\"bob\",realm=\"localhost\",nonce=\"");
    s.write_all(&m).unwrap();
    sasl_refused(s, "a truncated response frame");
    let mut s = sasl_challenged(port);
    s.write_all(&sasl(
        2,
        b"username=\"bob\",realm=\"localhost\",nonce=\"abc",
    ))
    .unwrap();
    sasl_refused(s, "a truncated response text");
    let mut s = sasl_challenged(port);
    s.write_all(&[2, 0, 0]).unwrap();
    sasl_refused(s, "a truncated message header");
    after("truncated DIGEST-MD5 responses");
    // Random responses, random negotiation messages, a wrong mechanism.
    for _ in 0..10 {
        let mut s = sasl_challenged(port);
        let n = rng.below(600);
        s.write_all(&sasl(2, &rng.bytes(n))).unwrap();
        sasl_refused(s, "a random response");
        let n = rng.below(600);
        throw(port, "random negotiation bytes", &rng.bytes(n + 1));
    }
    sasl_refused(
        {
            let mut s = raw(port);
            s.write_all(&sasl(1, b"PLAIN")).unwrap();
            s
        },
        "a wrong mechanism",
    );
    let mut s = sasl_challenged(port);
    s.write_all(&sasl(5, b"")).unwrap();
    sasl_refused(s, "an empty COMPLETE as the response");
    after("random responses");
    // A plain Thrift client's frames at a SASL server.
    refused(
        port,
        "a plain Thrift call",
        &call(0x8001, "getClusterInfo", &[0]),
    );
    after("plain Thrift frames");
    // More connections at once than nimbus.thrift.threads, all silent in the handshake.
    let held = flood(port, threads.parse().unwrap());
    drop(held);
    after("more connections than the cap");
    // The silent one was closed at the handshake deadline (10 s), not held forever.
    assert!(
        closed_by_daemon(&silent, Duration::from_secs(20)),
        "a silent connection held for {:?} was not closed",
        silent_since.elapsed()
    );
    after("a silent handshake");
}
