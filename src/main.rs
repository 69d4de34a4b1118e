//! The `gatehouse` binary: parses the command line and hands each command to its module.
//!
//! The binary only wires: the work is done by the library crates.

mod cli;
mod policy_cmd;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::Policy(command) => policy_cmd::run(command),
    }
}
