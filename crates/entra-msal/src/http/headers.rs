//! MSAL's telemetry and routing headers.

use std::sync::OnceLock;

use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue};

/// Headers a request adds to MSAL's own (routing), parsed where they are made.
pub(crate) type ExtraHeaders = Vec<(HeaderName, HeaderValue)>;

/// The values of `x-client-current-telemetry` and `x-client-last-telemetry`; `None` leaves a
/// header out.
pub(crate) type TelemetryHeaders = [Option<HeaderValue>; 2];

/// The library's SKU, sent as `x-client-sku`.
pub const SKU: &str = "MSAL.Rust";

/// Who is calling: sent as `x-app-name` / `x-app-ver` when set.
#[derive(Debug, Clone, Default)]
pub struct ClientIdentity {
    /// The application's name.
    pub app_name: Option<String>,
    /// The application's version.
    pub app_version: Option<String>,
    /// MSAL's headers for a form, with empty placeholders for [`PER_REQUEST`] at the end,
    /// built on the first request (only with a name or version: see
    /// [`form_headers`](Self::form_headers)).
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

    /// The headers of a form posted to a token endpoint, MSAL's on every one: `Accept`,
    /// `x-client-sku`, `x-client-ver`, `x-client-os`, `x-ms-lib-capability`, the app's name and
    /// version, `Content-Type`, `client-request-id` and the two telemetry headers (a header
    /// whose value is `None`, or a correlation id that cannot be a header value, is left out).
    ///
    /// The set is built on the first request with a placeholder for each per-request value,
    /// then cloned and the placeholders filled in place: no header name is hashed again, and the
    /// map does not grow (a clone has no room to spare). The placeholders are found by
    /// position: a `HeaderMap` never removed from iterates in insertion order (`exact_headers`
    /// fails if a version of `http` changes that).
    pub(crate) fn form_headers(
        &self,
        correlation_id: &str,
        telemetry: TelemetryHeaders,
    ) -> HeaderMap {
        // Without a name and version (the usual case), every application's set is the same:
        // one process-wide copy, which stays in the processor's caches however many
        // applications take turns.
        static ANONYMOUS: OnceLock<HeaderMap> = OnceLock::new();
        let constant = if self.app_name.is_none() && self.app_version.is_none() {
            &ANONYMOUS
        } else {
            &self.constant
        };
        let mut headers = constant.get_or_init(|| self.constant_headers()).clone();
        let [current, last] = telemetry;
        let values = [HeaderValue::from_str(correlation_id).ok(), current, last];
        let mut unset = [false; PER_REQUEST_COUNT];
        let first_placeholder = headers.len() - PER_REQUEST_COUNT;
        let placeholders = headers.iter_mut().skip(first_placeholder);
        for ((_, slot), (value, unset)) in placeholders.zip(values.into_iter().zip(&mut unset)) {
            match value {
                Some(value) => *slot = value,
                None => *unset = true,
            }
        }
        for (name, unset) in PER_REQUEST.iter().zip(unset) {
            if unset {
                headers.remove(name);
            }
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
        // Room for every header a request may have (nine, the app's name and version, a
        // routing header): a clone keeps the index table's size, 16 slots here.
        let mut headers = HeaderMap::with_capacity(12);
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
        headers.append(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        for name in PER_REQUEST {
            headers.append(name, HeaderValue::from_static(""));
        }
        headers
    }
}

/// How many headers change with every request.
const PER_REQUEST_COUNT: usize = 3;
/// The headers whose values change with every request, in the order their placeholders end
/// the constant set: the correlation id, then the two telemetry headers.
const PER_REQUEST: [HeaderName; PER_REQUEST_COUNT] = [
    HeaderName::from_static("client-request-id"),
    HeaderName::from_static("x-client-current-telemetry"),
    HeaderName::from_static("x-client-last-telemetry"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn telemetry(current: &str, last: &str) -> TelemetryHeaders {
        [Some(current), Some(last)].map(|v| v.map(HeaderValue::from_str).and_then(Result::ok))
    }

    #[test]
    fn without_a_name_and_version_the_app_headers_are_absent() {
        let headers = ClientIdentity::default().form_headers("abc", telemetry("c", "l"));
        assert_eq!(headers.len(), 9);
        assert!(headers.get("x-app-name").is_none());
        assert!(headers.get("x-app-ver").is_none());
    }

    #[test]
    fn exact_headers() {
        let identity = ClientIdentity::new(Some("tool".into()), Some("2.1".into()));
        // Twice: the first request builds the constant set, the second copies it.
        let first = identity.form_headers("other", telemetry("4|730,2|", "4|0|||"));
        let headers = identity.form_headers("abc", telemetry("4|84,3|", "4|2|||"));
        assert_eq!(first.get("client-request-id").unwrap(), "other");
        assert_eq!(first.get("x-client-current-telemetry").unwrap(), "4|730,2|");
        let get = |n: &str| headers.get(n).map(|v| v.to_str().unwrap().to_string());
        assert_eq!(headers.len(), 11);
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
        assert_eq!(
            get("content-type").as_deref(),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(get("client-request-id").as_deref(), Some("abc"));
        assert_eq!(
            get("x-client-current-telemetry").as_deref(),
            Some("4|84,3|")
        );
        assert_eq!(get("x-client-last-telemetry").as_deref(), Some("4|2|||"));
        assert_eq!(get("x-app-name").as_deref(), Some("tool"));
        assert_eq!(get("x-app-ver").as_deref(), Some("2.1"));
        assert!(headers.values().all(|v| !v.is_empty()));
    }

    #[test]
    fn a_value_left_out_leaves_no_placeholder() {
        let identity = ClientIdentity::default();
        let without_telemetry = identity.form_headers("abc", [None, None]);
        assert_eq!(without_telemetry.len(), 7);
        assert!(
            without_telemetry
                .get("x-client-current-telemetry")
                .is_none()
        );
        assert!(without_telemetry.get("x-client-last-telemetry").is_none());
        assert_eq!(without_telemetry.get("client-request-id").unwrap(), "abc");
        let only_last = identity.form_headers("bad\nid", [None, HeaderValue::from_str("l").ok()]);
        assert_eq!(only_last.len(), 7);
        assert!(only_last.get("client-request-id").is_none());
        assert_eq!(only_last.get("x-client-last-telemetry").unwrap(), "l");
        // The constant set is unchanged for the next request.
        let next = identity.form_headers("id", telemetry("c", "l"));
        assert_eq!(next.len(), 9);
        assert!(next.values().all(|v| !v.is_empty()));
    }
}
