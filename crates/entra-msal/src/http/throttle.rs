//! MSAL's throttling and HTTP response cache.
//!
//! [`ThrottledHttp`] sits between the library and an [`HttpClient`] and answers some requests from
//! memory, exactly as MSAL Python's `ThrottledHttpClient` does:
//!
//! 1. **Throttling.** A POST answered `429`, `5xx`, or anything carrying `Retry-After` is replayed
//!    for `min(3600, Retry-After)` seconds (the default when the header is absent or not an
//!    integer: 60 s for public clients, 5 s for confidential ones). The key is the URL, `client_id`,
//!    `scope` and a SHA-256 of the account-identifying form value (`refresh_token`, `code`,
//!    `username` or `user_id`), so one user's throttling does not block another's.
//! 2. **The "UI required" cache.** A POST answered HTTP 400 is replayed for 60 s to an identical
//!    request (same URL, same form parameters), except device-code polling (whose retries are
//!    expected) and responses that carry `Retry-After` (rule 1 handles those).
//! 3. **Discovery cache.** A GET answered `2xx` is cached for 24 h, keyed by its URL and query.
//!
//! Rules 1 and 2 read the form of a token request. A POST whose body is not a form (a WS-Trust
//! SOAP envelope) gets rule 1 only, keyed by its exact body, so a federation server's fault to
//! one password is never replayed to another.
//!
//! [`ThrottledHttp::for_managed_identity`] applies MSAL Python's managed-identity variant instead:
//! only rule 1, for every request (the managed-identity endpoints are GETs, Cloud Shell's is a
//! POST), keyed by method, URL and a SHA-256 of the body, with a 5 s default. Successful answers
//! and HTTP 400 are never replayed there: they carry tokens.
//!
//! At most [`CAPACITY`] responses are kept; when full, expired entries go first, then the oldest.
//! Transport errors are never cached. A replay is indistinguishable from the original response
//! (same status, headers and body).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use http::{HeaderMap, Method, StatusCode, Version};
use sha2::{Digest, Sha256};

use super::{HttpClient, HttpError, HttpRequest, HttpResponse};

/// How many responses the cache holds at most (as MSAL Python).
pub const CAPACITY: usize = 1024;
/// The longest a `Retry-After` is honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// How long an HTTP 400 to a POST is replayed.
const BAD_REQUEST_TTL: Duration = Duration::from_secs(60);
/// The default replay time of a throttled managed-identity request.
const MANAGED_IDENTITY_RETRY_AFTER: Duration = Duration::from_secs(5);
/// How long a successful GET (discovery, instance metadata) is cached.
const GET_TTL: Duration = Duration::from_secs(24 * 3600);
/// The device-code grant, in its RFC 8628 spelling (Entra also accepts `device_code`).
const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The form fields that identify the account, in MSAL's order of preference.
const ACCOUNT_FIELDS: [&str; 4] = ["refresh_token", "code", "username", "user_id"];

type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// An [`HttpClient`] wrapped with MSAL's throttling and response cache (see the module docs).
///
/// Cloning is cheap and the clones share one cache. Safe to use from many tasks at once; no lock
/// is held while a request is in flight.
#[derive(Clone)]
pub struct ThrottledHttp {
    inner: Arc<dyn HttpClient>,
    store: Arc<Store>,
    default_retry_after: Duration,
    now: Clock,
    managed_identity: bool,
}

impl fmt::Debug for ThrottledHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThrottledHttp")
            .field("default_retry_after", &self.default_retry_after)
            .field("cached_responses", &self.lock().entries.len())
            .finish_non_exhaustive()
    }
}

impl ThrottledHttp {
    /// Wraps `inner`. `default_retry_after` is how long a throttled POST is replayed when the
    /// response has no usable `Retry-After`: MSAL uses 60 s for public clients and 5 s for
    /// confidential clients. It is capped at one hour.
    pub fn new(inner: Arc<dyn HttpClient>, default_retry_after: Duration) -> Self {
        Self::with_clock(inner, default_retry_after, Instant::now)
    }

    /// How long a throttled request without a usable `Retry-After` is replayed (60 s for public
    /// clients, 5 s for confidential clients and managed identity).
    pub fn default_retry_after(&self) -> Duration {
        self.default_retry_after
    }

    /// Like [`ThrottledHttp::new`], reading the time from `now` instead of the system clock, so
    /// tests can move time forward without sleeping.
    pub fn with_clock(
        inner: Arc<dyn HttpClient>,
        default_retry_after: Duration,
        now: impl Fn() -> Instant + Send + Sync + 'static,
    ) -> Self {
        Self {
            inner,
            store: Arc::default(),
            default_retry_after: default_retry_after.min(MAX_RETRY_AFTER),
            now: Arc::new(now),
            managed_identity: false,
        }
    }

    /// Wraps `inner` for managed-identity endpoints, as MSAL Python's `ManagedIdentityClient`
    /// does: a response with `429`, `5xx` or `Retry-After` is replayed to an identical request
    /// (method, URL, body) for `min(3600, Retry-After)` seconds, 5 s when the header is absent;
    /// nothing else is stored. `now` is the time source (see [`ThrottledHttp::with_clock`]).
    pub fn for_managed_identity(
        inner: Arc<dyn HttpClient>,
        now: impl Fn() -> Instant + Send + Sync + 'static,
    ) -> Self {
        let mut http = Self::with_clock(inner, MANAGED_IDENTITY_RETRY_AFTER, now);
        http.managed_identity = true;
        http
    }

    /// [`send`](Self::send) for a POST of a form (a token request, whose headers say so: the
    /// caller knows, and the headers are not searched again) whose URI and body `again` makes
    /// again: while no answer to a POST is stored (the usual case), they are not copied before
    /// sending, only made again if this answer must be stored.
    pub async fn send_form(
        &self,
        request: HttpRequest,
        again: impl FnOnce() -> Option<(http::Uri, Vec<u8>)>,
    ) -> Result<HttpResponse, HttpError> {
        debug_assert!(is_form_post(&request), "send_form sends forms");
        if self.nothing_stored_for(true) {
            self.send_unstored_post(request, again).await
        } else {
            self.send_planned(request, true).await
        }
    }

    /// Sends `request`, or replays a stored response to an equivalent earlier request.
    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let form_post = is_form_post(&request);
        if self.nothing_stored_for(form_post) {
            let (uri, body) = (request.uri().clone(), request.body().clone());
            return self.send_unstored_post(request, || Some((uri, body))).await;
        }
        self.send_planned(request, form_post).await
    }

    /// [`send`](Self::send) through the keys of its plan: replayed when a stored answer
    /// matches, stored afterwards when the plan says so. `form_post`: see [`is_form_post`].
    async fn send_planned(
        &self,
        request: HttpRequest,
        form_post: bool,
    ) -> Result<HttpResponse, HttpError> {
        let plan = if self.managed_identity || (*request.method() == Method::POST && !form_post) {
            // Managed identity, and POSTs that are not forms (a WS-Trust SOAP envelope, unique
            // per request): rule 1 only, keyed by the exact body.
            Plan::throttle_only(&request)
        } else {
            Plan::for_request(&request)
        };
        if plan.is_empty() {
            return self.inner.send(request).await;
        }
        {
            let now = self.now();
            let mut store = self.lock();
            for key in plan.lookups() {
                if let Some(stored) = store.get(key, now) {
                    drop(store);
                    tracing::debug!(target: "entra_msal::http", url = %request.uri(), "replaying a stored response");
                    return Ok(stored.to_response());
                }
            }
        }
        let response = self.inner.send(request).await?;
        self.store(plan, &response);
        Ok(response)
    }

    /// Whether a form POST (`form_post`, see [`is_form_post`]) goes out while no answer to a
    /// POST is stored: nothing to replay, and a POST's keys (the form parsed, two SHA-256) are
    /// needed only if this response gets stored, which a success never is.
    fn nothing_stored_for(&self, form_post: bool) -> bool {
        form_post && !self.managed_identity && self.store.posts.load(Ordering::Relaxed) == 0
    }

    /// Sends a POST with nothing to replay (see [`nothing_stored_for`]); stores the answer
    /// under the keys of the URI and body `again` gives, if it must be stored.
    ///
    /// [`nothing_stored_for`]: Self::nothing_stored_for
    async fn send_unstored_post(
        &self,
        request: HttpRequest,
        again: impl FnOnce() -> Option<(http::Uri, Vec<u8>)>,
    ) -> Result<HttpResponse, HttpError> {
        let response = self.inner.send(request).await?;
        if post_may_be_stored(&response)
            && let Some((uri, body)) = again()
        {
            self.store(Plan::for_parts(&Method::POST, &uri, &body), &response);
        }
        Ok(response)
    }

    /// Stores `response` under the keys `plan` decides on, if any.
    fn store(&self, plan: Plan, response: &HttpResponse) {
        let decisions = plan.decide(response, self.default_retry_after);
        if !decisions.is_empty() {
            let stored = Arc::new(StoredResponse::from_response(response));
            let now = self.now();
            let mut store = self.lock();
            for (key, ttl) in decisions {
                store.insert(key, stored.clone(), now, ttl);
            }
        }
    }

    /// The current time on this client's clock.
    pub(crate) fn now(&self) -> Instant {
        (self.now)()
    }

    fn lock(&self) -> Locked<'_> {
        // No store operation can panic halfway through, so a poisoned lock still guards a
        // consistent store.
        Locked {
            responses: self
                .store
                .responses
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
            published: &self.store.posts,
        }
    }
}

/// The stored responses, shared by the clones of one client, and how many of them answer
/// POSTs, readable without the lock: with none (the usual case), a token request is sent
/// without looking further, after one load.
#[derive(Debug, Default)]
struct Store {
    responses: Mutex<ThrottledResponses>,
    /// A copy of `responses`' count of POST answers, made whenever the lock is released.
    posts: AtomicUsize,
}

/// The locked responses; releasing them publishes their count of POST answers.
struct Locked<'a> {
    responses: MutexGuard<'a, ThrottledResponses>,
    /// Where the count is published ([`Store::posts`]).
    published: &'a AtomicUsize,
}

impl std::ops::Deref for Locked<'_> {
    type Target = ThrottledResponses;
    fn deref(&self) -> &ThrottledResponses {
        &self.responses
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut ThrottledResponses {
        &mut self.responses
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        // Still under the lock: copies are published in the order the changes were made.
        self.published
            .store(self.responses.posts, Ordering::Relaxed);
    }
}

/// What to look up before sending, and how to decide what to store afterwards.
enum Plan {
    /// Neither GET nor POST: always sent.
    PassThrough,
    /// A GET, keyed by its URL.
    Get { key: String },
    /// Any request whose 429/5xx/`Retry-After` answers alone are replayed (managed identity).
    ThrottleOnly { key: String },
    /// A POST, with its throttling key and its "UI required" key.
    Post {
        throttle_key: String,
        bad_request_key: String,
        device_code: bool,
    },
}

impl Plan {
    fn for_request(request: &HttpRequest) -> Self {
        Self::for_parts(request.method(), request.uri(), request.body())
    }

    fn for_parts(method: &Method, uri: &http::Uri, body: &[u8]) -> Self {
        let url = uri.to_string();
        match *method {
            Method::GET => Self::Get {
                key: format!("GET {url}"),
            },
            Method::POST => {
                let form: Option<Vec<(String, String)>> = serde_urlencoded::from_bytes(body).ok();
                let field = |name: &str| {
                    form.as_ref()
                        .and_then(|f| f.iter().find(|(k, _)| k == name))
                        .map(|(_, v)| v.as_str())
                };
                let account = ACCOUNT_FIELDS.iter().find_map(|name| field(name));
                let throttle_key = format!(
                    "POST {url} client_id={} scope={} account={} 429/5xx/Retry-After",
                    field("client_id").unwrap_or_default(),
                    field("scope").unwrap_or_default(),
                    hex_sha256(&[account.map_or(&b"\0"[..], str::as_bytes)]),
                );
                let params_hash = match &form {
                    Some(pairs) => {
                        let mut sorted: Vec<_> = pairs.iter().collect();
                        sorted.sort();
                        let parts: Vec<&[u8]> = sorted
                            .iter()
                            .flat_map(|(k, v)| [k.as_bytes(), v.as_bytes()])
                            .collect();
                        hex_sha256(&parts)
                    }
                    None => hex_sha256(&[body]),
                };
                let bad_request_key = format!("POST {url} params={params_hash} 400");
                let device_code =
                    matches!(field("grant_type"), Some(DEVICE_CODE_GRANT | "device_code"));
                Self::Post {
                    throttle_key,
                    bad_request_key,
                    device_code,
                }
            }
            _ => Self::PassThrough,
        }
    }

    fn throttle_only(request: &HttpRequest) -> Self {
        Self::ThrottleOnly {
            key: format!(
                "REQ {} {} hash={} 429/5xx/Retry-After",
                request.method(),
                request.uri(),
                hex_sha256(&[request.body()])
            ),
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, Self::PassThrough)
    }

    fn lookups(&self) -> Vec<&str> {
        match self {
            Self::PassThrough => vec![],
            Self::Get { key } | Self::ThrottleOnly { key } => vec![key],
            Self::Post {
                throttle_key,
                bad_request_key,
                ..
            } => vec![bad_request_key, throttle_key],
        }
    }

    /// The keys to store `response` under, with their lifetimes.
    fn decide(
        self,
        response: &HttpResponse,
        default_retry_after: Duration,
    ) -> Vec<(String, Duration)> {
        let status = response.status();
        match self {
            Self::PassThrough => vec![],
            Self::ThrottleOnly { key } => throttle_ttl(response, default_retry_after)
                .map(|ttl| vec![(key, ttl)])
                .unwrap_or_default(),
            Self::Get { key } => {
                if status.is_success() {
                    vec![(key, GET_TTL)]
                } else {
                    vec![]
                }
            }
            Self::Post {
                throttle_key,
                bad_request_key,
                device_code,
            } => {
                let retry_after = response.headers().get(http::header::RETRY_AFTER);
                let mut keys = Vec::new();
                if let Some(ttl) = throttle_ttl(response, default_retry_after) {
                    keys.push((throttle_key, ttl));
                }
                if status == StatusCode::BAD_REQUEST && !device_code && retry_after.is_none() {
                    keys.push((bad_request_key, BAD_REQUEST_TTL));
                }
                keys
            }
        }
    }
}

/// Whether `request` is a POST of a form (a token request).
fn is_form_post(request: &HttpRequest) -> bool {
    *request.method() == Method::POST && is_form(request.headers())
}

/// Whether a request's body is a form (`application/x-www-form-urlencoded`, a token request).
fn is_form(headers: &HeaderMap) -> bool {
    const FORM: &[u8] = b"application/x-www-form-urlencoded";
    // The bytes as they are: only the media type's ASCII matters, whatever parameters follow.
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.as_bytes().trim_ascii_start().get(..FORM.len()))
        .is_some_and(|start| start.eq_ignore_ascii_case(FORM))
}

/// Whether [`Plan::decide`] could store this answer to a POST: `429`, `5xx`, `Retry-After`, or
/// `400`. A superset; `decide` has the last word.
fn post_may_be_stored(response: &HttpResponse) -> bool {
    let status = response.status();
    status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::BAD_REQUEST
        || status.is_server_error()
        || response.headers().contains_key(http::header::RETRY_AFTER)
}

/// How long to replay a `429`, `5xx` or `Retry-After` response; `None` for other responses or
/// a zero `Retry-After`.
fn throttle_ttl(response: &HttpResponse, default_retry_after: Duration) -> Option<Duration> {
    let status = response.status();
    let retry_after = response.headers().get(http::header::RETRY_AFTER);
    if status != StatusCode::TOO_MANY_REQUESTS && !status.is_server_error() && retry_after.is_none()
    {
        return None;
    }
    let ttl = match retry_after
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().parse::<i64>())
    {
        Some(Ok(seconds)) => Duration::from_secs(u64::try_from(seconds).unwrap_or(0)),
        _ => default_retry_after,
    };
    let ttl = ttl.min(MAX_RETRY_AFTER);
    (!ttl.is_zero()).then_some(ttl)
}

/// SHA-256 over length-prefixed parts, as lowercase hex.
fn hex_sha256(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = hasher.finalize();
    let mut out = String::with_capacity(2 * digest.len());
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

/// A response as stored: everything needed to replay it exactly.
#[derive(Debug)]
struct StoredResponse {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl StoredResponse {
    fn from_response(response: &HttpResponse) -> Self {
        Self {
            status: response.status(),
            version: response.version(),
            headers: response.headers().clone(),
            body: response.body().clone(),
        }
    }

    fn to_response(&self) -> HttpResponse {
        let mut response = http::Response::new(self.body.clone());
        *response.status_mut() = self.status;
        *response.version_mut() = self.version;
        *response.headers_mut() = self.headers.clone();
        response
    }
}

#[derive(Debug)]
struct Entry {
    response: Arc<StoredResponse>,
    expires_at: Instant,
    seq: u64,
}

/// The responses being replayed while a throttle lasts: a bounded map with per-entry expiry,
/// indexed by expiry time and by age.
#[derive(Debug, Default)]
struct ThrottledResponses {
    entries: HashMap<String, Entry>,
    by_expiry: BTreeMap<(Instant, u64), String>,
    by_age: BTreeMap<u64, String>,
    next_seq: u64,
    /// How many entries answer POSTs (keys `POST …`): none, and a POST has nothing to replay.
    posts: usize,
}

fn is_post_key(key: &str) -> bool {
    key.starts_with("POST ")
}

impl ThrottledResponses {
    fn get(&mut self, key: &str, now: Instant) -> Option<Arc<StoredResponse>> {
        let entry = self.entries.get(key)?;
        if entry.expires_at > now {
            return Some(entry.response.clone());
        }
        self.remove(key);
        None
    }

    fn insert(&mut self, key: String, response: Arc<StoredResponse>, now: Instant, ttl: Duration) {
        self.remove(&key);
        self.purge_expired(now);
        while self.entries.len() >= CAPACITY {
            let Some((_, oldest)) = self.by_age.pop_first() else {
                break;
            };
            self.remove(&oldest);
        }
        let Some(expires_at) = now.checked_add(ttl) else {
            return;
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_expiry.insert((expires_at, seq), key.clone());
        self.by_age.insert(seq, key.clone());
        if is_post_key(&key) {
            self.posts += 1;
        }
        self.entries.insert(
            key,
            Entry {
                response,
                expires_at,
                seq,
            },
        );
    }

    fn purge_expired(&mut self, now: Instant) {
        while let Some(entry) = self.by_expiry.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let key = entry.remove();
            self.remove(&key);
        }
    }

    fn remove(&mut self, key: &str) {
        if let Some(entry) = self.entries.remove(key) {
            self.by_expiry.remove(&(entry.expires_at, entry.seq));
            self.by_age.remove(&entry.seq);
            if is_post_key(key) {
                self.posts -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    use futures_util::future::BoxFuture;

    use super::*;

    type Answer = Box<dyn Fn(&HttpRequest) -> Result<HttpResponse, HttpError> + Send + Sync>;

    #[test]
    fn a_form_is_recognized_by_its_content_type() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_str(value).unwrap(),
            );
            is_form(&headers)
        };
        assert!(with("application/x-www-form-urlencoded"));
        assert!(with("  Application/X-WWW-Form-URLencoded; charset=UTF-8"));
        assert!(!with("application/json"));
        assert!(!with("application/x-www-form"));
        assert!(!is_form(&HeaderMap::new()));
    }

    /// Answers from a script and counts calls.
    struct Scripted {
        calls: AtomicUsize,
        answer: Answer,
    }

    impl HttpClient for Scripted {
        fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let answer = (self.answer)(&request);
            Box::pin(async move { answer })
        }
    }

    fn response(status: u16, retry_after: Option<&str>, body: &str) -> HttpResponse {
        let mut builder = http::Response::builder()
            .status(status)
            .header("x-test", "1");
        if let Some(r) = retry_after {
            builder = builder.header("retry-after", r);
        }
        builder.body(body.as_bytes().to_vec()).unwrap()
    }

    struct Harness {
        inner: Arc<Scripted>,
        http: ThrottledHttp,
        offset: Arc<AtomicU64>,
    }

    impl Harness {
        fn new(
            answer: impl Fn(&HttpRequest) -> Result<HttpResponse, HttpError> + Send + Sync + 'static,
        ) -> Self {
            let inner = Arc::new(Scripted {
                calls: AtomicUsize::new(0),
                answer: Box::new(answer),
            });
            let offset = Arc::new(AtomicU64::new(0));
            let base = Instant::now();
            let clock = offset.clone();
            let http =
                ThrottledHttp::with_clock(inner.clone(), Duration::from_secs(60), move || {
                    base + Duration::from_secs(clock.load(Ordering::SeqCst))
                });
            Self {
                inner,
                http,
                offset,
            }
        }

        fn advance(&self, seconds: u64) {
            self.offset.fetch_add(seconds, Ordering::SeqCst);
        }

        fn calls(&self) -> usize {
            self.inner.calls.load(Ordering::SeqCst)
        }

        /// The tests' usual token request (`client_id=c` to [`TOKEN`]), sent.
        async fn token_request(&self) -> HttpResponse {
            self.http
                .send(post(TOKEN, &[("client_id", "c")]))
                .await
                .unwrap()
        }
    }

    fn post(url: &str, form: &[(&str, &str)]) -> HttpRequest {
        http::Request::post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap().into_bytes())
            .unwrap()
    }

    fn get(url: &str) -> HttpRequest {
        http::Request::get(url).body(Vec::new()).unwrap()
    }

    const TOKEN: &str = "https://login.example/t/oauth2/v2.0/token";

    fn block<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_soap_fault_is_never_replayed_to_another_envelope() {
        let h = Harness::new(|_| Ok(response(500, None, "<s:Envelope/>")));
        let soap = |body: &str| {
            http::Request::post("https://fs.example/adfs/services/trust/13/usernamemixed")
                .header("content-type", "application/soap+xml; charset=utf-8")
                .body(body.as_bytes().to_vec())
                .unwrap()
        };
        block(async {
            h.http.send(soap("<a>wrong</a>")).await.unwrap();
            h.http.send(soap("<a>right</a>")).await.unwrap();
            assert_eq!(h.calls(), 2, "another envelope reaches the server");
            h.http.send(soap("<a>right</a>")).await.unwrap();
            assert_eq!(h.calls(), 2, "the same envelope is throttled (rule 1)");
        });
    }

    #[test]
    fn hex_sha256_is_lowercase_hex_of_the_length_prefixed_parts() {
        assert_eq!(
            hex_sha256(&[b"abc"]),
            "c3494ca1a2cf8eeb8a11ded316fb55b83c3bbbedb6313cd50415251e5d09e12f"
        );
    }

    #[test]
    fn retry_after_is_honoured_capped_and_defaulted() {
        let ttl = |status: u16, retry_after: Option<&str>| {
            let plan = Plan::for_request(&post(TOKEN, &[("client_id", "c")]));
            plan.decide(&response(status, retry_after, ""), Duration::from_secs(5))
                .into_iter()
                .find(|(k, _)| k.ends_with("Retry-After"))
                .map(|(_, t)| t.as_secs())
        };
        assert_eq!(ttl(429, Some("7")), Some(7));
        assert_eq!(ttl(429, Some(" 9 ")), Some(9));
        assert_eq!(ttl(429, None), Some(5));
        assert_eq!(ttl(503, Some("Wed, 21 Oct 2015 07:28:00 GMT")), Some(5));
        assert_eq!(ttl(500, Some("99999")), Some(3600));
        assert_eq!(
            ttl(200, Some("30")),
            Some(30),
            "any response with Retry-After is throttled"
        );
        assert_eq!(ttl(429, Some("0")), None);
        assert_eq!(ttl(429, Some("-3")), None);
        assert_eq!(ttl(200, None), None);
        assert_eq!(ttl(400, None), None);
    }

    #[test]
    fn bad_request_rule_excludes_device_code_and_retry_after() {
        let has_400_key = |form: &[(&str, &str)], retry_after: Option<&str>| {
            Plan::for_request(&post(TOKEN, form))
                .decide(&response(400, retry_after, ""), Duration::from_secs(5))
                .iter()
                .any(|(k, t)| k.ends_with(" 400") && t.as_secs() == 60)
        };
        assert!(has_400_key(&[("grant_type", "refresh_token")], None));
        assert!(!has_400_key(&[("grant_type", DEVICE_CODE_GRANT)], None));
        assert!(!has_400_key(&[("grant_type", "device_code")], None));
        assert!(!has_400_key(&[("grant_type", "refresh_token")], Some("3")));
    }

    #[test]
    fn keys_separate_accounts_but_not_parameter_order() {
        let key = |form: &[(&str, &str)]| match Plan::for_request(&post(TOKEN, form)) {
            Plan::Post {
                throttle_key,
                bad_request_key,
                ..
            } => (throttle_key, bad_request_key),
            _ => unreachable!(),
        };
        let alice = key(&[
            ("client_id", "c"),
            ("scope", "s"),
            ("refresh_token", "rt-alice"),
        ]);
        let bob = key(&[
            ("client_id", "c"),
            ("scope", "s"),
            ("refresh_token", "rt-bob"),
        ]);
        let alice_reordered = key(&[
            ("refresh_token", "rt-alice"),
            ("scope", "s"),
            ("client_id", "c"),
        ]);
        assert_ne!(alice.0, bob.0);
        assert_ne!(alice.1, bob.1);
        assert_eq!(alice, alice_reordered);
        assert!(!alice.0.contains("rt-alice"), "secrets are hashed");
        assert!(!alice.1.contains("rt-alice"), "secrets are hashed");
        // The account comes from the first field present: refresh_token, code, username, user_id.
        let by_user = key(&[("client_id", "c"), ("username", "u"), ("password", "p1")]);
        let by_user_other_password =
            key(&[("client_id", "c"), ("username", "u"), ("password", "p2")]);
        assert_eq!(by_user.0, by_user_other_password.0);
        assert_ne!(by_user.1, by_user_other_password.1);
    }

    #[test]
    fn posts_are_keyed_only_when_an_answer_to_a_post_is_stored() {
        let status = Arc::new(AtomicU64::new(200));
        let answer = status.clone();
        let h = Harness::new(move |r| {
            let code = if r.method() == Method::GET {
                200
            } else {
                answer.load(Ordering::SeqCst) as u16
            };
            Ok(response(code, None, "{}"))
        });
        block(async {
            // A stored discovery GET does not make POSTs pay for their keys...
            h.http.send(get("https://login.example/d")).await.unwrap();
            h.token_request().await;
            assert_eq!(h.http.lock().posts, 0);
            assert_eq!(h.http.lock().entries.len(), 1);
            // ...and a throttled answer is still stored and replayed.
            status.store(429, Ordering::SeqCst);
            h.token_request().await;
            assert_eq!(h.http.lock().posts, 1);
            status.store(200, Ordering::SeqCst);
            let replayed = h.token_request().await;
            assert_eq!(replayed.status(), 429);
            assert_eq!(h.calls(), 3);
        });
    }

    /// The count of stored POST answers that a token request reads without the lock follows
    /// the store: up when a throttled answer is stored, down when it expires and is purged.
    #[test]
    fn the_lock_free_post_count_follows_the_store() {
        // The first answer is throttled, the others are not.
        let answered = AtomicU64::new(0);
        let h = Harness::new(move |_| match answered.fetch_add(1, Ordering::SeqCst) {
            0 => Ok(response(429, Some("10"), "{}")),
            _ => Ok(response(200, None, "{}")),
        });
        let copy = |h: &Harness| h.http.store.posts.load(Ordering::SeqCst);
        block(async {
            assert_eq!(copy(&h), 0);
            h.token_request().await;
            assert_eq!((copy(&h), h.http.lock().posts), (1, 1));
            h.advance(10);
            // The expired answer is purged under the lock; the server's 200 is not stored.
            let fresh = h.token_request().await;
            assert_eq!(fresh.status(), 200);
            assert_eq!((copy(&h), h.http.lock().posts), (0, 0));
            h.token_request().await;
            assert_eq!(h.calls(), 3);
        });
    }

    #[test]
    fn throttled_post_is_replayed_until_expiry() {
        let h = Harness::new(|_| Ok(response(429, Some("10"), "{\"error\":\"throttled\"}")));
        block(async {
            let first = h.token_request().await;
            let second = h.token_request().await;
            assert_eq!(h.calls(), 1);
            assert_eq!(second.status(), first.status());
            assert_eq!(second.headers(), first.headers());
            assert_eq!(second.body(), first.body());
            h.advance(9);
            h.token_request().await;
            assert_eq!(h.calls(), 1);
            h.advance(1);
            h.token_request().await;
            assert_eq!(h.calls(), 2);
        });
    }

    #[test]
    fn get_success_is_cached_for_a_day_and_errors_are_not() {
        let h = Harness::new(|r| {
            if r.uri().path() == "/ok" {
                Ok(response(200, None, "{}"))
            } else {
                Ok(response(503, None, ""))
            }
        });
        block(async {
            h.http.send(get("https://h/ok?a=1")).await.unwrap();
            h.http.send(get("https://h/ok?a=1")).await.unwrap();
            assert_eq!(h.calls(), 1);
            h.http.send(get("https://h/ok?a=2")).await.unwrap();
            assert_eq!(h.calls(), 2, "the query is part of the key");
            h.http.send(get("https://h/fail")).await.unwrap();
            h.http.send(get("https://h/fail")).await.unwrap();
            assert_eq!(h.calls(), 4, "GET errors are not cached");
            h.advance(24 * 3600);
            h.http.send(get("https://h/ok?a=1")).await.unwrap();
            assert_eq!(h.calls(), 5);
        });
    }

    #[test]
    fn transport_errors_are_never_cached() {
        let h = Harness::new(|_| Err(HttpError::new("refused")));
        block(async {
            assert!(h.http.send(get("https://h/x")).await.is_err());
            assert!(h.http.send(post(TOKEN, &[("a", "b")])).await.is_err());
            assert!(h.http.send(get("https://h/x")).await.is_err());
            assert!(h.http.send(post(TOKEN, &[("a", "b")])).await.is_err());
            assert_eq!(h.calls(), 4);
        });
    }

    #[test]
    fn other_methods_pass_through() {
        let h = Harness::new(|_| Ok(response(200, None, "")));
        block(async {
            for _ in 0..2 {
                h.http
                    .send(http::Request::put("https://h/x").body(Vec::new()).unwrap())
                    .await
                    .unwrap();
            }
            assert_eq!(h.calls(), 2);
        });
    }

    #[test]
    fn store_evicts_expired_first_then_oldest() {
        let mut store = ThrottledResponses::default();
        let base = Instant::now();
        let stored = Arc::new(StoredResponse::from_response(&response(200, None, "")));
        // One short-lived entry among long-lived ones.
        store.insert("short".into(), stored.clone(), base, Duration::from_secs(1));
        for i in 1..CAPACITY {
            store.insert(
                format!("k{i}"),
                stored.clone(),
                base,
                Duration::from_secs(100),
            );
        }
        assert_eq!(store.entries.len(), CAPACITY);
        let later = base + Duration::from_secs(2);
        store.insert(
            "new1".into(),
            stored.clone(),
            later,
            Duration::from_secs(100),
        );
        assert_eq!(store.entries.len(), CAPACITY);
        assert!(
            !store.entries.contains_key("short"),
            "the expired entry goes first"
        );
        assert!(store.entries.contains_key("k1"));
        store.insert(
            "new2".into(),
            stored.clone(),
            later,
            Duration::from_secs(100),
        );
        assert_eq!(store.entries.len(), CAPACITY);
        assert!(!store.entries.contains_key("k1"), "then the oldest");
        assert!(store.entries.contains_key("k2"));
        // Re-inserting an existing key does not evict anything.
        store.insert("k2".into(), stored, later, Duration::from_secs(100));
        assert_eq!(store.entries.len(), CAPACITY);
        assert!(store.entries.contains_key("k3"));
        assert_eq!(store.by_age.len(), CAPACITY);
        assert_eq!(store.by_expiry.len(), CAPACITY);
    }

    #[test]
    fn managed_identity_mode_replays_only_throttling() {
        let status = Arc::new(AtomicU64::new(200));
        let answer_status = status.clone();
        let inner = Arc::new(Scripted {
            calls: AtomicUsize::new(0),
            answer: Box::new(move |_| {
                Ok(response(
                    answer_status.load(Ordering::SeqCst) as u16,
                    None,
                    "{}",
                ))
            }),
        });
        let offset = Arc::new(AtomicU64::new(0));
        let base = Instant::now();
        let clock = offset.clone();
        let http = ThrottledHttp::for_managed_identity(inner.clone(), move || {
            base + Duration::from_secs(clock.load(Ordering::SeqCst))
        });
        let imds = "http://169.254.169.254/metadata/identity/oauth2/token?resource=r";
        // Tokens (2xx) and 400s are never replayed.
        block(http.send(get(imds))).unwrap();
        block(http.send(get(imds))).unwrap();
        status.store(400, Ordering::SeqCst);
        block(http.send(get(imds))).unwrap();
        block(http.send(get(imds))).unwrap();
        assert_eq!(inner.calls.load(Ordering::SeqCst), 4);
        // A 503 without Retry-After is replayed for 5 s, to the same URL only.
        status.store(503, Ordering::SeqCst);
        assert_eq!(block(http.send(get(imds))).unwrap().status(), 503);
        status.store(200, Ordering::SeqCst);
        assert_eq!(block(http.send(get(imds))).unwrap().status(), 503);
        assert_eq!(inner.calls.load(Ordering::SeqCst), 5);
        block(http.send(get(&format!("{imds}2")))).unwrap();
        assert_eq!(inner.calls.load(Ordering::SeqCst), 6);
        offset.store(6, Ordering::SeqCst);
        assert_eq!(block(http.send(get(imds))).unwrap().status(), 200);
        // Cloud Shell's POST: keyed by its body.
        status.store(429, Ordering::SeqCst);
        let shell = "http://localhost:50342/oauth2/token";
        block(http.send(post(shell, &[("resource", "a")]))).unwrap();
        status.store(200, Ordering::SeqCst);
        assert_eq!(
            block(http.send(post(shell, &[("resource", "a")])))
                .unwrap()
                .status(),
            429
        );
        assert_eq!(
            block(http.send(post(shell, &[("resource", "b")])))
                .unwrap()
                .status(),
            200
        );
    }
}
