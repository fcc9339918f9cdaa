//! Client credentials (`acquire_token_for_client`): an app-only token, from the cache while it
//! is fresh; a token past its `refresh_on` is refreshed, and kept when the refresh fails.

use std::borrow::Cow;
use std::sync::Arc;

use super::super::claims::Forwarded;
use super::super::core::{CacheAccess, ClientCore, GrantType, Issued};
use super::super::options::ForClientOptions;
use super::super::region::RegionChoice;
use super::super::result::AuthenticationResult;
use super::super::scopes::{PreparedScopes, Recall};
use super::super::telemetry::{ApiId, RefreshReason};
use crate::authority::{self, Endpoints};
use crate::cache;
use crate::cache::Lookup;
use crate::error::Error;
use crate::oauth::grants;
use crate::persistence::partition;

/// A token found in the cache: fresh (already the result) or past its `refresh_on`.
enum Cached {
    Fresh(AuthenticationResult),
    Aging(cache::AccessToken),
}

/// Runs the flow; `region` is the application's choice of regional endpoint (ESTS-R), decided
/// (IMDS probe included) only when a token request goes out, never for a cache hit.
pub(crate) async fn run(
    core: &ClientCore,
    region: &RegionChoice,
    scopes: &[&str],
    options: &ForClientOptions,
) -> Result<AuthenticationResult, Error> {
    // The hot path: the remembered hit of a remembered scope list, read where it is, without
    // taking a reference to the list (whose counts would be one more cache line to change). A
    // remembered hit was found under the application's endpoints (its realm), and only a token
    // request needs them again, so it does not ask whether they are still current.
    let direct = answers_from_cache(core, options);
    let scopes = if direct {
        // Read before the lookup: a write in between makes this version stale, never the hit.
        let version = core.cache.version();
        let now = core.now();
        match core.scope_memo.recall(scopes, version, now) {
            Recall::Hit(remembered) => {
                core.log_cache_hit(None, "");
                // The access hooks would do nothing but clear the changed flag.
                core.cache.after_access();
                return Ok(remembered);
            }
            Recall::Prepared(prepared) => {
                // No remembered hit: the cache is looked up and, on a miss, a token requested.
                // Across many applications taking turns, this one's state is likely out of the
                // processor's caches; asking for all of it now overlaps the misses that reading
                // it field by field would take one after another.
                cache::prefetch(core);
                core.cache.prefetch();
                prepared
            }
            Recall::Unknown(print) => core.scope_memo.prepare_new(scopes, print)?,
        }
    } else {
        core.scope_memo.prepare(scopes)?
    };
    let mut looked = Looked::default();
    if direct && let Some(result) = fresh_from_cache(core, &scopes, &mut looked) {
        return Ok(result);
    }
    acquire(core, region, &scopes, options, looked).await
}

/// What [`fresh_from_cache`] learned on a miss, so that the flow does not learn it again.
#[derive(Default)]
struct Looked {
    /// The cache version at which no token the flow could use was found (neither fresh nor
    /// past its `refresh_on`), and why (the telemetry's refresh reason: expired tokens, or
    /// none); `None` when it did not look (the endpoints unknown) or found an aging token,
    /// which the flow refreshes and keeps as a fallback.
    empty_at: Option<(u64, RefreshReason)>,
    /// The application's current endpoints, when it had them, with the cache's index key of
    /// its app-only tokens in their realm (made with them).
    endpoints: Option<(Arc<Endpoints>, Arc<str>)>,
}

/// Whether a fresh token in the cache may answer at once: nothing changes the cache key or
/// forbids the cache, and no listener needs calling.
fn answers_from_cache(core: &ClientCore, options: &ForClientOptions) -> bool {
    !(options.force_refresh
        || options.claims_challenge.is_some()
        || options.fmi_path.is_some()
        || options.forwarded_client_claims.is_some()
        || !options.extra_parameters.is_empty()
        || core.cache.has_listener())
}

/// The common case answered without awaiting anything, when [`answers_from_cache`] allows it:
/// a fresh token in the cache and the endpoints known. `None` sends the call down the whole
/// flow, which looks again.
///
/// On a miss, `looked` keeps what it found out (see [`Looked`]). (An out-parameter: the hit,
/// the hot path, returns the bare `Option`.)
fn fresh_from_cache(
    core: &ClientCore,
    scopes: &PreparedScopes,
    looked: &mut Looked,
) -> Option<AuthenticationResult> {
    // Read before the lookup: a write in between makes this version stale, never the hit.
    // (`run` has asked the list's remembered hit already.)
    let version = core.cache.version();
    let (endpoints, key) = core.current_endpoints_keyed()?;
    let found = core.look_up_app_token(&key, scopes, |at, now| {
        at.refresh_on.is_none_or(|r| r > now).then(|| {
            let result = core.result_from_entries(at, None, None, "");
            scopes
                .hit
                .set(version, at.expires_on, at.refresh_on, &result);
            result
        })
    });
    looked.endpoints = Some((endpoints, key));
    let reason = match found {
        Lookup::Found(Some(result)) => {
            core.cache.after_access();
            return Some(result);
        }
        Lookup::Found(None) => {
            scopes.hit.clear();
            return None;
        }
        Lookup::Expired => RefreshReason::Expired,
        Lookup::Absent => RefreshReason::NoAccessToken,
    };
    scopes.hit.clear();
    looked.empty_at = Some((version, reason));
    None
}

/// The single-flight key of a token request: realm, lowercased scopes and the extra cache key,
/// written in a buffer the thread keeps and copied once into the shared key.
fn flight_key(realm: &str, scopes: &[String], ext_cache_key: Option<&str>) -> Arc<str> {
    thread_local! {
        static BUFFER: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    BUFFER.with_borrow_mut(|key| {
        key.clear();
        key.push_str(FLIGHT_KEY_PREFIX);
        key.push_str(realm);
        key.push('|');
        for (i, scope) in scopes.iter().enumerate() {
            if i > 0 {
                key.push(' ');
            }
            if scope.is_ascii() {
                let start = key.len();
                key.push_str(scope);
                key[start..].make_ascii_lowercase();
            } else {
                key.extend(scope.chars().flat_map(char::to_lowercase));
            }
        }
        key.push('|');
        key.push_str(ext_cache_key.unwrap_or(""));
        Arc::from(key.as_str())
    })
}

/// What every [`flight_key`] starts with.
const FLIGHT_KEY_PREFIX: &str = "client|";

/// Whether a [`flight_key`] was made for `realm` (which holds no `|`).
fn flight_key_is_for(key: &str, realm: &str) -> bool {
    key.as_bytes()
        .strip_prefix(FLIGHT_KEY_PREFIX.as_bytes())
        .and_then(|rest| rest.strip_prefix(realm.as_bytes()))
        .is_some_and(|rest| rest.first() == Some(&b'|'))
}

/// The whole flow: discovery, the cache (again, under the listener's hooks and the request
/// coalescer), the token request, filing the response.
///
/// `looked`: what [`fresh_from_cache`] found out. While the cache version is still the one at
/// which it found no usable token, the flow does not look again before the token request; the
/// endpoints it had are used as they are.
async fn acquire(
    core: &ClientCore,
    region: &RegionChoice,
    prepared: &PreparedScopes,
    options: &ForClientOptions,
    looked: Looked,
) -> Result<AuthenticationResult, Error> {
    let Looked {
        empty_at,
        endpoints,
    } = looked;
    let forwarded = Forwarded::new(options.forwarded_client_claims.as_deref())?;
    let mut request = core.begin_app_only(options.claims_challenge.as_deref())?;
    request.claims = forwarded.merge_into(request.claims.take())?;
    let scopes = &prepared.validated;
    let (endpoints, app_token_key) = match endpoints {
        Some((endpoints, key)) => (endpoints, Some(key)),
        None => (core.endpoints().await?, None),
    };
    let extra = match &options.fmi_path {
        Some(fmi) => {
            let mut extra = options.extra_parameters.clone();
            extra.insert("fmi_path".into(), fmi.clone());
            Cow::Owned(extra)
        }
        None => Cow::Borrowed(&options.extra_parameters),
    };
    // Forwarded client claims key the entry but are sent only inside `claims`.
    let ext_key = forwarded.ext_cache_key(&extra);
    let use_cache = !options.force_refresh && options.claims_challenge.is_none();
    // A fresh token becomes the result in place (only its secret and scopes are copied);
    // an aging one is kept whole, to fall back on if its refresh fails.
    let lookup = || {
        core.with_cached_app_token(&endpoints.realm, prepared, ext_key.as_deref(), |at, now| {
            if at.refresh_on.is_none_or(|r| r > now) {
                Cached::Fresh(core.result_from_entries(
                    at,
                    None,
                    None,
                    request.correlation_id_if_sent(),
                ))
            } else {
                Cached::Aging(at.clone())
            }
        })
    };
    // The partition is for the listener (persistence); without one it is not even formatted.
    let partition = core
        .cache
        .has_listener()
        .then(|| partition::app_partition(&core.client_id, &endpoints.realm));
    let access = CacheAccess::begin_async(&core.cache, partition.as_deref()).await;
    let result = async {
        // When nothing was filed between this lookup and holding the flight's lock, looking
        // again under the lock would find the same.
        let version = core.cache.version();
        let known_empty = empty_at.and_then(|(at, reason)| (at == version).then_some(reason));
        let mut aging = None;
        if use_cache && known_empty.is_none() {
            match lookup() {
                Some(Cached::Fresh(result)) => return Ok(result),
                Some(Cached::Aging(at)) => aging = Some(at),
                None => {}
            }
        }
        let reason = match (use_cache, &aging) {
            (false, _) => RefreshReason::ForceRefresh,
            (true, Some(_)) => RefreshReason::Aging,
            (true, None) => known_empty.unwrap_or_else(|| {
                core.app_miss_reason(&endpoints.realm, prepared, ext_key.as_deref())
            }),
        };
        request.report_as(ApiId::ForClient, reason);
        let key = match ext_key.as_deref() {
            None => prepared.app_flight_key(
                &endpoints,
                |key| flight_key_is_for(key, &endpoints.realm),
                || flight_key(&endpoints.realm, scopes, None),
            ),
            ext => flight_key(&endpoints.realm, scopes, ext),
        };
        let _flight = core.coalescer.lock(key).await;
        if use_cache
            && core.cache.version() != version
            && let Some(Cached::Fresh(result)) = lookup()
        {
            return Ok(result);
        }
        let region = region.region(&core.http, &core.authority).await;
        let token_endpoint = match region {
            Some(region) => Cow::Owned(authority::regional_token_endpoint(
                &core.authority,
                &endpoints,
                region,
            )?),
            None => Cow::Borrowed(endpoints.token_endpoint.as_str()),
        };
        let mut form =
            grants::client_credentials(&core.client_id, scopes, request.claims.as_deref());
        form.extend(
            extra
                .iter()
                .map(|(name, value)| (Cow::Owned(name.clone()), Cow::Borrowed(value.as_str()))),
        );
        let outcome = core.send(&request, &token_endpoint, form, Vec::new()).await;
        let correlation_id = request.correlation_id();
        let response = match (outcome, aging) {
            (Ok(r), _) => r,
            (Err(e), Some(at)) => {
                tracing::warn!(correlation_id, error = %e, "proactive refresh failed; using the cached access token");
                return Ok(core.result_from_cache(&at, None, correlation_id));
            }
            (Err(e), None) => return Err(e),
        };
        core.finish(&Issued {
            ext_cache_key: ext_key.as_deref(),
            skip_account_creation: true,
            app_token_key: app_token_key.as_ref(),
            ..Issued::response(
                &endpoints,
                &response,
                scopes,
                GrantType::ClientCredentials,
                core.now(),
                correlation_id,
            )
        })
    }
    .await;
    access.end().await;
    result
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures_util::future::BoxFuture;

    use crate::http::{HttpClient, HttpError, HttpRequest, HttpResponse};
    use crate::{ConfidentialClientApplication, TokenCache, TokenSource};

    /// Discovery for any GET; for a POST, a token `AT<n>` (n counts the POSTs) for the scope
    /// asked for.
    #[derive(Default)]
    struct Entra {
        posts: AtomicUsize,
    }

    impl HttpClient for Entra {
        fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
            let body = if request.method() == http::Method::GET {
                r#"{"authorization_endpoint": "https://login.microsoftonline.com/t/oauth2/v2.0/authorize",
                    "token_endpoint": "https://login.microsoftonline.com/t/oauth2/v2.0/token",
                    "issuer": "https://login.microsoftonline.com/t/v2.0"}"#
                    .to_string()
            } else {
                let n = self.posts.fetch_add(1, Ordering::SeqCst) + 1;
                format!(
                    r#"{{"access_token": "AT{n}", "token_type": "Bearer", "expires_in": 3600, "scope": "api://x/.default"}}"#
                )
            };
            let response = http::Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(body.into_bytes())
                .unwrap();
            Box::pin(async move { Ok(response) })
        }
    }

    #[test]
    fn a_flight_key_names_its_realm() {
        let scopes = ["A".to_string(), "b".to_string()];
        let key = super::flight_key("contoso.example", &scopes, Some("x"));
        assert_eq!(&*key, "client|contoso.example|a b|x");
        assert!(super::flight_key_is_for(&key, "contoso.example"));
        for other in ["contoso", "contoso.example.org", ""] {
            assert!(!super::flight_key_is_for(&key, other), "{other}");
        }
    }

    /// The remembered hit (`HitMemo`) is given only while the cache is unchanged: a removal, a
    /// `deserialize` or a new token for the same scopes is seen on the next call.
    #[tokio::test]
    async fn a_remembered_hit_follows_every_change_of_the_cache() {
        let entra = Arc::new(Entra::default());
        let cache = TokenCache::new();
        let app = ConfidentialClientApplication::builder("client")
            .authority("https://login.microsoftonline.com/t")
            .client_secret("s")
            .token_cache(cache.clone())
            .http_client(entra.clone())
            .build()
            .unwrap();
        let scopes = ["api://x/.default"];
        let get = || async {
            let r = app.acquire_token_for_client(&scopes).await.unwrap();
            (r.access_token.expose().to_string(), r.token_source)
        };
        assert_eq!(get().await, ("AT1".into(), TokenSource::IdentityProvider));
        // The first hit looks in the cache, the next ones are remembered.
        for _ in 0..3 {
            assert_eq!(get().await, ("AT1".into(), TokenSource::Cache));
        }
        app.remove_tokens_for_client();
        assert_eq!(get().await, ("AT2".into(), TokenSource::IdentityProvider));
        assert_eq!(get().await, ("AT2".into(), TokenSource::Cache));
        let saved = cache.serialize();
        app.remove_tokens_for_client();
        assert_eq!(get().await, ("AT3".into(), TokenSource::IdentityProvider));
        assert_eq!(get().await, ("AT3".into(), TokenSource::Cache));
        cache.deserialize(&saved).unwrap();
        assert_eq!(get().await, ("AT2".into(), TokenSource::Cache));
        assert_eq!(get().await, ("AT2".into(), TokenSource::Cache));
        // Bad scopes fail every time, remembered or not.
        for _ in 0..2 {
            assert!(app.acquire_token_for_client(&["openid"]).await.is_err());
        }
        assert_eq!(entra.posts.load(Ordering::SeqCst), 3);
    }
}
