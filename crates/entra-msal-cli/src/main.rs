//! `msal`: sign in, get tokens, and run the Entra emulator from the command line.

mod demo;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "msal",
    version,
    about = "Microsoft Authentication Library for Rust: command-line tool"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Walk through a device-code sign-in and a client-credentials token against an embedded
    /// emulator, step by step. Needs no network and no account.
    Demo(demo::DemoArgs),
    /// Run the local Entra ID emulator.
    Emulator {
        #[command(subcommand)]
        command: EmulatorCommand,
    },
}

#[derive(Subcommand)]
enum EmulatorCommand {
    /// Start the emulator and print how to use it.
    Serve(entra_emulator::cli::ServeArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Demo(args) => demo::run(args).await,
        Command::Emulator {
            command: EmulatorCommand::Serve(args),
        } => entra_emulator::cli::serve(args).await,
    }
}
