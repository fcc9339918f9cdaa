//! Interactive sign-in inside Azure Cloud Shell with `prompt=none` (MSAL Python's
//! `_acquire_token_by_cloud_shell`): no browser; Cloud Shell's local token endpoint
//! (`POST http://localhost:50342/oauth2/token`, or `MSI_ENDPOINT`, form `resource`, header
//! `Metadata: true`) gives the signed-in portal user's token. The token is cached under an
//! account made from its claims (`oid`.`tid`, the username), so later silent calls find it.

use base64::Engine as _;
use serde_json::{Map, Value};

use super::super::core::{ClientCore, GrantType, Issued};
use super::super::request::Request;
use super::super::result::{AuthenticationResult, TokenSource};
use crate::cache::Tokens;
use crate::error::Error;
use crate::managed_identity::{CLOUD_SHELL_DEFAULT_ENDPOINT, cloud_shell};
use crate::managed_identity::{EnvironmentReader, ManagedIdentity};

/// Whether this process runs in Azure Cloud Shell (`AZUREPS_HOST_ENVIRONMENT=cloud-shell…`).
pub(crate) fn in_cloud_shell(env: &dyn EnvironmentReader) -> bool {
    env.var("AZUREPS_HOST_ENVIRONMENT")
        .is_some_and(|v| v.starts_with("cloud-shell"))
}

/// Audiences Cloud Shell accepts as they are, though they have paths.
const AS_IS: [&str; 2] = [
    "https://analysis.windows.net/powerbi/api",
    "https://pas.windows.net/CheckMyAccess/Linux/.default",
];

/// The resource a scope belongs to, as Cloud Shell wants it: `https://host` (with the trailing
/// `/` of a `//`-path scope), the first segment of `guid/scope`, or a known audience as is.
pub(crate) fn scope_to_resource(scope: &str) -> String {
    if let Some(audience) = AS_IS.iter().find(|a| scope.starts_with(*a)) {
        return (*audience).to_string();
    }
    match url::Url::parse(scope) {
        Ok(u) => {
            let trailer = if u.path().starts_with("//") { "/" } else { "" };
            let host = match u.port() {
                Some(port) => format!("{}:{port}", u.host_str().unwrap_or_default()),
                None => u.host_str().unwrap_or_default().to_string(),
            };
            format!("{}://{host}{trailer}", u.scheme())
        }
        // No scheme: `guid/scope`.
        Err(_) => scope.split('/').next().unwrap_or(scope).to_string(),
    }
}

/// Gets the Cloud Shell user's token for `request`'s scopes and caches it.
pub(crate) async fn run(
    core: &ClientCore,
    env: &dyn EnvironmentReader,
    request: &Request,
) -> Result<AuthenticationResult, Error> {
    if request.scopes.is_empty() {
        return Err(Error::configuration(
            "in Cloud Shell, a sign-in with prompt=none gets a token for a resource: pass the \
             scopes of the API to call (sign in only is not available there)"
                .into(),
        ));
    }
    let endpoint = env
        .var("MSI_ENDPOINT")
        .filter(|e| !e.trim().is_empty())
        .unwrap_or_else(|| CLOUD_SHELL_DEFAULT_ENDPOINT.to_string());
    let mut resources: Vec<String> = Vec::new();
    for resource in request.scopes.iter().map(|s| scope_to_resource(s)) {
        if !resources.contains(&resource) {
            resources.push(resource);
        }
    }
    let http_request = cloud_shell::request(
        &endpoint,
        &ManagedIdentity::SystemAssigned,
        &resources.join(" "),
    )?;
    let response = core
        .http
        .send(http_request)
        .await
        .map_err(|e| e.at(&endpoint))?;
    let token = cloud_shell::parse(&endpoint, &response, core.now())?;
    let now = core.now();
    let (client_info, id_claims) = identity_of(&token.access_token, &core.client_id, now);
    let endpoints = core.endpoints().await?;
    core.finish(&Issued {
        endpoints: &endpoints,
        tokens: Tokens {
            access_token: Some(token.access_token.as_str().into()),
            token_type: Some(&token.token_type),
            expires_in: Some(token.expires_in),
            client_info: Some(&client_info),
            id_token_claims: Some(&id_claims),
            ..Tokens::default()
        },
        requested_scopes: &request.scopes,
        // MSAL Python reports Cloud Shell's tokens as the broker's.
        grant: GrantType::Broker,
        username: None,
        key_id: None,
        ext_cache_key: None,
        skip_account_creation: false,
        now,
        correlation_id: request.correlation_id(),
        token_source: TokenSource::Broker,
        // Not a token-endpoint response: nothing to offer as the raw response.
        response: None,
        app_token_key: None,
    })
}

/// The account Cloud Shell's token stands for: `client_info` (`uid` = `oid`, `utid` = `tid`)
/// and id-token claims made from the access token's claims, as MSAL Python makes them, so this
/// account and the same user's ordinary account are one.
fn identity_of(access_token: &str, client_id: &str, now: i64) -> (String, Map<String, Value>) {
    let claims = crate::jwt::jwt_claims(access_token).unwrap_or_default();
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let uid = text("oid").unwrap_or("user");
    let utid = text("tid").unwrap_or("cloudshell");
    let client_info = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::json!({ "uid": uid, "utid": utid }).to_string());
    let username = text("preferred_username")
        .or_else(|| text("unique_name"))
        .or_else(|| text("upn"))
        .unwrap_or("currentuser@cloudshell");
    let mut id = Map::new();
    id.insert("iss".into(), text("iss").unwrap_or("cloudshell").into());
    id.insert("sub".into(), text("sub").unwrap_or("user").into());
    id.insert("aud".into(), client_id.into());
    id.insert(
        "exp".into(),
        claims.get("exp").cloned().unwrap_or((now + 3600).into()),
    );
    id.insert(
        "iat".into(),
        claims.get("iat").cloned().unwrap_or(now.into()),
    );
    id.insert("oid".into(), uid.into());
    id.insert("tid".into(), utid.into());
    id.insert("preferred_username".into(), username.into());
    (client_info, id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::managed_identity::StaticEnvironment;

    #[test]
    fn scopes_become_cloud_shell_resources() {
        for (scope, resource) in [
            (
                "https://management.core.windows.net//.default",
                "https://management.core.windows.net/",
            ),
            (
                "https://graph.microsoft.com/User.Read",
                "https://graph.microsoft.com",
            ),
            (
                "https://analysis.windows.net/powerbi/api/Dataset.Read.All",
                "https://analysis.windows.net/powerbi/api",
            ),
            (
                "00000003-0000-0000-c000-000000000000/User.Read",
                "00000003-0000-0000-c000-000000000000",
            ),
            ("api://emulator-api/access_as_user", "api://emulator-api"),
        ] {
            assert_eq!(scope_to_resource(scope), resource, "{scope}");
        }
    }

    #[test]
    fn cloud_shell_is_detected_from_its_variable() {
        assert!(in_cloud_shell(
            &StaticEnvironment::new().with_var("AZUREPS_HOST_ENVIRONMENT", "cloud-shell/1.0")
        ));
        assert!(!in_cloud_shell(&StaticEnvironment::new()));
        assert!(!in_cloud_shell(
            &StaticEnvironment::new().with_var("AZUREPS_HOST_ENVIRONMENT", "other")
        ));
    }

    #[test]
    fn the_account_comes_from_the_token_claims() {
        let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let token = format!(
            "{}.{}.sig",
            b64(serde_json::json!({"alg": "RS256"})),
            b64(
                serde_json::json!({"oid": "o1", "tid": "t1", "unique_name": "a@b.c", "iss": "i", "sub": "s", "exp": 5, "iat": 1})
            )
        );
        let (client_info, id) = identity_of(&token, "cid", 100);
        assert_eq!(
            crate::jwt::home_account_id(&client_info).as_deref(),
            Some("o1.t1")
        );
        assert_eq!(id["preferred_username"], "a@b.c");
        assert_eq!(id["aud"], "cid");
        let (client_info, id) = identity_of("opaque", "cid", 100);
        assert_eq!(
            crate::jwt::home_account_id(&client_info).as_deref(),
            Some("user.cloudshell")
        );
        assert_eq!(id["preferred_username"], "currentuser@cloudshell");
        assert_eq!(id["exp"], 3700);
    }
}
