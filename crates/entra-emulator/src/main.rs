//! The `entra-emulator` binary.

use clap::{Parser, Subcommand};

/// The token endpoint allocates a few dozen small buffers per request; mimalloc serves them with
/// less contention and fragmentation than glibc's allocator under load (see `scripts/bench-emulator`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "entra-emulator",
    version,
    about = "A local Microsoft Entra ID that real MSAL clients accept"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the emulator and print how to use it.
    Serve(entra_emulator::cli::ServeArgs),
    /// Search log files for the secrets and usernames an emulator recorded (--secrets-log):
    /// fails, naming file, line and kind, if any appears.
    ScanLogs(entra_emulator::cli::ScanLogsArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve(args) => entra_emulator::cli::serve(args).await,
        Command::ScanLogs(args) => entra_emulator::cli::scan_logs(args),
    }
}
