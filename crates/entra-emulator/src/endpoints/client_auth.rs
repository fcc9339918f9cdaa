//! Client authentication at the token endpoint: none (public clients), `client_secret_post`,
//! `client_secret_basic` and `private_key_jwt` (RS256 with `x5t`, PS256 with `x5t#S256`).

use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::Form;
use crate::config::{AppConfig, ClientKind};
use crate::errors::{self, EntraError};
use crate::jwt;
use crate::rules::tokens::ClientAuthMethod;
use crate::state::AppState;

/// The only `client_assertion_type` Entra accepts.
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Tolerated clock skew for assertion `exp` / `nbf`.
const SKEW_SECONDS: i64 = 300;

/// Where the request was sent, for assertion audiences and error messages.
pub struct Endpoint<'a> {
    /// The tenant path segment as sent.
    pub tenant_segment: &'a str,
    /// The resolved tenant id, when the segment names a tenant.
    pub tenant_id: Option<uuid::Uuid>,
}

/// Identifies and authenticates the client of a token request.
pub fn authenticate<'s>(
    state: &'s AppState,
    form: &Form,
    headers: &HeaderMap,
    endpoint: &Endpoint<'_>,
) -> Result<(&'s AppConfig, ClientAuthMethod), EntraError> {
    let basic = basic_credentials(headers)?;
    let client_id = match (&basic, form.get("client_id")) {
        (Some((id, _)), _) => id.clone(),
        (None, Some(id)) => id.to_string(),
        (None, None) => return Err(EntraError::new(errors::MISSING_PARAMETER, &["client_id"])),
    };
    let app = state.directory.app(&client_id).ok_or_else(|| {
        EntraError::new(
            errors::APP_NOT_FOUND,
            &[&client_id, endpoint.tenant_segment],
        )
    })?;
    let secret = basic
        .as_ref()
        .map(|(_, s)| s.as_str())
        .or_else(|| form.get("client_secret"));
    let assertion = form.get("client_assertion");
    if app.kind == ClientKind::Public {
        if secret.is_some() || assertion.is_some() {
            return Err(EntraError::new(errors::PUBLIC_CLIENT_WITH_CREDENTIAL, &[]));
        }
        return Ok((app, ClientAuthMethod::None));
    }
    if let Some(secret) = secret {
        if app
            .secrets
            .iter()
            .any(|s| constant_time_eq(s.as_bytes(), secret.as_bytes()))
        {
            return Ok((app, ClientAuthMethod::Secret));
        }
        return Err(EntraError::new(
            errors::INVALID_CLIENT_SECRET,
            &[&app.client_id],
        ));
    }
    if let Some(assertion) = assertion {
        if form.get("client_assertion_type") != Some(JWT_BEARER_ASSERTION) {
            return Err(EntraError::new(
                errors::MALFORMED_REQUEST,
                &[&format!(
                    "client_assertion_type must be '{JWT_BEARER_ASSERTION}'."
                )],
            ));
        }
        verify_assertion(state, app, assertion, endpoint)?;
        return Ok((app, ClientAuthMethod::Certificate));
    }
    Err(EntraError::new(errors::CREDENTIAL_REQUIRED, &[]))
}

fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, EntraError> {
    let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return Ok(None);
    };
    let malformed = || {
        EntraError::new(
            errors::MALFORMED_REQUEST,
            &["The Authorization header is not valid Basic credentials."],
        )
    };
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let text = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = text.split_once(':').ok_or_else(malformed)?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The audiences a client assertion may carry for this token endpoint.
fn accepted_audiences(state: &AppState, endpoint: &Endpoint<'_>) -> Vec<String> {
    let base = &state.base_url;
    let mut segments = vec![endpoint.tenant_segment.to_string()];
    if let Some(id) = endpoint.tenant_id {
        segments.push(id.to_string());
        if let Some(t) = state.directory.tenant_by_id(id) {
            segments.extend(t.domains.iter().cloned());
        }
    }
    let mut out = Vec::new();
    for s in segments {
        out.push(format!("{base}/{s}/oauth2/v2.0/token"));
        out.push(format!("{base}/{s}/oauth2/token"));
        out.push(format!("{base}/{s}/v2.0"));
        out.push(format!("{base}/{s}/"));
    }
    out
}

fn verify_assertion(
    state: &AppState,
    app: &AppConfig,
    assertion: &str,
    endpoint: &Endpoint<'_>,
) -> Result<(), EntraError> {
    let jwt = jwt::decode_unverified(assertion)
        .map_err(|e| EntraError::new(errors::ASSERTION_SIGNATURE, &[&e.to_string()]))?;
    let thumbprint = |name: &str| {
        jwt.header
            .get(name)
            .and_then(|v| v.as_str())
            .and_then(jwt::decode_b64url)
    };
    let (sha1, sha256) = (thumbprint("x5t"), thumbprint("x5t#S256"));
    let certificates = state.directory.certificates(&app.client_id);
    let candidates: Vec<_> = certificates
        .iter()
        .filter(|c| match (&sha256, &sha1) {
            (Some(t), _) => &c.sha256 == t,
            (None, Some(t)) => &c.sha1 == t,
            (None, None) => true,
        })
        .collect();
    if candidates.is_empty() {
        return Err(EntraError::new(
            errors::ASSERTION_SIGNATURE,
            &[&format!(
                "Key was not found. The thumbprint in the assertion header does not match a certificate registered for app '{}'.",
                app.client_id
            )],
        ));
    }
    let verified = candidates
        .iter()
        .any(|c| jwt.verify_rsa(&c.rsa_public_key).is_ok());
    if !verified {
        let detail = match jwt.verify_rsa(&candidates[0].rsa_public_key) {
            Err(jwt::JwtError::UnsupportedAlgorithm(a)) => {
                format!("The algorithm '{a}' is not supported; use RS256 or PS256.")
            }
            _ => "The signature does not match the registered certificate.".to_string(),
        };
        return Err(EntraError::new(errors::ASSERTION_SIGNATURE, &[&detail]));
    }
    for claim in ["iss", "sub"] {
        if !jwt
            .claim_str(claim)
            .is_some_and(|v| v.eq_ignore_ascii_case(&app.client_id))
        {
            return Err(EntraError::new(
                errors::ASSERTION_SUBJECT_MISMATCH,
                &[&format!(
                    "Claim '{claim}' must be the client id '{}'.",
                    app.client_id
                )],
            ));
        }
    }
    let aud_ok = match jwt.claims.get("aud") {
        Some(serde_json::Value::String(a)) => accepted_audiences(state, endpoint)
            .iter()
            .any(|x| x.eq_ignore_ascii_case(a)),
        Some(serde_json::Value::Array(list)) => list.iter().filter_map(|v| v.as_str()).any(|a| {
            accepted_audiences(state, endpoint)
                .iter()
                .any(|x| x.eq_ignore_ascii_case(a))
        }),
        _ => false,
    };
    if !aud_ok {
        return Err(EntraError::new(
            errors::ASSERTION_AUDIENCE,
            &[&format!(
                "Expected the token endpoint '{}/{}/oauth2/v2.0/token'.",
                state.base_url,
                endpoint
                    .tenant_id
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| endpoint.tenant_segment.to_string())
            )],
        ));
    }
    let now = state.clock.now();
    let exp = jwt.claim_time("exp");
    let nbf = jwt.claim_time("nbf").or_else(|| jwt.claim_time("iat"));
    let in_range =
        exp.is_some_and(|e| now < e + SKEW_SECONDS) && nbf.is_none_or(|n| n <= now + SKEW_SECONDS);
    if !in_range {
        let show = |t: Option<i64>| {
            t.map(|t| t.to_string())
                .unwrap_or_else(|| "(missing)".into())
        };
        return Err(EntraError::new(
            errors::ASSERTION_TIME,
            &[&now.to_string(), &show(nbf), &show(exp)],
        ));
    }
    Ok(())
}
