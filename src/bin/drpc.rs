//! `drpc`: the drpc daemon. A thin shim over `storm::daemon`.

fn main() -> anyhow::Result<()> {
    storm::daemon::main("drpc", std::env::args_os())
}
