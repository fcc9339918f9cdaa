//! One module per token flow, each a `run(core, …)` that the application methods call: every
//! flow goes through the same pipeline (`ClientCore::begin` → cache lookup → `send` →
//! `finish`).

pub(crate) mod client_credentials;
pub(crate) mod cloud_shell;
pub(crate) mod on_behalf_of;
pub(crate) mod password;
pub(crate) mod refresh_token;
pub(crate) mod silent;
pub(crate) mod user_fic;
