//! `/{tenant}/oauth2/v2.0/logout`: ends the browser session.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::authorize::{SESSION_COOKIE, session_id};
use super::pages;
use crate::state::AppState;

/// Signs the browser out (one account with `logout_hint`, else all) and redirects to a
/// registered `post_logout_redirect_uri`.
pub async fn logout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(session) = session_id(&headers) {
        let mut runtime = state.runtime();
        match query.get("logout_hint") {
            Some(hint) => {
                if let Some(users) = runtime.sessions.get_mut(&session) {
                    users.retain(|s| !s.username.eq_ignore_ascii_case(hint));
                }
            }
            None => {
                runtime.sessions.remove(&session);
            }
        }
    }
    let registered = |uri: &str| {
        state
            .directory
            .config()
            .applications
            .iter()
            .any(|a| a.redirect_uris.iter().any(|r| r == uri))
    };
    let mut response = match query.get("post_logout_redirect_uri") {
        Some(uri) if registered(uri) => super::authorize::found(uri),
        _ => pages::message(
            "You signed out of your account",
            "It's a good idea to close all browser windows.",
        ),
    };
    if !query.contains_key("logout_hint")
        && let Ok(v) = format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly").parse()
    {
        response.headers_mut().insert("set-cookie", v);
    }
    response
}
