//! `nimbus`: the nimbus daemon. A thin shim over `storm::daemon`.

#[global_allocator]
static GLOBAL: storm::Allocator = storm::Allocator;

fn main() -> anyhow::Result<()> {
    storm::daemon::main("nimbus", std::env::args_os())
}
