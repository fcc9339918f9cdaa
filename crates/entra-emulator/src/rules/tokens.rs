//! Minting access tokens, id tokens, refresh tokens and `client_info`, and assembling the
//! token-endpoint success body.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::config::{AppConfig, UserConfig};
use crate::crypto::random_token;
use crate::directory::object_id_in;
use crate::errors::{self, EntraError};
use crate::jwt;
use crate::scopes::RequestedScopes;
use crate::secrets_log::SecretKind;
use crate::ssh_cert::{RsaPublicKey, UserCertificate, parse_req_cnf};
use crate::state::{AppState, RefreshTokenRecord, SignIn};

/// How the client authenticated, for the `azpacr` claim: 0 public, 1 secret, 2 certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthMethod {
    /// Public client.
    None,
    /// Client secret.
    Secret,
    /// Client assertion signed with a certificate.
    Certificate,
}

impl ClientAuthMethod {
    fn azpacr(self) -> &'static str {
        match self {
            Self::None => "0",
            Self::Secret => "1",
            Self::Certificate => "2",
        }
    }
}

/// What a user token response is made of.
pub struct UserTokenRequest<'a> {
    /// The client.
    pub client: &'a AppConfig,
    /// How the client authenticated.
    pub client_auth: ClientAuthMethod,
    /// Who signed in, where.
    pub sign_in: &'a SignIn,
    /// Granted scopes.
    pub scopes: &'a RequestedScopes,
    /// Nonce for the id token.
    pub nonce: Option<&'a str>,
    /// Whether to return `client_info` (the request had `client_info=1`).
    pub client_info: bool,
    /// An SSH certificate instead of a bearer access token (`token_type=ssh-cert`).
    pub ssh_cert: Option<&'a SshCertRequest>,
}

/// An SSH certificate request (`token_type=ssh-cert`, `req_cnf`, `key_id`), checked.
#[derive(Debug, Clone)]
pub struct SshCertRequest {
    /// The user's public key, from `req_cnf`.
    pub key: RsaPublicKey,
    /// `key_id`: the certificate's key id.
    pub key_id: String,
}

/// Reads a token request's SSH certificate parameters: `None` for any `token_type` but
/// `ssh-cert`; `invalid_request` for a missing or unusable `req_cnf` or a missing `key_id`.
pub fn ssh_cert_request(
    get: impl Fn(&str) -> Option<String>,
) -> Result<Option<SshCertRequest>, EntraError> {
    if !get("token_type").is_some_and(|t| t.eq_ignore_ascii_case("ssh-cert")) {
        return Ok(None);
    }
    let invalid = |why: &str| EntraError::new(errors::MALFORMED_REQUEST, &[why]);
    let req_cnf = get("req_cnf").filter(|v| !v.is_empty()).ok_or_else(|| {
        invalid("token_type 'ssh-cert' requires 'req_cnf': the user's RSA public key as a JWK.")
    })?;
    let key = parse_req_cnf(&req_cnf).map_err(|why| invalid(&format!("{why}.")))?;
    let key_id = get("key_id")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| invalid("token_type 'ssh-cert' requires 'key_id'."))?;
    Ok(Some(SshCertRequest { key, key_id }))
}

/// `base64url({"uid": <home oid>, "utid": <home tenant>})`.
pub fn client_info(user: &UserConfig) -> String {
    let json = json!({"uid": user.object_id.to_string(), "utid": user.home_tenant.to_string()});
    URL_SAFE_NO_PAD.encode(json.to_string())
}

fn audience(state: &AppState, resource: &str) -> String {
    state
        .directory
        .resource_app(resource)
        .map(|a| a.client_id.clone())
        .unwrap_or_else(|| resource.to_string())
}

fn lifetimes(state: &AppState, body: &mut Value) -> u64 {
    let lifetime = state.access_token_lifetime();
    body["expires_in"] = json!(lifetime);
    body["ext_expires_in"] = json!(lifetime);
    if lifetime >= 7200 {
        body["refresh_in"] = json!(lifetime / 2);
    }
    lifetime
}

fn sign(state: &AppState, kind: SecretKind, claims: &Value) -> Result<String, EntraError> {
    let token = jwt::sign(&state.key, claims).map_err(|e| {
        EntraError::new(
            errors::MALFORMED_REQUEST,
            &[&format!("signing failed: {e}")],
        )
    })?;
    state.secrets.record(kind, &token);
    Ok(token)
}

/// Issues an OpenSSH user certificate for `ssh`'s key: principal `upn`, valid from 5 minutes
/// ago (clock skew) for the access-token lifetime, signed by the emulator's SSH CA.
fn ssh_certificate(
    state: &AppState,
    ssh: &SshCertRequest,
    upn: &str,
    now: i64,
    lifetime: i64,
) -> Result<String, EntraError> {
    let failed = |why: String| EntraError::new(errors::MALFORMED_REQUEST, &[&why]);
    let ca = state.ssh_ca().map_err(failed)?;
    let now = now.max(0) as u64;
    let certificate = ca
        .issue(&UserCertificate {
            key: &ssh.key,
            serial: rand::random(),
            key_id: &ssh.key_id,
            principals: &[upn],
            valid_after: now.saturating_sub(300),
            valid_before: now.saturating_add(lifetime.max(0) as u64),
        })
        .map_err(|e| failed(format!("signing the SSH certificate failed: {e}")))?;
    state.secrets.record(SecretKind::AccessToken, &certificate);
    Ok(certificate)
}

/// Issues tokens for a signed-in user: access token, and refresh token / id token /
/// `client_info` / `foci` as the request calls for.
pub fn user_token_response(
    state: &AppState,
    req: &UserTokenRequest<'_>,
) -> Result<Value, EntraError> {
    let user = state
        .directory
        .user(&req.sign_in.username)
        .ok_or_else(|| EntraError::new(errors::INVALID_GRANT, &["The user no longer exists."]))?;
    let tenant = req.sign_in.tenant;
    let oid = object_id_in(user, tenant).unwrap_or(user.object_id);
    let now = state.clock.now();
    let delegated = &req.client.delegated_scopes;
    let mut body = json!({"token_type": "Bearer", "scope": req.scopes.echo_granted(delegated)});
    let lifetime = lifetimes(state, &mut body) as i64;
    let resource = req.scopes.resource_or_graph();
    // `.default` gives the consented permissions, never ".default" (see `granted_names`).
    let scp = req.scopes.granted_names(delegated);
    let name = user
        .display_name
        .clone()
        .unwrap_or_else(|| user.username.clone());
    let mut amr = vec!["pwd"];
    if req.sign_in.mfa {
        amr.push("mfa");
    }
    let access = json!({
        "aud": audience(state, &resource),
        "iss": state.issuer(&tenant.to_string()),
        "iat": now, "nbf": now, "exp": now + lifetime,
        "aio": random_token(16),
        "amr": amr,
        "azp": req.client.client_id,
        "azpacr": req.client_auth.azpacr(),
        "name": name,
        "oid": oid.to_string(),
        "preferred_username": user.username,
        "rh": "0.emulator",
        "scp": scp.join(" "),
        "sub": pairwise_subject(oid, &req.client.client_id),
        "tid": tenant.to_string(),
        "uti": random_token(16),
        "ver": "2.0",
    });
    let mut access = access;
    // Rule: for a guest (the user's home tenant is not the token's tenant) `idp` names the
    // home tenant's issuer, `https://sts.windows.net/<home tenant id>/`; for members it is
    // absent (it would equal `iss`). Source: "ID token claims reference" and "Access token
    // claims reference", claim `idp`
    // (<https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference>).
    let guest_idp = (user.home_tenant != tenant)
        .then(|| format!("https://sts.windows.net/{}/", user.home_tenant));
    if let Some(idp) = &guest_idp {
        access["idp"] = json!(idp);
    }
    body["access_token"] = match req.ssh_cert {
        None => json!(sign(state, SecretKind::AccessToken, &access)?),
        Some(ssh) => {
            body["token_type"] = json!("ssh-cert");
            json!(ssh_certificate(state, ssh, &user.username, now, lifetime)?)
        }
    };

    if req.scopes.oidc.contains("openid") {
        let mut id = json!({
            "aud": req.client.client_id,
            "iss": state.issuer(&tenant.to_string()),
            "iat": now, "nbf": now, "exp": now + 3600,
            "auth_time": req.sign_in.auth_time,
            "name": name,
            "oid": oid.to_string(),
            "preferred_username": user.username,
            "rh": "0.emulator",
            "sub": pairwise_subject(oid, &req.client.client_id),
            "tid": tenant.to_string(),
            "uti": random_token(16),
            "ver": "2.0",
        });
        if let Some(nonce) = req.nonce {
            id["nonce"] = json!(nonce);
        }
        if let Some(idp) = &guest_idp {
            id["idp"] = json!(idp);
        }
        if req.scopes.oidc.contains("email") {
            id["email"] = json!(user.username);
        }
        body["id_token"] = json!(sign(state, SecretKind::IdToken, &id)?);
    }
    if req.scopes.oidc.contains("offline_access") {
        let token = format!("1.emu.{}", random_token(48));
        state.runtime().refresh_tokens.insert(
            token.clone(),
            RefreshTokenRecord {
                client_id: req.client.client_id.clone(),
                family_id: req.client.family_id.clone(),
                sign_in: req.sign_in.clone(),
                expires_at: now.saturating_add(
                    state
                        .settings
                        .refresh_token_lifetime_seconds
                        .min(i64::MAX as u64) as i64,
                ),
                revoked: false,
            },
        );
        state.secrets.record(SecretKind::RefreshToken, &token);
        body["refresh_token"] = json!(token);
    }
    if req.client_info {
        body["client_info"] = json!(client_info(user));
    }
    if let Some(family) = &req.client.family_id {
        body["foci"] = json!(family);
    }
    Ok(body)
}

/// Issues an app-only access token (client credentials).
pub fn app_token_response(
    state: &AppState,
    client: &AppConfig,
    client_auth: ClientAuthMethod,
    tenant: Uuid,
    resource: &str,
) -> Result<Value, EntraError> {
    let now = state.clock.now();
    let mut body = json!({"token_type": "Bearer"});
    let lifetime = lifetimes(state, &mut body) as i64;
    let sp = Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("sp:{}:{tenant}", client.client_id).as_bytes(),
    );
    let claims = json!({
        "aud": audience(state, resource),
        "iss": state.issuer(&tenant.to_string()),
        "iat": now, "nbf": now, "exp": now + lifetime,
        "aio": random_token(16),
        "azp": client.client_id,
        "azpacr": client_auth.azpacr(),
        "idtyp": "app",
        "oid": sp.to_string(),
        "rh": "0.emulator",
        "roles": [],
        "sub": sp.to_string(),
        "tid": tenant.to_string(),
        "uti": random_token(16),
        "ver": "2.0",
    });
    body["access_token"] = json!(sign(state, SecretKind::AccessToken, &claims)?);
    Ok(body)
}

fn pairwise_subject(oid: Uuid, client_id: &str) -> String {
    let id = Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("sub:{oid}:{client_id}").as_bytes(),
    );
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}
