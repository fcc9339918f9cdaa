//! The default transport: reqwest with rustls, redirects off, timeouts on.

use std::time::Duration;

use futures_util::future::BoxFuture;

use super::{HttpClient, HttpError, HttpRequest, HttpResponse};
use crate::error::Error;

/// Options of the default HTTP client.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Whole-request timeout (default 30 s; MSAL Python has none).
    pub timeout: Duration,
    /// Connect timeout (default 10 s).
    pub connect_timeout: Duration,
    /// Extra CA certificates (PEM) to trust, e.g. a private authority such as the emulator.
    pub trusted_ca_pems: Vec<String>,
    /// Trust only `trusted_ca_pems`, not the public web PKI roots.
    pub only_trusted_cas: bool,
    /// An explicit proxy URL for all requests.
    pub proxy: Option<String>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            trusted_ca_pems: Vec::new(),
            only_trusted_cas: false,
            proxy: None,
        }
    }
}

/// [`HttpClient`] over reqwest (rustls, ring).
#[derive(Debug, Clone)]
pub struct ReqwestHttpClient {
    client: reqwest::Client,
}

impl ReqwestHttpClient {
    /// Wraps an already configured reqwest client (the pinned Service Fabric transport).
    pub(crate) fn from_client(client: reqwest::Client) -> Self {
        Self { client }
    }

    /// Builds the client. Fails on an unreadable CA certificate or proxy URL.
    pub fn new(options: &HttpOptions) -> Result<Self, Error> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(options.timeout)
            .connect_timeout(options.connect_timeout);
        if options.only_trusted_cas {
            builder = builder.tls_built_in_root_certs(false);
        }
        for pem in &options.trusted_ca_pems {
            let cert = reqwest::Certificate::from_pem(pem.as_bytes()).map_err(|e| {
                Error::Configuration(format!("a trusted CA certificate is not valid PEM: {e}"))
            })?;
            builder = builder.add_root_certificate(cert);
        }
        if let Some(proxy) = &options.proxy {
            let proxy = reqwest::Proxy::all(proxy).map_err(|e| {
                Error::Configuration(format!("the proxy URL {proxy:?} is not valid: {e}"))
            })?;
            builder = builder.proxy(proxy);
        }
        let client = builder
            .build()
            .map_err(|e| Error::Configuration(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { client })
    }
}

fn transport_error(e: &reqwest::Error) -> HttpError {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    HttpError {
        message,
        timeout: e.is_timeout(),
    }
}

impl HttpClient for ReqwestHttpClient {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request.map(reqwest::Body::from))
                .map_err(|e| transport_error(&e))?;
            let response = self
                .client
                .execute(request)
                .await
                .map_err(|e| transport_error(&e))?;
            let mut builder = http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = response.bytes().await.map_err(|e| transport_error(&e))?;
            builder.body(body.to_vec()).map_err(|e| HttpError {
                message: e.to_string(),
                timeout: false,
            })
        })
    }
}
