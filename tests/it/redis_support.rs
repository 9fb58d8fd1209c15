//! A private Redis server for a test: Debian's `redis-server` (installed by `scripts/test.sh`) on a
//! free loopback port with its data in a scratch directory (append-only file, fsync always, so a
//! stop and start keeps the data), killed with the test process (parent-death signal) and on drop.

#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use storm::state::redis::{JedisPoolConfig, Reply, RespConnection};

use crate::support::{free_port, scratch_dir, wait_until_ok};

pub struct RedisServer {
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    pub fn start(name: &str) -> RedisServer {
        let mut server = RedisServer {
            port: free_port(),
            dir: scratch_dir(&format!("redis-{name}")),
            child: None,
        };
        server.restart();
        server
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn pool(&self) -> JedisPoolConfig {
        JedisPoolConfig {
            port: self.port,
            ..JedisPoolConfig::default()
        }
    }

    /// Starts the server (again) on the same port and directory; returns once it answers PING.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "redis-server already running");
        let log = std::fs::File::create(self.dir.join("redis.log")).unwrap();
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--protected-mode", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .args(["--daemonize", "no"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                    .map_err(std::io::Error::from)
            });
        }
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!("cannot start redis-server ({e}): run scripts/test.sh, which installs Debian's redis-server")
        });
        self.child = Some(child);
        let pool = self.pool();
        let up = wait_until_ok(Duration::from_secs(20), || {
            RespConnection::connect(&pool)
                .and_then(|mut c| {
                    c.command(&[b"PING"])
                        .map_err(|e| storm::state::StateError::Redis {
                            addr: String::new(),
                            message: e.to_string(),
                        })
                })
                .is_ok_and(|r| r == Reply::Status("PONG".into()))
        });
        assert!(
            up,
            "redis-server did not answer on {}: {}",
            self.addr(),
            self.log()
        );
    }

    /// Stops the server (SIGTERM, then waits for it).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = child.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }

    pub fn connect(&self) -> RespConnection {
        RespConnection::connect(&self.pool()).expect("connect to the test redis-server")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
