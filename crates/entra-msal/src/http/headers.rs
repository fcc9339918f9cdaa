//! MSAL's telemetry and routing headers.

use std::sync::OnceLock;

use http::header::ACCEPT;
use http::{HeaderMap, HeaderName, HeaderValue};

/// Headers a request adds to MSAL's own (routing and telemetry), parsed where they are made.
pub(crate) type ExtraHeaders = Vec<(HeaderName, HeaderValue)>;

/// The library's SKU, sent as `x-client-sku`.
pub const SKU: &str = "MSAL.Rust";

/// Who is calling: sent as `x-app-name` / `x-app-ver` when set.
#[derive(Debug, Clone, Default)]
pub struct ClientIdentity {
    /// The application's name.
    pub app_name: Option<String>,
    /// The application's version.
    pub app_version: Option<String>,
    /// MSAL's headers without the correlation id, built on the first request.
    constant: OnceLock<HeaderMap>,
}

impl ClientIdentity {
    /// The identity an application reports.
    pub(crate) fn new(app_name: Option<String>, app_version: Option<String>) -> Self {
        Self {
            app_name,
            app_version,
            constant: OnceLock::new(),
        }
    }

    /// A token request's headers, MSAL's on every one: `Accept`, `x-client-sku`,
    /// `x-client-ver`, `x-client-os`, `x-ms-lib-capability`, the app's name and version, and
    /// `client-request-id`. All but the last are built on the first request and cloned after
    /// (no name is hashed again; the clone keeps the index table, sized for the request's own
    /// headers).
    pub(crate) fn request_headers(&self, correlation_id: &str) -> HeaderMap {
        let mut headers = self
            .constant
            .get_or_init(|| self.constant_headers())
            .clone();
        if let Ok(v) = HeaderValue::from_str(correlation_id) {
            headers.append(REQUEST_ID, v);
        }
        headers
    }

    fn constant_headers(&self) -> HeaderMap {
        const SKU_HEADER: HeaderName = HeaderName::from_static("x-client-sku");
        const VERSION: HeaderName = HeaderName::from_static("x-client-ver");
        const OS: HeaderName = HeaderName::from_static("x-client-os");
        const CAPABILITY: HeaderName = HeaderName::from_static("x-ms-lib-capability");
        const APP_NAME: HeaderName = HeaderName::from_static("x-app-name");
        const APP_VERSION: HeaderName = HeaderName::from_static("x-app-ver");
        // Room for the content type, the correlation id, telemetry and routing headers.
        let mut headers = HeaderMap::with_capacity(16);
        headers.append(ACCEPT, HeaderValue::from_static("application/json"));
        headers.append(SKU_HEADER, HeaderValue::from_static(SKU));
        headers.append(VERSION, HeaderValue::from_static(env!("CARGO_PKG_VERSION")));
        headers.append(OS, HeaderValue::from_static(std::env::consts::OS));
        headers.append(CAPABILITY, HeaderValue::from_static("retry-after, h429"));
        for (name, value) in [(APP_NAME, &self.app_name), (APP_VERSION, &self.app_version)] {
            if let Some(v) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
                headers.append(name, v);
            }
        }
        headers
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_name_and_version_the_app_headers_are_absent() {
        let headers = ClientIdentity::default().request_headers("abc");
        assert_eq!(headers.len(), 6);
        assert!(headers.get("x-app-name").is_none());
        assert!(headers.get("x-app-ver").is_none());
    }

    #[test]
    fn exact_headers() {
        let identity = ClientIdentity::new(Some("tool".into()), Some("2.1".into()));
        // Twice: the first request builds the constant set, the second copies it.
        let first = identity.request_headers("other");
        let headers = identity.request_headers("abc");
        assert_eq!(first.get("client-request-id").unwrap(), "other");
        let get = |n: &str| headers.get(n).map(|v| v.to_str().unwrap().to_string());
        assert_eq!(headers.len(), 8);
        assert_eq!(get("accept").as_deref(), Some("application/json"));
        assert_eq!(get("x-client-os").as_deref(), Some(std::env::consts::OS));
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
