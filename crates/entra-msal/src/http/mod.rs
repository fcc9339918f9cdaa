//! HTTP: the transport trait users can implement, the default reqwest client, MSAL's request
//! headers, and MSAL's throttling and response cache.

mod headers;
mod reqwest_client;
pub(crate) mod throttle;

use futures_util::future::BoxFuture;

use crate::error::ErrorCause;

pub(crate) use headers::{ClientIdentity, msal_headers};
pub use reqwest_client::{HttpOptions, ReqwestHttpClient};
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
        self.source = Some(std::sync::Arc::new(source));
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
}

/// Sends HTTP requests. Implement it to bring your own transport; the default is
/// [`ReqwestHttpClient`]. Implementations must not follow redirects.
pub trait HttpClient: Send + Sync + 'static {
    /// Sends one request and reads the whole response.
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>>;
}

impl<T: HttpClient + ?Sized> HttpClient for std::sync::Arc<T> {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        (**self).send(request)
    }
}
