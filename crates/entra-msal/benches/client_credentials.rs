//! MSAL Python's benchmark scenarios (`tests/test_benchmark.py`) through
//! `ConfidentialClientApplication::acquire_token_for_client`, with the network replaced by an
//! in-process stub: one app per tenant, the cache pre-filled with N tokens per tenant, then a
//! random app asks for `scope` (a hit when it is cached, a miss otherwise), plus misses at
//! 10,000 and 100,000 tokens in one tenant.
//!
//! `cargo bench -p entra-msal --bench client_credentials`;
//! `interop/bench_msal_python_client_credentials.py` runs the same scenarios through MSAL Python.
#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use entra_msal::ConfidentialClientApplication;
use entra_msal::TokenCache;
use entra_msal::fuzzing::cache_internals::{self as internals, TokenEvent};
use entra_msal::http::{HttpClient, HttpError, HttpRequest, HttpResponse};
use futures_util::future::BoxFuture;
use serde_json::json;

/// Answers discovery with an OIDC document and token requests with a token whose `scope` is
/// not the one asked for, so a miss stays a miss (MSAL Python's benchmark makes its cache
/// read-only for the same purpose).
struct Stub;

impl HttpClient for Stub {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        let uri = request.uri().to_string();
        let body = if request.method() == http::Method::GET {
            let tenant = uri
                .trim_start_matches("https://login.microsoftonline.com/")
                .split('/')
                .next()
                .unwrap_or("t")
                .to_string();
            json!({
                "authorization_endpoint": format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize"),
                "token_endpoint": format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"),
                "issuer": format!("https://login.microsoftonline.com/{tenant}/v2.0"),
            })
        } else {
            json!({"access_token": "an access token", "token_type": "Bearer", "expires_in": 3600, "scope": "not-the-requested-scope"})
        };
        let response = http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(body.to_string().into_bytes())
            .unwrap();
        Box::pin(async move { Ok(response) })
    }
}

struct Scenario {
    apps: Vec<ConfidentialClientApplication>,
    next: AtomicUsize,
}

fn prefill(cache: &TokenCache, tenant: &str, scopes: impl Iterator<Item = String>) {
    for scope in scopes {
        let response =
            json!({"access_token": "cached", "token_type": "Bearer", "expires_in": 3600});
        internals::add(
            cache,
            &TokenEvent {
                client_id: "bench-client",
                environment: "login.microsoftonline.com",
                realm: tenant,
                requested_scopes: &[scope],
                response: &response,
                grant_type: "client_credentials",
                username: None,
                ext_cache_key: None,
                skip_account_creation: true,
                now: time::OffsetDateTime::now_utc().unix_timestamp(),
            },
        )
        .unwrap();
    }
}

fn scenario(
    rt: &tokio::runtime::Runtime,
    tenants: usize,
    tokens_per_tenant: usize,
    hit: bool,
) -> Scenario {
    let cache = TokenCache::new();
    let http: Arc<dyn HttpClient> = Arc::new(Stub);
    let mut apps = Vec::new();
    for t in 0..tenants {
        let tenant = format!("tenant_{t}");
        prefill(
            &cache,
            &tenant,
            (0..tokens_per_tenant).map(|i| format!("scope_{i}")),
        );
        if hit {
            prefill(&cache, &tenant, std::iter::once("scope".to_string()));
        }
        let app = ConfidentialClientApplication::builder("bench-client")
            .authority(format!("https://login.microsoftonline.com/{tenant}"))
            .client_secret("foo")
            .token_cache(cache.clone())
            .http_client(http.clone())
            .build()
            .unwrap();
        // Discovery happens once per authority, before measuring.
        rt.block_on(app.acquire_token_for_client(&["warm-up"]))
            .unwrap();
        apps.push(app);
    }
    Scenario {
        apps,
        next: AtomicUsize::new(0),
    }
}

fn run(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    name: &str,
    tenants: usize,
    tokens: usize,
    hit: bool,
) {
    let s = scenario(rt, tenants, tokens, hit);
    c.bench_function(name, |b| {
        b.to_async(rt).iter(|| async {
            // A cheap pseudo-random walk over the apps.
            let i = s.next.fetch_add(7919, Ordering::Relaxed) % s.apps.len();
            let result = s.apps[i]
                .acquire_token_for_client(&["scope"])
                .await
                .unwrap();
            assert_eq!(result.token_source == entra_msal::TokenSource::Cache, hit);
        })
    });
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    run(
        c,
        &rt,
        "cca 1 tenant, 10 tokens per tenant, cache hit",
        1,
        10,
        true,
    );
    run(
        c,
        &rt,
        "cca 1000 tenants, 10 tokens per tenant, cache hit",
        1000,
        10,
        true,
    );
    run(
        c,
        &rt,
        "cca 1 tenant, 10 tokens per tenant, cache miss",
        1,
        10,
        false,
    );
    run(
        c,
        &rt,
        "cca 1000 tenants, 10 tokens per tenant, cache miss",
        1000,
        10,
        false,
    );
    run(
        c,
        &rt,
        "cca 1 tenant, 10000 tokens, cache miss",
        1,
        10_000,
        false,
    );
    run(
        c,
        &rt,
        "cca 1 tenant, 100000 tokens, cache miss",
        1,
        100_000,
        false,
    );
}

criterion_group! {
    name = group;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_secs(1));
    targets = benches
}
criterion_main!(group);
