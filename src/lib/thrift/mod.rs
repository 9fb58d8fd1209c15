//! Storm's Thrift data structures and RPC services, and the byte encodings storm-rs stores them in.
//!
//! This module owns:
//!
//! * `storm.thrift`, storm-rs's own IDL with the names, field ids, types and requiredness of Apache
//!   Storm 2.8's `storm.thrift` (wire compatibility with Storm's clients, streamparse and thriftpy2), and
//!   `generated.rs`, the Rust that Thrift compiler 0.17.0 makes of it (`scripts/gen-thrift.sh`; checked
//!   in). Everything generated is re-exported here: the structs, unions, enums and exceptions
//!   (`Assignment`, `StormBase`, `StormTopology`, …) and, for the `Nimbus`, `DistributedRPC`,
//!   `DistributedRPCInvocations` and `Supervisor` services, the `…SyncClient`s, `…SyncHandler` traits
//!   and `…SyncProcessor`s.
//! * The codecs (no panics on any input; every failure is a [`CodecError`] naming what was wrong):
//!   * [`serialize`] / [`deserialize`]: plain Thrift binary protocol (`stormcode.ser`, LocalState);
//!   * [`serialize_gzip`] / [`deserialize_any`]: what goes into ZooKeeper, gzip(Thrift binary) as Storm
//!     2.x writes it; reading also accepts plain Thrift, recognises (and refuses) Storm 3's zstd, and
//!     caps decompression at `storm.compression.gzip.max.decompressed.bytes`;
//!   * [`conf_to_gzip_json`] / [`gzip_json_to_conf`]: the topology conf in `stormconf.ser`.
//! * [`BoundedBinaryInputProtocol`]: the binary-protocol reader behind [`deserialize`], also usable (with
//!   [`BoundedBinaryInputProtocolFactory`]) by RPC servers and clients so that a hostile size field
//!   cannot make them allocate unbounded memory or panic.
//! * Small conveniences over generated types ([`executor_key`], [`ExecutorInfo::key`],
//!   [`NodeInfo::slot`], [`TopologyStatus::name`], …).
//!
//! Decoding follows Storm's readers: unknown fields are skipped and bytes after the end of the top-level
//! struct are ignored.

#[allow(
    clippy::all,
    clippy::pedantic,
    clippy::nursery,
    dead_code,
    deprecated,
    missing_docs,
    non_camel_case_types,
    non_snake_case,
    unused_extern_crates,
    unused_imports,
    unused_mut,
    unused_variables
)]
mod generated;
mod protocol;
pub mod server;

use std::collections::BTreeSet;
use std::io::{Read, Write};

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use thrift::protocol::{TBinaryOutputProtocol, TSerializable};

pub use generated::*;
pub use protocol::{BoundedBinaryInputProtocol, BoundedBinaryInputProtocolFactory};

/// Storm's config key capping gzip decompression of cluster-state payloads.
pub const GZIP_MAX_DECOMPRESSED_BYTES_KEY: &str = "storm.compression.gzip.max.decompressed.bytes";

/// Storm's default for [`GZIP_MAX_DECOMPRESSED_BYTES_KEY`]: 100 MiB.
pub const DEFAULT_GZIP_MAX_DECOMPRESSED_BYTES: u64 = 104_857_600;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Why bytes could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The input was empty where a serialized value was expected (e.g. a znode without data).
    #[error("empty input where a serialized {type_name} was expected")]
    Empty { type_name: &'static str },
    /// The Thrift bytes do not decode as the expected type.
    #[error("cannot decode a {type_name} from {len} bytes of {encoding}: {detail}")]
    Thrift {
        type_name: &'static str,
        /// "Thrift binary" or "gzip(Thrift binary)".
        encoding: &'static str,
        /// Length of the Thrift bytes (after decompression).
        len: usize,
        /// What the reader found wrong, with the byte offset where it knows it.
        detail: String,
    },
    /// The gzip stream is cut short or damaged.
    #[error("{problem}")]
    Gzip { problem: String },
    /// The gzip stream inflates beyond the configured cap.
    #[error(
        "gzip data inflates to more than {limit} bytes, the cap set by {GZIP_MAX_DECOMPRESSED_BYTES_KEY}; \
         the data is corrupt or hostile, or the cap must be raised"
    )]
    TooLarge { limit: u64 },
    /// Storm 3.x's zstd encoding.
    #[error(
        "zstd-compressed data (the encoding Storm 3.x writes) is not supported by storm-rs yet; \
         it reads gzip(Thrift) and plain Thrift as Storm 2.x writes them"
    )]
    ZstdUnsupported,
    /// The topology conf is not JSON.
    #[error("topology conf is not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// The topology conf is JSON but not an object.
    #[error("topology conf is JSON but not an object (found {found})")]
    ConfNotAnObject { found: &'static str },
}

/// How a stored payload is encoded, judged from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Starts with the gzip magic `1f 8b`.
    Gzip,
    /// Starts with the zstd frame magic `28 b5 2f fd`.
    Zstd,
    /// Anything else: taken as plain Thrift binary (a struct never starts with either magic, because
    /// `0x1f` and `0x28` are no Thrift field types).
    Plain,
}

/// Tells the encoding of `bytes` from its magic number.
pub fn detect_encoding(bytes: &[u8]) -> Encoding {
    if bytes.starts_with(&GZIP_MAGIC) {
        Encoding::Gzip
    } else if bytes.starts_with(&ZSTD_MAGIC) {
        Encoding::Zstd
    } else {
        Encoding::Plain
    }
}

/// Encodes `value` with the Thrift binary protocol (strict writes, as Storm's `TSerializer`).
pub fn serialize<T: TSerializable>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    let mut proto = TBinaryOutputProtocol::new(&mut out, true);
    // The binary protocol only fails when its transport fails, and a Vec never does; the generated
    // writers have no error of their own.
    value
        .write_to_out_protocol(&mut proto)
        .expect("Thrift binary encoding into memory cannot fail");
    out
}

/// Decodes a `T` from Thrift binary bytes (strict or non-strict writers produce the same struct bytes).
pub fn deserialize<T: TSerializable>(bytes: &[u8]) -> Result<T, CodecError> {
    decode_thrift(bytes, "Thrift binary")
}

fn decode_thrift<T: TSerializable>(bytes: &[u8], encoding: &'static str) -> Result<T, CodecError> {
    let type_name = short_type_name::<T>();
    if bytes.is_empty() {
        return Err(CodecError::Empty { type_name });
    }
    let mut proto = BoundedBinaryInputProtocol::for_slice(bytes);
    T::read_from_in_protocol(&mut proto).map_err(|e| CodecError::Thrift {
        type_name,
        encoding,
        len: bytes.len(),
        detail: describe_thrift_error(&e),
    })
}

/// Encodes `value` as gzip(Thrift binary): the payload of Storm 2.x's znodes.
pub fn serialize_gzip<T: TSerializable>(value: &T) -> Vec<u8> {
    gzip(&serialize(value))
}

/// Decodes a cluster-state payload: gzip(Thrift) or plain Thrift, told apart by the gzip magic, with
/// decompression capped at [`DEFAULT_GZIP_MAX_DECOMPRESSED_BYTES`].
pub fn deserialize_any<T: TSerializable>(bytes: &[u8]) -> Result<T, CodecError> {
    deserialize_any_with_limit(bytes, DEFAULT_GZIP_MAX_DECOMPRESSED_BYTES)
}

/// [`deserialize_any`] with an explicit decompression cap (the value of
/// `storm.compression.gzip.max.decompressed.bytes`).
pub fn deserialize_any_with_limit<T: TSerializable>(
    bytes: &[u8],
    max_decompressed: u64,
) -> Result<T, CodecError> {
    match detect_encoding(bytes) {
        Encoding::Gzip => decode_thrift(&gunzip(bytes, max_decompressed)?, "gzip(Thrift binary)"),
        Encoding::Zstd => Err(CodecError::ZstdUnsupported),
        Encoding::Plain => decode_thrift(bytes, "Thrift binary"),
    }
}

/// gzip-compresses `bytes` (default level, as Java's `GZIPOutputStream`).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(bytes.len() / 2 + 32),
        Compression::default(),
    );
    // Compressing into a Vec performs no I/O that could fail.
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .expect("gzip into memory cannot fail")
}

/// Inflates gzip data (concatenated members too, as Java's `GZIPInputStream`), refusing to produce more
/// than `max_decompressed` bytes.
pub fn gunzip(bytes: &[u8], max_decompressed: u64) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    let mut decoder = MultiGzDecoder::new(bytes).take(max_decompressed.saturating_add(1));
    decoder.read_to_end(&mut out).map_err(|e| CodecError::Gzip {
        problem: if e.kind() == std::io::ErrorKind::UnexpectedEof {
            format!(
                "gzip data is truncated: the {}-byte stream ends before its end marker and checksum",
                bytes.len()
            )
        } else {
            format!("gzip data is corrupt: {e}")
        },
    })?;
    if out.len() as u64 > max_decompressed {
        return Err(CodecError::TooLarge {
            limit: max_decompressed,
        });
    }
    Ok(out)
}

/// Encodes a topology conf as `stormconf.ser` holds it: gzip of its JSON text.
pub fn conf_to_gzip_json(conf: &serde_json::Map<String, serde_json::Value>) -> Vec<u8> {
    // A map of JSON values always serializes (keys are strings).
    let json = serde_json::to_vec(conf).expect("a JSON object always serializes");
    gzip(&json)
}

/// Decodes `stormconf.ser` (gzip of a JSON object; plain JSON is accepted too), with decompression capped
/// at [`DEFAULT_GZIP_MAX_DECOMPRESSED_BYTES`].
pub fn gzip_json_to_conf(
    bytes: &[u8],
) -> Result<serde_json::Map<String, serde_json::Value>, CodecError> {
    gzip_json_to_conf_with_limit(bytes, DEFAULT_GZIP_MAX_DECOMPRESSED_BYTES)
}

/// [`gzip_json_to_conf`] with an explicit decompression cap.
pub fn gzip_json_to_conf_with_limit(
    bytes: &[u8],
    max_decompressed: u64,
) -> Result<serde_json::Map<String, serde_json::Value>, CodecError> {
    let inflated;
    let json = match detect_encoding(bytes) {
        Encoding::Gzip => {
            inflated = gunzip(bytes, max_decompressed)?;
            &inflated[..]
        }
        Encoding::Zstd => return Err(CodecError::ZstdUnsupported),
        Encoding::Plain => bytes,
    };
    match serde_json::from_slice(json).map_err(CodecError::Json)? {
        serde_json::Value::Object(map) => Ok(map),
        other => Err(CodecError::ConfNotAnObject {
            found: json_kind(&other),
        }),
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The last path segment of `T`'s name, e.g. `Assignment`.
fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}

/// A `thrift::Error` as one line. (Its `Display` shows only the error kind, not the message.)
pub fn describe_thrift_error(e: &thrift::Error) -> String {
    match e {
        thrift::Error::Transport(t) => format!("{t}: {}", t.message),
        thrift::Error::Protocol(p) => format!("{p}: {}", p.message),
        thrift::Error::Application(a) => format!("{a}: {}", a.message),
        thrift::Error::User(u) => {
            describe_storm_exception(u.as_ref()).unwrap_or_else(|| u.to_string())
        }
    }
}

/// `<Storm exception name>: <msg>` for the exceptions Storm's services declare.
pub fn describe_storm_exception(
    u: &(dyn std::error::Error + Send + Sync + 'static),
) -> Option<String> {
    macro_rules! named {
        ($($t:ident),*) => {
            $(if let Some(x) = u.downcast_ref::<$t>() {
                return Some(format!("{}: {}", stringify!($t), x.msg));
            })*
        };
    }
    named!(
        AlreadyAliveException,
        NotAliveException,
        InvalidTopologyException,
        AuthorizationException,
        IllegalStateException,
        KeyNotFoundException,
        KeyAlreadyExistsException,
        DRPCExecutionException
    );
    None
}

// ------------------------------------------------------------------------------------------------------
// Conveniences over generated types.
// ------------------------------------------------------------------------------------------------------

/// The key of an executor in `Assignment.executor_node_port` / `executor_start_time_secs`:
/// `[task_start, task_end]`.
pub fn executor_key(task_start: impl Into<i64>, task_end: impl Into<i64>) -> Vec<i64> {
    vec![task_start.into(), task_end.into()]
}

impl ExecutorInfo {
    /// This executor's `[task_start, task_end]` assignment key.
    pub fn key(&self) -> Vec<i64> {
        executor_key(self.task_start, self.task_end)
    }

    /// The executor of an assignment key; `None` unless it is two task ids that fit an i32.
    pub fn from_key(key: &[i64]) -> Option<ExecutorInfo> {
        match key {
            [start, end] => Some(ExecutorInfo::new(
                i32::try_from(*start).ok()?,
                i32::try_from(*end).ok()?,
            )),
            _ => None,
        }
    }
}

impl NodeInfo {
    /// The slot `node:port` (Storm always puts exactly one port in the set).
    pub fn slot(node: impl Into<String>, port: i64) -> NodeInfo {
        NodeInfo::new(node.into(), BTreeSet::from([port]))
    }

    /// The slot's port (the smallest, should the set hold several).
    pub fn first_port(&self) -> Option<i64> {
        self.port.iter().next().copied()
    }
}

impl TopologyStatus {
    /// Storm's name of the status ("ACTIVE", …), as `TopologySummary.status` and `storm list` show it;
    /// `None` for a value this schema does not know.
    pub fn name(&self) -> Option<&'static str> {
        match *self {
            TopologyStatus::ACTIVE => Some("ACTIVE"),
            TopologyStatus::INACTIVE => Some("INACTIVE"),
            TopologyStatus::REBALANCING => Some("REBALANCING"),
            TopologyStatus::KILLED => Some("KILLED"),
            _ => None,
        }
    }
}

impl DRPCExceptionType {
    /// Storm's name of the type ("FAILED_REQUEST", …), used in DRPC's HTTP error bodies.
    pub fn name(&self) -> Option<&'static str> {
        match *self {
            DRPCExceptionType::INTERNAL_ERROR => Some("INTERNAL_ERROR"),
            DRPCExceptionType::SERVER_SHUTDOWN => Some("SERVER_SHUTDOWN"),
            DRPCExceptionType::SERVER_TIMEOUT => Some("SERVER_TIMEOUT"),
            DRPCExceptionType::FAILED_REQUEST => Some("FAILED_REQUEST"),
            _ => None,
        }
    }
}

impl Grouping {
    /// Storm's global grouping: a fields grouping on no fields.
    pub fn global() -> Grouping {
        Grouping::Fields(Vec::new())
    }

    pub fn shuffle() -> Grouping {
        Grouping::Shuffle(NullStruct {})
    }
}

impl GlobalStreamId {
    /// `(component, stream)`; Storm's default stream is named "default".
    pub fn of(component: impl Into<String>, stream: impl Into<String>) -> GlobalStreamId {
        GlobalStreamId::new(component.into(), stream.into())
    }
}

#[cfg(test)]
mod tests;
