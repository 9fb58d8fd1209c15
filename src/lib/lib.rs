//! storm-rs: Apache Storm re-implemented in Rust.
//!
//! The library owns everything; the binaries in `src/bin/` are thin shims over the entry points here.
//! See `ARCHITECTURE.md` for the code map and the invariants between modules.

pub mod acker;
pub mod api;
pub mod cli;
pub mod client;
pub mod cluster;
pub mod config;
pub mod daemon;
pub mod dev_zookeeper;
pub mod drpc;
pub mod executor;
pub mod grouping;
pub mod http;
pub mod jvm;
pub mod local;
pub mod local_state;
pub mod logging;
pub mod logviewer;
pub mod multilang;
pub mod nimbus;
pub mod paths;
pub mod prelude;
pub mod security;
pub mod state;
pub mod submitter;
pub mod supervisor;
pub mod thrift;
pub mod topology;
pub mod transport;
pub mod tuple;
pub mod ui;
pub mod window;
pub mod worker;

/// The memory allocator storm-rs binaries use (mimalloc): tuples are allocated on one executor thread
/// and freed on another, a pattern glibc's malloc handles slowly (BENCHMARKS.md: ~25 % less CPU per
/// tuple). A topology program opts in with
/// `#[global_allocator] static GLOBAL: storm::Allocator = storm::Allocator;`.
pub use mimalloc::MiMalloc as Allocator;

/// The version printed by `storm version` and reported to clients (streamparse branches on it, so it is a
/// real semver string in Storm's numbering).
pub const STORM_VERSION: &str = "2.8.0";

/// This implementation's own version.
pub const STORM_RS_VERSION: &str = env!("CARGO_PKG_VERSION");
