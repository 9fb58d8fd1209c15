//! `worker`: the worker daemon. A thin shim over `storm::worker`.

#[global_allocator]
static GLOBAL: storm::Allocator = storm::Allocator;

fn main() -> anyhow::Result<()> {
    storm::worker::main(&storm::daemon::DaemonArgs::from_args(std::env::args_os()))
}
