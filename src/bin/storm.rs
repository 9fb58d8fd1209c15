//! `storm`: the command line. A thin shim over `storm::cli`.

#[global_allocator]
static GLOBAL: storm::Allocator = storm::Allocator;

fn main() {
    std::process::exit(storm::cli::main_with_args(std::env::args_os()));
}
