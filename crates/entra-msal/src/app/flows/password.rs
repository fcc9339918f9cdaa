//! Username and password (ROPC): through the broker on macOS and Windows, else user-realm
//! discovery, then either the password grant (a managed domain) or, for a federated domain,
//! WS-Trust at the federation server and its SAML assertion redeemed at the token endpoint.

use super::super::brokered::{self, BrokerRoute};
use super::super::core::{CacheAccess, ClientCore, GrantType, Issued};
use super::super::result::AuthenticationResult;
use crate::authority::{self, UserRealm};
use crate::broker::BrokerPlatform;
use crate::error::Error;
use crate::oauth::wstrust::response::SamlVersion;
use crate::oauth::{grants, wstrust};

/// Runs the flow; `broker` is the application's broker route, if it has one.
pub(crate) async fn run(
    core: &ClientCore,
    broker: Option<&BrokerRoute>,
    username: &str,
    password: &str,
    scopes: &[&str],
) -> Result<AuthenticationResult, Error> {
    let request = core.begin(scopes, None)?;
    CacheAccess::around(&core.cache, None, async {
        // Through the broker on macOS and Windows only (MSAL Python 1.39).
        if let Some(route) = broker.filter(|r| {
            matches!(
                r.platform(),
                BrokerPlatform::MacOs | BrokerPlatform::Windows
            )
        }) && let Some(backend) = route.backend().await
        {
            return brokered::username_password(
                core,
                route,
                backend.as_ref(),
                &request,
                username,
                password,
            )
            .await;
        }
        if let UserRealm::Federated(realm) =
            authority::user_realm(&core.http, &core.authority, username).await
        {
            let assertion = wstrust::saml_assertion(
                &core.http,
                &core.authority,
                &realm,
                username,
                password,
                core.now(),
            )
            .await?;
            let grant = match assertion.version {
                SamlVersion::V1_1 => GrantType::Saml11Bearer,
                SamlVersion::V2 => GrantType::Saml2Bearer,
            };
            let endpoints = core.endpoints().await?;
            let form = grants::saml_bearer(
                &core.client_id,
                assertion.version.grant_type(),
                &assertion.xml,
                &request.decorated,
                request.claims.as_deref(),
            );
            let response = core
                .send(&request, &endpoints.token_endpoint, form, Vec::new())
                .await?;
            return core.finish(&Issued {
                username: Some(username),
                ..Issued::response(
                    &endpoints,
                    &response,
                    &request.decorated,
                    grant,
                    core.now(),
                    request.correlation_id(),
                )
            });
        }
        let endpoints = core.endpoints().await?;
        let form = grants::password(
            &core.client_id,
            username,
            password,
            &request.decorated,
            request.claims.as_deref(),
        );
        let anchor = vec![("X-AnchorMailbox".to_string(), format!("UPN:{username}"))];
        let response = core
            .send(&request, &endpoints.token_endpoint, form, anchor)
            .await?;
        core.finish(&Issued {
            username: Some(username),
            ..Issued::response(
                &endpoints,
                &response,
                &request.decorated,
                GrantType::Password,
                core.now(),
                request.correlation_id(),
            )
        })
    })
    .await
}
