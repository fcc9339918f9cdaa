//! The device authorization grant: `POST /{tenant}/oauth2/v2.0/devicecode` and the
//! `/devicelogin` pages where the user enters the code and signs in.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;

use super::{Form, pages};
use crate::crypto::random_token;
use crate::errors::{self, EntraError, Trace};
use crate::rules::access::{check_delegated, parse_scopes, user_tenant};
use crate::rules::device::{approve, decline, find_pending};
use crate::state::{AppState, DeviceCodeRecord, DeviceCodeStatus, SignIn};

const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ23456789";

fn user_code() -> String {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    (0..9)
        .map(|_| USER_CODE_ALPHABET[rng.gen_range(0..USER_CODE_ALPHABET.len())] as char)
        .collect()
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`.
pub async fn devicecode(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    Extension(trace): Extension<Trace>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match start(&state, &tenant, &headers, &body) {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response_with(&trace),
    }
}

fn start(
    state: &AppState,
    tenant: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<serde_json::Value, EntraError> {
    let form = Form::parse(headers, body)?;
    super::resolve_tenant(state, tenant)?;
    let client_id = form.require("client_id")?;
    let client = state
        .directory
        .app(client_id)
        .ok_or_else(|| EntraError::new(errors::APP_NOT_FOUND, &[client_id, tenant]))?;
    let scopes = parse_scopes(form.require("scope")?)?;
    check_delegated(client, &scopes)?;
    let device_code = format!("DAQABIQEAAAB{}", random_token(48));
    let user_code = user_code();
    let lifetime = state.device_code_lifetime();
    let interval = state.device_code_interval();
    state
        .secrets
        .record(crate::secrets_log::SecretKind::DeviceCode, &device_code);
    let now = state.clock.now();
    state.runtime().insert_device_code(
        device_code.clone(),
        DeviceCodeRecord {
            user_code: user_code.clone(),
            client_id: client.client_id.clone(),
            tenant_segment: tenant.to_string(),
            scopes,
            expires_at: now.saturating_add(lifetime.min(i64::MAX as u64) as i64),
            status: DeviceCodeStatus::Pending,
            sign_in: None,
        },
        now,
        crate::state::MAX_DEVICE_CODES,
    );
    let uri = format!("{}/devicelogin", state.base_url);
    Ok(json!({
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": uri,
        "expires_in": lifetime,
        "interval": interval,
        "message": format!("To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."),
    }))
}

/// `GET /devicelogin`: the code entry page (`?otc=CODE` pre-fills and skips it).
pub async fn page(
    State(state): State<Arc<AppState>>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Response {
    match query.get("otc") {
        Some(code) => code_entered(&state, code),
        None => pages::device_code_entry(None),
    }
}

fn app_name(state: &AppState, client_id: &str) -> String {
    state
        .directory
        .app(client_id)
        .and_then(|a| a.display_name.clone())
        .unwrap_or_else(|| client_id.to_string())
}

fn code_entered(state: &AppState, user_code: &str) -> Response {
    match find_pending(state, user_code) {
        Some((_, record)) => {
            pages::device_login(&record.user_code, &app_name(state, &record.client_id), None)
        }
        None => {
            pages::device_code_entry(Some("That code didn't work. Check the code and try again."))
        }
    }
}

/// `POST /devicelogin`: code entry, sign-in, MFA, or decline.
pub async fn submit(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(form) = Form::parse(&headers, &body) else {
        return pages::device_code_entry(Some("The form could not be read."));
    };
    let user_code = form.get("user_code").unwrap_or("");
    let action = form.get("action").unwrap_or("code");
    if action == "code" {
        return code_entered(&state, user_code);
    }
    let Some((device_code, record)) = find_pending(&state, user_code) else {
        return pages::device_code_entry(Some("That code has expired or was already used."));
    };
    let app = app_name(&state, &record.client_id);
    match action {
        "decline" => {
            decline(&state, &device_code);
            pages::message(
                "Sign-in canceled",
                "You have declined to sign in to the application on your device. You may now close this window.",
            )
        }
        "mfa" => match record.sign_in.clone() {
            Some(mut sign_in) => {
                sign_in.mfa = true;
                approve(&state, &device_code, sign_in);
                done(&app)
            }
            None => pages::device_login(&record.user_code, &app, Some("Sign in first.")),
        },
        _ => {
            let username = form.get("username").unwrap_or("");
            let password = form.get("password").unwrap_or("");
            let Some(user) = state
                .directory
                .user(username)
                .filter(|u| u.password == password)
            else {
                return pages::device_login(
                    &record.user_code,
                    &app,
                    Some("Your account or password is incorrect."),
                );
            };
            let segment = state.directory.tenant_segment(&record.tenant_segment);
            let tenant = match segment.map(|s| user_tenant(&state, s, user)) {
                Some(Ok(t)) => t,
                Some(Err(e)) => {
                    return pages::device_login(&record.user_code, &app, Some(&e.message));
                }
                None => {
                    return pages::device_login(&record.user_code, &app, Some("Unknown tenant."));
                }
            };
            let sign_in = SignIn {
                username: user.username.clone(),
                tenant,
                auth_time: state.clock.now(),
                mfa: false,
            };
            if user.mfa_required {
                if let Some(r) = state.runtime().device_codes.get_mut(&device_code) {
                    r.sign_in = Some(sign_in);
                }
                return pages::device_mfa(&record.user_code, &user.username);
            }
            approve(&state, &device_code, sign_in);
            done(&app)
        }
    }
}

fn done(app: &str) -> Response {
    pages::message(
        "You're signed in",
        &format!(
            "You have signed in to the {app} application on your device. You may now close this window."
        ),
    )
}
