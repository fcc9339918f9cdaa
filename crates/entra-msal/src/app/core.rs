//! What every application has: client id, authority, transport, cache, clock; and the steps
//! every flow shares (discovery, one token request, storing and shaping the result).

use std::borrow::Cow;
use std::sync::Arc;

use super::account_list::AccountList;
use super::clock::Clock;
use super::coalesce::Coalescer;
use super::result::{
    self, Account, AuthenticationResult, RawResponse, ResultExtras, SecretToken, TokenSource,
};
use super::scopes::{PreparedScopes, ScopeMemo};
use super::telemetry::{CallTelemetry, RefreshReason, TelemetryBuffer};
use crate::authority::{self, Authority, DiscoveryOptions, Endpoints};
use crate::cache::{self, Lookup, TokenCache};
use crate::error::Error;
use crate::http::{ClientIdentity, ExtraHeaders, ThrottledHttp};
use crate::oauth::ClientCredential;
use crate::oauth::TokenResponse;
use crate::oauth::grants::Form;
use crate::oauth::transport::FormPost;

/// Brackets one token operation for the cache's listener (persistence): `before_access` now,
/// `after_access` (with whether anything changed) at the end, on success or failure alike.
///
/// Async operations use [`around`](Self::around), which awaits the listener's async hooks (a
/// Redis listener then holds no thread while it waits); the synchronous `begin` is for
/// synchronous methods. A guard dropped without [`end`](Self::end) (an early return, or a
/// cancelled future) calls the synchronous `after_access`.
pub(crate) struct CacheAccess<'a> {
    cache: &'a TokenCache,
    ended: bool,
}

impl<'a> CacheAccess<'a> {
    pub fn begin(cache: &'a TokenCache) -> Self {
        cache.before_access();
        Self {
            cache,
            ended: false,
        }
    }

    /// [`begin`](Self::begin) for an operation that needs one cache partition (see
    /// `crate::persistence::partition`).
    pub fn begin_partition(cache: &'a TokenCache, partition: Option<&str>) -> Self {
        cache.before_partition_access(partition);
        Self {
            cache,
            ended: false,
        }
    }

    /// [`begin_partition`](Self::begin_partition) with the listener's async hook; end it with
    /// [`end`](Self::end). (What [`around`](Self::around) does, for a caller whose operation's
    /// future is too large to hand over: `around` moves it into its own, a copy per call.)
    pub async fn begin_async(cache: &'a TokenCache, partition: Option<&str>) -> Self {
        cache.before_access_async(partition).await;
        Self {
            cache,
            ended: false,
        }
    }

    /// Runs `operation` between the listener's async hooks: `before_access_async` (for
    /// `partition`, `None` for the whole cache), then `after_access_async` once it is done.
    pub async fn around<T>(
        cache: &'a TokenCache,
        partition: Option<&str>,
        operation: impl std::future::Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let access = Self::begin_async(cache, partition).await;
        let result = operation.await;
        access.end().await;
        result
    }

    /// Ends the access with the listener's async hook.
    pub async fn end(mut self) {
        self.ended = true;
        self.cache.after_access_async().await;
    }
}

impl Drop for CacheAccess<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.cache.after_access();
        }
    }
}

/// Seconds before expiry at which a cached access token stops being used (MSAL: 300).
pub(crate) const EXPIRY_MARGIN: i64 = 300;

/// The shared state of an application. In declaration order (`repr(C)`), starting on a cache
/// line (`align(64)`): what a cache hit reads comes first, in as few cache lines as it fits
/// (across many applications, each line a hit touches is a likely cache miss). The cache, the
/// clock and the telemetry's hit counter share the first line; the scope memo follows.
#[repr(C, align(64))]
pub(crate) struct ClientCore {
    pub cache: TokenCache,
    pub clock: Arc<dyn Clock>,
    /// What the telemetry headers report since the last successful request.
    pub telemetry: TelemetryBuffer,
    /// The scope lists the application was recently asked for, validated and normalized.
    pub scope_memo: ScopeMemo,
    /// Log usernames and account ids (never tokens or secrets).
    pub pii_logging: bool,
    pub client_id: String,
    pub authority: Authority,
    pub discovery: DiscoveryOptions,
    pub http: ThrottledHttp,
    pub identity: ClientIdentity,
    pub capabilities: Vec<String>,
    pub exclude_scopes: Vec<String>,
    pub credential: Option<ClientCredential>,
    pub coalescer: Coalescer,
    /// Put the refresh token in results from the identity provider.
    pub include_refresh_token: bool,
    /// Keep the token response's JSON in results from the identity provider.
    pub include_raw_response: bool,
    /// The authority's endpoints until they expire, with what is made from them once (see
    /// [`KnownEndpoints`]): read without formatting or hashing a key while they are current.
    pub endpoints_memo: EndpointsMemo,
    /// The last token request's form body (see [`FormMemo`](crate::oauth::form_memo::FormMemo)).
    pub form_memo: crate::oauth::form_memo::FormMemo,
    // What neither a hit nor a request to the application's own token endpoint reads.
    /// The last [`accounts`](Self::accounts) answer, with the cache version it was made at.
    pub accounts_memo: std::sync::Mutex<Option<AccountsMemo>>,
    /// The last token endpoint a request went to that was not the endpoints' own text (a
    /// regional endpoint, or the first request, before the endpoints are kept), parsed (see
    /// [`token_uri`](Self::token_uri)).
    pub last_token_uri: std::sync::Mutex<Option<(Box<str>, http::Uri)>>,
}

/// The last answer of [`ClientCore::accounts`], right while the cache is at `version`.
pub(crate) struct AccountsMemo {
    version: u64,
    username: Option<String>,
    accounts: AccountList,
}

/// An application's copy of its authority's endpoints (see [`ClientCore::endpoints`]).
#[derive(Default)]
pub(crate) struct EndpointsMemo(std::sync::Mutex<Option<KnownEndpoints>>);

/// An application's endpoints until they expire, with their token endpoint parsed.
#[derive(Debug)]
pub(crate) struct KnownEndpoints {
    endpoints: Arc<Endpoints>,
    expires_at: std::time::Instant,
    /// `endpoints.token_endpoint`, parsed (`None` when it does not parse).
    token_uri: Option<http::Uri>,
    /// The cache's index key of the application's app-only tokens in `endpoints.realm` (see
    /// [`ClientCore::current_endpoints_keyed`]).
    app_token_key: Arc<str>,
}

impl std::fmt::Debug for ClientCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCore")
            .field("client_id", &self.client_id)
            .field("authority", &self.authority.url())
            .field("credential", &self.credential)
            .finish_non_exhaustive()
    }
}

/// The grant a token was issued for: decides the account's `account_source` (in the cache)
/// and names the flow in logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GrantType {
    AuthorizationCode,
    Password,
    DeviceCode,
    RefreshToken,
    ClientCredentials,
    OnBehalfOf,
    /// The user federated identity credential grant (`user_fic`).
    UserFic,
    /// A federated user's SAML 1.1 assertion (username/password through WS-Trust).
    Saml11Bearer,
    /// A federated user's SAML 2.0 assertion (username/password through WS-Trust).
    Saml2Bearer,
    /// A token from an authentication broker.
    Broker,
}

impl GrantType {
    /// The OAuth `grant_type` (for a broker, MSAL's `broker`), as the cache records it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::Password => "password",
            Self::DeviceCode => crate::oauth::grants::DEVICE_CODE_GRANT,
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::OnBehalfOf => "urn:ietf:params:oauth:grant-type:jwt-bearer",
            Self::UserFic => "user_fic",
            Self::Saml11Bearer => crate::oauth::wstrust::response::GRANT_SAML1_1,
            Self::Saml2Bearer => crate::oauth::wstrust::response::GRANT_SAML2,
            Self::Broker => "broker",
        }
    }
}

/// A token just issued (by the identity provider or a broker), with what filing it needs.
pub(crate) struct Issued<'a> {
    pub endpoints: &'a Endpoints,
    pub tokens: cache::Tokens<'a>,
    pub requested_scopes: &'a [String],
    pub grant: GrantType,
    pub username: Option<&'a str>,
    pub ext_cache_key: Option<&'a str>,
    /// The `key_id` of a key-bound token (an SSH certificate), kept on its cache entry.
    pub key_id: Option<&'a str>,
    pub skip_account_creation: bool,
    pub now: i64,
    pub correlation_id: &'a str,
    pub token_source: TokenSource,
    /// The token-endpoint response the tokens came from (for the result's raw response).
    pub response: Option<&'a TokenResponse>,
    /// The cache's index key of the application's app-only tokens in `endpoints`' realm, when
    /// the flow took it with them ([`ClientCore::current_endpoints_keyed`]); else
    /// [`finish`](ClientCore::finish) asks the application's endpoints for it.
    pub app_token_key: Option<&'a Arc<str>>,
}

impl<'a> Issued<'a> {
    /// A token-endpoint response, filed with the defaults of a user flow (an account is
    /// created; no extended cache key).
    pub fn response(
        endpoints: &'a Endpoints,
        response: &'a TokenResponse,
        requested_scopes: &'a [String],
        grant: GrantType,
        now: i64,
        correlation_id: &'a str,
    ) -> Self {
        Self {
            endpoints,
            tokens: tokens(response),
            requested_scopes,
            grant,
            username: None,
            ext_cache_key: None,
            key_id: None,
            skip_account_creation: false,
            now,
            correlation_id,
            token_source: TokenSource::IdentityProvider,
            response: Some(response),
            app_token_key: None,
        }
    }
}

/// What the cache reads of a token response.
fn tokens(r: &TokenResponse) -> cache::Tokens<'_> {
    cache::Tokens {
        access_token: r.access_token.as_ref().map(cache::TokenText::from),
        token_type: r.token_type.as_deref(),
        expires_in: r.expires_in,
        expires_on: r.expires_on,
        ext_expires_in: r.ext_expires_in,
        refresh_in: r.refresh_in,
        refresh_token: r.refresh_token(),
        id_token: r.id_token(),
        id_token_claims: None,
        client_info: r.client_info(),
        scopes: r.scope.as_deref().map(cache::Granted::Spaced),
        family_id: r.foci.clone(),
        account_id: None,
    }
}

impl ClientCore {
    /// Now, from the injected clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The cache `environment`: the authority host, lowercase, without port.
    pub fn environment(&self) -> &str {
        self.authority.host()
    }

    /// Accounts in the cache for this authority's environment (`MSSTS` and `ADFS`), one per
    /// home account, optionally only those with `username` (case-insensitive).
    ///
    /// When no account is filed under the authority's host, the accounts filed under the first of
    /// its aliases that has any are listed (MSAL Python's `get_accounts`): a cache written through
    /// `login.windows.net` serves an application configured with `login.microsoftonline.com`.
    /// The list is kept until the cache changes ([`TokenCache::version`]) and shared: a repeated
    /// call returns it again, without copying, sorting, filtering or de-duplicating anything.
    pub fn accounts(&self, username: Option<&str>) -> AccountList {
        let version = self.cache.version();
        {
            let memo = self.accounts_memo.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(m) = memo.as_ref()
                && m.version == version
                && m.username.as_deref() == username
            {
                return m.accounts.clone();
            }
        }
        // The version of the first read: a write during the alias fallback makes the memo stale.
        let (version, mut found) = self.accounts_in(self.environment());
        if found.is_empty() && !self.cache.with_accounts_at_version(|_, all| all.is_empty()) {
            found = crate::authority::known_aliases(&self.http, &self.authority, self.discovery)
                .iter()
                .map(|alias| self.accounts_in(alias).1)
                .find(|accounts| !accounts.is_empty())
                .unwrap_or_default();
        }
        if let Some(username) = username {
            found.retain(|a| a.username.eq_ignore_ascii_case(username));
        }
        let found = AccountList::from(found);
        *self.accounts_memo.lock().unwrap_or_else(|p| p.into_inner()) = Some(AccountsMemo {
            version,
            username: username.map(str::to_string),
            accounts: found.clone(),
        });
        found
    }

    /// The accounts filed under the host `env`, with the cache version they were read at.
    fn accounts_in(&self, env: &str) -> (u64, Vec<Account>) {
        self.cache.with_accounts_at_version(|version, accounts| {
            let mut out: Vec<Account> = Vec::new();
            // One per home account, first seen wins (the cache's order): O(n), not O(n²).
            let mut seen: std::collections::HashSet<&str> =
                std::collections::HashSet::with_capacity(accounts.len());
            for a in accounts {
                if a.environment.eq_ignore_ascii_case(env)
                    && matches!(a.authority_type.as_str(), "MSSTS" | "ADFS")
                    && seen.insert(a.home_account_id.as_str())
                {
                    out.push(Account::from(*a));
                }
            }
            (version, out)
        })
    }

    /// Forgets an account as MSAL does: its refresh tokens (this app's and its family's), all its
    /// access tokens in this environment, its id tokens and account entries (every tenant).
    pub fn remove_account(&self, account: &Account) {
        let _access = CacheAccess::begin_partition(&self.cache, Some(&account.home_account_id));
        let family = self
            .cache
            .app_metadata(self.environment(), &self.client_id)
            .and_then(|m| m.family_id);
        for a in self
            .cache
            .accounts()
            .iter()
            .filter(|a| a.home_account_id == account.home_account_id)
        {
            self.cache
                .remove_account(a, &self.client_id, family.as_deref());
        }
    }

    /// A cached access token with at least [`EXPIRY_MARGIN`] seconds left, bound to `key_id`
    /// (an SSH certificate's key) or, with `None`, to no key.
    pub fn cached_token(
        &self,
        realm: &str,
        home_account_id: Option<&str>,
        scopes: &[String],
        ext_cache_key: Option<&str>,
        key_id: Option<&str>,
    ) -> Option<cache::AccessToken> {
        self.with_cached_token(
            realm,
            home_account_id,
            scopes,
            ext_cache_key,
            key_id,
            |at, _| at.clone(),
        )
    }

    /// [`cached_token`](Self::cached_token) read in place: `f` sees the entry under the cache's
    /// read lock (it must not call back into the cache), with the time it was found fresh at, so
    /// a hit copies only what `f` takes.
    pub fn with_cached_token<R>(
        &self,
        realm: &str,
        home_account_id: Option<&str>,
        scopes: &[String],
        ext_cache_key: Option<&str>,
        key_id: Option<&str>,
        f: impl FnOnce(&cache::AccessToken, i64) -> R,
    ) -> Option<R> {
        let now = self.now();
        let fresh =
            |at: &cache::AccessToken| (at.expires_on - now >= EXPIRY_MARGIN).then(|| f(at, now));
        if home_account_id.is_none() && key_id.is_none() && ext_cache_key.is_none_or(str::is_empty)
        {
            // App-only tokens: the partition's index key is made once, with the endpoints.
            if let Some(key) = self.app_token_key(realm) {
                return self
                    .cache
                    .with_access_token_in(&key, scopes, now, fresh)
                    .flatten();
            }
        }
        self.cache
            .with_access_token(
                &cache::AccessTokenQuery {
                    client_id: &self.client_id,
                    environment: self.environment(),
                    realm,
                    home_account_id,
                    scopes,
                    ext_cache_key,
                    key_id,
                    now,
                },
                fresh,
            )
            .flatten()
    }

    /// Why a silent request goes to the network when no usable access token was found: an
    /// expired (or about to expire) one is in the cache, or none is.
    pub fn miss_reason(
        &self,
        realm: &str,
        home_account_id: Option<&str>,
        scopes: &[String],
        ext_cache_key: Option<&str>,
        key_id: Option<&str>,
    ) -> RefreshReason {
        let stale = self.cache.with_access_token(
            &cache::AccessTokenQuery {
                client_id: &self.client_id,
                environment: self.environment(),
                realm,
                home_account_id,
                scopes,
                ext_cache_key,
                key_id,
                now: i64::MIN,
            },
            |_| (),
        );
        if stale.is_some() {
            RefreshReason::Expired
        } else {
            RefreshReason::NoAccessToken
        }
    }

    /// [`miss_reason`](Self::miss_reason) for an app-only token, through the partition the
    /// application's hits use when it applies.
    pub fn app_miss_reason(
        &self,
        realm: &str,
        scopes: &PreparedScopes,
        ext_cache_key: Option<&str>,
    ) -> RefreshReason {
        if ext_cache_key.is_none_or(str::is_empty)
            && let Some(key) = self.app_token_key(realm)
        {
            // Any token of these scopes, however old, makes the miss an expiry.
            let stale = self.cache.with_access_token_normalized(
                &key,
                scopes.normalized(),
                i64::MIN,
                |_| (),
            );
            return if stale == Lookup::Absent {
                RefreshReason::NoAccessToken
            } else {
                RefreshReason::Expired
            };
        }
        self.miss_reason(realm, None, &scopes.validated, ext_cache_key, None)
    }

    /// [`with_cached_token`](Self::with_cached_token) for an app-only token, with scopes
    /// prepared once per application and scope list: no key and no scope set is built.
    pub fn with_cached_app_token<R>(
        &self,
        realm: &str,
        scopes: &PreparedScopes,
        ext_cache_key: Option<&str>,
        f: impl FnOnce(&cache::AccessToken, i64) -> R,
    ) -> Option<R> {
        if ext_cache_key.is_none_or(str::is_empty)
            && let Some(key) = self.app_token_key(realm)
        {
            return self.look_up_app_token(&key, scopes, f).found();
        }
        self.with_cached_token(realm, None, &scopes.validated, ext_cache_key, None, f)
    }

    /// [`with_cached_app_token`](Self::with_cached_app_token) in the partition of the
    /// application's app-only tokens, whose index key is `key` (see
    /// [`app_token_key`](Self::app_token_key)), without an extended cache key. A token within
    /// [`EXPIRY_MARGIN`] of its expiry counts as expired.
    pub fn look_up_app_token<R>(
        &self,
        key: &str,
        scopes: &PreparedScopes,
        f: impl FnOnce(&cache::AccessToken, i64) -> R,
    ) -> Lookup<R> {
        let now = self.now();
        match self
            .cache
            .with_access_token_normalized(key, scopes.normalized(), now, |at| {
                (at.expires_on - now >= EXPIRY_MARGIN).then(|| f(at, now))
            }) {
            Lookup::Found(Some(made)) => Lookup::Found(made),
            Lookup::Found(None) | Lookup::Expired => Lookup::Expired,
            Lookup::Absent => Lookup::Absent,
        }
    }

    /// The cache's index key of the application's app-only tokens in `realm`, when `realm` is
    /// its current endpoints' (the key is made once, with them: see [`KnownEndpoints`]).
    pub fn app_token_key(&self, realm: &str) -> Option<Arc<str>> {
        self.with_current_endpoints(|known| {
            (known.endpoints.realm == realm).then(|| known.app_token_key.clone())
        })
        .flatten()
    }

    /// The endpoints when the application's copy is current: no I/O, no waiting.
    pub fn current_endpoints(&self) -> Option<Arc<Endpoints>> {
        self.with_current_endpoints(|known| known.endpoints.clone())
    }

    /// [`current_endpoints`](Self::current_endpoints), with the cache's index key of the
    /// application's app-only tokens in their realm: made with the endpoints, so a lookup needs
    /// no comparison of realms.
    pub fn current_endpoints_keyed(&self) -> Option<(Arc<Endpoints>, Arc<str>)> {
        self.with_current_endpoints(|known| (known.endpoints.clone(), known.app_token_key.clone()))
    }

    /// `f` of the application's copy of its endpoints, while it is current.
    fn with_current_endpoints<R>(&self, f: impl FnOnce(&KnownEndpoints) -> R) -> Option<R> {
        let memo = self
            .endpoints_memo
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        memo.as_ref()
            .filter(|known| known.expires_at > self.http.now())
            .map(f)
    }

    /// Tenant and endpoints (lazy, cached process-wide).
    pub async fn endpoints(&self) -> Result<Arc<Endpoints>, Error> {
        if let Some(endpoints) = self.current_endpoints() {
            return Ok(endpoints);
        }
        let (endpoints, expires_at) =
            authority::resolve_endpoints_until(&self.http, &self.authority, self.discovery).await?;
        if let Some(expires_at) = expires_at {
            let token_uri = http::Uri::try_from(endpoints.token_endpoint.as_str()).ok();
            let app_token_key =
                cache::app_partition_key(&self.client_id, self.environment(), &endpoints.realm)
                    .into();
            *self
                .endpoints_memo
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some(KnownEndpoints {
                endpoints: endpoints.clone(),
                expires_at,
                token_uri,
                app_token_key,
            });
        }
        Ok(endpoints)
    }

    /// `url` parsed: the endpoints' own parse when `url` is their token endpoint itself (the
    /// same text in memory, which the memo keeps alive: nothing to compare), else the
    /// application's last one when it is the same text. `None` when it does not parse; the
    /// request then reports why.
    fn token_uri(&self, url: &str) -> Option<http::Uri> {
        {
            let memo = self
                .endpoints_memo
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if let Some(known) = memo.as_ref()
                && std::ptr::eq(known.endpoints.token_endpoint.as_str(), url)
            {
                return known.token_uri.clone();
            }
        }
        let mut last = self
            .last_token_uri
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some((text, uri)) = last.as_ref()
            && **text == *url
        {
            return Some(uri.clone());
        }
        let uri = http::Uri::try_from(url).ok()?;
        *last = Some((url.into(), uri.clone()));
        Some(uri)
    }

    /// Sends one token request: adds the client's credential, MSAL's headers, and parses.
    pub async fn redeem(
        &self,
        token_endpoint: &str,
        mut form: Form<'_>,
        correlation_id: &str,
        extra_headers: ExtraHeaders,
        telemetry: Option<CallTelemetry>,
    ) -> Result<Box<TokenResponse>, Error> {
        let telemetry = telemetry.or_else(|| CallTelemetry::of_form(&form));
        let telemetry_headers = telemetry
            .map(|call| self.telemetry.headers(call))
            .unwrap_or_default();
        if let Some(credential) = &self.credential {
            credential.add_form_fields(&mut form, &self.client_id, token_endpoint, self.now())?;
        }
        // The application's own texts, which stay where they are, unchanged, as long as its
        // memo (an empty one is never sent).
        let secret = match &self.credential {
            Some(credential) => credential.constant_text().unwrap_or(""),
            None => "",
        };
        let pinned = [self.client_id.as_str(), secret];
        let mut post = FormPost {
            url: token_endpoint,
            uri: self.token_uri(token_endpoint),
            form,
            correlation_id,
            identity: &self.identity,
            extra_headers,
            memo: Some((&self.form_memo, &pinned)),
        };
        let span = tracing::debug_span!("token_request", correlation_id, endpoint = token_endpoint);
        let outcome = tracing::Instrument::instrument(
            post.send_for_token(&self.http, telemetry_headers),
            span,
        )
        .await;
        if let Some(call) = telemetry {
            self.telemetry.record(call, correlation_id, &outcome);
        }
        outcome
    }

    /// Files an issued token in the cache and shapes the result from what was filed (the one
    /// decoding of the response serves both).
    pub fn finish(&self, s: &Issued<'_>) -> Result<AuthenticationResult, Error> {
        // The flow's own copy of the key, else the endpoints memo's.
        let asked = match s.app_token_key {
            Some(_) => None,
            None => self.app_token_key(&s.endpoints.realm),
        };
        let app_token_key = s.app_token_key.or(asked.as_ref());
        let mut result = self.cache.file(
            &cache::Filing {
                client_id: &self.client_id,
                environment: self.environment(),
                realm: &s.endpoints.realm,
                requested_scopes: s.requested_scopes,
                grant_type: s.grant.as_str(),
                username: s.username,
                ext_cache_key: s.ext_cache_key,
                key_id: s.key_id,
                skip_account_creation: s.skip_account_creation,
                now: s.now,
                app_partition: app_token_key.map(|key| (s.endpoints.realm.as_str(), key)),
            },
            &s.tokens,
            |entities| result_from_entities(entities, s.token_source, s.correlation_id),
        )??;
        if self.include_refresh_token || self.include_raw_response {
            result.extras = Some(Box::new(ResultExtras {
                refresh_token: self
                    .include_refresh_token
                    .then(|| s.tokens.refresh_token.map(SecretToken::new))
                    .flatten(),
                raw_response: self
                    .include_raw_response
                    .then(|| s.response.and_then(|r| serde_json::to_value(r).ok()))
                    .flatten()
                    .map(RawResponse),
            }));
        }
        let account = result
            .account
            .as_ref()
            .map(|a| a.username.as_str())
            .unwrap_or("");
        tracing::debug!(
            correlation_id = s.correlation_id,
            grant_type = s.grant.as_str(),
            account = self.pii(account),
            contains_pii = self.pii_logging,
            "token acquired from the identity provider"
        );
        Ok(result)
    }

    /// `value` when PII logging is on, `[redacted]` otherwise. An event that logs a value through
    /// this also logs `contains_pii = self.pii_logging`, as MSAL's log callbacks flag PII, so a
    /// log reader (and `entra-emulator scan-logs`) can tell which lines may name a user.
    pub fn pii<'v>(&self, value: &'v str) -> &'v str {
        if self.pii_logging || value.is_empty() {
            value
        } else {
            "[redacted]"
        }
    }

    /// Logs a token answered from the cache (the account only with PII logging on).
    pub fn log_cache_hit(&self, account: Option<&Account>, correlation_id: &str) {
        if correlation_id.is_empty() {
            // No request went out: a cache hit, counted for `x-client-last-telemetry`.
            self.telemetry.cache_hit();
        }
        tracing::debug!(
            correlation_id,
            account = self.pii(account.map(|a| a.username.as_str()).unwrap_or("")),
            contains_pii = self.pii_logging,
            "token found in the cache"
        );
    }

    /// A result from a cached access token (and the account's id token, when there is one).
    pub fn result_from_cache(
        &self,
        at: &cache::AccessToken,
        account: Option<Account>,
        correlation_id: &str,
    ) -> AuthenticationResult {
        let id_token = account.as_ref().and_then(|a| {
            self.cache.id_token(
                &a.home_account_id,
                &a.environment,
                &a.realm,
                &self.client_id,
            )
        });
        self.result_from_entries(at, account, id_token, correlation_id)
    }

    /// [`result_from_cache`](Self::result_from_cache) with the account's ID token already read
    /// (or none): reads nothing from the cache, so it may run under the cache's lock.
    pub fn result_from_entries(
        &self,
        at: &cache::AccessToken,
        account: Option<Account>,
        id_token: Option<cache::IdToken>,
        correlation_id: &str,
    ) -> AuthenticationResult {
        self.log_cache_hit(account.as_ref(), correlation_id);
        AuthenticationResult {
            id_token_claims: id_token
                .as_ref()
                .and_then(|t| crate::jwt::jwt_claims(&t.secret))
                .map(Arc::new),
            id_token: id_token.map(|t| SecretToken::new(t.secret)),
            account: account.map(Arc::new),
            ..result_from_access_token(at, TokenSource::Cache, correlation_id)
        }
    }
}

/// The part of every result that comes from its access-token entry (no ID token, no account):
/// the whole result of an app-only token.
pub(crate) fn result_from_access_token(
    at: &impl cache::AccessTokenFields,
    token_source: TokenSource,
    correlation_id: &str,
) -> AuthenticationResult {
    let target = at.target();
    let scopes: Arc<[String]> = if cache::is_one_scope(target) {
        Arc::new([target.to_string()])
    } else {
        target.split_whitespace().map(str::to_string).collect()
    };
    AuthenticationResult {
        access_token: SecretToken::shared(at.secret().clone()),
        // The cache's own `Cow`: `Bearer` stays borrowed.
        token_type: at
            .token_type()
            .cloned()
            .unwrap_or(Cow::Borrowed(cache::BEARER)),
        expires_on: result::at(at.expires_on()),
        extended_expires_on: at.extended_expires_on().map(result::at),
        refresh_on: at.refresh_on().map(result::at),
        scopes,
        id_token: None,
        id_token_claims: None,
        account: None,
        token_source,
        correlation_id: correlation_id.to_string(),
        extras: None,
    }
}

/// The `X-AnchorMailbox: Oid:<uid>@<utid>` header MSAL sends for a known account.
/// None when the id has no `.`.
pub(crate) fn oid_anchor(home_account_id: &str) -> ExtraHeaders {
    home_account_id
        .split_once('.')
        .map(|(uid, utid)| anchor_mailbox(format!("Oid:{uid}@{utid}")))
        .unwrap_or_default()
}

/// The `X-AnchorMailbox` header with `value` (`Oid:…` or `UPN:…`); none when `value` cannot be
/// a header value (a control character): the header only helps the service route the request.
pub(crate) fn anchor_mailbox(value: String) -> ExtraHeaders {
    const ANCHOR: http::HeaderName = http::HeaderName::from_static("x-anchormailbox");
    http::HeaderValue::try_from(value)
        .map(|value| vec![(ANCHOR, value)])
        .unwrap_or_default()
}

/// The result of a token response, from the entries the cache is about to file for it. The ID
/// token's claims are taken (the cache does not keep them); everything else is read.
pub(crate) fn result_from_entities(
    entities: &mut cache::Entities<'_>,
    token_source: TokenSource,
    correlation_id: &str,
) -> Result<AuthenticationResult, Error> {
    // Taken only when there are any: an app-only response has none, and its empty map is
    // dropped once, with the entities, not twice.
    let claims = &mut entities.id_token_claims;
    let id_token_claims = (!claims.is_empty()).then(|| Arc::new(std::mem::take(claims)));
    let at = entities
        .access_token
        .as_ref()
        .ok_or_else(|| Error::cache("the token response filed no access token".into()))?;
    Ok(AuthenticationResult {
        id_token: entities
            .id_token
            .as_ref()
            .map(|t| SecretToken::new(t.secret.clone())),
        id_token_claims,
        account: entities
            .account
            .as_ref()
            .map(|a| Arc::new(Account::from(&**a))),
        ..result_from_access_token(at, token_source, correlation_id)
    })
}

impl From<&cache::AccountEntity> for Account {
    fn from(a: &cache::AccountEntity) -> Self {
        Self {
            home_account_id: a.home_account_id.clone(),
            environment: a.environment.clone(),
            realm: a.realm.clone(),
            username: a.username.clone(),
            local_account_id: a.local_account_id.clone(),
            authority_type: a.authority_type.clone(),
            account_source: a.account_source.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use base64::Engine as _;
    use futures_util::future::BoxFuture;

    use crate::app::ConfidentialClientApplication;
    use crate::http::{HttpClient, HttpError, HttpRequest, HttpResponse};

    /// An AD FS server: its OpenID configuration, and `token` from its token endpoint.
    struct Adfs {
        token: String,
    }

    fn json_response(body: &str) -> HttpResponse {
        http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    impl HttpClient for Adfs {
        fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
            let path = request.uri().path().to_string();
            let response = if path.ends_with("openid-configuration") {
                json_response(
                    r#"{"authorization_endpoint":"https://fs.contoso.com/adfs/oauth2/authorize",
                        "token_endpoint":"https://fs.contoso.com/adfs/oauth2/token",
                        "issuer":"https://fs.contoso.com/adfs"}"#,
                )
            } else if path.ends_with("/token") {
                json_response(&self.token)
            } else {
                http::Response::builder()
                    .status(404)
                    .body(Vec::new())
                    .unwrap()
            };
            Box::pin(async move { Ok(response) })
        }
    }

    /// AD FS sends no `client_info`: the account is the ID token's `sub`, in the cache and in
    /// the result alike.
    #[tokio::test]
    async fn an_adfs_response_without_client_info_names_the_same_account_in_cache_and_result() {
        let claims = serde_json::json!({"sub": "adfs-subject", "upn": "ann@contoso.com"});
        let id_token = format!(
            "eyJhbGciOiJub25lIn0.{}.",
            base64::engine::general_purpose::STANDARD.encode(claims.to_string())
        );
        let token = serde_json::json!({
            "access_token": "at", "token_type": "Bearer", "expires_in": 3600,
            "id_token": id_token, "scope": "api://x/read",
        })
        .to_string();
        let app = ConfidentialClientApplication::builder("client")
            .authority("https://fs.contoso.com/adfs")
            .client_secret("secret")
            .http_client(Arc::new(Adfs { token }))
            .build()
            .unwrap();
        let result = app
            .acquire_token_on_behalf_of("assertion", &["api://x/read"])
            .await
            .unwrap();
        let account = result.account.expect("the result names the account");
        assert_eq!(account.home_account_id, "adfs-subject");
        assert_eq!(account.username, "ann@contoso.com");
        assert_eq!(account.authority_type, "ADFS");
        assert_eq!(app.accounts(None), vec![(*account).clone()]);
        assert_eq!(result.correlation_id.len(), 36, "a request went out");
        // The same assertion again: from the cache, same account, and no request (no id).
        let again = app
            .acquire_token_on_behalf_of("assertion", &["api://x/read"])
            .await
            .unwrap();
        assert_eq!(again.token_source, crate::app::TokenSource::Cache);
        assert_eq!(again.account, Some(account));
        assert_eq!(again.correlation_id, "");
        assert_eq!(
            result.id_token_claims.as_ref().and_then(|c| c.get("sub")),
            Some(&serde_json::Value::from("adfs-subject"))
        );
    }

    #[cfg(feature = "reqwest")]
    fn account_json(n: usize, username: &str) -> String {
        format!(
            r#""uid{n}.utid-login.microsoftonline.com-common": {{"home_account_id": "uid{n}.utid",
            "environment": "login.microsoftonline.com", "realm": "common",
            "local_account_id": "uid{n}", "username": "{username}", "authority_type": "MSSTS"}}"#
        )
    }

    // The application is built with the default transport.
    #[cfg(feature = "reqwest")]
    #[tokio::test]
    async fn the_accounts_list_is_kept_only_while_the_cache_is_unchanged() {
        let cache = crate::TokenCache::new();
        let app = crate::PublicClientApplication::builder("client")
            .authority("https://login.microsoftonline.com/common")
            .token_cache(cache.clone())
            .build()
            .unwrap();
        let names = |accounts: crate::AccountList| {
            accounts.into_iter().map(|a| a.username).collect::<Vec<_>>()
        };
        cache
            .deserialize(&format!(r#"{{"Account": {{{}}}}}"#, account_json(1, "a@x")))
            .unwrap();
        assert_eq!(names(app.accounts(None)), ["a@x"]);
        assert_eq!(names(app.accounts(None)), ["a@x"]);
        // Another filter is another answer.
        assert!(app.accounts(Some("b@x")).is_empty());
        cache
            .deserialize(&format!(
                r#"{{"Account": {{{}, {}}}}}"#,
                account_json(1, "a@x"),
                account_json(2, "b@x")
            ))
            .unwrap();
        assert_eq!(names(app.accounts(Some("B@X"))), ["b@x"]);
        assert_eq!(names(app.accounts(None)), ["a@x", "b@x"]);
        let a = app.accounts(Some("a@x"))[0].clone();
        app.remove_account(&a).await;
        assert_eq!(names(app.accounts(None)), ["b@x"]);
        cache.deserialize("{}").unwrap();
        assert!(app.accounts(None).is_empty());
    }
}
