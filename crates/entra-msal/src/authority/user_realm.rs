//! User-realm (home realm) discovery before username/password sign-in: is the user's domain
//! managed by Entra, federated to another identity provider, or unknown?

use serde_json::Value;

use super::{Authority, AuthorityType, wire};
use crate::http::ThrottledHttp;

/// What user-realm discovery says about a username's domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRealm {
    /// Entra holds the password: username/password sign-in works.
    Managed,
    /// Another identity provider holds the password (WS-Trust): username/password sign-in
    /// through Entra does not work.
    Federated {
        /// The federation protocol (`WSTrust`).
        protocol: Option<String>,
    },
    /// Entra does not know the domain (or discovery is not applicable).
    Unknown,
}

/// Reads a user-realm document.
pub fn parse_user_realm(body: &[u8]) -> UserRealm {
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return UserRealm::Unknown;
    };
    match json.get("account_type").and_then(Value::as_str) {
        Some("Managed") => UserRealm::Managed,
        Some("Federated") => UserRealm::Federated {
            protocol: json
                .get("federation_protocol")
                .and_then(Value::as_str)
                .map(str::to_string),
        },
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
            parse_user_realm(br#"{"account_type":"Federated","federation_protocol":"WSTrust"}"#),
            UserRealm::Federated {
                protocol: Some("WSTrust".into())
            }
        );
        assert_eq!(
            parse_user_realm(br#"{"account_type":"Unknown"}"#),
            UserRealm::Unknown
        );
        assert_eq!(parse_user_realm(b"<html>"), UserRealm::Unknown);
    }
}
