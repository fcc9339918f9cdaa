//! `POST /adfs/services/trust/{13,2005}/usernamemixed`: the emulated federation server's
//! WS-Trust endpoints. A RequestSecurityToken carrying a federated user's name and password, for
//! the audience `urn:federation:MicrosoftOnline`, is answered with a RequestSecurityTokenResponse
//! holding a signed SAML assertion (SAML 2.0 from the WS-Trust 1.3 endpoint, SAML 1.1 from the
//! 2005 one); anything else, a wrong password first of all, with a SOAP fault as ADFS sends it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::saml::{self, SamlVersion};
use crate::secrets_log::SecretKind;
use crate::state::AppState;
use crate::xml::{Document, escape};

const SOAP_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
const TRUST13_NS: &str = "http://docs.oasis-open.org/ws-sx/ws-trust/200512";
const TRUST2005_NS: &str = "http://schemas.xmlsoap.org/ws/2005/02/trust";

/// The two WS-Trust versions the endpoints speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V13,
    V2005,
}

impl Version {
    fn action(self) -> &'static str {
        match self {
            Self::V13 => "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue",
            Self::V2005 => "http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue",
        }
    }

    fn trust_ns(self) -> &'static str {
        match self {
            Self::V13 => TRUST13_NS,
            Self::V2005 => TRUST2005_NS,
        }
    }

    fn saml(self) -> SamlVersion {
        match self {
            Self::V13 => SamlVersion::V2,
            Self::V2005 => SamlVersion::V1_1,
        }
    }
}

/// A SOAP fault: HTTP status, subcode, reason.
struct Fault(StatusCode, &'static str, String);

/// The WS-Trust 1.3 endpoint.
pub async fn trust13(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    respond(&state, Version::V13, &body)
}

/// The WS-Trust 2005 endpoint.
pub async fn trust2005(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    respond(&state, Version::V2005, &body)
}

fn respond(state: &AppState, version: Version, body: &[u8]) -> Response {
    let (status, envelope) = match issue(state, version, body) {
        Ok(envelope) => (StatusCode::OK, envelope),
        Err(Fault(status, code, reason)) => (status, fault(code, &reason)),
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/soap+xml; charset=utf-8")],
        envelope,
    )
        .into_response()
}

fn issue(state: &AppState, version: Version, body: &[u8]) -> Result<String, Fault> {
    let sender = |reason: &str| {
        Fault(
            StatusCode::BAD_REQUEST,
            "a:InvalidRequest",
            reason.to_string(),
        )
    };
    let text = std::str::from_utf8(body).map_err(|_| sender("The request is not UTF-8."))?;
    let doc = Document::parse(text).map_err(|e| sender(&format!("The request is not XML: {e}")))?;
    if doc.root().path != ["Envelope"] || doc.root().ns != SOAP_NS {
        return Err(sender("The request is not a SOAP 1.2 envelope."));
    }
    if doc.text(&["Envelope", "Header", "Action"]) != Some(version.action()) {
        return Err(Fault(
            StatusCode::BAD_REQUEST,
            "a:ActionNotSupported",
            format!(
                "This endpoint accepts the action {} only.",
                version.action()
            ),
        ));
    }
    doc.find(&["Envelope", "Body", "RequestSecurityToken"])
        .filter(|n| n.ns == version.trust_ns())
        .ok_or_else(|| {
            sender("The body holds no RequestSecurityToken of this WS-Trust version.")
        })?;
    let applies_to = doc.text(&[
        "RequestSecurityToken",
        "AppliesTo",
        "EndpointReference",
        "Address",
    ]);
    if applies_to != Some(saml::ENTRA_AUDIENCE) {
        return Err(Fault(
            StatusCode::BAD_REQUEST,
            "a:InvalidScope",
            format!(
                "MSIS7007: The requested relying party trust '{}' is unspecified or unsupported.",
                applies_to.unwrap_or("")
            ),
        ));
    }
    let username = doc
        .text(&["Header", "Security", "UsernameToken", "Username"])
        .unwrap_or("");
    // The password is compared as sent (no trimming).
    let password = doc
        .find(&["Header", "Security", "UsernameToken", "Password"])
        .map(|n| n.text.as_str())
        .unwrap_or("");
    let user = state
        .directory
        .user(username)
        .filter(|u| state.directory.is_federated(&u.username) && u.password == password)
        .ok_or_else(|| {
            Fault(
                StatusCode::INTERNAL_SERVER_ERROR,
                "a:FailedAuthentication",
                "ID3242: The security token could not be authenticated or authorized.".into(),
            )
        })?;
    let now = state.clock.now();
    let issuer = format!("{}/adfs/services/trust", state.base_url);
    let assertion =
        saml::issue(&state.key, &issuer, version.saml(), &user.username, now).map_err(|e| {
            Fault(
                StatusCode::INTERNAL_SERVER_ERROR,
                "a:RequestFailed",
                format!("MSIS9000: The token could not be signed: {e}"),
            )
        })?;
    state.secrets.record(SecretKind::SamlAssertion, &assertion);
    Ok(response(version, &assertion, now))
}

/// The RequestSecurityTokenResponse (in a collection for WS-Trust 1.3, as ADFS answers).
fn response(version: Version, assertion: &str, now: i64) -> String {
    let (created, expires) = (saml::utc(now), saml::utc(now + saml::LIFETIME_SECONDS));
    let (action, key_type, request_type) = match version {
        Version::V13 => (
            "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RSTRC/IssueFinal",
            "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Bearer",
            "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue",
        ),
        Version::V2005 => (
            "http://schemas.xmlsoap.org/ws/2005/02/trust/RSTR/Issue",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey",
            "http://schemas.xmlsoap.org/ws/2005/02/trust/Issue",
        ),
    };
    let rstr = format!(
        concat!(
            r#"<t:RequestSecurityTokenResponse>"#,
            r#"<t:Lifetime><wsu:Created xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">{created}</wsu:Created><wsu:Expires xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">{expires}</wsu:Expires></t:Lifetime>"#,
            r#"<wsp:AppliesTo xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy"><wsa:EndpointReference xmlns:wsa="http://www.w3.org/2005/08/addressing"><wsa:Address>{audience}</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>"#,
            r#"<t:RequestedSecurityToken>{assertion}</t:RequestedSecurityToken>"#,
            r#"<t:TokenType>{token_type}</t:TokenType>"#,
            r#"<t:RequestType>{request_type}</t:RequestType>"#,
            r#"<t:KeyType>{key_type}</t:KeyType>"#,
            r#"</t:RequestSecurityTokenResponse>"#
        ),
        created = created,
        expires = expires,
        audience = saml::ENTRA_AUDIENCE,
        assertion = assertion,
        token_type = version.saml().namespace(),
        request_type = request_type,
        key_type = key_type,
    );
    let body = match version {
        Version::V13 => format!(
            r#"<t:RequestSecurityTokenResponseCollection xmlns:t="{TRUST13_NS}">{rstr}</t:RequestSecurityTokenResponseCollection>"#
        ),
        Version::V2005 => rstr.replacen(
            "<t:RequestSecurityTokenResponse>",
            &format!(r#"<t:RequestSecurityTokenResponse xmlns:t="{TRUST2005_NS}">"#),
            1,
        ),
    };
    format!(
        r#"<s:Envelope xmlns:s="{SOAP_NS}" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header><a:Action s:mustUnderstand="1">{action}</a:Action></s:Header><s:Body>{body}</s:Body></s:Envelope>"#
    )
}

/// A SOAP 1.2 fault with a WS-Security subcode, as ADFS sends one.
fn fault(code: &str, reason: &str) -> String {
    format!(
        concat!(
            r#"<s:Envelope xmlns:s="{soap}" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header><a:Action s:mustUnderstand="1">http://www.w3.org/2005/08/addressing/soap/fault</a:Action></s:Header>"#,
            r#"<s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value xmlns:a="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">{code}</s:Value></s:Subcode></s:Code>"#,
            r#"<s:Reason><s:Text xml:lang="en-US">{reason}</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>"#
        ),
        soap = SOAP_NS,
        code = escape(code),
        reason = escape(reason),
    )
}
