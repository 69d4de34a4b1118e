//! The `gatehouse` binary: parses the command line and hands each command to its module.
//!
//! The binary only wires: `Config::load` → `State::open` → `router` → `serve(listener, shutdown)`.
//! A bad config exits with a one-line error and status 64 (EX_USAGE).

mod apikey_cmd;
mod backup_cmd;
mod cli;
mod config;
mod gateway;
mod health;
mod keys_cmd;
mod policy_cmd;
mod serve;
mod state;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: the gateway data plane allocates many small,
/// short-lived blocks per request (see docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// EX_USAGE: the configuration or command line is wrong.
const EXIT_USAGE: u8 = 64;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::Policy(command) => policy_cmd::run(command),
        cli::Command::Serve(args) => {
            let config = match config::Config::load(&args) {
                Ok(config) => config,
                Err(err) => return usage_error(&err),
            };
            init_logging();
            run_async(serve::run(config))
        }
        cli::Command::Apikey(command) => {
            let config = match config::Config::load(apikey_cmd::service_args(&command)) {
                Ok(config) => config,
                Err(err) => return usage_error(&err),
            };
            init_logging();
            run_async(apikey_cmd::run(config, command))
        }
        cli::Command::Backup { file, service } => {
            let config = match config::Config::load(&service) {
                Ok(config) => config,
                Err(err) => return usage_error(&err),
            };
            init_logging();
            run_async(backup_cmd::backup(config, file))
        }
        cli::Command::Restore { file, service } => {
            let config = match config::Config::load(&service) {
                Ok(config) => config,
                Err(err) => return usage_error(&err),
            };
            init_logging();
            run_async(backup_cmd::restore(config, file))
        }
        cli::Command::Keys(cli::KeysCommand::Rotate { pool, service }) => {
            let config = match config::Config::load(&service) {
                Ok(config) => config,
                Err(err) => return usage_error(&err),
            };
            init_logging();
            run_async(keys_cmd::rotate(config, pool))
        }
    }
}

fn usage_error(err: &config::ConfigError) -> ExitCode {
    eprintln!("gatehouse: {err}");
    ExitCode::from(EXIT_USAGE)
}

/// Logs go to stderr; `GATEHOUSE_LOG` (or `RUST_LOG`) takes an env-filter such as `debug`.
fn init_logging() {
    let filter = std::env::var("GATEHOUSE_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

/// Runs an async command on a multi-threaded runtime and turns its error into exit status 1.
fn run_async<E: std::fmt::Display>(
    future: impl std::future::Future<Output = Result<(), E>>,
) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("gatehouse: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(future) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("gatehouse: {err}");
            ExitCode::FAILURE
        }
    }
}
