//! `entra-broker-wsl-helper`: serves the WSL bridge protocol on stdin/stdout.
//!
//! The Windows build (`--target x86_64-pc-windows-msvc`) answers with WAM; WSL runs it through
//! Windows interop (see `entra_msal::broker::wsl`). Built for another OS it answers every request
//! with `RequiredBrokerMissing`, so a misplaced build makes the library fall back to the browser
//! instead of hanging. Diagnostics go to stderr; stdout carries protocol lines only.

use std::process::ExitCode;

use entra_msal::broker::BrokerBackend;
use entra_msal::broker::wsl_bridge::run_stdio;

fn main() -> ExitCode {
    if std::env::args().skip(1).any(|a| a == "--version") {
        println!(
            "entra-broker-wsl-helper {} (protocol {})",
            env!("CARGO_PKG_VERSION"),
            entra_msal::broker::wsl_bridge::PROTOCOL_VERSION
        );
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("entra-broker-wsl-helper: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let backend = backend();
    match runtime.block_on(run_stdio(&*backend)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("entra-broker-wsl-helper: stdin/stdout failed: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(windows)]
fn backend() -> std::sync::Arc<dyn BrokerBackend> {
    entra_msal::broker::wsl_bridge::WamBroker::new().unwrap_or_else(|e| {
        eprintln!("entra-broker-wsl-helper: WAM is unavailable: {e}");
        std::sync::Arc::new(entra_msal::broker::wsl_bridge::UnavailableBroker(e))
    })
}

#[cfg(not(windows))]
fn backend() -> std::sync::Arc<dyn BrokerBackend> {
    use entra_msal::broker::{BrokerError, BrokerPlatform, BrokerStatus};
    std::sync::Arc::new(entra_msal::broker::wsl_bridge::UnavailableBroker(
        BrokerError::new(
            BrokerPlatform::Wsl,
            BrokerStatus::RequiredBrokerMissing,
            "this entra-broker-wsl-helper was not built for Windows; build it with --target \
         x86_64-pc-windows-msvc to reach WAM from WSL",
        ),
    ))
}
