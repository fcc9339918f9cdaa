//! Client credentials (`acquire_token_for_client`): an app-only token, from the cache while it
//! is fresh; a token past its `refresh_on` is refreshed, and kept when the refresh fails.

use super::super::core::{CacheAccess, ClientCore, GrantType, Issued};
use super::super::options::ForClientOptions;
use super::super::result::AuthenticationResult;
use crate::authority;
use crate::cache;
use crate::error::Error;
use crate::oauth::grants;
use crate::persistence::partition;

/// Runs the flow; `region` is the application's regional endpoint (ESTS-R), if any.
pub(crate) async fn run(
    core: &ClientCore,
    region: Option<&str>,
    scopes: &[&str],
    options: &ForClientOptions,
) -> Result<AuthenticationResult, Error> {
    let request = core.begin(scopes, options.claims_challenge.as_deref())?;
    let scopes = &request.scopes;
    let endpoints = core.endpoints().await?;
    let partition = partition::app_partition(&core.client_id, &endpoints.realm);
    CacheAccess::around(&core.cache, Some(&partition), async {
        let mut extra = options.extra_parameters.clone();
        if let Some(fmi) = &options.fmi_path {
            extra.insert("fmi_path".into(), fmi.clone());
        }
        let ext_key = cache::ext_cache_key(&extra);
        let use_cache = !options.force_refresh && options.claims_challenge.is_none();
        let lookup = || core.cached_token(&endpoints.realm, None, scopes, ext_key.as_deref());
        let mut aging = None;
        if use_cache && let Some(at) = lookup() {
            if at.refresh_on().is_none_or(|r| r > core.now()) {
                return Ok(core.result_from_cache(&at, None, request.correlation_id_if_sent()));
            }
            aging = Some(at);
        }
        let key = format!(
            "client|{}|{}|{}",
            endpoints.realm,
            scopes.join(" ").to_lowercase(),
            ext_key.as_deref().unwrap_or("")
        );
        let _flight = core.coalescer.lock(&key).await;
        if use_cache
            && let Some(at) = lookup().filter(|at| at.refresh_on().is_none_or(|r| r > core.now()))
        {
            return Ok(core.result_from_cache(&at, None, request.correlation_id_if_sent()));
        }
        let token_endpoint = match region {
            Some(region) => {
                authority::regional_token_endpoint(&core.authority, &endpoints, region)?
            }
            None => endpoints.token_endpoint.clone(),
        };
        let mut form =
            grants::client_credentials(&core.client_id, scopes, request.claims.as_deref());
        form.extend(extra);
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
