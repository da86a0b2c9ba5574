//! The `enlist` binary: hands the command line to the library.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    enlist::cli::main(enlist::cli::Cli::parse())
}
