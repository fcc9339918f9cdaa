//! Redeeming a refresh token obtained elsewhere (migration); the tokens are cached.

use super::super::core::{CacheAccess, ClientCore, GrantType, Issued};
use super::super::result::AuthenticationResult;
use super::super::telemetry::{ApiId, RefreshReason};
use crate::error::Error;
use crate::oauth::grants;

/// Runs the flow.
pub(crate) async fn run(
    core: &ClientCore,
    refresh_token: &str,
    scopes: &[&str],
) -> Result<AuthenticationResult, Error> {
    let request = core.begin(scopes, None)?;
    request.report_as(ApiId::ByRefreshToken, RefreshReason::ForceRefresh);
    CacheAccess::around(&core.cache, None, async {
        let endpoints = core.endpoints().await?;
        let form = grants::refresh_token(
            &core.client_id,
            refresh_token,
            &request.decorated,
            request.claims.as_deref(),
        );
        let response = core
            .send(&request, &endpoints.token_endpoint, form, Vec::new())
            .await?;
        core.finish(&Issued::response(
            &endpoints,
            &response,
            &request.decorated,
            GrantType::RefreshToken,
            core.now(),
            request.correlation_id(),
        ))
    })
    .await
}
