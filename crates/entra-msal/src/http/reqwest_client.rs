//! The default transport: reqwest with rustls, redirects off, timeouts on, and the retries of
//! MSAL Python's default transport.

use std::time::Duration;

use futures_util::future::BoxFuture;

use super::{HttpClient, HttpError, HttpOptions, HttpRequest, HttpResponse};
use crate::error::Error;

/// [`HttpClient`] over reqwest (rustls, ring).
#[derive(Debug, Clone)]
pub struct ReqwestHttpClient {
    client: reqwest::Client,
    retries: u8,
}

/// GET answers worth one more try after their `Retry-After` (urllib3's `RETRY_AFTER_STATUS_CODES`).
const RETRY_AFTER_STATUSES: [u16; 3] = [413, 429, 503];
/// The longest `Retry-After` waited for before a retry; a longer one is returned as it is (and
/// throttled by [`ThrottledHttp`](super::ThrottledHttp)).
const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);

/// Why one attempt failed, and whether it may be sent again.
struct Failed {
    error: HttpError,
    /// No connection was established: the server never saw the request.
    connect: bool,
}

impl ReqwestHttpClient {
    /// Wraps an already configured reqwest client (the pinned Service Fabric transport), with
    /// no retries (managed identity).
    pub(crate) fn from_client(client: reqwest::Client) -> Self {
        Self { client, retries: 0 }
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
                Error::configuration_caused(
                    format!("a trusted CA certificate is not valid PEM: {e}"),
                    e,
                )
            })?;
            builder = builder.add_root_certificate(cert);
        }
        if let Some(proxy) = &options.proxy {
            let proxy = reqwest::Proxy::all(proxy).map_err(|e| {
                Error::configuration_caused(format!("the proxy URL {proxy:?} is not valid: {e}"), e)
            })?;
            builder = builder.proxy(proxy);
        }
        let client = builder.build().map_err(|e| {
            Error::configuration_caused(format!("cannot build the HTTP client: {e}"), e)
        })?;
        Ok(Self {
            client,
            retries: options.retries,
        })
    }

    async fn attempt(&self, request: reqwest::Request) -> Result<HttpResponse, Failed> {
        let failed = |e: reqwest::Error| Failed {
            connect: e.is_connect(),
            error: transport_error(&e),
        };
        let response = self.client.execute(request).await.map_err(failed)?;
        let mut builder = http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        let body = response.bytes().await.map_err(failed)?;
        builder.body(body.to_vec()).map_err(|e| Failed {
            error: HttpError::new(e.to_string()).with_source(e),
            connect: false,
        })
    }
}

/// The wait before retrying a GET answer, when it is one worth retrying.
fn retry_wait(response: &HttpResponse) -> Option<Duration> {
    if !RETRY_AFTER_STATUSES.contains(&response.status().as_u16()) {
        return None;
    }
    let seconds: u64 = response
        .headers()
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let wait = Duration::from_secs(seconds);
    (wait <= MAX_RETRY_WAIT).then_some(wait)
}

/// A URL for the log: its query may carry parameters that are nobody's business.
fn without_query(url: &reqwest::Url) -> &str {
    url.as_str().split('?').next().unwrap_or("")
}

/// Whether a failed attempt may be sent again: never after a timeout; after a connect failure
/// always; after any other failure only for an idempotent GET.
fn may_retry(failed: &Failed, idempotent: bool) -> bool {
    !failed.error.is_timeout() && (failed.connect || idempotent)
}

fn transport_error(e: &reqwest::Error) -> HttpError {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    let error = if e.is_timeout() {
        HttpError::timeout(message)
    } else {
        HttpError::new(message)
    };
    error.with_source(ReqwestFailure(e.to_string()))
}

/// A reqwest error's text, as the source of an [`HttpError`]: `reqwest::Error` itself is not
/// `Clone`, and HTTP errors are shared by the waiters of a coalesced request.
#[derive(Debug)]
struct ReqwestFailure(String);

impl std::fmt::Display for ReqwestFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReqwestFailure {}

impl HttpClient for ReqwestHttpClient {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        Box::pin(async move {
            let idempotent = request.method() == http::Method::GET;
            let request = reqwest::Request::try_from(request.map(reqwest::Body::from))
                .map_err(|e| transport_error(&e))?;
            let mut retries_left = self.retries;
            let mut next = request;
            loop {
                // The body is in memory, so the request can always be copied.
                let again = (retries_left > 0).then(|| next.try_clone()).flatten();
                let outcome = self.attempt(next).await;
                let Some(again) = again else {
                    return outcome.map_err(|f| f.error);
                };
                match outcome {
                    Ok(response) => match retry_wait(&response).filter(|_| idempotent) {
                        Some(wait) => {
                            tracing::debug!(
                                method = %again.method(),
                                url = %without_query(again.url()),
                                status = response.status().as_u16(),
                                wait_seconds = wait.as_secs(),
                                "retrying after Retry-After"
                            );
                            tokio::time::sleep(wait).await;
                        }
                        None => return Ok(response),
                    },
                    Err(failed) if may_retry(&failed, idempotent) => {
                        tracing::debug!(
                            method = %again.method(),
                            url = %without_query(again.url()),
                            error = %failed.error,
                            "retrying after a transport failure"
                        );
                    }
                    Err(failed) => return Err(failed.error),
                }
                retries_left -= 1;
                next = again;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, retry_after: Option<&str>) -> HttpResponse {
        let mut b = http::Response::builder().status(status);
        if let Some(r) = retry_after {
            b = b.header("retry-after", r);
        }
        b.body(Vec::new()).unwrap()
    }

    #[test]
    fn only_413_429_503_with_a_short_numeric_retry_after_are_waited_for() {
        assert_eq!(
            retry_wait(&response(429, Some("2"))),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            retry_wait(&response(503, Some(" 60 "))),
            Some(Duration::from_secs(60))
        );
        assert_eq!(retry_wait(&response(413, Some("0"))), Some(Duration::ZERO));
        assert_eq!(retry_wait(&response(503, Some("61"))), None);
        assert_eq!(retry_wait(&response(429, None)), None);
        assert_eq!(retry_wait(&response(429, Some("soon"))), None);
        assert_eq!(retry_wait(&response(500, Some("1"))), None);
        assert_eq!(retry_wait(&response(200, Some("1"))), None);
    }

    #[test]
    fn connect_failures_always_retry_others_only_for_get_and_never_timeouts() {
        let f = |connect, timeout| Failed {
            error: if timeout {
                HttpError::timeout("")
            } else {
                HttpError::new("")
            },
            connect,
        };
        assert!(may_retry(&f(true, false), false));
        assert!(may_retry(&f(true, false), true));
        assert!(!may_retry(&f(false, false), false));
        assert!(may_retry(&f(false, false), true));
        assert!(!may_retry(&f(true, true), true));
        assert!(!may_retry(&f(false, true), true));
    }
}
