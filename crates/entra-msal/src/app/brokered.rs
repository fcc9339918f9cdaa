//! Token acquisition through an authentication broker, routed as MSAL Python 1.39 routes it:
//! interactive sign-in tries the broker silently first; silent requests go to the broker for
//! accounts it created; results are cached as broker accounts with no refresh token (the broker
//! keeps it); proof-of-possession tokens are cached apart from bearer tokens.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use super::core::{ClientCore, GrantType, Issued};
use super::options::{InteractiveOptions, SilentOptions};
use super::prompt::Prompt;
use super::request::{Request, new_correlation_id};
use super::result::{Account, AuthenticationResult, TokenSource};
use crate::broker::connect::{self, BrokerSettings};
use crate::broker::pop_key::{self, PopKey};
use crate::broker::{
    BrokerAccount, BrokerBackend, BrokerError, BrokerPlatform, BrokerTokenRequest,
    BrokerTokenResponse, BrokerTokenType, ParentWindow, PopParams,
};
use crate::cache;
use crate::error::{Classification, Error, ServiceError};

/// The broker an application uses, connected on first use.
pub(crate) struct BrokerRoute {
    platform: BrokerPlatform,
    settings: BrokerSettings,
    backend: OnceCell<Result<Arc<dyn BrokerBackend>, BrokerError>>,
}

impl std::fmt::Debug for BrokerRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerRoute")
            .field("platform", &self.platform)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl BrokerRoute {
    pub fn new(platform: BrokerPlatform, settings: BrokerSettings) -> Self {
        Self {
            platform,
            settings,
            backend: OnceCell::new(),
        }
    }

    pub fn platform(&self) -> BrokerPlatform {
        self.platform
    }

    /// The broker, or `None` (after one warning) when it cannot be reached: the app then uses
    /// the browser and refresh tokens, as MSAL Python falls back when the broker is unavailable.
    /// The answer is kept for the life of the application.
    pub async fn backend(&self) -> Option<Arc<dyn BrokerBackend>> {
        self.connection().await.as_ref().ok().cloned()
    }

    /// The connection attempt's outcome (connects on first use).
    pub async fn connection(&self) -> &Result<Arc<dyn BrokerBackend>, BrokerError> {
        self.backend
            .get_or_init(|| async {
                let connected = connect::connect(self.platform, &self.settings).await;
                if let Err(e) = &connected {
                    tracing::warn!(
                        platform = %self.platform,
                        error = %e,
                        "the authentication broker is unavailable; falling back to the browser"
                    );
                }
                connected
            })
            .await
    }

    /// The redirect URI this platform's broker sends for `client_id`.
    pub fn redirect_uri(&self, client_id: &str) -> String {
        let bundle_id = match (&self.settings.bundle_id, self.platform) {
            (Some(b), _) => Some(b.clone()),
            (None, BrokerPlatform::MacOs) => crate::broker::macos::detect_bundle_id(),
            (None, _) => None,
        };
        self.platform.redirect_uri(client_id, bundle_id.as_deref())
    }

    /// Turns a broker error into the library's error: a missing redirect URI becomes a
    /// dedicated error that names the URI to register.
    pub fn error(&self, client_id: &str, e: BrokerError) -> Error {
        if e.is_redirect_uri_mismatch() {
            Error::BrokerRedirectUriNotRegistered {
                client_id: client_id.to_string(),
                platform: self.platform,
                redirect_uri: self.redirect_uri(client_id),
                source: Box::new(e),
            }
        } else {
            Error::Broker(Box::new(e))
        }
    }

    /// A silent request's error: the app's usual `UiRequired` when the user must interact.
    fn silent_error(&self, client_id: &str, e: BrokerError) -> Error {
        if e.status.requires_interaction() {
            ui_required("interaction_required", e.to_string(), None)
        } else {
            self.error(client_id, e)
        }
    }
}

/// `Error::UiRequired` for a broker answer that needs the user (no HTTP status: the broker
/// answered, not the identity provider).
fn ui_required(error: &str, description: String, correlation_id: Option<String>) -> Error {
    Error::UiRequired(Box::new(ServiceError {
        error: error.into(),
        error_description: description,
        error_codes: Vec::new(),
        suberror: None,
        claims: None,
        correlation_id,
        trace_id: None,
        http_status: None,
        classification: Classification::None,
    }))
}

/// Everything a broker request needs besides the account.
struct Ask<'a> {
    core: &'a ClientCore,
    route: &'a BrokerRoute,
    scopes: &'a [String],
    claims: Option<String>,
    pop: Option<&'a PopParams>,
    /// Extra parameters for the broker (SSH certificates: token_type, req_cnf, key_id).
    data: &'a std::collections::BTreeMap<String, String>,
    correlation_id: String,
}

/// No extra parameters.
static NO_DATA: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();

impl Ask<'_> {
    /// The key this request's PoP tokens are cached under besides bearer tokens (SSH
    /// certificates are kept apart by their `key_id`, as MSAL Python keeps them).
    fn ext_cache_key(&self) -> Option<String> {
        self.pop.map(pop_cache_key)
    }

    /// The `key_id` of a key-bound request (an SSH certificate).
    fn key_id(&self) -> Option<&str> {
        self.data
            .get("key_id")
            .map(String::as_str)
            .filter(|k| !k.is_empty())
    }

    fn request(&self, account: Option<BrokerAccount>) -> BrokerTokenRequest {
        let core = self.core;
        let mut extra_parameters = std::collections::BTreeMap::new();
        if !core.discovery.validate_authority || !core.discovery.instance_discovery {
            extra_parameters.insert("validateAuthority".into(), "no".into());
        }
        for (key, value) in self.data {
            extra_parameters.insert(key.clone(), value.clone());
        }
        // macOS and WAM bind a PoP token to the library's key: token_type=pop and req_cnf.
        if self.pop.is_some()
            && pop_key::client_signs_pop(self.route.platform())
            && let Ok(key) = PopKey::process_key(self.route.platform())
        {
            extra_parameters.insert("token_type".into(), "pop".into());
            extra_parameters.insert("req_cnf".into(), key.req_cnf());
        }
        BrokerTokenRequest {
            client_id: core.client_id.to_ascii_lowercase(),
            authority: format!(
                "https://{}/{}",
                core.authority.host_with_port(),
                core.authority.tenant()
            ),
            scopes: self.scopes.to_vec(),
            redirect_uri: self.route.redirect_uri(&core.client_id),
            correlation_id: self.correlation_id.clone(),
            claims: self.claims.clone(),
            account,
            login_hint: None,
            prompt: None,
            pop: self.pop.cloned(),
            username_password: None,
            extra_parameters,
            validate_authority: core.discovery.validate_authority,
        }
    }

    /// Caches a broker result (no refresh token) and returns it.
    async fn store(&self, mut token: BrokerTokenResponse) -> Result<AuthenticationResult, Error> {
        let core = self.core;
        let endpoints = core.endpoints().await?;
        let now = core.now();
        let platform = self.route.platform();
        if let Some(pop) = self.pop
            && pop_key::client_signs_pop(platform)
        {
            // The broker bound the token to our key; the app gets the signed HTTP request.
            let key =
                PopKey::process_key(platform).map_err(|e| self.route.error(&core.client_id, e))?;
            token.access_token = key
                .sign_http_request(&token.access_token, pop, now, platform)
                .map_err(|e| self.route.error(&core.client_id, e))?;
            token.token_type = BrokerTokenType::Pop;
        }
        let ext_key = self.ext_cache_key();
        // The broker's typed result goes into the cache as it is: no refresh token (the broker
        // keeps it), the broker's own account id.
        core.finish(&Issued {
            endpoints: &endpoints,
            tokens: cache::Tokens {
                access_token: Some(token.access_token.as_str().into()),
                token_type: Some(token.token_type.as_str()),
                expires_in: Some(token.expires_on.saturating_sub(now).max(0)),
                ext_expires_in: token
                    .ext_expires_on
                    .map(|ext| ext.saturating_sub(now).max(0)),
                id_token: token.id_token.as_deref(),
                client_info: token.client_info.as_deref(),
                scopes: Some(cache::Granted::Listed(
                    token.granted_scopes.iter().map(String::as_str).collect(),
                )),
                account_id: token.account.as_ref().map(|a| a.account_id.as_str()),
                ..cache::Tokens::default()
            },
            requested_scopes: self.scopes,
            grant: GrantType::Broker,
            username: token.account.as_ref().map(|a| a.username.as_str()),
            ext_cache_key: ext_key.as_deref(),
            key_id: self.key_id(),
            skip_account_creation: false,
            now,
            correlation_id: &self.correlation_id,
            token_source: TokenSource::Broker,
            response: None,
            app_token_key: None,
        })
    }
}

/// PoP tokens are cached under an extended key of their own, so a bearer lookup never returns
/// one (MSAL Python mixes them up) and a PoP lookup finds only a token for the same request.
pub(crate) fn pop_cache_key(pop: &PopParams) -> String {
    let digest = Sha256::digest(
        format!(
            "{} {}{}",
            pop.http_method.to_ascii_uppercase(),
            pop.uri_host.to_ascii_lowercase(),
            pop.uri_path
        )
        .as_bytes(),
    );
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("pop-{hex}")
}

/// The broker's record of a cached account (by home account id, else by its own id). WAM
/// finds an account by its own id even when it does not list it (personal accounts are never
/// listed): on Windows an unlisted account is handed to the broker with its WAM id, the cached
/// account's `local_account_id` (MSAL.NET's `FindAccountAsync(provider, wamAccountId)`).
async fn find_account(
    backend: &dyn BrokerBackend,
    client_id: &str,
    account: &Account,
    correlation_id: &str,
) -> Result<Option<BrokerAccount>, BrokerError> {
    let accounts = backend.accounts(client_id, correlation_id).await?;
    let listed = accounts
        .iter()
        .find(|a| {
            a.home_account_id
                .eq_ignore_ascii_case(&account.home_account_id)
        })
        .or_else(|| {
            accounts
                .iter()
                .find(|a| !a.account_id.is_empty() && a.account_id == account.local_account_id)
        })
        .cloned();
    if listed.is_some() || backend.platform() != BrokerPlatform::Windows {
        return Ok(listed);
    }
    Ok(
        (!account.local_account_id.is_empty()).then(|| BrokerAccount {
            account_id: account.local_account_id.clone(),
            home_account_id: account.home_account_id.clone(),
            local_account_id: account.local_account_id.clone(),
            environment: account.environment.clone(),
            realm: account.realm.clone(),
            username: account.username.clone(),
            name: None,
            client_info: None,
            raw: serde_json::Value::Null,
        }),
    )
}

/// `acquire_token_interactive` through the broker (MSAL Python's
/// `_acquire_token_interactive_via_broker`): a silent attempt for a `login_hint` that matches
/// one cached account; then, with no `prompt` or `prompt=none`, a silent sign-in of the
/// device's account; then the broker's UI, only when that said interaction is required.
pub(crate) async fn interactive(
    core: &ClientCore,
    route: &BrokerRoute,
    backend: &dyn BrokerBackend,
    request: &Request,
    options: &InteractiveOptions,
    window: ParentWindow,
) -> Result<AuthenticationResult, Error> {
    if !options.extra_scopes_to_consent.is_empty() {
        tracing::warn!("extra_scopes_to_consent is ignored when the broker is used");
    }
    let mut ask = Ask {
        core,
        route,
        scopes: &request.scopes,
        claims: request.claims.clone(),
        pop: options.pop.as_ref(),
        data: &request.extra,
        correlation_id: request.correlation_id().to_string(),
    };
    let prompt = options.prompt;
    let hint = options.login_hint.as_deref();
    if let Some(hint) = hint
        && prompt != Some(Prompt::SelectAccount)
        && let [account] = core.accounts(Some(hint)).as_slice()
        && let Ok(Some(found)) =
            find_account(backend, &core.client_id, account, &ask.correlation_id).await
        && let Ok(token) = backend
            .acquire_token_silently(&ask.request(Some(found)))
            .await
    {
        return ask.store(token).await;
    }
    // MSAL Python sends MSA passthrough with the two sign-in calls, not the login_hint one,
    // and never for SSH certificates.
    let msa_passthrough = options.enable_msa_passthrough
        && !options
            .data
            .get("token_type")
            .is_some_and(|t| t.eq_ignore_ascii_case("ssh-cert"));
    let with_passthrough = |request: &mut crate::broker::BrokerTokenRequest| {
        if msa_passthrough {
            request
                .extra_parameters
                .insert("msal_request_type".into(), "consumer_passthrough".into());
        }
    };
    if prompt.is_none() || prompt == Some(Prompt::None) {
        let mut request = ask.request(None);
        with_passthrough(&mut request);
        request.login_hint = hint.map(str::to_string);
        match backend.acquire_token_silently(&request).await {
            Ok(token) => {
                let wrong_account = hint.is_some_and(|h| {
                    token
                        .account
                        .as_ref()
                        .is_some_and(|a| !a.username.eq_ignore_ascii_case(h))
                });
                if !wrong_account {
                    return ask.store(token).await;
                }
                if prompt == Some(Prompt::None) {
                    return Err(ui_required(
                        "broker_error",
                        format!(
                            "prompt=\"none\" will not work for login_hint={:?}: the broker's signed-in account is another one",
                            hint.unwrap_or_default()
                        ),
                        Some(ask.correlation_id.clone()),
                    ));
                }
            }
            Err(e) if prompt == Some(Prompt::None) => {
                return Err(route.silent_error(&core.client_id, e));
            }
            Err(e) if e.status.requires_interaction() => {
                tracing::debug!(error = %e, "silent broker sign-in needs interaction");
            }
            Err(e) => return Err(route.error(&core.client_id, e)),
        }
    }
    if let Some(callback) = &options.on_before_launching_ui {
        callback("broker");
    }
    // The interactive request is a request of its own.
    ask.correlation_id = new_correlation_id();
    let mut request = ask.request(None);
    with_passthrough(&mut request);
    request.login_hint = hint.map(str::to_string);
    request.prompt = options.prompt.map(|p| p.as_str().to_owned());
    if let Some(max_age) = options.max_age {
        request
            .extra_parameters
            .insert("max_age".into(), max_age.to_string());
    }
    let token = backend
        .acquire_token_interactively(&request, window)
        .await
        .map_err(|e| route.error(&core.client_id, e))?;
    ask.store(token).await
}

/// What the broker said about a silent request for a cached account.
pub(crate) enum Silent {
    /// A token.
    Token(Box<AuthenticationResult>),
    /// The broker does not know the account: use refresh tokens.
    NotInBroker,
}

/// `acquire_token_silent` through the broker, after the access-token cache.
pub(crate) async fn silent(
    core: &ClientCore,
    route: &BrokerRoute,
    backend: &dyn BrokerBackend,
    request: &Request,
    account: &Account,
    options: &SilentOptions,
) -> Result<Silent, Error> {
    let use_cache = !options.force_refresh && options.claims_challenge.is_none();
    if use_cache {
        let endpoints = core.endpoints().await?;
        let ext_key = options.pop.as_ref().map(pop_cache_key);
        if let Some(at) = core.cached_token(
            &endpoints.realm,
            Some(&account.home_account_id),
            &request.scopes,
            ext_key.as_deref(),
            request.key_id(),
        ) {
            return Ok(Silent::Token(Box::new(core.result_from_cache(
                &at,
                Some(account.clone()),
                request.correlation_id_if_sent(),
            ))));
        }
    }
    let ask = Ask {
        core,
        route,
        scopes: &request.scopes,
        claims: request.claims.clone(),
        pop: options.pop.as_ref(),
        data: &request.extra,
        correlation_id: request.correlation_id().to_string(),
    };
    let found = find_account(backend, &core.client_id, account, &ask.correlation_id)
        .await
        .map_err(|e| route.silent_error(&core.client_id, e))?;
    let Some(found) = found else {
        return Ok(Silent::NotInBroker);
    };
    let token = backend
        .acquire_token_silently(&ask.request(Some(found)))
        .await
        .map_err(|e| route.silent_error(&core.client_id, e))?;
    let mut result = ask.store(token).await?;
    result.account = Some(Arc::new(account.clone()));
    Ok(Silent::Token(Box::new(result)))
}

/// Username and password through the broker (macOS and Windows only, as MSAL Python).
pub(crate) async fn username_password(
    core: &ClientCore,
    route: &BrokerRoute,
    backend: &dyn BrokerBackend,
    request: &Request,
    username: &str,
    password: &str,
) -> Result<AuthenticationResult, Error> {
    let ask = Ask {
        core,
        route,
        scopes: &request.scopes,
        claims: request.claims.clone(),
        pop: None,
        data: &NO_DATA,
        correlation_id: request.correlation_id().to_string(),
    };
    let mut request = ask.request(None);
    request.username_password = Some((
        username.to_string(),
        crate::broker::BrokerPassword(password.to_string()),
    ));
    let token = backend
        .acquire_token_silently(&request)
        .await
        .map_err(|e| route.silent_error(&core.client_id, e))?;
    ask.store(token).await
}

/// Signs the account out of the broker (errors are logged, as MSAL Python does).
pub(crate) async fn sign_out(core: &ClientCore, backend: &dyn BrokerBackend, account: &Account) {
    let correlation_id = new_correlation_id();
    match find_account(backend, &core.client_id, account, &correlation_id).await {
        Ok(Some(found)) => {
            if let Err(e) = backend
                .sign_out(&core.client_id, &found, &correlation_id)
                .await
            {
                tracing::warn!(error = %e, "the broker could not sign the account out");
            }
        }
        Ok(None) => tracing::debug!("the broker does not know the account; nothing to sign out"),
        Err(e) => tracing::warn!(error = %e, "the broker's accounts could not be read"),
    }
}

/// Whether `request` may go to the broker of `route`: SSH certificates only on Windows and
/// macOS, as MSAL Python 1.39 (the Linux broker does not issue them, so on Linux and WSL they
/// come from the browser and refresh tokens).
pub(crate) fn takes(route: &BrokerRoute, request: &Request) -> bool {
    request.token_type() != Some(super::ssh_certificate::SSH_CERT_TOKEN_TYPE)
        || matches!(
            route.platform(),
            BrokerPlatform::Windows | BrokerPlatform::MacOs
        )
}

/// Whether a silent request for `account` goes to the broker: accounts the broker created, and
/// accounts of unknown origin (older caches).
pub(crate) fn serves(account: &Account) -> bool {
    matches!(account.account_source.as_deref(), None | Some("broker"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pop_tokens_are_cached_apart() {
        let pop = PopParams {
            http_method: "GET".into(),
            uri_host: "graph.microsoft.com".into(),
            uri_path: "/v1.0/me".into(),
            nonce: None,
        };
        assert!(pop_cache_key(&pop).starts_with("pop-"));
        let other = PopParams {
            http_method: "POST".into(),
            ..pop.clone()
        };
        assert_ne!(pop_cache_key(&pop), pop_cache_key(&other));
    }
}
