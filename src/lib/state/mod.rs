//! Stateful bolts and their state (Storm's `org.apache.storm.state` and the stateful half of
//! `org.apache.storm.topology`): the [`KeyValueState`] a bolt keeps, its backends, the checkpoint
//! protocol that saves it, and the wrappers the topology builder puts around bolts.
//!
//! * [`KeyValueState`]: Storm's `KeyValueState<K, V>` over [`Value`] keys and values, a cheap handle
//!   shared by the bolt (which reads and writes) and its executor (which prepares, commits and rolls
//!   back). Its backend ([`StateBackend`]) is chosen by `topology.state.provider`:
//!   [`InMemoryKeyValueState`] (Storm's default, `org.apache.storm.state.InMemoryKeyValueStateProvider`)
//!   or [`RedisKeyValueState`] (`org.apache.storm.redis.state.RedisKeyValueStateProvider`, configured by
//!   `topology.state.provider.config`, see [`redis::RedisStateConfig`]).
//! * [`checkpoint`]: [`CheckPointState`] and its transitions, and the [`CheckpointSpout`]
//!   (`$checkpointspout`) that drives the three-phase protocol on the `$checkpoint` stream.
//! * [`bolt`]: the [`StatefulBolt`] trait (Storm's `IStatefulBolt`), [`StatefulBoltExecutor`] and
//!   [`CheckpointTupleForwarder`].
//!
//! # Encoding
//!
//! Keys and values are stored as bytes (the same in every backend): a key is one value in the tuple
//! values codec ([`crate::tuple::codec::encode_value`]); a value is the byte `0x01` followed by the
//! value in that codec, and a deleted key awaiting commit is the tombstone `0x00` (Storm's
//! `DefaultStateEncoder` wraps values in an `Optional` the same way). ARCHITECTURE.md documents it.

pub mod bolt;
pub mod checkpoint;
pub mod memory;
pub mod redis;

use std::sync::{Arc, Mutex, MutexGuard};

use crate::api::{ConfMap, TopologyContext};
use crate::tuple::codec::{decode_value_prefix, encode_value, CodecError};
use crate::tuple::Value;

pub use bolt::{CheckpointTupleForwarder, StatefulBolt, StatefulBoltExecutor};
pub use checkpoint::{Action, CheckPointState, CheckpointSpout, TxState};
pub use memory::InMemoryKeyValueState;
pub use redis::{RedisKeyValueState, RedisStateConfig};

/// `topology.state.provider`.
pub const STATE_PROVIDER: &str = "topology.state.provider";
/// `topology.state.provider.config`.
pub const STATE_PROVIDER_CONFIG: &str = "topology.state.provider.config";
/// `topology.state.checkpoint.interval.ms`.
pub const CHECKPOINT_INTERVAL_MS: &str = "topology.state.checkpoint.interval.ms";
/// Storm's default provider: state in the worker's memory only.
pub const IN_MEMORY_PROVIDER: &str = "org.apache.storm.state.InMemoryKeyValueStateProvider";
/// storm-redis's provider.
pub const REDIS_PROVIDER: &str = "org.apache.storm.redis.state.RedisKeyValueStateProvider";

/// Why a state operation failed. A failed checkpoint action fails the checkpoint tuple, so the
/// checkpoint spout recovers and retries; committed state is never touched by a failed operation.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("unknown state provider '{provider}' in topology.state.provider: storm-rs has {IN_MEMORY_PROVIDER} and {REDIS_PROVIDER}")]
    UnknownProvider { provider: String },
    #[error("topology.state.provider.config is not valid for {provider}: {message}")]
    BadConfig { provider: String, message: String },
    #[error("Redis state at {addr}: {message} (check the Redis server and jedisPoolConfig in topology.state.provider.config)")]
    Redis { addr: String, message: String },
    #[error("state {namespace}: stored bytes are not a valid encoding: {source}")]
    Corrupt {
        namespace: String,
        #[source]
        source: CodecError,
    },
    /// Storm's `Invalid txid …` / `Invalid prepared state for commit` / `Cannot prepare a new txn…`.
    #[error("state {namespace}: {message}")]
    Transaction { namespace: String, message: String },
}

/// Encoded key-value pairs.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// What a state store does: Storm's `State` + `KeyValueState` on encoded keys and values.
pub trait StateBackend: Send {
    /// The namespace (`<component>-<task>`).
    fn namespace(&self) -> &str;
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<(), StateError>;
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;
    /// Removes `key`; returns its current (encoded) value.
    fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;
    /// Every visible entry (encoded), for [`KeyValueState::entries`].
    fn entries(&mut self) -> Result<Entries, StateError>;
    /// Phase one: saves the current changes as the prepared transaction `txid`.
    fn prepare_commit(&mut self, txid: i64) -> Result<(), StateError>;
    /// Phase two: makes prepared transaction `txid` the committed state.
    fn commit_txid(&mut self, txid: i64) -> Result<(), StateError>;
    /// Commits the current changes directly (the checkpoint spout's own state).
    fn commit(&mut self) -> Result<(), StateError>;
    /// Discards the prepared transaction and every uncommitted change.
    fn rollback(&mut self) -> Result<(), StateError>;
}

/// The tombstone: a deleted key awaiting commit.
pub const TOMBSTONE: &[u8] = &[0x00];

pub fn encode_key(key: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_value(key, &mut out);
    out
}

pub fn encode_state_value(value: &Value) -> Vec<u8> {
    let mut out = vec![0x01];
    encode_value(value, &mut out);
    out
}

/// `None` for the tombstone.
pub fn decode_state_value(namespace: &str, bytes: &[u8]) -> Result<Option<Value>, StateError> {
    match bytes.split_first() {
        Some((0x01, rest)) => decode_value_prefix(rest)
            .map(|(v, _)| Some(v))
            .map_err(|source| StateError::Corrupt {
                namespace: namespace.to_owned(),
                source,
            }),
        _ => Ok(None),
    }
}

pub fn decode_key(namespace: &str, bytes: &[u8]) -> Result<Value, StateError> {
    decode_value_prefix(bytes)
        .map(|(v, _)| v)
        .map_err(|source| StateError::Corrupt {
            namespace: namespace.to_owned(),
            source,
        })
}

/// A bolt's key-value state (Storm's `KeyValueState`): a handle, cloned between the bolt and its
/// executor. Writes stay in memory until the next checkpoint prepares and commits them.
#[derive(Clone)]
pub struct KeyValueState {
    inner: Arc<Mutex<Box<dyn StateBackend>>>,
}

impl std::fmt::Debug for KeyValueState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyValueState")
            .field("namespace", &self.lock().namespace().to_owned())
            .finish()
    }
}

impl KeyValueState {
    pub fn new(backend: Box<dyn StateBackend>) -> KeyValueState {
        KeyValueState {
            inner: Arc::new(Mutex::new(backend)),
        }
    }

    /// An empty in-memory state (tests, local mode).
    pub fn in_memory(namespace: &str) -> KeyValueState {
        KeyValueState::new(Box::new(InMemoryKeyValueState::new(namespace)))
    }

    fn lock(&self) -> MutexGuard<'_, Box<dyn StateBackend>> {
        // Only the executor thread uses a state; a poisoned lock means a panicking bolt, whose
        // executor is rebuilt with a fresh state anyway.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn namespace(&self) -> String {
        self.lock().namespace().to_owned()
    }

    pub fn put(&self, key: impl Into<Value>, value: impl Into<Value>) -> Result<(), StateError> {
        self.lock()
            .put(encode_key(&key.into()), encode_state_value(&value.into()))
    }

    pub fn get(&self, key: impl Into<Value>) -> Result<Option<Value>, StateError> {
        let mut backend = self.lock();
        match backend.get(&encode_key(&key.into()))? {
            Some(bytes) => decode_state_value(backend.namespace(), &bytes),
            None => Ok(None),
        }
    }

    /// Storm's `get(key, defaultValue)`.
    pub fn get_or(
        &self,
        key: impl Into<Value>,
        default: impl Into<Value>,
    ) -> Result<Value, StateError> {
        Ok(self.get(key)?.unwrap_or_else(|| default.into()))
    }

    /// Removes `key`, returning its value.
    pub fn delete(&self, key: impl Into<Value>) -> Result<Option<Value>, StateError> {
        let mut backend = self.lock();
        match backend.delete(&encode_key(&key.into()))? {
            Some(bytes) => decode_state_value(backend.namespace(), &bytes),
            None => Ok(None),
        }
    }

    /// Every key and value visible to the bolt (committed, prepared and pending), in key-byte order.
    pub fn entries(&self) -> Result<Vec<(Value, Value)>, StateError> {
        let mut backend = self.lock();
        let ns = backend.namespace().to_owned();
        let mut out = Vec::new();
        for (k, v) in backend.entries()? {
            if let Some(v) = decode_state_value(&ns, &v)? {
                out.push((decode_key(&ns, &k)?, v));
            }
        }
        Ok(out)
    }

    pub fn prepare_commit(&self, txid: i64) -> Result<(), StateError> {
        self.lock().prepare_commit(txid)
    }

    pub fn commit_txid(&self, txid: i64) -> Result<(), StateError> {
        self.lock().commit_txid(txid)
    }

    pub fn commit(&self) -> Result<(), StateError> {
        self.lock().commit()
    }

    pub fn rollback(&self) -> Result<(), StateError> {
        self.lock().rollback()
    }
}

/// Storm's `StateFactory.getState`: the state of `namespace` from the provider the topology
/// configures (`topology.state.provider`, default in-memory).
pub fn new_state(namespace: &str, conf: &ConfMap) -> Result<KeyValueState, StateError> {
    let provider = conf
        .get(STATE_PROVIDER)
        .and_then(|v| v.as_str())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(IN_MEMORY_PROVIDER);
    match provider {
        IN_MEMORY_PROVIDER => Ok(KeyValueState::in_memory(namespace)),
        REDIS_PROVIDER => {
            let config = RedisStateConfig::from_conf(conf)?;
            Ok(KeyValueState::new(Box::new(RedisKeyValueState::new(
                namespace, config,
            ))))
        }
        other => Err(StateError::UnknownProvider {
            provider: other.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests;

/// Storm's namespace of a task's state: `<component>-<task>`.
pub fn task_namespace(context: &TopologyContext) -> String {
    format!("{}-{}", context.this_component_id(), context.this_task_id())
}
