//! # entra-msal
//!
//! The Microsoft Authentication Library (MSAL) for Rust: sign users in to Microsoft Entra ID and
//! get tokens for Microsoft Graph, Azure and your own APIs, from desktop apps, command-line
//! tools, daemons, web apps and Azure workloads, with the operating system's authentication
//! broker where there is one (macOS Enterprise SSO, Windows WAM, the Linux identity broker, WSL).
//!
//! Behaviour follows MSAL Python 1.39 where applications depend on it (the wire protocol, the
//! token cache's JSON, which MSAL Python reads and writes too, the silent-flow rules) and is
//! stricter where it is weak (typed errors, async throughout, an indexed cache, coalesced
//! requests). Everything is tested end to end against `entra-emulator`, a local Entra ID in the
//! same repository, which you can use to test your own app offline.
//!
//! ## A desktop app or command-line tool
//!
//! The cached token when there is one, else the system browser (or the broker):
//!
//! ```no_run
//! use entra_msal::{InteractiveOptions, PublicClientApplication, SilentOptions};
//!
//! # async fn run() -> Result<(), entra_msal::Error> {
//! let app = PublicClientApplication::builder("YOUR_CLIENT_ID")
//!     .authority("https://login.microsoftonline.com/organizations")
//!     .build()?; // no network I/O yet
//! let scopes = ["User.Read"];
//! let cached = match app.accounts(None).first() {
//!     Some(account) => match app
//!         .acquire_token_silent(&scopes, account, &SilentOptions::default())
//!         .await
//!     {
//!         Err(e) if e.is_ui_required() => None, // the user must sign in again
//!         other => Some(other?),
//!     },
//!     None => None,
//! };
//! let result = match cached {
//!     Some(result) => result,
//!     None => {
//!         app.acquire_token_interactive(&scopes, &InteractiveOptions::default())
//!             .await?
//!     }
//! };
//! println!("Bearer {}", result.access_token.expose());
//! # Ok(())
//! # }
//! ```
//!
//! [`acquire_token_silent_or_interactive`](PublicClientApplication::acquire_token_silent_or_interactive)
//! does the same in one call (and
//! [`acquire_token_silent_or_device_code`](PublicClientApplication::acquire_token_silent_or_device_code)
//! without a browser); no scopes at all (`&[]`) signs the user in only.
//! [`PublicClientApplication`] also signs in with a device code
//! ([`initiate_device_flow`](PublicClientApplication::initiate_device_flow)), through an
//! auth-code flow whose redirect the app receives itself (a custom scheme, a web view), and, for
//! managed and federated (WS-Trust) accounts, with a username and password. Each user flow can
//! ask for an SSH certificate instead of a bearer token, as `az ssh` does
//! ([`SshCertificateRequest`]).
//!
//! ## A daemon or web API
//!
//! ```no_run
//! use entra_msal::ConfidentialClientApplication;
//!
//! # async fn run() -> Result<(), entra_msal::Error> {
//! let app = ConfidentialClientApplication::builder("YOUR_CLIENT_ID")
//!     .authority("https://login.microsoftonline.com/YOUR_TENANT_ID")
//!     .client_secret(std::env::var("CLIENT_SECRET").unwrap_or_default())
//!     .build()?;
//! // From the cache while it is valid, else from Entra ID.
//! let result = app
//!     .acquire_token_for_client(&["https://graph.microsoft.com/.default"])
//!     .await?;
//! # drop(result);
//! # Ok(())
//! # }
//! ```
//!
//! [`ConfidentialClientApplication`] also takes a certificate or a signed assertion, and runs
//! the on-behalf-of and authorization-code flows of web apps. On Azure,
//! [`ManagedIdentityClient`] gets tokens for the host's managed identity.
//!
//! ## Errors
//!
//! Every call returns [`Error`]. Branch on [`Error::is_ui_required`] (sign the user in
//! interactively, passing [`ServiceError::claims`] when there is a challenge),
//! [`Error::is_transient`] (retry later), or the variant; [`Error::service_error`] carries
//! Entra's error code, AADSTS numbers and correlation id.
//!
//! ## Features
//!
//! | feature | what it adds |
//! |---|---|
//! | (always) | every OAuth flow, the in-memory cache, file and encrypted-file persistence ([`persistence`]), managed identity ([`managed_identity`]) |
//! | `reqwest` (default) | the default HTTP transport, reqwest with rustls; without it, pass your own [`http::HttpClient`] to the builders' `http_client(...)` |
//! | `broker` | the authentication brokers ([`broker`]): macOS Enterprise SSO, Windows WAM, the Linux identity broker over D-Bus, WSL through Windows |
//! | `keyring` | the token cache encrypted in the OS keystore: Secret Service / libsecret (Linux), Keychain (macOS), DPAPI (Windows) |
//! | `redis` | a distributed token cache in Redis, partitioned per tenant and account |
//! | `azure-core` | `TokenCredential` for the Azure SDK for Rust |
//!
//! ## Modules
//!
//! The applications and their types are at the crate root. The modules are the extension
//! points: [`persistence`] (where a cache lives), [`broker`] (parent windows, redirect URIs,
//! custom broker backends), [`http`] (bring your own transport), [`authority`] (cloud hosts,
//! [`AuthorityBuilder`](authority::AuthorityBuilder), discovery) and [`managed_identity`].
//!
//! ## Guides
//!
//! The repository's `docs/` folder has a guide per topic: `getting-started.md`, `broker.md`
//! (each OS broker and its redirect URI), `cache.md` (sharing a cache file with MSAL Python and
//! msal-extensions), `azure-sdk.md`, `emulator.md` (testing offline), `features.md` (every
//! feature with MSAL Python's behaviour for it).

mod app;
pub mod authority;
#[cfg(feature = "azure-core")]
pub mod azure;
pub mod broker;
mod cache;
mod error;
pub mod http;
mod interactive;
mod jwt;
pub mod managed_identity;
mod oauth;
pub mod persistence;

pub use error::{Classification, Error, ErrorCause, Result, ServiceError};

// The types an application needs first, at the crate root.
pub use app::{
    Account, AccountList, AuthCodeFlow, AuthCodeFlowOptions, AuthenticationResult,
    AuthorizationCodeOptions, BeforeUiCallback, BrokerAvailability, Clock,
    ConfidentialClientApplication, ConfidentialClientBuilder, DeviceFlow, DeviceFlowOptions,
    FederatedUser, ForClientOptions, InteractiveOptions, ManagedIdentityClient,
    ManagedIdentityClientBuilder, OnBehalfOfOptions, Prompt, PublicClientApplication,
    PublicClientBuilder, SSH_CERT_TOKEN_TYPE, SSH_RSA_CERT_KEY_TYPE, SecretToken, SilentOptions,
    SshCertificateRequest, SystemClock, TokenSource, UserFicOptions, UsernamePasswordOptions,
};
pub use cache::{CacheListener, TokenCache};
pub use interactive::{ResultPages, SystemBrowser, UrlOpener};
pub use oauth::{AssertionRequest, CertificateCredential};

#[doc(hidden)]
pub mod fuzzing;

// The in-crate end-to-end tests and their shared helpers name the crate `entra_msal`, as the
// integration tests in `tests/` do.
#[cfg(test)]
extern crate self as entra_msal;
#[cfg(all(test, feature = "reqwest"))]
mod tests;
