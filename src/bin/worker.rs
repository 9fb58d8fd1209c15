//! `worker`: the worker daemon. A thin shim over `storm::daemon`.

fn main() -> anyhow::Result<()> {
    storm::daemon::main("worker", std::env::args_os())
}
