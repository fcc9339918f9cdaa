//! Token-cache benchmarks.
//!
//! - MSAL Python's four official scenarios (`tests/test_benchmark.py`, `tests/simulator.py`):
//!   client-credential tokens for 1 tenant × 10 scopes and 1,000 tenants × 10 scopes, a hit
//!   (one more token for `scope` is cached) and a miss. Here every tenant shares **one** cache
//!   (MSAL Python's simulator gives each tenant's app its own), and a "miss" is a lookup that
//!   finds nothing followed by the `add` of the stub response, since the network is not part of
//!   the cache. The added token is filed under another scope, so every iteration misses and the
//!   cache keeps its size.
//! - Misses at 10,000 and 100,000 tokens (one tenant, one scope per token: the layout where
//!   MSAL Python scans every token), and the fill of 10,000 tokens (lookup + add each).
//! - `serialize` / `deserialize` of caches with 1,000 and 5,000 accounts, each with an access
//!   token, a refresh token, an ID token and an account.
//!
//! Run with `cargo bench -p entra-msal --bench cache`. `interop/bench_msal_python_cache.py` runs
//! the same scenarios through MSAL Python.

use std::hint::black_box;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{BatchSize, Criterion};
use entra_msal::TokenCache;
use entra_msal::fuzzing::cache_internals::{self as internals, AccessTokenQuery, TokenEvent};
use serde_json::{Value, json};

const CLIENT_ID: &str = "client_id";
const ENVIRONMENT: &str = "login.microsoftonline.com";
const NOW: i64 = 1_700_000_000;

/// A small, fast, deterministic choice of tenant (xorshift64).
struct Picker(u64);

impl Picker {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn add_app_token(cache: &TokenCache, realm: &str, scope: &str, response: &Value) {
    let scopes = [scope.to_string()];
    internals::add(
        cache,
        &TokenEvent {
            client_id: CLIENT_ID,
            environment: ENVIRONMENT,
            realm,
            requested_scopes: &scopes,
            response,
            grant_type: "client_credentials",
            username: None,
            ext_cache_key: None,
            skip_account_creation: false,
            now: NOW,
        },
    )
    .expect("a valid response");
}

fn find_app_token(cache: &TokenCache, realm: &str, scopes: &[String]) -> bool {
    internals::has_access_token(
        cache,
        &AccessTokenQuery {
            client_id: CLIENT_ID,
            environment: ENVIRONMENT,
            realm,
            home_account_id: None,
            scopes,
            ext_cache_key: None,
            key_id: None,
            now: NOW,
        },
    )
}

fn stub_response(scope: &str) -> Value {
    json!({"access_token": format!("AT for {scope}"), "token_type": "bearer", "expires_in": 3600})
}

/// MSAL Python's `ClientCredentialGrantSimulator`, with one shared cache.
fn cca_cache(
    tenants: usize,
    tokens_per_tenant: usize,
    cache_hit: bool,
) -> (TokenCache, Vec<String>) {
    let cache = TokenCache::new();
    let realms: Vec<String> = (0..tenants).map(|t| format!("tenant_{t}")).collect();
    for realm in &realms {
        for i in 0..tokens_per_tenant {
            let scope = format!("scope_{i}");
            add_app_token(&cache, realm, &scope, &stub_response(&scope));
        }
        if cache_hit {
            add_app_token(&cache, realm, "scope", &stub_response("scope"));
        }
    }
    (cache, realms)
}

fn cca_hit(c: &mut Criterion) {
    let mut group = c.benchmark_group("cca_hit");
    for (name, tenants) in [("1_tenant_10_tokens", 1), ("1000_tenants_10_tokens", 1000)] {
        let (cache, realms) = cca_cache(tenants, 10, true);
        let scopes = vec!["scope".to_string()];
        assert!(find_app_token(&cache, &realms[0], &scopes));
        let mut pick = Picker(0x9e37_79b9_7f4a_7c15);
        group.bench_function(name, |b| {
            b.iter(|| {
                let realm = &realms[pick.next(realms.len())];
                black_box(find_app_token(&cache, realm, black_box(&scopes)))
            })
        });
    }
    group.finish();
}

fn cca_miss(c: &mut Criterion) {
    let mut group = c.benchmark_group("cca_miss");
    for (name, tenants, tokens) in [
        ("1_tenant_10_tokens", 1, 10),
        ("1000_tenants_10_tokens", 1000, 10),
        ("1_tenant_10000_tokens", 1, 10_000),
        ("1_tenant_100000_tokens", 1, 100_000),
    ] {
        let (cache, realms) = cca_cache(tenants, tokens, false);
        let scopes = vec!["scope".to_string()];
        let response = stub_response("scope");
        let mut pick = Picker(0x9e37_79b9_7f4a_7c15);
        group.bench_function(name, |b| {
            b.iter(|| {
                let realm = &realms[pick.next(realms.len())];
                if !find_app_token(&cache, realm, black_box(&scopes)) {
                    add_app_token(&cache, realm, "scope_added", &response);
                }
            })
        });
        assert!(!find_app_token(&cache, &realms[0], &scopes));
        let len = internals::access_token_count(&cache);
        assert!(
            len >= tenants * tokens && len <= tenants * (tokens + 1),
            "the cache keeps its size"
        );
    }
    group.finish();
}

fn fill(c: &mut Criterion) {
    let mut group = c.benchmark_group("fill");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(3));
    for tokens in [1_000, 10_000] {
        let scopes: Vec<Vec<String>> = (0..tokens).map(|i| vec![format!("scope_{i}")]).collect();
        let responses: Vec<Value> = (0..tokens)
            .map(|i| stub_response(&format!("scope_{i}")))
            .collect();
        group.bench_function(format!("{tokens}_tokens_1_tenant"), |b| {
            b.iter(|| {
                let cache = TokenCache::new();
                for (scope, response) in scopes.iter().zip(&responses) {
                    if !find_app_token(&cache, "tenant_0", scope) {
                        add_app_token(&cache, "tenant_0", &scope[0], response);
                    }
                }
                black_box(cache)
            })
        });
    }
    group.finish();
}

/// A public-client cache with `accounts` accounts, each with AT, RT, IdToken and Account.
fn pca_cache(accounts: usize) -> TokenCache {
    let cache = TokenCache::new();
    let scopes = vec![
        "User.Read".to_string(),
        "offline_access".to_string(),
        "openid".to_string(),
        "profile".to_string(),
    ];
    for i in 0..accounts {
        let uid = format!("{i:08}-0000-0000-0000-000000000000");
        let utid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        let client_info = URL_SAFE_NO_PAD.encode(json!({"uid": uid, "utid": utid}).to_string());
        let claims = json!({"iss": format!("https://login.microsoftonline.com/{utid}/v2.0"),
            "sub": format!("sub-{i}"), "aud": CLIENT_ID, "exp": NOW + 3600, "iat": NOW,
            "oid": uid, "tid": utid, "preferred_username": format!("user{i}@contoso.com"),
            "name": format!("User {i}")});
        let id_token = format!(
            "eyJhbGciOiJSUzI1NiJ9.{}.{}",
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            "s".repeat(342)
        );
        let response = json!({"token_type": "Bearer", "scope": "User.Read profile openid",
            "expires_in": 3599, "ext_expires_in": 3599,
            "access_token": format!("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.{}.sig", "a".repeat(1500)),
            "refresh_token": format!("0.AX{}", "r".repeat(1000)),
            "id_token": id_token, "client_info": client_info});
        internals::add(
            &cache,
            &TokenEvent {
                client_id: CLIENT_ID,
                environment: ENVIRONMENT,
                realm: "common",
                requested_scopes: &scopes,
                response: &response,
                grant_type: "authorization_code",
                username: None,
                ext_cache_key: None,
                skip_account_creation: false,
                now: NOW,
            },
        )
        .expect("a valid response");
    }
    cache
}

fn serialization(c: &mut Criterion) {
    let mut group = c.benchmark_group("serialization");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(3));
    for accounts in [1_000, 5_000] {
        let cache = pca_cache(accounts);
        let json = cache.serialize();
        group.bench_function(format!("serialize_{accounts}_accounts"), |b| {
            b.iter(|| black_box(cache.serialize()))
        });
        group.bench_function(format!("deserialize_{accounts}_accounts"), |b| {
            b.iter_batched(
                TokenCache::new,
                |fresh| {
                    fresh.deserialize(black_box(&json)).expect("valid JSON");
                    fresh
                },
                BatchSize::LargeInput,
            )
        });
        assert_eq!(internals::account_count(&cache), accounts);
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}

fn main() {
    let mut c = config().configure_from_args();
    cca_hit(&mut c);
    cca_miss(&mut c);
    fill(&mut c);
    serialization(&mut c);
    c.final_summary();
}
