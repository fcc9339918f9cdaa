//! Azure SDK for Rust integration (feature `azure-core`): [`TokenCredential`] (azure_core 1.x)
//! for [`ConfidentialClientApplication`], [`ManagedIdentityClient`] and, through
//! [`PublicClientCredential`], [`PublicClientApplication`].
//!
//! Every Azure SDK client takes an `Arc<dyn TokenCredential>`:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use azure_core::credentials::TokenCredential;
//! use entra_msal::ManagedIdentityClient;
//! use entra_msal::managed_identity::ManagedIdentity;
//!
//! let credential: Arc<dyn TokenCredential> =
//!     Arc::new(ManagedIdentityClient::new(ManagedIdentity::SystemAssigned)?);
//! let token = credential.get_token(&["https://vault.azure.net/.default"], None).await?;
//! # let _ = token;
//! // e.g. SecretClient::new("https://my-vault.vault.azure.net", credential, None)?
//! # Ok(()) }
//! ```
//!
//! In a Kubernetes pod with Azure Workload Identity, the credential is a confidential client
//! built from the environment the webhook sets (the token file is read for every token request,
//! so rotations are used at once):
//!
//! ```no_run
//! # fn demo() -> Result<(), entra_msal::Error> {
//! use std::sync::Arc;
//! use azure_core::credentials::TokenCredential;
//! use entra_msal::ConfidentialClientBuilder;
//!
//! let credential: Arc<dyn TokenCredential> =
//!     Arc::new(ConfidentialClientBuilder::from_environment()?.build()?);
//! # let _ = credential; Ok(()) }
//! ```
//!
//! The library's own cache answers repeated calls (silent flow, proactive refresh); the SDK's
//! bearer-token policy keeps its own short-lived copy on top. Failures become
//! `azure_core::Error`s of kind [`ErrorKind::Credential`] whose source is this crate's
//! [`Error`], so callers can downcast to act on it.
//!
//! The trait has no claims or tenant parameter in azure_core 1.x; use the applications directly
//! for claims challenges.

use std::fmt;
use std::sync::Arc;

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::error::ErrorKind;

use crate::app::{
    AuthenticationResult, ConfidentialClientApplication, DeviceFlow, InteractiveOptions,
    ManagedIdentityClient, PublicClientApplication, SilentOptions,
};
use crate::error::Error;

fn credential_error(e: Error) -> azure_core::Error {
    let message = e.to_string();
    azure_core::Error::with_error(ErrorKind::Credential, e, message)
}

fn access_token(result: AuthenticationResult) -> AccessToken {
    AccessToken::new(result.access_token.expose().to_string(), result.expires_on)
}

/// The resource of a `<resource>/.default` scope (managed identity takes a resource).
fn resource_of(scopes: &[&str]) -> Result<String, Error> {
    match scopes {
        [scope] => {
            let scope = scope.trim();
            let resource = scope.strip_suffix("/.default").unwrap_or(scope);
            if resource.is_empty() {
                return Err(Error::configuration("the scope is empty".into()));
            }
            Ok(resource.to_string())
        }
        _ => Err(Error::configuration(format!(
            "managed identity acquires a token for one resource at a time, got {} scopes; \
             pass exactly one, e.g. https://vault.azure.net/.default",
            scopes.len()
        ))),
    }
}

#[async_trait::async_trait]
impl TokenCredential for ConfidentialClientApplication {
    /// An app-only token (client credentials) for `scopes`, e.g. `https://vault.azure.net/.default`.
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        self.acquire_token_for_client(scopes)
            .await
            .map(access_token)
            .map_err(credential_error)
    }
}

#[async_trait::async_trait]
impl TokenCredential for ManagedIdentityClient {
    /// A token for the one resource named by `scopes` (`<resource>/.default` or `<resource>`).
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let resource = resource_of(scopes).map_err(credential_error)?;
        self.acquire_token_for_client(&resource)
            .await
            .map(access_token)
            .map_err(credential_error)
    }
}

/// Shows a started device-code flow to the user (e.g. prints [`DeviceFlow::message`]).
pub type DeviceCodeCallback = Arc<dyn Fn(&DeviceFlow) + Send + Sync>;

/// What a [`PublicClientCredential`] does when no cached account can be used silently.
#[derive(Clone)]
#[non_exhaustive]
pub enum InteractiveMode {
    /// Nothing: fail with the silent flow's error (`UiRequired` or "no account"). For apps that
    /// sign users in elsewhere and only want the SDK to reuse the cache.
    SilentOnly,
    /// Device code: the callback shows the flow's message, then the credential polls until the
    /// user has signed in on another device. Works over SSH and in containers.
    DeviceCode(DeviceCodeCallback),
    /// The system browser with a loopback redirect.
    Browser(Box<InteractiveOptions>),
}

impl InteractiveMode {
    /// Device code, printing the instructions to standard error (the default of
    /// [`PublicClientCredential::new`]).
    pub fn device_code_to_stderr() -> Self {
        Self::DeviceCode(Arc::new(|flow: &DeviceFlow| eprintln!("{}", flow.message)))
    }
}

impl fmt::Debug for InteractiveMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SilentOnly => f.write_str("SilentOnly"),
            Self::DeviceCode(_) => f.write_str("DeviceCode"),
            Self::Browser(o) => f.debug_tuple("Browser").field(o).finish(),
        }
    }
}

/// A [`TokenCredential`] for a [`PublicClientApplication`]: silent for the first cached account
/// (cache, then refresh token), then the configured [`InteractiveMode`] when the user must sign
/// in. Concurrent requests share one interactive sign-in.
pub struct PublicClientCredential {
    app: PublicClientApplication,
    mode: InteractiveMode,
    username: Option<String>,
    interactive: tokio::sync::Mutex<()>,
}

impl fmt::Debug for PublicClientCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicClientCredential")
            .field("app", &self.app)
            .field("mode", &self.mode)
            .field("username", &self.username.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl PublicClientCredential {
    /// Silent first, then device code printed to standard error.
    pub fn new(app: PublicClientApplication) -> Self {
        Self::with_mode(app, InteractiveMode::device_code_to_stderr())
    }

    /// Silent first, then `mode`.
    pub fn with_mode(app: PublicClientApplication, mode: InteractiveMode) -> Self {
        Self {
            app,
            mode,
            username: None,
            interactive: tokio::sync::Mutex::new(()),
        }
    }

    /// Uses the cached account with this username instead of the first one (and passes it as
    /// the login hint to the browser).
    pub fn for_username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// The application.
    pub fn app(&self) -> &PublicClientApplication {
        &self.app
    }

    async fn silent(&self, scopes: &[&str]) -> Option<Result<AuthenticationResult, Error>> {
        let account = self
            .app
            .accounts(self.username.as_deref())
            .into_iter()
            .next()?;
        Some(
            self.app
                .acquire_token_silent(scopes, &account, &SilentOptions::default())
                .await,
        )
    }

    async fn acquire(&self, scopes: &[&str]) -> Result<AuthenticationResult, Error> {
        match self.silent(scopes).await {
            Some(Ok(r)) => return Ok(r),
            Some(Err(e)) if !e.is_ui_required() => return Err(e),
            _ => {}
        }
        let _one_at_a_time = self.interactive.lock().await;
        // Another task may have signed the user in while this one waited.
        if let Some(Ok(r)) = self.silent(scopes).await {
            return Ok(r);
        }
        match &self.mode {
            InteractiveMode::SilentOnly => Err(Error::configuration(
                "no cached account can be used silently and the credential is SilentOnly; sign \
                 the user in with the application first, or choose an interactive mode"
                    .into(),
            )),
            InteractiveMode::DeviceCode(show) => {
                let flow = self.app.initiate_device_flow(scopes).await?;
                show(&flow);
                self.app.acquire_token_by_device_flow(&flow).await
            }
            InteractiveMode::Browser(options) => {
                let mut options = (**options).clone();
                if options.login_hint.is_none() {
                    options.login_hint = self.username.clone();
                }
                self.app.acquire_token_interactive(scopes, &options).await
            }
        }
    }
}

#[async_trait::async_trait]
impl TokenCredential for PublicClientCredential {
    /// A delegated token for `scopes`: silent for the cached account, else interactive.
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        self.acquire(scopes)
            .await
            .map(access_token)
            .map_err(credential_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_map_to_one_resource() {
        assert_eq!(
            resource_of(&["https://vault.azure.net/.default"]).unwrap(),
            "https://vault.azure.net"
        );
        assert_eq!(resource_of(&["api://x"]).unwrap(), "api://x");
        assert!(resource_of(&[]).is_err());
        assert!(resource_of(&["a", "b"]).is_err());
        assert!(resource_of(&["/.default"]).is_err());
    }
}
