//! The token cache: the unified schema, MSAL-compatible JSON, and an indexed in-memory store.
//!
//! [`TokenCache`] holds the five entity types of MSAL's unified cache schema ([`AccessToken`],
//! [`RefreshToken`], [`IdToken`], [`AccountEntity`],
//! [`AppMetadata`](schema::AppMetadata)) and reads and writes the JSON
//! that MSAL Python 1.39's `SerializableTokenCache` uses, so one cache file can be shared with
//! Python applications (and, since the schema is common, with the other MSALs).
//!
//! # Compatibility with MSAL Python
//!
//! - **JSON**: five top-level maps; field names as MSAL Python writes them; epoch seconds as
//!   decimal strings; `home_account_id: null` for app-only tokens. Unknown top-level keys,
//!   unknown fields and entries of unknown shape survive a `deserialize` → `serialize` round
//!   trip. Numeric times written by other tools are accepted and written back as strings.
//! - **Keys** ([`keys`]): lowercased and `-`-joined; the RefreshToken key includes the target;
//!   `atext` keys for tokens with an [`ext_cache_key`]; the AppMetadata key is not lowercased.
//! - **Adding** ([`TokenCache::add`]) derives every field the way `TokenCache.__add` does; a
//!   re-add replaces the entry under the same key.
//!
//! # Matching is case-insensitive, consistently
//!
//! MSAL Python finds an access token through two paths that disagree: its exact-key fast path
//! is case-insensitive (keys are lowercased), while its scan compares scopes case-sensitively,
//! so `["api://x/read", "B"]` can miss a token cached as `"Api://X/Read b"`. This cache compares
//! **scopes, client ids, environments, realms, home account ids and extended cache keys without
//! regard to case, everywhere** (lookups, the scope-subset test, refresh-token and ID-token
//! queries, removals). Family ids are compared exactly.
//!
//! Scopes of Microsoft Graph match in their short and qualified forms (`User.Read` and
//! `https://graph.microsoft.com/User.Read`): Entra echoes Graph scopes in short form, so
//! MSAL Python, which caches the echo, misses every time an application asks again with the
//! qualified form.
//!
//! # Performance
//!
//! Access tokens are partitioned by (client id, environment, realm, home account id, extended
//! cache key), and each partition indexes its tokens by scope, so both a hit and a miss examine
//! only the tokens of one partition that hold the rarest requested scope: O(1) in the size of
//! the cache, where MSAL Python scans every access token on a miss (filling 10,000 tokens takes
//! it about 130 s). Refresh tokens, ID tokens and accounts are indexed by account. Reads share a
//! [`RwLock`](std::sync::RwLock); JSON is read by streaming, without an intermediate tree.
//!
//! # Deliberate differences
//!
//! - Expired access tokens are skipped, never purged during a lookup (MSAL Python deletes them
//!   by recomputed key and flips `has_state_changed` on every search).
//! - Removals select entries by their fields, not by a recomputed key, so entries filed under a
//!   foreign key are removed too; `remove_account` and `remove_app_tokens` also remove tokens
//!   with an extended cache key.
//! - Entries whose shape does not fit the schema (e.g. .NET's
//!   `AccessToken_With_AuthScheme`) are kept and written back, but never returned.

pub(crate) mod add;
mod hash;
mod key_index;
mod key_order;
pub(crate) mod keys;
mod known_app_metadata;
mod prefetch;
mod pretty_json;
mod query;
mod schema;
mod scope_index;
mod scopes;
mod serialize;
mod shared_text;
mod store;
mod token_cache;
mod token_ids;

pub use token_cache::{CacheListener, TokenCache};

pub use add::TokenEvent;
pub(crate) use add::{AccessTokenFields, Entities, Filing, Granted, TokenText, Tokens};
pub(crate) use hash::FastMap;
pub(crate) use keys::ext_cache_key;
pub(crate) use prefetch::prefetch;
pub use query::AccessTokenQuery;
pub(crate) use query::RefreshTokenQuery;
pub(crate) use schema::{AccessToken, AccountEntity, BEARER, IdToken, RefreshToken, token_type};
pub(crate) use scopes::normalize as normalize_scopes;
pub(crate) use scopes::{is_normalized as is_normalized_scopes, is_one_scope};
pub(crate) use store::Lookup;
pub(crate) use store::{CredentialKind, app_partition_key};
