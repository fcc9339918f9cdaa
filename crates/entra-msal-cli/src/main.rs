//! `msal`: sign in to Microsoft Entra ID, get tokens for scripts, kubectl and curl, manage the
//! signed-in accounts, and run the Entra emulator, from the command line.
//!
//! Startup is kept short for `msal token --output token` answered from the cache: a
//! current-thread runtime, no tracing subscriber unless asked for, and no work a command does
//! not need.

mod atomic_file;
mod cli;
mod client;
mod commands;
mod demo;
mod discovery_cache;
mod failure;
mod jwt;
mod localtime;
mod managed_identity;
mod output;
mod qr;
mod settings;
mod signin;
mod terminal;

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};

use cli::{Cli, Command, EmulatorCommand};
use failure::Failure;
use settings::Settings;

fn init_tracing(verbose: u8, log_file: Option<&std::path::Path>) -> Result<(), Failure> {
    let from_env = std::env::var_os("RUST_LOG").is_some();
    if verbose == 0 && !from_env && log_file.is_none() {
        return Ok(());
    }
    let filter = if from_env {
        tracing_subscriber::EnvFilter::from_default_env()
    } else if verbose == 1 {
        tracing_subscriber::EnvFilter::new("entra_msal=debug,msal=debug")
    } else if verbose >= 2 {
        tracing_subscriber::EnvFilter::new("debug")
    } else {
        tracing_subscriber::EnvFilter::new("entra_msal=trace,msal=trace")
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match log_file {
        None => builder.with_writer(std::io::stderr).init(),
        Some(path) => {
            let mut options = std::fs::OpenOptions::new();
            options.create(true).append(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let file = options.open(path).map_err(|e| {
                Failure::config(format!(
                    "cannot open the log file {}: {e} (check --log-file / MSAL_LOG_FILE)",
                    path.display()
                ))
            })?;
            builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .init();
        }
    }
    Ok(())
}

/// The runtime a command runs on, with `block_on` on the main thread. The macOS broker needs
/// nothing more: awaited on the main thread, it runs the main run loop itself while it waits.
fn runtime(multi_thread: bool) -> Result<tokio::runtime::Runtime, Failure> {
    let mut builder = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder
        .enable_all()
        .build()
        .map_err(|e| Failure::other(format!("cannot start the async runtime: {e}")))
}

fn run(cli: Cli, matches: &clap::ArgMatches) -> Result<(), Failure> {
    match cli.command {
        Command::Demo(args) => return Ok(runtime(true)?.block_on(demo::run(args))?),
        Command::Emulator {
            command: EmulatorCommand::Serve(args),
        } => return Ok(runtime(true)?.block_on(entra_emulator::cli::serve(args))?),
        Command::Emulator {
            command: EmulatorCommand::ScanLogs(args),
        } => return Ok(entra_emulator::cli::scan_logs(args)?),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "msal", &mut std::io::stdout());
            return Ok(());
        }
        Command::Decode(args) => return commands::decode::run(&args),
        Command::Config { command } => return commands::config::run(&cli.global, &command),
        _ => {}
    }
    let settings = Settings::resolve(&cli.global, matches)?;
    match cli.command {
        Command::Accounts(args) => commands::accounts::list(&settings, &args),
        Command::Logout(args) => {
            runtime(false)?.block_on(commands::accounts::logout(&settings, &args))
        }
        Command::Login(args) => runtime(false)?.block_on(commands::login::run(&settings, &args)),
        Command::Token(args) => runtime(false)?.block_on(commands::token::run(&settings, &args)),
        Command::SshCert(args) => {
            runtime(false)?.block_on(commands::ssh_cert::run(&settings, &args))
        }
        Command::Doctor(args) => runtime(false)?.block_on(commands::doctor::run(&settings, &args)),
        Command::Status(args) => commands::status::run(&settings, &args),
        Command::Kubeconfig(args) => commands::kubeconfig::run(&settings, &args),
        Command::Demo(_)
        | Command::Emulator { .. }
        | Command::Completions { .. }
        | Command::Config { .. }
        | Command::Decode(_) => Ok(()),
    }
}

fn main() -> ExitCode {
    // First, while the process has one thread: the local time zone.
    localtime::init();
    terminal::install_panic_hook();
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let verbose = cli.global.verbose;
    if let Err(failure) = init_tracing(verbose, cli.global.log_file.as_deref()) {
        failure.print(false);
        return failure.exit_code();
    }
    match run(cli, &matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            failure.print(verbose > 0);
            failure.exit_code()
        }
    }
}
