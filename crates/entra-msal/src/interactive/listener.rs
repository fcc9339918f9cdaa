//! The one-shot loopback redirect listener.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use super::http1::{self, CONTINUE, MAX_REQUEST_BYTES, ParseError, ParsedRequest};
use super::pages::ResultPages;
use super::redirect::{self, Rejection};
use crate::error::Error;

/// Connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 32;
/// How long writing an answer may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// After refusing a request that was not read completely, how long unread input is discarded
/// so closing the socket does not reset the connection before the client read the answer.
const LINGER: Duration = Duration::from_millis(500);

/// A one-shot loopback redirect listener on `127.0.0.1` only, unless the caller binds another
/// address explicitly with [`bind_on`](Self::bind_on) (e.g. `0.0.0.0` inside a container whose
/// port is published to the host).
///
/// Bind it, put [`redirect_uri`](Self::redirect_uri) into the authorization request, open the
/// URL, then [`wait_for_response`](Self::wait_for_response):
///
/// ```ignore
/// # async fn demo() -> Result<(), entra_msal::Error> {
/// use std::time::Duration;
/// use entra_msal::{LoopbackListener, ResultPages, SystemBrowser, UrlOpener};
///
/// let listener = LoopbackListener::bind(None).await?;
/// let auth_uri = format!(
///     "https://login.microsoftonline.com/common/oauth2/v2.0/authorize?redirect_uri={}&...",
///     listener.redirect_uri()
/// );
/// SystemBrowser::new().open(&auth_uri)?;
/// let params = listener
///     .wait_for_response(Some("the-state"), Some(Duration::from_secs(300)), &ResultPages::default())
///     .await?;
/// let code = params.get("code");
/// # let _ = code; Ok(()) }
/// ```
///
/// The browser reaches it as `http://localhost:PORT`. Every connection is served concurrently
/// and answers exactly one request, so a slow or silent connection (a browser's speculative
/// pre-connection, a port scanner) does not hold up the browser's real request. Each
/// connection has a read deadline
/// (10 s by default) and requests are limited to 64 KiB.
#[derive(Debug)]
pub struct LoopbackListener {
    listener: TcpListener,
    addr: SocketAddr,
    connection_timeout: Duration,
    /// The page answered to `GET /?welcome=true`, if any.
    welcome_html: Option<String>,
}

impl LoopbackListener {
    /// The default per-connection read deadline.
    pub const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);

    /// Binds `127.0.0.1:port` (`None` or `0`: the OS picks a free port). A port already in
    /// use gives [`Error::Configuration`] naming the port.
    pub async fn bind(port: Option<u16>) -> Result<Self, Error> {
        Self::bind_on(IpAddr::V4(Ipv4Addr::LOCALHOST), port).await
    }

    /// Binds `address:port` instead of `127.0.0.1`: for a sign-in inside a container, whose
    /// loopback the host's browser cannot reach, bind `0.0.0.0` and publish the port
    /// (`docker run -p 8400:8400`, with the same fixed port). The redirect URI stays
    /// `http://localhost:PORT` and the `Host` check stays: only requests addressed to a
    /// loopback name are answered, and the `state` check keeps a response from another machine
    /// from ending the flow. Anything that can reach the address can connect, so bind all
    /// interfaces only where the network is the container's.
    pub async fn bind_on(address: IpAddr, port: Option<u16>) -> Result<Self, Error> {
        let port = port.unwrap_or(0);
        let listener = TcpListener::bind((address, port)).await.map_err(|e| {
            let what = if port == 0 {
                "a free port".to_string()
            } else {
                format!("port {port}")
            };
            let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
                " is already in use; close the program using it, choose another port, or let the OS pick one (port None)".to_string()
            } else {
                format!(" could not be bound: {e}")
            };
            Error::configuration(format!(
                "loopback redirect listener: {what} on {address}{hint}"
            ))
        })?;
        let addr = listener.local_addr().map_err(|e| {
            Error::configuration_caused(
                format!("loopback redirect listener: the bound address is unknown: {e}"),
                e,
            )
        })?;
        if !address.is_loopback() {
            tracing::info!(%addr, "loopback redirect listener bound on a non-loopback address, as asked");
        }
        tracing::debug!(port = addr.port(), "loopback redirect listener bound");
        Ok(Self {
            listener,
            addr,
            connection_timeout: Self::DEFAULT_CONNECTION_TIMEOUT,
            welcome_html: None,
        })
    }

    /// Serves `html` to `GET /?welcome=true` (see [`welcome_uri`](Self::welcome_uri)) while
    /// waiting, as MSAL Python's `welcome_template`: a landing page that links to the sign-in.
    pub fn with_welcome_page(mut self, html: String) -> Self {
        self.welcome_html = Some(html);
        self
    }

    /// `http://localhost:{port}/?welcome=true`, the welcome page's address.
    pub fn welcome_uri(&self) -> String {
        format!("http://localhost:{}/?welcome=true", self.port())
    }

    /// The port bound.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The socket address bound (`127.0.0.1:port` unless bound with `bind_on`).
    #[cfg(test)]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://localhost:{port}` (what Entra and MSAL register and use).
    pub fn redirect_uri(&self) -> String {
        format!("http://localhost:{}", self.port())
    }

    /// How long one connection may take to send its request before it is closed (default
    /// [`DEFAULT_CONNECTION_TIMEOUT`](Self::DEFAULT_CONNECTION_TIMEOUT)). Zero is raised to
    /// one millisecond.
    #[cfg(test)]
    pub fn with_connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Waits for the authorization response and returns its parameters (`code`, `state`,
    /// `client_info`, ... or `error`, `error_description`, ...).
    ///
    /// Accepted: `POST /` with an `application/x-www-form-urlencoded` body
    /// (`response_mode=form_post`) and `GET /?code=..&state=..` (`response_mode=query`). Only
    /// a request carrying a non-empty `code` or `error` counts; anything else (a favicon,
    /// other paths, missing parameters, bad bodies, garbage bytes, slow clients) gets a small
    /// 4xx answer and waiting continues. With `expected_state`, a response whose `state`
    /// differs is answered with the error page and ignored, so a forged or stale response
    /// cannot end the flow.
    ///
    /// The result is answered with `pages.success_html` (or the error page when it carries
    /// `error`), then the listener stops; the port is free when this returns. `timeout`
    /// `None` waits forever; otherwise [`Error::InteractionTimeout`] (the port is freed too).
    pub async fn wait_for_response(
        self,
        expected_state: Option<&str>,
        timeout: Option<Duration>,
        pages: &ResultPages,
    ) -> Result<HashMap<String, String>, Error> {
        self.wait_for_response_until(expected_state, timeout, pages, std::future::pending())
            .await
    }

    /// [`wait_for_response`](Self::wait_for_response) that also ends with
    /// [`Error::Cancelled`] when `cancel` completes first (a Ctrl-C handler, a UI's cancel
    /// button, a `tokio::sync::oneshot` receiver...). A response already being answered wins
    /// over a simultaneous timeout or cancellation.
    pub async fn wait_for_response_until(
        self,
        expected_state: Option<&str>,
        timeout: Option<Duration>,
        pages: &ResultPages,
        cancel: impl Future<Output = ()>,
    ) -> Result<HashMap<String, String>, Error> {
        let shared = Shared {
            expected_state,
            pages,
            welcome_html: self.welcome_html.as_deref(),
            connection_timeout: self.connection_timeout,
            claimed: AtomicBool::new(false),
        };
        let deadline = async {
            match timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(deadline, cancel);
        let mut connections = FuturesUnordered::new();
        let mut stopping: Option<Error> = None;
        loop {
            if let Some(error) = stopping.take() {
                // A connection that already claimed the result is let finish answering it.
                if !shared.claimed.load(Ordering::Acquire) || connections.is_empty() {
                    tracing::debug!(port = self.addr.port(), %error, "loopback listener stops");
                    return Err(error);
                }
                stopping = Some(error);
            }
            tokio::select! {
                biased;
                Some(result) = connections.next(), if !connections.is_empty() => {
                    if let Some(params) = result {
                        tracing::debug!(port = self.addr.port(), "authorization response received");
                        return Ok(params);
                    }
                }
                () = &mut cancel, if stopping.is_none() => {
                    stopping = Some(Error::Cancelled(
                        "the interactive sign-in was cancelled while waiting for the browser".into(),
                    ));
                }
                () = &mut deadline, if stopping.is_none() => {
                    stopping = Some(Error::InteractionTimeout {
                        waited: timeout.unwrap_or_default(),
                    });
                }
                accepted = self.listener.accept(),
                    if stopping.is_none() && connections.len() < MAX_CONNECTIONS =>
                {
                    match accepted {
                        Ok((stream, peer)) => {
                            tracing::trace!(%peer, "loopback listener: connection");
                            connections.push(serve_connection(stream, &shared));
                        }
                        Err(e) => {
                            // Per-connection failures (reset before accept) and resource
                            // exhaustion (too many open files): pause briefly, keep going.
                            tracing::debug!(error = %e, "loopback listener: accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            }
        }
    }
}

/// What every connection needs to know.
struct Shared<'a> {
    expected_state: Option<&'a str>,
    pages: &'a ResultPages,
    welcome_html: Option<&'a str>,
    connection_timeout: Duration,
    /// Set by the connection that carries the accepted result.
    claimed: AtomicBool,
}

/// Why no request could be read from a connection.
enum ReadFailure {
    /// The bytes are not an acceptable request.
    Parse(ParseError),
    /// The client closed before sending a complete request (`true` when it sent something).
    Closed(bool),
    /// The read deadline passed or the socket failed.
    Abandoned,
}

/// Serves one connection; `Some` when it carried the accepted authorization response.
async fn serve_connection(
    mut stream: TcpStream,
    shared: &Shared<'_>,
) -> Option<HashMap<String, String>> {
    let read = tokio::time::timeout(shared.connection_timeout, read_request(&mut stream)).await;
    let request = match read {
        Ok(Ok(request)) => request,
        Ok(Err(ReadFailure::Parse(e))) => {
            tracing::debug!(reason = e.reason(), "loopback listener: malformed request");
            let answer = plain(e.status(), e.reason(), &[]);
            answer_and_close(&mut stream, &answer, true).await;
            return None;
        }
        Ok(Err(ReadFailure::Closed(true))) => {
            let answer = plain(400, "incomplete request", &[]);
            answer_and_close(&mut stream, &answer, false).await;
            return None;
        }
        Ok(Err(ReadFailure::Closed(false) | ReadFailure::Abandoned)) | Err(_) => return None,
    };
    if let Some(welcome) = shared.welcome_html
        && redirect::is_welcome_request(&request)
    {
        answer_and_close(&mut stream, &html_page(200, welcome), false).await;
        return None;
    }
    let params = match redirect::authorization_response(&request) {
        Ok(params) => params,
        Err(Rejection { status, message }) => {
            tracing::debug!(
                method = %request.method,
                path = %request.target.split('?').next().unwrap_or(""),
                status,
                "loopback listener: not the authorization response"
            );
            let allow: &[(&str, &str)] = if status == 405 {
                &[("Allow", "GET, POST")]
            } else {
                &[]
            };
            answer_and_close(&mut stream, &plain(status, message, allow), false).await;
            return None;
        }
    };
    if let Some(expected) = shared.expected_state
        && params.get("state").map(String::as_str) != Some(expected)
    {
        tracing::warn!("loopback listener: ignored an authorization response with a wrong state");
        let html = shared.pages.render_error(
            "state_mismatch",
            "This sign-in response does not belong to the sign-in in progress and was ignored. \
             Return to the application and try again if it is still waiting.",
        );
        answer_and_close(&mut stream, &html_page(400, &html), false).await;
        return None;
    }
    if shared.claimed.swap(true, Ordering::AcqRel) {
        let answer = plain(409, "the sign-in has already completed", &[]);
        answer_and_close(&mut stream, &answer, false).await;
        return None;
    }
    let html = match params.get("error") {
        Some(error) => shared.pages.render_error(
            error,
            params
                .get("error_description")
                .map(String::as_str)
                .unwrap_or(""),
        ),
        None => shared.pages.success_html.clone(),
    };
    answer_and_close(&mut stream, &html_page(200, &html), false).await;
    Some(params)
}

/// Reads until `bytes` hold one complete request (or fail to).
async fn read_request(stream: &mut TcpStream) -> Result<ParsedRequest, ReadFailure> {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 8192];
    let mut continue_sent = false;
    // The full length once the head is known: no need to re-parse before it is reached.
    let mut total: Option<usize> = None;
    loop {
        let room = (MAX_REQUEST_BYTES + 1)
            .saturating_sub(buf.len())
            .min(chunk.len());
        if room == 0 {
            return Err(ReadFailure::Parse(ParseError::TooLarge));
        }
        let n = match stream.read(&mut chunk[..room]).await {
            Ok(0) => return Err(ReadFailure::Closed(!buf.is_empty())),
            Ok(n) => n,
            Err(_) => return Err(ReadFailure::Abandoned),
        };
        buf.extend_from_slice(&chunk[..n]);
        let worth_parsing = match total {
            Some(t) => buf.len() >= t,
            None => chunk[..n].contains(&b'\n') || buf.len() > MAX_REQUEST_BYTES,
        };
        if !worth_parsing {
            continue;
        }
        match http1::parse_request(&buf) {
            Ok(request) => return Ok(request),
            Err(ParseError::Incomplete {
                total: t,
                expect_continue,
            }) => {
                total = t;
                if expect_continue && !continue_sent {
                    continue_sent = true;
                    if stream.write_all(CONTINUE).await.is_err() {
                        return Err(ReadFailure::Abandoned);
                    }
                }
            }
            Err(e) => return Err(ReadFailure::Parse(e)),
        }
    }
}

fn plain(status: u16, message: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    http1::response(
        status,
        "text/plain; charset=utf-8",
        extra,
        format!("{message}\n").as_bytes(),
    )
}

fn html_page(status: u16, html: &str) -> Vec<u8> {
    http1::response(status, "text/html; charset=utf-8", &[], html.as_bytes())
}

/// Writes `answer`, half-closes, and, when the request may not have been read completely,
/// discards input for a moment so closing does not reset the connection under the answer.
async fn answer_and_close(stream: &mut TcpStream, answer: &[u8], linger: bool) {
    let written = tokio::time::timeout(WRITE_TIMEOUT, async {
        stream.write_all(answer).await?;
        stream.flush().await?;
        stream.shutdown().await
    })
    .await;
    if !matches!(written, Ok(Ok(()))) || !linger {
        return;
    }
    let _ = tokio::time::timeout(LINGER, async {
        let mut sink = [0u8; 4096];
        let mut budget = 4 * MAX_REQUEST_BYTES;
        while budget > 0 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => budget = budget.saturating_sub(n),
            }
        }
    })
    .await;
}
