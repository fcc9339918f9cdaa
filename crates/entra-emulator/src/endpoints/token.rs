//! `POST /{tenant}/oauth2/v2.0/token`: client authentication, then one handler per grant
//! (in [`super::grants`]).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use uuid::Uuid;

use super::client_auth::{self, Endpoint};
use super::{Form, grants};
use crate::config::{AppConfig, UserConfig};
use crate::directory::TenantSegment;
use crate::errors::{self, EntraError, Trace};
use crate::scopes::{self, RequestedScopes, ScopeError};
use crate::state::AppState;
use crate::tokens::ClientAuthMethod;

/// Everything a grant handler needs about the request.
pub struct TokenRequest<'a> {
    /// Shared state.
    pub state: &'a AppState,
    /// The form body.
    pub form: &'a Form,
    /// The tenant segment as sent.
    pub tenant_segment: &'a str,
    /// The tenant segment, resolved.
    pub segment: TenantSegment,
    /// The authenticated client.
    pub client: &'a AppConfig,
    /// How it authenticated.
    pub client_auth: ClientAuthMethod,
}

/// The token endpoint.
pub async fn token(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    Extension(trace): Extension<Trace>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&state, &tenant, &headers, &body) {
        Ok(json) => Json(json).into_response(),
        Err(e) => e.into_response_with(&trace),
    }
}

fn handle(
    state: &AppState,
    tenant: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<serde_json::Value, EntraError> {
    let form = Form::parse(headers, body)?;
    let segment = super::resolve_tenant(state, tenant)?;
    let grant_type = form.require("grant_type")?;
    let endpoint = Endpoint {
        tenant_segment: tenant,
        tenant_id: segment.id(),
    };
    let (client, client_auth) = client_auth::authenticate(state, &form, headers, &endpoint)?;
    let request = TokenRequest {
        state,
        form: &form,
        tenant_segment: tenant,
        segment,
        client,
        client_auth,
    };
    match grant_type {
        "authorization_code" => grants::authorization_code(&request),
        "refresh_token" => grants::refresh_token(&request),
        "urn:ietf:params:oauth:grant-type:device_code" | "device_code" => {
            grants::device_code(&request)
        }
        "password" => grants::password(&request),
        "client_credentials" => grants::client_credentials(&request),
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => grants::on_behalf_of(&request),
        other => Err(EntraError::new(errors::UNSUPPORTED_GRANT, &[other])),
    }
}

/// Parses a scope parameter into an Entra error on failure.
pub fn parse_scopes(value: &str) -> Result<RequestedScopes, EntraError> {
    RequestedScopes::parse(value).map_err(|e| match e {
        ScopeError::MultipleResources(s) | ScopeError::Invalid(s) => {
            EntraError::new(errors::INVALID_SCOPE, &[&s])
        }
    })
}

/// Checks that the client may request these delegated scopes.
pub fn check_delegated(client: &AppConfig, requested: &RequestedScopes) -> Result<(), EntraError> {
    let Some(resource) = &requested.resource else {
        return Ok(());
    };
    for name in &requested.names {
        let qualified = format!("{resource}/{name}");
        let ok = if name == ".default" {
            let prefix = format!("{}/", resource.to_ascii_lowercase());
            client.delegated_scopes.iter().any(|p| {
                scopes::qualify_pattern(p)
                    .to_ascii_lowercase()
                    .starts_with(&prefix)
            })
        } else {
            scopes::permitted(&client.delegated_scopes, &qualified)
        };
        if !ok {
            return Err(EntraError::new(errors::INVALID_SCOPE, &[&qualified]));
        }
    }
    Ok(())
}

/// The tenant a user's tokens are for: the named tenant (member or guest), or the home tenant
/// for `common` / `organizations`.
pub fn user_tenant(
    state: &AppState,
    segment: TenantSegment,
    user: &UserConfig,
) -> Result<Uuid, EntraError> {
    match segment {
        TenantSegment::Common | TenantSegment::Organizations => Ok(user.home_tenant),
        other => {
            let id = other.id().unwrap_or(user.home_tenant);
            if state.directory.is_member(user, id) {
                Ok(id)
            } else {
                Err(EntraError::new(
                    errors::USER_NOT_IN_TENANT,
                    &[&user.username, &id.to_string()],
                ))
            }
        }
    }
}

/// AADSTS65001 unless the user consented to the client.
pub fn check_consent(
    state: &AppState,
    user: &UserConfig,
    client: &AppConfig,
) -> Result<(), EntraError> {
    if state.has_consent(&user.username, &client.client_id) {
        return Ok(());
    }
    Err(EntraError::new(
        errors::CONSENT_REQUIRED,
        &[
            &client.client_id,
            client.display_name.as_deref().unwrap_or(&client.client_id),
        ],
    ))
}

/// AADSTS50076 with a claims challenge when the user needs MFA that was not performed.
pub fn check_mfa(user: &UserConfig, mfa_done: bool, resource: &str) -> Result<(), EntraError> {
    if user.mfa_required && !mfa_done {
        return Err(EntraError::new(errors::MFA_REQUIRED, &[resource])
            .with_claims(crate::tokens::mfa_claims_challenge()));
    }
    Ok(())
}
