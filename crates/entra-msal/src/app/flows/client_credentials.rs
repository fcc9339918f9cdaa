//! Client credentials (`acquire_token_for_client`): an app-only token, from the cache while it
//! is fresh; a token past its `refresh_on` is refreshed, and kept when the refresh fails.

use std::borrow::Cow;

use super::super::claims::Forwarded;
use super::super::core::{CacheAccess, ClientCore, GrantType, Issued};
use super::super::options::ForClientOptions;
use super::super::result::AuthenticationResult;
use super::super::telemetry::{ApiId, RefreshReason};
use crate::authority;
use crate::cache;
use crate::error::Error;
use crate::oauth::grants;
use crate::persistence::partition;

/// A token found in the cache: fresh (already the result) or past its `refresh_on`.
enum Cached {
    Fresh(AuthenticationResult),
    Aging(cache::AccessToken),
}

/// Runs the flow; `region` is the application's regional endpoint (ESTS-R), if any.
pub(crate) async fn run(
    core: &ClientCore,
    region: Option<&str>,
    scopes: &[&str],
    options: &ForClientOptions,
) -> Result<AuthenticationResult, Error> {
    let forwarded = Forwarded::new(options.forwarded_client_claims.as_deref())?;
    let mut request = core.begin_app_only(scopes, options.claims_challenge.as_deref())?;
    request.claims = forwarded.merge_into(request.claims.take())?;
    let scopes = &request.scopes;
    let endpoints = core.endpoints().await?;
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
        core.with_cached_token(
            &endpoints.realm,
            None,
            scopes,
            ext_key.as_deref(),
            |at, now| {
                if at.refresh_on().is_none_or(|r| r > now) {
                    Cached::Fresh(core.result_from_entries(
                        at,
                        None,
                        None,
                        request.correlation_id_if_sent(),
                    ))
                } else {
                    Cached::Aging(at.clone())
                }
            },
        )
    };
    let has_listener = core.cache.has_listener();
    // Without a listener the access hooks do nothing but clear the changed flag: a fresh token
    // is answered before the operation's (large) future is built.
    let mut found = None;
    if use_cache && !has_listener {
        match lookup() {
            Some(Cached::Fresh(result)) => {
                core.cache.after_access();
                return Ok(result);
            }
            other => found = Some(other),
        }
    }
    // The partition is for the listener (persistence); without one it is not even formatted.
    let partition =
        has_listener.then(|| partition::app_partition(&core.client_id, &endpoints.realm));
    CacheAccess::around(&core.cache, partition.as_deref(), async {
        let mut aging = None;
        if use_cache {
            match found.unwrap_or_else(lookup) {
                Some(Cached::Fresh(result)) => return Ok(result),
                Some(Cached::Aging(at)) => aging = Some(at),
                None => {}
            }
        }
        let reason = match (use_cache, &aging) {
            (false, _) => RefreshReason::ForceRefresh,
            (true, Some(_)) => RefreshReason::Aging,
            (true, None) => core.miss_reason(&endpoints.realm, None, scopes, ext_key.as_deref(), None),
        };
        request.report_as(ApiId::ForClient, reason);
        let key = format!(
            "client|{}|{}|{}",
            endpoints.realm,
            scopes.join(" ").to_lowercase(),
            ext_key.as_deref().unwrap_or("")
        );
        let _flight = core.coalescer.lock(&key).await;
        if use_cache && let Some(Cached::Fresh(result)) = lookup() {
            return Ok(result);
        }
        let token_endpoint = match region {
            Some(region) => {
                authority::regional_token_endpoint(&core.authority, &endpoints, region)?
            }
            None => endpoints.token_endpoint.clone(),
        };
        let mut form =
            grants::client_credentials(&core.client_id, scopes, request.claims.as_deref());
        form.extend(extra.into_owned());
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
            ..Issued::response(
                &endpoints,
                &response,
                scopes,
                GrantType::ClientCredentials,
                core.now(),
                correlation_id,
            )
        })
    })
    .await
}
