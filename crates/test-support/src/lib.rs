//! # entra-test-support
//!
//! Helpers shared by the integration tests of every crate in the workspace, so that each exists
//! once (`publish = false`; a dev-dependency only):
//!
//! - [`external`]: the repository root and the external interpreters interop tests drive (MSAL
//!   Python and the like). A missing one fails the test when `CI=true` and is a loud skip
//!   otherwise.
//! - [`emulator`]: an in-process emulator with the ready-made tenant and the control API on,
//!   and `serve --json` child processes with the connection info they print.
//! - [`cache_file`]: what a test reads from an MSAL token-cache file.
//! - [`logs`]: the files under `ENTRA_TEST_LOG_DIR` that `scripts/test` scans for leaked
//!   secrets.
//! - [`ssh`]: `ssh-keygen`, and a real `sshd` that trusts a certificate authority, for the SSH
//!   certificate tests.

pub mod cache_file;
pub mod emulator;
pub mod external;
pub mod logs;
pub mod ssh;

pub use external::{interpreter, missing, python, repo_root};
