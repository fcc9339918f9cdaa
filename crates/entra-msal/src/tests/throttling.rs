//! MSAL's throttling and HTTP response cache, against the real emulator. Time is moved with an
//! injected clock; the emulator's request log shows which requests reached the server.

use super::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use entra_emulator::{Emulator, FaultAction, FaultMatch, FaultRule, ready_made};
use entra_msal::http::{HttpOptions, HttpRequest, HttpResponse, ReqwestHttpClient, ThrottledHttp};

const TOKEN_PATH: &str = "/oauth2/v2.0/token";
const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A clock that only moves when told to.
#[derive(Clone)]
struct FakeClock {
    base: Instant,
    offset: Arc<AtomicU64>,
}

impl FakeClock {
    fn new() -> Self {
        Self {
            base: Instant::now(),
            offset: Arc::new(AtomicU64::new(0)),
        }
    }

    fn advance(&self, seconds: u64) {
        self.offset.fetch_add(seconds, Ordering::SeqCst);
    }

    fn now(&self) -> Instant {
        self.base + Duration::from_secs(self.offset.load(Ordering::SeqCst))
    }
}

struct Setup {
    emulator: Emulator,
    http: ThrottledHttp,
    clock: FakeClock,
}

impl Setup {
    async fn start(default_retry_after: Duration) -> Self {
        let emulator = Emulator::start(ready_made().unwrap()).await.unwrap();
        let inner = ReqwestHttpClient::new(&HttpOptions {
            trusted_ca_pems: vec![emulator.ca_pem().unwrap().to_string()],
            only_trusted_cas: true,
            ..Default::default()
        })
        .unwrap();
        let clock = FakeClock::new();
        let c = clock.clone();
        let http = ThrottledHttp::with_clock(Arc::new(inner), default_retry_after, move || c.now());
        Self {
            emulator,
            http,
            clock,
        }
    }

    fn token_url(&self) -> String {
        format!("{}/oauth2/v2.0/token", self.emulator.authority())
    }

    /// How many requests whose path contains `path` reached the emulator.
    fn hits(&self, path: &str) -> usize {
        support::hits(&self.emulator, path)
    }

    fn fault(&self, path: &str, fault: FaultAction, count: u32) {
        self.emulator.control().add_fault(FaultRule {
            matcher: FaultMatch {
                path_contains: Some(path.into()),
                ..Default::default()
            },
            fault,
            count,
        });
    }

    async fn post(&self, form: &[(&str, &str)]) -> HttpResponse {
        self.http
            .send(form_post(&self.token_url(), form))
            .await
            .unwrap()
    }

    async fn get(&self, url: &str) -> HttpResponse {
        self.http
            .send(http::Request::get(url).body(Vec::new()).unwrap())
            .await
            .unwrap()
    }
}

fn form_post(url: &str, form: &[(&str, &str)]) -> HttpRequest {
    http::Request::post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(form).unwrap().into_bytes())
        .unwrap()
}

fn refresh(rt: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "client_id",
            entra_emulator::ready_made::PUBLIC_CLIENT_ID.to_string(),
        ),
        ("grant_type", "refresh_token".to_string()),
        (
            "scope",
            "api://emulator-api/access_as_user offline_access openid profile".to_string(),
        ),
        ("refresh_token", rt.to_string()),
        ("client_info", "1".to_string()),
    ]
}

fn borrow<'a>(form: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    form.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn assert_same(a: &HttpResponse, b: &HttpResponse) {
    assert_eq!(a.status(), b.status());
    assert_eq!(a.headers(), b.headers());
    assert_eq!(a.body(), b.body());
}

#[tokio::test]
async fn throttled_post_with_retry_after_is_replayed_without_reaching_the_server() {
    let s = Setup::start(Duration::from_secs(60)).await;
    s.fault(
        TOKEN_PATH,
        FaultAction::Throttle {
            retry_after: Some(7),
        },
        1,
    );
    let form = refresh("rt-alice");
    let first = s.post(&borrow(&form)).await;
    assert_eq!(first.status(), 429);
    assert_eq!(first.headers()["retry-after"], "7");
    let replay = s.post(&borrow(&form)).await;
    assert_same(&first, &replay);
    assert_eq!(s.hits(TOKEN_PATH), 1, "the replay did not reach the server");
    s.clock.advance(6);
    assert_eq!(s.post(&borrow(&form)).await.status(), 429);
    assert_eq!(s.hits(TOKEN_PATH), 1);
    s.clock.advance(1);
    let after = s.post(&borrow(&form)).await;
    assert_eq!(
        after.status(),
        400,
        "the bogus refresh token reaches the server once Retry-After passed"
    );
    assert_eq!(s.hits(TOKEN_PATH), 2);
}

#[tokio::test]
async fn throttled_post_without_retry_after_uses_the_default() {
    let s = Setup::start(Duration::from_secs(60)).await;
    s.fault(TOKEN_PATH, FaultAction::Throttle { retry_after: None }, 1);
    let form = refresh("rt-alice");
    let first = s.post(&borrow(&form)).await;
    assert_eq!(first.status(), 429);
    assert!(first.headers().get("retry-after").is_none());
    s.clock.advance(59);
    assert_same(&first, &s.post(&borrow(&form)).await);
    assert_eq!(s.hits(TOKEN_PATH), 1);
    s.clock.advance(1);
    assert_eq!(s.post(&borrow(&form)).await.status(), 400);
    assert_eq!(s.hits(TOKEN_PATH), 2);
}

#[tokio::test]
async fn confidential_default_and_server_errors() {
    let s = Setup::start(Duration::from_secs(5)).await;
    s.fault(
        TOKEN_PATH,
        FaultAction::Status {
            status: 503,
            retry_after: None,
        },
        1,
    );
    let form = refresh("rt-alice");
    let first = s.post(&borrow(&form)).await;
    assert_eq!(first.status(), 503);
    s.clock.advance(4);
    assert_same(&first, &s.post(&borrow(&form)).await);
    assert_eq!(s.hits(TOKEN_PATH), 1);
    s.clock.advance(1);
    assert_eq!(s.post(&borrow(&form)).await.status(), 400);
    assert_eq!(s.hits(TOKEN_PATH), 2);

    // A 500 with a Retry-After far beyond the cap is replayed for one hour at most.
    s.fault(
        TOKEN_PATH,
        FaultAction::Status {
            status: 500,
            retry_after: Some(86_400),
        },
        1,
    );
    let form = refresh("rt-bob");
    assert_eq!(s.post(&borrow(&form)).await.status(), 500);
    s.clock.advance(3599);
    assert_eq!(s.post(&borrow(&form)).await.status(), 500);
    assert_eq!(s.hits(TOKEN_PATH), 3);
    s.clock.advance(1);
    assert_eq!(s.post(&borrow(&form)).await.status(), 400);
    assert_eq!(s.hits(TOKEN_PATH), 4);
}

#[tokio::test]
async fn one_users_throttling_does_not_block_another() {
    let s = Setup::start(Duration::from_secs(60)).await;
    s.fault(
        TOKEN_PATH,
        FaultAction::Throttle {
            retry_after: Some(30),
        },
        1,
    );
    assert_eq!(s.post(&borrow(&refresh("rt-alice"))).await.status(), 429);
    assert_eq!(
        s.post(&borrow(&refresh("rt-bob"))).await.status(),
        400,
        "bob reaches the server"
    );
    assert_eq!(s.hits(TOKEN_PATH), 2);
    assert_eq!(
        s.post(&borrow(&refresh("rt-alice"))).await.status(),
        429,
        "alice is still throttled"
    );
    assert_eq!(s.hits(TOKEN_PATH), 2);
    // Same user, other scope: a different throttling key.
    let mut other_scope = refresh("rt-alice");
    other_scope[2].1 = "https://graph.microsoft.com/User.Read offline_access openid profile".into();
    s.post(&borrow(&other_scope)).await;
    assert_eq!(s.hits(TOKEN_PATH), 3);
}

#[tokio::test]
async fn bad_request_is_replayed_for_60_seconds() {
    let s = Setup::start(Duration::from_secs(60)).await;
    let form = refresh("rt-revoked");
    let first = s.post(&borrow(&form)).await;
    assert_eq!(first.status(), 400);
    let body: serde_json::Value = serde_json::from_slice(first.body()).unwrap();
    assert_eq!(body["error"], "invalid_grant");
    s.clock.advance(59);
    assert_same(&first, &s.post(&borrow(&form)).await);
    assert_eq!(s.hits(TOKEN_PATH), 1);
    // Any other parameter makes another request.
    let mut changed = form.clone();
    changed[4].1 = "0".into();
    s.post(&borrow(&changed)).await;
    assert_eq!(s.hits(TOKEN_PATH), 2);
    s.clock.advance(1);
    s.post(&borrow(&form)).await;
    assert_eq!(s.hits(TOKEN_PATH), 3);
}

#[tokio::test]
async fn device_code_polling_is_never_replayed() {
    let s = Setup::start(Duration::from_secs(60)).await;
    for grant in [DEVICE_CODE_GRANT, "device_code"] {
        let form = [
            ("client_id", entra_emulator::ready_made::PUBLIC_CLIENT_ID),
            ("grant_type", grant),
            ("device_code", "not-a-device-code"),
        ];
        let before = s.hits(TOKEN_PATH);
        assert_eq!(s.post(&form).await.status(), 400);
        assert_eq!(s.post(&form).await.status(), 400);
        assert_eq!(s.hits(TOKEN_PATH), before + 2, "{grant}");
    }
}

#[tokio::test]
async fn successful_gets_are_cached_for_a_day() {
    let s = Setup::start(Duration::from_secs(60)).await;
    let discovery = format!(
        "{}/v2.0/.well-known/openid-configuration",
        s.emulator.authority()
    );
    let first = s.get(&discovery).await;
    assert_eq!(first.status(), 200);
    s.clock.advance(24 * 3600 - 1);
    assert_same(&first, &s.get(&discovery).await);
    assert_eq!(s.hits("openid-configuration"), 1);
    // The query is part of the key.
    s.get(&format!("{discovery}?x=1")).await;
    assert_eq!(s.hits("openid-configuration"), 2);
    s.clock.advance(1);
    s.get(&discovery).await;
    assert_eq!(s.hits("openid-configuration"), 3);

    // Failed GETs are not cached.
    let unknown = format!(
        "{}/no-such-tenant.example/v2.0/.well-known/openid-configuration",
        s.emulator.base_url()
    );
    assert_eq!(s.get(&unknown).await.status(), 400);
    assert_eq!(s.get(&unknown).await.status(), 400);
    assert_eq!(s.hits("no-such-tenant.example"), 2);
}

#[tokio::test]
async fn transport_errors_are_never_cached() {
    let s = Setup::start(Duration::from_secs(60)).await;
    s.fault(TOKEN_PATH, FaultAction::DropConnection, 1);
    let form = refresh("rt-alice");
    assert!(
        s.http
            .send(form_post(&s.token_url(), &borrow(&form)))
            .await
            .is_err()
    );
    assert_eq!(s.post(&borrow(&form)).await.status(), 400);
    assert_eq!(s.hits(TOKEN_PATH), 2);
}

#[tokio::test]
async fn capacity_is_bounded_and_the_oldest_goes_first() {
    let s = Setup::start(Duration::from_secs(60)).await;
    let keys = format!("{}/discovery/v2.0/keys", s.emulator.authority());
    let capacity = entra_msal::http::throttle::CAPACITY;
    for i in 0..=capacity {
        assert_eq!(s.get(&format!("{keys}?n={i}")).await.status(), 200);
    }
    assert_eq!(s.hits("/keys"), capacity + 1);
    s.get(&format!("{keys}?n={capacity}")).await;
    s.get(&format!("{keys}?n=1")).await;
    assert_eq!(
        s.hits("/keys"),
        capacity + 1,
        "recent entries are still cached"
    );
    s.get(&format!("{keys}?n=0")).await;
    assert_eq!(
        s.hits("/keys"),
        capacity + 2,
        "the oldest entry was evicted"
    );
}
