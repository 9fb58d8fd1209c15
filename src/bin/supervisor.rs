//! `supervisor`: the supervisor daemon. A thin shim over `storm::daemon`.

fn main() -> anyhow::Result<()> {
    storm::daemon::main("supervisor", std::env::args_os())
}
