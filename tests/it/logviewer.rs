//! The real `logviewer` binary against a real cluster's logs: one nimbus, one supervisor and a running
//! topology whose worker logs every emit (`topology.debug`), so `worker.log` exists and grows while
//! curl (an outside client) lists it, pages it, downloads it and searches it, tries to escape the log
//! roots in every spelling, and the cleaner removes dead workers' logs but never the live worker's.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use storm::api::{TopologyBuilder, TopologyConf};
use storm::local::components::{PrintBolt, TestWordSpout};

use crate::cluster_support::TestCluster;
use crate::support::{assert_http_header_bound, free_port, wait_until};

const LONG: Duration = Duration::from_secs(90);
/// What the worker logs for every emit under `topology.debug`.
const NEEDLE: &str = "Emitting: word default";

/// A `logviewer` process; killed on drop.
struct LogviewerProc {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl LogviewerProc {
    fn start(config: &Path, dir: &Path, extra: &[String]) -> LogviewerProc {
        let port = free_port();
        let stderr = std::fs::File::create(dir.join("logviewer-stderr.txt")).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_logviewer"));
        cmd.arg("--config").arg(config);
        for a in extra
            .iter()
            .cloned()
            .chain([format!("logviewer.port={port}")])
        {
            cmd.arg("-c").arg(a);
        }
        let child = crate::support::spawn_daemon(cmd.env("STORM_LOG", "info"), dir, stderr);
        let mut lv = LogviewerProc {
            child: Some(child),
            port,
            dir: dir.to_path_buf(),
        };
        wait_until(Duration::from_secs(30), "the logviewer to listen", || {
            assert!(lv.running(), "the logviewer exited:\n{}", lv.stderr());
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        lv
    }

    fn running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("logviewer-stderr.txt")).unwrap_or_default()
    }

    /// SIGTERM, then the exit status.
    fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(c.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let mut status = None;
        wait_until(Duration::from_secs(30), "the logviewer to exit", || {
            status = c.try_wait().unwrap();
            status.is_some()
        });
        status.unwrap()
    }
}

impl Drop for LogviewerProc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One answer as curl saw it.
struct Got {
    status: u16,
    headers: String,
    body: Vec<u8>,
}

impl Got {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// `curl -sS -g --path-as-is URL` (no globbing, no `..` squashing: the URL goes out as written).
fn curl(dir: &Path, url: &str) -> Got {
    let (h, b) = (dir.join("curl-headers"), dir.join("curl-body"));
    let out = Command::new("curl")
        .args([
            "-sS",
            "-g",
            "--path-as-is",
            "--max-time",
            "60",
            "-w",
            "%{http_code}",
            "-D",
        ])
        .arg(&h)
        .arg("-o")
        .arg(&b)
        .arg(url)
        .output()
        .expect("run curl");
    let status = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("curl {url}: {}", String::from_utf8_lossy(&out.stderr)));
    Got {
        status,
        headers: std::fs::read_to_string(&h).unwrap_or_default(),
        body: std::fs::read(&b).unwrap_or_default(),
    }
}

fn unescape_html(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The text of the page's `<pre class="logContent">`.
fn page_content(html: &str) -> String {
    let start = html
        .find("<pre class=\"logContent\">")
        .unwrap_or_else(|| panic!("no log content in {html}"))
        + "<pre class=\"logContent\">".len();
    let end = start + html[start..].find("</pre>").expect("</pre>");
    unescape_html(&html[start..end])
}

fn enc(s: &str) -> String {
    storm::logviewer::page::url_encode(s)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn submit(c: &TestCluster) {
    let mut b = TopologyBuilder::new();
    b.set_spout("word", TestWordSpout::new(50), 1);
    b.set_basic_bolt("print", PrintBolt, 1)
        .shuffle_grouping("word");
    let topology = b.create_topology().unwrap();
    let mut conf = TopologyConf::new();
    conf.set_num_workers(1).set_debug(true);
    let jar = c.dir.join("topology.jar");
    let mut eocd = vec![0x50, 0x4b, 0x05, 0x06];
    eocd.extend([0u8; 18]);
    std::fs::write(&jar, eocd).unwrap();
    storm::submitter::submit_to_cluster(&c.conf(), "lv", &conf, &topology, &jar)
        .unwrap_or_else(|e| panic!("submit: {e}\n{}", c.logs()));
}

#[test]
fn logviewer_lists_pages_downloads_and_searches_a_live_worker_log() {
    let mut c = TestCluster::start("logviewer", &[]);
    c.add_supervisor(1);
    c.wait_supervisors(1);
    submit(&c);
    let id = c.topology_id("lv").expect("lv is in /storms");
    let mut port = 0;
    wait_until(LONG, "the topology to be assigned", || {
        port = c.slots(&id).first().map_or(0, |s| s.1);
        port > 0
    });
    let sup_local = c.supervisors[0].local_dir();
    let sup_logs = c.supervisors[0].log_dir();
    let artifacts = sup_logs.join("workers-artifacts");
    let port_dir = artifacts.join(&id).join(port.to_string());
    let worker_log = port_dir.join("worker.log");
    // Enough of it that a page in the middle has pages on both sides.
    let ok = crate::support::wait_until_ok(LONG, || {
        std::fs::read(&worker_log)
            .is_ok_and(|b| b.len() >= 8192 && find(&b, NEEDLE.as_bytes()).is_some())
    });
    assert!(ok, "the worker never logged {NEEDLE:?}\n{}", c.logs());

    let dir = c.dir.join("logviewer");
    std::fs::create_dir_all(&dir).unwrap();
    let mut lv = LogviewerProc::start(
        &c.config,
        &dir,
        &[
            format!("storm.local.dir={}", sup_local.display()),
            format!("storm.log.dir={}", sup_logs.display()),
            format!("supervisor.slots.ports=[{port}]"),
            // Clean up every second; every worker directory counts as old, so only liveness keeps
            // the running worker's logs.
            "logviewer.cleanup.interval.secs=1".into(),
            "logviewer.cleanup.age.mins=0".into(),
        ],
    );
    let name = format!("{id}/{port}/worker.log");
    let lv_port = lv.port;
    let get = |path: &str| curl(&dir, &format!("http://127.0.0.1:{lv_port}{path}"));

    // Request headers are bounded (431), keep-alive works, and the logviewer keeps serving.
    assert_http_header_bound(lv_port, "/api/v1/listLogs", 200);

    // The listing has the worker's logs.
    let all = get("/api/v1/listLogs").json();
    assert!(
        all.as_array().unwrap().contains(&Value::from(name.clone())),
        "{all}"
    );
    let mine = get(&format!("/api/v1/listLogs?topoId={id}&port={port}")).json();
    for f in [
        "worker.log",
        "worker.log.out",
        "worker.log.err",
        "worker.pid",
    ] {
        assert!(
            mine.as_array()
                .unwrap()
                .contains(&Value::from(format!("{id}/{port}/{f}"))),
            "{f} not in {mine}"
        );
    }
    let landing = get("/").text();
    assert!(landing.contains(&enc(&name)), "{landing}");

    // A page by offset is exactly those bytes of the file.
    let page = get(&format!(
        "/api/v1/log?file={}&start=100&length=500",
        enc(&name)
    ));
    assert_eq!(page.status, 200, "{}", page.text());
    let html = page.text();
    let file = std::fs::read(&worker_log).unwrap();
    assert_eq!(
        page_content(&html),
        String::from_utf8_lossy(&file[100..600])
    );
    assert!(html.contains("start=0&amp;length=500\">Prev</a>"), "{html}");
    assert!(
        html.contains("start=600&amp;length=500\">Next</a>"),
        "{html}"
    );
    // The default page is the end of the file (it grows, so compare with what was there before).
    let before = std::fs::metadata(&worker_log).unwrap().len() as usize;
    let last = page_content(&get(&format!("/api/v1/log?file={}", enc(&name))).text());
    let file = std::fs::read(&worker_log).unwrap();
    let at = find(&file, last.as_bytes()).expect("the last page is part of the file");
    assert!(
        at + last.len() >= before,
        "the default page ends at {} < {before}",
        at + last.len()
    );

    // Download is the whole file, byte for byte, with Storm's file name.
    let before = std::fs::metadata(&worker_log).unwrap().len() as usize;
    let down = get(&format!("/api/v1/download?file={}", enc(&name)));
    assert_eq!(down.status, 200);
    let file = std::fs::read(&worker_log).unwrap();
    assert!(down.body.len() >= before, "{} < {before}", down.body.len());
    assert_eq!(down.body[..], file[..down.body.len()]);
    assert_eq!(
        down.header("Content-Disposition").as_deref(),
        Some(format!("attachment; filename=\"127.0.0.1-{id}-{port}-worker.log\"").as_str())
    );
    let sup_log = std::fs::read(sup_logs.join("supervisor.log")).unwrap();
    let down = get("/api/v1/daemondownload?file=supervisor.log");
    assert_eq!(down.status, 200);
    assert!(down.body.len() >= sup_log.len());
    assert_eq!(down.body[..sup_log.len()], sup_log[..]);
    assert_eq!(get("/api/v1/daemonlog?file=supervisor.log").status, 200);

    // Search finds what the worker logs, at the right offsets, with its context.
    let found = get(&format!(
        "/api/v1/search?file={}&search-string={}&num-matches=3",
        enc(&name),
        enc(NEEDLE)
    ));
    assert_eq!(found.status, 200, "{}", found.text());
    let v = found.json();
    let file = std::fs::read(&worker_log).unwrap();
    let matches = v["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 3, "{v}");
    let first = find(&file, NEEDLE.as_bytes()).unwrap();
    assert_eq!(matches[0]["byteOffset"], first as u64);
    for m in matches {
        let off = m["byteOffset"].as_u64().unwrap() as usize;
        assert_eq!(&file[off..off + NEEDLE.len()], NEEDLE.as_bytes());
        let before = &file[off.saturating_sub(128)..off];
        assert_eq!(m["beforeString"], String::from_utf8_lossy(before).as_ref());
        assert_eq!(m["matchString"], NEEDLE);
        assert!(m["logviewerURL"].as_str().unwrap().starts_with(&format!(
            "http://127.0.0.1:{lv_port}/api/v1/log?file={}",
            enc(&name)
        )));
    }
    let last = matches[2]["byteOffset"].as_u64().unwrap();
    assert_eq!(v["nextByteOffset"], last + NEEDLE.len() as u64);
    let more = get(&format!(
        "/api/v1/search?file={}&search-string={}&num-matches=1&start-byte-offset={}",
        enc(&name),
        enc(NEEDLE),
        v["nextByteOffset"]
    ))
    .json();
    let next = more["matches"][0]["byteOffset"].as_u64().unwrap() as usize;
    assert!(next as u64 > last);
    let file = std::fs::read(&worker_log).unwrap();
    assert_eq!(&file[next..next + NEEDLE.len()], NEEDLE.as_bytes());
    assert!(find(&file[last as usize + 1..next], NEEDLE.as_bytes()).is_none());
    let deep = get(&format!(
        "/api/v1/deepSearch/{id}?search-string={}",
        enc(NEEDLE)
    ))
    .json();
    assert_eq!(deep[0]["matches"][0]["fileName"], name.as_str(), "{deep}");
    assert_eq!(deep[0]["matches"][0]["port"], port.to_string().as_str());
    let deep = get(&format!(
        "/api/v1/deepSearch/{id}?search-string={}&port={port}&num-matches=2",
        enc(NEEDLE)
    ))
    .json();
    assert_eq!(
        deep["matches"][0]["matches"].as_array().unwrap().len(),
        2,
        "{deep}"
    );

    // Every way out of the log roots is refused with Storm's 404, and leaks nothing.
    let secret = std::fs::read_to_string(&c.config).unwrap();
    std::os::unix::fs::symlink(&c.config, port_dir.join("escape.log")).unwrap();
    std::os::unix::fs::symlink(c.dir.join("supervisor0"), artifacts.join("up")).unwrap();
    let abs = c.config.display().to_string();
    for path in [
        "/api/v1/log?file=../../../storm.toml".to_string(),
        "/api/v1/log?file=..%2F..%2F..%2Fstorm.toml".into(),
        "/api/v1/log?file=%2e%2e/%2e%2e/%2e%2e/storm.toml".into(),
        "/api/v1/log?file=%252e%252e%252f%252e%252e%252f%252e%252e%252fstorm.toml".into(),
        format!("/api/v1/log?file={id}/{port}/../../../../../storm.toml"),
        format!(
            "/api/v1/log?file={}",
            enc(&format!("{id}/{port}/escape.log"))
        ),
        "/api/v1/log?file=up/logs/supervisor.log".into(),
        format!("/api/v1/log?file={abs}"),
        format!("/api/v1/log?file={}", enc(&abs)),
        format!("/api/v1/download?file={id}/{port}/../../../../../storm.toml"),
        format!("/api/v1/download?file={id}/{port}/escape.log"),
        format!("/api/v1/download?file={}", enc(&abs)),
        "/api/v1/daemonlog?file=../../storm.toml".into(),
        "/api/v1/daemondownload?file=..%2F..%2Fstorm.toml".into(),
        "/api/v1/daemondownload?file=%252e%252e%252f%252e%252e%252fstorm.toml".into(),
        format!(
            "/api/v1/daemonlog?file={}",
            enc(&format!("workers-artifacts/{name}"))
        ),
        format!("/api/v1/daemondownload?file={abs}"),
        "/api/v1/../../storm.toml".into(),
        "/../../../storm.toml".into(),
        format!("/api/v1/dumps/{id}/127.0.0.1:{port}/..%2F..%2F..%2F..%2F..%2Fstorm.toml"),
        format!("/api/v1/dumps/..%2F..%2F../127.0.0.1:{port}"),
        // And plain missing files.
        format!("/api/v1/log?file={id}/{port}/missing.log"),
        "/api/v1/daemonlog?file=missing.log".into(),
        "/api/v1/download?file=nope/6700/worker.log".into(),
    ] {
        let got = get(&path);
        assert_eq!(got.status, 404, "{path}: {}", got.text());
        assert_eq!(got.text(), "Page not found", "{path}");
    }
    for path in [
        "/api/v1/search?file=..%2F..%2F..%2Fstorm.toml&search-string=storm".to_string(),
        format!("/api/v1/search?file={id}/{port}/escape.log&search-string=storm"),
        "/api/v1/search?file=../../storm.toml&is-daemon=yes&search-string=storm".into(),
        format!("/api/v1/search?file={id}/{port}/missing.log&search-string=x"),
    ] {
        let got = get(&path);
        assert_eq!(got.status, 404, "{path}");
        assert_eq!(
            got.json()["errorMessage"],
            "The file was not found on this node."
        );
        assert!(!got.text().contains("zookeeper"), "{path} leaked {secret}");
    }
    let got = get("/api/v1/deepSearch/..?search-string=storm");
    assert_eq!((got.status, got.text().as_str()), (200, "[]"));

    // Bad requests never take it down.
    for path in [
        format!("/api/v1/log?file={}&start=abc", enc(&name)),
        format!("/api/v1/log?file={}&start=999999999999", enc(&name)),
        format!("/api/v1/search?file={}&search-string=", enc(&name)),
        format!(
            "/api/v1/search?file={}&search-string=x&num-matches=x",
            enc(&name)
        ),
        "/api/v1/listLogs?port=abc".into(),
    ] {
        assert_eq!(get(&path).status, 400, "{path}");
    }
    let mut raw = TcpStream::connect(("127.0.0.1", lv.port)).unwrap();
    let _ = raw.write_all(b"\x00\xffGARBAGE / HTTP/9\r\n\r\n");
    let _ = raw.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = raw.read(&mut [0u8; 256]);
    drop(raw);
    assert!(lv.running());
    assert_eq!(get("/api/v1/listLogs").status, 200);

    // The cleaner removes a dead worker's logs (twice, so it ran at least two full rounds meanwhile)
    // and never the live worker's, though every directory is old enough.
    for dead in ["gone-1-1/6999", "gone-2-2/6998"] {
        let d = artifacts.join(dead);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("worker.log"), b"old news\n").unwrap();
        let old = SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::open(d.join("worker.log"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        let topo_dir = d.parent().unwrap().to_path_buf();
        wait_until(
            Duration::from_secs(30),
            "the cleaner to remove a dead worker's logs",
            || !topo_dir.exists(),
        );
    }
    assert!(worker_log.exists(), "the live worker's log was deleted");
    assert!(port_dir.join("worker.pid").exists());
    let listed = get(&format!("/api/v1/listLogs?topoId={id}")).json();
    assert!(listed
        .as_array()
        .unwrap()
        .contains(&Value::from(name.clone())));

    // SIGTERM stops it cleanly; it logged to <storm.log.dir>/logviewer.log.
    let status = lv.terminate();
    assert!(status.success(), "{status:?}\n{}", lv.stderr());
    let log = std::fs::read_to_string(sup_logs.join("logviewer.log")).unwrap();
    assert!(log.contains("logviewer started"), "{log}");
}
