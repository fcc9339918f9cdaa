//! [`TokenCache`]: the shared, thread-safe cache handle the applications use.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use futures_util::future::BoxFuture;

use super::add::{Entities, Filing, TokenEvent, Tokens, entities, entities_from_event};
use super::query::{AccessTokenQuery, RefreshTokenQuery};
use super::schema::{AccessToken, AccountEntity, AppMetadata, IdToken, RefreshToken};
use super::serialize::{from_json, to_json, to_json_into};
use super::store::{CredentialKind, Lookup, Store};
use crate::error::Error;

/// Hooks around every cache access, for persistence: load the latest state in `before_access`,
/// save it in `after_access` when `has_state_changed` (see `crate::persistence`).
///
/// The cache calls them without holding its own lock, so they may call
/// [`TokenCache::serialize`] and [`TokenCache::deserialize`].
pub trait CacheListener: Send + Sync {
    /// Called before the application reads or writes the cache.
    fn before_access(&self, cache: &TokenCache);
    /// Called after the application read or wrote the cache; `has_state_changed` says whether
    /// it wrote anything since the last `serialize`, `deserialize` or `after_access`.
    fn after_access(&self, cache: &TokenCache, has_state_changed: bool);

    /// Called instead of [`before_access`](Self::before_access) when the application knows
    /// which partition of the cache the operation needs (see
    /// [`persistence::partition`](crate::persistence::partition): client and tenant for app
    /// tokens, home account for user tokens), so a distributed cache can load just that one.
    /// The default ignores the partition.
    fn before_partition_access(&self, cache: &TokenCache, partition: Option<&str>) {
        let _ = partition;
        self.before_access(cache);
    }

    /// What the applications' async token operations call instead of
    /// [`before_partition_access`](Self::before_partition_access) (`partition` `None`:
    /// [`before_access`](Self::before_access)). The default runs the synchronous hook; a
    /// listener that waits on the network (Redis) overrides it so that no thread is held while
    /// it waits.
    fn before_access_async<'a>(
        &'a self,
        cache: &'a TokenCache,
        partition: Option<&'a str>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            match partition {
                Some(p) => self.before_partition_access(cache, Some(p)),
                None => self.before_access(cache),
            }
        })
    }

    /// What the applications' async token operations call instead of
    /// [`after_access`](Self::after_access); the default runs the synchronous hook. (An
    /// operation cancelled before its end still gets the synchronous `after_access`.)
    fn after_access_async<'a>(
        &'a self,
        cache: &'a TokenCache,
        has_state_changed: bool,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move { self.after_access(cache, has_state_changed) })
    }
}

#[derive(Default)]
///
/// In declaration order (`repr(C)`): what every cache hit reads comes first, in the cache line
/// of the `Arc`'s counts.
#[repr(C)]
struct Shared {
    /// Moved on by every write (see [`TokenCache::version`]).
    version: AtomicU64,
    /// Whether `listener` holds one: read without its lock on every token operation.
    listening: AtomicBool,
    changed: AtomicBool,
    /// The size of the last `serialize` output, to allocate the next one at once.
    last_size: AtomicUsize,
    listener: RwLock<Option<Arc<dyn CacheListener>>>,
    store: RwLock<Store>,
}

/// The token cache: MSAL's unified schema in memory, indexed, serializable to MSAL Python's JSON.
///
/// Cloning is cheap and shares the same cache. Reads run concurrently; writes take an exclusive
/// lock for the few microseconds they need. A poisoned lock is recovered (every write leaves the
/// indexes consistent before it can panic).
///
/// Share one cache between applications, or keep it in a file MSAL Python reads too
/// ([`persistence`](crate::persistence)); its JSON is MSAL's:
///
/// ```
/// use entra_msal::{ConfidentialClientApplication, TokenCache};
///
/// let cache = TokenCache::new();
/// let app = ConfidentialClientApplication::builder("11111111-2222-3333-4444-555555555555")
///     .authority("https://login.microsoftonline.com/contoso.onmicrosoft.com")
///     .client_secret("a secret")
///     .token_cache(cache.clone()) // the same cache, not a copy
///     .build()?;
/// # drop(app);
/// let json = cache.serialize(); // what MSAL Python's SerializableTokenCache writes
/// let restored = TokenCache::new();
/// restored.deserialize(&json)?;
/// assert_eq!(restored.serialize(), json);
/// # Ok::<(), entra_msal::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct TokenCache {
    shared: Arc<Shared>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let store = self.read();
        f.debug_struct("TokenCache")
            .field("access_tokens", &store.access_tokens.len())
            .field("refresh_tokens", &store.refresh_tokens.len())
            .field("id_tokens", &store.id_tokens.len())
            .field("accounts", &store.accounts.len())
            .field("has_state_changed", &self.has_state_changed())
            .finish()
    }
}

impl TokenCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.shared
            .store
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The store for writing; every write moves [`version`](Self::version) on.
    fn write(&self) -> RwLockWriteGuard<'_, Store> {
        let store = self
            .shared
            .store
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Under the write lock: a reader that holds the read lock sees the version of what it
        // reads.
        self.shared.version.fetch_add(1, Ordering::Relaxed);
        store
    }

    /// Starts loading the cache's own state (its lock, version and the store's tables, not the
    /// entries): see [`prefetch`](fn@super::prefetch).
    pub(crate) fn prefetch(&self) {
        super::prefetch(&*self.shared);
    }

    /// A number that changes whenever the contents may have changed (any write, `deserialize`
    /// included): what was computed from the cache at one version is still right at that
    /// version.
    pub(crate) fn version(&self) -> u64 {
        let _store = self.read();
        self.shared.version.load(Ordering::Relaxed)
    }

    fn mark_changed(&self) {
        self.shared.changed.store(true, Ordering::Release);
    }

    /// The cache as JSON that MSAL Python's `SerializableTokenCache.deserialize` reads (and
    /// MSAL .NET, Java, Go, Node read the same unified schema). Unknown data read earlier is
    /// written back. Like MSAL Python, this clears [`has_state_changed`](Self::has_state_changed).
    ///
    /// Each entry's text is remembered from the first serialization after the entry changed,
    /// and copied by the next ones (a persisted cache is written after every change, and most
    /// of its entries did not change); a serialized cache therefore holds its data twice.
    pub fn serialize(&self) -> String {
        let store = self.read();
        self.shared.changed.store(false, Ordering::Release);
        let hint = self.shared.last_size.load(Ordering::Relaxed);
        let json = to_json(&store, hint + hint / 8);
        self.shared.last_size.store(json.len(), Ordering::Relaxed);
        json
    }

    /// Replaces the contents with a serialized cache (from [`serialize`](Self::serialize), MSAL
    /// Python, or another MSAL) and clears [`has_state_changed`](Self::has_state_changed). An
    /// empty text is an empty cache.
    ///
    /// # Errors
    /// [`Error::Cache`] when the text is not a JSON object; the cache is then left unchanged.
    pub fn deserialize(&self, json: &str) -> Result<(), Error> {
        let parsed = from_json(json).map_err(|e| {
            Error::cache(format!(
                "{e}; the in-memory cache was left unchanged (delete or repair the cache file)"
            ))
        })?;
        let mut store = self.write();
        *store = parsed;
        self.shared.changed.store(false, Ordering::Release);
        self.shared.last_size.store(json.len(), Ordering::Relaxed);
        Ok(())
    }

    /// Replaces the contents with `merge(current JSON)` while holding the cache's write lock,
    /// so no concurrent `add` falls between the read and the replacement; returns the new
    /// contents serialized. Does not touch [`has_state_changed`](Self::has_state_changed).
    /// For the persistent listeners' three-way merges.
    pub(crate) fn replace_with(
        &self,
        merge: impl FnOnce(&str) -> Result<String, Error>,
    ) -> Result<String, Error> {
        let mut store = self.write();
        let hint = self.shared.last_size.load(Ordering::Relaxed);
        let current = to_json(&store, hint + hint / 8);
        let next = merge(&current)?;
        *store = from_json(&next).map_err(Error::cache)?;
        let json = to_json(&store, next.len() + next.len() / 8);
        self.shared.last_size.store(json.len(), Ordering::Relaxed);
        Ok(json)
    }

    /// The cache as [`serialize`](Self::serialize) writes it, leaving
    /// [`has_state_changed`](Self::has_state_changed) as it is (for persistence writes).
    ///
    /// Written into `buffer`, whose allocation is reused: a persisted cache is written after
    /// every change, and a fresh half-megabyte buffer each time costs page faults.
    pub(crate) fn to_json_snapshot_into(&self, buffer: String) -> String {
        let store = self.read();
        let hint = self.shared.last_size.load(Ordering::Relaxed);
        let json = to_json_into(&store, buffer, hint + hint / 8);
        self.shared.last_size.store(json.len(), Ordering::Relaxed);
        json
    }

    /// `json` (a serialized cache) as [`serialize`](Self::serialize) would write it after
    /// [`deserialize`](Self::deserialize): the form merges compare entries in.
    pub(crate) fn normalize(json: &str) -> Result<String, Error> {
        let store = from_json(json).map_err(Error::cache)?;
        Ok(to_json(&store, json.len() + json.len() / 8))
    }

    /// Whether anything was written since the last `serialize`, `deserialize` or
    /// `after_access`. Every `add` counts, even one that changes nothing (as in MSAL Python).
    pub fn has_state_changed(&self) -> bool {
        self.shared.changed.load(Ordering::Acquire)
    }

    /// Sets (or removes) the persistence hooks.
    pub fn set_listener(&self, listener: Option<Arc<dyn CacheListener>>) {
        let mut slot = self
            .shared
            .listener
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.shared
            .listening
            .store(listener.is_some(), Ordering::Release);
        *slot = listener;
    }

    fn listener(&self) -> Option<Arc<dyn CacheListener>> {
        if !self.shared.listening.load(Ordering::Acquire) {
            return None;
        }
        self.shared
            .listener
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Calls the listener's `before_access`, if any.
    pub(crate) fn before_access(&self) {
        if let Some(listener) = self.listener() {
            listener.before_access(self);
        }
    }

    /// Calls the listener's `before_partition_access`, if any: the operation needs
    /// `partition` (see [`CacheListener::before_partition_access`]).
    pub(crate) fn before_partition_access(&self, partition: Option<&str>) {
        if let Some(listener) = self.listener() {
            listener.before_partition_access(self, partition);
        }
    }

    /// Calls the listener's `after_access` with [`has_state_changed`](Self::has_state_changed),
    /// then clears the flag.
    pub(crate) fn after_access(&self) {
        if let Some(listener) = self.listener() {
            listener.after_access(self, self.has_state_changed());
        }
        self.shared.changed.store(false, Ordering::Release);
    }

    /// Awaits the listener's [`before_access_async`](CacheListener::before_access_async), if
    /// any (`partition` `None`: the whole cache).
    pub(crate) async fn before_access_async(&self, partition: Option<&str>) {
        if let Some(listener) = self.listener() {
            listener.before_access_async(self, partition).await;
        }
    }

    /// Awaits the listener's [`after_access_async`](CacheListener::after_access_async) with
    /// [`has_state_changed`](Self::has_state_changed), then clears the flag.
    pub(crate) async fn after_access_async(&self) {
        if let Some(listener) = self.listener() {
            listener
                .after_access_async(self, self.has_state_changed())
                .await;
        }
        self.shared.changed.store(false, Ordering::Release);
    }

    /// Files the tokens of one successful token response, like MSAL Python's `TokenCache.add`:
    /// an AccessToken when the response has `access_token`, an Account when the user is known
    /// (from `client_info`, else the ID token's `sub`) unless `skip_account_creation`, an
    /// IdToken when it has `id_token`, a RefreshToken when it has `refresh_token`, and always the
    /// AppMetadata. Each replaces the entry under the same key.
    ///
    /// # Errors
    /// [`Error::Cache`] when the response is malformed (not an object, a non-numeric
    /// `expires_in`, an undecodable `client_info` or ID token); nothing is written then.
    pub(crate) fn add(&self, event: &TokenEvent<'_>) -> Result<(), Error> {
        self.apply(entities_from_event(event)?, |_| ());
        Ok(())
    }

    /// [`add`](Self::add) for a response already decoded (an application's token response, a
    /// broker's result): the same entities, without a JSON detour. `shape` sees them just
    /// before they are filed (to make the caller's result from exactly what the cache holds,
    /// without copying the entries); it may take the ID token's claims, which are not filed.
    pub(crate) fn file<R>(
        &self,
        filing: &Filing<'_>,
        tokens: &Tokens<'_>,
        shape: impl FnOnce(&mut Entities<'_>) -> R,
    ) -> Result<R, Error> {
        Ok(self.apply(entities(filing, tokens)?, shape))
    }

    fn apply<R>(
        &self,
        mut entities: Entities<'_>,
        shape: impl FnOnce(&mut Entities<'_>) -> R,
    ) -> R {
        let shaped = shape(&mut entities);
        // By reference: the entities are taken out one by one, never moved whole.
        self.write().apply(&mut entities);
        self.mark_changed();
        shaped
    }

    /// The best unexpired access token of the query's partition whose target holds every
    /// requested scope (case-insensitively): one whose scopes are exactly the requested ones,
    /// else the one that expires last. Tokens with `expires_on <= now` are never returned (and
    /// never removed). The 5-minute safety margin is the caller's business.
    pub(crate) fn find_access_token(&self, query: &AccessTokenQuery<'_>) -> Option<AccessToken> {
        self.with_access_token(query, AccessToken::clone)
    }

    /// [`find_access_token`](Self::find_access_token) without copying the entry: `f` reads it
    /// under the cache's read lock (it must not call back into the cache).
    pub(crate) fn with_access_token<R>(
        &self,
        query: &AccessTokenQuery<'_>,
        f: impl FnOnce(&AccessToken) -> R,
    ) -> Option<R> {
        self.read().find_access_token(query).map(f)
    }

    /// [`with_access_token`](Self::with_access_token) in the partition whose index key is
    /// `partition_key` (see `store::app_partition_key`).
    pub(crate) fn with_access_token_in<R>(
        &self,
        partition_key: &str,
        scopes: &[String],
        now: i64,
        f: impl FnOnce(&AccessToken) -> R,
    ) -> Option<R> {
        self.read()
            .find_access_token_in(partition_key, scopes, now)
            .map(f)
    }

    /// [`with_access_token_in`](Self::with_access_token_in) for scopes already in the cache's
    /// form (`normalize_scopes`: lowercased, sorted, de-duplicated), e.g. prepared once per
    /// application and scope list; a miss says whether the scopes' tokens had expired.
    pub(crate) fn with_access_token_normalized<R>(
        &self,
        partition_key: &str,
        normalized_scopes: &[String],
        now: i64,
        f: impl FnOnce(&AccessToken) -> R,
    ) -> Lookup<R> {
        self.read()
            .find_access_token_normalized(partition_key, normalized_scopes, now)
            .map(f)
    }

    /// Whether a listener is attached (one may want to know the partition an operation needs).
    pub(crate) fn has_listener(&self) -> bool {
        self.shared.listening.load(Ordering::Acquire)
    }

    /// The refresh tokens of one account in one environment, of the given app and/or family,
    /// newest `last_modification_time` first.
    pub(crate) fn find_refresh_tokens(&self, query: &RefreshTokenQuery<'_>) -> Vec<RefreshToken> {
        self.read().find_refresh_tokens(query)
    }

    /// Writes a rotated refresh token into the entry `old` was read from (MSAL's `update_rt`):
    /// its `secret` and `last_modification_time` change, everything else stays, even when the
    /// entry belongs to a sibling app of the family.
    pub(crate) fn update_refresh_token(&self, old: &RefreshToken, new_secret: &str, now: i64) {
        self.write().update_refresh_token(old, new_secret, now);
        self.mark_changed();
    }

    /// The app's metadata in `environment` (tells whether it belongs to a family).
    pub(crate) fn app_metadata(&self, environment: &str, client_id: &str) -> Option<AppMetadata> {
        self.read().app_metadata(environment, client_id).cloned()
    }

    /// Every account, sorted by cache key. Grouping by `home_account_id` is the caller's job.
    pub(crate) fn accounts(&self) -> Vec<AccountEntity> {
        self.read().accounts()
    }

    /// [`accounts`](Self::accounts) read in place: `f` gets them in the same order under the
    /// cache's read lock (it must not call back into the cache), with the cache's
    /// [`version`](Self::version) at the time.
    pub(crate) fn with_accounts_at_version<R>(
        &self,
        f: impl FnOnce(u64, &[&AccountEntity]) -> R,
    ) -> R {
        let store = self.read();
        f(
            self.shared.version.load(Ordering::Relaxed),
            &store.accounts_sorted(),
        )
    }

    /// The ID token of an account for one app and tenant.
    pub(crate) fn id_token(
        &self,
        home_account_id: &str,
        environment: &str,
        realm: &str,
        client_id: &str,
    ) -> Option<IdToken> {
        self.read()
            .id_token(home_account_id, environment, realm, client_id)
            .cloned()
    }

    /// Forgets an account in its environment, as MSAL's `remove_account`: its refresh tokens of
    /// this app or of `family_id`, all its access tokens (every app, every tenant, with or
    /// without an extended cache key), its ID tokens and its Account entries (every tenant).
    pub(crate) fn remove_account(
        &self,
        account: &AccountEntity,
        client_id: &str,
        family_id: Option<&str>,
    ) {
        if self.write().remove_account(account, client_id, family_id) {
            self.mark_changed();
        }
    }

    /// Removes this app's app-only access tokens (`home_account_id` null) in the given
    /// environments, every tenant and extended cache key included (MSAL's
    /// `remove_tokens_for_client`).
    pub(crate) fn remove_app_tokens(&self, client_id: &str, environments: &[String]) {
        if self.write().remove_app_tokens(client_id, environments) {
            self.mark_changed();
        }
    }

    /// Removes one kind of credential of one account and client (see
    /// [`Store::remove_credentials`]) and returns how many entries were removed. The caller
    /// brackets it with the listener's hooks.
    pub(crate) fn remove_credentials(
        &self,
        kind: CredentialKind,
        environment: &str,
        home_account_id: &str,
        client_id: &str,
    ) -> usize {
        let removed =
            self.write()
                .remove_credentials(kind, environment, home_account_id, client_id);
        if removed > 0 {
            self.mark_changed();
        }
        removed
    }

    /// The number of access tokens (entries of unknown shape excluded).
    pub(crate) fn len_access_tokens(&self) -> usize {
        self.read().access_tokens.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde_json::{Value, json};

    use super::*;

    /// MSAL Python's test helpers: an unsigned JWT and `client_info`, both standard base64
    /// with padding.
    fn build_id_token(claims: Value) -> String {
        let mut all = json!({"iss": "issuer", "sub": "subject", "aud": "my_client_id",
            "exp": 2_000_000_000, "iat": 1000});
        if let (Some(all), Value::Object(extra)) = (all.as_object_mut(), claims) {
            all.extend(extra);
        }
        format!("header.{}.signature", STANDARD.encode(all.to_string()))
    }

    fn client_info(uid: &str, utid: &str) -> String {
        STANDARD.encode(json!({"uid": uid, "utid": utid}).to_string())
    }

    fn scopes(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    struct Ev<'a> {
        environment: &'a str,
        realm: &'a str,
        client_id: &'a str,
        grant_type: &'a str,
        ext: Option<&'a str>,
        now: i64,
    }

    impl Default for Ev<'_> {
        fn default() -> Self {
            Self {
                environment: "login.example.com",
                realm: "contoso",
                client_id: "my_client_id",
                grant_type: "",
                ext: None,
                now: 1000,
            }
        }
    }

    fn add(cache: &TokenCache, ev: Ev<'_>, requested: &[&str], response: Value) {
        let requested = scopes(requested);
        cache
            .add(&TokenEvent {
                client_id: ev.client_id,
                environment: ev.environment,
                realm: ev.realm,
                requested_scopes: &requested,
                response: &response,
                grant_type: ev.grant_type,
                username: None,
                ext_cache_key: ev.ext,
                skip_account_creation: false,
                now: ev.now,
            })
            .unwrap();
    }

    fn json_of(cache: &TokenCache) -> Value {
        serde_json::from_str(&cache.serialize()).unwrap()
    }

    fn at_query<'a>(s: &'a [String], hid: Option<&'a str>, now: i64) -> AccessTokenQuery<'a> {
        AccessTokenQuery {
            client_id: "my_client_id",
            environment: "login.example.com",
            realm: "contoso",
            home_account_id: hid,
            scopes: s,
            ext_cache_key: None,
            key_id: None,
            now,
        }
    }

    /// A serialization remembers each entry's text (see `store::EntryJson`); every way an entry
    /// changes must show in the next one, exactly as a cache that never serialized writes it.
    #[test]
    fn remembered_entry_texts_follow_every_change() {
        let user = |at: &str, rt: &str, name: &str| {
            let id_token = build_id_token(json!({"oid": "object1234", "preferred_username": name}));
            json!({"client_info": client_info("uid", "utid"), "access_token": at,
                "expires_in": 3600, "id_token": id_token, "refresh_token": rt})
        };
        let cache = TokenCache::new();
        add(&cache, Ev::default(), &["s1"], user("at-1", "rt-1", "Ann"));
        add(&cache, Ev::default(), &["s2"], user("at-2", "rt-1", "Ann"));
        let first = json_of(&cache);
        assert_eq!(
            cache.serialize(),
            cache.serialize(),
            "a repeat writes the same"
        );

        // The same key, a new secret (a renewed token takes its predecessor's slot).
        add(
            &cache,
            Ev::default(),
            &["s1"],
            user("at-3", "rt-1", "Ann Smith"),
        );
        let doc = json_of(&cache);
        let at_key = "uid.utid-login.example.com-accesstoken-my_client_id-contoso-s1";
        assert_eq!(first["AccessToken"][at_key]["secret"], "at-1");
        assert_eq!(doc["AccessToken"][at_key]["secret"], "at-3");
        assert_eq!(
            doc["Account"]["uid.utid-login.example.com-contoso"]["username"],
            "Ann Smith"
        );

        // A refresh token rotated in place.
        let rt = cache
            .find_refresh_tokens(&RefreshTokenQuery {
                environment: "login.example.com",
                home_account_id: "uid.utid",
                client_id: Some("my_client_id"),
                family_id: None,
            })
            .remove(0);
        cache.update_refresh_token(&rt, "rt-2", 2000);
        let doc = json_of(&cache);
        // Both entries (one per target) held the old secret.
        let rts: Vec<&Value> = doc["RefreshToken"].as_object().unwrap().values().collect();
        assert_eq!(rts.len(), 2);
        for rt in rts {
            assert_eq!(rt["secret"], "rt-2");
            assert_eq!(rt["last_modification_time"], "2000");
        }

        // Removed entries are gone.
        let account = cache.read().accounts().remove(0);
        cache.remove_account(&account, "my_client_id", None);
        let doc = json_of(&cache);
        assert_eq!(doc["AccessToken"], json!({}));
        assert_eq!(doc["RefreshToken"], json!({}));

        // And every text equals the one a fresh read of the same data writes.
        add(&cache, Ev::default(), &["s3"], user("at-4", "rt-3", "Bo"));
        let text = cache.serialize();
        let fresh = TokenCache::new();
        fresh.deserialize(&text).unwrap();
        assert_eq!(fresh.serialize(), text);
    }

    /// MSAL Python's `testAddByAad`.
    #[test]
    fn add_by_aad() {
        let cache = TokenCache::new();
        let id_token =
            build_id_token(json!({"oid": "object1234", "preferred_username": "John Doe"}));
        add(
            &cache,
            Ev::default(),
            &["s2", "s1", "s3"],
            json!({"client_info": client_info("uid", "utid"), "access_token": "an access token",
                "expires_in": 3600, "token_type": "some type", "id_token": id_token,
                "refresh_token": "a refresh token"}),
        );
        let doc = json_of(&cache);
        assert_eq!(
            doc["AccessToken"]["uid.utid-login.example.com-accesstoken-my_client_id-contoso-s1 s2 s3"],
            json!({"cached_at": "1000", "client_id": "my_client_id",
                "credential_type": "AccessToken", "environment": "login.example.com",
                "expires_on": "4600", "extended_expires_on": "4600",
                "home_account_id": "uid.utid", "realm": "contoso",
                "secret": "an access token", "target": "s1 s2 s3", "token_type": "some type"})
        );
        assert_eq!(
            doc["RefreshToken"]["uid.utid-login.example.com-refreshtoken-my_client_id--s1 s2 s3"],
            json!({"client_id": "my_client_id", "credential_type": "RefreshToken",
                "environment": "login.example.com", "home_account_id": "uid.utid",
                "last_modification_time": "1000", "secret": "a refresh token",
                "target": "s1 s2 s3"})
        );
        assert_eq!(
            doc["Account"]["uid.utid-login.example.com-contoso"],
            json!({"home_account_id": "uid.utid", "environment": "login.example.com",
                "realm": "contoso", "local_account_id": "object1234", "username": "John Doe",
                "authority_type": "MSSTS"})
        );
        assert_eq!(
            doc["IdToken"]["uid.utid-login.example.com-idtoken-my_client_id-contoso-"],
            json!({"credential_type": "IdToken", "secret": id_token,
                "home_account_id": "uid.utid", "environment": "login.example.com",
                "realm": "contoso", "client_id": "my_client_id"})
        );
        assert_eq!(
            doc["AppMetadata"]["appmetadata-login.example.com-my_client_id"],
            json!({"client_id": "my_client_id", "environment": "login.example.com"})
        );
        for section in [
            "AccessToken",
            "RefreshToken",
            "Account",
            "IdToken",
            "AppMetadata",
        ] {
            assert_eq!(
                doc[section].as_object().map(|m| m.len()),
                Some(1),
                "{section}"
            );
        }
        // And the same through the typed API.
        let s = scopes(&["s3", "s1"]);
        let at = cache
            .find_access_token(&at_query(&s, Some("uid.utid"), 1000))
            .unwrap();
        assert_eq!((&*at.secret, at.expires_on), ("an access token", 4600));
        let idt = cache
            .id_token("uid.utid", "login.example.com", "contoso", "my_client_id")
            .unwrap();
        assert_eq!(idt.secret, id_token);
        assert_eq!(cache.accounts().len(), 1);
        assert_eq!(
            cache
                .app_metadata("login.example.com", "my_client_id")
                .unwrap()
                .family_id,
            None
        );
    }

    /// MSAL Python's `testAddByAdfs`: no client_info, so the ID token's `sub` is the account.
    #[test]
    fn add_by_adfs() {
        let cache = TokenCache::new();
        let id_token = build_id_token(json!({"upn": "JaneDoe@example.com"}));
        add(
            &cache,
            Ev {
                environment: "fs.msidlab8.com",
                realm: "adfs",
                ..Ev::default()
            },
            &["s2", "s1", "s3"],
            json!({"access_token": "an access token", "expires_in": 3600,
                "token_type": "some type", "id_token": id_token,
                "refresh_token": "a refresh token"}),
        );
        let doc = json_of(&cache);
        assert_eq!(
            doc["AccessToken"]["subject-fs.msidlab8.com-accesstoken-my_client_id-adfs-s1 s2 s3"],
            json!({"cached_at": "1000", "client_id": "my_client_id",
                "credential_type": "AccessToken", "environment": "fs.msidlab8.com",
                "expires_on": "4600", "extended_expires_on": "4600",
                "home_account_id": "subject", "realm": "adfs", "secret": "an access token",
                "target": "s1 s2 s3", "token_type": "some type"})
        );
        assert_eq!(
            doc["RefreshToken"]["subject-fs.msidlab8.com-refreshtoken-my_client_id--s1 s2 s3"],
            json!({"client_id": "my_client_id", "credential_type": "RefreshToken",
                "environment": "fs.msidlab8.com", "home_account_id": "subject",
                "last_modification_time": "1000", "secret": "a refresh token",
                "target": "s1 s2 s3"})
        );
        assert_eq!(
            doc["Account"]["subject-fs.msidlab8.com-adfs"],
            json!({"home_account_id": "subject", "environment": "fs.msidlab8.com",
                "realm": "adfs", "local_account_id": "subject",
                "username": "JaneDoe@example.com", "authority_type": "ADFS"})
        );
        assert_eq!(
            doc["IdToken"]["subject-fs.msidlab8.com-idtoken-my_client_id-adfs-"],
            json!({"credential_type": "IdToken", "secret": id_token,
                "home_account_id": "subject", "environment": "fs.msidlab8.com",
                "realm": "adfs", "client_id": "my_client_id"})
        );
        assert_eq!(
            doc["AppMetadata"]["appmetadata-fs.msidlab8.com-my_client_id"],
            json!({"client_id": "my_client_id", "environment": "fs.msidlab8.com"})
        );
    }

    /// The verified sample of the reference (§3.1): `/common`, `refresh_in`, `foci`,
    /// `ext_expires_in`, an authorization-code grant.
    #[test]
    fn add_common_sample_with_foci_and_refresh_in() {
        let cache = TokenCache::new();
        add(
            &cache,
            Ev {
                environment: "login.microsoftonline.com",
                realm: "common",
                client_id: "cid",
                grant_type: "authorization_code",
                ..Ev::default()
            },
            &["User.Read", "offline_access", "openid", "profile"],
            json!({"client_info": client_info("oid1", "tid1"), "access_token": "at",
                "token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 7200,
                "refresh_in": 1800, "foci": "1", "refresh_token": "rt",
                "scope": "User.Read profile openid offline_access",
                "id_token": build_id_token(json!({"oid": "oid1", "preferred_username": "a@contoso.com"}))}),
        );
        let doc = json_of(&cache);
        let at = &doc["AccessToken"]["oid1.tid1-login.microsoftonline.com-accesstoken-cid-common-user.read offline_access openid profile"];
        assert_eq!(at["target"], "User.Read offline_access openid profile");
        assert_eq!(
            (
                &at["cached_at"],
                &at["expires_on"],
                &at["extended_expires_on"],
                &at["refresh_on"]
            ),
            (
                &json!("1000"),
                &json!("4600"),
                &json!("8200"),
                &json!("2800")
            )
        );
        assert_eq!(
            doc["Account"]["oid1.tid1-login.microsoftonline.com-common"]["account_source"],
            "authorization_code"
        );
        let rt = &doc["RefreshToken"]["oid1.tid1-login.microsoftonline.com-refreshtoken-cid--user.read offline_access openid profile"];
        assert_eq!(
            (&rt["family_id"], &rt["last_modification_time"]),
            (&json!("1"), &json!("1000"))
        );
        assert_eq!(
            doc["AppMetadata"]["appmetadata-login.microsoftonline.com-cid"],
            json!({"client_id": "cid", "environment": "login.microsoftonline.com", "family_id": "1"})
        );
    }

    /// MSAL Python's `test_refresh_in_should_be_recorded_as_refresh_on`.
    #[test]
    fn refresh_in_is_recorded_as_refresh_on() {
        let cache = TokenCache::new();
        add(
            &cache,
            Ev::default(),
            &["s2", "s1", "s3"],
            json!({"client_info": client_info("uid", "utid"), "access_token": "an access token",
                "expires_in": 3600, "refresh_in": 1800}),
        );
        let s = scopes(&["s2", "s1", "s3"]);
        let at = cache
            .find_access_token(&at_query(&s, Some("uid.utid"), 1000))
            .unwrap();
        assert_eq!(at.refresh_on, Some(2800));
        assert_eq!(
            json_of(&cache)["AccessToken"]
                .as_object()
                .unwrap()
                .values()
                .next()
                .unwrap()["refresh_on"],
            "2800"
        );
    }

    /// Renewing the entry under a token's key in place (the usual filing) writes exactly the
    /// entry a first filing writes: the old entry's unknown fields and `key_id` are gone, as in
    /// MSAL Python, whose `modify` replaces the entry. So is an app metadata entry with unknown
    /// fields; an equal one stays.
    #[test]
    fn a_renewed_entry_is_the_entry_a_first_filing_writes() {
        let response = || {
            json!({"client_info": client_info("uid", "utid"), "access_token": "new",
                "expires_in": 3600, "ext_expires_in": 7200, "scope": "s1"})
        };
        let fresh = TokenCache::new();
        add(&fresh, Ev::default(), &["s1"], response());
        let expected: Value = serde_json::from_str(&fresh.serialize()).unwrap();
        let first_key = |section: &str| {
            let entries = expected[section].as_object().unwrap();
            assert_eq!(entries.len(), 1, "{section}");
            entries.keys().next().unwrap().clone()
        };
        let (at_key, md_key) = (first_key("AccessToken"), first_key("AppMetadata"));

        let mut older = expected.clone();
        let at = older["AccessToken"][&at_key].as_object_mut().unwrap();
        for (name, value) in [
            ("secret", "old"),
            ("cached_at", "1"),
            ("expires_on", "2"),
            ("refresh_on", "3"),
            ("key_id", "k"),
            ("unknown", "kept until renewed"),
        ] {
            at.insert(name.into(), json!(value));
        }
        older["AppMetadata"][&md_key]["unknown"] = json!("kept until replaced");
        let renewed = TokenCache::new();
        renewed.deserialize(&older.to_string()).unwrap();
        add(&renewed, Ev::default(), &["s1"], response());
        let got: Value = serde_json::from_str(&renewed.serialize()).unwrap();
        assert_eq!(got["AccessToken"], expected["AccessToken"]);
        assert_eq!(got["AppMetadata"], expected["AppMetadata"]);

        // Filed again over an equal app metadata entry: still the same JSON.
        add(&renewed, Ev::default(), &["s1"], response());
        let again: Value = serde_json::from_str(&renewed.serialize()).unwrap();
        assert_eq!(again, got);
    }

    /// MSAL Python 1.39 (`test_access_tokens_with_different_key_id`): `key_id` is not part of the
    /// key, so the newer token replaces the older one.
    #[test]
    fn key_id_is_not_part_of_the_key() {
        let cache = TokenCache::new();
        let key = "uid.utid-login.example.com-accesstoken-my_client_id-contoso-s1 s2 s3";
        let entry = |key_id: &str, secret: &str| {
            json!({"credential_type": "AccessToken", "secret": secret,
                "home_account_id": "uid.utid", "environment": "login.example.com",
                "client_id": "my_client_id", "target": "s1 s2 s3", "realm": "contoso",
                "expires_on": "4600", "key_id": key_id})
        };
        cache
            .deserialize(&json!({"AccessToken": {key: entry("1", "first")}}).to_string())
            .unwrap();
        let keyed = |key_id| AccessTokenQuery {
            key_id,
            ..at_query(&[], Some("uid.utid"), 1000)
        };
        // A token bound to a key is found only by its key_id (a bearer query never sees it).
        assert!(cache.find_access_token(&keyed(None)).is_none());
        assert!(cache.find_access_token(&keyed(Some("2"))).is_none());
        let at = cache.find_access_token(&keyed(Some("1"))).unwrap();
        assert_eq!(at.key_id.as_deref(), Some("1"));
        let mut second = at.clone();
        second.key_id = Some("2".into());
        assert_eq!(at.key(), second.key());
        add(
            &cache,
            Ev::default(),
            &["s2", "s1", "s3"],
            json!({"client_info": client_info("uid", "utid"), "access_token": "second",
                "expires_in": 3600}),
        );
        assert_eq!(cache.len_access_tokens(), 1);
        let at = cache
            .find_access_token(&at_query(&scopes(&["s1"]), Some("uid.utid"), 1000))
            .unwrap();
        assert_eq!(&*at.secret, "second");
    }

    /// MSAL Python's `SerializableTokenCacheTestCase`, and more kinds of unknown data.
    #[test]
    fn unknown_data_survives_a_round_trip() {
        let cache = TokenCache::new();
        let original = json!({
            "AccessToken": {
                "an-entry": {"foo": "bar"},
                "a-string-entry": "whatever",
                "pop": {"credential_type": "AccessToken_With_AuthScheme", "secret": "s",
                    "home_account_id": "h", "environment": "e", "client_id": "c",
                    "target": "t", "realm": "r", "expires_on": "9999999999"},
                "h-e-accesstoken-c-r-t": {"credential_type": "AccessToken", "secret": "s",
                    "home_account_id": "h", "environment": "e", "client_id": "c",
                    "target": "t", "realm": "r", "cached_at": "1", "expires_on": "9999999999",
                    "extended_expires_on": "9999999999", "token_type": "Bearer",
                    "unknown_field": {"deep": [1, 2.5, null, true]}}
            },
            "AppMetadata": "not even an object",
            "Account": {"odd": [1, 2]},
            "customized": "whatever",
            "nested": {"a": {"b": [null]}}
        });
        cache.deserialize(&original.to_string()).unwrap();
        assert_eq!(cache.len_access_tokens(), 1);
        assert!(cache.accounts().is_empty());
        let out = json_of(&cache);
        for (key, value) in original.as_object().unwrap() {
            assert_eq!(&out[key], value, "{key}");
        }
        assert_eq!(out["RefreshToken"], json!({}));
        assert_eq!(out["IdToken"], json!({}));
        // The PoP token is kept but never used as a bearer token.
        let q = AccessTokenQuery {
            client_id: "c",
            environment: "e",
            realm: "r",
            home_account_id: Some("h"),
            scopes: &scopes(&["t"]),
            ext_cache_key: None,
            key_id: None,
            now: 0,
        };
        assert_eq!(cache.find_access_token(&q).unwrap().secret.as_ref(), "s");

        // Adding an app-metadata entry replaces the non-object section.
        add(&cache, Ev::default(), &["x"], json!({}));
        let out = json_of(&cache);
        assert!(out["AppMetadata"]["appmetadata-login.example.com-my_client_id"].is_object());
        assert_eq!(out["customized"], "whatever");
    }

    #[test]
    fn malformed_json_is_an_error_and_leaves_the_cache_unchanged() {
        let cache = TokenCache::new();
        add(
            &cache,
            Ev::default(),
            &["s1"],
            json!({"access_token": "at", "expires_in": 3600}),
        );
        let before = cache.serialize();
        add(
            &cache,
            Ev::default(),
            &["s1"],
            json!({"access_token": "at", "expires_in": 3600}),
        );
        assert!(cache.has_state_changed());
        for bad in [
            "{",
            "[1, 2]",
            "null",
            "\"text\"",
            "{} trailing",
            "{\"AccessToken\": {\"k\": {\"secret\": }}}",
            "{\"AccessToken\": {\"k\": {\"secret\": \"\\ud800\"}}}x",
        ] {
            let err = cache.deserialize(bad).unwrap_err();
            assert!(matches!(err, Error::Cache { .. }), "{bad}");
            assert!(
                cache.has_state_changed(),
                "a failed deserialize changes nothing"
            );
        }
        assert_eq!(cache.serialize(), before);
        assert_eq!(cache.len_access_tokens(), 1);
        // An empty text is an empty cache (MSAL Python's `deserialize("")`).
        cache.deserialize("").unwrap();
        assert_eq!(cache.len_access_tokens(), 0);
    }

    #[test]
    fn expired_tokens_are_never_returned_nor_removed() {
        let cache = TokenCache::new();
        add(
            &cache,
            Ev::default(),
            &["s1"],
            json!({"access_token": "at", "expires_in": 100}),
        );
        let s = scopes(&["s1"]);
        assert!(cache.find_access_token(&at_query(&s, None, 1099)).is_some());
        assert!(cache.find_access_token(&at_query(&s, None, 1100)).is_none());
        assert!(cache.find_access_token(&at_query(&s, None, 5000)).is_none());
        assert_eq!(cache.len_access_tokens(), 1);
        cache.serialize();
        assert!(cache.find_access_token(&at_query(&s, None, 5000)).is_none());
        assert!(!cache.has_state_changed(), "lookups never write");
    }

    #[test]
    fn matching_is_case_insensitive_everywhere() {
        let cache = TokenCache::new();
        add(
            &cache,
            Ev::default(),
            &[],
            json!({"access_token": "at", "expires_in": 3600, "scope": "Api://X/Read b",
                "client_info": client_info("Uid", "Utid")}),
        );
        for requested in [
            &["API://X/READ", "B"][..],
            &["api://x/read", "B"],
            &["b"],
            &["Api://X/Read b"],
        ] {
            let s = scopes(requested);
            let q = AccessTokenQuery {
                client_id: "MY_CLIENT_ID",
                environment: "LOGIN.example.COM",
                realm: "Contoso",
                home_account_id: Some("uid.utid"),
                scopes: &s,
                ext_cache_key: None,
                key_id: None,
                now: 1000,
            };
            assert!(cache.find_access_token(&q).is_some(), "{requested:?}");
        }
        let s = scopes(&["api://x/read", "c"]);
        assert!(
            cache
                .find_access_token(&at_query(&s, Some("uid.utid"), 1000))
                .is_none()
        );
        assert!(
            cache
                .id_token("UID.UTID", "login.example.com", "CONTOSO", "My_Client_Id")
                .is_none()
        );
        assert_eq!(
            cache
                .find_refresh_tokens(&RefreshTokenQuery {
                    environment: "Login.Example.Com",
                    home_account_id: "uid.utid",
                    client_id: Some("MY_client_id"),
                    family_id: None,
                })
                .len(),
            0,
            "no refresh token in this response"
        );
    }

    #[test]
    fn partitions_are_isolated() {
        let cache = TokenCache::new();
        let ext = ext_cache_key_of("agent-app-id");
        add(
            &cache,
            Ev {
                ext: Some(&ext),
                ..Ev::default()
            },
            &["s1"],
            json!({"access_token": "fmi", "expires_in": 3600}),
        );
        let s = scopes(&["s1"]);
        // An extended-key token never matches a query without one (or with another one).
        assert!(cache.find_access_token(&at_query(&s, None, 1000)).is_none());
        let mut q = at_query(&s, None, 1000);
        q.ext_cache_key = Some("something-else");
        assert!(cache.find_access_token(&q).is_none());
        q.ext_cache_key = Some(&ext);
        assert_eq!(cache.find_access_token(&q).unwrap().secret.as_ref(), "fmi");
        let doc = json_of(&cache);
        let key = format!("-login.example.com-atext-my_client_id-contoso-s1-{ext}");
        assert_eq!(doc["AccessToken"][&key]["ext_cache_key"], json!(ext));

        add(
            &cache,
            Ev::default(),
            &["s1"],
            json!({"access_token": "plain", "expires_in": 3600}),
        );
        assert_eq!(
            cache
                .find_access_token(&at_query(&s, None, 1000))
                .unwrap()
                .secret
                .as_ref(),
            "plain"
        );
        assert_eq!(cache.find_access_token(&q).unwrap().secret.as_ref(), "fmi");
        // App tokens are not user tokens, other realms and apps are other partitions.
        assert!(
            cache
                .find_access_token(&at_query(&s, Some("uid.utid"), 1000))
                .is_none()
        );
        let mut other = at_query(&s, None, 1000);
        other.realm = "fabrikam";
        assert!(cache.find_access_token(&other).is_none());
        other.realm = "contoso";
        other.client_id = "other";
        assert!(cache.find_access_token(&other).is_none());
    }

    fn ext_cache_key_of(fmi_path: &str) -> String {
        let params =
            std::collections::BTreeMap::from([("fmi_path".to_string(), fmi_path.to_string())]);
        super::super::ext_cache_key(&params).unwrap()
    }

    fn user_response(hid: (&str, &str), rt: &str, foci: Option<&str>) -> Value {
        let mut r = json!({"client_info": client_info(hid.0, hid.1), "access_token": "at",
            "expires_in": 3600, "refresh_token": rt,
            "id_token": build_id_token(json!({"oid": hid.0, "preferred_username": "u@x"}))});
        if let Some(f) = foci {
            r["foci"] = json!(f);
        }
        r
    }

    #[test]
    fn refresh_tokens_newest_first_by_app_or_family_and_updated_in_place() {
        let cache = TokenCache::new();
        let app = |client_id, now| Ev {
            client_id,
            now,
            grant_type: "authorization_code",
            ..Ev::default()
        };
        add(
            &cache,
            app("app-a", 1000),
            &["a"],
            user_response(("u", "t"), "rt-a", Some("1")),
        );
        add(
            &cache,
            app("app-b", 2000),
            &["b"],
            user_response(("u", "t"), "rt-b", Some("1")),
        );
        add(
            &cache,
            app("app-c", 3000),
            &["c"],
            user_response(("u", "t"), "rt-c", None),
        );
        add(
            &cache,
            app("app-a", 4000),
            &["a"],
            user_response(("other", "t"), "rt-other", None),
        );
        let q = |client_id, family_id| RefreshTokenQuery {
            environment: "login.example.com",
            home_account_id: "u.t",
            client_id,
            family_id,
        };
        let secrets =
            |rts: Vec<RefreshToken>| rts.into_iter().map(|r| r.secret).collect::<Vec<_>>();
        assert_eq!(
            secrets(cache.find_refresh_tokens(&q(None, Some("1")))),
            ["rt-b", "rt-a"]
        );
        assert_eq!(
            secrets(cache.find_refresh_tokens(&q(Some("app-c"), None))),
            ["rt-c"]
        );
        assert_eq!(
            secrets(cache.find_refresh_tokens(&q(None, None))),
            ["rt-c", "rt-b", "rt-a"]
        );

        // App A refreshes with the family token of app B: B's entry gets the new secret.
        cache.serialize();
        let family = cache.find_refresh_tokens(&q(None, Some("1")));
        cache.update_refresh_token(&family[0], "rt-b2", 5000);
        assert!(cache.has_state_changed());
        let after = cache.find_refresh_tokens(&q(None, Some("1")));
        assert_eq!(secrets(after.clone()), ["rt-b2", "rt-a"]);
        assert_eq!(
            (
                after[0].client_id.as_str(),
                after[0].last_modification_time()
            ),
            ("app-b", Some(5000))
        );
        assert_eq!(cache.find_refresh_tokens(&q(None, None)).len(), 3);
    }

    /// MSAL Python's `test_old_rt_data_with_wrong_key_should_still_be_salvaged_into_new_rt`.
    /// Here the entry is updated where it is, under its foreign key.
    #[test]
    fn refresh_token_under_a_foreign_key_is_updated() {
        let cache = TokenCache::new();
        let sample = json!({"client_id": "my_client_id", "credential_type": "RefreshToken",
            "environment": "login.example.com", "home_account_id": "uid.utid",
            "secret": "a refresh token", "target": "s2 s1 s3"});
        cache
            .deserialize(&json!({"RefreshToken": {"wrong-key": sample}}).to_string())
            .unwrap();
        let rts = cache.find_refresh_tokens(&RefreshTokenQuery {
            environment: "login.example.com",
            home_account_id: "uid.utid",
            client_id: Some("my_client_id"),
            family_id: None,
        });
        assert_eq!(rts.len(), 1);
        cache.update_refresh_token(&rts[0], "this is a new RT", 1234);
        let doc = json_of(&cache);
        let mut expected = sample.clone();
        expected["secret"] = json!("this is a new RT");
        expected["last_modification_time"] = json!("1234");
        assert_eq!(doc["RefreshToken"], json!({"wrong-key": expected}));

        // A token that is no longer in the cache is written under its MSAL key.
        let mut gone = rts[0].clone();
        gone.secret = "unknown".into();
        cache.update_refresh_token(&gone, "newer", 2000);
        let doc = json_of(&cache);
        assert_eq!(
            doc["RefreshToken"]["uid.utid-login.example.com-refreshtoken-my_client_id--s2 s1 s3"]["secret"],
            "newer"
        );
    }

    #[test]
    fn remove_account_follows_msal() {
        let cache = TokenCache::new();
        let ev = |client_id, realm| Ev {
            client_id,
            realm,
            grant_type: "authorization_code",
            ..Ev::default()
        };
        add(
            &cache,
            ev("app-a", "contoso"),
            &["a"],
            user_response(("u", "t"), "rt-a", Some("1")),
        );
        add(
            &cache,
            ev("app-a", "fabrikam"),
            &["a2"],
            user_response(("u", "t"), "rt-a2", Some("1")),
        );
        add(
            &cache,
            ev("app-b", "contoso"),
            &["b"],
            user_response(("u", "t"), "rt-b", Some("1")),
        );
        add(
            &cache,
            ev("app-c", "contoso"),
            &["c"],
            user_response(("u", "t"), "rt-c", None),
        );
        add(
            &cache,
            ev("app-a", "contoso"),
            &["a"],
            user_response(("v", "t"), "rt-v", None),
        );
        add(
            &cache,
            Ev {
                ext: Some("x"),
                ..ev("app-a", "contoso")
            },
            &["e"],
            user_response(("u", "t"), "rt-e", None),
        );
        add(
            &cache,
            ev("app-a", "contoso"),
            &["app"],
            json!({"access_token": "app", "expires_in": 3600}),
        );
        assert_eq!(cache.len_access_tokens(), 7);
        let account = cache
            .accounts()
            .into_iter()
            .find(|a| a.home_account_id == "u.t" && a.realm == "contoso")
            .unwrap();
        cache.serialize();
        cache.remove_account(&account, "app-a", Some("1"));
        assert!(cache.has_state_changed());
        // Every AT of u.t is gone (all apps, realms, ext keys); v.t and the app token stay.
        assert_eq!(cache.len_access_tokens(), 2);
        let rts: Vec<String> = cache
            .find_refresh_tokens(&RefreshTokenQuery {
                environment: "login.example.com",
                home_account_id: "u.t",
                client_id: None,
                family_id: None,
            })
            .into_iter()
            .map(|r| r.secret)
            .collect();
        assert_eq!(rts, ["rt-c"], "another app's non-family RT is kept");
        let accounts: Vec<(String, String)> = cache
            .accounts()
            .into_iter()
            .map(|a| (a.home_account_id, a.realm))
            .collect();
        assert_eq!(accounts, [("v.t".to_string(), "contoso".to_string())]);
        assert!(
            cache
                .id_token("u.t", "login.example.com", "contoso", "app-a")
                .is_none()
        );
        assert!(
            cache
                .id_token("v.t", "login.example.com", "contoso", "app-a")
                .is_some()
        );

        cache.serialize();
        cache.remove_account(&account, "app-a", Some("1"));
        assert!(!cache.has_state_changed(), "nothing left to remove");
    }

    #[test]
    fn remove_app_tokens_removes_only_app_tokens_of_that_client() {
        let cache = TokenCache::new();
        let ev = |client_id, environment, realm| Ev {
            client_id,
            environment,
            realm,
            ..Ev::default()
        };
        let at = || json!({"access_token": "at", "expires_in": 3600});
        add(&cache, ev("app", "login.example.com", "t1"), &["s"], at());
        add(&cache, ev("app", "login.example.com", "t2"), &["s"], at());
        add(
            &cache,
            Ev {
                ext: Some("k"),
                ..ev("app", "login.example.com", "t1")
            },
            &["s"],
            at(),
        );
        add(&cache, ev("app", "alias.example.com", "t1"), &["s"], at());
        add(
            &cache,
            ev("app", "elsewhere.example.com", "t1"),
            &["s"],
            at(),
        );
        add(&cache, ev("other", "login.example.com", "t1"), &["s"], at());
        add(
            &cache,
            ev("app", "login.example.com", "t1"),
            &["u"],
            user_response(("u", "t"), "rt", None),
        );
        assert_eq!(cache.len_access_tokens(), 7);
        cache.remove_app_tokens(
            "APP",
            &[
                "login.example.com".to_string(),
                "alias.example.com".to_string(),
            ],
        );
        assert_eq!(cache.len_access_tokens(), 3);
        let s = scopes(&["s"]);
        let mut q = at_query(&s, None, 1000);
        q.client_id = "other";
        q.realm = "t1";
        assert!(cache.find_access_token(&q).is_some());
    }

    #[derive(Default)]
    struct Recorder {
        calls: Mutex<Vec<String>>,
    }

    impl CacheListener for Recorder {
        fn before_access(&self, cache: &TokenCache) {
            self.calls
                .lock()
                .unwrap()
                .push(format!("before {}", cache.len_access_tokens()));
        }
        fn after_access(&self, cache: &TokenCache, has_state_changed: bool) {
            // A persistence layer serializes from here; the cache lock is not held.
            let _ = cache.serialize();
            self.calls
                .lock()
                .unwrap()
                .push(format!("after {has_state_changed}"));
        }
    }

    #[test]
    fn listener_sees_accesses_and_the_change_flag() {
        let cache = TokenCache::new();
        let recorder = Arc::new(Recorder::default());
        cache.set_listener(Some(recorder.clone()));
        cache.before_access();
        add(&cache, Ev::default(), &["s"], json!({"access_token": "at"}));
        cache.after_access();
        assert!(!cache.has_state_changed());
        cache.before_access();
        cache.after_access();
        cache.set_listener(None);
        cache.before_access();
        assert_eq!(
            *recorder.calls.lock().unwrap(),
            ["before 0", "after true", "before 1", "after false"]
        );
    }

    #[test]
    fn state_change_flag_follows_msal_python() {
        let cache = TokenCache::new();
        assert!(!cache.has_state_changed());
        add(&cache, Ev::default(), &[], json!({}));
        assert!(cache.has_state_changed(), "a no-op add still counts");
        cache.serialize();
        assert!(!cache.has_state_changed());
        add(&cache, Ev::default(), &[], json!({}));
        cache.deserialize("{}").unwrap();
        assert!(!cache.has_state_changed());
    }

    #[test]
    fn clones_share_the_cache_and_reads_run_concurrently() {
        let cache = TokenCache::new();
        for i in 0..50 {
            add(
                &cache,
                Ev::default(),
                &[&format!("scope_{i}")],
                json!({"access_token": "at"}),
            );
        }
        std::thread::scope(|s| {
            for t in 0..4 {
                let cache = cache.clone();
                s.spawn(move || {
                    for i in 0..50 {
                        let sc = scopes(&[&format!("SCOPE_{}", (i + t) % 50)]);
                        assert!(
                            cache
                                .find_access_token(&at_query(&sc, None, 1000))
                                .is_some()
                        );
                    }
                });
            }
        });
        assert!(format!("{cache:?}").contains("access_tokens: 50"));
    }
}
