//! OIDC discovery, instance discovery and the signing keys (JWKS).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Value, json};

use crate::directory::TenantSegment;
use crate::errors::{self, EntraError, Trace};
use crate::state::AppState;

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
pub async fn openid_configuration(
    State(state): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    Extension(trace): Extension<Trace>,
) -> Response {
    let segment = match super::resolve_tenant(&state, &tenant) {
        Ok(s) => s,
        Err(e) => return e.into_response_with(&trace),
    };
    let (path_tenant, issuer_tenant) = match segment {
        TenantSegment::Tenant(id) => (id.to_string(), id.to_string()),
        TenantSegment::Consumers => (
            "consumers".to_string(),
            crate::directory::CONSUMERS_TENANT.to_string(),
        ),
        TenantSegment::Common => ("common".to_string(), "{tenantid}".to_string()),
        TenantSegment::Organizations => ("organizations".to_string(), "{tenantid}".to_string()),
    };
    Json(openid_document(
        &state.base_url,
        &path_tenant,
        &issuer_tenant,
    ))
    .into_response()
}

/// The discovery document for a tenant path segment and issuer tenant.
pub fn openid_document(base: &str, tenant: &str, issuer_tenant: &str) -> Value {
    json!({
        "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{base}/{issuer_tenant}/v2.0"),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/{tenant}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "kerberos_endpoint": format!("{base}/{tenant}/kerberos"),
        "tenant_region_scope": null,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    })
}

/// The public clouds' alias groups, as the real instance-discovery endpoint returns them.
const CLOUDS: &[(&str, &str, &[&str])] = &[
    (
        "login.microsoftonline.com",
        "login.windows.net",
        &[
            "login.microsoftonline.com",
            "login.windows.net",
            "login.microsoft.com",
            "sts.windows.net",
        ],
    ),
    (
        "login.partner.microsoftonline.cn",
        "login.partner.microsoftonline.cn",
        &["login.partner.microsoftonline.cn", "login.chinacloudapi.cn"],
    ),
    (
        "login.microsoftonline.de",
        "login.microsoftonline.de",
        &["login.microsoftonline.de"],
    ),
    (
        "login.microsoftonline.us",
        "login.microsoftonline.us",
        &["login.microsoftonline.us", "login.usgovcloudapi.net"],
    ),
    (
        "login-us.microsoftonline.com",
        "login-us.microsoftonline.com",
        &["login-us.microsoftonline.com"],
    ),
];

/// `GET /common/discovery/instance?api-version=1.1&authorization_endpoint=...`.
pub async fn instance(
    State(state): State<Arc<AppState>>,
    Query(query): Query<HashMap<String, String>>,
    Extension(trace): Extension<Trace>,
) -> Response {
    match instance_document(&state, &query) {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response_with(&trace),
    }
}

fn instance_document(
    state: &AppState,
    query: &HashMap<String, String>,
) -> Result<Value, EntraError> {
    let version = query
        .get("api-version")
        .ok_or_else(|| EntraError::new(errors::MISSING_PARAMETER, &["api-version"]))?;
    if version != "1.0" && version != "1.1" {
        return Err(EntraError::new(
            errors::MALFORMED_REQUEST,
            &[&format!(
                "api-version '{version}' is not supported; use 1.0 or 1.1."
            )],
        ));
    }
    let endpoint = query
        .get("authorization_endpoint")
        .ok_or_else(|| EntraError::new(errors::MISSING_PARAMETER, &["authorization_endpoint"]))?;
    let url =
        url::Url::parse(endpoint).map_err(|_| EntraError::new(errors::UNKNOWN_INSTANCE, &[]))?;
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    let tenant = url
        .path_segments()
        .and_then(|mut s| s.next())
        .filter(|s| !s.is_empty())
        .unwrap_or("common")
        .to_string();
    let own = url::Url::parse(&state.base_url).ok();
    let own_port = own.as_ref().and_then(|u| u.port()).unwrap_or(443);
    let own_host = format!("127.0.0.1:{own_port}");
    let is_local = matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]")
        && url.port().is_none_or(|p| p == own_port);
    if is_local {
        return Ok(json!({
            "tenant_discovery_endpoint": format!("{}/{tenant}/v2.0/.well-known/openid-configuration", state.base_url),
            "api-version": "1.1",
            "metadata": [{
                "preferred_network": own_host,
                "preferred_cache": "127.0.0.1",
                "aliases": ["127.0.0.1", "localhost", own_host, format!("localhost:{own_port}")],
            }],
        }));
    }
    if CLOUDS
        .iter()
        .any(|(_, _, aliases)| aliases.contains(&host.as_str()))
    {
        let metadata: Vec<Value> = CLOUDS
            .iter()
            .map(|(network, cache, aliases)| {
                json!({"preferred_network": network, "preferred_cache": cache, "aliases": aliases})
            })
            .collect();
        return Ok(json!({
            "tenant_discovery_endpoint": format!("https://{host}/{tenant}/v2.0/.well-known/openid-configuration"),
            "api-version": "1.1",
            "metadata": metadata,
        }));
    }
    Err(EntraError::new(errors::UNKNOWN_INSTANCE, &[]))
}

/// `GET /{tenant}/discovery/v2.0/keys`: the JWKS.
pub async fn keys(State(state): State<Arc<AppState>>) -> Response {
    let key = &state.key;
    Json(json!({"keys": [{
        "kty": "RSA", "use": "sig", "kid": key.kid, "x5t": key.x5t,
        "n": key.n, "e": key.e, "x5c": [key.x5c],
        "issuer": format!("{}/{{tenantid}}/v2.0", state.base_url),
    }]}))
    .into_response()
}
