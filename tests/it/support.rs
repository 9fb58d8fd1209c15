//! Shared harness for the integration tests: one real ZooKeeper server per test run, isolation of each
//! test under its own `storm.zookeeper.root`, the Python interpreter with the outside clients, and
//! deadline-based waiting.
//!
//! The ZooKeeper server is started through `scripts/zookeeper.sh` on a free loopback port the first time a
//! test asks for it, watched by the script so it dies with this process, and stopped at exit.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A free TCP port on loopback (bound and released; good enough for tests on one machine).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A scratch directory under `target/` that survives the test (for post-mortem reading) until the next run.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = repo()
        .join("target/it-scratch")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A ZooKeeper server started with `scripts/zookeeper.sh`; stopped on drop.
pub struct ZkServer {
    pub port: u16,
    pub dir: PathBuf,
}

impl ZkServer {
    /// Starts a private server (tick 500 ms so short session timeouts are allowed).
    pub fn start(name: &str) -> ZkServer {
        init_logging();
        let port = free_port();
        let dir = scratch_dir(&format!("zk-{name}"));
        let server = ZkServer { port, dir };
        server.run_script("start");
        server
    }

    pub fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn run_script(&self, action: &str) {
        let mut cmd = Command::new(repo().join("scripts/zookeeper.sh"));
        cmd.arg(action).arg("--dir").arg(&self.dir);
        if action == "start" {
            cmd.args([
                "--port",
                &self.port.to_string(),
                "--tick",
                "500",
                "--watch-pid",
            ])
            .arg(std::process::id().to_string());
        }
        let out = cmd.output().expect("run scripts/zookeeper.sh");
        assert!(
            out.status.success(),
            "scripts/zookeeper.sh {action} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops the server, keeping its data (sessions and ephemerals survive a restart).
    pub fn stop(&self) {
        self.run_script("stop");
    }

    /// Starts it again on the same port and data.
    pub fn restart(&self) {
        self.run_script("start");
    }
}

impl Drop for ZkServer {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("scripts/zookeeper.sh"))
            .arg("stop")
            .arg("--dir")
            .arg(&self.dir)
            .output();
    }
}

static SHARED_ZK: OnceLock<ZkServer> = OnceLock::new();

extern "C" fn stop_shared_zk() {
    if let Some(zk) = SHARED_ZK.get() {
        let _ = Command::new(repo().join("scripts/zookeeper.sh"))
            .arg("stop")
            .arg("--dir")
            .arg(&zk.dir)
            .output();
    }
}

/// Routes the library's tracing output into the test output (shown for failing tests); `STORM_LOG`
/// sets the level (default `warn`).
pub fn init_logging() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_env("STORM_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}

/// The run's shared ZooKeeper server, started on first use and stopped when the test process exits.
pub fn zk() -> &'static ZkServer {
    init_logging();
    SHARED_ZK.get_or_init(|| {
        let zk = ZkServer::start("shared");
        // SAFETY: registering a plain `extern "C" fn` with atexit has no preconditions.
        unsafe { nix::libc::atexit(stop_shared_zk) };
        zk
    })
}

/// The shared server's connect string, e.g. `127.0.0.1:40123`.
pub fn zk_connect() -> String {
    zk().connect_string()
}

/// A fresh `storm.zookeeper.root` for one test, so tests sharing the server never see each other's nodes.
pub fn unique_root(name: &str) -> String {
    format!("/storm-test-{name}-{}", uuid::Uuid::new_v4().simple())
}

/// Polls `f` until it returns true; panics naming `what` when `deadline` passes.
pub fn wait_until(deadline: Duration, what: &str, f: impl FnMut() -> bool) {
    if !wait_until_ok(deadline, f) {
        panic!("timed out after {deadline:?} waiting for: {what}");
    }
}

/// Polls `f` until it returns true (then `true`) or `deadline` passes (then `false`).
pub fn wait_until_ok(deadline: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        if f() {
            return true;
        }
        if start.elapsed() > deadline {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// The Python interpreter of the test virtualenv (thriftpy2, streamparse, pystorm), created by
/// `scripts/test.sh`; `STORM_TEST_PYTHON` overrides it.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("STORM_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let p = repo().join("target/test-venv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run scripts/test.sh (it creates the test virtualenv with thriftpy2, streamparse and pystorm)",
        p.display()
    );
    p
}

/// The built `storm` binary.
pub fn storm_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_storm"))
}

/// Runs `storm ARGS…` in `cwd` and returns (exit code, stdout, stderr).
pub fn storm(cwd: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(storm_bin())
        .args(args)
        .current_dir(cwd)
        .env_remove("STORM_CONF_DIR")
        .env_remove("STORM_HOME")
        .output()
        .expect("run storm");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A TCP proxy in front of a ZooKeeper server that a test can cut: every connection through it is
/// dropped and new ones are refused until [`ZkProxy::restore`]. Cutting a client off for longer than its
/// session timeout makes the *server* expire the session, the way a real network partition does.
pub struct ZkProxy {
    port: u16,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl ZkProxy {
    pub fn start(upstream: &str) -> ZkProxy {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let conns = std::sync::Arc::new(std::sync::Mutex::new(Vec::<std::net::TcpStream>::new()));
        let (cut2, conns2, upstream) = (cut.clone(), conns.clone(), upstream.to_string());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if cut2.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = std::net::TcpStream::connect(&upstream) else {
                    continue;
                };
                let pipe = |mut from: std::net::TcpStream, mut to: std::net::TcpStream| {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                        let _ = from.shutdown(std::net::Shutdown::Both);
                    });
                };
                let mut registry = conns2.lock().unwrap();
                registry.push(client.try_clone().unwrap());
                registry.push(server.try_clone().unwrap());
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
        ZkProxy { port, cut, conns }
    }

    pub fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Drops every connection through the proxy and refuses new ones.
    pub fn cut(&self) {
        self.cut.store(true, std::sync::atomic::Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.cut.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for ZkProxy {
    fn drop(&mut self) {
        self.cut();
    }
}

/// Test certificates (PEM), made by `openssl`.
pub struct Certs {
    pub ca: PathBuf,
    /// Server certificate followed by its key: the `nimbus.thrift.tls.server.keystore.path` file.
    pub server_keystore: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A CA that signed nothing here.
    pub other_ca: PathBuf,
    pub dir: PathBuf,
}

pub fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run openssl (needed to make test certificates)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ec_req(dir: &Path, key: &str, subj: &str, extra: &[&str], out: &str) {
    let mut args = vec![
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        key,
        "-subj",
        subj,
        "-out",
        out,
    ];
    args.extend_from_slice(extra);
    openssl(dir, &args);
}

fn make_ca(dir: &Path, name: &str) {
    ec_req(
        dir,
        &format!("{name}.key"),
        &format!("/CN={name}"),
        &[
            "-x509",
            "-days",
            "2",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
        &format!("{name}.pem"),
    );
}

fn sign(dir: &Path, name: &str, subj: &str, ext: &str) {
    ec_req(
        dir,
        &format!("{name}.key"),
        subj,
        &[],
        &format!("{name}.csr"),
    );
    std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
            "-out",
            &format!("{name}.pem"),
        ],
    );
}

impl Certs {
    /// Cluster entries (TOML values) for nimbus serving mutual TLS only, on `tls_port`, with these
    /// certificates, and for every nimbus client (CLI, supervisors, workers, nimbus peers) speaking
    /// TLS with the client certificate.
    pub fn tls_only_nimbus_entries(&self, tls_port: u16) -> Vec<(String, String)> {
        let q = |p: &Path| format!("{:?}", p.display().to_string());
        [
            ("nimbus.thrift.tls.port", tls_port.to_string()),
            ("nimbus.thrift.tls.server.only", "true".into()),
            (
                "nimbus.thrift.tls.server.keystore.path",
                q(&self.server_keystore),
            ),
            ("nimbus.thrift.tls.server.truststore.path", q(&self.ca)),
            ("nimbus.thrift.client.use.tls", "true".into()),
            ("nimbus.thrift.tls.client.truststore.path", q(&self.ca)),
            ("nimbus.thrift.tls.client.cert.path", q(&self.client_cert)),
            ("nimbus.thrift.tls.client.key.path", q(&self.client_key)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    pub fn make(dir: &Path) -> Certs {
        let dir = dir.join("certs");
        std::fs::create_dir_all(&dir).unwrap();
        make_ca(&dir, "ca");
        make_ca(&dir, "other-ca");
        sign(
            &dir,
            "server",
            "/CN=localhost",
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
        );
        sign(
            &dir,
            "client",
            "/C=US/O=Storm Test/CN=alice",
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n",
        );
        let mut keystore = std::fs::read(dir.join("server.pem")).unwrap();
        keystore.extend(std::fs::read(dir.join("server.key")).unwrap());
        std::fs::write(dir.join("server-keystore.pem"), keystore).unwrap();
        Certs {
            ca: dir.join("ca.pem"),
            server_keystore: dir.join("server-keystore.pem"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client.key"),
            other_ca: dir.join("other-ca.pem"),
            dir,
        }
    }

    pub fn server_opts(&self, tls_port: u16) -> Vec<String> {
        vec![
            format!("nimbus.thrift.tls.port={tls_port}"),
            format!(
                "nimbus.thrift.tls.server.keystore.path={}",
                self.server_keystore.display()
            ),
            format!(
                "nimbus.thrift.tls.server.truststore.path={}",
                self.ca.display()
            ),
            // Short, so a silent client is dropped within the test.
            "storm.thrift.tls.socket.timeout.ms=3000".into(),
        ]
    }

    /// Client keys for TLS to `tls_port`, trusting `ca`, with the client certificate.
    pub fn client_opts(&self, tls_port: u16, ca: &Path) -> Vec<String> {
        vec![
            "nimbus.thrift.client.use.tls=true".into(),
            format!("nimbus.thrift.tls.port={tls_port}"),
            format!("nimbus.thrift.tls.client.truststore.path={}", ca.display()),
            format!(
                "nimbus.thrift.tls.client.cert.path={}",
                self.client_cert.display()
            ),
            format!(
                "nimbus.thrift.tls.client.key.path={}",
                self.client_key.display()
            ),
        ]
    }

    /// `(key, value)` pairs serving and using TLS on the supervisor (`prefix` "supervisor") or DRPC
    /// ("drpc") Thrift service with mutual TLS: `<prefix>.thrift.transport` (both DRPC ports for
    /// "drpc") is `TlsTransportPlugin`, clients set `<prefix>.thrift.client.use.tls` and present the
    /// client certificate. Values are TOML/JSON literals (strings quoted).
    pub fn service_keys(&self, prefix: &str) -> Vec<(String, String)> {
        let q = |p: &Path| format!("{:?}", p.display().to_string());
        let plugin = "\"org.apache.storm.security.auth.tls.TlsTransportPlugin\"".to_string();
        let mut keys = vec![(format!("{prefix}.thrift.transport"), plugin.clone())];
        if prefix == "drpc" {
            keys.push(("drpc.invocations.thrift.transport".into(), plugin));
        }
        for (k, v) in [
            ("tls.server.keystore.path", q(&self.server_keystore)),
            ("tls.server.truststore.path", q(&self.ca)),
            ("tls.client.truststore.path", q(&self.ca)),
            ("tls.client.cert.path", q(&self.client_cert)),
            ("tls.client.key.path", q(&self.client_key)),
            ("client.use.tls", "true".into()),
        ] {
            keys.push((format!("{prefix}.thrift.{k}"), v));
        }
        keys
    }
}

/// Which ports a [`LoneNimbus`] is ready on.
pub enum Listens {
    /// `nimbus.thrift.port` only.
    Plain,
    /// `nimbus.thrift.port` and this one (a TLS port).
    PlainAnd(u16),
    /// Only this one (`nimbus.thrift.tls.server.only`).
    Only(u16),
}

/// A lone `nimbus` binary (no supervisor) on the shared ZooKeeper under its own root, for the
/// transport and security tests; killed on drop. Its stderr is `DIR/nimbus-stderr.txt`.
pub struct LoneNimbus {
    child: std::process::Child,
    /// `nimbus.thrift.port`.
    pub port: u16,
    pub dir: PathBuf,
}

impl LoneNimbus {
    /// Starts nimbus in `dir` with `extra` `-c KEY=VALUE` options and waits until it `listens`.
    pub fn start(name: &str, dir: &Path, extra: &[String], listens: Listens) -> LoneNimbus {
        use std::net::TcpStream;
        let port = free_port();
        let zk = zk_connect();
        let zk_port = zk.rsplit_once(':').unwrap().1.to_string();
        let stderr = std::fs::File::create(dir.join("nimbus-stderr.txt")).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nimbus"));
        let base = [
            r#"storm.zookeeper.servers=["127.0.0.1"]"#.to_string(),
            format!("storm.zookeeper.port={zk_port}"),
            format!("storm.zookeeper.root={}", unique_root(name)),
            format!("storm.local.dir={}", dir.join("local").display()),
            format!("storm.log.dir={}", dir.join("logs").display()),
            format!("nimbus.thrift.port={port}"),
            "storm.local.hostname=127.0.0.1".to_string(),
        ];
        for a in base.iter().chain(extra) {
            cmd.arg("-c").arg(a);
        }
        let child = spawn_daemon(&mut cmd, dir, stderr);
        let mut n = LoneNimbus {
            child,
            port,
            dir: dir.to_path_buf(),
        };
        let ports = match listens {
            Listens::Plain => vec![port],
            Listens::PlainAnd(other) => vec![port, other],
            Listens::Only(other) => vec![other],
        };
        wait_until(Duration::from_secs(30), "nimbus to listen", || {
            if let Ok(Some(status)) = n.child.try_wait() {
                panic!("nimbus exited early ({status}):\n{}", n.stderr());
            }
            ports
                .iter()
                .all(|p| TcpStream::connect(("127.0.0.1", *p)).is_ok())
        });
        n
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("nimbus-stderr.txt")).unwrap_or_default()
    }

    /// The `storm` CLI with `args` and `-c` options `opts` (seeds and the plain port added first).
    pub fn cli(&self, args: &[&str], opts: &[String]) -> (i32, String, String) {
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let base = [
            r#"nimbus.seeds=["127.0.0.1"]"#.to_string(),
            format!("nimbus.thrift.port={}", self.port),
        ];
        for o in base.iter().chain(opts) {
            all.push("-c".into());
            all.push(o.clone());
        }
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        storm(&self.dir, &refs)
    }

    /// `storm list` against this nimbus with `opts` as `-c` options.
    pub fn list(&self, opts: &[String]) -> (i32, String, String) {
        self.cli(&["list"], opts)
    }

    /// A configuration for the library's clients: the defaults, this nimbus as the seed, and `opts`.
    pub fn client_conf(&self, opts: &[String]) -> storm::config::Config {
        let mut all = vec![
            r#"nimbus.seeds=["127.0.0.1"]"#.to_string(),
            format!("nimbus.thrift.port={}", self.port),
        ];
        all.extend_from_slice(opts);
        conf_of(&all)
    }
}

impl Drop for LoneNimbus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The defaults with `KEY=VALUE` options applied (values parsed as JSON where they are JSON).
pub fn conf_of(opts: &[String]) -> storm::config::Config {
    let mut conf = storm::config::Config::defaults();
    for o in opts {
        let (k, v) = o.split_once('=').unwrap();
        let v = serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.into()));
        conf.set(k, v);
    }
    conf
}

/// Spawns a daemon binary's `cmd` in `dir` with `STORM_CONF_DIR`/`STORM_HOME` removed (only the
/// test's options apply), stdin and stdout to /dev/null and stderr to `stderr`.
pub fn spawn_daemon(cmd: &mut Command, dir: &Path, stderr: std::fs::File) -> std::process::Child {
    use std::process::Stdio;
    cmd.current_dir(dir)
        .env_remove("STORM_CONF_DIR")
        .env_remove("STORM_HOME")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("start {:?}: {e}", cmd.get_program()))
}

/// Reads one HTTP response (head and `Content-Length` body) from `s`; `None` when the connection
/// closes first.
pub fn read_http_response(s: &mut std::net::TcpStream) -> Option<(String, Vec<u8>)> {
    use std::io::Read;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).ok()?;
    Some((head, body))
}

/// Checks an HTTP daemon on `127.0.0.1:port` bounds request headers and keeps serving: a header
/// section over 8 KiB is answered `431`, so is a header line that never ends (the daemon stops reading
/// it), and then two requests for `path` on one keep-alive connection are both answered with
/// `status`.
pub fn assert_http_header_bound(port: u16, path: &str, status: u16) {
    use std::io::{Read, Write};
    let connect = || {
        let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        // Only keeps a broken server from hanging the test.
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s
    };
    let read_to_close = |s: &mut std::net::TcpStream| {
        let mut out = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match s.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!("the server did not close the connection: {e}"),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    // A 24 KiB header.
    let mut s = connect();
    let mut big = format!("GET {path} HTTP/1.1\r\nHost: x\r\nX-Big: ").into_bytes();
    big.extend(std::iter::repeat_n(b'a', 24 * 1024));
    big.extend_from_slice(b"\r\n\r\n");
    s.write_all(&big).unwrap();
    let answer = read_to_close(&mut s);
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    // A header line that never ends: the writer stops when the server closes the connection, long
    // before the cap.
    const CAP: usize = 512 << 20;
    let mut s = connect();
    s.write_all(b"GET / HTTP/1.1\r\nX-Endless: ").unwrap();
    let mut writer = s.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let chunk = [b'b'; 16 * 1024];
        let mut sent = 0usize;
        while sent < CAP {
            match writer.write(&chunk) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        sent
    });
    let answer = read_to_close(&mut s);
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    let _ = s.shutdown(std::net::Shutdown::Both);
    let sent = sender.join().unwrap();
    assert!(
        sent < CAP,
        "the server kept reading an endless header ({sent} bytes)"
    );
    // Still serving, two requests on one connection.
    let mut s = connect();
    for i in 0..2 {
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .unwrap();
        let (head, _) = read_http_response(&mut s)
            .unwrap_or_else(|| panic!("request {i} on the kept-alive connection: no answer"));
        assert!(
            head.starts_with(&format!("HTTP/1.1 {status} ")),
            "request {i}: {head}"
        );
    }
}
