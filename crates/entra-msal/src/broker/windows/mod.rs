//! The Windows broker: the Web Account Manager (WAM) through WinRT.
//!
//! [`codec`] builds `WebTokenRequest` specifications and decodes WAM's answers and errors; it is
//! pure and compiled everywhere. The shim (`WamBroker`, Windows with the `broker` feature only)
//! finds the account provider with `WebAuthenticationCoreManager`, lists accounts with
//! `FindAllAccountsAsync(provider, client_id)`, gets tokens silently with
//! `GetTokenSilentlyAsync`, interactively with
//! `IWebAuthenticationCoreManagerInterop::RequestTokenForWindowAsync` on the parent window (for
//! [`ParentWindow::Console`](crate::broker::ParentWindow::Console) the console window's root
//! owner, or the desktop window), and signs out with `WebAccount.SignOutAsync`.
//!
//! For `common` and `consumers` without a known account, the Windows account picker
//! (`AccountsSettingsPane`) lets the user choose between work-and-school and personal accounts;
//! the chosen provider decides the plugin, as in MSAL.NET's WinRT WAM broker.
//!
//! WAM calls block a worker thread (`tokio::task::spawn_blocking`) while WinRT completes them;
//! the interactive UI is modal to the parent window.

// The codec is pure and compiled (and tested) everywhere; only the WAM shim uses all of it.
#![allow(dead_code)]

pub mod codec;
#[cfg(all(feature = "broker", windows))]
mod picker;
#[cfg(all(feature = "broker", windows))]
mod shim;

#[cfg(all(feature = "broker", windows))]
pub use shim::WamBroker;
