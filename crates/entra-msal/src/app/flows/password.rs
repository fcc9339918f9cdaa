//! Username and password (ROPC): through the broker on macOS and Windows, else the password
//! grant after user-realm discovery (a federated domain gets an error naming the flows to use).

use super::super::brokered::{self, BrokerRoute};
use super::super::core::{CacheAccess, ClientCore, GrantType, Issued};
use super::super::request::Request;
use super::super::result::AuthenticationResult;
use crate::authority::{self, UserRealm};
use crate::broker::BrokerPlatform;
use crate::error::Error;
use crate::oauth::grants;

/// Runs the flow; `broker` is the application's broker route, if it has one.
pub(crate) async fn run(
    core: &ClientCore,
    broker: Option<&BrokerRoute>,
    username: &str,
    password: &str,
    request: Request,
) -> Result<AuthenticationResult, Error> {
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
        if let UserRealm::Federated { protocol } =
            authority::user_realm(&core.http, &core.authority, username).await
        {
            return Err(Error::unsupported(
                "username/password sign-in for a federated account",
                format!(
                    "{username} belongs to a federated domain ({}): its password is checked by another identity provider; use acquire_token_interactive or the device-code flow",
                    protocol.unwrap_or_else(|| "federated".into())
                ),
            ));
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
            key_id: request.key_id(),
            ext_cache_key: request.ext_cache_key(),
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
