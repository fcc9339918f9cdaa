//! The silent flow for a signed-in account, as MSAL does it: a cached access token with at
//! least 300 s left; a proactive refresh after `refresh_on` that falls back to the cached token
//! when the identity provider fails; otherwise a refresh token, in MSAL's FOCI order (family
//! tokens first when this app's family is unknown or known, then the app's own), newest first.
//! A refresh token is never deleted on `invalid_grant`. Forwarded client claims are merged
//! into the refresh's `claims` and key the access token by their value.

use super::super::claims::Forwarded;
use super::super::core::{ClientCore, GrantType, Issued, oid_anchor};
use super::super::options::SilentOptions;
use super::super::request::Request;
use super::super::result::{Account, AuthenticationResult};
use super::super::telemetry::{ApiId, RefreshReason};
use crate::authority::Endpoints;
use crate::cache::{RefreshToken, RefreshTokenQuery};
use crate::error::{Classification, Error, ServiceError};
use crate::oauth::grants;

/// The family MSAL tries when an app's family is unknown.
const DEFAULT_FAMILY: &str = "1";

fn no_tokens(account: &Account) -> Error {
    Error::UiRequired(Box::new(ServiceError {
        error: "no_tokens_found".into(),
        error_description: format!(
            "No refresh token for {} is in the cache; sign the user in interactively.",
            if account.username.is_empty() {
                &account.home_account_id
            } else {
                &account.username
            }
        ),
        error_codes: Vec::new(),
        suberror: None,
        claims: None,
        correlation_id: None,
        trace_id: None,
        http_status: None,
        classification: Classification::None,
    }))
}

/// Runs the silent flow for `account`.
pub(crate) async fn acquire(
    core: &ClientCore,
    request: &Request,
    account: &Account,
    options: &SilentOptions,
) -> Result<AuthenticationResult, Error> {
    let scopes = &request.scopes;
    let forwarded = Forwarded::new(options.forwarded_client_claims.as_deref())?;
    // Forwarded client claims and the extra body parameters (`data`) key the entry together.
    let ext_key = forwarded.ext_cache_key(&request.extra);
    let ext_key = ext_key.as_deref();
    let refresh_with = Refresh {
        claims: forwarded.merge_into(request.claims.clone())?,
        ext_key,
    };
    let use_cache = !options.force_refresh && options.claims_challenge.is_none();
    if !use_cache {
        request.report_as(ApiId::Silent, RefreshReason::ForceRefresh);
    }
    // A fresh cached token needs no discovery when the realm is known from the authority
    // itself: the common case of a command-line tool answering from its cache.
    if use_cache
        && options.tenant.is_none()
        && let Some(realm) = core.authority.realm_without_discovery()
        && let Some(at) = core.cached_token(
            realm,
            Some(&account.home_account_id),
            scopes,
            ext_key,
            request.key_id(),
        )
        && at.refresh_on.is_none_or(|r| r > core.now())
    {
        return Ok(core.result_from_cache(
            &at,
            Some(account.clone()),
            request.correlation_id_if_sent(),
        ));
    }
    let endpoints = match &options.tenant {
        Some(tenant) => {
            let authority = core.authority.with_tenant(tenant)?;
            crate::authority::resolve_endpoints(&core.http, &authority, core.discovery).await?
        }
        None => core.endpoints().await?,
    };
    let lookup = || {
        core.cached_token(
            &endpoints.realm,
            Some(&account.home_account_id),
            scopes,
            ext_key,
            request.key_id(),
        )
    };
    if use_cache && let Some(at) = lookup() {
        let now = core.now();
        if at.refresh_on.is_none_or(|r| r > now) {
            return Ok(core.result_from_cache(
                &at,
                Some(account.clone()),
                request.correlation_id_if_sent(),
            ));
        }
        // Aging: refresh proactively, but keep the cached token if the identity provider fails.
        request.report_as(ApiId::Silent, RefreshReason::Aging);
        return match refresh(core, &endpoints, request, &refresh_with, account).await {
            Ok(fresh) => Ok(fresh),
            Err(e) => {
                let correlation_id = request.correlation_id_if_sent();
                tracing::warn!(correlation_id, error = %e, "proactive refresh failed; using the cached access token");
                Ok(core.result_from_cache(&at, Some(account.clone()), correlation_id))
            }
        };
    }
    let key = format!(
        "silent|{}|{}|{}|{}|{}",
        account.home_account_id,
        endpoints.realm,
        scopes.join(" ").to_lowercase(),
        request.key_id().unwrap_or_default(),
        ext_key.unwrap_or_default()
    );
    let _flight = core.coalescer.lock(key).await;
    if use_cache && let Some(at) = lookup() {
        return Ok(core.result_from_cache(
            &at,
            Some(account.clone()),
            request.correlation_id_if_sent(),
        ));
    }
    request.report_as(
        ApiId::Silent,
        core.miss_reason(
            &endpoints.realm,
            Some(&account.home_account_id),
            scopes,
            ext_key,
            request.key_id(),
        ),
    );
    refresh(core, &endpoints, request, &refresh_with, account).await
}

/// The refresh tokens to try, in MSAL's order, without duplicates: under the authority's host,
/// else under each of its cloud's aliases (a cache written through another host name).
async fn candidates(core: &ClientCore, account: &Account) -> Vec<RefreshToken> {
    let found = candidates_in(core, account, core.environment());
    if !found.is_empty() {
        return found;
    }
    let aliases = crate::authority::aliases(&core.http, &core.authority, core.discovery)
        .await
        .unwrap_or_default();
    for alias in aliases
        .iter()
        .filter(|a| !a.eq_ignore_ascii_case(core.environment()))
    {
        let found = candidates_in(core, account, alias);
        if !found.is_empty() {
            return found;
        }
    }
    Vec::new()
}

fn candidates_in(core: &ClientCore, account: &Account, environment: &str) -> Vec<RefreshToken> {
    let query = |client_id: Option<&str>, family_id: Option<&str>| {
        core.cache.find_refresh_tokens(&RefreshTokenQuery {
            environment,
            home_account_id: &account.home_account_id,
            client_id,
            family_id,
        })
    };
    let mut out: Vec<RefreshToken> = Vec::new();
    match core.cache.app_metadata(environment, &core.client_id) {
        None => out.extend(query(None, Some(DEFAULT_FAMILY))),
        Some(meta) => {
            if let Some(family) = meta.family_id.as_deref().filter(|f| !f.is_empty()) {
                out.extend(query(None, Some(family)));
            }
        }
    }
    for rt in query(Some(&core.client_id), None) {
        if !out.iter().any(|o| o.secret == rt.secret) {
            out.push(rt);
        }
    }
    out
}

/// What a refresh sends and files beyond the request: the `claims` parameter with forwarded
/// client claims merged in, and the extended cache key they give the new access token.
struct Refresh<'a> {
    claims: Option<String>,
    ext_key: Option<&'a str>,
}

async fn refresh(
    core: &ClientCore,
    endpoints: &Endpoints,
    request: &Request,
    with: &Refresh<'_>,
    account: &Account,
) -> Result<AuthenticationResult, Error> {
    let decorated = &request.decorated;
    let claims = with.claims.as_deref();
    let anchor = oid_anchor(&account.home_account_id);
    let mut last_error = None;
    for rt in candidates(core, account).await {
        let form = grants::refresh_token(&core.client_id, &rt.secret, decorated, claims);
        match core
            .send(request, &endpoints.token_endpoint, form, anchor.clone())
            .await
        {
            Ok(response) => {
                let now = core.now();
                if let Some(new_rt) = response.refresh_token() {
                    core.cache.update_refresh_token(&rt, new_rt, now);
                }
                let mut result = core.finish(&Issued {
                    skip_account_creation: true,
                    key_id: request.key_id(),
                    ext_cache_key: with.ext_key,
                    ..Issued::response(
                        endpoints,
                        &response,
                        decorated,
                        GrantType::RefreshToken,
                        now,
                        request.correlation_id(),
                    )
                })?;
                result.account = Some(std::sync::Arc::new(account.clone()));
                return Ok(result);
            }
            // Another app's family token rejected for this client: try the next one.
            Err(e)
                if e.service_error()
                    .is_some_and(|s| s.suberror.as_deref() == Some("client_mismatch")) =>
            {
                last_error = Some(e);
            }
            Err(
                e @ (Error::Network { .. }
                | Error::Throttled { .. }
                | Error::InvalidResponse { .. }),
            ) => return Err(e),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| no_tokens(account)))
}
