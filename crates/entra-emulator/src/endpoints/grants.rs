//! One function per OAuth 2.0 grant the token endpoint accepts.

use serde_json::Value;

use super::Form;
use crate::config::{AppConfig, ClientKind, UserConfig};
use crate::crypto::pkce_s256;
use crate::directory::TenantSegment;
use crate::errors::{self, EntraError};
use crate::jwt;
use crate::rules::access::{check_consent, check_delegated, check_mfa, parse_scopes, user_tenant};
use crate::rules::tokens::{self, ClientAuthMethod, UserTokenRequest};
use crate::saml::{self, SamlVersion};
use crate::scopes::{self, RequestedScopes};
use crate::state::{AppState, DeviceCodeStatus, SignIn};

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
    /// An SSH certificate request (`token_type=ssh-cert`), checked before the grant runs.
    pub ssh_cert: Option<tokens::SshCertRequest>,
}

fn issue(
    req: &TokenRequest<'_>,
    sign_in: &SignIn,
    scopes: &RequestedScopes,
    nonce: Option<&str>,
) -> Result<Value, EntraError> {
    tokens::user_token_response(
        req.state,
        &UserTokenRequest {
            client: req.client,
            client_auth: req.client_auth,
            sign_in,
            scopes,
            nonce,
            client_info: req.form.get("client_info") == Some("1"),
            ssh_cert: req.ssh_cert.as_ref(),
        },
    )
}

/// `grant_type=authorization_code`: single use, bound to client, redirect URI and PKCE.
pub fn authorization_code(req: &TokenRequest<'_>) -> Result<Value, EntraError> {
    let code = req.form.require("code")?;
    let now = req.state.clock.now();
    let record = {
        let mut runtime = req.state.runtime();
        let record = runtime.codes.get_mut(code).ok_or_else(|| {
            EntraError::new(
                errors::INVALID_GRANT,
                &["The provided value for the 'code' parameter is not valid."],
            )
        })?;
        if !record.client_id.eq_ignore_ascii_case(&req.client.client_id) {
            return Err(EntraError::new(
                errors::INVALID_GRANT,
                &["The code was issued to a different client."],
            ));
        }
        if record.redeemed {
            return Err(EntraError::new(errors::AUTH_CODE_REDEEMED, &[]));
        }
        if record.expires_at <= now {
            return Err(EntraError::new(errors::EXPIRED_OR_REVOKED_GRANT, &[]));
        }
        if req.form.get("redirect_uri") != Some(record.redirect_uri.as_str()) {
            return Err(EntraError::new(
                errors::INVALID_GRANT,
                &["The redirect_uri does not match the one used to obtain the authorization code."],
            ));
        }
        if let Some(challenge) = &record.code_challenge {
            match req.form.get("code_verifier") {
                Some(v) if &pkce_s256(v) == challenge => {}
                _ => return Err(EntraError::new(errors::PKCE_MISMATCH, &[])),
            }
        }
        record.redeemed = true;
        record.clone()
    };
    issue(
        req,
        &record.sign_in,
        &record.scopes,
        record.nonce.as_deref(),
    )
}

/// `grant_type=refresh_token`: a new refresh token each time; the old one stays valid. Family
/// (FOCI) refresh tokens work for every app of the family; any permitted resource may be asked.
pub fn refresh_token(req: &TokenRequest<'_>) -> Result<Value, EntraError> {
    let token = req.form.require("refresh_token")?;
    let now = req.state.clock.now();
    let record = req
        .state
        .runtime()
        .refresh_tokens
        .get(token)
        .cloned()
        .ok_or_else(|| {
            EntraError::new(
                errors::INVALID_GRANT,
                &["The refresh token is malformed or not valid."],
            )
        })?;
    let same_client = record.client_id.eq_ignore_ascii_case(&req.client.client_id);
    let same_family = record.family_id.is_some() && record.family_id == req.client.family_id;
    if !same_client && !same_family {
        return Err(EntraError::new(
            errors::INVALID_GRANT,
            &[
                "The refresh token was issued to a different client and the clients are not in the same family.",
            ],
        ));
    }
    if record.revoked {
        return Err(EntraError::new(errors::EXPIRED_OR_REVOKED_GRANT, &[]));
    }
    if record.expires_at <= now {
        return Err(EntraError::new(
            errors::REFRESH_TOKEN_INACTIVE,
            &[
                &record.sign_in.auth_time.to_string(),
                "a period longer than its lifetime",
            ],
        ));
    }
    let scopes = parse_scopes(
        req.form
            .get("scope")
            .unwrap_or("openid profile offline_access"),
    )?;
    check_delegated(req.client, &scopes)?;
    let user = req
        .state
        .directory
        .user(&record.sign_in.username)
        .ok_or_else(|| EntraError::new(errors::INVALID_GRANT, &["The user no longer exists."]))?;
    check_mfa(user, record.sign_in.mfa, &scopes.resource_or_graph())?;
    // A claims challenge the session satisfies (CAE `nbf`) is answered with a token; one the
    // user must act on (`acrs` without MFA) is AADSTS50076 (see `crate::rules::claims`).
    crate::rules::claims::check(
        req.form.get("claims"),
        record.sign_in.mfa,
        &scopes.resource_or_graph(),
    )?;
    check_consent(req.state, user, req.client)?;
    // Refresh tokens are multi-tenant: redeemed at another tenant's endpoint (a guest tenant of
    // the user), they give tokens for that tenant.
    let mut sign_in = record.sign_in.clone();
    if let TenantSegment::Tenant(_) = req.segment {
        sign_in.tenant = user_tenant(req.state, req.segment, user)?;
    }
    issue(req, &sign_in, &scopes, None)
}

/// Device-code polling under both grant spellings.
pub fn device_code(req: &TokenRequest<'_>) -> Result<Value, EntraError> {
    let code = req
        .form
        .get("device_code")
        .or_else(|| req.form.get("code"))
        .ok_or_else(|| EntraError::new(errors::MISSING_PARAMETER, &["device_code"]))?;
    let now = req.state.clock.now();
    let record = {
        let mut runtime = req.state.runtime();
        let record = runtime
            .device_codes
            .get_mut(code)
            .filter(|r| r.client_id.eq_ignore_ascii_case(&req.client.client_id))
            .ok_or_else(|| EntraError::new(errors::BAD_VERIFICATION_CODE, &[]))?;
        if record.expires_at <= now && record.status != DeviceCodeStatus::Redeemed {
            return Err(EntraError::new(errors::DEVICE_CODE_EXPIRED, &[]));
        }
        match record.status {
            DeviceCodeStatus::Pending => {
                return Err(EntraError::new(errors::AUTHORIZATION_PENDING, &[]));
            }
            DeviceCodeStatus::Declined => {
                return Err(EntraError::new(errors::AUTHORIZATION_DECLINED, &[]));
            }
            DeviceCodeStatus::Redeemed => {
                return Err(EntraError::new(errors::BAD_VERIFICATION_CODE, &[]));
            }
            DeviceCodeStatus::Approved => record.status = DeviceCodeStatus::Redeemed,
        }
        record.clone()
    };
    let sign_in = record
        .sign_in
        .ok_or_else(|| EntraError::new(errors::BAD_VERIFICATION_CODE, &[]))?;
    issue(req, &sign_in, &record.scopes, None)
}

/// `grant_type=password` (ROPC).
pub fn password(req: &TokenRequest<'_>) -> Result<Value, EntraError> {
    let username = req.form.require("username")?;
    let password = req.form.require("password")?;
    let scopes = parse_scopes(req.form.require("scope")?)?;
    check_delegated(req.client, &scopes)?;
    let user =
        req.state.directory.user(username).ok_or_else(|| {
            EntraError::new(errors::USER_NOT_FOUND, &[username, req.tenant_segment])
        })?;
    if user.password != password {
        return Err(EntraError::new(errors::INVALID_CREDENTIALS, &[]));
    }
    sign_in_with_credential(req, user, &scopes, req.state.clock.now())
}

/// Tokens for `user`, who proved who they are with a credential (a password, a federation
/// server's assertion) and no interaction, so with no MFA: their tenant, the MFA and consent
/// rules, then the token response.
fn sign_in_with_credential(
    req: &TokenRequest<'_>,
    user: &UserConfig,
    scopes: &RequestedScopes,
    auth_time: i64,
) -> Result<Value, EntraError> {
    let tenant = user_tenant(req.state, req.segment, user)?;
    check_mfa(user, false, &scopes.resource_or_graph())?;
    check_consent(req.state, user, req.client)?;
    let sign_in = SignIn {
        username: user.username.clone(),
        tenant,
        auth_time,
        mfa: false,
    };
    issue(req, &sign_in, scopes, None)
}

/// The SAML bearer grants (`urn:ietf:params:oauth:grant-type:saml1_1-bearer` and
/// `saml2-bearer`): a federated user's assertion from the emulated federation server, base64url
/// (or base64) encoded. Signature, audience, validity and one-time use are checked.
pub fn saml_bearer(req: &TokenRequest<'_>, version: SamlVersion) -> Result<Value, EntraError> {
    use base64::Engine as _;
    let encoded = req.form.require("assertion")?;
    let scopes = parse_scopes(req.form.require("scope")?)?;
    check_delegated(req.client, &scopes)?;
    let invalid = |why: &str| EntraError::new(errors::SAML_ASSERTION_INVALID, &[why]);
    let url_safe: String = encoded
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    let assertion = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(url_safe.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| invalid("The assertion is not base64-encoded XML."))?;
    let now = req.state.clock.now();
    let verified =
        saml::verify(&req.state.key, &assertion, version, now).map_err(|why| invalid(&why))?;
    {
        let mut runtime = req.state.runtime();
        runtime.redeemed_assertions.retain(|_, until| *until > now);
        if runtime
            .redeemed_assertions
            .insert(verified.id.clone(), verified.not_on_or_after)
            .is_some()
        {
            return Err(invalid("The assertion was already redeemed."));
        }
    }
    let user = req
        .state
        .directory
        .user(&verified.username)
        .filter(|u| req.state.directory.is_federated(&u.username))
        .ok_or_else(|| invalid("The assertion's subject is not a federated user."))?;
    sign_in_with_credential(req, user, &scopes, now)
}

/// `grant_type=client_credentials`: exactly one `<resource>/.default` scope.
pub fn client_credentials(req: &TokenRequest<'_>) -> Result<Value, EntraError> {
    if req.client.kind == ClientKind::Public {
        return Err(EntraError::new(errors::CREDENTIAL_REQUIRED, &[]));
    }
    let scope = req.form.require("scope")?;
    let requested = parse_scopes(scope)?;
    let resource = match (&requested.resource, requested.names.as_slice()) {
        (Some(resource), [name]) if name == ".default" => resource.clone(),
        _ => {
            let shown = requested.qualified().join(" ");
            return Err(EntraError::new(
                errors::CLIENT_CREDENTIALS_SCOPE,
                &[if shown.is_empty() { scope } else { &shown }],
            ));
        }
    };
    let qualified = format!("{resource}/.default");
    if !scopes::permitted(&req.client.application_scopes, &qualified) {
        return Err(EntraError::new(errors::INVALID_SCOPE, &[&qualified]));
    }
    let tenant = match req.segment {
        TenantSegment::Tenant(id) => id,
        _ => {
            return Err(EntraError::new(
                errors::NOT_MULTI_TENANT,
                &[&req.client.client_id],
            ));
        }
    };
    tokens::app_token_response(req.state, req.client, req.client_auth, tenant, &resource)
}

/// On-behalf-of: `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`,
/// `requested_token_use=on_behalf_of`, `assertion` = a user access token for this client.
pub fn on_behalf_of(req: &TokenRequest<'_>) -> Result<Value, EntraError> {
    if req.client.kind == ClientKind::Public {
        return Err(EntraError::new(errors::CREDENTIAL_REQUIRED, &[]));
    }
    let use_ = req.form.require("requested_token_use")?;
    if use_ != "on_behalf_of" {
        return Err(EntraError::new(
            errors::MALFORMED_REQUEST,
            &["requested_token_use must be 'on_behalf_of'."],
        ));
    }
    let assertion = req.form.require("assertion")?;
    let scopes = parse_scopes(req.form.require("scope")?)?;
    check_delegated(req.client, &scopes)?;
    let invalid = |why: &str| EntraError::new(errors::OBO_ASSERTION_INVALID, &[why]);
    let jwt = jwt::decode_unverified(assertion).map_err(|e| invalid(&e.to_string()))?;
    jwt.verify_rsa(req.state.key.public_key_der())
        .map_err(|_| invalid("The assertion was not issued by this authority."))?;
    let aud = jwt.claim_str("aud").unwrap_or("");
    let audience_ok = aud.eq_ignore_ascii_case(&req.client.client_id)
        || req
            .client
            .identifier_uris
            .iter()
            .any(|u| u.eq_ignore_ascii_case(aud));
    if !audience_ok {
        return Err(invalid(
            "Assertion audience does not match the Client app presenting the assertion.",
        ));
    }
    if jwt
        .claim_time("exp")
        .is_none_or(|exp| exp <= req.state.clock.now())
    {
        return Err(EntraError::new(errors::OBO_ASSERTION_EXPIRED, &[]));
    }
    if jwt.claim_str("idtyp") == Some("app") || jwt.claim_str("scp").is_none() {
        return Err(invalid("The assertion is not a delegated user token."));
    }
    let tenant = jwt
        .claim_str("tid")
        .and_then(|t| uuid::Uuid::parse_str(t).ok())
        .ok_or_else(|| invalid("The assertion has no tenant."))?;
    let user = jwt
        .claim_str("oid")
        .and_then(|oid| req.state.directory.user_by_object_id(oid, tenant))
        .ok_or_else(|| invalid("The assertion's user does not exist."))?;
    let mfa = jwt
        .claims
        .get("amr")
        .and_then(|a| a.as_array())
        .is_some_and(|a| a.iter().any(|v| v == "mfa"));
    // A claims challenge forwarded by the middle tier: satisfied by the caller's sign-in, or
    // AADSTS50076 when it demands MFA the caller's token does not carry.
    crate::rules::claims::check(req.form.get("claims"), mfa, &scopes.resource_or_graph())?;
    let sign_in = SignIn {
        username: user.username.clone(),
        tenant,
        auth_time: req.state.clock.now(),
        mfa,
    };
    issue(req, &sign_in, &scopes, None)
}

/// `grant_type=user_fic`: a confidential client presents a federated identity credential (a
/// token this authority issued to the same client for `api://AzureADTokenExchange`, in
/// `user_federated_identity_credential`) and names a user by `username` or `user_id` (object
/// id); it gets that user's tokens, as after a sign-in without MFA.
pub fn user_fic(req: &TokenRequest<'_>) -> Result<Value, EntraError> {
    if req.client.kind == ClientKind::Public {
        return Err(EntraError::new(errors::CREDENTIAL_REQUIRED, &[]));
    }
    let credential = req.form.require("user_federated_identity_credential")?;
    let scopes = parse_scopes(req.form.require("scope")?)?;
    check_delegated(req.client, &scopes)?;
    let no_match = |why: &str| EntraError::new(errors::FIC_NO_MATCH, &[why]);
    let jwt = jwt::decode_unverified(credential).map_err(|e| no_match(&e.to_string()))?;
    jwt.verify_rsa(req.state.key.public_key_der())
        .map_err(|_| no_match("The assertion was not issued by this authority."))?;
    let aud = jwt.claim_str("aud").unwrap_or("");
    if !(aud.eq_ignore_ascii_case(scopes::TOKEN_EXCHANGE_AUDIENCE)
        || aud.eq_ignore_ascii_case(scopes::TOKEN_EXCHANGE_APP_ID))
    {
        return Err(no_match(&format!(
            "The assertion's audience must be '{}'.",
            scopes::TOKEN_EXCHANGE_AUDIENCE
        )));
    }
    if jwt
        .claim_time("exp")
        .is_none_or(|exp| exp <= req.state.clock.now())
    {
        return Err(EntraError::new(errors::OBO_ASSERTION_EXPIRED, &[]));
    }
    if !jwt
        .claim_str("azp")
        .is_some_and(|azp| azp.eq_ignore_ascii_case(&req.client.client_id))
    {
        return Err(no_match(
            "The assertion was not issued to the client presenting it.",
        ));
    }
    let user = match (req.form.get("username"), req.form.get("user_id")) {
        (Some(username), None) => req.state.directory.user(username).ok_or_else(|| {
            EntraError::new(errors::USER_NOT_FOUND, &[username, req.tenant_segment])
        })?,
        (None, Some(oid)) => {
            let tenant = req.segment.id().ok_or_else(|| {
                EntraError::new(
                    errors::MALFORMED_REQUEST,
                    &["user_id needs a tenant-specific endpoint."],
                )
            })?;
            req.state
                .directory
                .user_by_object_id(oid, tenant)
                .ok_or_else(|| {
                    EntraError::new(errors::USER_NOT_FOUND, &[oid, req.tenant_segment])
                })?
        }
        (Some(_), Some(_)) => {
            return Err(EntraError::new(
                errors::MALFORMED_REQUEST,
                &["username and user_id are mutually exclusive."],
            ));
        }
        (None, None) => {
            return Err(EntraError::new(errors::MISSING_PARAMETER, &["username"]));
        }
    };
    let tenant = user_tenant(req.state, req.segment, user)?;
    check_mfa(user, false, &scopes.resource_or_graph())?;
    crate::rules::claims::check(req.form.get("claims"), false, &scopes.resource_or_graph())?;
    check_consent(req.state, user, req.client)?;
    let sign_in = SignIn {
        username: user.username.clone(),
        tenant,
        auth_time: req.state.clock.now(),
        mfa: false,
    };
    issue(req, &sign_in, &scopes, None)
}
