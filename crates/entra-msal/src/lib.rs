//! # entra-msal
//!
//! The Microsoft Authentication Library (MSAL) for Rust, with authentication-broker support.
//! Behaviour follows MSAL Python 1.39 where applications depend on it (wire protocol, token-cache
//! JSON, silent-flow rules) and improves on it where it is weak (typed errors, async, an indexed
//! cache, lazy discovery, request coalescing).
//!
//! Everything is tested end to end against `entra-emulator`, a local Microsoft Entra ID in the
//! same workspace.

pub mod app;
pub mod authority;
#[cfg(feature = "azure-core")]
pub mod azure;
pub mod broker;
pub mod cache;
pub mod error;
pub mod http;
pub mod interactive;
mod jwt;
pub mod managed_identity;
pub mod oauth;
pub mod persistence;

pub use error::{Classification, Error, Result, ServiceError};

// The types an application needs first, at the crate root.
pub use app::{
    Account, AuthCodeFlow, AuthCodeFlowOptions, AuthenticationResult, BeforeUiCallback,
    BrokerAvailability, Clock, ConfidentialClientApplication, ConfidentialClientBuilder,
    DeviceFlow, ForClientOptions, InteractiveOptions, ManagedIdentityClient,
    ManagedIdentityClientBuilder, PublicClientApplication, PublicClientBuilder, SecretToken,
    SilentOptions, SystemClock, TokenSource,
};
pub use authority::{Authority, AuthorityType};
pub use cache::{CacheListener, TokenCache};
pub use interactive::{ResultPages, UrlOpener};
pub use oauth::{CertificateCredential, ClientCredential, ClientSecret};

#[doc(hidden)]
pub mod fuzzing;
