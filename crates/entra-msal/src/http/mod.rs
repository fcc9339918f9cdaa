//! HTTP: the transport trait users can implement, the default reqwest client, MSAL's request
//! headers, and MSAL's throttling and response cache.

mod headers;
mod reqwest_client;
pub(crate) mod throttle;

use futures_util::future::BoxFuture;

pub(crate) use headers::{ClientIdentity, msal_headers};
pub use reqwest_client::{HttpOptions, ReqwestHttpClient};
pub(crate) use throttle::ThrottledHttp;

/// A request as the library builds it: method, URL, headers, and a (possibly empty) body.
pub type HttpRequest = http::Request<Vec<u8>>;
/// A response with its whole body read.
pub type HttpResponse = http::Response<Vec<u8>>;

/// A transport failure: the request produced no HTTP response.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct HttpError {
    /// What failed (connect, TLS, timeout, dropped connection, body read).
    pub message: String,
    /// Whether it was a timeout.
    pub timeout: bool,
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
