//! The five entity types of the unified cache schema, as MSAL Python 1.39 writes them.
//!
//! Field names are exact; times are epoch seconds, held as `i64` and written as decimal strings;
//! an app-only token has `home_account_id: null`. Fields this crate does not know are kept in
//! each entity's `extra` map and written back unchanged.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use super::keys;
use super::shared_text::{TextKind, shared_text};

/// `credential_type` of an access token.
pub const ACCESS_TOKEN: &str = "AccessToken";
/// `credential_type` of a refresh token.
pub const REFRESH_TOKEN: &str = "RefreshToken";
/// `credential_type` of an ID token.
pub const ID_TOKEN: &str = "IdToken";
/// Top-level name of the account map.
pub const ACCOUNT: &str = "Account";
/// Top-level name of the app-metadata map.
pub const APP_METADATA: &str = "AppMetadata";

/// `authority_type` of an account signed in through AD FS.
pub const AUTHORITY_TYPE_ADFS: &str = "ADFS";
/// `authority_type` of an account signed in through Microsoft Entra ID (AAD v2, MSA).
pub const AUTHORITY_TYPE_MSSTS: &str = "MSSTS";

/// A cached access token (`AccessToken` map).
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The token itself, shared with the results made from it (a cache hit copies no token).
    pub secret: Arc<str>,
    /// `{uid}.{utid}` of the user, the `sub` on AD FS, or `None` for an app-only token.
    pub home_account_id: Option<String>,
    /// The authority host, e.g. `login.microsoftonline.com` (shared with the other tokens
    /// filed with it: see `shared_text`).
    pub environment: Arc<str>,
    /// The application (client) id (shared likewise).
    pub client_id: Arc<str>,
    /// The granted scopes, space-separated and sorted.
    pub target: String,
    /// The tenant as configured in the authority (`common`, a domain or a GUID; shared
    /// likewise).
    pub realm: Arc<str>,
    /// `token_type` (`Bearer` unless the server said otherwise; `Bearer` itself is borrowed).
    pub token_type: Option<Cow<'static, str>>,
    /// When the token was cached.
    pub cached_at: Option<i64>,
    /// When the token expires.
    pub expires_on: i64,
    /// When the token expires if Entra is unavailable (`ext_expires_in`).
    pub extended_expires_on: Option<i64>,
    /// When the token should be refreshed proactively (only when the server sent `refresh_in`).
    pub refresh_on: Option<i64>,
    /// The key the token is bound to (SSH certificates, proof of possession).
    pub key_id: Option<String>,
    /// The extended cache key (see [`ext_cache_key`](super::ext_cache_key)).
    pub ext_cache_key: Option<String>,
    /// Fields this crate does not know, kept for round trips.
    pub extra: Map<String, Value>,
}

/// A cached refresh token (`RefreshToken` map).
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// The token itself.
    pub secret: String,
    /// The account the token belongs to.
    pub home_account_id: Option<String>,
    /// The authority host.
    pub environment: String,
    /// The application (client) id that obtained it.
    pub client_id: String,
    /// The scopes it was obtained with (MSAL Python writes them; other MSALs may not).
    pub target: Option<String>,
    /// When the secret was last written.
    pub last_modification_time: Option<i64>,
    /// The family (`"1"` for the Microsoft first-party family), from the response's `foci`.
    pub family_id: Option<String>,
    /// Fields this crate does not know, kept for round trips.
    pub extra: Map<String, Value>,
}

/// A cached ID token (`IdToken` map).
#[derive(Clone, PartialEq, Eq)]
pub struct IdToken {
    /// The raw JWT.
    pub secret: String,
    /// The account the token belongs to.
    pub home_account_id: Option<String>,
    /// The authority host.
    pub environment: String,
    /// The tenant as configured in the authority.
    pub realm: String,
    /// The application (client) id.
    pub client_id: String,
    /// Fields this crate does not know, kept for round trips.
    pub extra: Map<String, Value>,
}

/// A cached account (`Account` map).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountEntity {
    /// `{uid}.{utid}`, or the `sub` on AD FS.
    pub home_account_id: String,
    /// The authority host.
    pub environment: String,
    /// The tenant as configured in the authority.
    pub realm: String,
    /// The object id (`oid`), else `sub`.
    pub local_account_id: String,
    /// `preferred_username`, else `upn`, else the ROPC username, else empty.
    pub username: String,
    /// `MSSTS` or `ADFS` (or what another SDK wrote, e.g. `CLOUDSHELL`).
    pub authority_type: String,
    /// The grant that established the account (`authorization_code`, `password`, device code,
    /// `broker`, `user_fic`).
    pub account_source: Option<String>,
    /// Fields this crate does not know, kept for round trips.
    pub extra: Map<String, Value>,
}

/// Per-application metadata (`AppMetadata` map): which family an app belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppMetadata {
    /// The application (client) id.
    pub client_id: String,
    /// The authority host.
    pub environment: String,
    /// The family, when the app is known to belong to one.
    pub family_id: Option<String>,
    /// Fields this crate does not know, kept for round trips.
    pub extra: Map<String, Value>,
}

/// What decides where an access token is indexed: its partition's fields and its target,
/// letter for letter. Two tokens with equal places index alike (the general case compares the
/// lowercased keys).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TokenPlace<'a> {
    pub(crate) target: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) environment: &'a str,
    pub(crate) realm: &'a str,
    pub(crate) home_account_id: Option<&'a str>,
    pub(crate) ext_cache_key: Option<&'a str>,
}

impl TokenPlace<'_> {
    /// The place's outline (see [`PlaceOutline`], which holds only for a place that is all
    /// lowercase ASCII); `None` when a part is 64 KiB or longer.
    pub(crate) fn outline(&self) -> Option<PlaceOutline> {
        let parts = [
            self.target,
            self.client_id,
            self.environment,
            self.realm,
            self.home_account_id.unwrap_or(""),
            self.ext_cache_key.unwrap_or(""),
        ];
        let mut lengths = [0u16; 6];
        for (length, part) in lengths.iter_mut().zip(parts) {
            *length = u16::try_from(part.len()).ok()?;
        }
        let present =
            u8::from(self.home_account_id.is_some()) | u8::from(self.ext_cache_key.is_some()) << 1;
        Some(PlaceOutline { lengths, present })
    }
}

/// A [`TokenPlace`] that is all lowercase ASCII, told without its texts: the byte length of
/// each part and which optional parts are present. Two such places filed under the same
/// *computed* key (the parts lowercased and joined, see `keys::access_token_key_into`) are
/// equal letter for letter when their outlines are equal: the key holds every part, and equal
/// lengths put the parts' boundaries at the same places (a `-` inside a part cannot shift them).
/// A renewal compares outlines instead of reading the stored token's texts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PlaceOutline {
    lengths: [u16; 6],
    present: u8,
}

impl AccessToken {
    /// See [`TokenPlace`].
    pub(crate) fn place(&self) -> TokenPlace<'_> {
        TokenPlace {
            target: &self.target,
            client_id: &self.client_id,
            environment: &self.environment,
            realm: &self.realm,
            home_account_id: self.home_account_id.as_deref(),
            ext_cache_key: self.ext_cache_key.as_deref(),
        }
    }

    /// The cache key MSAL Python files this token under (the store files a response's token
    /// through `NewAccessToken::key_into`).
    #[cfg(test)]
    pub fn key(&self) -> String {
        keys::access_token_key(
            self.home_account_id.as_deref(),
            &self.environment,
            &self.client_id,
            &self.realm,
            &self.target,
            self.ext_cache_key.as_deref(),
        )
    }
}

impl RefreshToken {
    /// The cache key MSAL Python files this token under.
    pub fn key(&self) -> String {
        keys::refresh_token_key(
            self.home_account_id.as_deref(),
            &self.environment,
            &self.client_id,
            self.target.as_deref(),
        )
    }

    /// `last_modification_time`, epoch seconds.
    #[cfg(test)]
    pub fn last_modification_time(&self) -> Option<i64> {
        self.last_modification_time
    }
}

impl IdToken {
    /// The cache key MSAL Python files this token under.
    pub fn key(&self) -> String {
        keys::id_token_key(
            self.home_account_id.as_deref(),
            &self.environment,
            &self.client_id,
            &self.realm,
        )
    }
}

impl AccountEntity {
    /// The cache key MSAL Python files this account under.
    pub fn key(&self) -> String {
        keys::account_key(&self.home_account_id, &self.environment, &self.realm)
    }
}

struct ExtraKeys<'a>(&'a Map<String, Value>);

impl fmt::Debug for ExtraKeys<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &"[redacted]")
            .field("home_account_id", &self.home_account_id)
            .field("environment", &self.environment)
            .field("client_id", &self.client_id)
            .field("target", &self.target)
            .field("realm", &self.realm)
            .field("token_type", &self.token_type)
            .field("cached_at", &self.cached_at)
            .field("expires_on", &self.expires_on)
            .field("extended_expires_on", &self.extended_expires_on)
            .field("refresh_on", &self.refresh_on)
            .field("key_id", &self.key_id)
            .field("ext_cache_key", &self.ext_cache_key)
            .field("extra", &ExtraKeys(&self.extra))
            .finish()
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshToken")
            .field("secret", &"[redacted]")
            .field("home_account_id", &self.home_account_id)
            .field("environment", &self.environment)
            .field("client_id", &self.client_id)
            .field("target", &self.target)
            .field("last_modification_time", &self.last_modification_time)
            .field("family_id", &self.family_id)
            .field("extra", &ExtraKeys(&self.extra))
            .finish()
    }
}

impl fmt::Debug for IdToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdToken")
            .field("secret", &"[redacted]")
            .field("home_account_id", &self.home_account_id)
            .field("environment", &self.environment)
            .field("realm", &self.realm)
            .field("client_id", &self.client_id)
            .field("extra", &ExtraKeys(&self.extra))
            .finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Writing: field order follows MSAL Python's insertion order, then unknown fields.

/// An epoch time as MSAL writes it: a decimal string, formatted on the stack (serializing a
/// cache writes several per access token).
struct Time(i64);

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(itoa::Buffer::new().format(self.0))
    }
}

fn write_extra<M: SerializeMap>(map: &mut M, extra: &Map<String, Value>) -> Result<(), M::Error> {
    for (k, v) in extra {
        map.serialize_entry(k, v)?;
    }
    Ok(())
}

impl Serialize for AccessToken {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("credential_type", ACCESS_TOKEN)?;
        m.serialize_entry("secret", &*self.secret)?;
        m.serialize_entry("home_account_id", &self.home_account_id)?;
        m.serialize_entry("environment", &self.environment)?;
        m.serialize_entry("client_id", &self.client_id)?;
        m.serialize_entry("target", &self.target)?;
        m.serialize_entry("realm", &self.realm)?;
        if let Some(v) = &self.token_type {
            m.serialize_entry("token_type", v)?;
        }
        if let Some(v) = self.cached_at {
            m.serialize_entry("cached_at", &Time(v))?;
        }
        m.serialize_entry("expires_on", &Time(self.expires_on))?;
        if let Some(v) = self.extended_expires_on {
            m.serialize_entry("extended_expires_on", &Time(v))?;
        }
        if let Some(v) = &self.key_id {
            m.serialize_entry("key_id", v)?;
        }
        if let Some(v) = &self.ext_cache_key {
            m.serialize_entry("ext_cache_key", v)?;
        }
        if let Some(v) = self.refresh_on {
            m.serialize_entry("refresh_on", &Time(v))?;
        }
        write_extra(&mut m, &self.extra)?;
        m.end()
    }
}

impl Serialize for RefreshToken {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("credential_type", REFRESH_TOKEN)?;
        m.serialize_entry("secret", &self.secret)?;
        m.serialize_entry("home_account_id", &self.home_account_id)?;
        m.serialize_entry("environment", &self.environment)?;
        m.serialize_entry("client_id", &self.client_id)?;
        if let Some(v) = &self.target {
            m.serialize_entry("target", v)?;
        }
        if let Some(v) = self.last_modification_time {
            m.serialize_entry("last_modification_time", &Time(v))?;
        }
        if let Some(v) = &self.family_id {
            m.serialize_entry("family_id", v)?;
        }
        write_extra(&mut m, &self.extra)?;
        m.end()
    }
}

impl Serialize for IdToken {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("credential_type", ID_TOKEN)?;
        m.serialize_entry("secret", &self.secret)?;
        m.serialize_entry("home_account_id", &self.home_account_id)?;
        m.serialize_entry("environment", &self.environment)?;
        m.serialize_entry("realm", &self.realm)?;
        m.serialize_entry("client_id", &self.client_id)?;
        write_extra(&mut m, &self.extra)?;
        m.end()
    }
}

impl Serialize for AccountEntity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("home_account_id", &self.home_account_id)?;
        m.serialize_entry("environment", &self.environment)?;
        m.serialize_entry("realm", &self.realm)?;
        m.serialize_entry("local_account_id", &self.local_account_id)?;
        m.serialize_entry("username", &self.username)?;
        m.serialize_entry("authority_type", &self.authority_type)?;
        if let Some(v) = &self.account_source {
            m.serialize_entry("account_source", v)?;
        }
        write_extra(&mut m, &self.extra)?;
        m.end()
    }
}

impl Serialize for AppMetadata {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("client_id", &self.client_id)?;
        m.serialize_entry("environment", &self.environment)?;
        if let Some(v) = &self.family_id {
            m.serialize_entry("family_id", v)?;
        }
        write_extra(&mut m, &self.extra)?;
        m.end()
    }
}

// ---------------------------------------------------------------------------------------------
// Reading: an entry becomes typed only when every field this crate relies on is present with the
// right type; otherwise it is kept verbatim as an entry "of unknown shape".

/// One known field's value as read: a string borrowed from the document when it has no escape
/// sequence (most do: nothing is allocated for a field that is only checked, parsed or shared),
/// else any JSON value. No `Debug`: it may hold a secret.
pub(crate) enum FieldValue<'de> {
    /// A string, borrowed from the document.
    Text(&'de str),
    /// Any other value (or a string with an escape sequence, decoded).
    Json(Value),
}

impl FieldValue<'_> {
    fn into_json(self) -> Value {
        match self {
            Self::Text(s) => Value::String(s.to_owned()),
            Self::Json(v) => v,
        }
    }
}

/// The most fields an [`Entity`] knows (`AccessToken`'s): a reader keeps them on the stack.
pub(crate) const MAX_FIELDS: usize = 14;

const _: () = assert!(
    AccessToken::FIELDS.len() <= MAX_FIELDS
        && RefreshToken::FIELDS.len() <= MAX_FIELDS
        && IdToken::FIELDS.len() <= MAX_FIELDS
        && AccountEntity::FIELDS.len() <= MAX_FIELDS
        && AppMetadata::FIELDS.len() <= MAX_FIELDS
);

/// An entity that can be built from the fields of one JSON entry.
pub(crate) trait Entity: Sized {
    /// The field names this type understands, in the order `from_fields` receives them.
    const FIELDS: &'static [&'static str];

    /// Builds the entity from the known fields (indexed like `FIELDS`, taken out of `fields`)
    /// and the unknown ones. When the entry does not fit, returns it whole as a JSON object.
    fn from_fields(
        fields: &mut [Option<FieldValue<'_>>],
        extra: Map<String, Value>,
    ) -> Result<Self, Value>;
}

/// Puts the fields back into one JSON object (for entries that do not fit the schema).
fn reassemble(
    names: &[&str],
    fields: &mut [Option<FieldValue<'_>>],
    mut extra: Map<String, Value>,
) -> Value {
    for (name, value) in names.iter().zip(fields) {
        if let Some(value) = value.take() {
            extra.insert((*name).to_string(), value.into_json());
        }
    }
    Value::Object(extra)
}

/// Parses an epoch time written as a decimal string (MSAL) or a JSON number (tolerated).
fn parse_time(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && f.abs() < 9.0e18)
                .map(|f| f.trunc() as i64)
        }),
        _ => None,
    }
}

/// The field's text when it is a string.
fn text<'a>(v: &'a Option<FieldValue<'_>>) -> Option<&'a str> {
    match v {
        Some(FieldValue::Text(s)) => Some(s),
        Some(FieldValue::Json(Value::String(s))) => Some(s),
        _ => None,
    }
}

fn is_str(v: &Option<FieldValue<'_>>) -> bool {
    text(v).is_some()
}

/// Absent, `null`, or a string.
fn is_opt_str(v: &Option<FieldValue<'_>>) -> bool {
    matches!(v, None | Some(FieldValue::Json(Value::Null))) || is_str(v)
}

fn time(v: &Option<FieldValue<'_>>) -> Option<i64> {
    match v.as_ref()? {
        FieldValue::Text(s) => s.trim().parse().ok(),
        FieldValue::Json(v) => parse_time(v),
    }
}

fn is_time(v: &Option<FieldValue<'_>>) -> bool {
    time(v).is_some()
}

/// Absent, `null`, or a time.
fn is_opt_time(v: &Option<FieldValue<'_>>) -> bool {
    matches!(v, None | Some(FieldValue::Json(Value::Null))) || is_time(v)
}

/// Absent or exactly `expected`.
fn is_credential_type(v: &Option<FieldValue<'_>>, expected: &str) -> bool {
    v.is_none() || text(v) == Some(expected)
}

fn take_str(v: &mut Option<FieldValue<'_>>) -> String {
    take_opt_str(v).unwrap_or_default()
}

fn take_opt_str(v: &mut Option<FieldValue<'_>>) -> Option<String> {
    match v.take()? {
        FieldValue::Text(s) => Some(s.to_owned()),
        FieldValue::Json(Value::String(s)) => Some(s),
        FieldValue::Json(_) => None,
    }
}

/// The OAuth default token type, and nearly every token's.
pub(crate) const BEARER: &str = "Bearer";

/// A token type as the cache keeps it (and a result from the cache hands it out): `Bearer` is
/// borrowed, not allocated.
pub(crate) fn token_type<T: AsRef<str> + Into<String>>(text: T) -> Cow<'static, str> {
    if text.as_ref() == BEARER {
        Cow::Borrowed(BEARER)
    } else {
        Cow::Owned(text.into())
    }
}

fn take_time(v: &mut Option<FieldValue<'_>>) -> Option<i64> {
    time(&v.take())
}

impl Entity for AccessToken {
    const FIELDS: &'static [&'static str] = &[
        "credential_type",
        "secret",
        "home_account_id",
        "environment",
        "client_id",
        "target",
        "realm",
        "token_type",
        "cached_at",
        "expires_on",
        "extended_expires_on",
        "refresh_on",
        "key_id",
        "ext_cache_key",
    ];

    fn from_fields(
        f: &mut [Option<FieldValue<'_>>],
        extra: Map<String, Value>,
    ) -> Result<Self, Value> {
        let fits = f.len() == Self::FIELDS.len()
            && is_credential_type(&f[0], ACCESS_TOKEN)
            && is_str(&f[1])
            && is_opt_str(&f[2])
            && is_str(&f[3])
            && is_str(&f[4])
            && is_str(&f[5])
            && is_str(&f[6])
            && is_opt_str(&f[7])
            && is_opt_time(&f[8])
            && is_time(&f[9])
            && is_opt_time(&f[10])
            && is_opt_time(&f[11])
            && is_opt_str(&f[12])
            && is_opt_str(&f[13]);
        if !fits {
            return Err(reassemble(Self::FIELDS, f, extra));
        }
        Ok(Self {
            secret: Arc::from(text(&f[1]).unwrap_or_default()),
            home_account_id: take_opt_str(&mut f[2]),
            environment: shared_text(TextKind::Environment, text(&f[3]).unwrap_or_default()),
            client_id: shared_text(TextKind::ClientId, text(&f[4]).unwrap_or_default()),
            target: take_str(&mut f[5]),
            realm: shared_text(TextKind::Realm, text(&f[6]).unwrap_or_default()),
            token_type: take_opt_str(&mut f[7]).map(token_type),
            cached_at: take_time(&mut f[8]),
            expires_on: take_time(&mut f[9]).unwrap_or_default(),
            extended_expires_on: take_time(&mut f[10]),
            refresh_on: take_time(&mut f[11]),
            key_id: take_opt_str(&mut f[12]),
            ext_cache_key: take_opt_str(&mut f[13]),
            extra,
        })
    }
}

impl Entity for RefreshToken {
    const FIELDS: &'static [&'static str] = &[
        "credential_type",
        "secret",
        "home_account_id",
        "environment",
        "client_id",
        "target",
        "last_modification_time",
        "family_id",
    ];

    fn from_fields(
        f: &mut [Option<FieldValue<'_>>],
        extra: Map<String, Value>,
    ) -> Result<Self, Value> {
        let fits = f.len() == Self::FIELDS.len()
            && is_credential_type(&f[0], REFRESH_TOKEN)
            && is_str(&f[1])
            && is_opt_str(&f[2])
            && is_str(&f[3])
            && is_str(&f[4])
            && is_opt_str(&f[5])
            && is_opt_time(&f[6])
            && is_opt_str(&f[7]);
        if !fits {
            return Err(reassemble(Self::FIELDS, f, extra));
        }
        Ok(Self {
            secret: take_str(&mut f[1]),
            home_account_id: take_opt_str(&mut f[2]),
            environment: take_str(&mut f[3]),
            client_id: take_str(&mut f[4]),
            target: take_opt_str(&mut f[5]),
            last_modification_time: take_time(&mut f[6]),
            family_id: take_opt_str(&mut f[7]),
            extra,
        })
    }
}

impl Entity for IdToken {
    const FIELDS: &'static [&'static str] = &[
        "credential_type",
        "secret",
        "home_account_id",
        "environment",
        "realm",
        "client_id",
    ];

    fn from_fields(
        f: &mut [Option<FieldValue<'_>>],
        extra: Map<String, Value>,
    ) -> Result<Self, Value> {
        let fits = f.len() == Self::FIELDS.len()
            && is_credential_type(&f[0], ID_TOKEN)
            && is_str(&f[1])
            && is_opt_str(&f[2])
            && is_str(&f[3])
            && is_str(&f[4])
            && is_str(&f[5]);
        if !fits {
            return Err(reassemble(Self::FIELDS, f, extra));
        }
        Ok(Self {
            secret: take_str(&mut f[1]),
            home_account_id: take_opt_str(&mut f[2]),
            environment: take_str(&mut f[3]),
            realm: take_str(&mut f[4]),
            client_id: take_str(&mut f[5]),
            extra,
        })
    }
}

impl Entity for AccountEntity {
    const FIELDS: &'static [&'static str] = &[
        "home_account_id",
        "environment",
        "realm",
        "local_account_id",
        "username",
        "authority_type",
        "account_source",
    ];

    fn from_fields(
        f: &mut [Option<FieldValue<'_>>],
        extra: Map<String, Value>,
    ) -> Result<Self, Value> {
        let fits = f.len() == Self::FIELDS.len() && f[..6].iter().all(is_str) && is_opt_str(&f[6]);
        if !fits {
            return Err(reassemble(Self::FIELDS, f, extra));
        }
        Ok(Self {
            home_account_id: take_str(&mut f[0]),
            environment: take_str(&mut f[1]),
            realm: take_str(&mut f[2]),
            local_account_id: take_str(&mut f[3]),
            username: take_str(&mut f[4]),
            authority_type: take_str(&mut f[5]),
            account_source: take_opt_str(&mut f[6]),
            extra,
        })
    }
}

impl Entity for AppMetadata {
    const FIELDS: &'static [&'static str] = &["client_id", "environment", "family_id"];

    fn from_fields(
        f: &mut [Option<FieldValue<'_>>],
        extra: Map<String, Value>,
    ) -> Result<Self, Value> {
        let fits = f.len() == Self::FIELDS.len()
            && is_str(&f[0])
            && is_str(&f[1])
            && (f[2].is_none() || is_str(&f[2]));
        if !fits {
            return Err(reassemble(Self::FIELDS, f, extra));
        }
        Ok(Self {
            client_id: take_str(&mut f[0]),
            environment: take_str(&mut f[1]),
            family_id: take_opt_str(&mut f[2]),
            extra,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_decimal_strings() {
        for v in [0, 7, -7, 1_700_000_000, i64::MAX, i64::MIN] {
            assert_eq!(serde_json::to_string(&Time(v)).unwrap(), format!("\"{v}\""));
        }
    }
    use serde_json::json;

    fn parse<T: Entity>(v: Value) -> Result<T, Value> {
        let Value::Object(mut map) = v else {
            return Err(v);
        };
        let mut fields: Vec<_> = T::FIELDS
            .iter()
            .map(|n| map.remove(*n).map(FieldValue::Json))
            .collect();
        T::from_fields(&mut fields, map)
    }

    fn at() -> AccessToken {
        AccessToken {
            secret: "an access token".into(),
            home_account_id: Some("uid.utid".into()),
            environment: "login.example.com".into(),
            client_id: "my_client_id".into(),
            target: "s1 s2 s3".into(),
            realm: "contoso".into(),
            token_type: Some("some type".into()),
            cached_at: Some(1000),
            expires_on: 4600,
            extended_expires_on: Some(4600),
            refresh_on: None,
            key_id: None,
            ext_cache_key: None,
            extra: Map::new(),
        }
    }

    #[test]
    fn access_token_writes_msal_fields_with_string_times() {
        let v = serde_json::to_value(at()).unwrap();
        assert_eq!(
            v,
            json!({
                "credential_type": "AccessToken", "secret": "an access token",
                "home_account_id": "uid.utid", "environment": "login.example.com",
                "client_id": "my_client_id", "target": "s1 s2 s3", "realm": "contoso",
                "token_type": "some type", "cached_at": "1000", "expires_on": "4600",
                "extended_expires_on": "4600"
            })
        );
        let mut app = at();
        app.home_account_id = None;
        assert_eq!(
            serde_json::to_value(app).unwrap()["home_account_id"],
            Value::Null
        );
    }

    #[test]
    fn entities_round_trip_with_unknown_fields() {
        let v = json!({
            "credential_type": "AccessToken", "secret": "s", "home_account_id": null,
            "environment": "e", "client_id": "c", "target": "t", "realm": "r",
            "expires_on": "10", "refresh_on": "5", "ext_cache_key": "x",
            "foreign": {"nested": [1, 2]}
        });
        let parsed: AccessToken = parse(v.clone()).unwrap();
        assert_eq!(parsed.expires_on, 10);
        assert_eq!(parsed.refresh_on, Some(5));
        assert_eq!(serde_json::to_value(&parsed).unwrap(), v);

        let rt = json!({"credential_type": "RefreshToken", "secret": "s", "home_account_id": "h",
            "environment": "e", "client_id": "c", "target": "t",
            "last_modification_time": "7", "family_id": "1", "x": true});
        let parsed: RefreshToken = parse(rt.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), rt);

        let account = json!({"home_account_id": "h", "environment": "e", "realm": "r",
            "local_account_id": "l", "username": "u", "authority_type": "MSSTS",
            "account_source": "password", "client_info": "abc"});
        let parsed: AccountEntity = parse(account.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), account);
    }

    #[test]
    fn numeric_times_are_tolerated_and_written_as_strings() {
        let v = json!({"secret": "s", "home_account_id": "h", "environment": "e",
            "client_id": "c", "target": "t", "realm": "r", "expires_on": 4600});
        let parsed: AccessToken = parse(v).unwrap();
        assert_eq!(parsed.expires_on, 4600);
        assert_eq!(serde_json::to_value(&parsed).unwrap()["expires_on"], "4600");
    }

    #[test]
    fn entries_of_unknown_shape_are_returned_whole() {
        for v in [
            json!({"foo": "bar"}),
            json!({"credential_type": "AccessToken_With_AuthScheme", "secret": "s",
                "home_account_id": "h", "environment": "e", "client_id": "c", "target": "t",
                "realm": "r", "expires_on": "1"}),
            json!({"secret": "s", "home_account_id": "h", "environment": "e",
                "client_id": "c", "target": "t", "realm": "r", "expires_on": "soon"}),
        ] {
            assert_eq!(parse::<AccessToken>(v.clone()).unwrap_err(), v);
        }
        let account = json!({"home_account_id": "h", "environment": "e"});
        assert_eq!(
            parse::<AccountEntity>(account.clone()).unwrap_err(),
            account
        );
    }

    #[test]
    fn debug_redacts_secrets() {
        let text = format!("{:?}", at());
        assert!(text.contains("[redacted]") && !text.contains("an access token"));
        let rt = RefreshToken {
            secret: "rt-secret".into(),
            home_account_id: None,
            environment: "e".into(),
            client_id: "c".into(),
            target: None,
            last_modification_time: None,
            family_id: None,
            extra: Map::new(),
        };
        assert!(!format!("{rt:?}").contains("rt-secret"));
        let idt = IdToken {
            secret: "jwt".into(),
            home_account_id: None,
            environment: "e".into(),
            realm: "r".into(),
            client_id: "c".into(),
            extra: Map::new(),
        };
        assert!(!format!("{idt:?}").contains("\"jwt\""));
    }
}
