//! Authorization and HTTP credentials on a live `drpc` (issue 18, parts 2 and 5), without SASL:
//! `drpc.http.filter` basic auth (401 without credentials), `drpc.authorizer` =
//! `DRPCSimpleACLAuthorizer` with Storm's YAML ACL file next to the daemon's `storm.toml`, the HTTP
//! user as the principal for `execute`, and `debug.simple.transport.user` (Storm's plain-transport
//! principal) as the invocation user on the Thrift ports.

use std::path::Path;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use storm::thrift::{
    AuthorizationException, DistributedRPCInvocationsSyncClient, DistributedRPCSyncClient,
    TDistributedRPCInvocationsSyncClient, TDistributedRPCSyncClient,
};

use crate::support::{free_port, scratch_dir, spawn_daemon, wait_until};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `curl` GET `url` as `user:password` (or anonymous): (status, headers + body).
fn curl(url: &str, creds: Option<&str>) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-i", "--max-time", "20", url]);
    if let Some(c) = creds {
        cmd.args(["-u", c]);
    }
    let out = cmd.output().expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn write_private(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn drpc_http_credentials_and_acl_authorizer() {
    let dir = scratch_dir("authz-drpc");
    let (rpc, inv, http) = (free_port(), free_port(), free_port());
    write_private(&dir.join("http-users"), "alice:alice-pw\nbob:bob-pw\n");
    std::fs::write(
        dir.join("drpc-auth-acl.yaml"),
        "drpc.authorizer.acl:\n  \"secret\":\n    \"client.users\": [\"alice\"]\n    \"invocation.user\": \"invoker\"\n",
    )
    .unwrap();
    let conf = format!(
        r#""drpc.port" = {rpc}
"drpc.invocations.port" = {inv}
"drpc.http.port" = {http}
"drpc.request.timeout.secs" = 20
"storm.log.dir" = "{logs}"
"storm.local.dir" = "{local}"
"drpc.authorizer" = "org.apache.storm.security.auth.authorizer.DRPCSimpleACLAuthorizer"
"drpc.authorizer.acl.strict" = true
"drpc.http.filter" = "org.apache.storm.rs.security.BasicAuthFilter"
"drpc.http.filter.params" = {{ "users.file" = "http-users" }}
"debug.simple.transport.user" = "invoker"
"#,
        logs = dir.join("logs").display(),
        local = dir.join("local").display(),
    );
    std::fs::write(dir.join("storm.toml"), conf).unwrap();
    let stderr = std::fs::File::create(dir.join("stderr.txt")).unwrap();
    let mut child = Proc(crate::support::spawn_daemon(
        Command::new(env!("CARGO_BIN_EXE_drpc"))
            .arg("--config")
            .arg(dir.join("storm.toml")),
        &dir,
        stderr,
    ));
    wait_until(Duration::from_secs(20), "drpc to listen", || {
        if let Ok(Some(s)) = child.0.try_wait() {
            panic!(
                "drpc exited ({s}): {}",
                std::fs::read_to_string(dir.join("stderr.txt")).unwrap_or_default()
            );
        }
        [rpc, inv, http]
            .iter()
            .all(|p| std::net::TcpStream::connect(("127.0.0.1", *p)).is_ok())
    });

    // The "topology": serves `secret` as the invocation user (the plain transport's principal).
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let server = std::thread::spawn(move || {
        let (i, o) = storm::client::connect(
            &format!("127.0.0.1:{inv}"),
            Duration::from_secs(30),
            &storm::client::ClientTransport::Simple,
        )
        .unwrap();
        let mut c = DistributedRPCInvocationsSyncClient::new(i, o);
        while !stop2.load(Ordering::SeqCst) {
            let req = c.fetch_request("secret".into()).expect("invoker may fetch");
            if req.request_id.is_empty() {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            c.result(req.request_id, format!("{}!", req.func_args))
                .unwrap();
        }
    });

    let url = format!("http://127.0.0.1:{http}/drpc/secret/hello");
    // No or wrong credentials: 401 with the challenge.
    let (status, text) = curl(&url, None);
    assert_eq!(status, 401, "{text}");
    assert!(
        // Header names are case-insensitive; hyper writes this one `Www-Authenticate`.
        text.to_ascii_lowercase()
            .contains("www-authenticate: basic realm=\"storm\""),
        "{text}"
    );
    assert_eq!(curl(&url, Some("alice:wrong")).0, 401);
    // bob is authenticated but not a client of `secret`: 403 with Storm's message.
    let (status, text) = curl(&url, Some("bob:bob-pw"));
    assert_eq!(status, 403, "{text}");
    assert!(
        text.contains("DRPC request 'execute' for 'bob' user is not authorized"),
        "{text}"
    );
    // alice is: the answer comes back.
    let (status, text) = curl(&url, Some("alice:alice-pw"));
    assert_eq!(status, 200, "{text}");
    assert!(text.ends_with("hello!"), "{text}");
    // Strict ACL: a function without an entry is refused even to alice.
    assert_eq!(
        curl(
            &format!("http://127.0.0.1:{http}/drpc/other/x"),
            Some("alice:alice-pw")
        )
        .0,
        403
    );

    // Over Thrift the caller is "invoker", who is not a client of `secret`.
    let (i, o) = storm::client::connect(
        &format!("127.0.0.1:{rpc}"),
        Duration::from_secs(30),
        &storm::client::ClientTransport::Simple,
    )
    .unwrap();
    let mut client = DistributedRPCSyncClient::new(i, o);
    match client.execute("secret".into(), "x".into()) {
        Err(thrift::Error::User(u)) => {
            let a = u
                .downcast_ref::<AuthorizationException>()
                .expect("an AuthorizationException");
            assert_eq!(
                a.msg,
                "DRPC request 'execute' for 'invoker' user is not authorized"
            );
        }
        other => panic!("expected AuthorizationException, got {other:?}"),
    }
    // And the daemon keeps serving.
    assert_eq!(curl(&url, Some("alice:alice-pw")).0, 200);
    stop.store(true, Ordering::SeqCst);
    server.join().unwrap();
}

/// Starts daemon `bin` with `conf` (TOML) as its `storm.toml` in `dir`; waits for `port`.
fn daemon(bin: &str, dir: &Path, conf: &str, port: u16) -> Proc {
    std::fs::write(dir.join("storm.toml"), conf).unwrap();
    let stderr = std::fs::File::create(dir.join(format!(
        "{}.stderr",
        Path::new(bin).file_name().unwrap().to_string_lossy()
    )))
    .unwrap();
    let mut p = Proc(spawn_daemon(
        Command::new(bin)
            .arg("--config")
            .arg(dir.join("storm.toml")),
        dir,
        stderr,
    ));
    wait_until(Duration::from_secs(20), "the daemon to listen", || {
        if let Ok(Some(s)) = p.0.try_wait() {
            panic!("{bin} exited ({s})");
        }
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    p
}

#[test]
fn ui_and_logviewer_ask_for_credentials() {
    let dir = scratch_dir("authz-http");
    write_private(&dir.join("http-users"), "alice:alice-pw\n");
    let (ui_port, lv_port) = (free_port(), free_port());
    let common = format!(
        r#""storm.log.dir" = "{logs}"
"storm.local.dir" = "{local}"
"storm.zookeeper.servers" = ["127.0.0.1"]
"nimbus.seeds" = ["127.0.0.1"]
"nimbus.thrift.port" = {nimbus}
"ui.port" = {ui_port}
"ui.host" = "127.0.0.1"
"logviewer.port" = {lv_port}
"ui.filter" = "org.apache.storm.rs.security.BasicAuthFilter"
"ui.filter.params" = {{ "users.file" = "http-users", "realm" = "test" }}
"#,
        logs = dir.join("logs").display(),
        local = dir.join("local").display(),
        nimbus = free_port(),
    );
    let _ui = daemon(env!("CARGO_BIN_EXE_ui"), &dir, &common, ui_port);
    let ui = format!("http://127.0.0.1:{ui_port}/index.html");
    let (status, text) = curl(&ui, None);
    assert_eq!(status, 401, "{text}");
    assert!(
        // Header names are case-insensitive; hyper writes this one `Www-Authenticate`.
        text.to_ascii_lowercase()
            .contains("www-authenticate: basic realm=\"test\""),
        "{text}"
    );
    assert_eq!(curl(&ui, Some("alice:nope")).0, 401);
    assert_eq!(curl(&ui, Some("alice:alice-pw")).0, 200);
    // The logviewer falls back to ui.filter (Storm's rule).
    let _lv = daemon(env!("CARGO_BIN_EXE_logviewer"), &dir, &common, lv_port);
    let lv = format!("http://127.0.0.1:{lv_port}/api/v1/daemonlog?file=nimbus.log");
    assert_eq!(curl(&lv, None).0, 401);
    assert_ne!(curl(&lv, Some("alice:alice-pw")).0, 401);
}
