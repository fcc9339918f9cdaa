//! HTTP: the transport trait users can implement, the default reqwest client, MSAL's request
//! headers, and MSAL's throttling and response cache.

mod headers;
mod options;
#[cfg(feature = "reqwest")]
mod reqwest_client;
pub(crate) mod throttle;

use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::error::ErrorCause;

pub(crate) use headers::{ClientIdentity, ExtraHeaders, TelemetryHeaders};
pub use options::HttpOptions;
#[cfg(feature = "reqwest")]
pub use reqwest_client::ReqwestHttpClient;
pub(crate) use throttle::ThrottledHttp;

/// A request as the library builds it: method, URL, headers, and a (possibly empty) body.
pub type HttpRequest = http::Request<Vec<u8>>;
/// A response with its whole body read.
pub type HttpResponse = http::Response<Vec<u8>>;

/// A transport failure: the request produced no HTTP response.
///
/// Custom [`HttpClient`]s build it with [`new`](Self::new) or [`timeout`](Self::timeout) and
/// attach their own error with [`with_source`](Self::with_source), which stays reachable
/// through [`std::error::Error::source`] on this error and on the library's
/// [`Error::Network`](crate::Error::Network).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct HttpError {
    message: String,
    timeout: bool,
    #[source]
    source: Option<ErrorCause>,
}

impl HttpError {
    /// A failure that is not a timeout (connect, TLS, dropped connection, body read).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            timeout: false,
            source: None,
        }
    }

    /// A timeout.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self {
            timeout: true,
            ..Self::new(message)
        }
    }

    /// The transport's own error, kept as this error's source.
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// What failed.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the request timed out.
    pub fn is_timeout(&self) -> bool {
        self.timeout
    }

    /// The transport's own error, shared.
    pub(crate) fn cause(&self) -> Option<ErrorCause> {
        self.source.clone()
    }

    /// The library's [`Error::Network`](crate::Error::Network) for a request to `url` that
    /// failed with this error.
    pub(crate) fn at(&self, url: impl Into<String>) -> crate::Error {
        crate::Error::Network {
            url: url.into(),
            message: self.message.clone(),
            timeout: self.timeout,
            source: self.cause(),
        }
    }
}

/// Sends HTTP requests. Implement it to bring your own transport; the default is
/// `ReqwestHttpClient` (feature `reqwest`, on by default). Implementations must not follow
/// redirects.
pub trait HttpClient: Send + Sync + 'static {
    /// Sends one request and reads the whole response.
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>>;
}

impl<T: HttpClient + ?Sized> HttpClient for Arc<T> {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        (**self).send(request)
    }
}

/// The transport an application uses when it is given none: `ReqwestHttpClient` with the
/// `reqwest` feature (on by default), else a configuration error that says what to do.
pub(crate) fn default_client(options: &HttpOptions) -> Result<Arc<dyn HttpClient>, crate::Error> {
    #[cfg(feature = "reqwest")]
    {
        Ok(Arc::new(ReqwestHttpClient::new(options)?))
    }
    #[cfg(not(feature = "reqwest"))]
    {
        let _ = options;
        Err(crate::Error::configuration(
            "no HTTP transport: this build of entra-msal has no default one (the `reqwest` \
             feature is off); pass your own with the builder's http_client(...), or enable the \
             `reqwest` feature"
                .into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "reqwest")]
    #[test]
    fn the_default_transport_is_reqwest() {
        assert!(default_client(&HttpOptions::default()).is_ok());
    }

    #[cfg(not(feature = "reqwest"))]
    #[test]
    fn without_the_reqwest_feature_an_application_asks_for_a_transport() {
        let err = crate::PublicClientApplication::builder("0c4a2e6f-8b1d-4f3a-9e5c-7d2b1a0f9e11")
            .build()
            .unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, crate::Error::Configuration { .. }) && text.contains("http_client("),
            "{text}"
        );
    }
}
