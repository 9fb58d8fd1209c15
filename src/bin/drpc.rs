//! `drpc`: the drpc daemon. A thin shim over `storm::drpc`.

#[global_allocator]
static GLOBAL: storm::Allocator = storm::Allocator;

fn main() -> anyhow::Result<()> {
    storm::drpc::main(&storm::daemon::DaemonArgs::from_args(std::env::args_os()))
}
