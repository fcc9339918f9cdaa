//! # entra-msal
//!
//! The Microsoft Authentication Library (MSAL) for Rust, with authentication-broker support.
//!
//! This crate is being built issue by issue; this release contains no API yet. The planned
//! surface, modelled on MSAL Python 1.39, is `PublicClientApplication` (interactive sign-in
//! through the system browser or a broker, device code, username/password, silent),
//! `ConfidentialClientApplication` (client credentials, on-behalf-of, auth code),
//! `ManagedIdentityClient`, and a token cache whose JSON is interchangeable with MSAL Python's.
//!
//! Everything is tested against [`entra-emulator`](../entra_emulator/index.html), a local
//! Microsoft Entra ID in the same workspace.
