//! `PublicClientApplication`: desktop apps and command-line tools that sign users in.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::account_list::AccountList;
use super::auth_code::{AuthCodeFlow, AuthCodeFlowOptions};
use super::brokered::{self, BrokerRoute};
use super::builder::{CommonOptions, common_builder_methods};
use super::core::{CacheAccess, ClientCore};
use super::device_flow::DeviceFlow;
use super::flows::silent;
use super::flows::{cloud_shell, password, refresh_token};
use super::options::{
    AuthorizationCodeOptions, DeviceFlowOptions, InteractiveOptions, SilentOptions,
    UsernamePasswordOptions,
};
use super::prompt::Prompt;
use super::request::Request;
use super::result::{Account, AuthenticationResult};
use super::ssh_certificate;

pub use crate::broker::ParentWindow;
use crate::broker::connect::BrokerSettings;
use crate::broker::routing::{self, BrokerSwitches, Decision};
use crate::broker::{BrokerBackend, BrokerPlatform, RequiredRedirectUri};
use crate::cache::TokenCache;
use crate::error::Error;
use crate::interactive::{LoopbackListener, SystemBrowser, UrlOpener};
use crate::managed_identity::{EnvironmentReader, ProcessEnvironment};

/// Public clients replay a throttled response for 60 s by default (MSAL Python).
const DEFAULT_THROTTLE: Duration = Duration::from_secs(60);

/// Builds a [`PublicClientApplication`]. Building does no network I/O.
pub struct PublicClientBuilder {
    common: CommonOptions,
    brokers: BrokerSwitches,
    broker_settings: BrokerSettings,
    environment: Arc<dyn EnvironmentReader>,
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
    ///
    /// Without the crate's `broker` feature this call is deprecated (a compile-time warning),
    /// and `build()` fails on macOS when the switch is on.
    #[cfg_attr(
        not(feature = "broker"),
        deprecated(
            note = "this build of entra-msal has no authentication broker: enable the `broker` feature of entra-msal (features = [\"broker\"]), or the app signs in through the browser"
        )
    )]
    pub fn enable_broker_on_mac(mut self, enabled: bool) -> Self {
        self.brokers.mac = enabled;
        self
    }

    /// Uses the Windows broker (WAM) on Windows.
    ///
    /// Without the crate's `broker` feature this call is deprecated (a compile-time warning),
    /// and `build()` fails on Windows when the switch is on.
    #[cfg_attr(
        not(feature = "broker"),
        deprecated(
            note = "this build of entra-msal has no authentication broker: enable the `broker` feature of entra-msal (features = [\"broker\"]), or the app signs in through the browser"
        )
    )]
    pub fn enable_broker_on_windows(mut self, enabled: bool) -> Self {
        self.brokers.windows = enabled;
        self
    }

    /// Uses the Microsoft identity broker on Linux.
    ///
    /// Without the crate's `broker` feature this call is deprecated (a compile-time warning),
    /// and `build()` fails on Linux when the switch is on.
    #[cfg_attr(
        not(feature = "broker"),
        deprecated(
            note = "this build of entra-msal has no authentication broker: enable the `broker` feature of entra-msal (features = [\"broker\"]), or the app signs in through the browser"
        )
    )]
    pub fn enable_broker_on_linux(mut self, enabled: bool) -> Self {
        self.brokers.linux = enabled;
        self
    }

    /// Uses the Windows broker from WSL.
    ///
    /// Without the crate's `broker` feature this call is deprecated (a compile-time warning),
    /// and `build()` fails on WSL when the switch is on.
    #[cfg_attr(
        not(feature = "broker"),
        deprecated(
            note = "this build of entra-msal has no authentication broker: enable the `broker` feature of entra-msal (features = [\"broker\"]), or the app signs in through the browser"
        )
    )]
    pub fn enable_broker_on_wsl(mut self, enabled: bool) -> Self {
        self.brokers.wsl = enabled;
        self
    }

    /// Linux: talks to the broker on this D-Bus address instead of the session bus (a private
    /// bus, e.g. the emulator's broker service in tests).
    pub fn broker_bus_address(mut self, address: impl Into<String>) -> Self {
        self.broker_settings.bus_address = Some(address.into());
        self
    }

    /// macOS: the app's bundle id, for the redirect URI `msauth.<bundle id>://auth` (default:
    /// detected from the running app; unsigned programs use
    /// `msauth.com.msauth.unsignedapp://auth`).
    pub fn broker_bundle_id(mut self, bundle_id: impl Into<String>) -> Self {
        self.broker_settings.bundle_id = Some(bundle_id.into());
        self
    }

    /// WSL: the path of the Windows broker helper (default: `entra-broker-wsl-helper.exe` on
    /// `PATH`).
    pub fn broker_wsl_helper(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.broker_settings.wsl_helper = Some(path.into());
        self
    }

    /// Reads the process environment through `env` (tests, unusual hosts): today only Azure
    /// Cloud Shell detection (`AZUREPS_HOST_ENVIRONMENT`, and `MSI_ENDPOINT` for its token
    /// endpoint), see [`PublicClientApplication::acquire_token_interactive`].
    pub fn environment(mut self, env: impl EnvironmentReader) -> Self {
        self.environment = Arc::new(env);
        self
    }

    /// Uses this broker implementation instead of the platform's (custom brokers, tests). The
    /// routing rules still apply: the switch for the running platform must be on.
    pub fn broker_backend(mut self, backend: Arc<dyn BrokerBackend>) -> Self {
        self.broker_settings.backend = Some(backend);
        self
    }

    /// Builds the application. No network or IPC: a broker is reached on first use.
    ///
    /// Fails when a broker switch for the running platform is on but this build lacks the
    /// `broker` feature (the error says how to enable it). Switches for other platforms are
    /// ignored, and so are all switches for non-Entra authorities (ADFS, B2C, CIAM, OIDC), as in
    /// MSAL Python.
    pub fn build(self) -> Result<PublicClientApplication, Error> {
        let authority = self.common.parse_authority()?;
        let decision = routing::decide(
            self.brokers,
            BrokerPlatform::current(),
            authority.authority_type(),
            std::env::consts::ARCH,
            routing::BUILT_IN || self.broker_settings.backend.is_some(),
        );
        let broker = match &decision {
            Decision::NotBuiltIn(platform) => {
                return Err(Error::configuration(routing::not_built_in_message(
                    *platform,
                )));
            }
            Decision::Use(platform) => Some(Arc::new(BrokerRoute::new(
                *platform,
                self.broker_settings.clone(),
            ))),
            Decision::Unsupported { reason, .. } => {
                tracing::warn!("{reason}");
                None
            }
            Decision::NotForAuthority(kind) => {
                tracing::info!(authority = ?kind, "the broker serves Microsoft Entra ID authorities only; not used");
                None
            }
            Decision::Off => None,
        };
        let broker_switch_on = BrokerPlatform::current()
            .is_some_and(|p| self.brokers.enabled_for(p))
            && broker.is_some();
        let core = self.common.into_core(authority, None, DEFAULT_THROTTLE)?;
        Ok(PublicClientApplication {
            core: Arc::new(core),
            broker,
            broker_switch_on,
            enabled_platforms: self.brokers.enabled(),
            bundle_id: self.broker_settings.bundle_id,
            decision,
            environment: self.environment,
        })
    }
}

/// A public client: interactive sign-in through the system browser, device code,
/// username/password, silent token acquisition, and account management.
///
/// ```no_run
/// # async fn run() -> Result<(), entra_msal::Error> {
/// use entra_msal::{PublicClientApplication, SilentOptions};
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
/// println!("signed in as {:?}", token.account.as_ref().map(|a| &a.username));
/// # Ok(()) }
/// ```
pub struct PublicClientApplication {
    core: Arc<ClientCore>,
    broker: Option<Arc<BrokerRoute>>,
    broker_switch_on: bool,
    enabled_platforms: Vec<BrokerPlatform>,
    bundle_id: Option<String>,
    decision: Decision,
    environment: Arc<dyn EnvironmentReader>,
}

/// Whether the broker serves an application, and why (see
/// [`PublicClientApplication::broker_availability`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BrokerAvailability {
    /// No broker switch for this platform is on (or the OS has no broker).
    NotEnabled,
    /// The switch is on but the broker is not used, for the reason given (a non-Entra authority,
    /// an unsupported machine, or the broker could not be reached: the app signs in through the
    /// browser).
    Unavailable {
        /// The platform.
        platform: Option<BrokerPlatform>,
        /// Why, in words.
        reason: String,
    },
    /// The broker answers and will be used.
    Available(BrokerPlatform),
}

impl std::fmt::Debug for PublicClientApplication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicClientApplication")
            .field("core", &self.core)
            .field("broker", &self.broker)
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
            broker_settings: BrokerSettings::default(),
            environment: Arc::new(ProcessEnvironment),
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
    /// PKCE S256, `state` and `nonce` checked, `response_mode=form_post`. `scopes` may be empty:
    /// sign in only (the reserved scopes `openid profile offline_access` alone are sent; the
    /// result carries the id token and the account).
    ///
    /// In Azure Cloud Shell (`AZUREPS_HOST_ENVIRONMENT=cloud-shell…`) with
    /// `prompt: Some(Prompt::None)`, no browser opens: the signed-in portal user's token comes
    /// from Cloud Shell's local endpoint (`http://localhost:50342/oauth2/token`, or
    /// `MSI_ENDPOINT`) and is cached, as in MSAL Python (`token_source` is `Broker`).
    pub async fn acquire_token_interactive(
        &self,
        scopes: &[&str],
        options: &InteractiveOptions,
    ) -> Result<AuthenticationResult, Error> {
        let core = &self.core;
        let request = core
            .begin_sign_in(scopes, options.claims_challenge.as_deref())?
            .with_extra(ssh_certificate::request_parameters(
                &options.data,
                options.ssh_certificate.as_ref(),
            )?);
        CacheAccess::around(&core.cache, None, async {
            if options.prompt == Some(Prompt::None)
                && cloud_shell::in_cloud_shell(self.environment.as_ref())
            {
                return cloud_shell::run(core, self.environment.as_ref(), &request).await;
            }
            if let Some(route) = &self.broker {
                // As MSAL Python: the parent window is required whenever the broker is enabled.
                let window = options.parent_window.ok_or(Error::ParentWindowRequired)?;
                if brokered::takes(route, &request)
                    && let Some(backend) = route.backend().await
                {
                    return brokered::interactive(
                        core,
                        route,
                        backend.as_ref(),
                        &request,
                        options,
                        window,
                    )
                    .await;
                }
            }
            if options.pop.is_some() {
                return Err(pop_needs_broker());
            }
            let endpoints = core.endpoints().await?;
            let listener = match options.listen_address {
                Some(address) => LoopbackListener::bind_on(address, options.port).await?,
                None => LoopbackListener::bind(options.port).await?,
            };
            let flow_options = AuthCodeFlowOptions {
                redirect_uri: listener.redirect_uri(),
                state: None,
                prompt: options.prompt,
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
                request.scopes.clone(),
                &request.decorated,
                request.claims.clone(),
                &flow_options,
            )?;
            if let Some(callback) = &options.on_before_launching_ui {
                callback("browser");
            }
            let opener: Arc<dyn UrlOpener> = options
                .url_opener
                .clone()
                .unwrap_or_else(|| Arc::new(SystemBrowser::new()));
            let (listener, url) = match &options.welcome_html {
                Some(template) => {
                    let page = crate::interactive::render_welcome(template, &flow.auth_uri);
                    let listener = listener.with_welcome_page(page);
                    let url = listener.welcome_uri();
                    (listener, url)
                }
                None => (listener, flow.auth_uri.clone()),
            };
            // Launchers may block briefly (the system browser waits to see a launcher fail).
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
            core.redeem_auth_code(
                &flow,
                &response,
                super::telemetry::ApiId::Interactive,
                None,
                &request.extra,
            )
            .await
        })
        .await
    }

    /// A token silently when possible, else by signing the user in interactively (the usual
    /// pattern in one call). The silent attempt uses `account`, or the only account in the cache
    /// (none or several: straight to interaction). Any [`Error::UiRequired`] from it (no
    /// account, no refresh token, `invalid_grant` for a revoked or expired refresh token, a
    /// claims challenge) leads to
    /// [`acquire_token_interactive`](Self::acquire_token_interactive) with `options`, whose
    /// `login_hint` defaults to the account's username and whose claims challenge defaults to
    /// the one the error carried. Other errors (network, throttling, configuration) are
    /// returned, not hidden behind a browser window.
    pub async fn acquire_token_silent_or_interactive(
        &self,
        scopes: &[&str],
        account: Option<&Account>,
        options: &InteractiveOptions,
    ) -> Result<AuthenticationResult, Error> {
        let (account, error) = match self
            .silent_first(scopes, account, options.claims_challenge.as_deref())
            .await
        {
            SilentFirst::Token(result) => return Ok(*result),
            SilentFirst::Failed(e) => return Err(e),
            SilentFirst::NeedsUser { account, error } => (account, error),
        };
        let mut options = options.clone();
        if options.login_hint.is_none()
            && options.prompt != Some(Prompt::SelectAccount)
            && let Some(account) = account.filter(|a| !a.username.is_empty())
        {
            options.login_hint = Some(account.username);
        }
        if options.claims_challenge.is_none() {
            options.claims_challenge = challenge_of(error.as_ref());
        }
        self.acquire_token_interactive(scopes, &options).await
    }

    /// [`acquire_token_silent_or_interactive`](Self::acquire_token_silent_or_interactive) for
    /// machines without a browser: when the user must sign in, a device-code flow starts,
    /// `on_code` receives it (show its `message`), and the call returns once the user has
    /// signed in on another device. The claims challenge of the silent attempt's error, if any,
    /// goes with the device-code request.
    pub async fn acquire_token_silent_or_device_code(
        &self,
        scopes: &[&str],
        account: Option<&Account>,
        on_code: impl FnOnce(&DeviceFlow),
    ) -> Result<AuthenticationResult, Error> {
        let error = match self.silent_first(scopes, account, None).await {
            SilentFirst::Token(result) => return Ok(*result),
            SilentFirst::Failed(e) => return Err(e),
            SilentFirst::NeedsUser { error, .. } => error,
        };
        let flow = self
            .initiate_device_flow_with_claims(scopes, challenge_of(error.as_ref()).as_deref())
            .await?;
        on_code(&flow);
        self.acquire_token_by_device_flow(&flow).await
    }

    /// The silent half of the `silent_or_*` methods.
    async fn silent_first(
        &self,
        scopes: &[&str],
        account: Option<&Account>,
        claims_challenge: Option<&str>,
    ) -> SilentFirst {
        let account = match account {
            Some(account) => Some(account.clone()),
            None => {
                let accounts = self.accounts(None);
                match accounts.as_slice() {
                    [only] => Some(only.clone()),
                    _ => None,
                }
            }
        };
        let Some(account) = account else {
            return SilentFirst::NeedsUser {
                account: None,
                error: None,
            };
        };
        let options = SilentOptions {
            claims_challenge: claims_challenge.map(str::to_string),
            ..SilentOptions::default()
        };
        let request = match self.core.begin_sign_in(scopes, claims_challenge) {
            Ok(request) => request,
            Err(e) => return SilentFirst::Failed(e),
        };
        match self.silent(request, &account, &options).await {
            Ok(result) => SilentFirst::Token(Box::new(result)),
            Err(e) if e.is_ui_required() => {
                // The error code only: the description can name the user.
                tracing::debug!(
                    error = e
                        .service_error()
                        .map_or("ui_required", |s| s.error.as_str()),
                    "the silent attempt needs the user; signing in"
                );
                SilentFirst::NeedsUser {
                    account: Some(account),
                    error: Some(e),
                }
            }
            Err(e) => SilentFirst::Failed(e),
        }
    }

    /// Starts an auth-code flow for a native app that receives the redirect itself (a
    /// custom-scheme redirect URI such as `myapp://auth`, an embedded web view): open
    /// `flow.auth_uri`, then pass the redirect's parameters to
    /// [`acquire_token_by_auth_code_flow`](Self::acquire_token_by_auth_code_flow). PKCE,
    /// `state` and `nonce` as in [`acquire_token_interactive`](Self::acquire_token_interactive);
    /// `scopes` may be empty (sign in only). Use `response_mode: Some("query".into())` when the
    /// redirect arrives as a URL rather than a form post.
    pub async fn initiate_auth_code_flow(
        &self,
        scopes: &[&str],
        options: &AuthCodeFlowOptions,
    ) -> Result<AuthCodeFlow, Error> {
        self.core.initiate_auth_code_flow(scopes, options).await
    }

    /// Completes an auth-code flow with the authorization response's parameters: checks state,
    /// redeems the code with PKCE, checks nonce, caches the tokens.
    pub async fn acquire_token_by_auth_code_flow(
        &self,
        flow: &AuthCodeFlow,
        response: &HashMap<String, String>,
    ) -> Result<AuthenticationResult, Error> {
        self.core
            .complete_auth_code_flow(flow, response, None)
            .await
    }

    /// [`acquire_token_by_auth_code_flow`](Self::acquire_token_by_auth_code_flow) for `scopes`
    /// among the flow's scopes and its `extra_scopes_to_consent`.
    pub async fn acquire_token_by_auth_code_flow_for_scopes(
        &self,
        flow: &AuthCodeFlow,
        response: &HashMap<String, String>,
        scopes: &[&str],
    ) -> Result<AuthenticationResult, Error> {
        self.core
            .complete_auth_code_flow(flow, response, Some(scopes))
            .await
    }

    /// Redeems an authorization code obtained without an [`AuthCodeFlow`]; see
    /// [`ConfidentialClientApplication::acquire_token_by_authorization_code`](crate::ConfidentialClientApplication::acquire_token_by_authorization_code).
    pub async fn acquire_token_by_authorization_code(
        &self,
        code: &str,
        scopes: &[&str],
        redirect_uri: &str,
        options: &AuthorizationCodeOptions,
    ) -> Result<AuthenticationResult, Error> {
        self.core
            .complete_authorization_code(code, scopes, redirect_uri, options)
            .await
    }

    /// Starts a device-code flow: show `flow.message`, then call
    /// [`acquire_token_by_device_flow`](Self::acquire_token_by_device_flow). `scopes` may be
    /// empty: sign in only.
    pub async fn initiate_device_flow(&self, scopes: &[&str]) -> Result<DeviceFlow, Error> {
        self.initiate_device_flow_with_claims(scopes, None).await
    }

    /// [`initiate_device_flow`](Self::initiate_device_flow) with a claims challenge.
    pub async fn initiate_device_flow_with_claims(
        &self,
        scopes: &[&str],
        claims_challenge: Option<&str>,
    ) -> Result<DeviceFlow, Error> {
        let request = self.core.begin_sign_in(scopes, claims_challenge)?;
        self.core.initiate_device_flow(&request).await
    }

    /// [`initiate_device_flow`](Self::initiate_device_flow) with options: a claims challenge,
    /// extra body parameters, an SSH certificate. The flow's token requests carry them.
    pub async fn initiate_device_flow_with(
        &self,
        scopes: &[&str],
        options: &DeviceFlowOptions,
    ) -> Result<DeviceFlow, Error> {
        let request = self
            .core
            .begin(scopes, options.claims_challenge.as_deref())?
            .with_extra(ssh_certificate::request_parameters(
                &options.data,
                options.ssh_certificate.as_ref(),
            )?);
        self.core.initiate_device_flow(&request).await
    }

    /// Polls until the user has signed in (every `flow.interval`; `slow_down` adds 5 s), and
    /// stops on decline or expiry with a typed error.
    pub async fn acquire_token_by_device_flow(
        &self,
        flow: &DeviceFlow,
    ) -> Result<AuthenticationResult, Error> {
        CacheAccess::around(&self.core.cache, None, async {
            self.core.poll_device_flow(flow).await
        })
        .await
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

    /// Username and password (ROPC). Not for MFA accounts. User-realm discovery runs first: a
    /// managed domain's password goes to the token endpoint; a federated (ADFS) domain's goes
    /// to its federation server over WS-Trust (1.3 preferred, else 2005, as its metadata
    /// exchange document advertises), and the SAML assertion it issues is redeemed for the
    /// tokens, as MSAL Python does. A federation server's refusal (a wrong password) is
    /// [`Error::FederationFault`]; a federation server without a username/password endpoint is
    /// [`Error::Unsupported`].
    pub async fn acquire_token_by_username_password(
        &self,
        username: &str,
        password: &str,
        scopes: &[&str],
    ) -> Result<AuthenticationResult, Error> {
        self.acquire_token_by_username_password_with(
            username,
            password,
            scopes,
            &UsernamePasswordOptions::default(),
        )
        .await
    }

    /// [`acquire_token_by_username_password`](Self::acquire_token_by_username_password) with
    /// options: a claims challenge, extra body parameters, an SSH certificate.
    pub async fn acquire_token_by_username_password_with(
        &self,
        username: &str,
        password: &str,
        scopes: &[&str],
        options: &UsernamePasswordOptions,
    ) -> Result<AuthenticationResult, Error> {
        let request = self
            .core
            .begin(scopes, options.claims_challenge.as_deref())?
            .with_extra(ssh_certificate::request_parameters(
                &options.data,
                options.ssh_certificate.as_ref(),
            )?);
        password::run(
            &self.core,
            self.broker.as_deref(),
            username,
            password,
            request,
        )
        .await
    }

    /// Redeems a refresh token obtained elsewhere (migration); the tokens are cached.
    pub async fn acquire_token_by_refresh_token(
        &self,
        refresh_token: &str,
        scopes: &[&str],
    ) -> Result<AuthenticationResult, Error> {
        refresh_token::run(&self.core, refresh_token, scopes).await
    }

    /// A token for a signed-in account, from the cache or by refresh; `Error::UiRequired` when
    /// the user must sign in again.
    pub async fn acquire_token_silent(
        &self,
        scopes: &[&str],
        account: &Account,
        options: &SilentOptions,
    ) -> Result<AuthenticationResult, Error> {
        let request = self
            .core
            .begin(scopes, options.claims_challenge.as_deref())?
            .with_extra(ssh_certificate::request_parameters(
                &options.data,
                options.ssh_certificate.as_ref(),
            )?);
        self.silent(request, account, options).await
    }

    /// The silent flow for a request already begun: the broker for broker accounts, else the
    /// cache and refresh tokens.
    async fn silent(
        &self,
        request: Request,
        account: &Account,
        options: &SilentOptions,
    ) -> Result<AuthenticationResult, Error> {
        CacheAccess::around(&self.core.cache, Some(&account.home_account_id), async {
            if let Some(route) = &self.broker
                && brokered::serves(account)
                && brokered::takes(route, &request)
                && let Some(backend) = route.backend().await
            {
                match brokered::silent(
                    &self.core,
                    route,
                    backend.as_ref(),
                    &request,
                    account,
                    options,
                )
                .await
                {
                    Ok(brokered::Silent::Token(result)) => return Ok(*result),
                    Ok(brokered::Silent::NotInBroker) => {
                        tracing::debug!("the broker does not know the account; using refresh tokens");
                    }
                    // An account of unknown origin may have refresh tokens of its own.
                    Err(e) if account.account_source.is_none() => {
                        tracing::debug!(error = %e, "the broker failed for an account of unknown origin; using refresh tokens");
                    }
                    Err(e) => return Err(e),
                }
            }
            if options.pop.is_some() {
                return Err(pop_needs_broker());
            }
            silent::acquire(&self.core, &request, account, options).await
        })
        .await
    }

    /// The accounts in the cache (one per home account), optionally only those with `username`.
    ///
    /// The list is shared and kept until the cache changes, so calling this again (before each
    /// silent call, say) costs nothing; it reads like a slice (`accounts.first()`, `&accounts[0]`).
    pub fn accounts(&self, username: Option<&str>) -> AccountList {
        self.core.accounts(username)
    }

    /// Signs an account out: through the broker first when the broker created it (a broker
    /// failure is logged, not returned, as in MSAL Python), then forgets it locally: its refresh
    /// tokens (this app's and its family's), access tokens, id tokens and account entries.
    pub async fn remove_account(&self, account: &Account) {
        if let Some(route) = &self.broker
            && brokered::serves(account)
            && let Some(backend) = route.backend().await
        {
            brokered::sign_out(&self.core, backend.as_ref(), account).await;
        }
        self.core.remove_account(account);
    }

    /// Whether the broker serves this application on this machine, and if not, why. Connects
    /// to the broker the first time (the answer is kept).
    pub async fn broker_availability(&self) -> BrokerAvailability {
        match (&self.broker, &self.decision) {
            (Some(route), _) => match route.connection().await {
                Ok(_) => BrokerAvailability::Available(route.platform()),
                Err(e) => BrokerAvailability::Unavailable {
                    platform: Some(route.platform()),
                    reason: e.context.clone(),
                },
            },
            (None, Decision::Unsupported { platform, reason }) => BrokerAvailability::Unavailable {
                platform: Some(*platform),
                reason: reason.clone(),
            },
            (None, Decision::NotForAuthority(kind)) => BrokerAvailability::Unavailable {
                platform: BrokerPlatform::current(),
                reason: format!(
                    "the broker serves Microsoft Entra ID authorities only, not {kind:?}"
                ),
            },
            (None, _) => BrokerAvailability::NotEnabled,
        }
    }

    /// The redirect URIs this app's registration must contain for the brokers it enabled
    /// (every platform whose switch is on, not only the running one).
    pub fn broker_redirect_uris(&self) -> Vec<RequiredRedirectUri> {
        crate::broker::required_redirect_uris(
            &self.core.client_id,
            &self.enabled_platforms,
            self.bundle_id.as_deref(),
        )
    }

    /// Whether a broker switch for the running platform is on and applies to this authority.
    pub fn is_broker_enabled(&self) -> bool {
        self.broker_switch_on
    }
}

/// What the silent half of a `silent_or_*` call found.
enum SilentFirst {
    /// A token: the call is done.
    Token(Box<AuthenticationResult>),
    /// The user must sign in (with this account, if one was tried; after this error, if any).
    NeedsUser {
        account: Option<Account>,
        error: Option<Error>,
    },
    /// An error that interaction would not fix: returned as is.
    Failed(Error),
}

/// The claims challenge an error carries, to send with the interactive request that follows.
fn challenge_of(error: Option<&Error>) -> Option<String> {
    error
        .and_then(Error::service_error)
        .and_then(|e| e.claims())
        .filter(|c| !c.is_empty())
        .map(str::to_string)
}

fn pop_needs_broker() -> Error {
    Error::unsupported(
        "a proof-of-possession token without a broker",
        "proof-of-possession tokens are available through an authentication broker only: enable \
         the broker for this platform, or request a bearer token",
    )
}

#[cfg(test)]
// Without the `broker` feature the switches are deprecated; these tests call them on purpose.
#[cfg_attr(not(feature = "broker"), allow(deprecated))]
mod tests {
    use super::*;

    fn linux_switch_on() -> Result<PublicClientApplication, Error> {
        PublicClientApplication::builder("0c4a2e6f-8b1d-4f3a-9e5c-7d2b1a0f9e11")
            .enable_broker_on_linux(true)
            .enable_broker_on_wsl(true)
            .build()
    }

    /// Without the `broker` feature, a switch for this platform fails the build with the fix
    /// (run by `scripts/test` as `cargo test -p entra-msal --lib`, without features).
    #[cfg(all(not(feature = "broker"), target_os = "linux"))]
    #[test]
    fn a_switch_without_the_broker_feature_says_how_to_enable_it() {
        let err = linux_switch_on().unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::Configuration { .. }), "{err:?}");
        assert!(text.contains("features = [\"broker\"]"), "{text}");
        // Non-Entra authorities never use the broker, so they build (given a transport).
        #[cfg(feature = "reqwest")]
        PublicClientApplication::builder("0c4a2e6f-8b1d-4f3a-9e5c-7d2b1a0f9e11")
            .authority("https://adfs.contoso.com/adfs")
            .enable_broker_on_linux(true)
            .enable_broker_on_wsl(true)
            .build()
            .unwrap();
    }

    #[cfg(all(feature = "broker", target_os = "linux"))]
    #[test]
    fn a_switch_with_the_broker_feature_builds_without_io() {
        let app = linux_switch_on().unwrap();
        assert!(app.is_broker_enabled());
        let uris: Vec<String> = app
            .broker_redirect_uris()
            .into_iter()
            .map(|u| u.redirect_uri)
            .collect();
        assert_eq!(
            uris,
            [
                "https://login.microsoftonline.com/common/oauth2/nativeclient".to_string(),
                "ms-appx-web://Microsoft.AAD.BrokerPlugin/0c4a2e6f-8b1d-4f3a-9e5c-7d2b1a0f9e11"
                    .to_string(),
            ]
        );
    }
}
