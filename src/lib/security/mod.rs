//! Security (issue 18): who a caller is and what they may do. This module owns the request context
//! every Thrift call runs in ([`ReqContext`], Storm's `ReqContext`): the server's transport fills it in
//! for each connection once the caller is authenticated, and handlers and authorizers read it.
//!
//! Submodules: `principal` (`storm.principal.tolocal`), `groups` (`storm.group.mapping.service`),
//! `authorizer` (`nimbus.authorizer`), `drpc_acl` (`drpc.authorizer`), `http_auth` (the HTTP
//! filters `ui.filter`, `logviewer.filter`, `drpc.http.filter`), `secrets` (what is never shown or
//! logged), `jaas`/`sasl`/`digest_md5`/`transport` (`storm.thrift.transport`: Storm's JAAS file and
//! SASL DIGEST-MD5), `tls` (`nimbus.thrift.tls.*`: Storm's TlsTransportPlugin). ZooKeeper ACLs live in `cluster::acl`, worker-link authentication in `transport`.

pub mod authorizer;
pub mod context;
pub mod drpc_acl;
pub mod groups;
pub mod http_auth;
pub mod principal;
pub mod secrets;
pub mod yaml;

pub use authorizer::Authorizer;
pub use context::ReqContext;
pub mod digest_md5;
pub mod jaas;
pub mod sasl;
pub mod tls;
pub mod transport;

pub use transport::{ClientTransport, ConnectionType, ServerTransport};

/// A security setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// A plugin key names a class storm-rs does not implement.
    #[error("{key} = \"{value}\" is not supported; use one of: {}", accepted.join(", "))]
    UnknownClass {
        key: String,
        value: String,
        accepted: Vec<&'static str>,
    },
    /// A file named by a key cannot be read or parsed.
    #[error("{key}: cannot use {path}: {message}")]
    File {
        key: String,
        path: String,
        message: String,
    },
    /// A key has a value of the wrong shape.
    #[error("{key}: {message}")]
    Value { key: String, message: String },
}

/// A config value as text for messages.
pub(crate) fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
