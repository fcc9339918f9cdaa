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

impl PartialEq for ClientIdentity {
    fn eq(&self, other: &Self) -> bool {
        self.app_name == other.app_name && self.app_version == other.app_version
    }
}

impl Eq for ClientIdentity {}

impl ClientIdentity {
    /// The identity an application reports.
    pub(crate) fn new(app_name: Option<String>, app_version: Option<String>) -> Self {
        Self {
            app_name,
            app_version,
            constant: OnceLock::new(),
        }
    }

    /// A token request's headers: what [`append_msal_headers`] adds, cloned from the set built
    /// on the first request (no name is hashed again), with room for a request's own headers.
    pub(crate) fn request_headers(&self, correlation_id: &str) -> HeaderMap {
        let constant = self.constant.get_or_init(|| {
            // Room for the content type, the correlation id, telemetry and routing headers.
            let mut headers = HeaderMap::with_capacity(16);
            append_msal_headers(&mut headers, "", self);
            headers.remove(REQUEST_ID);
            headers
        });
        // The clone keeps the constant set's index table, sized for the headers to come.
        let mut headers = constant.clone();
        if let Ok(v) = HeaderValue::from_str(correlation_id) {
            headers.append(REQUEST_ID, v);
        }
        headers
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");

/// Adds the headers MSAL sends on every token request: `Accept`, `x-client-sku`,
/// `x-client-ver`, `x-client-os`, `x-ms-lib-capability`, `client-request-id`, and the app's name
/// and version. The names are constants: nothing is parsed per request.
fn append_msal_headers(headers: &mut HeaderMap, correlation_id: &str, identity: &ClientIdentity) {
    const SKU_HEADER: HeaderName = HeaderName::from_static("x-client-sku");
    const VERSION: HeaderName = HeaderName::from_static("x-client-ver");
    const OS: HeaderName = HeaderName::from_static("x-client-os");
    const CAPABILITY: HeaderName = HeaderName::from_static("x-ms-lib-capability");
    const APP_NAME: HeaderName = HeaderName::from_static("x-app-name");
    const APP_VERSION: HeaderName = HeaderName::from_static("x-app-ver");
    headers.append(ACCEPT, HeaderValue::from_static("application/json"));
    headers.append(SKU_HEADER, HeaderValue::from_static(SKU));
    headers.append(VERSION, HeaderValue::from_static(env!("CARGO_PKG_VERSION")));
    headers.append(OS, HeaderValue::from_static(std::env::consts::OS));
    headers.append(CAPABILITY, HeaderValue::from_static("retry-after, h429"));
    if let Ok(v) = HeaderValue::from_str(correlation_id) {
        headers.append(REQUEST_ID, v);
    }
    for (name, value) in [
        (APP_NAME, &identity.app_name),
        (APP_VERSION, &identity.app_version),
    ] {
        if let Some(v) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.append(name, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_has_exactly_msal_headers() {
        for identity in [
            ClientIdentity::default(),
            ClientIdentity::new(Some("tool".into()), Some("2.1".into())),
        ] {
            let mut expected = HeaderMap::new();
            append_msal_headers(&mut expected, "abc", &identity);
            // Twice: the first builds the constant set, the second copies it.
            for _ in 0..2 {
                assert_eq!(identity.request_headers("abc"), expected);
            }
        }
    }

    #[test]
    fn exact_headers() {
        let identity = ClientIdentity::new(Some("tool".into()), Some("2.1".into()));
        let mut headers = HeaderMap::new();
        append_msal_headers(&mut headers, "abc", &identity);
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
