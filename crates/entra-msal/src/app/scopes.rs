//! Scope rules: reserved OIDC scopes are refused as input and added on the wire (except for
//! client credentials); scopes are compared case-insensitively. Flows that sign a user in
//! (interactive, auth code, device code) accept no scopes at all: "sign in only", where just the
//! reserved scopes are sent, as in MSAL Python.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock, Weak};

use super::hit_memo::HitMemo;
use super::result::AuthenticationResult;
use crate::authority::Endpoints;
use crate::cache;
use crate::error::Error;

/// Scopes the library adds itself; passing them in is an error, as in MSAL.
pub const RESERVED_SCOPES: [&str; 3] = ["openid", "profile", "offline_access"];

/// Validates input scopes: non-empty, no reserved scope.
pub fn validate(scopes: &[&str]) -> Result<Vec<String>, Error> {
    let out = validate_sign_in(scopes)?;
    if out.is_empty() {
        return Err(Error::configuration(
            "at least one scope is required, e.g. \"User.Read\" or \"api://my-api/.default\""
                .into(),
        ));
    }
    Ok(out)
}

/// Validates the input scopes of a sign-in flow: no reserved scope; none at all means "sign in
/// only" (the reserved scopes alone go on the wire).
pub fn validate_sign_in(scopes: &[&str]) -> Result<Vec<String>, Error> {
    let mut out: Vec<String> = Vec::new();
    for s in scopes.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if RESERVED_SCOPES.iter().any(|r| r.eq_ignore_ascii_case(s)) {
            return Err(Error::configuration(format!(
                "the scope {s:?} is reserved: the library adds openid, profile and offline_access itself; remove it from the request"
            )));
        }
        if !out.iter().any(|o| o.eq_ignore_ascii_case(s)) {
            out.push(s.to_string());
        }
    }
    Ok(out)
}

/// A caller's scope list, validated once and kept in the forms the request path needs.
///
/// In declaration order (`repr(C)`): what a repeated cache hit reads (the key it compares,
/// then the remembered hit) right after the `Arc`'s counts, which it changes anyway. Not
/// aligned to a cache line: glibc serves over-aligned allocations through `memalign`, which cost
/// a new scope list (every call of an application that asks for ever new lists) about 7 % of
/// its time, and the hits measured no faster for it.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct PreparedScopes {
    /// The items exactly as the caller passed them (the memo's key), each followed by `0xFF`
    /// (a byte no UTF-8 text holds), in one allocation.
    given: Box<[u8]>,
    /// The application's last app-only cache hit for these scopes.
    pub hit: HitMemo,
    /// [`validate`]'s output: what a request sends and files under.
    pub validated: Vec<String>,
    /// The cache's form of the same set, when it is not `validated` itself (see
    /// [`normalized`](Self::normalized)).
    normalized: Option<Vec<String>>,
    /// The single-flight key of an app-only request for these scopes without an extended
    /// cache key, and the endpoints it was made with (see
    /// [`app_flight_key`](Self::app_flight_key)).
    app_flight_key: OnceLock<(Arc<str>, Weak<Endpoints>)>,
}

impl PreparedScopes {
    /// Validates and normalizes `scopes`.
    pub fn new(scopes: &[&str]) -> Result<Self, Error> {
        let validated = validate(scopes)?;
        // Usually one lowercase scope, or sorted lowercase ones: no second copy.
        let items = || validated.iter().map(String::as_str);
        let normalized =
            (!cache::is_normalized_scopes(items())).then(|| cache::normalize_scopes(items()));
        Ok(Self {
            given: given_key(scopes),
            hit: HitMemo::default(),
            validated,
            normalized,
            app_flight_key: OnceLock::new(),
        })
    }

    /// The cache's form of the set ([`cache::normalize_scopes`]): lowercased, without
    /// Microsoft Graph's prefix, sorted, de-duplicated. A cache lookup needs no more work.
    pub fn normalized(&self) -> &[String] {
        self.normalized.as_deref().unwrap_or(&self.validated)
    }

    /// The single-flight key of an app-only request for these scopes (without an extended
    /// cache key) to `endpoints`: `make`'s, made once and shared after that while it is for
    /// the same endpoints, or `fits` accepts it (the key names the realm, and an application
    /// asks in one; a key for another realm is made anew every time).
    ///
    /// The same endpoints are known by their address, without reading the key: the weak
    /// reference kept holds their allocation, so no other endpoints can take the address, and
    /// endpoints never change.
    pub fn app_flight_key(
        &self,
        endpoints: &Arc<Endpoints>,
        fits: impl FnOnce(&str) -> bool,
        make: impl FnOnce() -> Arc<str>,
    ) -> Arc<str> {
        if let Some((key, made_with)) = self.app_flight_key.get()
            && (std::ptr::eq(made_with.as_ptr(), Arc::as_ptr(endpoints)) || fits(key))
        {
            return key.clone();
        }
        let key = make();
        // Only the first key is kept; a race sets it once.
        let _ = self
            .app_flight_key
            .set((key.clone(), Arc::downgrade(endpoints)));
        key
    }

    fn is_for(&self, scopes: &[&str]) -> bool {
        let mut rest = &self.given[..];
        for scope in scopes {
            match rest.split_at_checked(scope.len()) {
                Some((item, [SEPARATOR, tail @ ..])) if item == scope.as_bytes() => rest = tail,
                _ => return false,
            }
        }
        rest.is_empty()
    }
}

/// [`PreparedScopes`]'s key of `scopes`: each item followed by [`SEPARATOR`].
fn given_key(scopes: &[&str]) -> Box<[u8]> {
    let mut key = Vec::with_capacity(scopes.iter().map(|s| s.len() + 1).sum());
    for scope in scopes {
        key.extend_from_slice(scope.as_bytes());
        key.push(SEPARATOR);
    }
    key.into_boxed_slice()
}

/// Ends each item of [`PreparedScopes`]'s key: never part of UTF-8 text.
const SEPARATOR: u8 = 0xff;

/// How many scope lists an application remembers (an application asks for a few, over and over).
const MEMO_SIZE: usize = 8;

/// An application's recently used scope lists, prepared ([`PreparedScopes`]): a repeated call
/// with the same scopes neither validates, allocates nor lowercases them again. Only valid lists
/// are kept, so a bad list fails the same way every time.
///
/// The slots and a fingerprint of each list sit inline, beside the lock: a lookup reads the one
/// prepared list whose fingerprint matches, not every list in turn (which, across many
/// applications, costs a cache miss per list looked at).
#[derive(Debug, Default)]
pub(crate) struct ScopeMemo(RwLock<MemoSlots>);

/// The memo's slots. In declaration order (`repr(C)`): the slot found last and the first
/// slots, in the cache line of the lock.
#[derive(Debug, Default)]
#[repr(C)]
struct MemoSlots {
    /// The slot found last: an application that asks for the same scopes again (the usual
    /// case) is answered after one comparison, without the fingerprint.
    recent: AtomicUsize,
    slots: [Option<Arc<PreparedScopes>>; MEMO_SIZE],
    fingerprints: [u32; MEMO_SIZE],
    /// The slot the next new list takes (round robin once all are taken).
    next: usize,
}

impl MemoSlots {
    /// The prepared list of `scopes`; else their fingerprint, for [`ScopeMemo::prepare_new`].
    fn find(&self, scopes: &[&str]) -> Result<&Arc<PreparedScopes>, u32> {
        let recent = self.recent.load(Ordering::Relaxed);
        if let Some(found) = self.slots.get(recent).and_then(Option::as_ref)
            && found.is_for(scopes)
        {
            return Ok(found);
        }
        let print = fingerprint(scopes);
        let found = self
            .fingerprints
            .iter()
            .zip(&self.slots)
            .enumerate()
            .filter(|(_, (f, _))| **f == print)
            .find_map(|(i, (_, slot))| Some((i, slot.as_ref().filter(|p| p.is_for(scopes))?)));
        match found {
            Some((i, found)) => {
                self.recent.store(i, Ordering::Relaxed);
                Ok(found)
            }
            None => Err(print),
        }
    }
}

/// FNV-1a over the items and [`SEPARATOR`] after each: equal lists have equal fingerprints.
fn fingerprint(scopes: &[&str]) -> u32 {
    const PRIME: u32 = 0x0100_0193;
    let mut hash: u32 = 0x811c_9dc5;
    for scope in scopes {
        for &b in scope.as_bytes().iter().chain(&[SEPARATOR]) {
            hash = (hash ^ u32::from(b)).wrapping_mul(PRIME);
        }
    }
    hash
}

impl ScopeMemo {
    /// `scopes` prepared: from the memo when the same list (item for item) was prepared
    /// recently, else validated now (an invalid list is the error [`validate`] gives).
    pub fn prepare(&self, scopes: &[&str]) -> Result<Arc<PreparedScopes>, Error> {
        let print = {
            let memo = self.0.read().unwrap_or_else(|p| p.into_inner());
            match memo.find(scopes) {
                Ok(found) => return Ok(found.clone()),
                Err(print) => print,
            }
        };
        self.prepare_new(scopes, print)
    }

    /// What the memo knows of `scopes`, in one lookup: the list's remembered cache hit (see
    /// [`HitMemo::get`]), read in place under the memo's read lock without a reference to the
    /// list; else the list prepared; else nothing, and [`prepare_new`](Self::prepare_new)
    /// prepares it.
    pub fn recall(&self, scopes: &[&str], version: u64, now: i64) -> Recall {
        let memo = self.0.read().unwrap_or_else(|p| p.into_inner());
        match memo.find(scopes) {
            Ok(found) => match found.hit.get(version, now) {
                Some(hit) => Recall::Hit(hit),
                None => Recall::Prepared(found.clone()),
            },
            Err(print) => Recall::Unknown(print),
        }
    }

    /// `scopes` prepared, after [`recall`](Self::recall) found them [`Recall::Unknown`]
    /// (`print` is what it returned).
    pub fn prepare_new(&self, scopes: &[&str], print: u32) -> Result<Arc<PreparedScopes>, Error> {
        let prepared = Arc::new(PreparedScopes::new(scopes)?);
        let mut memo = self.0.write().unwrap_or_else(|p| p.into_inner());
        let next = memo.next;
        memo.fingerprints[next] = print;
        memo.slots[next] = Some(prepared.clone());
        memo.recent.store(next, Ordering::Relaxed);
        memo.next = (next + 1) % MEMO_SIZE;
        Ok(prepared)
    }
}

/// What [`ScopeMemo::recall`] knows of a scope list.
pub(crate) enum Recall {
    /// Its remembered cache hit.
    Hit(AuthenticationResult),
    /// The list, prepared, without a remembered hit.
    Prepared(Arc<PreparedScopes>),
    /// Nothing: the list's fingerprint, for [`ScopeMemo::prepare_new`].
    Unknown(u32),
}

impl Recall {
    /// The remembered hit, if any (tests).
    #[cfg(test)]
    fn hit(self) -> Option<AuthenticationResult> {
        match self {
            Self::Hit(hit) => Some(hit),
            _ => None,
        }
    }
}

/// Adds `openid profile offline_access` minus `exclude` (user flows).
pub fn decorate(scopes: &[String], exclude: &[String]) -> Vec<String> {
    let mut out = scopes.to_vec();
    for r in RESERVED_SCOPES {
        if !exclude.iter().any(|e| e.eq_ignore_ascii_case(r)) {
            out.push(r.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_scopes_are_refused_and_added() {
        assert!(validate(&["openid"]).is_err());
        assert!(validate(&[]).is_err());
        assert_eq!(validate_sign_in(&[]).unwrap(), Vec::<String>::new());
        assert!(validate_sign_in(&["profile"]).is_err());
        assert_eq!(
            decorate(&[], &[]),
            vec!["openid", "profile", "offline_access"]
        );
        assert_eq!(validate(&["B", "b", " a "]).unwrap(), vec!["B", "a"]);
        let d = decorate(&["x".into()], &["offline_access".into()]);
        assert_eq!(d, vec!["x", "openid", "profile"]);
    }

    #[test]
    fn the_memo_prepares_each_list_once_and_keeps_refusing_bad_ones() {
        let memo = ScopeMemo::default();
        let first = memo.prepare(&["User.Read", " b "]).unwrap();
        assert_eq!(first.validated, vec!["User.Read", "b"]);
        assert_eq!(first.normalized(), ["b", "user.read"]);
        // The same list, item for item: the same preparation.
        assert!(Arc::ptr_eq(
            &first,
            &memo.prepare(&["User.Read", " b "]).unwrap()
        ));
        // Another spelling is another list (the result's scopes are the caller's).
        let other = memo.prepare(&["user.read", "b"]).unwrap();
        assert!(!Arc::ptr_eq(&first, &other));
        assert_eq!(other.validated, vec!["user.read", "b"]);
        assert!(memo.prepare(&["openid"]).is_err());
        assert!(memo.prepare(&["openid"]).is_err());
        assert!(memo.prepare(&[]).is_err());
        // More lists than slots: the oldest go, every answer stays right.
        for i in 0..3 * MEMO_SIZE {
            let scope = format!("s{i}");
            assert_eq!(
                memo.prepare(&[&scope]).unwrap().validated,
                vec![scope.clone()]
            );
        }
        let filled = memo.0.read().unwrap().slots.iter().flatten().count();
        assert_eq!(filled, MEMO_SIZE);
        assert_eq!(
            memo.prepare(&["User.Read", " b "]).unwrap().validated,
            first.validated
        );
    }

    #[test]
    fn the_app_flight_key_is_made_once_while_it_fits() {
        let prepared = PreparedScopes::new(&["a"]).unwrap();
        let endpoints = |realm: &str| {
            Arc::new(Endpoints {
                authorization_endpoint: format!("https://e/{realm}/authorize"),
                token_endpoint: format!("https://e/{realm}/token"),
                device_authorization_endpoint: None,
                end_session_endpoint: None,
                issuer: None,
                jwks_uri: None,
                realm: realm.into(),
            })
        };
        let is_for = |realm: &'static str| move |key: &str| key.contains(realm);
        let contoso = endpoints("contoso");
        let first =
            prepared.app_flight_key(&contoso, is_for("contoso"), || "client|contoso|a|".into());
        // The same endpoints: the key is not even read.
        let again = prepared.app_flight_key(
            &contoso,
            |_| unreachable!("read"),
            || unreachable!("made once"),
        );
        assert!(Arc::ptr_eq(&first, &again));
        // Other endpoints for the same realm: the key fits.
        let again = prepared.app_flight_key(&endpoints("contoso"), is_for("contoso"), || {
            unreachable!("made once")
        });
        assert!(Arc::ptr_eq(&first, &again));
        // A key that does not fit is made every time, and the first stays.
        let fabrikam = endpoints("fabrikam");
        let other = prepared.app_flight_key(&fabrikam, is_for("fabrikam"), || {
            "client|fabrikam|a|".into()
        });
        assert_eq!(&*other, "client|fabrikam|a|");
        let other_again =
            prepared.app_flight_key(&fabrikam, is_for("fabrikam"), || "made again".into());
        assert_eq!(&*other_again, "made again");
        let kept = prepared.app_flight_key(&contoso, is_for("contoso"), || Arc::from(""));
        assert!(Arc::ptr_eq(&first, &kept));
    }

    #[test]
    fn a_remembered_hit_is_read_for_a_remembered_list_only() {
        let memo = ScopeMemo::default();
        let Recall::Unknown(print) = memo.recall(&["a"], 1, 0) else {
            panic!("no list yet");
        };
        let prepared = memo.prepare_new(&["a"], print).unwrap();
        let Recall::Prepared(recalled) = memo.recall(&["a"], 1, 0) else {
            panic!("no hit yet");
        };
        assert!(Arc::ptr_eq(&recalled, &prepared));
        let at = crate::cache::AccessToken {
            secret: "s".into(),
            home_account_id: None,
            environment: "e".into(),
            client_id: "c".into(),
            target: "a".into(),
            realm: "r".into(),
            token_type: None,
            cached_at: None,
            expires_on: 1000,
            extended_expires_on: None,
            refresh_on: None,
            key_id: None,
            ext_cache_key: None,
            extra: Default::default(),
        };
        let result = crate::app::core::result_from_access_token(
            &at,
            crate::app::result::TokenSource::Cache,
            "",
        );
        prepared.hit.set(1, 1000, None, &result);
        let hit = memo.recall(&["a"], 1, 0).hit().unwrap();
        assert_eq!(hit.access_token.expose(), "s");
        assert!(
            memo.recall(&["a"], 2, 0).hit().is_none(),
            "another cache version"
        );
        assert!(
            matches!(memo.recall(&["A"], 1, 0), Recall::Unknown(_)),
            "another list"
        );
    }

    #[test]
    fn lists_that_join_alike_are_different_lists() {
        let memo = ScopeMemo::default();
        let split = memo.prepare(&["a", "b"]).unwrap();
        let joined = memo.prepare(&["ab"]).unwrap();
        let spaced = memo.prepare(&["a b"]).unwrap();
        assert_eq!(split.validated, vec!["a", "b"]);
        assert_eq!(joined.validated, vec!["ab"]);
        assert_eq!(spaced.validated, vec!["a b"]);
        assert_ne!(fingerprint(&["a", "b"]), fingerprint(&["ab"]));
        assert!(Arc::ptr_eq(&split, &memo.prepare(&["a", "b"]).unwrap()));
    }
}
