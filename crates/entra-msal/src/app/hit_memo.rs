//! The last cache hit of one application for one scope list (see
//! [`PreparedScopes`](super::scopes::PreparedScopes)): repeated while the cache is unchanged and
//! the token fresh, it answers without looking in the cache at all.
//!
//! It is right because the cache lookup of a given partition and scope set is a function of the
//! cache's contents and the time: at the same [`TokenCache::version`](crate::TokenCache) the
//! lookup would find the same entry as long as that entry is still fresh (tokens that had
//! expired stay expired, and the best unexpired one stays the best).

use std::sync::Mutex;

use super::core::EXPIRY_MARGIN;
use super::result::AuthenticationResult;

/// A result from the cache and what says whether it may be given again.
#[derive(Debug)]
struct Hit {
    version: u64,
    expires_on: i64,
    refresh_on: Option<i64>,
    result: AuthenticationResult,
}

/// See the module docs. Holds no hit until the first one.
#[derive(Debug, Default)]
pub(crate) struct HitMemo(Mutex<Option<Hit>>);

impl HitMemo {
    /// The remembered result, if it was made at the cache's `version` and its token is still
    /// fresh at `now` (at least [`EXPIRY_MARGIN`] seconds left, not past its `refresh_on`).
    pub fn get(&self, version: u64, now: i64) -> Option<AuthenticationResult> {
        let hit = self.0.lock().unwrap_or_else(|p| p.into_inner());
        hit.as_ref()
            .filter(|h| {
                h.version == version
                    && h.expires_on - now >= EXPIRY_MARGIN
                    && h.refresh_on.is_none_or(|r| r > now)
            })
            .map(|h| h.result.clone())
    }

    /// Remembers `result`, made from a token expiring at `expires_on` (refresh at
    /// `refresh_on`) found while the cache was at `version` (read before the lookup).
    pub fn set(
        &self,
        version: u64,
        expires_on: i64,
        refresh_on: Option<i64>,
        result: &AuthenticationResult,
    ) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(Hit {
            version,
            expires_on,
            refresh_on,
            result: result.clone(),
        });
    }

    /// Forgets the hit (its token stays in memory no longer than needed).
    pub fn clear(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::core::result_from_access_token;
    use crate::app::result::TokenSource;

    fn result(expires_on: i64) -> AuthenticationResult {
        let at = crate::cache::AccessToken {
            secret: "s".into(),
            home_account_id: None,
            environment: "e".into(),
            client_id: "c".into(),
            target: "x".into(),
            realm: "r".into(),
            token_type: None,
            cached_at: None,
            expires_on,
            extended_expires_on: None,
            refresh_on: None,
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
}
