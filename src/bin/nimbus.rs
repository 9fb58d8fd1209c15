//! `nimbus`: the nimbus daemon. A thin shim over `storm::nimbus`.

#[global_allocator]
static GLOBAL: storm::Allocator = storm::Allocator;

fn main() -> anyhow::Result<()> {
    storm::nimbus::main(&storm::daemon::DaemonArgs::from_args(std::env::args_os()))
}
