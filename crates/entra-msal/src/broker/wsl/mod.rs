//! WSL: the Windows broker (WAM) reached from Linux through a Windows helper process.
//!
//! WSL has no broker of its own, and the bridge inside Microsoft's closed msalruntime is not
//! public. So the library runs a Windows build of its own helper,
//! `entra-broker-wsl-helper.exe`, through WSL's Windows interop and speaks a small,
//! newline-delimited JSON [`protocol`] with it over stdin/stdout. The helper calls WAM with the
//! [`windows`](super::windows) backend.
//!
//! - [`protocol`]: the versioned wire format (pure, golden-tested).
//! - [`helper`]: [`helper::serve`], which answers protocol lines with any
//!   [`BrokerBackend`](crate::broker::BrokerBackend); the helper binary runs it.
//! - `bridge` (`broker` feature): `WslBridge`, the backend the library uses on WSL. It starts the
//!   helper on first use (found on `PATH` or at an explicit path; absent ⇒
//!   [`RequiredBrokerMissing`](crate::broker::BrokerStatus::RequiredBrokerMissing), so the app
//!   falls back to the browser), restarts it if it died, waits for interactive calls without a
//!   limit and for the others up to a timeout.
//!
//! Build the helper with `cargo build -p entra-msal --features broker --bin
//! entra-broker-wsl-helper --target x86_64-pc-windows-msvc` and put the `.exe` in a folder on the
//! `PATH` WSL sees (WSL appends the Windows `PATH` by default).

#[cfg(feature = "broker")]
mod bridge;
pub mod helper;
pub mod protocol;

#[cfg(feature = "broker")]
pub use bridge::WslBridge;
#[cfg(feature = "broker")]
pub use helper::run_stdio;
pub use helper::{UnavailableBroker, serve};
pub use protocol::PROTOCOL_VERSION;
