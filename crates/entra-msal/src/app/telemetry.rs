//! MSAL's server-side telemetry headers on token requests, formatted as MSAL Python 1.39 formats
//! them (schema version 4):
//!
//! - `x-client-current-telemetry: 4|{api id},{refresh reason}|` — which API made this request and
//!   why a silent call went to the network;
//! - `x-client-last-telemetry: 4|{cache hits}|{api id},{correlation id},…|{error},…|` — what
//!   happened since the last request that succeeded: how many tokens were answered from the
//!   cache, and the requests that failed with their OAuth error codes, bounded to 350
//!   characters of failures. A successful response clears it.
//!
//! Each application keeps its own [`TelemetryBuffer`].

use std::borrow::Cow;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use http::HeaderValue;

use crate::error::Error;
use crate::http::TelemetryHeaders;

/// The schema version both headers start with.
const SCHEMA_VERSION: &str = "4";
/// The most characters of failures `x-client-last-telemetry` carries (as MSAL Python).
const LAST_FAILURES_LIMIT: usize = 350;

/// The public API a token request was made for (MSAL's API ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ApiId {
    /// `acquire_token_silent` (a refresh token redeemed): 84.
    Silent,
    /// `acquire_token_by_refresh_token` (migration): 85.
    ByRefreshToken,
    /// `acquire_token_interactive`: 169.
    Interactive,
    /// `acquire_token_by_username_password`: 301.
    UsernamePassword,
    /// `acquire_token_on_behalf_of`: 523.
    OnBehalfOf,
    /// `acquire_token_by_device_flow`: 622.
    DeviceFlow,
    /// `acquire_token_for_client`: 730.
    ForClient,
    /// `acquire_token_by_auth_code_flow`: 832.
    AuthorizationCode,
}

impl ApiId {
    fn code(self) -> u16 {
        match self {
            Self::Silent => 84,
            Self::ByRefreshToken => 85,
            Self::Interactive => 169,
            Self::UsernamePassword => 301,
            Self::OnBehalfOf => 523,
            Self::DeviceFlow => 622,
            Self::ForClient => 730,
            Self::AuthorizationCode => 832,
        }
    }

    /// The API a form's `grant_type` comes from when the flow names none: the refresh-token
    /// grant is the silent flow's, the authorization-code grant the auth-code flow's.
    fn of_grant(grant_type: &str) -> Option<Self> {
        Some(match grant_type {
            "client_credentials" => Self::ForClient,
            "password" => Self::UsernamePassword,
            "refresh_token" => Self::Silent,
            "authorization_code" => Self::AuthorizationCode,
            "urn:ietf:params:oauth:grant-type:jwt-bearer" => Self::OnBehalfOf,
            "urn:ietf:params:oauth:grant-type:device_code" => Self::DeviceFlow,
            _ => return None,
        })
    }
}

/// The `x-client-current-telemetry` values of one API, `4|{api},{reason}|`, by reason code
/// (`4` is [`SCHEMA_VERSION`]; a test checks every value against the formatted one).
macro_rules! current_values {
    ($api:literal) => {
        [
            concat!("4|", $api, ",0|"),
            concat!("4|", $api, ",1|"),
            concat!("4|", $api, ",2|"),
            concat!("4|", $api, ",3|"),
            concat!("4|", $api, ",4|"),
        ]
    };
}

impl ApiId {
    /// `x-client-current-telemetry` for a request of this API sent for `reason`: a constant,
    /// so no request formats or allocates it.
    fn current_value(self, reason: RefreshReason) -> &'static str {
        let values = match self {
            Self::Silent => current_values!(84),
            Self::ByRefreshToken => current_values!(85),
            Self::Interactive => current_values!(169),
            Self::UsernamePassword => current_values!(301),
            Self::OnBehalfOf => current_values!(523),
            Self::DeviceFlow => current_values!(622),
            Self::ForClient => current_values!(730),
            Self::AuthorizationCode => current_values!(832),
        };
        values[usize::from(reason.code())]
    }
}

/// Why a token request was sent instead of answering from the cache (MSAL's `cache_refresh`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum RefreshReason {
    /// Not a silent call: 0.
    #[default]
    NotSilent,
    /// `force_refresh` or a claims challenge: 1.
    ForceRefresh,
    /// No access token in the cache: 2.
    NoAccessToken,
    /// The cached access token expired: 3.
    Expired,
    /// The cached access token is past its `refresh_on`: 4.
    Aging,
}

impl RefreshReason {
    fn code(self) -> u8 {
        match self {
            Self::NotSilent => 0,
            Self::ForceRefresh => 1,
            Self::NoAccessToken => 2,
            Self::Expired => 3,
            Self::Aging => 4,
        }
    }
}

/// What one token request reports about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CallTelemetry {
    pub api: ApiId,
    pub reason: RefreshReason,
}

impl CallTelemetry {
    /// A request of `api` sent for `reason`.
    pub fn new(api: ApiId, reason: RefreshReason) -> Self {
        Self { api, reason }
    }

    /// The telemetry of a form whose flow named none: the API of its `grant_type`, not silent.
    pub fn of_form(form: &[(Cow<'static, str>, Cow<'_, str>)]) -> Option<Self> {
        let grant = form.iter().find(|(k, _)| k == "grant_type")?;
        ApiId::of_grant(&grant.1).map(|api| Self::new(api, RefreshReason::NotSilent))
    }
}

/// One failed request remembered for `x-client-last-telemetry`.
#[derive(Debug)]
struct Failure {
    api: ApiId,
    correlation_id: String,
    error: String,
}

#[derive(Debug, Default)]
struct Buffer {
    failures: Vec<Failure>,
    /// The characters the failures take in the header, as MSAL counts them.
    failures_size: usize,
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// An application's telemetry since its last successful token request. In declaration order
/// (`repr(C)`): the counter a cache hit changes first, in `ClientCore`'s first cache line.
#[derive(Debug, Default)]
#[repr(C)]
pub(crate) struct TelemetryBuffer {
    /// Tokens answered from the cache (counted without a lock: cache hits are the hot path).
    cache_hits: AtomicU64,
    failures: Mutex<Buffer>,
}

/// `x-client-last-telemetry` without failures and with fewer than ten cache hits (the first
/// request, and any that follows another closely): a constant, `4|{hits}|||`.
fn last_constant(hits: u64, buffer: &Buffer) -> Option<&'static str> {
    const WITHOUT_FAILURES: [&str; 10] = [
        "4|0|||", "4|1|||", "4|2|||", "4|3|||", "4|4|||", "4|5|||", "4|6|||", "4|7|||", "4|8|||",
        "4|9|||",
    ];
    let constant = WITHOUT_FAILURES.get(usize::try_from(hits).ok()?)?;
    buffer.failures.is_empty().then_some(*constant)
}

/// The text of `x-client-last-telemetry` for `hits` and `buffer`'s failures, allocated at its
/// exact length, so it becomes a header value without another allocation.
fn last_text(hits: u64, buffer: &Buffer) -> String {
    let mut digits = itoa::Buffer::new();
    let hits = digits.format(hits);
    let mut last = String::with_capacity(SCHEMA_VERSION.len() + hits.len() + 4);
    last.push_str(SCHEMA_VERSION);
    last.push('|');
    last.push_str(hits);
    last.push('|');
    for (i, f) in buffer.failures.iter().enumerate() {
        if i > 0 {
            last.push(',');
        }
        push_decimal(&mut last, u64::from(f.api.code()));
        last.push(',');
        last.push_str(&f.correlation_id);
    }
    last.push('|');
    for (i, f) in buffer.failures.iter().enumerate() {
        if i > 0 {
            last.push(',');
        }
        last.push_str(&f.error);
    }
    last.push('|');
    // Only with failures did `last` outgrow its exact size.
    last.shrink_to_fit();
    last
}

impl TelemetryBuffer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Buffer> {
        // Every update leaves the buffer consistent.
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The values of the two headers for a request with `call`'s telemetry, current then
    /// last. A value that cannot be a header (a server's error code with control characters)
    /// leaves its header out rather than fail the request.
    pub fn headers(&self, call: CallTelemetry) -> TelemetryHeaders {
        let hits = self.cache_hits.load(Ordering::Relaxed);
        let last = {
            let buffer = self.lock();
            match last_constant(hits, &buffer) {
                Some(constant) => Some(HeaderValue::from_static(constant)),
                None => HeaderValue::try_from(last_text(hits, &buffer)).ok(),
            }
        };
        [
            Some(HeaderValue::from_static(
                call.api.current_value(call.reason),
            )),
            last,
        ]
    }

    /// A token answered from the cache.
    pub fn cache_hit(&self) {
        self.cache_hits.fetch_add(1, Ordering::Relaxed);
    }

    /// The outcome of a request: a success clears the buffer; an answer with an OAuth error is
    /// remembered while the failures fit in the header. A request that got no answer
    /// (a network failure) and the device flow's "keep polling" answers are not failures.
    pub fn record<T>(&self, call: CallTelemetry, correlation_id: &str, outcome: &Result<T, Error>) {
        let mut buffer = self.lock();
        match outcome {
            Ok(_) => {
                *buffer = Buffer::default();
                self.cache_hits.store(0, Ordering::Relaxed);
            }
            Err(e) => {
                let Some(error) = e.service_error().map(|s| s.error()) else {
                    return;
                };
                if matches!(error, "authorization_pending" | "slow_down") {
                    return;
                }
                // ",{api},{correlation id},{error}": what the entry adds to the header.
                let size =
                    3 + call.api.code().to_string().len() + correlation_id.len() + error.len();
                if buffer.failures_size + size < LAST_FAILURES_LIMIT {
                    buffer.failures_size += size;
                    buffer.failures.push(Failure {
                        api: call.api,
                        correlation_id: correlation_id.to_string(),
                        error: error.to_string(),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Classification, ServiceError};

    fn failed(error: &str) -> Result<(), Error> {
        Err(Error::from_service(ServiceError {
            error: error.into(),
            error_description: String::new(),
            error_codes: vec![],
            suberror: None,
            claims: None,
            correlation_id: None,
            trace_id: None,
            http_status: Some(400),
            classification: Classification::None,
        }))
    }

    fn header(buffer: &TelemetryBuffer, call: CallTelemetry) -> (String, String) {
        let [current, last] = buffer
            .headers(call)
            .map(|v| v.expect("a header").to_str().unwrap().to_string());
        (current, last)
    }

    #[test]
    fn every_current_value_is_the_formatted_one() {
        use ApiId::*;
        use RefreshReason::*;
        for api in [
            Silent,
            ByRefreshToken,
            Interactive,
            UsernamePassword,
            OnBehalfOf,
            DeviceFlow,
            ForClient,
            AuthorizationCode,
        ] {
            for reason in [NotSilent, ForceRefresh, NoAccessToken, Expired, Aging] {
                assert_eq!(
                    api.current_value(reason),
                    format!("{SCHEMA_VERSION}|{},{}|", api.code(), reason.code())
                );
            }
        }
    }

    #[test]
    fn every_constant_last_value_is_the_formatted_one() {
        let empty = Buffer::default();
        for hits in 0..12 {
            let constant = last_constant(hits, &empty);
            assert_eq!(constant.is_some(), hits < 10, "{hits}");
            if let Some(constant) = constant {
                assert_eq!(constant, last_text(hits, &empty));
            }
        }
        // A failure to report: formatted, never a constant.
        let buffer = TelemetryBuffer::default();
        let client = CallTelemetry::new(ApiId::ForClient, RefreshReason::NoAccessToken);
        buffer.record(client, "c1", &failed("invalid_client"));
        assert_eq!(last_constant(0, &buffer.lock()), None);
        assert_eq!(last_text(0, &buffer.lock()), "4|0|730,c1|invalid_client|");
    }

    #[test]
    fn decimals_are_written_as_display_writes_them() {
        for n in [0, 7, 10, 99, 730, 1_000_001, u64::MAX] {
            let mut out = String::from("x");
            push_decimal(&mut out, n);
            assert_eq!(out, format!("x{n}"));
        }
    }

    #[test]
    fn headers_follow_msal_python() {
        let buffer = TelemetryBuffer::default();
        let client = CallTelemetry::new(ApiId::ForClient, RefreshReason::NoAccessToken);
        assert_eq!(
            header(&buffer, client),
            ("4|730,2|".into(), "4|0|||".into())
        );
        buffer.cache_hit();
        buffer.cache_hit();
        buffer.record(client, "c1", &failed("invalid_client"));
        buffer.record(
            CallTelemetry::new(ApiId::Silent, RefreshReason::Aging),
            "c2",
            &failed("invalid_grant"),
        );
        // Not failures: no answer, and the device flow's polling answers.
        buffer.record(
            client,
            "c3",
            &Err::<(), _>(crate::http::HttpError::new("refused").at("https://x")),
        );
        buffer.record(client, "c4", &failed("authorization_pending"));
        assert_eq!(
            header(
                &buffer,
                CallTelemetry::new(ApiId::Silent, RefreshReason::ForceRefresh)
            ),
            (
                "4|84,1|".into(),
                "4|2|730,c1,84,c2|invalid_client,invalid_grant|".into()
            )
        );
        buffer.record(client, "c5", &Ok(()));
        assert_eq!(header(&buffer, client).1, "4|0|||");
    }

    #[test]
    fn failures_are_bounded() {
        let buffer = TelemetryBuffer::default();
        let call = CallTelemetry::new(ApiId::OnBehalfOf, RefreshReason::NotSilent);
        let id = "00000000-0000-0000-0000-000000000000";
        for _ in 0..20 {
            buffer.record(call, id, &failed("invalid_grant"));
        }
        // Each entry counts 1 + 3 + 1 + 36 + 1 + 13 = 55 characters: six fit under 350.
        let last = header(&buffer, call).1;
        assert_eq!(last.matches("invalid_grant").count(), 6, "{last}");
    }

    #[test]
    fn api_of_a_form() {
        let form = |g: &'static str| vec![("grant_type".into(), Cow::Borrowed(g))];
        assert_eq!(
            CallTelemetry::of_form(&form("password")),
            Some(CallTelemetry::new(
                ApiId::UsernamePassword,
                RefreshReason::NotSilent
            ))
        );
        assert_eq!(
            CallTelemetry::of_form(&form("urn:ietf:params:oauth:grant-type:device_code"))
                .map(|c| c.api),
            Some(ApiId::DeviceFlow)
        );
        assert_eq!(CallTelemetry::of_form(&form("something_else")), None);
        assert_eq!(CallTelemetry::of_form(&[]), None);
    }
}
