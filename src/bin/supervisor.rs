//! `supervisor`: the supervisor daemon. A thin shim over `storm::supervisor`.

#[global_allocator]
static GLOBAL: storm::Allocator = storm::Allocator;

fn main() -> anyhow::Result<()> {
    storm::supervisor::main(&storm::daemon::DaemonArgs::from_args(std::env::args_os()))
}
