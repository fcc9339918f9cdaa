//! `POST /{tenant}/oauth2/v2.0/token`: client authentication, then one handler per grant
//! (in [`super::grants`]).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use super::Form;
use super::client_auth::{self, Endpoint};
use super::grants::{self, TokenRequest};
use crate::errors::{self, EntraError, Trace};
use crate::rules::tokens;
use crate::saml::SamlVersion;
use crate::state::AppState;

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
    let ssh_cert = tokens::ssh_cert_request(|name| form.get(name).map(str::to_string))?;
    let request = TokenRequest {
        state,
        form: &form,
        tenant_segment: tenant,
        segment,
        client,
        client_auth,
        ssh_cert,
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
        "user_fic" => grants::user_fic(&request),
        "urn:ietf:params:oauth:grant-type:saml1_1-bearer" => {
            grants::saml_bearer(&request, SamlVersion::V1_1)
        }
        "urn:ietf:params:oauth:grant-type:saml2-bearer" => {
            grants::saml_bearer(&request, SamlVersion::V2)
        }
        other => Err(EntraError::new(errors::UNSUPPORTED_GRANT, &[other])),
    }
}
