//! [`RedisKeyValueState`]: storm-redis's `RedisKeyValueState` (provider
//! `org.apache.storm.redis.state.RedisKeyValueStateProvider`), over [`RespConnection`], a small
//! synchronous client of Redis's RESP protocol.
//!
//! Layout in Redis (Storm's): the committed state of namespace `N` is the hash `N` (field = encoded
//! key, value = encoded value, see [`super`]); the prepared transaction is the hash `N$prepare`; the
//! hash `N$txid` holds the fields `prepare` and `commit` with the last prepared and committed txids as
//! decimal strings. Writes stay in memory until `prepare_commit`, which writes `N$prepare` and the
//! prepare txid in one `MULTI`/`EXEC`; `commit_txid` moves the prepared entries into `N` (tombstones
//! become `HDEL`s), records the commit txid and deletes `N$prepare`, again in one transaction, so a
//! crash or a lost connection never leaves a half-committed state. A task that restarts loads a
//! prepared transaction left in `N$prepare`, so the recovery `COMMIT` can still commit it.
//!
//! The connection is opened lazily and re-opened after any error: a Redis that is down at start-up
//! or mid-run makes the operation fail with [`StateError::Redis`] (naming the address), which fails
//! the input or checkpoint tuple; the checkpoint is retried, and committed state is never touched.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde::Deserialize;

use super::{StateBackend, StateError, REDIS_PROVIDER, STATE_PROVIDER_CONFIG, TOMBSTONE};
use crate::api::ConfMap;

/// The largest bulk reply accepted (Redis's own limit is 512 MiB).
const MAX_BULK: usize = 64 << 20;
/// The most elements accepted in one array reply.
const MAX_ARRAY: usize = 4 << 20;
/// Field/value pairs per `HSET`, so one command stays a reasonable size.
const HSET_CHUNK: usize = 1000;

const COMMIT_TXID_KEY: &str = "commit";
const PREPARE_TXID_KEY: &str = "prepare";

/// `jedisPoolConfig` of Storm's provider config (`JedisPoolConfig`'s fields and defaults).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct JedisPoolConfig {
    pub host: String,
    pub port: u16,
    /// Connect, read and write timeout in milliseconds.
    pub timeout: u64,
    pub database: u32,
    pub password: Option<String>,
}

impl Default for JedisPoolConfig {
    fn default() -> Self {
        JedisPoolConfig {
            host: "127.0.0.1".to_owned(),
            port: 6379,
            timeout: 2000,
            database: 0,
            password: None,
        }
    }
}

/// Storm's `RedisKeyValueStateProvider.StateConfig`, parsed from `topology.state.provider.config`.
/// `keyClass`/`valueClass` are accepted and need nothing (values are self-describing in the values
/// codec); Java serializer classes and `jedisClusterConfig` are refused with a clear error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RedisStateConfig {
    pub key_class: Option<String>,
    pub value_class: Option<String>,
    pub key_serializer_class: Option<String>,
    pub value_serializer_class: Option<String>,
    pub jedis_pool_config: Option<JedisPoolConfig>,
    pub jedis_cluster_config: Option<serde_json::Value>,
}

impl RedisStateConfig {
    /// Reads `topology.state.provider.config` (a JSON string, or a JSON object) from `conf`.
    pub fn from_conf(conf: &ConfMap) -> Result<RedisStateConfig, StateError> {
        let bad = |message: String| StateError::BadConfig {
            provider: REDIS_PROVIDER.to_owned(),
            message,
        };
        let config: RedisStateConfig = match conf.get(STATE_PROVIDER_CONFIG) {
            None | Some(serde_json::Value::Null) => RedisStateConfig::default(),
            Some(serde_json::Value::String(s)) => {
                serde_json::from_str(s).map_err(|e| bad(format!("{e} in {s:?}")))?
            }
            Some(v @ serde_json::Value::Object(_)) => {
                serde_json::from_value(v.clone()).map_err(|e| bad(e.to_string()))?
            }
            Some(other) => return Err(bad(format!("expected a JSON string, got {other}"))),
        };
        for (name, class) in [
            ("keySerializerClass", &config.key_serializer_class),
            ("valueSerializerClass", &config.value_serializer_class),
        ] {
            if let Some(class) = class {
                return Err(bad(format!(
                    "{name} {class} is a Java class; storm-rs stores keys and values in its values codec (remove {name})"
                )));
            }
        }
        if config.jedis_cluster_config.is_some() {
            return Err(bad(
                "jedisClusterConfig (Redis Cluster) is not supported; use jedisPoolConfig"
                    .to_owned(),
            ));
        }
        Ok(config)
    }

    pub fn pool(&self) -> JedisPoolConfig {
        self.jedis_pool_config.clone().unwrap_or_default()
    }
}

/// One RESP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

/// A synchronous connection to one Redis server (RESP2), with the pool config's timeout on connect,
/// reads and writes, `AUTH` and `SELECT` done on connect.
pub struct RespConnection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

fn io_err(addr: &str, what: &str, e: impl std::fmt::Display) -> StateError {
    StateError::Redis {
        addr: addr.to_owned(),
        message: format!("{what}: {e}"),
    }
}

impl RespConnection {
    pub fn connect(pool: &JedisPoolConfig) -> Result<RespConnection, StateError> {
        let addr = format!("{}:{}", pool.host, pool.port);
        let timeout = Duration::from_millis(pool.timeout.max(1));
        let addrs: Vec<_> = addr
            .to_socket_addrs()
            .map_err(|e| io_err(&addr, "cannot resolve", e))?
            .collect();
        let mut last = None;
        let mut stream = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let stream = stream.ok_or_else(|| {
            io_err(
                &addr,
                "cannot connect",
                last.map(|e| e.to_string())
                    .unwrap_or_else(|| "no address".to_owned()),
            )
        })?;
        stream
            .set_read_timeout(Some(timeout))
            .and_then(|_| stream.set_write_timeout(Some(timeout)))
            .and_then(|_| stream.set_nodelay(true))
            .map_err(|e| io_err(&addr, "socket setup", e))?;
        let writer = stream
            .try_clone()
            .map_err(|e| io_err(&addr, "socket setup", e))?;
        let mut conn = RespConnection {
            reader: BufReader::new(stream),
            writer,
        };
        if let Some(password) = &pool.password {
            conn.expect_ok(&addr, &[b"AUTH", password.as_bytes()])?;
        }
        if pool.database != 0 {
            let db = pool.database.to_string();
            conn.expect_ok(&addr, &[b"SELECT", db.as_bytes()])?;
        }
        Ok(conn)
    }

    fn expect_ok(&mut self, addr: &str, cmd: &[&[u8]]) -> Result<(), StateError> {
        match self.command(cmd).map_err(|e| io_err(addr, "I/O", e))? {
            Reply::Error(e) => Err(io_err(
                addr,
                &format!("{} refused", String::from_utf8_lossy(cmd[0])),
                e,
            )),
            _ => Ok(()),
        }
    }

    /// Sends the commands in one write and reads one reply per command.
    pub fn pipeline(&mut self, cmds: &[Vec<Vec<u8>>]) -> std::io::Result<Vec<Reply>> {
        let mut buf = Vec::new();
        for cmd in cmds {
            buf.extend_from_slice(format!("*{}\r\n", cmd.len()).as_bytes());
            for arg in cmd {
                buf.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
                buf.extend_from_slice(arg);
                buf.extend_from_slice(b"\r\n");
            }
        }
        self.writer.write_all(&buf)?;
        self.writer.flush()?;
        cmds.iter().map(|_| self.read_reply()).collect()
    }

    pub fn command(&mut self, cmd: &[&[u8]]) -> std::io::Result<Reply> {
        let cmd: Vec<Vec<u8>> = cmd.iter().map(|a| a.to_vec()).collect();
        Ok(self.pipeline(&[cmd])?.remove(0))
    }

    fn read_line(&mut self) -> std::io::Result<String> {
        let mut line = Vec::new();
        (&mut self.reader)
            .take(64 * 1024)
            .read_until(b'\n', &mut line)?;
        if !line.ends_with(b"\r\n") {
            return Err(bad_data(
                "reply line not terminated (or longer than 64 KiB)",
            ));
        }
        line.truncate(line.len() - 2);
        String::from_utf8(line).map_err(|_| bad_data("reply line not UTF-8"))
    }

    fn read_len(&mut self, line: &str, max: usize) -> std::io::Result<Option<usize>> {
        let n: i64 = line.parse().map_err(|_| bad_data("bad length in reply"))?;
        if n < 0 {
            return Ok(None);
        }
        let n = n as usize;
        if n > max {
            return Err(bad_data("reply larger than storm-rs accepts"));
        }
        Ok(Some(n))
    }

    fn read_reply(&mut self) -> std::io::Result<Reply> {
        let line = self.read_line()?;
        if line.is_empty() || !line.is_char_boundary(1) {
            return Err(bad_data("unknown reply type"));
        }
        let (kind, rest) = line.split_at(1);
        Ok(match kind {
            "+" => Reply::Status(rest.to_owned()),
            "-" => Reply::Error(rest.to_owned()),
            ":" => Reply::Int(rest.parse().map_err(|_| bad_data("bad integer reply"))?),
            "$" => match self.read_len(rest, MAX_BULK)? {
                None => Reply::Bulk(None),
                Some(n) => {
                    let mut data = vec![0; n + 2];
                    self.reader.read_exact(&mut data)?;
                    data.truncate(n);
                    Reply::Bulk(Some(data))
                }
            },
            "*" => match self.read_len(rest, MAX_ARRAY)? {
                None => Reply::Array(None),
                Some(n) => {
                    let mut items = Vec::with_capacity(n.min(1024));
                    for _ in 0..n {
                        items.push(self.read_reply()?);
                    }
                    Reply::Array(Some(items))
                }
            },
            _ => return Err(bad_data("unknown reply type")),
        })
    }
}

fn bad_data(message: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message.to_owned())
}

fn cmd(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}

fn hset_cmds(hash: &[u8], entries: &BTreeMap<Vec<u8>, Vec<u8>>) -> Vec<Vec<Vec<u8>>> {
    let all: Vec<_> = entries.iter().collect();
    all.chunks(HSET_CHUNK)
        .map(|chunk| {
            let mut c = vec![b"HSET".to_vec(), hash.to_vec()];
            for (k, v) in chunk {
                c.push((*k).clone());
                c.push((*v).clone());
            }
            c
        })
        .collect()
}

/// The Redis state of one namespace.
pub struct RedisKeyValueState {
    namespace: String,
    prepare_namespace: String,
    txid_namespace: String,
    pool: JedisPoolConfig,
    addr: String,
    conn: Option<RespConnection>,
    /// Whether the txids and a prepared transaction were read from Redis yet.
    loaded: bool,
    pending_prepare: BTreeMap<Vec<u8>, Vec<u8>>,
    pending_commit: BTreeMap<Vec<u8>, Vec<u8>>,
    txids: BTreeMap<String, String>,
}

impl RedisKeyValueState {
    /// A state of `namespace`; nothing is read from Redis until the first operation.
    pub fn new(namespace: &str, config: RedisStateConfig) -> RedisKeyValueState {
        let pool = config.pool();
        RedisKeyValueState {
            namespace: namespace.to_owned(),
            prepare_namespace: format!("{namespace}$prepare"),
            txid_namespace: format!("{namespace}$txid"),
            addr: format!("{}:{}", pool.host, pool.port),
            pool,
            conn: None,
            loaded: false,
            pending_prepare: BTreeMap::new(),
            pending_commit: BTreeMap::new(),
            txids: BTreeMap::new(),
        }
    }

    /// Runs `cmds` (pipelined); drops the connection on any I/O error or error reply.
    fn run(&mut self, cmds: &[Vec<Vec<u8>>]) -> Result<Vec<Reply>, StateError> {
        if self.conn.is_none() {
            self.conn = Some(RespConnection::connect(&self.pool)?);
        }
        let conn = self.conn.as_mut().expect("connected above");
        match conn.pipeline(cmds) {
            Ok(replies) => {
                for (c, r) in cmds.iter().zip(&replies) {
                    if let Reply::Error(e) = r {
                        self.conn = None;
                        return Err(io_err(
                            &self.addr,
                            &format!("{} failed", String::from_utf8_lossy(&c[0])),
                            e,
                        ));
                    }
                }
                Ok(replies)
            }
            Err(e) => {
                self.conn = None;
                Err(io_err(&self.addr, "I/O", e))
            }
        }
    }

    /// `cmds` inside `MULTI`/`EXEC`: all or nothing.
    fn transaction(&mut self, cmds: Vec<Vec<Vec<u8>>>) -> Result<(), StateError> {
        let mut all = Vec::with_capacity(cmds.len() + 2);
        all.push(cmd(&[b"MULTI"]));
        all.extend(cmds);
        all.push(cmd(&[b"EXEC"]));
        let replies = self.run(&all)?;
        match replies.last() {
            Some(Reply::Array(Some(results))) => {
                if let Some(Reply::Error(e)) = results.iter().find(|r| matches!(r, Reply::Error(_)))
                {
                    self.conn = None;
                    return Err(io_err(&self.addr, "transaction failed", e));
                }
                Ok(())
            }
            other => {
                self.conn = None;
                Err(io_err(
                    &self.addr,
                    "transaction aborted",
                    format!("{other:?}"),
                ))
            }
        }
    }

    fn hgetall(&mut self, hash: &str) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, StateError> {
        let reply = self.run(&[cmd(&[b"HGETALL", hash.as_bytes()])])?.remove(0);
        let mut out = BTreeMap::new();
        if let Reply::Array(Some(items)) = reply {
            let mut it = items.into_iter();
            while let (Some(Reply::Bulk(Some(k))), Some(Reply::Bulk(Some(v)))) =
                (it.next(), it.next())
            {
                out.insert(k, v);
            }
        }
        Ok(out)
    }

    /// Storm's `initTxids` + `initPendingCommit`, on first use.
    fn ensure_loaded(&mut self) -> Result<(), StateError> {
        if self.loaded {
            return Ok(());
        }
        let txid_ns = self.txid_namespace.clone();
        let txids = self.hgetall(&txid_ns)?;
        let prepare_ns = self.prepare_namespace.clone();
        let prepared = self.hgetall(&prepare_ns)?;
        self.txids = txids
            .into_iter()
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(&k).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                )
            })
            .collect();
        if !prepared.is_empty() {
            tracing::debug!(namespace = %self.namespace, entries = prepared.len(), "loaded a prepared transaction");
        }
        self.pending_commit = prepared;
        self.loaded = true;
        Ok(())
    }

    fn last_txid(&self, key: &str) -> Option<i64> {
        self.txids.get(key).and_then(|v| v.parse().ok())
    }

    fn txn_error(&self, message: String) -> StateError {
        StateError::Transaction {
            namespace: self.namespace.clone(),
            message,
        }
    }

    fn txid_cmd(&self) -> Vec<Vec<u8>> {
        let mut c = vec![b"HSET".to_vec(), self.txid_namespace.as_bytes().to_vec()];
        for (k, v) in &self.txids {
            c.push(k.as_bytes().to_vec());
            c.push(v.as_bytes().to_vec());
        }
        c
    }
}

impl StateBackend for RedisKeyValueState {
    fn namespace(&self) -> &str {
        &self.namespace
    }

    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<(), StateError> {
        self.pending_prepare.insert(key, value);
        Ok(())
    }

    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.ensure_loaded()?;
        if let Some(v) = self.pending_prepare.get(key) {
            return Ok(Some(v.clone()));
        }
        if let Some(v) = self.pending_commit.get(key) {
            return Ok(Some(v.clone()));
        }
        let ns = self.namespace.clone();
        match self.run(&[cmd(&[b"HGET", ns.as_bytes(), key])])?.remove(0) {
            Reply::Bulk(v) => Ok(v),
            other => Err(io_err(
                &self.addr,
                "unexpected HGET reply",
                format!("{other:?}"),
            )),
        }
    }

    fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        let current = self.get(key)?;
        self.pending_prepare
            .insert(key.to_vec(), TOMBSTONE.to_vec());
        Ok(current)
    }

    fn entries(&mut self) -> Result<super::Entries, StateError> {
        self.ensure_loaded()?;
        let ns = self.namespace.clone();
        let mut all = self.hgetall(&ns)?;
        for (k, v) in self.pending_commit.iter().chain(&self.pending_prepare) {
            all.insert(k.clone(), v.clone());
        }
        Ok(all.into_iter().filter(|(_, v)| v != TOMBSTONE).collect())
    }

    fn prepare_commit(&mut self, txid: i64) -> Result<(), StateError> {
        self.ensure_loaded()?;
        if let Some(committed) = self.last_txid(COMMIT_TXID_KEY) {
            if txid <= committed {
                return Err(self.txn_error(format!(
                    "Invalid txid '{txid}' for prepare. Txid '{committed}' is already committed"
                )));
            }
        }
        // A prepared transaction not committed yet (a repeated prepare) is merged under the new one.
        let mut current = self.pending_prepare.clone();
        for (k, v) in &self.pending_commit {
            current.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let mut txids = self.txids.clone();
        txids.insert(PREPARE_TXID_KEY.to_owned(), txid.to_string());
        let mut cmds = vec![cmd(&[b"DEL", self.prepare_namespace.as_bytes()])];
        cmds.extend(hset_cmds(self.prepare_namespace.as_bytes(), &current));
        let previous = std::mem::replace(&mut self.txids, txids);
        cmds.push(self.txid_cmd());
        if let Err(e) = self.transaction(cmds) {
            self.txids = previous;
            return Err(e);
        }
        self.pending_prepare.clear();
        self.pending_commit = current;
        Ok(())
    }

    fn commit_txid(&mut self, txid: i64) -> Result<(), StateError> {
        self.ensure_loaded()?;
        if let Some(committed) = self.last_txid(COMMIT_TXID_KEY) {
            if txid < committed {
                return Err(self.txn_error(format!(
                    "Invalid txid '{txid}' txid '{committed}' is already committed"
                )));
            }
        }
        if let Some(prepared) = self.last_txid(PREPARE_TXID_KEY) {
            if txid != prepared {
                return Err(self.txn_error(format!(
                    "Invalid txid '{txid}' not same as prepared txid '{prepared}'"
                )));
            }
        }
        let ns = self.namespace.as_bytes().to_vec();
        let (deletes, adds): (Vec<_>, Vec<_>) = self
            .pending_commit
            .iter()
            .partition(|(_, v)| v.as_slice() == TOMBSTONE);
        let adds: BTreeMap<Vec<u8>, Vec<u8>> = adds
            .into_iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut cmds = hset_cmds(&ns, &adds);
        for chunk in deletes.chunks(HSET_CHUNK) {
            let mut c = vec![b"HDEL".to_vec(), ns.clone()];
            c.extend(chunk.iter().map(|(k, _)| (*k).clone()));
            cmds.push(c);
        }
        let mut txids = self.txids.clone();
        txids.insert(COMMIT_TXID_KEY.to_owned(), txid.to_string());
        let previous = std::mem::replace(&mut self.txids, txids);
        cmds.push(self.txid_cmd());
        cmds.push(cmd(&[b"DEL", self.prepare_namespace.as_bytes()]));
        if let Err(e) = self.transaction(cmds) {
            self.txids = previous;
            return Err(e);
        }
        self.pending_commit.clear();
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StateError> {
        self.ensure_loaded()?;
        if self.pending_prepare.is_empty() {
            return Ok(());
        }
        let ns = self.namespace.as_bytes().to_vec();
        let (deletes, adds): (Vec<_>, Vec<_>) = self
            .pending_prepare
            .iter()
            .partition(|(_, v)| v.as_slice() == TOMBSTONE);
        let adds: BTreeMap<Vec<u8>, Vec<u8>> = adds
            .into_iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut cmds = hset_cmds(&ns, &adds);
        for (k, _) in deletes {
            cmds.push(vec![b"HDEL".to_vec(), ns.clone(), k.clone()]);
        }
        self.transaction(cmds)?;
        self.pending_prepare.clear();
        Ok(())
    }

    fn rollback(&mut self) -> Result<(), StateError> {
        self.ensure_loaded()?;
        let mut txids = self.txids.clone();
        match self.last_txid(COMMIT_TXID_KEY) {
            Some(c) => {
                txids.insert(PREPARE_TXID_KEY.to_owned(), c.to_string());
            }
            None => {
                txids.remove(PREPARE_TXID_KEY);
            }
        }
        let mut cmds = vec![cmd(&[b"DEL", self.prepare_namespace.as_bytes()])];
        let previous = std::mem::replace(&mut self.txids, txids);
        if self.txids.is_empty() {
            cmds.push(cmd(&[b"DEL", self.txid_namespace.as_bytes()]));
        } else {
            cmds.push(self.txid_cmd());
        }
        if let Err(e) = self.transaction(cmds) {
            self.txids = previous;
            return Err(e);
        }
        self.pending_commit.clear();
        self.pending_prepare.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_config_maps_storm_fields() {
        let mut conf = ConfMap::new();
        conf.insert(
            STATE_PROVIDER_CONFIG.to_owned(),
            serde_json::json!(
                r#"{"keyClass":"java.lang.String","valueClass":"java.lang.Long",
                "jedisPoolConfig":{"host":"10.0.0.5","port":7000,"database":2,"password":"pw","timeout":500}}"#
            ),
        );
        let c = RedisStateConfig::from_conf(&conf).unwrap();
        assert_eq!(
            c.pool(),
            JedisPoolConfig {
                host: "10.0.0.5".into(),
                port: 7000,
                timeout: 500,
                database: 2,
                password: Some("pw".into())
            }
        );
        assert_eq!(c.key_class.as_deref(), Some("java.lang.String"));
        // defaults
        let c = RedisStateConfig::from_conf(&ConfMap::new()).unwrap();
        assert_eq!(c.pool(), JedisPoolConfig::default());
    }

    #[test]
    fn provider_config_errors_name_the_problem() {
        for (json, needle) in [
            (
                r#"{"keySerializerClass":"a.B"}"#,
                "keySerializerClass a.B is a Java class",
            ),
            (r#"{"jedisClusterConfig":{}}"#, "jedisClusterConfig"),
            (r#"{"jedisPoolConfig":{"port":"x"}}"#, "invalid type"),
            ("not json", "expected"),
        ] {
            let mut conf = ConfMap::new();
            conf.insert(STATE_PROVIDER_CONFIG.to_owned(), serde_json::json!(json));
            let e = RedisStateConfig::from_conf(&conf).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
            assert!(e.contains("topology.state.provider.config"), "{e}");
        }
    }

    #[test]
    fn redis_down_is_a_clear_error() {
        // A port nothing listens on (bound then released).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = RedisStateConfig {
            jedis_pool_config: Some(JedisPoolConfig {
                port,
                timeout: 300,
                ..JedisPoolConfig::default()
            }),
            ..RedisStateConfig::default()
        };
        let mut s = RedisKeyValueState::new("count-3", config);
        s.put(vec![1], vec![1, 2]).unwrap();
        let e = s.prepare_commit(1).unwrap_err().to_string();
        assert!(e.contains(&format!("127.0.0.1:{port}")), "{e}");
        assert!(e.contains("cannot connect"), "{e}");
        // The pending write is still there for the retry.
        assert_eq!(s.pending_prepare.len(), 1);
    }
}
