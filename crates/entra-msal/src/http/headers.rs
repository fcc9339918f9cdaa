//! MSAL's telemetry and routing headers.

use http::HeaderValue;

/// The library's SKU, sent as `x-client-sku`.
pub const SKU: &str = "MSAL.Rust";

/// Who is calling: sent as `x-app-name` / `x-app-ver` when set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The application's name.
    pub app_name: Option<String>,
    /// The application's version.
    pub app_version: Option<String>,
}

/// The headers MSAL sends on every token request: `Accept`, `x-client-sku`, `x-client-ver`,
/// `x-client-os`, `x-ms-lib-capability`, `client-request-id`, and the app's name and version.
pub fn msal_headers(
    correlation_id: &str,
    identity: &ClientIdentity,
) -> Vec<(&'static str, HeaderValue)> {
    let mut headers = vec![
        ("accept", HeaderValue::from_static("application/json")),
        ("x-client-sku", HeaderValue::from_static(SKU)),
        (
            "x-client-ver",
            HeaderValue::from_static(env!("CARGO_PKG_VERSION")),
        ),
        (
            "x-client-os",
            HeaderValue::from_static(std::env::consts::OS),
        ),
        (
            "x-ms-lib-capability",
            HeaderValue::from_static("retry-after, h429"),
        ),
    ];
    if let Ok(v) = HeaderValue::from_str(correlation_id) {
        headers.push(("client-request-id", v));
    }
    for (name, value) in [
        ("x-app-name", &identity.app_name),
        ("x-app-ver", &identity.app_version),
    ] {
        if let Some(v) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.push((name, v));
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_headers() {
        let identity = ClientIdentity {
            app_name: Some("tool".into()),
            app_version: Some("2.1".into()),
        };
        let headers = msal_headers("abc", &identity);
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_str().unwrap().to_string())
        };
        assert_eq!(get("x-client-sku").as_deref(), Some("MSAL.Rust"));
        assert_eq!(
            get("x-client-ver").as_deref(),
            Some(env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(
            get("x-ms-lib-capability").as_deref(),
            Some("retry-after, h429")
        );
        assert_eq!(get("client-request-id").as_deref(), Some("abc"));
        assert_eq!(get("x-app-name").as_deref(), Some("tool"));
        assert_eq!(get("x-app-ver").as_deref(), Some("2.1"));
    }
}
