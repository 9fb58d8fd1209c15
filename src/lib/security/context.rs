//! The request context of the Thrift call the current thread is serving (Storm's `ReqContext`):
//! the authenticated principal (none on a plain transport) and the remote address.
//!
//! Storm keeps this in a thread-local set by the transport for each request; so does storm-rs. The
//! Thrift server sets it when a connection's thread starts serving (after the transport's handshake)
//! and clears it when the connection ends, so a handler reads it with [`ReqContext::current`] without
//! the generated processor having to carry it.

use std::cell::RefCell;
use std::net::SocketAddr;

/// Who is calling, as the transport established it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReqContext {
    /// The authenticated principal (`bob`, `bob@EXAMPLE.COM`, a TLS certificate's subject), or `None`
    /// when the transport authenticates nobody (`SimpleTransportPlugin`).
    pub principal: Option<String>,
    /// The caller's address, when known.
    pub remote: Option<SocketAddr>,
}

thread_local! {
    static CURRENT: RefCell<ReqContext> = RefCell::new(ReqContext::default());
}

impl ReqContext {
    /// The context of the call this thread is serving (the default, anonymous one outside a call).
    pub fn current() -> ReqContext {
        CURRENT.with(|c| c.borrow().clone())
    }

    /// Makes `self` the context of this thread until [`ReqContext::clear`] (the Thrift server calls
    /// this once per connection, after authentication).
    pub fn install(self) {
        CURRENT.with(|c| *c.borrow_mut() = self);
    }

    /// Back to the anonymous context.
    pub fn clear() {
        CURRENT.with(|c| *c.borrow_mut() = ReqContext::default());
    }

    /// The principal's short name, as Storm's default principal-to-local mapping makes it
    /// (`KerberosPrincipalToLocal`-style: the part before the first `/` or `@`).
    pub fn local_user(&self) -> Option<String> {
        self.principal
            .as_deref()
            .map(|p| p.split(['/', '@']).next().unwrap_or(p).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_is_per_thread_and_cleared() {
        ReqContext {
            principal: Some("alice@EXAMPLE.COM".into()),
            remote: None,
        }
        .install();
        assert_eq!(ReqContext::current().local_user().as_deref(), Some("alice"));
        std::thread::spawn(|| assert_eq!(ReqContext::current(), ReqContext::default()))
            .join()
            .unwrap();
        ReqContext::clear();
        assert_eq!(ReqContext::current().principal, None);
    }
}
