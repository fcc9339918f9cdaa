//! The shapes `msal token` prints: our JSON, the bare token, the Azure CLI's
//! `get-access-token`, and a Kubernetes `ExecCredential`.

use entra_msal::{Account, AuthenticationResult, TokenSource};
use serde_json::{Value, json};

use crate::cli::TokenOutput;
use crate::localtime;

/// The `apiVersion` of the `ExecCredential` we answer with.
pub const EXEC_CREDENTIAL_V1: &str = "client.authentication.k8s.io/v1";

/// What `KUBERNETES_EXEC_INFO` says (kubectl sets it for credential plugins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecInfo {
    /// The `apiVersion` kubectl expects back.
    pub api_version: Option<String>,
    /// `spec.interactive`: whether the plugin may prompt.
    pub interactive: Option<bool>,
}

impl ExecInfo {
    /// Parses `KUBERNETES_EXEC_INFO` (absent or invalid: nothing known).
    pub fn parse(text: Option<&str>) -> Self {
        let Some(v) = text.and_then(|t| serde_json::from_str::<Value>(t).ok()) else {
            return Self::default();
        };
        Self {
            api_version: v["apiVersion"].as_str().map(str::to_string),
            interactive: v["spec"]["interactive"].as_bool(),
        }
    }

    /// From the environment.
    pub fn from_env() -> Self {
        Self::parse(std::env::var("KUBERNETES_EXEC_INFO").ok().as_deref())
    }
}

/// The JSON of an account.
pub fn account_json(a: &Account) -> Value {
    json!({
        "username": a.username,
        "home_account_id": a.home_account_id,
        "local_account_id": a.local_account_id,
        "tenant": a.realm,
        "environment": a.environment,
        "authority_type": a.authority_type,
        "account_source": a.account_source,
    })
}

fn source_name(s: TokenSource) -> &'static str {
    match s {
        TokenSource::Cache => "cache",
        TokenSource::IdentityProvider => "identity_provider",
        TokenSource::Broker => "broker",
    }
}

/// The tenant of a token: the account's, else the access token's `tid`, else the fallback.
pub fn tenant_of(result: &AuthenticationResult, fallback: Option<&str>) -> Option<String> {
    if let Some(a) = &result.account
        && !a.realm.is_empty()
    {
        // The home tenant from the home account id (`uid.utid`) when the realm is an alias.
        if matches!(a.realm.as_str(), "common" | "organizations" | "consumers") {
            return a
                .home_account_id
                .split_once('.')
                .map(|(_, t)| t.to_string());
        }
        return Some(a.realm.clone());
    }
    if let Some(tid) = crate::jwt::claims(result.access_token.expose())
        .ok()
        .and_then(|c| c.get("tid").and_then(Value::as_str).map(str::to_string))
    {
        return Some(tid);
    }
    fallback.map(str::to_string)
}

/// Renders a token in `format`.
pub fn render(
    result: &AuthenticationResult,
    format: TokenOutput,
    tenant: Option<&str>,
    subscription: Option<&str>,
    exec: &ExecInfo,
) -> String {
    let token = result.access_token.expose();
    match format {
        TokenOutput::Token => token.to_string(),
        TokenOutput::Json => {
            let v = json!({
                "token": token,
                "token_type": result.token_type,
                "expires_on": result.expires_on.unix_timestamp(),
                "expires_at": localtime::rfc3339_utc(result.expires_on),
                "scopes": &*result.scopes,
                "tenant": tenant,
                "account": result.account.as_deref().map(account_json),
                "source": source_name(result.token_source),
            });
            serde_json::to_string_pretty(&v).unwrap_or_default()
        }
        TokenOutput::Az => {
            let mut v = json!({
                "accessToken": token,
                "expiresOn": localtime::az_format(result.expires_on),
                "expires_on": result.expires_on.unix_timestamp(),
                "tenant": tenant,
                "tokenType": result.token_type,
            });
            if let Some(s) = subscription {
                v["subscription"] = json!(s);
            }
            serde_json::to_string_pretty(&v).unwrap_or_default()
        }
        TokenOutput::ExecCredential => {
            let api_version = match exec.api_version.as_deref() {
                Some(v @ ("client.authentication.k8s.io/v1beta1" | EXEC_CREDENTIAL_V1)) => v,
                _ => EXEC_CREDENTIAL_V1,
            };
            let v = json!({
                "apiVersion": api_version,
                "kind": "ExecCredential",
                "status": {
                    "token": token,
                    "expirationTimestamp": localtime::rfc3339_utc(result.expires_on),
                },
            });
            serde_json::to_string(&v).unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_info_parsing() {
        let info = ExecInfo::parse(Some(
            r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#,
        ));
        assert_eq!(info.interactive, Some(false));
        assert_eq!(info.api_version.as_deref(), Some(EXEC_CREDENTIAL_V1));
        assert_eq!(ExecInfo::parse(Some("not json")), ExecInfo::default());
        assert_eq!(ExecInfo::parse(None), ExecInfo::default());
    }
}
