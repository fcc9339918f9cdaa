//! # entra-emulator
//!
//! A local Microsoft Entra ID (Azure AD v2.0 endpoints) that real MSAL clients accept: OIDC and
//! instance discovery, the sign-in pages, the token endpoint with every grant MSAL uses, device
//! code, user realm, a federation server (ADFS's MEX and WS-Trust endpoints, SAML assertions)
//! for federated users, logout, Entra-shaped AADSTS errors, and a test-control surface (approve
//! sign-ins, script faults, move the clock, read the request log).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use entra_emulator::{Emulator, ready_made};
//!
//! let emulator = Emulator::start(ready_made()?).await?;
//! println!("authority: {}", emulator.authority());
//! let ca_pem = emulator.ca_pem().expect("HTTPS by default");
//! # let _ = ca_pem;
//! # Ok(()) }
//! ```

// Handlers return `Result<_, EntraError>`; the error is built once per failed request, so its
// size (an AADSTS entry plus a message) does not matter.
#![allow(clippy::result_large_err)]

pub mod broker;
pub mod cli;
pub mod clock;
pub mod config;
pub mod control;
pub mod crypto;
pub mod directory;
pub mod endpoints;
pub mod errors;
pub mod faults;
pub mod info;
pub mod jwt;
pub mod key_cache;
pub mod leak_scan;
mod listener;
pub mod ready_made;
pub mod request_log;
pub mod rules;
pub mod saml;
pub mod scopes;
pub mod secrets_log;
pub mod server;
pub mod ssh_cert;
mod startup;
pub mod state;
pub mod tls;
pub mod xml;

pub use broker::{BrokerOptions, BrokerService, PrivateSessionBus};
pub use config::{AppConfig, ClientKind, EmulatorConfig, Settings, TenantConfig, UserConfig};
pub use control::{Control, ControlError};
pub use endpoints::managed_identity::{ManagedIdentityConfig, ManagedIdentityServer, MiIdentity};
pub use faults::{FaultAction, FaultMatch, FaultRule};
pub use info::{ConnectionInfo, ManagedIdentityIdInfo, ManagedIdentityInfo};
pub use ready_made::ready_made;
pub use request_log::LoggedRequest;
pub use rules::authorization::AuthorizationCompletion;
pub use server::Emulator;
pub use startup::EmulatorError;

#[doc(hidden)]
pub mod fuzzing;
