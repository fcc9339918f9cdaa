//! Authorization completion: the code issued for a finished sign-in, or the error response,
//! addressed to the request's redirect URI. The sign-in pages and the control API both end a
//! pending `/authorize` request here; how the response reaches the browser (redirect or
//! form_post page) is the endpoint's business.

use serde::Serialize;

use super::tokens;
use crate::crypto::random_token;
use crate::errors::{self, EntraError, Trace};
use crate::secrets_log::SecretKind;
use crate::state::{AppState, AuthorizationCode, PendingAuthorization, SignIn};

/// The authorization response, ready to deliver to the app's redirect URI.
#[derive(Debug, Clone, Serialize)]
pub struct AuthorizationCompletion {
    /// Where it goes.
    pub redirect_uri: String,
    /// `query`, `fragment` or `form_post`.
    pub response_mode: String,
    /// `code`, `state`, `client_info`, ... or `error`, `error_description`, `state`.
    pub params: Vec<(String, String)>,
}

impl AuthorizationCompletion {
    /// The URL a browser is redirected to (query and fragment modes; for form_post, the URL
    /// with the parameters in the query, which is what a test can replay with a POST body).
    pub fn url(&self) -> String {
        let encoded = serde_urlencoded::to_string(&self.params).unwrap_or_default();
        let separator = match self.response_mode.as_str() {
            "fragment" => "#",
            _ if self.redirect_uri.contains('?') => "&",
            _ => "?",
        };
        format!("{}{separator}{encoded}", self.redirect_uri)
    }

    /// A parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The authorization response for a request that ends with `error` (Entra's error parameters,
/// and the request's `state`).
pub fn completion_error(
    state: &AppState,
    pending: &PendingAuthorization,
    error: &str,
    e: &EntraError,
) -> AuthorizationCompletion {
    let trace = Trace {
        trace_id: uuid::Uuid::new_v4().to_string(),
        correlation_id: uuid::Uuid::new_v4().to_string(),
        timestamp: state.clock.timestamp(),
    };
    let mut params = vec![
        ("error".to_string(), error.to_string()),
        ("error_description".to_string(), e.description(&trace)),
        (
            "error_uri".to_string(),
            format!(
                "https://login.microsoftonline.com/error?code={}",
                e.aadsts.code
            ),
        ),
    ];
    if let Some(s) = &pending.state {
        params.push(("state".to_string(), s.clone()));
    }
    AuthorizationCompletion {
        redirect_uri: pending.redirect_uri.clone(),
        response_mode: pending.response_mode.clone(),
        params,
    }
}

/// Issues the code for a finished sign-in.
pub fn complete(
    state: &AppState,
    pending: &PendingAuthorization,
    sign_in: SignIn,
) -> AuthorizationCompletion {
    let code = format!("1.emu.{}", random_token(64));
    let mut runtime = state.runtime();
    runtime.pending.remove(&pending.id);
    state.secrets.record(SecretKind::AuthorizationCode, &code);
    runtime.codes.insert(
        code.clone(),
        AuthorizationCode {
            client_id: pending.client_id.clone(),
            redirect_uri: pending.redirect_uri.clone(),
            sign_in: sign_in.clone(),
            scopes: pending.scopes.clone(),
            nonce: pending.nonce.clone(),
            code_challenge: pending.code_challenge.clone(),
            expires_at: state.clock.now()
                + state.settings.authorization_code_lifetime_seconds as i64,
            redeemed: false,
        },
    );
    drop(runtime);
    let mut params = vec![("code".to_string(), code)];
    if let Some(s) = &pending.state {
        params.push(("state".to_string(), s.clone()));
    }
    if pending.client_info
        && let Some(user) = state.directory.user(&sign_in.username)
    {
        params.push(("client_info".to_string(), tokens::client_info(user)));
    }
    params.push((
        "session_state".to_string(),
        uuid::Uuid::new_v4().to_string(),
    ));
    AuthorizationCompletion {
        redirect_uri: pending.redirect_uri.clone(),
        response_mode: pending.response_mode.clone(),
        params,
    }
}

/// Ends a pending request with `access_denied` (the user cancelled).
pub fn deny(state: &AppState, pending: &PendingAuthorization) -> AuthorizationCompletion {
    state.runtime().pending.remove(&pending.id);
    completion_error(
        state,
        pending,
        "access_denied",
        &EntraError::new(errors::CONSENT_DECLINED, &[]),
    )
}
