//! The seam between the broker routing rules and each OS's broker: one object per platform that
//! moves requests and answers, nothing more.

use std::future::Future;
use std::pin::Pin;

use super::error::BrokerError;
use super::platform::BrokerPlatform;
use super::types::{BrokerAccount, BrokerTokenRequest, BrokerTokenResponse};
use super::window::ParentWindow;

/// A boxed future returned by [`BrokerBackend`] methods.
pub type BrokerFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, BrokerError>> + Send + 'a>>;

/// One authentication broker. Implementations are thin: they encode the request with their
/// platform's codec, pass it to the OS, and decode the answer.
///
/// `Unavailable`-type failures (no broker installed, no session bus, an old OS) are reported as
/// [`BrokerStatus::RequiredBrokerMissing`](super::BrokerStatus::RequiredBrokerMissing) so the
/// caller can fall back to the browser.
pub trait BrokerBackend: Send + Sync + std::fmt::Debug {
    /// The platform this backend serves.
    fn platform(&self) -> BrokerPlatform;

    /// Checks that the broker can be reached (Linux: the name has an owner or is activatable).
    fn probe(&self) -> BrokerFuture<'_, ()>;

    /// The accounts the broker has for `client_id`.
    fn accounts<'a>(
        &'a self,
        client_id: &'a str,
        correlation_id: &'a str,
    ) -> BrokerFuture<'a, Vec<BrokerAccount>>;

    /// A token without UI: for `request.account`, or the device's default account when it is
    /// `None` (MSAL's "sign in silently").
    fn acquire_token_silently<'a>(
        &'a self,
        request: &'a BrokerTokenRequest,
    ) -> BrokerFuture<'a, BrokerTokenResponse>;

    /// A token with the broker's UI, owned by `window`.
    fn acquire_token_interactively<'a>(
        &'a self,
        request: &'a BrokerTokenRequest,
        window: ParentWindow,
    ) -> BrokerFuture<'a, BrokerTokenResponse>;

    /// Signs the account out of the broker for this client.
    fn sign_out<'a>(
        &'a self,
        client_id: &'a str,
        account: &'a BrokerAccount,
        correlation_id: &'a str,
    ) -> BrokerFuture<'a, ()>;
}
