//! Who may get what: scope parsing and delegated-permission checks, tenant membership, consent,
//! MFA, and redirect-URI registration. The token endpoint, the sign-in pages, the device-code
//! pages, the broker service and the control API all decide with these functions, so a rule
//! reads the same whichever front end a request came through.

use uuid::Uuid;

use crate::config::{AppConfig, UserConfig};
use crate::directory::TenantSegment;
use crate::errors::{self, EntraError};
use crate::scopes::{self, RequestedScopes, ScopeError};
use crate::state::AppState;

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

/// Records that `username` consented to `client_id` (the consent page, an approved device
/// code, an approved broker or control-API sign-in).
pub fn grant_consent(state: &AppState, username: &str, client_id: &str) {
    state.runtime().consents.insert((
        username.to_ascii_lowercase(),
        client_id.to_ascii_lowercase(),
    ));
}

/// AADSTS50076 with a claims challenge when the user needs MFA that was not performed.
pub fn check_mfa(user: &UserConfig, mfa_done: bool, resource: &str) -> Result<(), EntraError> {
    if user.mfa_required && !mfa_done {
        return Err(EntraError::new(errors::MFA_REQUIRED, &[resource])
            .with_claims(errors::mfa_claims_challenge()));
    }
    Ok(())
}

/// Whether `requested` matches a registered redirect URI. Loopback `http://localhost` and
/// `http://127.0.0.1` registrations match any port, as in Entra.
pub fn redirect_uri_registered(app: &AppConfig, requested: &str) -> bool {
    let Ok(req) = url::Url::parse(requested) else {
        return false;
    };
    app.redirect_uris.iter().any(|registered| {
        if registered == requested {
            return true;
        }
        let Ok(reg) = url::Url::parse(registered) else {
            return false;
        };
        let loopback = |u: &url::Url| {
            u.scheme() == "http"
                && matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
        };
        loopback(&reg)
            && loopback(&req)
            && reg.host_str() == req.host_str()
            && reg.path().trim_end_matches('/') == req.path().trim_end_matches('/')
            && reg.query() == req.query()
    })
}
