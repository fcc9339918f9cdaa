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
pub mod managed_identity;
pub mod oauth;
pub mod persistence;

pub use error::{Classification, Error, Result, ServiceError};

#[doc(hidden)]
pub mod fuzzing;
