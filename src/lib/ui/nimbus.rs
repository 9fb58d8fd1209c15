//! The UI's connections to the leader nimbus: a few idle connections are kept (found through
//! `nimbus.seeds` + `getLeader`, as Storm's `NimbusClient` does) so a page does not pay a leader
//! lookup and two TCP handshakes per request. A read that fails on a kept connection with a
//! transport error (nimbus restarted, leader moved) is retried once on a fresh one; an action
//! (activate, kill, …) always runs on a fresh connection to the current leader and is never
//! repeated. Kept connections are dropped after [`MAX_AGE`], so a new leader is picked up.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::client::{InProto, NimbusClient, NimbusClientError, OutProto};
use crate::config::Config;
use crate::thrift::NimbusSyncClient;

/// The generated `Nimbus` client a call runs on.
pub type Client = NimbusSyncClient<InProto, OutProto>;

/// The most idle connections kept.
pub const MAX_IDLE: usize = 8;
/// How long a connection is reused.
pub const MAX_AGE: Duration = Duration::from_secs(60);
/// The largest nimbus reply the UI reads (at least; `nimbus.thrift.max_buffer_size` when larger):
/// the per-executor stats of a topology of 500 components are several megabytes.
pub const MIN_REPLY_BYTES: usize = 64 * 1024 * 1024;
/// The longest the UI waits for one nimbus reply (a hung nimbus must not hold the UI's threads for
/// `storm.thrift.socket.timeout.ms`, ten minutes by default).
pub const MAX_REPLY_WAIT_MS: u64 = 60_000;

/// A pool of connections to the leader nimbus.
pub struct NimbusPool {
    conf: Config,
    max_reply_bytes: usize,
    idle: Mutex<Vec<(NimbusClient, Instant)>>,
}

/// Whether the connection an error came from is still usable (the reply was read in full).
fn connection_ok(e: &NimbusClientError) -> bool {
    matches!(
        e,
        NimbusClientError::Thrift {
            source: thrift::Error::User(_) | thrift::Error::Application(_),
            ..
        }
    )
}

impl NimbusPool {
    pub fn new(conf: &Config) -> NimbusPool {
        let mut conf = conf.clone();
        let timeout = conf
            .get_u64("storm.thrift.socket.timeout.ms")
            .unwrap_or(MAX_REPLY_WAIT_MS)
            .clamp(1, MAX_REPLY_WAIT_MS);
        conf.set("storm.thrift.socket.timeout.ms", timeout);
        let max_reply_bytes = conf
            .get_u64("nimbus.thrift.max_buffer_size")
            .ok()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0)
            .max(MIN_REPLY_BYTES);
        NimbusPool {
            conf,
            max_reply_bytes,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn take(&self) -> Option<(NimbusClient, Instant)> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some((c, born)) = idle.pop() {
            if born.elapsed() < MAX_AGE {
                return Some((c, born));
            }
        }
        None
    }

    fn give_back(&self, c: NimbusClient, born: Instant) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE && born.elapsed() < MAX_AGE {
            idle.push((c, born));
        }
    }

    fn run<T>(
        &self,
        mut c: NimbusClient,
        born: Instant,
        f: &mut impl FnMut(&mut Client) -> thrift::Result<T>,
    ) -> Result<T, NimbusClientError> {
        let r = call(&mut c, f);
        match &r {
            Ok(_) => self.give_back(c, born),
            Err(e) if connection_ok(e) => self.give_back(c, born),
            Err(_) => {}
        }
        r
    }

    /// Runs a read-only call, on a kept connection when there is one.
    pub fn read<T>(
        &self,
        mut f: impl FnMut(&mut Client) -> thrift::Result<T>,
    ) -> Result<T, NimbusClientError> {
        if let Some((mut c, born)) = self.take() {
            match call(&mut c, &mut f) {
                Ok(v) => {
                    self.give_back(c, born);
                    return Ok(v);
                }
                Err(e) if connection_ok(&e) => {
                    self.give_back(c, born);
                    return Err(e);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "a kept nimbus connection failed; reconnecting");
                }
            }
        }
        let c = NimbusClient::connect_leader_limited(&self.conf, self.max_reply_bytes)?;
        self.run(c, Instant::now(), &mut f)
    }

    /// Runs an action on a fresh connection to the current leader, once.
    pub fn act<T>(
        &self,
        mut f: impl FnMut(&mut Client) -> thrift::Result<T>,
    ) -> Result<T, NimbusClientError> {
        let c = NimbusClient::connect_leader_limited(&self.conf, self.max_reply_bytes)?;
        self.run(c, Instant::now(), &mut f)
    }
}

/// Runs `f` on `c`'s generated client, naming the nimbus in an error.
fn call<T>(
    c: &mut NimbusClient,
    f: &mut impl FnMut(&mut Client) -> thrift::Result<T>,
) -> Result<T, NimbusClientError> {
    let addr = c.addr().to_string();
    f(c.raw()).map_err(|source| NimbusClientError::Thrift { addr, source })
}
