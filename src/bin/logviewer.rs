//! `logviewer`: the logviewer daemon. A thin shim over `storm::logviewer`.

#[global_allocator]
static GLOBAL: storm::Allocator = storm::Allocator;

fn main() -> anyhow::Result<()> {
    storm::logviewer::main(&storm::daemon::DaemonArgs::from_args(std::env::args_os()))
}
