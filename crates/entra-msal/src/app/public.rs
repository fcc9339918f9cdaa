//! `PublicClientApplication`: desktop apps and command-line tools that sign users in.

use std::sync::Arc;
use std::time::Duration;

use super::auth_code::{AuthCodeFlow, AuthCodeFlowOptions};
use super::builder::{CommonOptions, common_builder_methods};
use super::core::{CacheAccess, ClientCore, Store};
use super::device_flow::DeviceFlow;
use super::result::{Account, AuthenticationResult};
use super::silent::{self, SilentOptions};
use super::{claims, scopes};
use crate::authority::{self, UserRealm};
use crate::cache::TokenCache;
use crate::error::Error;
use crate::interactive::{LoopbackListener, ResultPages, SystemBrowser, UrlOpener};
use crate::oauth::grants;

/// Public clients replay a throttled response for 60 s by default (MSAL Python).
const DEFAULT_THROTTLE: Duration = Duration::from_secs(60);

/// The window that owns the sign-in UI. Only brokers use it (the system browser opens its own
/// window, as in MSAL Python); console apps pass
/// [`PublicClientApplication::CONSOLE_WINDOW_HANDLE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParentWindow {
    /// The console (terminal) the program runs in.
    Console,
    /// A native window handle as an integer: an `HWND` on Windows, an `NSWindow` pointer on
    /// macOS, an X11 window id on Linux.
    Native(u64),
}

/// Which authentication broker each platform may use (`enable_broker_on_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct BrokerSwitches {
    mac: bool,
    windows: bool,
    linux: bool,
    wsl: bool,
}

impl BrokerSwitches {
    /// The switch that applies to the machine the program runs on, by name.
    fn for_this_platform(self, is_wsl: bool) -> Option<&'static str> {
        if cfg!(target_os = "macos") && self.mac {
            Some("enable_broker_on_mac")
        } else if cfg!(windows) && self.windows {
            Some("enable_broker_on_windows")
        } else if cfg!(target_os = "linux") && is_wsl && self.wsl {
            Some("enable_broker_on_wsl")
        } else if cfg!(target_os = "linux") && !is_wsl && self.linux {
            Some("enable_broker_on_linux")
        } else {
            None
        }
    }
}

fn running_on_wsl() -> bool {
    ["/proc/sys/kernel/osrelease", "/proc/version"]
        .iter()
        .any(|p| {
            std::fs::read_to_string(p).is_ok_and(|v| {
                let v = v.to_ascii_lowercase();
                v.contains("microsoft") || v.contains("wsl")
            })
        })
}

/// Called just before the browser (or broker) UI appears, with `"browser"` or `"broker"`.
pub type BeforeUiCallback = Arc<dyn Fn(&str) + Send + Sync>;

/// Options of [`PublicClientApplication::acquire_token_interactive`].
#[derive(Clone, Default)]
pub struct InteractiveOptions {
    /// `prompt`: `login`, `consent`, `select_account`, `none`, `create`.
    pub prompt: Option<String>,
    /// Pre-fills the username.
    pub login_hint: Option<String>,
    /// `domain_hint` (skips home-realm discovery on the sign-in page).
    pub domain_hint: Option<String>,
    /// A claims challenge from a previous error or a resource.
    pub claims_challenge: Option<String>,
    /// The user must have signed in within this many seconds.
    pub max_age: Option<u64>,
    /// Scopes of other resources to consent to now.
    pub extra_scopes_to_consent: Vec<String>,
    /// The loopback port (default: one the OS picks).
    pub port: Option<u16>,
    /// How long to wait for the user (default: no limit, as MSAL).
    pub timeout: Option<Duration>,
    /// Called before the browser opens.
    pub on_before_launching_ui: Option<BeforeUiCallback>,
    /// Opens the URL (default: the system browser). Use it for embedded web views and tests.
    pub url_opener: Option<Arc<dyn UrlOpener>>,
    /// The pages shown after the redirect (default: the library's).
    pub pages: Option<ResultPages>,
    /// The window that owns the sign-in UI (used by brokers; the browser ignores it).
    pub parent_window: Option<ParentWindow>,
}

impl std::fmt::Debug for InteractiveOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InteractiveOptions")
            .field("prompt", &self.prompt)
            .field("login_hint", &self.login_hint)
            .field("port", &self.port)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Builds a [`PublicClientApplication`]. Building does no network I/O.
pub struct PublicClientBuilder {
    common: CommonOptions,
    brokers: BrokerSwitches,
}

impl std::fmt::Debug for PublicClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicClientBuilder")
            .field("common", &self.common)
            .finish()
    }
}

impl PublicClientBuilder {
    common_builder_methods!();

    /// Uses the macOS broker (Company Portal / Enterprise SSO) on macOS.
    pub fn enable_broker_on_mac(mut self, enabled: bool) -> Self {
        self.brokers.mac = enabled;
        self
    }

    /// Uses the Windows broker (WAM) on Windows.
    pub fn enable_broker_on_windows(mut self, enabled: bool) -> Self {
        self.brokers.windows = enabled;
        self
    }

    /// Uses the Microsoft identity broker on Linux.
    pub fn enable_broker_on_linux(mut self, enabled: bool) -> Self {
        self.brokers.linux = enabled;
        self
    }

    /// Uses the Windows broker from WSL.
    pub fn enable_broker_on_wsl(mut self, enabled: bool) -> Self {
        self.brokers.wsl = enabled;
        self
    }

    /// Builds the application. A broker switch for the platform the program runs on fails the
    /// build: this version of the library has no broker support yet (switches for other
    /// platforms are ignored, as in MSAL Python).
    pub fn build(self) -> Result<PublicClientApplication, Error> {
        if let Some(switch) = self.brokers.for_this_platform(running_on_wsl()) {
            return Err(Error::Configuration(format!(
                "{switch}(true): this build of entra-msal has no authentication-broker support yet; \
                 leave {switch} off to sign in through the system browser"
            )));
        }
        let authority = self.common.parse_authority()?;
        let core = self.common.into_core(authority, None, DEFAULT_THROTTLE)?;
        Ok(PublicClientApplication {
            core: Arc::new(core),
        })
    }
}

/// A public client: interactive sign-in through the system browser, device code,
/// username/password, silent token acquisition, and account management.
///
/// ```no_run
/// # async fn run() -> Result<(), entra_msal::Error> {
/// use entra_msal::app::{PublicClientApplication, SilentOptions};
///
/// let app = PublicClientApplication::builder("00000000-0000-0000-0000-000000000001")
///     .authority("https://login.microsoftonline.com/organizations")
///     .build()?;
/// let scopes = ["User.Read"];
/// let token = match app.accounts(None).first() {
///     Some(account) => app.acquire_token_silent(&scopes, account, &SilentOptions::default()).await?,
///     None => {
///         let flow = app.initiate_device_flow(&scopes).await?;
///         println!("{}", flow.message);
///         app.acquire_token_by_device_flow(&flow).await?
///     }
/// };
/// println!("signed in as {:?}", token.account.map(|a| a.username));
/// # Ok(()) }
/// ```
pub struct PublicClientApplication {
    core: Arc<ClientCore>,
}

impl std::fmt::Debug for PublicClientApplication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicClientApplication")
            .field("core", &self.core)
            .finish()
    }
}

impl PublicClientApplication {
    /// The parent window of console apps (MSAL Python's `CONSOLE_WINDOW_HANDLE`).
    pub const CONSOLE_WINDOW_HANDLE: ParentWindow = ParentWindow::Console;

    /// Starts building an application for `client_id`.
    pub fn builder(client_id: impl Into<String>) -> PublicClientBuilder {
        PublicClientBuilder {
            common: CommonOptions::new(client_id.into()),
            brokers: BrokerSwitches::default(),
        }
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.core.client_id
    }

    /// The token cache (serialize it, share it, attach persistence).
    pub fn token_cache(&self) -> &TokenCache {
        &self.core.cache
    }

    /// Signs the user in through the system browser and a loopback redirect on 127.0.0.1:
    /// PKCE S256, `state` and `nonce` checked, `response_mode=form_post`.
    pub async fn acquire_token_interactive(
        &self,
        scopes: &[&str],
        options: &InteractiveOptions,
    ) -> Result<AuthenticationResult, Error> {
        let core = &self.core;
        let scopes = scopes::validate(scopes)?;
        let _access = CacheAccess::begin(&core.cache);
        let endpoints = core.endpoints().await?;
        let listener = LoopbackListener::bind(options.port).await?;
        let decorated = scopes::decorate(&scopes, &core.exclude_scopes);
        let claims = claims::merged(&core.capabilities, options.claims_challenge.as_deref())?;
        let flow_options = AuthCodeFlowOptions {
            redirect_uri: listener.redirect_uri(),
            state: None,
            prompt: options.prompt.clone(),
            login_hint: options.login_hint.clone(),
            domain_hint: options.domain_hint.clone(),
            claims_challenge: None,
            max_age: options.max_age,
            response_mode: Some("form_post".into()),
            extra_scopes_to_consent: options.extra_scopes_to_consent.clone(),
        };
        let flow = AuthCodeFlow::build(
            &endpoints.authorization_endpoint,
            &core.client_id,
            scopes,
            &decorated,
            claims,
            &flow_options,
        )?;
        if let Some(callback) = &options.on_before_launching_ui {
            callback("browser");
        }
        let opener: Arc<dyn UrlOpener> = options
            .url_opener
            .clone()
            .unwrap_or_else(|| Arc::new(SystemBrowser::new()));
        // Launchers may block briefly (the system browser waits to see a launcher fail).
        let url = flow.auth_uri.clone();
        let opened = tokio::task::spawn_blocking(move || opener.open(&url))
            .await
            .unwrap_or_else(|e| {
                Err(Error::NoBrowser {
                    url: flow.auth_uri.clone(),
                    message: format!("the URL opener panicked: {e}"),
                })
            });
        if let Err(e) = opened {
            // As MSAL: say so, show the URL, and keep listening (the user can open it by hand).
            tracing::warn!(error = %e, "no browser could be opened");
            eprintln!("{e}");
        }
        let pages = options.pages.clone().unwrap_or_default();
        let response = listener
            .wait_for_response(Some(&flow.state), options.timeout, &pages)
            .await?;
        core.redeem_auth_code(&flow, &response).await
    }

    /// Starts a device-code flow: show `flow.message`, then call
    /// [`acquire_token_by_device_flow`](Self::acquire_token_by_device_flow).
    pub async fn initiate_device_flow(&self, scopes: &[&str]) -> Result<DeviceFlow, Error> {
        self.initiate_device_flow_with_claims(scopes, None).await
    }

    /// [`initiate_device_flow`](Self::initiate_device_flow) with a claims challenge.
    pub async fn initiate_device_flow_with_claims(
        &self,
        scopes: &[&str],
        claims_challenge: Option<&str>,
    ) -> Result<DeviceFlow, Error> {
        let scopes = scopes::validate(scopes)?;
        let decorated = scopes::decorate(&scopes, &self.core.exclude_scopes);
        let claims = claims::merged(&self.core.capabilities, claims_challenge)?;
        self.core.initiate_device_flow(&decorated, claims).await
    }

    /// Polls until the user has signed in (every `flow.interval`; `slow_down` adds 5 s), and
    /// stops on decline or expiry with a typed error.
    pub async fn acquire_token_by_device_flow(
        &self,
        flow: &DeviceFlow,
    ) -> Result<AuthenticationResult, Error> {
        let _access = CacheAccess::begin(&self.core.cache);
        self.core.poll_device_flow(flow).await
    }

    /// [`acquire_token_by_device_flow`](Self::acquire_token_by_device_flow) that ends with
    /// [`Error::Cancelled`] when `cancel` completes first.
    pub async fn acquire_token_by_device_flow_until(
        &self,
        flow: &DeviceFlow,
        cancel: impl std::future::Future<Output = ()>,
    ) -> Result<AuthenticationResult, Error> {
        tokio::select! {
            result = self.acquire_token_by_device_flow(flow) => result,
            () = cancel => Err(Error::Cancelled(format!("the device-code sign-in with code {} was cancelled", flow.user_code))),
        }
    }

    /// Username and password (ROPC). Not for federated or MFA accounts: user-realm discovery
    /// runs first, and a federated domain gets an error naming the flows to use instead.
    pub async fn acquire_token_by_username_password(
        &self,
        username: &str,
        password: &str,
        scopes: &[&str],
    ) -> Result<AuthenticationResult, Error> {
        let core = &self.core;
        let scopes = scopes::validate(scopes)?;
        let _access = CacheAccess::begin(&core.cache);
        if let UserRealm::Federated { protocol } =
            authority::user_realm(&core.http, &core.authority, username).await
        {
            return Err(Error::Configuration(format!(
                "{username} belongs to a federated domain ({}): its password is checked by another identity provider, so username/password sign-in does not work here; use acquire_token_interactive or the device-code flow",
                protocol.unwrap_or_else(|| "federated".into())
            )));
        }
        let endpoints = core.endpoints().await?;
        let decorated = scopes::decorate(&scopes, &core.exclude_scopes);
        let claims = claims::merged(&core.capabilities, None)?;
        let correlation_id = uuid::Uuid::new_v4().to_string();
        let form = grants::password(
            &core.client_id,
            username,
            password,
            &decorated,
            claims.as_deref(),
        );
        let anchor = vec![("X-AnchorMailbox".to_string(), format!("UPN:{username}"))];
        let response = core
            .redeem(&endpoints.token_endpoint, form, &correlation_id, anchor)
            .await?;
        core.store(&Store {
            endpoints: &endpoints,
            response: &response,
            requested_scopes: &decorated,
            grant_type: "password",
            username: Some(username),
            ext_cache_key: None,
            skip_account_creation: false,
            now: core.now(),
            correlation_id: &correlation_id,
        })
    }

    /// Redeems a refresh token obtained elsewhere (migration); the tokens are cached.
    pub async fn acquire_token_by_refresh_token(
        &self,
        refresh_token: &str,
        scopes: &[&str],
    ) -> Result<AuthenticationResult, Error> {
        let core = &self.core;
        let scopes = scopes::validate(scopes)?;
        let _access = CacheAccess::begin(&core.cache);
        let endpoints = core.endpoints().await?;
        let decorated = scopes::decorate(&scopes, &core.exclude_scopes);
        let claims = claims::merged(&core.capabilities, None)?;
        let correlation_id = uuid::Uuid::new_v4().to_string();
        let form = grants::refresh_token(
            &core.client_id,
            refresh_token,
            &decorated,
            claims.as_deref(),
        );
        let response = core
            .redeem(&endpoints.token_endpoint, form, &correlation_id, Vec::new())
            .await?;
        core.store(&Store {
            endpoints: &endpoints,
            response: &response,
            requested_scopes: &decorated,
            grant_type: "refresh_token",
            username: None,
            ext_cache_key: None,
            skip_account_creation: false,
            now: core.now(),
            correlation_id: &correlation_id,
        })
    }

    /// A token for a signed-in account, from the cache or by refresh; `Error::UiRequired` when
    /// the user must sign in again.
    pub async fn acquire_token_silent(
        &self,
        scopes: &[&str],
        account: &Account,
        options: &SilentOptions,
    ) -> Result<AuthenticationResult, Error> {
        let scopes = scopes::validate(scopes)?;
        let _access =
            CacheAccess::begin_partition(&self.core.cache, Some(&account.home_account_id));
        silent::acquire(&self.core, scopes, account, options).await
    }

    /// The accounts in the cache (one per home account), optionally only those with `username`.
    pub fn accounts(&self, username: Option<&str>) -> Vec<Account> {
        self.core.accounts(username)
    }

    /// Forgets an account: its refresh tokens (this app's and its family's), access tokens,
    /// id tokens and account entries.
    pub fn remove_account(&self, account: &Account) {
        self.core.remove_account(account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_switches_apply_to_the_current_platform_only() {
        let on = |mac, windows, linux, wsl| BrokerSwitches {
            mac,
            windows,
            linux,
            wsl,
        };
        assert_eq!(
            on(false, false, false, false).for_this_platform(false),
            None
        );
        if cfg!(target_os = "linux") {
            assert_eq!(
                on(true, true, false, false).for_this_platform(false),
                None,
                "other platforms' switches are ignored"
            );
            assert_eq!(
                on(false, false, true, false).for_this_platform(false),
                Some("enable_broker_on_linux")
            );
            assert_eq!(
                on(false, false, true, false).for_this_platform(true),
                None,
                "WSL has its own switch"
            );
            assert_eq!(
                on(false, false, false, true).for_this_platform(true),
                Some("enable_broker_on_wsl")
            );
        }
    }
}
