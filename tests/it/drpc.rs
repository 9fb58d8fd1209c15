//! The real `drpc` daemon against outside clients: curl and a raw HTTP client, a Python Thrift client
//! (thriftpy2 with streamparse's storm.thrift, `tests/python/drpc_client.py`) and storm-rs's own Thrift
//! clients. A "topology" thread in the test answers `exclamation` requests through
//! `DistributedRPCInvocations` with `args + "!"`, failing the ones whose args are `bad`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use storm::client::{InProto, OutProto};
use storm::thrift::{
    DRPCExceptionType, DRPCExecutionException, DistributedRPCInvocationsSyncClient,
    DistributedRPCSyncClient, TDistributedRPCInvocationsSyncClient, TDistributedRPCSyncClient,
};

use crate::support::{free_port, python, repo, scratch_dir, spawn_daemon, wait_until};

const TIMEOUT_SECS: u64 = 2;

/// A `drpc` process on free loopback ports; killed on drop.
struct DrpcProc {
    child: Child,
    rpc: u16,
    invocations: u16,
    http: u16,
    dir: PathBuf,
}

impl DrpcProc {
    fn start(name: &str, extra: &[String]) -> DrpcProc {
        let dir = scratch_dir(&format!("drpc-{name}"));
        let (rpc, invocations, http) = (free_port(), free_port(), free_port());
        let child = spawn(&dir, rpc, invocations, http, extra);
        let mut d = DrpcProc {
            child,
            rpc,
            invocations,
            http,
            dir,
        };
        wait_until(
            Duration::from_secs(20),
            "drpc to listen on its three ports",
            || {
                if let Ok(Some(status)) = d.child.try_wait() {
                    panic!("drpc exited early ({status}):\n{}", d.stderr());
                }
                [d.rpc, d.invocations, d.http]
                    .iter()
                    .all(|p| TcpStream::connect(("127.0.0.1", *p)).is_ok())
            },
        );
        d
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.txt")).unwrap_or_default()
    }

    fn rpc_client(&self) -> DistributedRPCSyncClient<InProto, OutProto> {
        let (i, o) = storm::client::connect(
            &format!("127.0.0.1:{}", self.rpc),
            Duration::from_secs(30),
            &storm::client::ClientTransport::Simple,
        )
        .expect("connect to drpc.port");
        DistributedRPCSyncClient::new(i, o)
    }

    fn invocations_client(&self) -> DistributedRPCInvocationsSyncClient<InProto, OutProto> {
        let (i, o) = storm::client::connect(
            &format!("127.0.0.1:{}", self.invocations),
            Duration::from_secs(30),
            &storm::client::ClientTransport::Simple,
        )
        .expect("connect to drpc.invocations.port");
        DistributedRPCInvocationsSyncClient::new(i, o)
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http)
    }
}

impl Drop for DrpcProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn spawn(
    dir: &std::path::Path,
    rpc: u16,
    inv: u16,
    http: u16,
    extra: &[String],
) -> Child {
    let stderr = std::fs::File::create(dir.join("stderr.txt")).unwrap();
    let mut args = vec![
        format!("drpc.port={rpc}"),
        format!("drpc.invocations.port={inv}"),
        format!("drpc.http.port={http}"),
        format!("storm.log.dir={}", dir.join("logs").display()),
        format!("storm.local.dir={}", dir.join("local").display()),
        format!("drpc.request.timeout.secs={TIMEOUT_SECS}"),
    ];
    args.extend(extra.iter().cloned());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_drpc"));
    for a in &args {
        cmd.arg("-c").arg(a);
    }
    spawn_daemon(&mut cmd, dir, stderr)
}

/// The test's "topology": polls `fetchRequest(function)` and answers `args + "!"`, or `failRequest` for
/// `bad`. Stops on drop.
struct Topology {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<usize>>,
}

impl Topology {
    fn start(d: &DrpcProc, function: &str) -> Topology {
        let mut client = d.invocations_client();
        let stop = Arc::new(AtomicBool::new(false));
        let (stop2, function) = (stop.clone(), function.to_string());
        let handle = std::thread::spawn(move || {
            let mut answered = 0;
            while !stop2.load(Ordering::SeqCst) {
                let req = match client.fetch_request(function.clone()) {
                    Ok(r) => r,
                    Err(_) => break, // the daemon went away
                };
                if req.request_id.is_empty() {
                    // Nothing queued: poll again shortly (this is the DRPCSpout's loop, not a wait).
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
                let sent = if req.func_args == "bad" {
                    client.fail_request(req.request_id)
                } else {
                    client.result(req.request_id, format!("{}!", req.func_args))
                };
                if sent.is_err() {
                    break;
                }
                answered += 1;
            }
            answered
        });
        Topology {
            stop,
            handle: Some(handle),
        }
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// A minimal HTTP/1.1 client: (status, body). `None` when the connection closed without a response.
fn http(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// `curl -s` with the status appended on its own line: (status, body).
fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "30", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').expect("curl output with a status");
    (status.trim().parse().expect("a status"), body.to_string())
}

fn drpc_error(e: thrift::Error) -> DRPCExecutionException {
    match e {
        thrift::Error::User(u) => u
            .downcast_ref::<DRPCExecutionException>()
            .expect("a DRPCExecutionException")
            .clone(),
        other => panic!("expected a DRPCExecutionException, got {other:?}"),
    }
}

#[test]
fn drpc_serves_http_thrift_and_python_clients() {
    // The 200 concurrent requests below may all be queued at once before the topology fetches them.
    let d = DrpcProc::start("serve", &["drpc.queue.size=256".to_string()]);
    let _topology = Topology::start(&d, "exclamation");

    // (a) curl: GET with args, GET without args, POST.
    assert_eq!(
        curl(&[&d.url("/drpc/exclamation/hello")]),
        (200, "hello!".into())
    );
    assert_eq!(
        curl(&[&d.url("/drpc/exclamation/hello%20world")]),
        (200, "hello world!".into())
    );
    assert_eq!(curl(&[&d.url("/drpc/exclamation")]), (200, "!".into()));
    assert_eq!(
        curl(&[
            "-X",
            "POST",
            "--data-binary",
            "posted body",
            &d.url("/drpc/exclamation")
        ]),
        (200, "posted body!".into())
    );
    let (status, body) = curl(&[&d.url("/not/drpc")]);
    assert_eq!(status, 404, "{body}");

    // (e) a failed request: 400 with FAILED_REQUEST.
    let (status, body) = curl(&[&d.url("/drpc/exclamation/bad")]);
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        json(&body),
        serde_json::json!({"error": "FAILED_REQUEST", "errorMessage": "Request failed"})
    );

    // storm-rs's Thrift client on drpc.port: a result and a declared exception on one connection.
    let mut c = d.rpc_client();
    assert_eq!(
        c.execute("exclamation".into(), "thrift".into()).unwrap(),
        "thrift!"
    );
    let e = drpc_error(c.execute("exclamation".into(), "bad".into()).unwrap_err());
    assert_eq!(
        (e.msg.as_str(), e.type_),
        ("Request failed", Some(DRPCExceptionType::FAILED_REQUEST))
    );

    // (b) Python (thriftpy2 + streamparse's storm.thrift) over framed binary Thrift.
    let script = repo().join("tests/python/drpc_client.py");
    let py = |args: &str| {
        Command::new(python())
            .arg(&script)
            .args(["127.0.0.1", &d.rpc.to_string(), "exclamation", args])
            .output()
            .expect("run drpc_client.py")
    };
    let out = py("hello");
    assert!(
        out.status.success(),
        "drpc_client.py failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello!\n");
    let out = py("bad");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "DRPCExecutionException: Request failed\n"
    );

    // (c) 200 concurrent HTTP requests, each with its own args, each gets its own answer.
    let n = 200;
    let barrier = Arc::new(std::sync::Barrier::new(n));
    let port = d.http;
    let clients: Vec<_> = (0..n)
        .map(|i| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                (
                    i,
                    http(port, "GET", &format!("/drpc/exclamation/req-{i}"), ""),
                )
            })
        })
        .collect();
    for c in clients {
        let (i, got) = c.join().unwrap();
        assert_eq!(got, Some((200, format!("req-{i}!"))), "request {i}");
    }
}

#[test]
fn drpc_times_out_requests_nobody_answers() {
    let d = DrpcProc::start("timeout", &[]);
    // (d) no topology for this function: 504 after drpc.request.timeout.secs.
    let started = Instant::now();
    let got = http(d.http, "GET", "/drpc/nobody/x", "").expect("a response");
    let elapsed = started.elapsed();
    assert_eq!(got.0, 504, "{}", got.1);
    assert_eq!(
        json(&got.1),
        serde_json::json!({"error": "SERVER_TIMEOUT", "errorMessage": "Timed Out"})
    );
    assert!(
        elapsed >= Duration::from_secs(TIMEOUT_SECS) && elapsed < Duration::from_secs(10),
        "timed out after {elapsed:?}"
    );
    // The same over Thrift; the request is gone afterwards (a topology arriving late finds nothing).
    let e = drpc_error(
        d.rpc_client()
            .execute("nobody".into(), "y".into())
            .unwrap_err(),
    );
    assert_eq!(
        (e.msg.as_str(), e.type_),
        ("Timed Out", Some(DRPCExceptionType::SERVER_TIMEOUT))
    );
    let req = d
        .invocations_client()
        .fetch_request("nobody".into())
        .unwrap();
    assert_eq!((req.func_args.as_str(), req.request_id.as_str()), ("", ""));
}

#[test]
fn drpc_sigterm_fails_outstanding_requests_and_exits_0() {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    // A longer timeout so the requests are surely still outstanding at SIGTERM.
    let mut d = DrpcProc::start("sigterm", &["drpc.request.timeout.secs=60".to_string()]);
    let port = d.http;
    let http_client = std::thread::spawn(move || http(port, "GET", "/drpc/pending/x", ""));
    let mut rpc = d.rpc_client();
    let thrift_client = std::thread::spawn(move || rpc.execute("pending".into(), "y".into()));
    // A topology that fetches both requests and never answers: proof that they are outstanding.
    let mut topo = d.invocations_client();
    let mut fetched = Vec::new();
    wait_until(
        Duration::from_secs(20),
        "both requests to be fetched",
        || {
            let r = topo.fetch_request("pending".into()).unwrap();
            if !r.request_id.is_empty() {
                fetched.push(r.func_args);
            }
            fetched.len() == 2
        },
    );
    fetched.sort();
    assert_eq!(fetched, ["x", "y"]);

    kill(Pid::from_raw(d.child.id() as i32), Signal::SIGTERM).unwrap();
    // HTTP clients get their 503 before the endpoint closes (shutdown drains them).
    let (status, body) = http_client
        .join()
        .unwrap()
        .expect("a 503 response, not a closed connection");
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        json(&body),
        serde_json::json!({"error": "SERVER_SHUTDOWN", "errorMessage": "Server Shutting Down"})
    );
    match thrift_client.join().unwrap() {
        Ok(r) => panic!("an outstanding request succeeded at shutdown: {r}"),
        Err(thrift::Error::User(u)) => {
            let e = u.downcast_ref::<DRPCExecutionException>().unwrap();
            assert_eq!(e.type_, Some(DRPCExceptionType::SERVER_SHUTDOWN));
        }
        Err(_) => {} // the connection was closed
    }
    let mut status = None;
    wait_until(
        Duration::from_secs(20),
        "drpc to exit after SIGTERM",
        || {
            status = d.child.try_wait().unwrap();
            status.is_some()
        },
    );
    assert_eq!(status.unwrap().code(), Some(0), "{}", d.stderr());
    let log = std::fs::read_to_string(d.dir.join("logs/drpc.log")).unwrap();
    assert!(log.contains("drpc stopped"), "{log}");
}

#[test]
fn drpc_port_in_use_is_a_clear_error() {
    let dir = scratch_dir("drpc-port-in-use");
    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut child = spawn(&dir, free_port(), port, free_port(), &[]);
    let mut status = None;
    wait_until(Duration::from_secs(20), "drpc to exit", || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    let stderr = std::fs::read_to_string(dir.join("stderr.txt")).unwrap();
    assert_ne!(status.unwrap().code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("drpc.invocations.port = {port}")) && stderr.contains("in use"),
        "{stderr}"
    );
}
