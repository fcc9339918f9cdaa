//! Persisted-cache benchmarks: the cost of adding one token to a persisted cache that holds
//! 1,000 and 10,000 tokens (client-credential tokens of one tenant, `scope_0..N-1`, the stub
//! responses of `benches/cache.rs`). One iteration is one token operation as the applications
//! run it: `before_access` (lock, change check), `add`, `after_access` (one write). The token
//! added replaces the same entry every time, so the cache keeps its size.
//!
//! - `file`: [`FilePersistence`] in a temporary directory (lock file, `stat`, serialize, write
//!   a temporary file, `fsync`, rename);
//! - `encrypted_file`: the same with AES-256-GCM ([`AesGcmProtector`], the Linux and macOS
//!   keyring format; the key is fetched from the keystore once, at construction);
//! - `redis`: [`RedisTokenCache`] on `ENTRA_TEST_REDIS_URL` (skipped with a notice when unset):
//!   a `GET` of the partition at the start, a `WATCH`/`GET`/`MULTI`/`SET`/`EXEC` at the end.
//!
//! Run with `cargo bench -p entra-msal --features redis --bench persist`;
//! `interop/bench_msal_extensions_persist.py` runs the same workload through msal-extensions'
//! `PersistedTokenCache(FilePersistence(path))`.

use std::sync::Arc;
use std::time::Duration;

use criterion::Criterion;
use entra_msal::TokenCache;
use entra_msal::fuzzing::cache_internals::{self as internals, TokenEvent};
use entra_msal::persistence::{
    AesGcmProtector, EncryptedFilePersistence, FilePersistence, Persistence, PersistentTokenCache,
};
use serde_json::{Value, json};

const CLIENT_ID: &str = "client_id";
const ENVIRONMENT: &str = "login.microsoftonline.com";
const REALM: &str = "tenant_0";
const NOW: i64 = 4_000_000_000;

fn stub_response(scope: &str) -> Value {
    json!({"access_token": format!("AT for {scope}"), "token_type": "bearer", "expires_in": 3600})
}

fn add(cache: &TokenCache, scope: &str) {
    let scopes = [scope.to_string()];
    internals::add(
        cache,
        &TokenEvent {
            client_id: CLIENT_ID,
            environment: ENVIRONMENT,
            realm: REALM,
            requested_scopes: &scopes,
            response: &stub_response(scope),
            grant_type: "client_credentials",
            username: None,
            ext_cache_key: None,
            skip_account_creation: false,
            now: NOW,
        },
    )
    .expect("a valid response");
}

/// A cache of `n` tokens, serialized.
fn filled(n: usize) -> String {
    let cache = TokenCache::new();
    for i in 0..n {
        add(&cache, &format!("scope_{i}"));
    }
    cache.serialize()
}

/// One token operation that adds one token.
fn operation(cache: &TokenCache, partition: Option<&str>) {
    internals::with_access(cache, partition, || add(cache, "scope"));
}

fn file_backed(c: &mut Criterion, name: &str, make: fn(&std::path::Path) -> Arc<dyn Persistence>) {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(8));
    for n in [1_000, 10_000] {
        let dir = tempfile::tempdir().unwrap();
        let persistence = make(&dir.path().join("msal_cache"));
        persistence.save(&filled(n)).unwrap();
        let cache = TokenCache::new();
        let listener = PersistentTokenCache::attach(&cache, persistence).unwrap();
        operation(&cache, None);
        assert!(listener.take_last_error().is_none());
        group.bench_function(format!("add_one_to_{n}"), |b| {
            b.iter(|| operation(&cache, None))
        });
        assert!(listener.take_last_error().is_none());
    }
    group.finish();
}

fn file(c: &mut Criterion) {
    file_backed(c, "persist_file", |path| {
        Arc::new(FilePersistence::new(path.with_extension("json")))
    });
}

fn encrypted_file(c: &mut Criterion) {
    file_backed(c, "persist_encrypted_file", |path| {
        let key = AesGcmProtector::generate_key().unwrap();
        Arc::new(EncryptedFilePersistence::new(
            FilePersistence::new(path.with_extension("bin")),
            Arc::new(AesGcmProtector::new(&key, "benchmark key")),
        ))
    });
}

#[cfg(feature = "redis")]
fn redis(c: &mut Criterion) {
    use entra_msal::persistence::{RedisOptions, RedisTokenCache, partition};
    let Some(url) = std::env::var("ENTRA_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("SKIPPED: persist_redis needs ENTRA_TEST_REDIS_URL (scripts/test starts Redis)");
        return;
    };
    let mut group = c.benchmark_group("persist_redis");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(8));
    let part = partition::app_partition(CLIENT_ID, REALM);
    for n in [1_000, 10_000] {
        let mut options = RedisOptions::new(url.clone());
        options.key_prefix = format!("msal-bench:{}:", uuid::Uuid::new_v4());
        let key = format!("{}{part}", options.key_prefix);
        let mut con = ::redis::Client::open(url.as_str())
            .unwrap()
            .get_connection()
            .unwrap();
        ::redis::cmd("SET")
            .arg(&key)
            .arg(filled(n))
            .arg("EX")
            .arg(3600)
            .query::<()>(&mut con)
            .unwrap();
        let cache = TokenCache::new();
        let listener = RedisTokenCache::attach(&cache, options).unwrap();
        operation(&cache, Some(&part));
        assert!(listener.take_last_error().is_none());
        group.bench_function(format!("add_one_to_{n}"), |b| {
            b.iter(|| operation(&cache, Some(&part)))
        });
        assert!(listener.take_last_error().is_none());
        ::redis::cmd("DEL").arg(&key).query::<()>(&mut con).unwrap();
    }
    group.finish();
}

#[cfg(not(feature = "redis"))]
fn redis(_: &mut Criterion) {
    eprintln!("SKIPPED: persist_redis needs --features redis");
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    file(&mut c);
    encrypted_file(&mut c);
    redis(&mut c);
    c.final_summary();
}
