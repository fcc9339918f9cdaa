//! The last cache hit of one application for one scope list (see
//! [`PreparedScopes`](super::scopes::PreparedScopes)): repeated while the cache is unchanged and
//! the token fresh, it answers without looking in the cache at all.
//!
//! It is right because the cache lookup of a given partition and scope set is a function of the
//! cache's contents and the time: at the same [`TokenCache::version`](crate::TokenCache) the
//! lookup would find the same entry as long as that entry is still fresh (tokens that had
//! expired stay expired, and the best unexpired one stays the best).

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

use super::core::EXPIRY_MARGIN;
use super::result::{AuthenticationResult, SecretToken, TokenSource};

/// A result from the cache and what says whether it may be given again.
///
/// Only the parts an app-only result from the cache has are kept (the rest of such a result is
/// empty): across many applications, each cache line a hit reads is a likely cache miss, and a
/// whole [`AuthenticationResult`] is three of them.
#[derive(Debug)]
struct Hit {
    version: u64,
    expires_on: i64,
    refresh_on: Option<i64>,
    access_token: SecretToken,
    scopes: Arc<[String]>,
    token_type: Cow<'static, str>,
    expires_on_time: OffsetDateTime,
    extended_expires_on: Option<OffsetDateTime>,
    refresh_on_time: Option<OffsetDateTime>,
}

impl Hit {
    fn result(&self) -> AuthenticationResult {
        AuthenticationResult {
            access_token: self.access_token.clone(),
            token_type: self.token_type.clone(),
            expires_on: self.expires_on_time,
            extended_expires_on: self.extended_expires_on,
            refresh_on: self.refresh_on_time,
            scopes: self.scopes.clone(),
            id_token: None,
            id_token_claims: None,
            account: None,
            token_source: TokenSource::Cache,
            correlation_id: String::new(),
            extras: None,
        }
    }
}

/// See the module docs. Holds no hit until the first one.
#[derive(Debug, Default)]
pub(crate) struct HitMemo(Mutex<Option<Hit>>);

impl HitMemo {
    /// The remembered result, if it was made at the cache's `version` and its token is still
    /// fresh at `now` (at least [`EXPIRY_MARGIN`] seconds left, not past its `refresh_on`).
    pub fn get(&self, version: u64, now: i64) -> Option<AuthenticationResult> {
        let hit = self.lock();
        hit.as_ref()
            .filter(|h| {
                h.version == version
                    && h.expires_on - now >= EXPIRY_MARGIN
                    && h.refresh_on.is_none_or(|r| r > now)
            })
            .map(Hit::result)
    }

    /// Remembers `result`, made from a token expiring at `expires_on` (refresh at
    /// `refresh_on`) found while the cache was at `version` (read before the lookup). A result
    /// with more than an app-only result from the cache has (an account, an ID token, a
    /// correlation id, extras) is not remembered: the memo could not give it back whole.
    pub fn set(
        &self,
        version: u64,
        expires_on: i64,
        refresh_on: Option<i64>,
        result: &AuthenticationResult,
    ) {
        let app_only = result.id_token.is_none()
            && result.id_token_claims.is_none()
            && result.account.is_none()
            && result.token_source == TokenSource::Cache
            && result.correlation_id.is_empty()
            && result.extras.is_none();
        *self.lock() = app_only.then(|| {
            // Copies made one right after the other, the scopes first: a hit changes both
            // reference counts, and allocated side by side they share a cache line.
            let scopes: Arc<[String]> = result.scopes.iter().cloned().collect();
            let access_token = SecretToken::shared(Arc::from(result.access_token.expose()));
            Hit {
                version,
                expires_on,
                refresh_on,
                access_token,
                scopes,
                token_type: result.token_type.clone(),
                expires_on_time: result.expires_on,
                extended_expires_on: result.extended_expires_on,
                refresh_on_time: result.refresh_on,
            }
        });
    }

    /// Forgets the hit (its token stays in memory no longer than needed).
    pub fn clear(&self) {
        *self.lock() = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Hit>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::core::result_from_access_token;

    fn result(expires_on: i64) -> AuthenticationResult {
        let at = crate::cache::AccessToken {
            secret: "s".into(),
            home_account_id: None,
            environment: "e".into(),
            client_id: "c".into(),
            target: "x".into(),
            realm: "r".into(),
            token_type: Some("pop".into()),
            cached_at: None,
            expires_on,
            extended_expires_on: Some(expires_on + 60),
            refresh_on: Some(expires_on - 60),
            key_id: None,
            ext_cache_key: None,
            extra: Default::default(),
        };
        result_from_access_token(&at, TokenSource::Cache, "")
    }

    #[test]
    fn a_hit_is_given_again_only_at_the_same_version_while_fresh() {
        let memo = HitMemo::default();
        assert!(memo.get(1, 0).is_none());
        memo.set(7, 1000, Some(800), &result(1000));
        assert_eq!(memo.get(7, 0).unwrap().access_token.expose(), "s");
        assert!(memo.get(8, 0).is_none(), "the cache changed");
        assert!(memo.get(7, 800).is_none(), "past refresh_on");
        memo.set(7, 1000, None, &result(1000));
        assert!(memo.get(7, 700).is_some());
        assert!(memo.get(7, 701).is_none(), "less than the margin left");
        memo.clear();
        assert!(memo.get(7, 0).is_none());
    }

    #[test]
    fn the_result_given_again_is_the_one_remembered() {
        let memo = HitMemo::default();
        let original = result(1000);
        memo.set(7, 1000, None, &original);
        let again = memo.get(7, 0).unwrap();
        assert_eq!(again.access_token.expose(), original.access_token.expose());
        assert_eq!(again.scopes, original.scopes);
        // Each hit hands out the memo's own token and scopes again, shared, not copied.
        let third = memo.get(7, 0).unwrap();
        assert!(Arc::ptr_eq(&again.scopes, &third.scopes));
        assert_eq!(again.token_type, "pop");
        assert_eq!(
            (
                again.expires_on,
                again.extended_expires_on,
                again.refresh_on
            ),
            (
                original.expires_on,
                original.extended_expires_on,
                original.refresh_on
            )
        );
        assert_eq!(again.token_source, TokenSource::Cache);
        assert!(again.correlation_id.is_empty());
        assert!(again.id_token.is_none() && again.account.is_none() && again.extras.is_none());
    }

    #[test]
    fn a_result_with_more_than_an_app_token_is_not_remembered() {
        let memo = HitMemo::default();
        let mut with_id = result(1000);
        with_id.correlation_id = "c".into();
        memo.set(7, 1000, None, &with_id);
        assert!(memo.get(7, 0).is_none());
        let mut from_network = result(1000);
        from_network.token_source = TokenSource::IdentityProvider;
        memo.set(7, 1000, None, &from_network);
        assert!(memo.get(7, 0).is_none());
    }
}
