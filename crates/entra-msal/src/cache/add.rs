//! Turning a token response into cache entities (MSAL Python's `TokenCache.__add`).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::keys;
use super::schema::{
    AUTHORITY_TYPE_ADFS, AUTHORITY_TYPE_MSSTS, AccessToken, AccountEntity, AppMetadata, BEARER,
    IdToken, RefreshToken, TokenPlace, token_type,
};
use super::shared_text::{TextKind, shared_text};
use crate::error::Error;
use crate::jwt::{claim_text, decode_json_object, jwt_claims};

/// Grants after which the account records where it came from (`account_source`).
const ACCOUNT_SOURCE_GRANTS: [&str; 5] = [
    "broker",
    "authorization_code",
    "password",
    "urn:ietf:params:oauth:grant-type:device_code",
    "user_fic",
];

/// The lifetime MSAL assumes when the server sends neither `expires_in` nor `expires_on`
/// (RFC 6749 §5.1 leaves it to the client).
pub const DEFAULT_EXPIRES_IN: i64 = 600;

/// A successful token response, with what the cache needs to file it.
#[derive(Clone, Copy)]
pub struct TokenEvent<'a> {
    /// The application (client) id.
    pub client_id: &'a str,
    /// The authority host, lowercase, without port.
    pub environment: &'a str,
    /// The first path segment of the token endpoint (`common`, a domain, a GUID, `adfs`).
    pub realm: &'a str,
    /// The (decorated) scopes sent; the target when the response has no `scope`.
    pub requested_scopes: &'a [String],
    /// The token endpoint's JSON answer. Numbers may be strings. For a refresh-token grant, the
    /// caller removes `refresh_token` first and calls
    /// `TokenCache::update_refresh_token` instead,
    /// as MSAL does.
    pub response: &'a Value,
    /// The grant type of the request.
    pub grant_type: &'a str,
    /// The username sent with ROPC, used when the ID token has none.
    pub username: Option<&'a str>,
    /// The request's extended cache key (see `cache::keys::ext_cache_key`).
    pub ext_cache_key: Option<&'a str>,
    /// Do not create an Account (silent refresh: honours a concurrent `remove_account`).
    pub skip_account_creation: bool,
    /// The current time, epoch seconds.
    pub now: i64,
}

impl fmt::Debug for TokenEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenEvent")
            .field("client_id", &self.client_id)
            .field("environment", &self.environment)
            .field("realm", &self.realm)
            .field("requested_scopes", &self.requested_scopes)
            .field("response", &"[redacted]")
            .field("grant_type", &self.grant_type)
            .field("username", &self.username.map(|_| "[redacted]"))
            .field("ext_cache_key", &self.ext_cache_key)
            .field("skip_account_creation", &self.skip_account_creation)
            .field("now", &self.now)
            .finish()
    }
}

/// Where and how a token response is filed: a [`TokenEvent`] without its JSON, for callers
/// whose response is already decoded into [`Tokens`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Filing<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) environment: &'a str,
    pub(crate) realm: &'a str,
    pub(crate) requested_scopes: &'a [String],
    pub(crate) grant_type: &'a str,
    pub(crate) username: Option<&'a str>,
    pub(crate) ext_cache_key: Option<&'a str>,
    /// The key a key-bound token (an SSH certificate) was issued for, kept as the access
    /// token's `key_id` (MSAL Python stores the request's `key_id` there).
    pub(crate) key_id: Option<&'a str>,
    pub(crate) skip_account_creation: bool,
    pub(crate) now: i64,
    /// The application's app-only partition, when the caller knows its index key: the realm
    /// it was made for and the key (of `client_id`, `environment` and that realm). A new
    /// app-only token in that realm is filed without the key being made again.
    ///
    /// The key is the application's own copy, made once from its client id and environment
    /// (which never change) and that realm. Every filing that passes this same copy passes
    /// that client id and environment, letter for letter: while the store holds the copy, its
    /// address names them (the store's `LastAppToken` relies on it).
    pub(crate) app_partition: Option<(&'a str, &'a Arc<str>)>,
}

impl<'a> TokenEvent<'a> {
    /// The event without its JSON.
    pub(crate) fn filing(&self) -> Filing<'a> {
        Filing {
            client_id: self.client_id,
            environment: self.environment,
            realm: self.realm,
            requested_scopes: self.requested_scopes,
            grant_type: self.grant_type,
            username: self.username,
            ext_cache_key: self.ext_cache_key,
            key_id: None,
            skip_account_creation: self.skip_account_creation,
            now: self.now,
            app_partition: None,
        }
    }
}

/// What one event writes. The access token and the app metadata borrow what they share with
/// the request: the store copies it only into an entry it creates, never to renew one.
#[derive(Debug)]
pub(crate) struct Entities<'a> {
    pub(crate) access_token: Option<NewAccessToken<'a>>,
    // The entities of a user's sign-in are boxed: an app-only response (the frequent one)
    // leaves them out, and the whole set is moved and dropped smaller.
    pub(crate) account: Option<Box<AccountEntity>>,
    pub(crate) id_token: Option<Box<IdToken>>,
    /// The ID token's claims, decoded once (empty without an ID token).
    pub(crate) id_token_claims: Map<String, Value>,
    pub(crate) refresh_token: Option<Box<RefreshToken>>,
    pub(crate) app_metadata: NewAppMetadata<'a>,
}

/// What a result reads of an access token, filed ([`AccessToken`]) or about to be
/// ([`NewAccessToken`]).
pub(crate) trait AccessTokenFields {
    /// The token, shared.
    fn secret(&self) -> &Arc<str>;
    /// The granted scopes, space-separated.
    fn target(&self) -> &str;
    /// `token_type`, when known.
    fn token_type(&self) -> Option<&Cow<'static, str>>;
    /// `expires_on`, epoch seconds.
    fn expires_on(&self) -> i64;
    /// `extended_expires_on`, epoch seconds.
    fn extended_expires_on(&self) -> Option<i64>;
    /// `refresh_on`, epoch seconds.
    fn refresh_on(&self) -> Option<i64>;
}

impl AccessTokenFields for AccessToken {
    fn secret(&self) -> &Arc<str> {
        &self.secret
    }
    fn target(&self) -> &str {
        &self.target
    }
    fn token_type(&self) -> Option<&Cow<'static, str>> {
        self.token_type.as_ref()
    }
    fn expires_on(&self) -> i64 {
        self.expires_on
    }
    fn extended_expires_on(&self) -> Option<i64> {
        self.extended_expires_on
    }
    fn refresh_on(&self) -> Option<i64> {
        self.refresh_on
    }
}

/// The access token of one response before it is filed. The fields it shares with the request
/// (environment, client id, realm, a target the request or response already spells, key id,
/// extended key) are borrowed: renewing the entry under its key, the usual filing, copies none
/// of them.
pub(crate) struct NewAccessToken<'a> {
    pub(crate) secret: Arc<str>,
    pub(crate) home_account_id: Option<String>,
    pub(crate) environment: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) realm: &'a str,
    pub(crate) target: Cow<'a, str>,
    pub(crate) token_type: Cow<'static, str>,
    pub(crate) cached_at: i64,
    pub(crate) expires_on: i64,
    pub(crate) extended_expires_on: i64,
    pub(crate) refresh_on: Option<i64>,
    pub(crate) key_id: Option<&'a str>,
    pub(crate) ext_cache_key: Option<&'a str>,
    /// See [`Filing::app_partition`].
    pub(crate) app_partition: Option<(&'a str, &'a Arc<str>)>,
}

impl fmt::Debug for NewAccessToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewAccessToken")
            .field("secret", &"[redacted]")
            .field("home_account_id", &self.home_account_id)
            .field("environment", &self.environment)
            .field("client_id", &self.client_id)
            .field("realm", &self.realm)
            .field("target", &self.target)
            .field("expires_on", &self.expires_on)
            .finish_non_exhaustive()
    }
}

impl<'a> NewAccessToken<'a> {
    /// Writes the MSAL key of this token into `key` (see `keys::access_token_key`); returns
    /// whether the token's place is all lowercase ASCII.
    pub(crate) fn key_into(&self, key: &mut String) -> bool {
        keys::access_token_key_into(
            key,
            self.home_account_id.as_deref(),
            [self.environment, self.client_id, self.realm, &self.target],
            self.ext_cache_key,
        )
    }

    /// Whether `old`, the entry under this token's key, has its place (partition and target)
    /// letter for letter, so that renewing it in place changes no index and no key.
    pub(crate) fn renews(&self, old: &AccessToken) -> bool {
        old.place() == self.place()
    }

    /// See [`TokenPlace`].
    pub(crate) fn place(&self) -> TokenPlace<'_> {
        TokenPlace {
            target: &self.target,
            client_id: self.client_id,
            environment: self.environment,
            realm: self.realm,
            home_account_id: self.home_account_id.as_deref(),
            ext_cache_key: self.ext_cache_key,
        }
    }

    /// The index key of this token's partition, when it is the application's app-only
    /// partition whose key the caller passed (see [`Filing::app_partition`]).
    pub(crate) fn known_partition_key(&self) -> Option<&'a Arc<str>> {
        let (realm, key) = self.app_partition?;
        (self.home_account_id.is_none() && self.ext_cache_key.is_none() && realm == self.realm)
            .then_some(key)
    }

    /// Makes `old` (for which [`renews`](Self::renews) holds) this token: what
    /// [`into_entity`](Self::into_entity) would build, keeping the equal texts it has.
    pub(crate) fn renew(self, old: &mut AccessToken) {
        old.secret = self.secret;
        old.token_type = Some(self.token_type);
        old.cached_at = Some(self.cached_at);
        old.expires_on = self.expires_on;
        old.extended_expires_on = Some(self.extended_expires_on);
        old.refresh_on = self.refresh_on;
        if old.key_id.as_deref() != self.key_id {
            old.key_id = self.key_id.map(str::to_string);
        }
        if !old.extra.is_empty() {
            old.extra = Map::new();
        }
    }

    /// The cache entry.
    pub(crate) fn into_entity(self) -> AccessToken {
        AccessToken {
            secret: self.secret,
            home_account_id: self.home_account_id,
            environment: shared_text(TextKind::Environment, self.environment),
            client_id: shared_text(TextKind::ClientId, self.client_id),
            target: self.target.into_owned(),
            realm: shared_text(TextKind::Realm, self.realm),
            token_type: Some(self.token_type),
            cached_at: Some(self.cached_at),
            expires_on: self.expires_on,
            extended_expires_on: Some(self.extended_expires_on),
            refresh_on: self.refresh_on,
            key_id: self.key_id.map(str::to_string),
            ext_cache_key: self.ext_cache_key.map(str::to_string),
            extra: Map::new(),
        }
    }
}

impl AccessTokenFields for NewAccessToken<'_> {
    fn secret(&self) -> &Arc<str> {
        &self.secret
    }
    fn target(&self) -> &str {
        &self.target
    }
    fn token_type(&self) -> Option<&Cow<'static, str>> {
        Some(&self.token_type)
    }
    fn expires_on(&self) -> i64 {
        self.expires_on
    }
    fn extended_expires_on(&self) -> Option<i64> {
        Some(self.extended_expires_on)
    }
    fn refresh_on(&self) -> Option<i64> {
        self.refresh_on
    }
}

/// The app metadata of one response before it is filed: every response files it, and it is
/// nearly always the entry already there, which then stays without a copy being made.
#[derive(Debug)]
pub(crate) struct NewAppMetadata<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) environment: &'a str,
    pub(crate) family_id: Option<String>,
}

impl NewAppMetadata<'_> {
    /// Whether `stored` is exactly the entry this would file.
    pub(crate) fn is(&self, stored: &AppMetadata) -> bool {
        stored.client_id == self.client_id
            && stored.environment == self.environment
            && stored.family_id == self.family_id
            && stored.extra.is_empty()
    }

    /// The cache entry.
    pub(crate) fn to_entity(&self) -> AppMetadata {
        AppMetadata {
            client_id: self.client_id.to_string(),
            environment: self.environment.to_string(),
            family_id: self.family_id.clone(),
            extra: Map::new(),
        }
    }
}

fn invalid(what: &str) -> Error {
    Error::cache(format!(
        "the token response cannot be cached: {what}; nothing was written (check the \
         identity provider's answer)"
    ))
}

/// An integer that may be written as a JSON number or a decimal string.
fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && f.abs() < 9.0e18)
                .map(|f| f.trunc() as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn present<'a>(response: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    response.get(name).filter(|v| !v.is_null())
}

fn required_integer(response: &Map<String, Value>, name: &str) -> Result<Option<i64>, Error> {
    match response.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => integer(v)
            .map(Some)
            .ok_or_else(|| invalid(&format!("`{name}` is not an integer"))),
    }
}

fn secret<'a>(response: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, Error> {
    match response.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(&format!("`{name}` is not a string"))),
    }
}

fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A token response as the cache files it: the fields it reads, already decoded. Typed
/// callers (the applications' OAuth responses, broker results) fill it directly; the JSON of a
/// [`TokenEvent`] is read into it. Empty strings count as absent.
#[derive(Debug, Default)]
pub(crate) struct Tokens<'a> {
    pub(crate) access_token: Option<TokenText<'a>>,
    /// Default `Bearer`.
    pub(crate) token_type: Option<&'a str>,
    /// Seconds; when absent, `expires_on`; else [`DEFAULT_EXPIRES_IN`].
    pub(crate) expires_in: Option<i64>,
    /// Epoch seconds.
    pub(crate) expires_on: Option<i64>,
    pub(crate) ext_expires_in: Option<i64>,
    pub(crate) refresh_in: Option<i64>,
    pub(crate) refresh_token: Option<&'a str>,
    pub(crate) id_token: Option<&'a str>,
    /// The ID token's claims when the caller already has them decoded (a broker).
    pub(crate) id_token_claims: Option<&'a Map<String, Value>>,
    pub(crate) client_info: Option<&'a str>,
    /// The granted scopes; `None`: the requested ones.
    pub(crate) scopes: Option<Granted<'a>>,
    pub(crate) family_id: Option<String>,
    /// A broker's own id for the account (MSAL Python's `_account_id`).
    pub(crate) account_id: Option<&'a str>,
}

/// An access token's text as the caller has it: borrowed, or already shared (a token
/// response's), which the cache's entry then shares too instead of copying it.
#[derive(Clone, Copy)]
pub(crate) enum TokenText<'a> {
    Borrowed(&'a str),
    Shared(&'a Arc<str>),
}

impl TokenText<'_> {
    fn as_str(&self) -> &str {
        match self {
            Self::Borrowed(text) => text,
            Self::Shared(text) => text,
        }
    }

    fn to_shared(self) -> Arc<str> {
        match self {
            Self::Borrowed(text) => text.into(),
            Self::Shared(text) => text.clone(),
        }
    }
}

impl<'a> From<&'a str> for TokenText<'a> {
    fn from(text: &'a str) -> Self {
        Self::Borrowed(text)
    }
}

impl<'a> From<&'a Arc<str>> for TokenText<'a> {
    fn from(text: &'a Arc<str>) -> Self {
        Self::Shared(text)
    }
}

impl fmt::Debug for TokenText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The scopes a response granted, as it sent them.
#[derive(Debug, Clone)]
pub(crate) enum Granted<'a> {
    /// Space-separated (`scope` of a token response).
    Spaced(&'a str),
    /// One by one.
    Listed(Vec<&'a str>),
}

/// Reads a [`TokenEvent`]'s JSON, with the checks MSAL's `__add` makes: times are integers
/// (numbers or decimal strings), tokens are strings, `client_info` is text.
fn tokens_from_json(response: &Map<String, Value>) -> Result<Tokens<'_>, Error> {
    let access_token = secret(response, "access_token")?;
    let (mut expires_in, mut expires_on, mut ext_expires_in, mut refresh_in) =
        (None, None, None, None);
    // The lifetimes matter (and are checked) only with an access token.
    if access_token.is_some() {
        expires_in = required_integer(response, "expires_in")?;
        if expires_in.is_none() {
            expires_on = present(response, "expires_on")
                .map(|v| integer(v).ok_or_else(|| invalid("`expires_on` is not an integer")))
                .transpose()?;
        }
        ext_expires_in = required_integer(response, "ext_expires_in")?;
        refresh_in = required_integer(response, "refresh_in")?;
    }
    let client_info = match response.get("client_info") {
        None => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err(invalid("`client_info` is not base64url-encoded JSON")),
    };
    let scopes = match response.get("scope") {
        Some(Value::String(s)) => Some(Granted::Spaced(s)),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => Some(Granted::Listed(
            items.iter().filter_map(Value::as_str).collect(),
        )),
        _ => None,
    };
    Ok(Tokens {
        access_token: access_token.map(TokenText::from),
        token_type: response.get("token_type").and_then(Value::as_str),
        expires_in,
        expires_on,
        ext_expires_in,
        refresh_in,
        refresh_token: secret(response, "refresh_token")?,
        id_token: secret(response, "id_token")?,
        id_token_claims: match response.get("id_token_claims") {
            Some(Value::Object(claims)) if !claims.is_empty() => Some(claims),
            _ => None,
        },
        client_info,
        scopes,
        family_id: present(response, "foci").and_then(as_text),
        account_id: response.get("_account_id").and_then(Value::as_str),
    })
}

/// `home_account_id`, and whether an account can be created: `{uid}.{utid}` from `client_info`,
/// else the ID token's `sub`, else none.
fn home_account_id(
    client_info: Option<&str>,
    id_claims: &Map<String, Value>,
) -> Result<Option<String>, Error> {
    if let Some(raw) = client_info {
        let info = decode_json_object(raw)
            .ok_or_else(|| invalid("`client_info` is not base64url-encoded JSON"))?;
        if let (Some(uid), Some(utid)) = (claim_text(&info, "uid"), claim_text(&info, "utid")) {
            return Ok(Some(format!("{uid}.{utid}")));
        }
    }
    if !id_claims.is_empty() {
        return Ok(claim_text(id_claims, "sub"));
    }
    Ok(None)
}

fn non_empty_claim(claims: &Map<String, Value>, name: &str) -> Option<String> {
    claim_text(claims, name).filter(|s| !s.is_empty())
}

/// Builds the entities one successful token response (its JSON) produces. Nothing is written
/// when the response is malformed (a non-numeric `expires_in`, undecodable `client_info` or ID
/// token).
pub(crate) fn entities_from_event<'a>(event: &TokenEvent<'a>) -> Result<Entities<'a>, Error> {
    let response = event
        .response
        .as_object()
        .ok_or_else(|| invalid("the response is not a JSON object"))?;
    entities(&event.filing(), &tokens_from_json(response)?)
}

/// Builds the entities of `tokens`, filed as `event` says.
pub(crate) fn entities<'a>(event: &Filing<'a>, tokens: &Tokens<'a>) -> Result<Entities<'a>, Error> {
    let now = event.now;
    let non_empty = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_string);

    let id_token = non_empty(tokens.id_token);
    let id_claims = match (tokens.id_token_claims, &id_token) {
        (Some(claims), _) if !claims.is_empty() => claims.clone(),
        (_, Some(jwt)) => {
            jwt_claims(jwt).ok_or_else(|| invalid("`id_token` is not a decodable JWT"))?
        }
        _ => Map::new(),
    };
    let home_account_id = home_account_id(tokens.client_info, &id_claims)?;
    let target = match (&tokens.scopes, event.requested_scopes) {
        // One scope (the usual answer of a client-credential or resource request) as it is.
        (Some(Granted::Spaced(one)), _) if !one.chars().any(char::is_whitespace) => {
            Cow::Borrowed(*one)
        }
        (Some(Granted::Listed(granted)), _) if granted.len() == 1 => Cow::Borrowed(granted[0]),
        (None, [requested]) => Cow::Borrowed(requested.as_str()),
        (granted, requested) => {
            let mut scopes: Vec<&str> = match granted {
                Some(Granted::Spaced(text)) => text.split_whitespace().collect(),
                Some(Granted::Listed(granted)) => granted.clone(),
                None => requested.iter().map(String::as_str).collect(),
            };
            scopes.sort_unstable();
            Cow::Owned(scopes.join(" "))
        }
    };
    let (environment, realm, client_id) = (event.environment, event.realm, event.client_id);
    let family_id = tokens.family_id.clone();

    let account = match &home_account_id {
        Some(hid) if !event.skip_account_creation => Some(Box::new(AccountEntity {
            home_account_id: hid.clone(),
            environment: environment.to_string(),
            realm: realm.to_string(),
            // A broker's own account id (MSAL Python's `_account_id`), else the object id.
            local_account_id: non_empty(tokens.account_id)
                .or_else(|| claim_text(&id_claims, "oid"))
                .or_else(|| claim_text(&id_claims, "sub"))
                .unwrap_or_default(),
            username: non_empty_claim(&id_claims, "preferred_username")
                .or_else(|| non_empty_claim(&id_claims, "upn"))
                .or_else(|| event.username.map(str::to_string))
                .unwrap_or_default(),
            authority_type: if realm.eq_ignore_ascii_case("adfs") {
                AUTHORITY_TYPE_ADFS
            } else {
                AUTHORITY_TYPE_MSSTS
            }
            .to_string(),
            account_source: ACCOUNT_SOURCE_GRANTS
                .contains(&event.grant_type)
                .then(|| event.grant_type.to_string()),
            extra: Map::new(),
        })),
        _ => None,
    };

    let id_token = id_token.map(|secret| {
        Box::new(IdToken {
            secret,
            home_account_id: home_account_id.clone(),
            environment: environment.to_string(),
            realm: realm.to_string(),
            client_id: client_id.to_string(),
            extra: Map::new(),
        })
    });

    let refresh_token = non_empty(tokens.refresh_token).map(|secret| {
        Box::new(RefreshToken {
            secret,
            home_account_id: home_account_id.clone(),
            environment: environment.to_string(),
            client_id: client_id.to_string(),
            target: Some(target.to_string()),
            last_modification_time: Some(now),
            family_id: family_id.clone(),
            extra: Map::new(),
        })
    });

    // Last, so that it takes the target and account id the others copied.
    let access_token = tokens
        .access_token
        .filter(|s| !s.as_str().is_empty())
        .map(|secret| {
            let expires_in = match (tokens.expires_in, tokens.expires_on) {
                (Some(v), _) => v,
                (None, Some(on)) => on.saturating_sub(now),
                (None, None) => DEFAULT_EXPIRES_IN,
            };
            let ext_expires_in = tokens.ext_expires_in.unwrap_or(expires_in);
            NewAccessToken {
                secret: secret.to_shared(),
                home_account_id,
                environment,
                client_id,
                realm,
                target,
                token_type: token_type(tokens.token_type.unwrap_or(BEARER)),
                cached_at: now,
                expires_on: now.saturating_add(expires_in),
                extended_expires_on: now.saturating_add(ext_expires_in),
                refresh_on: tokens.refresh_in.map(|r| now.saturating_add(r)),
                key_id: event.key_id.filter(|k| !k.is_empty()),
                ext_cache_key: event.ext_cache_key.filter(|k| !k.is_empty()),
                app_partition: event.app_partition,
            }
        });

    Ok(Entities {
        access_token,
        account,
        id_token,
        id_token_claims: id_claims,
        refresh_token,
        app_metadata: NewAppMetadata {
            client_id,
            environment,
            family_id,
        },
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use serde_json::json;

    /// An unsigned JWT whose payload is standard base64 with padding, like MSAL Python's tests.
    pub(crate) fn id_token(claims: Value) -> String {
        format!("header.{}.signature", STANDARD.encode(claims.to_string()))
    }

    pub(crate) fn client_info(uid: &str, utid: &str) -> String {
        URL_SAFE_NO_PAD.encode(json!({"uid": uid, "utid": utid}).to_string())
    }

    pub(crate) fn event<'a>(response: &'a Value, scopes: &'a [String]) -> TokenEvent<'a> {
        TokenEvent {
            client_id: "my_client_id",
            environment: "login.example.com",
            realm: "contoso",
            requested_scopes: scopes,
            response,
            grant_type: "authorization_code",
            username: None,
            ext_cache_key: None,
            skip_account_creation: false,
            now: 1000,
        }
    }

    fn scopes() -> Vec<String> {
        vec!["s2".into(), "s1".into(), "s3".into()]
    }

    #[test]
    fn expiry_fields() {
        let s = scopes();
        let r = json!({"access_token": "at", "expires_in": "3600", "ext_expires_in": 7200,
            "refresh_in": 1800});
        let at = entities_from_event(&event(&r, &s))
            .unwrap()
            .access_token
            .unwrap()
            .into_entity();
        assert_eq!(
            (at.expires_on, at.extended_expires_on, at.refresh_on),
            (4600, Some(8200), Some(2800))
        );
        assert_eq!(at.token_type.as_deref(), Some("Bearer"));

        let r = json!({"access_token": "at", "expires_on": "2000"});
        let at = entities_from_event(&event(&r, &s))
            .unwrap()
            .access_token
            .unwrap()
            .into_entity();
        assert_eq!(
            (at.expires_on, at.extended_expires_on, at.refresh_on),
            (2000, Some(2000), None)
        );

        let r = json!({"access_token": "at"});
        let at = entities_from_event(&event(&r, &s))
            .unwrap()
            .access_token
            .unwrap()
            .into_entity();
        assert_eq!(at.expires_on, 1000 + DEFAULT_EXPIRES_IN);

        // Absurd values saturate instead of overflowing.
        let r = json!({"access_token": "at", "expires_on": i64::MIN, "refresh_in": i64::MAX,
            "ext_expires_in": i64::MAX});
        let at = entities_from_event(&event(&r, &s))
            .unwrap()
            .access_token
            .unwrap()
            .into_entity();
        assert_eq!(
            (at.refresh_on, at.extended_expires_on),
            (Some(i64::MAX), Some(i64::MAX))
        );
    }

    #[test]
    fn target_prefers_the_response_scope() {
        let s = scopes();
        let r = json!({"access_token": "at", "scope": "b A c"});
        let e = entities_from_event(&event(&r, &s)).unwrap();
        assert_eq!(e.access_token.unwrap().target, "A b c");
        let r = json!({"access_token": "at"});
        let e = entities_from_event(&event(&r, &s)).unwrap();
        assert_eq!(e.access_token.unwrap().target, "s1 s2 s3");
        // One scope is taken as it is; whitespace anywhere (any Unicode space) makes a list.
        let target = |scope: Value, requested: &[&str]| {
            let requested: Vec<String> = requested.iter().map(|r| r.to_string()).collect();
            let r = json!({"access_token": "at", "scope": scope});
            let e = entities_from_event(&event(&r, &requested)).unwrap();
            e.access_token.unwrap().target.into_owned()
        };
        assert_eq!(
            target(json!("api://x/.default"), &["a"]),
            "api://x/.default"
        );
        assert_eq!(target(json!("  b\u{a0}a \t"), &["a"]), "a b");
        assert_eq!(target(json!(""), &["a"]), "");
        assert_eq!(target(json!(["only"]), &["a"]), "only");
        assert_eq!(target(json!(["y", "x"]), &["a"]), "x y");
        assert_eq!(target(Value::Null, &["One"]), "One");
        assert_eq!(target(Value::Null, &["b", "a"]), "a b");
    }

    #[test]
    fn identity_derivation() {
        let s = scopes();
        // client_info without utid falls back to sub.
        let r = json!({"access_token": "at",
            "client_info": URL_SAFE_NO_PAD.encode(b"{\"uid\":\"u\"}"),
            "id_token": id_token(json!({"sub": "the-sub", "upn": "u@adfs"}))});
        let e = entities_from_event(&event(&r, &s)).unwrap();
        let account = e.account.unwrap();
        assert_eq!(account.home_account_id, "the-sub");
        assert_eq!(account.local_account_id, "the-sub");
        assert_eq!(account.username, "u@adfs");
        assert_eq!(
            account.account_source.as_deref(),
            Some("authorization_code")
        );

        // ROPC username fallback; grants outside the list record no source.
        let r = json!({"access_token": "at", "client_info": client_info("u", "t")});
        let mut ev = event(&r, &s);
        ev.username = Some("ropc@contoso.com");
        ev.grant_type = "refresh_token";
        let account = entities_from_event(&ev).unwrap().account.unwrap();
        assert_eq!(account.home_account_id, "u.t");
        assert_eq!(account.username, "ropc@contoso.com");
        assert_eq!(account.local_account_id, "");
        assert_eq!(account.account_source, None);

        // Silent refresh creates no account.
        ev.skip_account_creation = true;
        assert!(entities_from_event(&ev).unwrap().account.is_none());

        // Client credentials: no identity at all.
        let r = json!({"access_token": "at", "token_type": "bearer"});
        let e = entities_from_event(&event(&r, &s)).unwrap();
        assert!(e.account.is_none() && e.id_token.is_none() && e.refresh_token.is_none());
        assert_eq!(e.access_token.unwrap().home_account_id, None);
    }

    #[test]
    fn foci_sets_the_family_of_rt_and_app_metadata() {
        let s = scopes();
        let r = json!({"access_token": "at", "refresh_token": "rt", "foci": "1",
            "client_info": client_info("u", "t")});
        let e = entities_from_event(&event(&r, &s)).unwrap();
        assert_eq!(e.refresh_token.unwrap().family_id.as_deref(), Some("1"));
        assert_eq!(e.app_metadata.family_id.as_deref(), Some("1"));
    }

    #[test]
    fn malformed_responses_are_errors() {
        let s = scopes();
        for r in [
            json!("not an object"),
            json!({"access_token": "at", "expires_in": "soon"}),
            json!({"access_token": "at", "client_info": "%%%"}),
            json!({"access_token": "at", "id_token": "no-payload"}),
            json!({"access_token": 42}),
            json!({"access_token": "at", "refresh_in": [1]}),
        ] {
            let err = entities_from_event(&event(&r, &s)).unwrap_err();
            assert!(matches!(err, Error::Cache { .. }), "{r}");
        }
    }

    #[test]
    fn debug_redacts_the_response() {
        let s = scopes();
        let r = json!({"access_token": "very-secret"});
        assert!(!format!("{:?}", event(&r, &s)).contains("very-secret"));
    }
}
