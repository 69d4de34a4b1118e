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
mod migrate_cmd;
mod policy_cmd;
mod serve;
mod state;
mod users_cmd;

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
            init_logging("info");
            let workers = config.workers;
            run_async_on(Some(workers), serve::run(config))
        }
        cli::Command::Apikey(command) => {
            let config = match config::Config::load(apikey_cmd::service_args(&command)) {
                Ok(config) => config,
                Err(err) => return usage_error(&err),
            };
            init_logging("info");
            run_async(apikey_cmd::run(config, command))
        }
        cli::Command::Health { url } => match health::probe(&url) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("gatehouse: {err}");
                ExitCode::FAILURE
            }
        },
        cli::Command::Backup { file, service } => {
            with_config(&service, |config| backup_cmd::backup(config, file))
        }
        cli::Command::Restore { file, service } => {
            with_config(&service, |config| backup_cmd::restore(config, file))
        }
        cli::Command::Users(cli::UsersCommand::Export {
            pool,
            output,
            key_file,
            service,
        }) => with_config(&service, |config| {
            users_cmd::export(config, pool, output, key_file)
        }),
        cli::Command::Users(cli::UsersCommand::Import {
            pool,
            input,
            key_file,
            service,
        }) => with_config(&service, |config| {
            users_cmd::import(config, pool, input, key_file)
        }),
        cli::Command::Users(cli::UsersCommand::MigrateFrom(args)) => {
            let service = args.service.clone();
            with_config(&service, |config| migrate_cmd::run(config, *args))
        }
        cli::Command::Keys(cli::KeysCommand::Rotate { pool, service }) => {
            let config = match config::Config::load(&service) {
                Ok(config) => config,
                Err(err) => return usage_error(&err),
            };
            init_logging("info");
            run_async(keys_cmd::rotate(config, pool))
        }
    }
}

/// Loads the service's configuration (a bad one exits 64), then runs the command.
fn with_config<F, E>(
    service: &cli::ServeArgs,
    command: impl FnOnce(config::Config) -> F,
) -> ExitCode
where
    F: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let config = match config::Config::load(service) {
        Ok(config) => config,
        Err(err) => return usage_error(&err),
    };
    // A one-shot command's output is its result; progress logs would only bury it.
    init_logging("warn");
    run_async(command(config))
}

fn usage_error(err: &config::ConfigError) -> ExitCode {
    eprintln!("gatehouse: {err}");
    ExitCode::from(EXIT_USAGE)
}

/// Logs go to stderr; `GATEHOUSE_LOG` (or `RUST_LOG`) takes an env-filter such as `debug`,
/// else `default` applies. Colours only on a terminal (and not with `NO_COLOR`), so a log
/// file or a container's log holds plain text.
fn init_logging(default: &str) {
    let filter = std::env::var("GATEHOUSE_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| default.to_owned());
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false)
        .init();
}

/// The stack of each runtime thread. Tokio's 2 MiB is not enough for the deepest request
/// futures of an unoptimised build (a sign-in's challenge chain down to PostgreSQL
/// overflowed it); 8 MiB leaves room, and is only address space until touched.
const WORKER_STACK_BYTES: usize = 8 * 1024 * 1024;

/// Runs an async command on a multi-threaded runtime and turns its error into exit status 1.
fn run_async<E: std::fmt::Display>(
    future: impl std::future::Future<Output = Result<(), E>>,
) -> ExitCode {
    run_async_on(None, future)
}

/// [`run_async`] on `workers` threads (`serve`'s `--workers`); `None` leaves tokio's default
/// (the CPU count, or `TOKIO_WORKER_THREADS`).
fn run_async_on<E: std::fmt::Display>(
    workers: Option<usize>,
    future: impl std::future::Future<Output = Result<(), E>>,
) -> ExitCode {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = workers {
        builder.worker_threads(workers);
    }
    let runtime = match builder
        .enable_all()
        .thread_stack_size(WORKER_STACK_BYTES)
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
