//! `/{tenant}/oauth2/v2.0/authorize`: validation, the sign-in pages, single sign-on through a
//! session cookie, and the authorization response (query, fragment or form_post).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::{Form, pages};
use crate::crypto::random_token;
use crate::errors::{self, EntraError, Trace};
use crate::rules::access::{
    check_consent, check_delegated, check_mfa, grant_consent, parse_scopes,
    redirect_uri_registered, user_tenant,
};
use crate::rules::authorization::{AuthorizationCompletion, complete, completion_error, deny};
use crate::state::{
    AppState, MAX_PENDING_AUTHORIZATIONS, PENDING_LIFETIME, PendingAuthorization, SignIn,
};

/// The browser-session cookie.
pub const SESSION_COOKIE: &str = "ESTSAUTHEMU";

/// Reads the session id from the `Cookie` header.
pub fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

/// Sends the authorization response to the browser: a redirect (query and fragment modes) or a
/// self-posting form (form_post).
fn respond(completion: AuthorizationCompletion) -> Response {
    match completion.response_mode.as_str() {
        "form_post" => pages::form_post(&completion.redirect_uri, &completion.params),
        _ => found(&completion.url()),
    }
}

/// A `302 Found` redirect, as Entra sends (axum's `Redirect::to` would send 303).
pub fn found(location: &str) -> Response {
    let mut response = axum::http::StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert("location", v);
    }
    response
}

fn action_url(pending: &PendingAuthorization) -> String {
    format!("/{}/oauth2/v2.0/authorize", pending.tenant_segment)
}

fn app_name(state: &AppState, client_id: &str) -> String {
    state
        .directory
        .app(client_id)
        .and_then(|a| a.display_name.clone())
        .unwrap_or_else(|| client_id.to_string())
}

fn login_page(state: &AppState, pending: &PendingAuthorization, error: Option<&str>) -> Response {
    pages::login(
        &action_url(pending),
        &pending.id,
        &app_name(state, &pending.client_id),
        pending.login_hint.as_deref(),
        error,
    )
}

/// `GET /{tenant}/oauth2/v2.0/authorize`.
pub async fn start(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    Extension(trace): Extension<Trace>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let mut params = HashMap::new();
    for (k, v) in query {
        params.entry(k).or_insert(v);
    }
    match validate(&state, &tenant, &params) {
        Err(Invalid::Page(e)) => pages::error(&e, &trace),
        Err(Invalid::Redirect(completion)) => respond(completion),
        Ok(pending) => {
            state.runtime().insert_pending(
                pending.clone(),
                PENDING_LIFETIME,
                MAX_PENDING_AUTHORIZATIONS,
            );
            route_signed_in(&state, pending, session_id(&headers))
        }
    }
}

enum Invalid {
    Page(EntraError),
    Redirect(AuthorizationCompletion),
}

fn validate(
    state: &AppState,
    tenant: &str,
    params: &HashMap<String, String>,
) -> Result<PendingAuthorization, Invalid> {
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    super::resolve_tenant(state, tenant).map_err(Invalid::Page)?;
    let client_id = get("client_id")
        .ok_or_else(|| Invalid::Page(EntraError::new(errors::MISSING_PARAMETER, &["client_id"])))?;
    let app = state.directory.app(client_id).ok_or_else(|| {
        Invalid::Page(EntraError::new(errors::APP_NOT_FOUND, &[client_id, tenant]))
    })?;
    let redirect_uri = get("redirect_uri")
        .ok_or_else(|| Invalid::Page(EntraError::new(errors::NO_REPLY_ADDRESS, &[])))?;
    if !redirect_uri_registered(app, redirect_uri) {
        return Err(Invalid::Page(EntraError::new(
            errors::REDIRECT_URI_MISMATCH,
            &[redirect_uri, &app.client_id],
        )));
    }
    let response_mode = get("response_mode").unwrap_or("query").to_string();
    let mut pending = PendingAuthorization {
        id: random_token(24),
        tenant_segment: tenant.to_string(),
        client_id: app.client_id.clone(),
        redirect_uri: redirect_uri.to_string(),
        scopes: Default::default(),
        state: get("state").map(str::to_string),
        nonce: get("nonce").map(str::to_string),
        code_challenge: get("code_challenge").map(str::to_string),
        response_mode: if matches!(response_mode.as_str(), "query" | "fragment" | "form_post") {
            response_mode.clone()
        } else {
            "query".into()
        },
        prompt: get("prompt").map(str::to_string),
        login_hint: get("login_hint").map(str::to_string),
        domain_hint: get("domain_hint").map(str::to_string),
        max_age: get("max_age").and_then(|v| v.parse().ok()),
        claims: get("claims").map(str::to_string),
        client_info: get("client_info") == Some("1"),
        sign_in: None,
        consented: false,
        created_at: state.clock.now(),
        received: std::time::Instant::now(),
    };
    let fail = |pending: &PendingAuthorization, error: &str, e: EntraError| {
        Invalid::Redirect(completion_error(state, pending, error, &e))
    };
    if pending.response_mode != response_mode {
        return Err(fail(
            &pending,
            "invalid_request",
            EntraError::new(
                errors::MALFORMED_REQUEST,
                &[&format!(
                    "response_mode '{response_mode}' is not supported."
                )],
            ),
        ));
    }
    let response_type = get("response_type").unwrap_or("");
    if response_type != "code" {
        return Err(fail(
            &pending,
            "unsupported_response_type",
            EntraError::new(errors::RESPONSE_TYPE_UNSUPPORTED, &[response_type]),
        ));
    }
    let scope = get("scope").ok_or_else(|| {
        fail(
            &pending,
            "invalid_request",
            EntraError::new(errors::MISSING_PARAMETER, &["scope"]),
        )
    })?;
    let scopes = parse_scopes(scope).map_err(|e| fail(&pending, "invalid_scope", e))?;
    check_delegated(app, &scopes).map_err(|e| fail(&pending, "invalid_scope", e))?;
    pending.scopes = scopes;
    if pending.code_challenge.is_some() && get("code_challenge_method") != Some("S256") {
        return Err(fail(
            &pending,
            "invalid_request",
            EntraError::new(
                errors::MALFORMED_REQUEST,
                &["The code_challenge_method must be 'S256'; 'plain' is not supported."],
            ),
        ));
    }
    if params.contains_key("max_age") && pending.max_age.is_none() {
        return Err(fail(
            &pending,
            "invalid_request",
            EntraError::new(
                errors::MALFORMED_REQUEST,
                &["max_age must be a number of seconds."],
            ),
        ));
    }
    if let Some(p) = &pending.prompt
        && !matches!(
            p.as_str(),
            "none" | "login" | "consent" | "select_account" | "create"
        )
    {
        return Err(fail(
            &pending,
            "invalid_request",
            EntraError::new(
                errors::MALFORMED_REQUEST,
                &[&format!("prompt '{p}' is not supported.")],
            ),
        ));
    }
    if let Some(claims) = &pending.claims
        && serde_json::from_str::<serde_json::Value>(claims).is_err()
    {
        return Err(fail(
            &pending,
            "invalid_request",
            EntraError::new(
                errors::MALFORMED_REQUEST,
                &["The claims parameter is not valid JSON."],
            ),
        ));
    }
    Ok(pending)
}

fn session_users(state: &AppState, session: Option<&str>) -> Vec<SignIn> {
    session
        .and_then(|s| state.runtime().sessions.get(s).cloned())
        .unwrap_or_default()
}

fn fresh_enough(state: &AppState, pending: &PendingAuthorization, sign_in: &SignIn) -> bool {
    pending
        .max_age
        .is_none_or(|max| state.clock.now() - sign_in.auth_time <= max)
}

/// Decides the first page from the prompt, the login hint and the browser session.
fn route_signed_in(
    state: &AppState,
    pending: PendingAuthorization,
    session: Option<String>,
) -> Response {
    let users = session_users(state, session.as_deref());
    let hinted = pending
        .login_hint
        .as_deref()
        .and_then(|h| users.iter().find(|u| u.username.eq_ignore_ascii_case(h)));
    let matched = hinted
        .or(if pending.login_hint.is_none() && users.len() == 1 {
            users.first()
        } else {
            None
        })
        .cloned();
    // A known user whose sign-in is older than max_age must enter the password again.
    if let Some(stale) = matched
        .as_ref()
        .filter(|s| !fresh_enough(state, &pending, s))
        && pending.prompt.as_deref() != Some("none")
    {
        let mut pending = pending;
        pending.login_hint = Some(stale.username.clone());
        state.runtime().insert_pending(
            pending.clone(),
            PENDING_LIFETIME,
            MAX_PENDING_AUTHORIZATIONS,
        );
        return login_page(state, &pending, None);
    }
    let candidate = matched.filter(|s| fresh_enough(state, &pending, s));
    match pending.prompt.as_deref() {
        Some("none") => {
            let Some(sign_in) = candidate else {
                return deny_with(
                    state,
                    &pending,
                    "login_required",
                    EntraError::new(errors::LOGIN_REQUIRED, &[]),
                );
            };
            let Some(user) = state.directory.user(&sign_in.username) else {
                return deny_with(
                    state,
                    &pending,
                    "login_required",
                    EntraError::new(errors::LOGIN_REQUIRED, &[]),
                );
            };
            // The same rules as the token endpoint and the broker, answered on the redirect URI.
            if let Err(e) = check_mfa(user, sign_in.mfa, &pending.scopes.resource_or_graph()) {
                return deny_with(state, &pending, "interaction_required", e);
            }
            if let Some(app) = state.directory.app(&pending.client_id)
                && let Err(e) = check_consent(state, user, app)
            {
                return deny_with(state, &pending, "consent_required", e);
            }
            finish(state, &pending, sign_in, session)
        }
        Some("login") | Some("create") => login_page(state, &pending, None),
        Some("select_account") if !users.is_empty() => {
            pages::account_picker(&action_url(&pending), &pending.id, &usernames(&users))
        }
        _ => match candidate {
            Some(sign_in) => proceed(state, pending, sign_in, session),
            None if !users.is_empty() && pending.login_hint.is_none() => {
                pages::account_picker(&action_url(&pending), &pending.id, &usernames(&users))
            }
            None => login_page(state, &pending, None),
        },
    }
}

fn usernames(users: &[SignIn]) -> Vec<String> {
    users.iter().map(|u| u.username.clone()).collect()
}

fn deny_with(
    state: &AppState,
    pending: &PendingAuthorization,
    error: &str,
    e: EntraError,
) -> Response {
    state.runtime().pending.remove(&pending.id);
    respond(completion_error(state, pending, error, &e))
}

/// After the user is known: MFA, then consent, then the code.
fn proceed(
    state: &AppState,
    mut pending: PendingAuthorization,
    sign_in: SignIn,
    session: Option<String>,
) -> Response {
    let Some(user) = state.directory.user(&sign_in.username) else {
        return login_page(state, &pending, Some("This account no longer exists."));
    };
    if user.mfa_required && !sign_in.mfa {
        pending.sign_in = Some(sign_in.clone());
        state.runtime().insert_pending(
            pending.clone(),
            PENDING_LIFETIME,
            MAX_PENDING_AUTHORIZATIONS,
        );
        return pages::mfa(&action_url(&pending), &pending.id, &sign_in.username);
    }
    let consent_needed = !state.has_consent(&user.username, &pending.client_id)
        || pending.prompt.as_deref() == Some("consent");
    if consent_needed && !pending.consented {
        pending.sign_in = Some(sign_in);
        state.runtime().insert_pending(
            pending.clone(),
            PENDING_LIFETIME,
            MAX_PENDING_AUTHORIZATIONS,
        );
        return pages::consent(
            &action_url(&pending),
            &pending.id,
            &app_name(state, &pending.client_id),
            &pending.scopes.qualified(),
        );
    }
    finish(state, &pending, sign_in, session)
}

/// Records the sign-in in the browser session, then redirects with the code.
fn finish(
    state: &AppState,
    pending: &PendingAuthorization,
    sign_in: SignIn,
    session: Option<String>,
) -> Response {
    let session = session.unwrap_or_else(|| random_token(24));
    {
        let mut runtime = state.runtime();
        let users = runtime.sessions.entry(session.clone()).or_default();
        users.retain(|u| !u.username.eq_ignore_ascii_case(&sign_in.username));
        users.push(sign_in.clone());
    }
    let mut response = respond(complete(state, pending, sign_in));
    let secure = if state.base_url.starts_with("https") {
        "; Secure"
    } else {
        ""
    };
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=None{secure}"
    )) {
        response.headers_mut().append("set-cookie", v);
    }
    response
}

/// `POST /{tenant}/oauth2/v2.0/authorize`: the sign-in pages' forms.
pub async fn submit(
    State(state): State<Arc<AppState>>,
    Path(_tenant): Path<String>,
    Extension(trace): Extension<Trace>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match Form::parse(&headers, &body) {
        Ok(f) => f,
        Err(e) => return pages::error(&e, &trace),
    };
    let pending = form
        .get("request_id")
        .and_then(|id| state.runtime().live_pending(id).cloned());
    let Some(mut pending) = pending else {
        let e = EntraError::new(
            errors::INVALID_GRANT,
            &[
                "The sign-in request has expired or was already completed. Start the sign-in again from the application.",
            ],
        );
        return pages::error(&e, &trace);
    };
    let session = session_id(&headers);
    match form.get("action").unwrap_or("login") {
        "cancel" => respond(deny(&state, &pending)),
        "other" => login_page(&state, &pending, None),
        "pick" => {
            let picked = form.get("username").unwrap_or("");
            let found = session_users(&state, session.as_deref())
                .into_iter()
                .find(|u| u.username.eq_ignore_ascii_case(picked));
            match found {
                Some(sign_in) if fresh_enough(&state, &pending, &sign_in) => {
                    proceed(&state, pending, sign_in, session)
                }
                _ => {
                    pending.login_hint = Some(picked.to_string());
                    login_page(&state, &pending, None)
                }
            }
        }
        "mfa" => match pending.sign_in.clone() {
            Some(mut sign_in) => {
                sign_in.mfa = true;
                proceed(&state, pending, sign_in, session)
            }
            None => login_page(&state, &pending, None),
        },
        "consent" => match pending.sign_in.clone() {
            Some(sign_in) => {
                grant_consent(&state, &sign_in.username, &pending.client_id);
                pending.consented = true;
                proceed(&state, pending, sign_in, session)
            }
            None => login_page(&state, &pending, None),
        },
        _ => {
            let username = form.get("username").unwrap_or("");
            let Some(user) = state.directory.user(username) else {
                return login_page(
                    &state,
                    &pending,
                    Some(
                        "This username may be incorrect. Make sure you typed it correctly (AADSTS50034).",
                    ),
                );
            };
            if user.password != form.get("password").unwrap_or("") {
                return login_page(
                    &state,
                    &pending,
                    Some("Your account or password is incorrect (AADSTS50126)."),
                );
            }
            let segment = state.directory.tenant_segment(&pending.tenant_segment);
            let tenant = match segment.map(|s| user_tenant(&state, s, user)) {
                Some(Ok(t)) => t,
                Some(Err(e)) => return login_page(&state, &pending, Some(&e.message)),
                None => return login_page(&state, &pending, Some("Unknown tenant.")),
            };
            let sign_in = SignIn {
                username: user.username.clone(),
                tenant,
                auth_time: state.clock.now(),
                mfa: false,
            };
            proceed(&state, pending, sign_in, session)
        }
    }
}
