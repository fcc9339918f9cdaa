//! Username and password (ROPC): through the broker on macOS and Windows, else user-realm
//! discovery, then either the password grant (a managed domain) or, for a federated domain,
//! WS-Trust at the federation server and its SAML assertion redeemed at the token endpoint.

use super::super::brokered::{self, BrokerRoute};
use super::super::core::{CacheAccess, ClientCore, GrantType, Issued, anchor_mailbox};
use super::super::request::Request;
use super::super::result::AuthenticationResult;
use super::super::telemetry::{ApiId, RefreshReason};
use crate::authority::{self, UserRealm};
use crate::broker::{BrokerPlatform, BrokerStatus};
use crate::error::Error;
use crate::oauth::wstrust::response::SamlVersion;
use crate::oauth::{grants, wstrust};

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
            match brokered::username_password(
                core,
                route,
                backend.as_ref(),
                &request,
                username,
                password,
            )
            .await
            {
                // The macOS SSO extension has no password operation and says so; MSAL Python
                // then signs in without the broker, and so do we.
                Err(e) if broker_has_no_password_sign_in(&e) => {
                    tracing::debug!(
                        "the broker has no username/password sign-in; using the token endpoint"
                    );
                }
                other => return other,
            }
        }
        // The SAML grants are not in the form-based fallback of the telemetry headers.
        request.report_as(ApiId::UsernamePassword, RefreshReason::NotSilent);
        // A federated domain: the federation server's SAML assertion is the grant. A managed
        // one: the password itself, with the UPN as the routing hint.
        let (grant, form, anchor) = if let UserRealm::Federated(realm) =
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
            let form = grants::saml_bearer(
                &core.client_id,
                assertion.version.grant_type(),
                &assertion.xml,
                &request.decorated,
                request.claims.as_deref(),
            );
            (grant, form, Vec::new())
        } else {
            let form = grants::password(
                &core.client_id,
                username,
                password,
                &request.decorated,
                request.claims.as_deref(),
            );
            let anchor = anchor_mailbox(format!("UPN:{username}"));
            (GrantType::Password, form, anchor)
        };
        let endpoints = core.endpoints().await?;
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
                grant,
                core.now(),
                request.correlation_id(),
            )
        })
    })
    .await
}

/// Whether the broker answered that it has no username/password sign-in (the macOS SSO
/// extension's `FallbackToNativeMsal`): MSAL Python then uses the token endpoint itself.
fn broker_has_no_password_sign_in(e: &Error) -> bool {
    matches!(e, Error::Broker(b) if b.status == BrokerStatus::FallbackToNativeMsal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::BrokerError;

    #[test]
    fn only_the_brokers_fallback_answer_leads_to_the_token_endpoint() {
        let broker = |status| {
            Error::Broker(Box::new(BrokerError::new(
                BrokerPlatform::MacOs,
                status,
                "the macOS SSO extension has no username/password operation",
            )))
        };
        assert!(broker_has_no_password_sign_in(&broker(
            BrokerStatus::FallbackToNativeMsal
        )));
        assert!(!broker_has_no_password_sign_in(&broker(
            BrokerStatus::ApiContractViolation
        )));
        assert!(!broker_has_no_password_sign_in(&Error::configuration(
            "x".into()
        )));
    }
}
