//! `ui`: the Storm UI daemon. A thin shim over `storm::ui`.

#[global_allocator]
static GLOBAL: storm::Allocator = storm::Allocator;

fn main() -> anyhow::Result<()> {
    storm::ui::main(&storm::daemon::DaemonArgs::from_args(std::env::args_os()))
}
