//! `nimbus`: the nimbus daemon. A thin shim over `storm::daemon`.

fn main() -> anyhow::Result<()> {
    storm::daemon::main("nimbus", std::env::args_os())
}
