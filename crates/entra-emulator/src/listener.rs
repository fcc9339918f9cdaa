//! The HTTP plumbing every listener of the emulator shares (the main one and the
//! managed-identity ones): the accept loop (TLS, timeouts, back-off), the `Host` check, and the
//! middleware every request passes (trace ids, body limit, request log, scripted faults).

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::errors::{self, EntraError, Trace};
use crate::faults::{self, FaultOutcome, RequestFacts};
use crate::request_log::LoggedRequest;
use crate::state::AppState;

/// Serves `router` on `listener` (through TLS when `acceptor` is set) until `shutdown` turns.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    // Every endpoint answers only requests naming this listener (DNS rebinding).
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let router = router.layer(axum::middleware::from_fn(
        move |request: Request, next: Next| check_host(port, request, next),
    ));
    let mut backoff = AcceptBackoff::default();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => {
                backoff.reset();
                stream
            }
            Err(e) => {
                // Out of descriptors (EMFILE/ENFILE) the listener stays readable: without a
                // pause the loop would spin a core until connections close.
                let pause = backoff.next_pause();
                tracing::warn!(error = %e, pause_ms = pause.as_millis() as u64, "accept failed; pausing");
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = shutdown.changed() => break,
                }
                continue;
            }
        };
        // Responses go out at once: with Nagle's algorithm on, a response written after the TLS
        // handshake's last small record waits for the client's delayed ACK (up to 40 ms).
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let acceptor = acceptor.clone();
        let mut conn_shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = hyper_util::service::TowerToHyperService::new(router);
            // A client that stops sending headers does not hold a connection forever.
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(30));
            let served = async {
                match acceptor {
                    Some(acceptor) => {
                        let Ok(Ok(tls)) = tokio::time::timeout(
                            std::time::Duration::from_secs(10),
                            acceptor.accept(stream),
                        )
                        .await
                        else {
                            return;
                        };
                        let io = hyper_util::rt::TokioIo::new(tls);
                        let _ = builder.serve_connection(io, service).await;
                    }
                    None => {
                        let io = hyper_util::rt::TokioIo::new(stream);
                        let _ = builder.serve_connection(io, service).await;
                    }
                }
            };
            tokio::select! {
                _ = served => {}
                _ = conn_shutdown.changed() => {}
            }
        });
    }
}

/// How long the accept loop pauses after consecutive failures: 10 ms, doubling to 1 s.
#[derive(Debug, Default)]
pub(crate) struct AcceptBackoff {
    failures: u32,
}

impl AcceptBackoff {
    /// The first pause.
    pub(crate) const MIN: std::time::Duration = std::time::Duration::from_millis(10);
    /// The longest pause.
    pub(crate) const MAX: std::time::Duration = std::time::Duration::from_secs(1);

    /// The pause after one more failure.
    pub(crate) fn next_pause(&mut self) -> std::time::Duration {
        let pause = Self::MIN.saturating_mul(1 << self.failures.min(10));
        self.failures = self.failures.saturating_add(1);
        pause.min(Self::MAX)
    }

    /// A connection was accepted: start again from the shortest pause.
    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }
}

/// Whether `host` (a `Host` header value) names this emulator: `127.0.0.1`, `localhost` or
/// `[::1]`, with no port or the listener's `port`.
///
/// Rule: a loopback server must refuse requests whose `Host` is another name, or a page on a
/// hostile site can rebind its DNS name to 127.0.0.1 and read the answers (DNS rebinding; the
/// same check as the library's loopback redirect listener).
pub fn host_is_local(host: &str, port: u16) -> bool {
    let (name, host_port) = match host.rsplit_once(':') {
        // `[::1]:443` or `127.0.0.1:443`; a bare `[::1]` has its colons inside the brackets.
        Some((name, p)) if !p.contains(']') => (name, Some(p)),
        _ => (host, None),
    };
    let name_ok = name == "127.0.0.1" || name.eq_ignore_ascii_case("localhost") || name == "[::1]";
    let port_ok = match host_port {
        None => true,
        Some(p) => p.parse::<u16>().is_ok_and(|p| p == port),
    };
    name_ok && port_ok
}

async fn check_host(port: u16, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| request.uri().authority().map(|a| a.to_string()));
    match host {
        Some(h) if host_is_local(&h, port) => next.run(request).await,
        other => {
            let why = match other {
                // RFC 9112 §3.2: a server responds 400 to an HTTP/1.1 request without Host.
                None => "The request has no Host header.".to_string(),
                Some(h) => format!(
                    "The Host header {:?} does not name this emulator (use 127.0.0.1:{port}, localhost:{port} or [::1]:{port}).",
                    h.chars().take(256).collect::<String>()
                ),
            };
            let e = EntraError::new(errors::MALFORMED_REQUEST, &[&why]).with_status(400);
            let trace = Trace {
                trace_id: uuid::Uuid::new_v4().to_string(),
                correlation_id: uuid::Uuid::new_v4().to_string(),
                timestamp: crate::clock::Clock::default().timestamp(),
            };
            with_trace_headers(e.into_response_with(&trace), &trace)
        }
    }
}

/// The fallback for paths no route serves: Entra's 404 error.
pub(crate) async fn not_found(
    axum::Extension(trace): axum::Extension<Trace>,
    request: Request,
) -> Response {
    not_found_error(request.uri().path()).into_response_with(&trace)
}

/// The fallback for a method a route does not serve: Entra's 405 error.
pub(crate) async fn method_not_allowed(
    axum::Extension(trace): axum::Extension<Trace>,
    request: Request,
) -> Response {
    let mut e = EntraError::new(
        errors::MALFORMED_REQUEST,
        &[&format!(
            "{} is not supported on {}.",
            request.method(),
            request.uri().path()
        )],
    );
    e.status = Some(405);
    e.into_response_with(&trace)
}

fn not_found_error(path: &str) -> EntraError {
    EntraError::new(
        errors::MALFORMED_REQUEST,
        &[&format!("The endpoint '{path}' does not exist.")],
    )
    .with_status(404)
}

fn header_map(request: &Request) -> BTreeMap<String, String> {
    let mut headers = BTreeMap::<String, String>::new();
    for (name, value) in request.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_string())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    headers
}

fn pairs(bytes: &[u8]) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for (k, v) in serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes).unwrap_or_default() {
        map.entry(k).or_insert(v);
    }
    map
}

/// Trace ids, body limit, request log and scripted faults, around every request.
pub(crate) async fn entra_layer(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let correlation_id = request
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_string)
        .unwrap_or_else(|| crate::crypto::random_uuid().to_string());
    let trace = Trace {
        trace_id: crate::crypto::random_uuid().to_string(),
        correlation_id,
        timestamp: state.clock.timestamp(),
    };
    let is_control = request.uri().path().starts_with("/_control");
    if is_control && !state.settings.control_api {
        return with_trace_headers(
            not_found_error(request.uri().path()).into_response_with(&trace),
            &trace,
        );
    }
    let (mut parts, body) = request.into_parts();
    let limit = state.settings.max_body_bytes;
    // A client that stops sending its body does not hold the request forever.
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        axum::body::to_bytes(body, limit),
    )
    .await;
    let bytes = match read {
        Ok(Ok(b)) => b,
        Ok(Err(_)) => {
            let e = EntraError::new(
                errors::MALFORMED_REQUEST,
                &[&format!("The request body is larger than {limit} bytes.")],
            );
            return with_trace_headers(e.with_status(413).into_response_with(&trace), &trace);
        }
        Err(_) => {
            let e = EntraError::new(
                errors::MALFORMED_REQUEST,
                &["The request body was not received within 30 seconds."],
            );
            return with_trace_headers(e.with_status(408).into_response_with(&trace), &trace);
        }
    };
    parts.extensions.insert(trace.clone());
    if is_control && parts.method == http::Method::POST && !is_json(&parts.headers) {
        // A cross-site page can POST without a CORS preflight only with a form or text
        // content type; requiring JSON keeps it from driving the control API (CSRF).
        return with_trace_headers(
            refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "control requests must have Content-Type: application/json",
            ),
            &trace,
        );
    }
    let mut request = Request::from_parts(parts, Body::from(bytes.clone()));
    if is_control {
        return next.run(request).await;
    }

    let is_form = request
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let form = if is_form {
        pairs(&bytes)
    } else {
        BTreeMap::new()
    };
    let query = pairs(request.uri().query().unwrap_or("").as_bytes());
    let mut entry = LoggedRequest {
        method: request.method().to_string(),
        path: request.uri().path().to_string(),
        query,
        headers: header_map(&request),
        form,
        status: 0,
    };

    let facts = RequestFacts {
        method: &entry.method,
        path: &entry.path,
        grant_type: entry.form.get("grant_type").map(String::as_str),
        client_id: entry
            .form
            .get("client_id")
            .or_else(|| entry.query.get("client_id"))
            .map(String::as_str),
    };
    state.secrets.record_received(&entry.form);
    let fault = faults::take_matching(&mut state.runtime().faults, &facts);
    let response = match fault.map(|f| faults::apply(&f, &trace)) {
        Some(FaultOutcome::Respond(response)) => response,
        Some(FaultOutcome::Delay(d)) => {
            tokio::time::sleep(d).await;
            request.extensions_mut().insert(trace.clone());
            next.run(request).await
        }
        None => next.run(request).await,
    };
    entry.status = response.status().as_u16();
    state.log.push(entry);
    with_trace_headers(response, &trace)
}

fn is_json(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

fn with_trace_headers(mut response: Response, trace: &Trace) -> Response {
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&trace.correlation_id) {
        headers.insert("client-request-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&trace.trace_id) {
        headers.insert("x-ms-request-id", v);
    }
    headers.insert(
        "cache-control",
        HeaderValue::from_static("no-store, no-cache"),
    );
    response
}

/// A control-API refusal: `status` with `{"error": message}`, as the control API's own
/// refusals.
fn refuse(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({"error": message}))).into_response()
}
