//! Security (issue 18): who a caller is and what they may do. This module owns the request context
//! every Thrift call runs in ([`ReqContext`], Storm's `ReqContext`): the server's transport fills it in
//! for each connection once the caller is authenticated, and handlers and authorizers read it.
//!
//! Submodules (added as the parts land): the transports (SASL DIGEST-MD5 with Storm's JAAS file, TLS),
//! the authorizers (`nimbus.authorizer`, `drpc.authorizer`), ZooKeeper ACLs, worker-link
//! authentication and HTTP credentials.

pub mod context;

pub use context::ReqContext;
pub mod digest_md5;
pub mod jaas;
pub mod sasl;
pub mod transport;

pub use transport::{ClientTransport, ConnectionType, ServerTransport};
