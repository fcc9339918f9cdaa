//! The indexed in-memory cache.
//!
//! Entries are kept under the key they were read or written with, so a round trip never renames
//! anything. Lookups do not depend on keys, though: they go through indexes.
//!
//! - Access tokens are grouped into *partitions* (client id, environment, realm, home account id,
//!   extended cache key; all compared lowercased). Each partition has an inverted index from
//!   scope to tokens, so a lookup reads one partition and, in it, only the tokens that hold the
//!   requested scope with the fewest holders. A hit and a miss both cost O(1) in the number of
//!   tokens in the cache (O(k) in the number of tokens sharing every requested scope).
//! - Refresh tokens, ID tokens and accounts are indexed by account (environment, home account
//!   id), so FOCI lookups and `remove_account` read one account's entries only.
//! - Entries that do not fit the schema are kept verbatim (`raw`) and are never returned.

use std::collections::hash_map::Entry;
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};

use super::add::{Entities, NewAccessToken};
use super::hash::{FastMap, FastSet};
use super::key_index::KeyIndex;
use super::key_order::KeyOrder;
use super::keys;
use super::known_app_metadata::KnownAppMetadata;
use super::query::{AccessTokenQuery, RefreshTokenQuery};
use super::schema::{
    ACCESS_TOKEN, ACCOUNT, APP_METADATA, AccessToken, AccountEntity, AppMetadata, ID_TOKEN,
    IdToken, PlaceOutline, REFRESH_TOKEN, RefreshToken,
};
use super::scope_index::ScopeIndex;
use super::scopes::{TargetScopes, is_subset_of_text, items, lower, normalize};
use super::token_ids::TokenIds;

/// Separates the parts of an index key; it cannot appear in a host name or a client id.
const SEP: char = '\u{1f}';

fn index_key(parts: &[&str]) -> String {
    let mut key = String::new();
    keys::join_lower_into(&mut key, parts, SEP);
    key
}

/// The account an entry belongs to, as an index key.
fn account_slot(environment: &str, home_account_id: Option<&str>) -> String {
    index_key(&[environment, home_account_id.unwrap_or("")])
}

fn partition_key(
    client_id: &str,
    environment: &str,
    realm: &str,
    home_account_id: Option<&str>,
    ext_cache_key: Option<&str>,
) -> String {
    index_key(&[
        client_id,
        environment,
        realm,
        home_account_id.unwrap_or(""),
        ext_cache_key.unwrap_or(""),
    ])
}

/// The index key of the app-only tokens (no account, no extended cache key) of `client_id` in
/// `environment` and `realm`: an application computes it once and looks up with
/// [`Store::find_access_token_in`].
pub(crate) fn app_partition_key(client_id: &str, environment: &str, realm: &str) -> String {
    partition_key(client_id, environment, realm, None, None)
}

fn partition_of(at: &AccessToken) -> String {
    index_key(&partition_parts(at))
}

/// What [`partition_key`] joins, for `at`.
fn partition_parts(at: &AccessToken) -> [&str; 5] {
    [
        &at.client_id,
        &at.environment,
        &at.realm,
        at.home_account_id.as_deref().unwrap_or(""),
        at.ext_cache_key.as_deref().unwrap_or(""),
    ]
}

/// Case-insensitive equality, as the keys make it.
pub(crate) fn eq_ci(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        lower(a) == lower(b)
    }
}

fn opt_eq_ci(a: Option<&str>, b: Option<&str>) -> bool {
    eq_ci(a.unwrap_or(""), b.unwrap_or(""))
}

/// An entity filed under an account (comparable, so an equal replacement changes nothing).
pub(crate) trait Indexed: PartialEq {
    /// The account index key, if the entity belongs to an account.
    fn account_slot(&self) -> Option<String>;
}

impl Indexed for RefreshToken {
    fn account_slot(&self) -> Option<String> {
        Some(account_slot(
            &self.environment,
            self.home_account_id.as_deref(),
        ))
    }
}

impl Indexed for IdToken {
    fn account_slot(&self) -> Option<String> {
        Some(account_slot(
            &self.environment,
            self.home_account_id.as_deref(),
        ))
    }
}

impl Indexed for AccountEntity {
    fn account_slot(&self) -> Option<String> {
        Some(account_slot(&self.environment, Some(&self.home_account_id)))
    }
}

impl Indexed for AppMetadata {
    fn account_slot(&self) -> Option<String> {
        None
    }
}

/// A typed entry (with its remembered JSON, see [`Stored`]) or one kept verbatim.
pub(crate) enum EntryRef<'a, T> {
    Typed(&'a T, &'a EntryJson),
    Raw(&'a Value),
}

/// An entry's JSON as the cache's serialization writes it (`"key": value`, the key escaped),
/// made by the first serialization after the entry changed. A persisted cache is written whole
/// after every token operation, and most of its entries did not change: they are copied, not
/// written again. Every change of an entry replaces it with an empty one.
pub(crate) type EntryJson = OnceLock<Box<str>>;

/// A typed entry and its [`EntryJson`].
struct Stored<T> {
    value: T,
    json: EntryJson,
}

impl<T> Stored<T> {
    fn new(value: T) -> Self {
        Self {
            value,
            json: EntryJson::new(),
        }
    }
}

/// One top-level map (RefreshToken, IdToken, Account or AppMetadata).
pub(crate) struct Section<T> {
    entries: FastMap<String, Stored<T>>,
    raw: FastMap<String, Value>,
    by_account: FastMap<String, FastSet<String>>,
    /// See [`changes`](Self::changes).
    changes: u64,
}

impl<T> Default for Section<T> {
    fn default() -> Self {
        Self {
            entries: FastMap::default(),
            raw: FastMap::default(),
            by_account: FastMap::default(),
            changes: 0,
        }
    }
}

impl<T> Section<T> {
    /// How many times the section may have changed: [`insert`](Self::insert),
    /// [`insert_raw`](Self::insert_raw) and `remove` each count one, and so must any code that
    /// changes an entry in place. What was true of the section at one count is true while the
    /// count is the same.
    pub(crate) fn changes(&self) -> u64 {
        self.changes
    }
}

impl<T: Indexed> Section<T> {
    /// Files `entry` under `key`, replacing whatever was there. An equal entry (the app metadata
    /// and the account of every sign-in, say) leaves the stored one, and its remembered text,
    /// in place.
    pub(crate) fn insert(&mut self, key: String, entry: T) {
        self.changes += 1;
        if !self.raw.is_empty() {
            self.raw.remove(&key);
        }
        let slot = entry.account_slot();
        match self.entries.entry(key) {
            Entry::Occupied(occupied) if occupied.get().value == entry => {}
            Entry::Occupied(mut occupied) => {
                let old_slot = occupied.get().value.account_slot();
                if old_slot != slot {
                    let key = occupied.key().clone();
                    if let Some(old) = old_slot
                        && let Some(keys) = self.by_account.get_mut(&old)
                    {
                        keys.remove(&key);
                        if keys.is_empty() {
                            self.by_account.remove(&old);
                        }
                    }
                    if let Some(new) = slot {
                        self.by_account.entry(new).or_default().insert(key);
                    }
                }
                occupied.insert(Stored::new(entry));
            }
            Entry::Vacant(vacant) => {
                if let Some(new) = slot {
                    self.by_account
                        .entry(new)
                        .or_default()
                        .insert(vacant.key().clone());
                }
                vacant.insert(Stored::new(entry));
            }
        }
    }

    /// Makes room for `additional` entries.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional);
    }

    /// Keeps an entry of unknown shape under `key`.
    pub(crate) fn insert_raw(&mut self, key: String, value: Value) {
        self.changes += 1;
        self.remove(&key);
        self.raw.insert(key, value);
    }

    fn remove(&mut self, key: &str) -> Option<T> {
        self.changes += 1;
        let entry = self.entries.remove(key)?.value;
        if let Some(slot) = entry.account_slot()
            && let Some(keys) = self.by_account.get_mut(&slot)
        {
            keys.remove(key);
            if keys.is_empty() {
                self.by_account.remove(&slot);
            }
        }
        Some(entry)
    }

    fn get(&self, key: &str) -> Option<&T> {
        self.entries.get(key).map(|stored| &stored.value)
    }

    fn of_account<'a>(&'a self, slot: &str) -> impl Iterator<Item = (&'a String, &'a T)> + 'a {
        self.by_account
            .get(slot)
            .into_iter()
            .flatten()
            .filter_map(|k| {
                self.entries
                    .get_key_value(k)
                    .map(|(k, stored)| (k, &stored.value))
            })
    }

    fn keys_of_account(&self, slot: &str, mut keep: impl FnMut(&T) -> bool) -> Vec<String> {
        self.of_account(slot)
            .filter(|(_, e)| keep(e))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The number of typed entries.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// All entries, typed and verbatim, sorted by key.
    pub(crate) fn sorted(&self) -> Vec<(&str, EntryRef<'_, T>)> {
        let mut all: Vec<_> = self
            .entries
            .iter()
            .map(|(k, stored)| (k.as_str(), EntryRef::Typed(&stored.value, &stored.json)))
            .chain(self.raw.iter().map(|(k, v)| (k.as_str(), EntryRef::Raw(v))))
            .collect();
        all.sort_unstable_by(|a, b| a.0.cmp(b.0));
        all
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.raw.is_empty()
    }
}

struct Slot {
    /// The entry's key (its hash is in [`AccessTokens::by_key`]).
    key: Box<str>,
    token: AccessToken,
    json: EntryJson,
    /// The normalized scopes of `token.target` (see [`scopes`](Self::scopes)).
    scopes: TargetScopes,
    /// The token's place, when it is all lowercase and `key` was computed from it (not read
    /// from a file, which may hold any key): a renewal then compares outlines, not texts.
    outline: Option<PlaceOutline>,
}

impl Slot {
    /// The normalized scopes of the token, as text ([`items`] splits it).
    fn scopes(&self) -> &str {
        self.scopes.text(&self.token.target)
    }
}

struct Partition {
    /// Lowercased client id (for `remove_app_tokens`).
    client_id: String,
    /// How many tokens the partition holds.
    count: usize,
    /// The tokens without a scope, which `by_scope` does not list.
    unscoped: TokenIds,
    by_scope: ScopeIndex,
}

impl Partition {
    fn new(client_id: String) -> Self {
        Self {
            client_id,
            count: 0,
            unscoped: TokenIds::default(),
            by_scope: ScopeIndex::default(),
        }
    }

    /// Indexes token `id`, whose normalized scopes are `scopes` (a set's text).
    fn add(&mut self, id: usize, scopes: &str) {
        self.count += 1;
        let mut scoped = false;
        for scope in items(scopes) {
            scoped = true;
            self.by_scope.add(scope, id);
        }
        if !scoped {
            self.unscoped.push(id);
        }
    }

    /// Every token of the partition, in id order (a rare need: removals and lookups without
    /// scopes).
    fn ids(&self) -> Vec<usize> {
        let mut ids: Vec<usize> = self
            .by_scope
            .lists()
            .chain([&self.unscoped])
            .flat_map(|held| held.as_slice().iter().copied())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// The AccessToken map with its partition and scope indexes.
///
/// In declaration order (`repr(C)`): what a lookup and a renewal read first (see [`Store`]).
#[derive(Default)]
#[repr(C)]
pub(crate) struct AccessTokens {
    slots: Vec<Option<Slot>>,
    by_key: KeyIndex,
    partitions: FastMap<String, Partition>,
    raw: FastMap<String, Value>,
    /// A buffer for partition keys: a token filed into an existing partition allocates none.
    partition_buffer: String,
    free: Vec<usize>,
    /// Account slot → the partitions holding that account's tokens.
    by_account: FastMap<String, FastSet<String>>,
    /// The slots in key order, for serialization.
    order: KeyOrder,
    /// The app-only token renewed last (see [`LastAppToken`]).
    last_app_token: LastAppToken,
}

/// The app-only token an application renewed last, known without its key: the next token for
/// the same partition and target renews it in place, without its key being made, hashed and
/// compared again (across many applications taking turns, the key's table and texts are out
/// of the processor's caches).
struct LastAppToken {
    /// The partition's index key as the application passed it ([`Filing::app_partition`]):
    /// the application's own copy, made from its client id, environment and realm, which never
    /// change. It is held, so its address names that application and realm.
    ///
    /// [`Filing::app_partition`]: super::add::Filing::app_partition
    partition: Option<Arc<str>>,
    /// The token's target, letter for letter.
    target: String,
    /// Its slot; [`NO_SLOT`] while no token is known (after any change but a renewal: the
    /// partition and the target's buffer are kept for the next).
    id: usize,
}

/// [`LastAppToken::id`] when no token is known.
const NO_SLOT: usize = usize::MAX;

impl Default for LastAppToken {
    fn default() -> Self {
        Self {
            partition: None,
            target: String::new(),
            id: NO_SLOT,
        }
    }
}

impl AccessTokens {
    /// Files a token response's access token: renews the entry under its key in place when
    /// [`NewAccessToken::renews`] it, else files a new entry. `key` is a buffer for the key.
    pub(crate) fn file(&mut self, token: NewAccessToken<'_>, key: &mut String) {
        let known_partition = token.known_partition_key();
        // The same application's token for the same target as the last one renewed: the same
        // place (see `LastAppToken`).
        let last = &self.last_app_token;
        if last.id != NO_SLOT
            && let (Some(known), Some(last_partition)) = (known_partition, &last.partition)
            && Arc::ptr_eq(last_partition, known)
            && last.target == *token.target
            && let Some(slot) = self.slots.get_mut(last.id).and_then(Option::as_mut)
        {
            debug_assert!(token.renews(&slot.token), "the last app-only token's place");
            token.renew(&mut slot.token);
            slot.json = EntryJson::new();
            return;
        }
        let lowercase = token.key_into(key);
        let outline = lowercase.then(|| token.place().outline()).flatten();
        let hash = self.by_key.hash(key);
        let existing = self.id_of(key, hash);
        if let Some(id) = existing
            && let Some(slot) = self.slots.get_mut(id).and_then(Option::as_mut)
            // Equal computed keys and outlines: the same place, without reading its texts.
            && ((outline.is_some() && slot.outline == outline) || token.renews(&slot.token))
        {
            token.renew(&mut slot.token);
            slot.json = EntryJson::new();
            // The key was computed from this very place.
            slot.outline = outline;
            self.remember_app_token(known_partition, id);
            return;
        }
        let token = token.into_entity();
        // A new entry is not remembered: filling a cache with new tokens would pay for it
        // every time, and a token renewed once is the one likely to be renewed again.
        self.insert_at(
            key,
            hash,
            existing,
            token,
            outline,
            known_partition.map(|k| &**k),
        );
    }

    /// Remembers slot `id`, just renewed, as the last app-only token of `partition` (see
    /// [`LastAppToken`]); a token of no known partition forgets it.
    fn remember_app_token(&mut self, partition: Option<&Arc<str>>, id: usize) {
        let slot = self.slots.get(id).and_then(Option::as_ref);
        let last = &mut self.last_app_token;
        let (Some(partition), Some(slot)) = (partition, slot) else {
            last.id = NO_SLOT;
            return;
        };
        if !last
            .partition
            .as_ref()
            .is_some_and(|p| Arc::ptr_eq(p, partition))
        {
            last.partition = Some(partition.clone());
        }
        slot.token.target.clone_into(&mut last.target);
        last.id = id;
    }

    /// Files `token` under `key`, replacing whatever was there.
    pub(crate) fn insert(&mut self, key: String, token: AccessToken) {
        let hash = self.by_key.hash(&key);
        let existing = self.id_of(&key, hash);
        self.insert_at(&key, hash, existing, token, None, None);
    }

    /// The slot filed under `key`, whose hash is `hash`.
    fn id_of(&self, key: &str, hash: u64) -> Option<usize> {
        let slots = &self.slots;
        self.by_key.find(hash, |id| {
            slots
                .get(id)
                .and_then(Option::as_ref)
                .is_some_and(|slot| &*slot.key == key)
        })
    }

    /// [`insert`](Self::insert), where `hash` is `key`'s and `existing` the slot filed under
    /// it, if any. `outline` is the token's when `key` was computed from its place;
    /// `known_partition` its partition's key when the caller knew it.
    fn insert_at(
        &mut self,
        key: &str,
        hash: u64,
        existing: Option<usize>,
        token: AccessToken,
        outline: Option<PlaceOutline>,
        known_partition: Option<&str>,
    ) {
        self.last_app_token.id = NO_SLOT;
        // A renewed token (the usual replacement) has its predecessor's partition and target,
        // letter for letter: it takes the old one's place, and no index changes.
        if let Some(id) = existing
            && let Some(slot) = self.slots.get_mut(id).and_then(Option::as_mut)
            && slot.token.place() == token.place()
        {
            slot.token = token;
            slot.json = EntryJson::new();
            // The same place under the same key: an outline it had still holds.
            slot.outline = outline.or(slot.outline);
            return;
        }
        let scopes = TargetScopes::of(&token.target);
        let mut pk = std::mem::take(&mut self.partition_buffer);
        match known_partition {
            Some(known) => {
                known.clone_into(&mut pk);
                debug_assert_eq!(pk, partition_of(&token), "the caller's partition key");
            }
            None => {
                keys::join_lower_into(&mut pk, &partition_parts(&token), SEP);
            }
        }
        if let Some(id) = existing {
            // The same key with other letters (case, scope order): re-indexed unless the index
            // would not change.
            if let Some(slot) = self.slots.get_mut(id).and_then(Option::as_mut)
                && slot.scopes() == scopes.text(&token.target)
                && partition_of(&slot.token) == pk
            {
                slot.token = token;
                slot.scopes = scopes;
                slot.json = EntryJson::new();
                slot.outline = outline;
                self.partition_buffer = pk;
                return;
            }
            self.remove_id(id);
        }
        if !self.raw.is_empty() {
            self.raw.remove(key);
        }
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        let scope_text = scopes.text(&token.target);
        if let Some(part) = self.partitions.get_mut(pk.as_str()) {
            part.add(id, scope_text);
        } else {
            // Only a new partition needs its account's key.
            let slot = account_slot(&token.environment, token.home_account_id.as_deref());
            self.by_account.entry(slot).or_default().insert(pk.clone());
            let mut part = Partition::new(lower(&token.client_id));
            part.add(id, scope_text);
            self.partitions.insert(pk.clone(), part);
        }
        self.partition_buffer = pk;
        self.by_key.insert(hash, id);
        self.order.added(id);
        if let Some(cell) = self.slots.get_mut(id) {
            *cell = Some(Slot {
                key: key.into(),
                token,
                json: EntryJson::new(),
                scopes,
                outline,
            });
        }
    }

    /// Makes room for `additional` tokens.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.by_key.reserve(additional);
        self.slots.reserve(additional);
    }

    /// Keeps an entry of unknown shape under `key`.
    pub(crate) fn insert_raw(&mut self, key: String, value: Value) {
        self.last_app_token.id = NO_SLOT;
        if let Some(id) = self.id_of(&key, self.by_key.hash(&key)) {
            self.remove_id(id);
        }
        self.raw.insert(key, value);
    }

    fn remove_id(&mut self, id: usize) -> Option<AccessToken> {
        self.last_app_token.id = NO_SLOT;
        let slot = self.slots.get_mut(id)?.take()?;
        self.free.push(id);
        self.order.removed();
        self.by_key.remove(self.by_key.hash(&slot.key), id);
        let pk = partition_of(&slot.token);
        let Some(part) = self.partitions.get_mut(&pk) else {
            return Some(slot.token);
        };
        part.count -= 1;
        part.unscoped.remove(id);
        for scope in items(slot.scopes()) {
            part.by_scope.remove(scope, id);
        }
        if part.count == 0 {
            self.partitions.remove(&pk);
            let acct = account_slot(
                &slot.token.environment,
                slot.token.home_account_id.as_deref(),
            );
            if let Some(parts) = self.by_account.get_mut(&acct) {
                parts.remove(&pk);
                if parts.is_empty() {
                    self.by_account.remove(&acct);
                }
            }
        }
        Some(slot.token)
    }

    fn token(&self, id: usize) -> Option<&Slot> {
        self.slots.get(id).and_then(Option::as_ref)
    }

    /// The best unexpired token of the query's partition whose target holds every requested
    /// scope: one whose scopes equal the requested ones if any, else the one that expires last.
    pub(crate) fn find(&self, q: &AccessTokenQuery<'_>) -> Option<&AccessToken> {
        let pk = partition_key(
            q.client_id,
            q.environment,
            q.realm,
            q.home_account_id,
            q.ext_cache_key.filter(|e| !e.is_empty()),
        );
        self.find_keyed(
            &pk,
            &normalize(q.scopes.iter().map(String::as_str)),
            q.key_id,
            q.now,
        )
        .found()
    }

    /// [`find`](Self::find) in the partition whose index key is `pk`.
    pub(crate) fn find_in(&self, pk: &str, scopes: &[String], now: i64) -> Option<&AccessToken> {
        self.find_keyed(pk, &normalize(scopes.iter().map(String::as_str)), None, now)
            .found()
    }

    /// [`find_in`](Self::find_in) for scopes already in the cache's form
    /// ([`normalize`]: lowercased, sorted, de-duplicated), bound to no key; a miss says whether
    /// it found only expired tokens.
    pub(crate) fn find_normalized(
        &self,
        pk: &str,
        wanted: &[String],
        now: i64,
    ) -> Lookup<&AccessToken> {
        self.find_keyed(pk, wanted, None, now)
    }

    /// [`find_normalized`](Self::find_normalized) for tokens bound to `key_id` (none: tokens
    /// bound to no key).
    fn find_keyed(
        &self,
        pk: &str,
        wanted: &[String],
        key_id: Option<&str>,
        now: i64,
    ) -> Lookup<&AccessToken> {
        let Some(part) = self.partitions.get(pk) else {
            return Lookup::Absent;
        };
        if wanted.is_empty() {
            return self.best_of(part.ids().into_iter(), wanted, key_id, now);
        }
        let mut rarest: Option<&TokenIds> = None;
        for scope in wanted {
            let Some(holders) = part.by_scope.holders(scope) else {
                return Lookup::Absent;
            };
            if rarest.is_none_or(|r| holders.len() < r.len()) {
                rarest = Some(holders);
            }
        }
        let candidates = rarest
            .into_iter()
            .flat_map(|ids| ids.as_slice().iter().copied());
        self.best_of(candidates, wanted, key_id, now)
    }

    fn best_of(
        &self,
        candidates: impl Iterator<Item = usize>,
        wanted: &[String],
        key_id: Option<&str>,
        now: i64,
    ) -> Lookup<&AccessToken> {
        let mut best: Option<&Slot> = None;
        let mut expired = false;
        for id in candidates {
            let Some(slot) = self.token(id) else { continue };
            if slot.token.key_id.as_deref().filter(|k| !k.is_empty()) != key_id
                || !is_subset_of_text(wanted, slot.scopes())
            {
                continue;
            }
            if slot.token.expires_on <= now {
                expired = true;
                continue;
            }
            if items(slot.scopes()).count() == wanted.len() {
                return Lookup::Found(&slot.token);
            }
            // Deterministic: the latest expiry, then the smallest key.
            if best.is_none_or(|b| {
                (slot.token.expires_on, std::cmp::Reverse(&slot.key))
                    > (b.token.expires_on, std::cmp::Reverse(&b.key))
            }) {
                best = Some(slot);
            }
        }
        match best {
            Some(slot) => Lookup::Found(&slot.token),
            None if expired => Lookup::Expired,
            None => Lookup::Absent,
        }
    }

    /// Removes every token of the partitions selected by `keep`, among those of one account
    /// slot. Returns how many were removed.
    fn remove_partitions(&mut self, slot: &str, keep: impl Fn(&Partition) -> bool) -> usize {
        let Some(pks) = self.by_account.get(slot) else {
            return 0;
        };
        let ids: Vec<usize> = pks
            .iter()
            .filter_map(|pk| self.partitions.get(pk))
            .filter(|p| keep(p))
            .flat_map(Partition::ids)
            .collect();
        ids.iter()
            .filter(|id| self.remove_id(**id).is_some())
            .count()
    }

    /// The number of typed tokens.
    pub(crate) fn len(&self) -> usize {
        self.by_key.len()
    }

    /// All entries, typed and verbatim, sorted by key.
    ///
    /// Without verbatim entries (the usual case) in the order [`KeyOrder`] keeps between calls:
    /// a file cache is rewritten after every token operation, and only the tokens filed since
    /// are placed. With verbatim entries, all are sorted together, typed ones in slot order
    /// first (mostly in key order already, so the stable sort merges a few runs).
    pub(crate) fn sorted(&self) -> Vec<(&str, EntryRef<'_, AccessToken>)> {
        fn entry(slot: &Slot) -> (&str, EntryRef<'_, AccessToken>) {
            (&slot.key, EntryRef::Typed(&slot.token, &slot.json))
        }
        if self.raw.is_empty() {
            // The usual case: the order kept between serializations.
            let key = |id: usize| self.token(id).map_or("", |slot| &*slot.key);
            let all = || {
                let filed = self.slots.iter().enumerate();
                filed
                    .filter_map(|(id, slot)| slot.as_ref().map(|_| id))
                    .collect()
            };
            return self.order.with_sorted(key, all, |ids| {
                let mut sorted = Vec::with_capacity(ids.len());
                sorted.extend(ids.iter().filter_map(|&id| self.token(id)).map(entry));
                sorted
            });
        }
        // Sized at once (the slots' iterator cannot tell how many it holds).
        let mut all = Vec::with_capacity(self.by_key.len() + self.raw.len());
        all.extend(self.slots.iter().flatten().map(entry));
        all.extend(self.raw.iter().map(|(k, v)| (k.as_str(), EntryRef::Raw(v))));
        all.sort_by(|a, b| a.0.cmp(b.0));
        all
    }

    fn is_empty(&self) -> bool {
        self.by_key.is_empty() && self.raw.is_empty()
    }
}

/// What a token lookup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup<T> {
    /// The token (or what was made of it).
    Found(T),
    /// No usable token, but tokens of the scopes whose time is up.
    Expired,
    /// No token of the scopes at all.
    Absent,
}

impl<T> Lookup<T> {
    /// The token, if one was found.
    pub(crate) fn found(self) -> Option<T> {
        match self {
            Self::Found(found) => Some(found),
            Self::Expired | Self::Absent => None,
        }
    }

    /// What `f` makes of the token, if one was found.
    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U) -> Lookup<U> {
        match self {
            Self::Found(found) => Lookup::Found(f(found)),
            Self::Expired => Lookup::Expired,
            Self::Absent => Lookup::Absent,
        }
    }
}

/// The kinds of credential [`Store::remove_credentials`] removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CredentialKind {
    /// Access tokens.
    Access,
    /// Refresh tokens.
    Refresh,
    /// ID tokens.
    Id,
}

/// The whole cache.
///
/// In declaration order (`repr(C)`): what filing an app-only token reads (the access tokens,
/// the key buffer, `extra`, the application metadata) comes first, in adjacent cache lines:
/// across many applications, each line is a likely cache miss.
#[derive(Default)]
#[repr(C)]
pub(crate) struct Store {
    pub(crate) access_tokens: AccessTokens,
    /// A buffer for the keys [`apply`](Self::apply) looks up, kept so that filing a renewal
    /// allocates no key.
    key_buffer: String,
    /// Unknown top-level keys, and known ones whose value is not an object.
    pub(crate) extra: Map<String, Value>,
    pub(crate) app_metadata: Section<AppMetadata>,
    /// The app metadata entry [`apply`](Self::apply) last confirmed or wrote.
    known_app_metadata: KnownAppMetadata,
    pub(crate) refresh_tokens: Section<RefreshToken>,
    pub(crate) id_tokens: Section<IdToken>,
    pub(crate) accounts: Section<AccountEntity>,
}

impl Store {
    /// Drops a top-level key kept in `extra` because its value was not an object, now that an
    /// entry of that kind is written (usually `extra` is empty: nothing to look up).
    fn drop_stray(&mut self, name: &str) {
        if !self.extra.is_empty() {
            self.extra.remove(name);
        }
    }

    /// Writes the entities of one token response, each under its MSAL key.
    pub(crate) fn apply(&mut self, e: &mut Entities<'_>) {
        // One key buffer for the lookups: a renewal or an unchanged entry allocates no key.
        let mut key = std::mem::take(&mut self.key_buffer);
        if let Some(at) = e.access_token.take() {
            self.drop_stray(ACCESS_TOKEN);
            self.access_tokens.file(at, &mut key);
        }
        if let Some(account) = e.account.take() {
            self.drop_stray(ACCOUNT);
            self.accounts.insert(account.key(), *account);
        }
        if let Some(idt) = e.id_token.take() {
            self.drop_stray(ID_TOKEN);
            self.id_tokens.insert(idt.key(), *idt);
        }
        if let Some(rt) = e.refresh_token.take() {
            self.drop_stray(REFRESH_TOKEN);
            self.refresh_tokens.insert(rt.key(), *rt);
        }
        self.drop_stray(APP_METADATA);
        // The application's entry, confirmed last time and untouched since: nothing to read.
        if self
            .known_app_metadata
            .holds(self.app_metadata.changes(), &e.app_metadata)
        {
            self.key_buffer = key;
            return;
        }
        keys::app_metadata_key_into(
            &mut key,
            e.app_metadata.environment,
            e.app_metadata.client_id,
        );
        let unchanged = self.app_metadata.raw.is_empty()
            && self
                .app_metadata
                .get(&key)
                .is_some_and(|stored| e.app_metadata.is(stored));
        if unchanged {
            self.key_buffer = key;
        } else {
            self.app_metadata.insert(key, e.app_metadata.to_entity());
        }
        self.known_app_metadata
            .remember(self.app_metadata.changes(), &e.app_metadata);
    }

    /// See [`TokenCache::find_access_token`](super::TokenCache::find_access_token).
    pub(crate) fn find_access_token(&self, q: &AccessTokenQuery<'_>) -> Option<&AccessToken> {
        self.access_tokens.find(q)
    }

    /// [`find_access_token`](Self::find_access_token) in the partition whose index key is
    /// `partition_key` (see [`app_partition_key`]).
    pub(crate) fn find_access_token_in(
        &self,
        partition_key: &str,
        scopes: &[String],
        now: i64,
    ) -> Option<&AccessToken> {
        self.access_tokens.find_in(partition_key, scopes, now)
    }

    /// [`find_access_token_in`](Self::find_access_token_in) for scopes already in the cache's
    /// form (see [`normalize`]); a miss says whether the scopes' tokens had expired.
    pub(crate) fn find_access_token_normalized(
        &self,
        partition_key: &str,
        normalized_scopes: &[String],
        now: i64,
    ) -> Lookup<&AccessToken> {
        self.access_tokens
            .find_normalized(partition_key, normalized_scopes, now)
    }

    /// See [`TokenCache::find_refresh_tokens`](super::TokenCache::find_refresh_tokens).
    pub(crate) fn find_refresh_tokens(&self, q: &RefreshTokenQuery<'_>) -> Vec<RefreshToken> {
        let slot = account_slot(q.environment, Some(q.home_account_id));
        let mut found: Vec<(&String, &RefreshToken)> = self
            .refresh_tokens
            .of_account(&slot)
            .filter(|(_, rt)| {
                q.client_id.is_none_or(|c| eq_ci(&rt.client_id, c))
                    && q.family_id
                        .is_none_or(|f| rt.family_id.as_deref() == Some(f))
            })
            .collect();
        found.sort_unstable_by(|a, b| {
            b.1.last_modification_time
                .unwrap_or(i64::MIN)
                .cmp(&a.1.last_modification_time.unwrap_or(i64::MIN))
                .then_with(|| a.0.cmp(b.0))
        });
        found.into_iter().map(|(_, rt)| rt.clone()).collect()
    }

    /// Writes `new_secret` into every entry holding `old`'s secret for the same account and app
    /// (normally exactly one); when there is none, files `old` with the new secret under its
    /// MSAL key, as MSAL Python's `update_rt` does.
    pub(crate) fn update_refresh_token(&mut self, old: &RefreshToken, new_secret: &str, now: i64) {
        let slot = account_slot(&old.environment, old.home_account_id.as_deref());
        let keys = self.refresh_tokens.keys_of_account(&slot, |rt| {
            rt.secret == old.secret && eq_ci(&rt.client_id, &old.client_id)
        });
        if keys.is_empty() {
            let mut rt = old.clone();
            rt.secret = new_secret.to_string();
            rt.last_modification_time = Some(now);
            self.extra.remove(REFRESH_TOKEN);
            self.refresh_tokens.insert(rt.key(), rt);
            return;
        }
        // Changed in place: counted like any other change of the section.
        self.refresh_tokens.changes += 1;
        for key in keys {
            if let Some(stored) = self.refresh_tokens.entries.get_mut(&key) {
                stored.value.secret = new_secret.to_string();
                stored.value.last_modification_time = Some(now);
                stored.json = EntryJson::new();
            }
        }
    }

    /// See [`TokenCache::app_metadata`](super::TokenCache::app_metadata).
    pub(crate) fn app_metadata(&self, environment: &str, client_id: &str) -> Option<&AppMetadata> {
        let matches =
            |m: &AppMetadata| eq_ci(&m.environment, environment) && eq_ci(&m.client_id, client_id);
        self.app_metadata
            .get(&keys::app_metadata_key(environment, client_id))
            .filter(|m| matches(m))
            .or_else(|| {
                let mut all: Vec<_> = self
                    .app_metadata
                    .entries
                    .iter()
                    .map(|(k, stored)| (k, &stored.value))
                    .filter(|(_, m)| matches(m))
                    .collect();
                all.sort_unstable_by(|a, b| a.0.cmp(b.0));
                all.first().map(|(_, m)| *m)
            })
    }

    /// See [`TokenCache::accounts`](super::TokenCache::accounts).
    pub(crate) fn accounts(&self) -> Vec<AccountEntity> {
        self.accounts_sorted().into_iter().cloned().collect()
    }

    /// The accounts in [`accounts`](Self::accounts)' order, in place.
    pub(crate) fn accounts_sorted(&self) -> Vec<&AccountEntity> {
        self.accounts
            .sorted()
            .into_iter()
            .filter_map(|(_, e)| match e {
                EntryRef::Typed(a, _) => Some(a),
                EntryRef::Raw(_) => None,
            })
            .collect()
    }

    /// See [`TokenCache::id_token`](super::TokenCache::id_token).
    pub(crate) fn id_token(
        &self,
        home_account_id: &str,
        environment: &str,
        realm: &str,
        client_id: &str,
    ) -> Option<&IdToken> {
        let matches = |t: &IdToken| {
            eq_ci(&t.realm, realm)
                && eq_ci(&t.client_id, client_id)
                && eq_ci(&t.environment, environment)
                && opt_eq_ci(t.home_account_id.as_deref(), Some(home_account_id))
        };
        let key = keys::id_token_key(Some(home_account_id), environment, client_id, realm);
        if let Some(t) = self.id_tokens.get(&key).filter(|t| matches(t)) {
            return Some(t);
        }
        let slot = account_slot(environment, Some(home_account_id));
        let mut found: Vec<_> = self
            .id_tokens
            .of_account(&slot)
            .filter(|(_, t)| matches(t))
            .collect();
        found.sort_unstable_by(|a, b| a.0.cmp(b.0));
        found.first().map(|(_, t)| *t)
    }

    /// See [`TokenCache::remove_account`](super::TokenCache::remove_account). Returns whether
    /// anything was removed.
    pub(crate) fn remove_account(
        &mut self,
        account: &AccountEntity,
        client_id: &str,
        family_id: Option<&str>,
    ) -> bool {
        let slot = account_slot(&account.environment, Some(&account.home_account_id));
        let rts = self.refresh_tokens.keys_of_account(&slot, |rt| {
            eq_ci(&rt.client_id, client_id)
                || family_id.is_some_and(|f| rt.family_id.as_deref() == Some(f))
        });
        let mut removed = 0;
        for key in rts {
            removed += usize::from(self.refresh_tokens.remove(&key).is_some());
        }
        removed += self.access_tokens.remove_partitions(&slot, |_| true);
        for key in self.id_tokens.keys_of_account(&slot, |_| true) {
            removed += usize::from(self.id_tokens.remove(&key).is_some());
        }
        for key in self.accounts.keys_of_account(&slot, |_| true) {
            removed += usize::from(self.accounts.remove(&key).is_some());
        }
        removed > 0
    }

    /// See [`TokenCache::remove_app_tokens`](super::TokenCache::remove_app_tokens). Returns
    /// whether anything was removed.
    pub(crate) fn remove_app_tokens(&mut self, client_id: &str, environments: &[String]) -> bool {
        let client = lower(client_id);
        let mut removed = 0;
        for env in environments {
            let slot = account_slot(env, None);
            removed += self
                .access_tokens
                .remove_partitions(&slot, |p| p.client_id == client);
        }
        removed > 0
    }

    /// Removes one kind of credential of one account (home account id in `environment`) and one
    /// client: its access tokens (every tenant and extended cache key), its refresh tokens, or its
    /// ID tokens (every tenant). Returns how many entries were removed.
    pub(crate) fn remove_credentials(
        &mut self,
        kind: CredentialKind,
        environment: &str,
        home_account_id: &str,
        client_id: &str,
    ) -> usize {
        let slot = account_slot(environment, Some(home_account_id));
        match kind {
            CredentialKind::Access => {
                let client = lower(client_id);
                self.access_tokens
                    .remove_partitions(&slot, |p| p.client_id == client)
            }
            CredentialKind::Refresh => {
                let keys = self
                    .refresh_tokens
                    .keys_of_account(&slot, |rt| eq_ci(&rt.client_id, client_id));
                keys.iter()
                    .filter(|key| self.refresh_tokens.remove(key).is_some())
                    .count()
            }
            CredentialKind::Id => {
                let keys = self
                    .id_tokens
                    .keys_of_account(&slot, |idt| eq_ci(&idt.client_id, client_id));
                keys.iter()
                    .filter(|key| self.id_tokens.remove(key).is_some())
                    .count()
            }
        }
    }

    /// Whether a known top-level map holds nothing.
    pub(crate) fn section_is_empty(&self, name: &str) -> bool {
        match name {
            ACCESS_TOKEN => self.access_tokens.is_empty(),
            REFRESH_TOKEN => self.refresh_tokens.is_empty(),
            ID_TOKEN => self.id_tokens.is_empty(),
            ACCOUNT => self.accounts.is_empty(),
            APP_METADATA => self.app_metadata.is_empty(),
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The app metadata of a response, alone.
    fn app_metadata_only<'a>(client_id: &'a str, family: Option<&str>) -> Entities<'a> {
        Entities {
            access_token: None,
            account: None,
            id_token: None,
            id_token_claims: Map::new(),
            refresh_token: None,
            app_metadata: super::super::add::NewAppMetadata {
                client_id,
                environment: "login.example.com",
                family_id: family.map(Into::into),
            },
        }
    }

    /// The entry `apply` confirmed last is known without the section while nothing else
    /// changed it; any change, and another entry, go the long way and file what they must.
    #[test]
    fn the_app_metadata_confirmed_last_is_known_until_the_section_changes() {
        let mut store = Store::default();
        let key = keys::app_metadata_key("login.example.com", "c");
        let stored = |store: &Store| store.app_metadata.get(&key).cloned();
        let mut first = app_metadata_only("c", None);
        store.apply(&mut first);
        let written = stored(&store).expect("filed");
        assert!(first.app_metadata.is(&written));
        assert!(
            store
                .known_app_metadata
                .holds(store.app_metadata.changes(), &first.app_metadata)
        );
        // Again: answered by what is known, and the section is unchanged.
        let changes = store.app_metadata.changes();
        store.apply(&mut app_metadata_only("c", None));
        assert_eq!(store.app_metadata.changes(), changes);
        assert_eq!(stored(&store), Some(written.clone()));
        // An entry of unknown shape under the same key (as a file may hold): no longer known,
        // and the next response files its typed entry over it, as before.
        store
            .app_metadata
            .insert_raw(key.clone(), serde_json::json!({"odd": true}));
        assert!(
            !store
                .known_app_metadata
                .holds(store.app_metadata.changes(), &first.app_metadata)
        );
        store.apply(&mut app_metadata_only("c", None));
        assert_eq!(stored(&store), Some(written.clone()));
        assert!(store.app_metadata.raw.is_empty());
        // A family id, then none again: each is filed.
        store.apply(&mut app_metadata_only("c", Some("1")));
        assert_eq!(stored(&store).and_then(|m| m.family_id), Some("1".into()));
        store.apply(&mut app_metadata_only("c", None));
        assert_eq!(stored(&store), Some(written.clone()));
        // The entry changed in place by another path: no longer known, filed again.
        let mut changed = written.clone();
        changed.family_id = Some("2".into());
        store.app_metadata.insert(key.clone(), changed);
        store.apply(&mut app_metadata_only("c", None));
        assert_eq!(stored(&store), Some(written.clone()));
        // Another application's entry beside it, then the first one's again.
        store.apply(&mut app_metadata_only("d", None));
        store.apply(&mut app_metadata_only("c", Some("1")));
        assert_eq!(stored(&store).and_then(|m| m.family_id), Some("1".into()));
        assert_eq!(store.app_metadata.len(), 2);
    }

    /// An equal replacement keeps the stored entry's remembered text; a different one drops it.
    #[test]
    fn an_equal_entry_keeps_its_remembered_text() {
        let metadata = |family: Option<&str>| AppMetadata {
            client_id: "c".into(),
            environment: "e".into(),
            family_id: family.map(Into::into),
            extra: Map::new(),
        };
        let mut section: Section<AppMetadata> = Section::default();
        section.insert("k".into(), metadata(None));
        let remembered = |section: &Section<AppMetadata>| section.entries["k"].json.get().is_some();
        let _ = section.entries["k"].json.set("text".into());
        section.insert("k".into(), metadata(None));
        assert!(remembered(&section));
        section.insert("k".into(), metadata(Some("1")));
        assert!(!remembered(&section));
        assert_eq!(section.get("k"), Some(&metadata(Some("1"))));
    }

    fn at(target: &str, hid: Option<&str>, ext: Option<&str>, expires_on: i64) -> AccessToken {
        AccessToken {
            secret: format!("secret for {target}").into(),
            home_account_id: hid.map(Into::into),
            environment: "login.example.com".into(),
            client_id: "cid".into(),
            target: target.into(),
            realm: "contoso".into(),
            token_type: Some("Bearer".into()),
            cached_at: Some(0),
            expires_on,
            extended_expires_on: Some(expires_on),
            refresh_on: None,
            key_id: None,
            ext_cache_key: ext.map(Into::into),
            extra: Map::new(),
        }
    }

    fn new_at<'a>(realm: &'a str, target: &'a str, hid: Option<&str>) -> NewAccessToken<'a> {
        NewAccessToken {
            secret: format!("secret for {realm} {target}").into(),
            home_account_id: hid.map(Into::into),
            environment: "login.example.com",
            client_id: "cid",
            realm,
            target: target.into(),
            token_type: "Bearer".into(),
            cached_at: 0,
            expires_on: 1_000,
            extended_expires_on: 1_000,
            refresh_on: None,
            key_id: None,
            ext_cache_key: None,
            app_partition: None,
        }
    }

    /// The one filed token's realm, target and home account id.
    fn only_place(ats: &AccessTokens) -> (String, String, Option<String>) {
        let mut filed = ats.slots.iter().flatten();
        let slot = filed.next().expect("a token");
        assert!(filed.next().is_none(), "one token");
        let t = &slot.token;
        (
            t.realm.to_string(),
            t.target.clone(),
            t.home_account_id.clone(),
        )
    }

    /// Places that share a computed key are told apart, with and without outlines: parts that
    /// contain the separator, an absent and an empty home account id, other letters.
    #[test]
    fn a_renewal_in_place_needs_the_same_place_not_only_the_same_key() {
        let mut key = String::new();
        let cases: [[(&str, &str, Option<&str>); 2]; 4] = [
            [("a-b", "c", None), ("a", "b-c", None)],
            [("r", "s", None), ("r", "s", Some(""))],
            [("r", "s", Some("")), ("r", "s", None)],
            [("r", "s", None), ("R", "S", None)],
        ];
        for [first, second] in cases {
            let mut ats = AccessTokens::default();
            ats.file(new_at(first.0, first.1, first.2), &mut key);
            let first_key = key.clone();
            ats.file(new_at(second.0, second.1, second.2), &mut key);
            assert_eq!(key, first_key, "{first:?} and {second:?} share a key");
            let (realm, target, hid) = only_place(&ats);
            assert_eq!(
                (realm.as_str(), target.as_str(), hid.as_deref()),
                second,
                "{second:?} replaced {first:?}"
            );
            // The same place again is renewed: still one token, with the new secret.
            let mut again = new_at(second.0, second.1, second.2);
            again.secret = "renewed".into();
            ats.file(again, &mut key);
            assert_eq!(only_place(&ats).0, second.0);
            let slot = ats.slots.iter().flatten().next().expect("a token");
            assert_eq!(&*slot.token.secret, "renewed");
        }
    }

    /// A caller's partition key serves the token of its realm, and only that one.
    #[test]
    fn a_known_partition_key_files_the_tokens_of_its_realm() {
        let mut key = String::new();
        let known: Arc<str> = app_partition_key("cid", "login.example.com", "r").into();
        for realm in ["r", "s"] {
            let mut ats = AccessTokens::default();
            let mut token = new_at(realm, "x", None);
            token.app_partition = Some(("r", &known));
            ats.file(token, &mut key);
            let pk = app_partition_key("cid", "login.example.com", realm);
            assert!(ats.find_in(&pk, &s(&["x"]), 0).is_some(), "{realm}");
        }
    }

    /// An app-only token for the application and target renewed last renews that entry without
    /// its key; after any other change, or from another copy of the key, the key decides.
    #[test]
    fn the_last_app_only_token_is_renewed_by_its_partition_and_target() {
        let mut key = String::new();
        let mine: Arc<str> = app_partition_key("cid", "login.example.com", "r").into();
        fn token<'a>(target: &'a str, secret: &str, known: &'a Arc<str>) -> NewAccessToken<'a> {
            let mut token = new_at("r", target, None);
            token.secret = secret.into();
            token.app_partition = Some(("r", known));
            token
        }
        let secret_of = |ats: &AccessTokens, target: &str| {
            let pk = app_partition_key("cid", "login.example.com", "r");
            ats.find_in(&pk, &s(&[target]), 0)
                .map(|at| at.secret.to_string())
        };
        // Whether a filing made the key: the memo's renewal leaves the buffer as it was.
        let mut file = |ats: &mut AccessTokens, token: NewAccessToken<'_>| {
            key.replace_range(.., "untouched");
            ats.file(token, &mut key);
            key != "untouched"
        };
        let mut ats = AccessTokens::default();
        assert!(file(&mut ats, token("x", "1", &mine)));
        assert_eq!(
            ats.last_app_token.id, NO_SLOT,
            "a new entry is not remembered"
        );
        assert!(file(&mut ats, token("x", "2", &mine)));
        assert_eq!(ats.last_app_token.id, 0, "a renewed one is");
        // Renewed by the memo: one token, the new secret, no key made.
        assert!(!file(&mut ats, token("x", "3", &mine)));
        assert_eq!(ats.len(), 1);
        assert_eq!(secret_of(&ats, "x").as_deref(), Some("3"));
        // Another target is another entry; renewed, it becomes the last.
        assert!(file(&mut ats, token("y", "4", &mine)));
        assert_eq!(ats.last_app_token.id, NO_SLOT);
        assert!(file(&mut ats, token("y", "5", &mine)));
        assert_eq!(ats.last_app_token.id, 1);
        // Another copy of the same key text: filed by the key, into the same entry.
        let copy: Arc<str> = mine.to_string().into();
        assert!(file(&mut ats, token("y", "6", &copy)));
        assert_eq!(ats.len(), 2);
        assert_eq!(secret_of(&ats, "y").as_deref(), Some("6"));
        assert!(file(&mut ats, token("x", "7", &mine)));
        assert_eq!(secret_of(&ats, "x").as_deref(), Some("7"));
        // The entries removed and a slot reused by another partition's token: the memo is
        // gone, and the next token is filed as new, not into that slot.
        let removed = ats.remove_partitions(&account_slot("login.example.com", None), |_| true);
        assert_eq!(removed, 2);
        assert_eq!(ats.last_app_token.id, NO_SLOT);
        assert!(file(&mut ats, new_at("other", "x", None)));
        assert!(file(&mut ats, token("x", "8", &mine)));
        assert_eq!(ats.len(), 2);
        assert_eq!(secret_of(&ats, "x").as_deref(), Some("8"));
        let other = app_partition_key("cid", "login.example.com", "other");
        assert!(
            ats.find_in(&other, &s(&["x"]), 0).is_some(),
            "the other token is kept"
        );
        // An entry of unknown shape filed: the memo is forgotten too.
        assert!(file(&mut ats, token("x", "9", &mine)));
        assert_ne!(ats.last_app_token.id, NO_SLOT);
        ats.insert_raw("-raw-".into(), Value::Null);
        assert_eq!(ats.last_app_token.id, NO_SLOT);
    }

    fn query<'a>(scopes: &'a [String], hid: Option<&'a str>) -> AccessTokenQuery<'a> {
        AccessTokenQuery {
            client_id: "CID",
            environment: "Login.Example.com",
            realm: "Contoso",
            home_account_id: hid,
            scopes,
            ext_cache_key: None,
            key_id: None,
            now: 100,
        }
    }

    fn s(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn finds_by_subset_prefers_exact_and_skips_expired() {
        let mut ats = AccessTokens::default();
        for t in [
            at("a b c", Some("h"), None, 500),
            at("a b", Some("h"), None, 400),
            at("a", Some("h"), None, 50),
        ] {
            ats.insert(t.key(), t);
        }
        let find = |scopes: &[&str]| {
            ats.find(&query(&s(scopes), Some("H")))
                .map(|t| t.target.clone())
        };
        assert_eq!(find(&["b", "a"]).as_deref(), Some("a b"));
        assert_eq!(find(&["C"]).as_deref(), Some("a b c"));
        // The exact "a" token has expired: the one expiring last wins.
        assert_eq!(find(&["a"]).as_deref(), Some("a b c"));
        assert_eq!(find(&[]).as_deref(), Some("a b c"));
        assert_eq!(find(&["d"]), None);
        assert_eq!(
            ats.find(&query(&s(&["a"]), None)).map(|t| t.target.clone()),
            None
        );
    }

    #[test]
    fn replacing_and_removing_keeps_indexes_consistent() {
        let mut ats = AccessTokens::default();
        let mut t = at("x y", None, None, 500);
        ats.insert(t.key(), t.clone());
        t.secret = "new".into();
        ats.insert(t.key(), t.clone());
        assert_eq!(ats.len(), 1);
        assert_eq!(
            ats.find(&query(&s(&["y"]), None)).unwrap().secret.as_ref(),
            "new"
        );
        assert_eq!(
            ats.remove_partitions(&account_slot("LOGIN.example.com", None), |_| true),
            1
        );
        assert_eq!(ats.len(), 0);
        assert!(ats.partitions.is_empty() && ats.by_account.is_empty());
        assert_eq!(ats.find(&query(&s(&["y"]), None)), None);
        // Slots are reused.
        ats.insert(t.key(), t);
        assert_eq!(ats.slots.len(), 1);
    }

    /// A partition counts its tokens, those without a scope too: it goes when the last one
    /// goes, and removing the partition removes every token once.
    #[test]
    fn tokens_without_scopes_belong_to_their_partition() {
        let mut ats = AccessTokens::default();
        for (key, target) in [("k1", ""), ("k2", "a b"), ("k3", "b c"), ("k4", "")] {
            ats.insert(key.into(), at(target, None, None, 500));
        }
        let part = ats.partitions.values().next().expect("one partition");
        assert_eq!((part.count, part.ids()), (4, vec![0, 1, 2, 3]));
        ats.remove_id(0);
        ats.remove_id(1);
        assert_eq!(
            ats.partitions.values().next().map(Partition::ids),
            Some(vec![2, 3])
        );
        assert!(ats.find(&query(&[], None)).is_some());
        assert_eq!(
            ats.remove_partitions(&account_slot("login.example.com", None), |_| true),
            2
        );
        assert_eq!(ats.len(), 0);
        assert!(ats.partitions.is_empty() && ats.by_account.is_empty());
        ats.insert("k4".into(), at("", None, None, 500));
        ats.remove_id(ats.id_of("k4", ats.by_key.hash("k4")).expect("filed"));
        assert!(
            ats.partitions.is_empty(),
            "an unscoped last token takes its partition"
        );
    }

    #[test]
    fn a_replacement_under_the_same_key_with_other_scopes_is_reindexed() {
        let mut ats = AccessTokens::default();
        ats.insert("k".into(), at("a", None, None, 500));
        ats.insert("k".into(), at("b c", Some("h"), None, 500));
        assert_eq!(ats.len(), 1);
        assert_eq!(ats.find(&query(&s(&["a"]), None)), None);
        let found = ats.find(&query(&s(&["c"]), Some("h"))).unwrap();
        assert_eq!(found.target, "b c");
        assert_eq!(ats.partitions.len(), 1, "the old partition is gone");
        // The same scopes again: replaced in place, still found, indexes unchanged.
        let mut renewed = at("B C", Some("h"), None, 900);
        renewed.secret = "renewed".into();
        ats.insert("k".into(), renewed);
        assert_eq!(ats.len(), 1);
        let found = ats.find(&query(&s(&["b"]), Some("h"))).unwrap();
        assert_eq!((found.secret.as_ref(), found.expires_on), ("renewed", 900));
        assert_eq!(ats.partitions.len(), 1);
    }

    #[test]
    fn ext_cache_key_partitions_are_isolated() {
        let mut ats = AccessTokens::default();
        let t = at("s1", None, Some("hash"), 500);
        ats.insert(t.key(), t);
        let scopes = s(&["s1"]);
        assert_eq!(ats.find(&query(&scopes, None)), None);
        let mut q = query(&scopes, None);
        q.ext_cache_key = Some("other");
        assert_eq!(ats.find(&q), None);
        q.ext_cache_key = Some("hash");
        assert!(ats.find(&q).is_some());
        let plain = at("s1", None, None, 500);
        ats.insert(plain.key(), plain);
        assert_eq!(ats.find(&query(&scopes, None)).unwrap().ext_cache_key, None);
        assert_eq!(ats.len(), 2);
    }
}
