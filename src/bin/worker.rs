//! `worker`: the worker daemon. A thin shim over `storm::daemon`.

#[global_allocator]
static GLOBAL: storm::Allocator = storm::Allocator;

fn main() -> anyhow::Result<()> {
    storm::daemon::main("worker", std::env::args_os())
}
