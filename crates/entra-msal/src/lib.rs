//! # entra-msal
//!
//! The Microsoft Authentication Library (MSAL) for Rust, with authentication-broker support.
//! Behaviour follows MSAL Python 1.39 where applications depend on it (wire protocol, token-cache
//! JSON, silent-flow rules) and improves on it where it is weak (typed errors, async, an indexed
//! cache, lazy discovery, request coalescing).
//!
//! Everything is tested end to end against `entra-emulator`, a local Microsoft Entra ID in the
//! same workspace.

mod app;
pub mod authority;
#[cfg(feature = "azure-core")]
pub mod azure;
pub mod broker;
mod cache;
mod error;
pub mod http;
mod interactive;
pub mod managed_identity;
mod oauth;
pub mod persistence;

pub use error::{Classification, Error, Result, ServiceError};

// The types an application needs first, at the crate root.
pub use app::{
    Account, AuthCodeFlow, AuthCodeFlowOptions, AuthenticationResult, BeforeUiCallback,
    BrokerAvailability, Clock, ConfidentialClientApplication, ConfidentialClientBuilder,
    DeviceFlow, ForClientOptions, InteractiveOptions, ManagedIdentityClient,
    ManagedIdentityClientBuilder, Prompt, PublicClientApplication, PublicClientBuilder,
    SecretToken, SilentOptions, SystemClock, TokenSource,
};
pub use cache::{CacheListener, TokenCache};
pub use interactive::{ResultPages, SystemBrowser, UrlOpener};
pub use oauth::{CertificateCredential, ClientCredential, ClientSecret};

#[doc(hidden)]
pub mod fuzzing;

// The in-crate end-to-end tests and their shared helpers name the crate `entra_msal`, as the
// integration tests in `tests/` do.
#[cfg(test)]
extern crate self as entra_msal;
#[cfg(test)]
mod tests;
