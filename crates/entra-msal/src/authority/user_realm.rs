//! User-realm (home realm) discovery before username/password sign-in: is the user's domain
//! managed by Entra, federated to another identity provider, or unknown?

use serde_json::Value;

use super::{Authority, AuthorityType, hosts, wire};
use crate::http::ThrottledHttp;

/// What user-realm discovery says about a username's domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRealm {
    /// Entra holds the password: username/password sign-in works.
    Managed,
    /// Another identity provider (ADFS) holds the password: username/password sign-in goes
    /// through its WS-Trust endpoint.
    Federated(FederatedRealm),
    /// Entra does not know the domain (or discovery is not applicable).
    Unknown,
}

/// Where a federated domain's users sign in, as user-realm discovery reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FederatedRealm {
    /// The federation protocol (`WSTrust`).
    pub protocol: Option<String>,
    /// The federation server's metadata exchange (MEX) document (`federation_metadata_url`).
    pub metadata_url: Option<String>,
    /// The WS-Trust endpoint to use when there is no MEX document (`federation_active_auth_url`).
    pub active_auth_url: Option<String>,
    /// The audience the federation server issues the assertion for (`cloud_audience_urn`).
    pub cloud_audience_urn: Option<String>,
}

/// Whether the library may send a federated sign-in to `url`: https, or plain http on loopback
/// when the authority itself is a trusted plain-HTTP loopback authority (the emulator).
pub(crate) fn federation_url_allowed(authority: &Authority, url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    let host = parsed.host_str().unwrap_or("").to_ascii_lowercase();
    !host.is_empty()
        && match parsed.scheme() {
            "https" => true,
            "http" => authority.is_plain_http() && hosts::is_loopback(&host),
            _ => false,
        }
}

/// Reads a user-realm document.
pub fn parse_user_realm(body: &[u8]) -> UserRealm {
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return UserRealm::Unknown;
    };
    match json.get("account_type").and_then(Value::as_str) {
        Some("Managed") => UserRealm::Managed,
        Some("Federated") => {
            let text = |name: &str| {
                json.get(name)
                    .and_then(Value::as_str)
                    .filter(|v| !v.is_empty())
                    .map(str::to_string)
            };
            UserRealm::Federated(FederatedRealm {
                protocol: text("federation_protocol"),
                metadata_url: text("federation_metadata_url"),
                active_auth_url: text("federation_active_auth_url"),
                cloud_audience_urn: text("cloud_audience_urn"),
            })
        }
        _ => UserRealm::Unknown,
    }
}

/// GET `https://{host[:port]}/common/userrealm/{username}?api-version=1.0` (MSAL drops the port;
/// this keeps it). ADFS and generic OIDC authorities have no user realm: `Unknown`. A failure
/// also gives `Unknown`, as MSAL falls back to plain username/password then.
pub async fn user_realm(http: &ThrottledHttp, authority: &Authority, username: &str) -> UserRealm {
    if matches!(
        authority.authority_type(),
        AuthorityType::Adfs | AuthorityType::Oidc | AuthorityType::B2c
    ) {
        return UserRealm::Unknown;
    }
    let scheme = if authority.url().starts_with("http://") {
        "http"
    } else {
        "https"
    };
    let user: String = url::form_urlencoded::byte_serialize(username.as_bytes()).collect();
    let url = format!(
        "{scheme}://{}/common/userrealm/{user}?api-version=1.0",
        authority.host_with_port()
    );
    match wire::get(http, &url).await {
        Ok(response) if response.status().is_success() => parse_user_realm(response.body()),
        Ok(_) | Err(_) => UserRealm::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realm_documents() {
        assert_eq!(
            parse_user_realm(br#"{"ver":"1.0","account_type":"Managed"}"#),
            UserRealm::Managed
        );
        assert_eq!(
            parse_user_realm(
                br#"{"account_type":"Federated","federation_protocol":"WSTrust","federation_metadata_url":"https://fs.example/adfs/services/trust/mex","cloud_audience_urn":"urn:federation:MicrosoftOnline"}"#
            ),
            UserRealm::Federated(FederatedRealm {
                protocol: Some("WSTrust".into()),
                metadata_url: Some("https://fs.example/adfs/services/trust/mex".into()),
                active_auth_url: None,
                cloud_audience_urn: Some("urn:federation:MicrosoftOnline".into()),
            })
        );
        assert_eq!(
            parse_user_realm(br#"{"account_type":"Unknown"}"#),
            UserRealm::Unknown
        );
        assert_eq!(parse_user_realm(b"<html>"), UserRealm::Unknown);
    }
}
