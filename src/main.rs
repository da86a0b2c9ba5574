use clap::Parser;
use std::process::ExitCode;

// A request allocates and frees many small buffers (rows, JSON, headers);
// glibc's malloc spent a tenth of a list page's time there (bench/ANALYSIS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    enlist::cli::main(enlist::cli::Cli::parse())
}
