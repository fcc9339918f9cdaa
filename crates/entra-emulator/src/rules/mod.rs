//! The identity rules, independent of the front end a request came through: the HTTP endpoints
//! (`endpoints/`), the D-Bus broker service (`broker/`) and the control API
//! (`control.rs`) all decide and issue through this module, and it imports none of them.
//!
//! | module | rules |
//! |---|---|
//! | [`access`] | scope parsing, delegated-permission checks, tenant membership, consent, MFA, redirect-URI registration |
//! | [`claims`] | claims challenges: which a session satisfies silently, which need the user |
//! | [`authorization`] | ending a pending `/authorize` request: the code, or the error, for the redirect URI |
//! | [`device`] | device codes: finding the one a user typed, approving or declining it |
//! | [`tokens`] | minting access, ID and refresh tokens and `client_info`; the token response body |
//!
//! Below it are the data (`state.rs`, `directory.rs`, `config.rs`) and the building blocks
//! (JWTs, keys, scopes, the AADSTS catalogue).

pub mod access;
pub mod authorization;
pub mod claims;
pub mod device;
pub mod tokens;
