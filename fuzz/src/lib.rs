//! Shared pieces of the storm-rs fuzz targets: handlers that refuse every Thrift call (generated,
//! [`stubs`]), the server options each daemon uses, and an in-memory stream for the framed server loop.

pub mod stubs;

use std::io::{Read, Write};

use storm::thrift::server::ServerOptions;
use thrift::server::TProcessor;

/// The processors of the Thrift services storm-rs serves (nimbus, drpc, drpc invocations, supervisor),
/// each with a handler that refuses every call: the target exercises reading the calls only.
pub fn processor(selector: u8) -> (&'static dyn TProcessor, ServerOptions) {
    use std::sync::OnceLock;
    use storm::thrift::*;
    static NIMBUS: OnceLock<NimbusSyncProcessor<stubs::Refuse>> = OnceLock::new();
    static DRPC: OnceLock<DistributedRPCSyncProcessor<stubs::Refuse>> = OnceLock::new();
    static INVOCATIONS: OnceLock<DistributedRPCInvocationsSyncProcessor<stubs::Refuse>> =
        OnceLock::new();
    static SUPERVISOR: OnceLock<SupervisorSyncProcessor<stubs::Refuse>> = OnceLock::new();
    let opts = |nullable| ServerOptions {
        max_frame_bytes: 1 << 20,
        nullable_string_args: nullable,
        ..ServerOptions::default()
    };
    match selector % 4 {
        0 => (
            NIMBUS.get_or_init(|| NimbusSyncProcessor::new(stubs::Refuse)),
            opts(storm::nimbus::NULLABLE_STRING_ARGS),
        ),
        1 => (
            DRPC.get_or_init(|| DistributedRPCSyncProcessor::new(stubs::Refuse)),
            opts(&[]),
        ),
        2 => (
            INVOCATIONS.get_or_init(|| DistributedRPCInvocationsSyncProcessor::new(stubs::Refuse)),
            opts(&[]),
        ),
        _ => (
            SUPERVISOR.get_or_init(|| SupervisorSyncProcessor::new(stubs::Refuse)),
            opts(&[]),
        ),
    }
}

/// A connection made of bytes in memory: reads `input`, keeps at most `cap` bytes written.
pub struct MemStream<'a> {
    pub input: &'a [u8],
    pub written: usize,
}

impl Read for MemStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for MemStream<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.written += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A scratch directory for the archive targets (in `/dev/shm` when there is one), made once.
pub fn scratch() -> &'static std::path::Path {
    use std::sync::OnceLock;
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = std::path::Path::new("/dev/shm");
        if shm.is_dir() {
            tempfile::Builder::new()
                .prefix("storm-fuzz")
                .tempdir_in(shm)
        } else {
            tempfile::Builder::new().prefix("storm-fuzz").tempdir()
        }
        .expect("a scratch directory")
    })
    .path()
}

/// Panics when `dir` holds anything but `allowed` at its top level (an archive entry escaped its
/// destination).
pub fn assert_contained(dir: &std::path::Path, allowed: &[&str]) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        assert!(
            allowed.contains(&name.as_ref()),
            "unexpected {name} next to the destination"
        );
    }
    // Nothing escaped to the scratch root either.
    let parent = dir.parent().unwrap();
    assert_eq!(
        std::fs::read_dir(parent).unwrap().count(),
        1,
        "an entry escaped into {}",
        parent.display()
    );
}
