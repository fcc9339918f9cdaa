//! The nine scenarios of the side-by-side benchmark against MSAL Python 1.39 (issue 17), through
//! the public API only, with an in-process stub [`HttpClient`] under the library's own
//! throttling layer. `interop/bench_side_by_side.py` drives this binary and runs the same
//! scenarios in MSAL Python, interleaved; `scripts/bench-instructions` runs it under callgrind.
//!
//! ```text
//! bench_scenarios serve              # lines on stdin: `run ROW SECONDS` -> one JSON line
//! bench_scenarios once ROW OPS       # set up ROW, run OPS operations, print one JSON line
//! bench_scenarios list               # the rows
//! ```
//!
//! Rows (the numbering of issue 17):
//! 1. `acquire_token_for_client` hit, 1 tenant × 10 scopes (plus `scope`);
//! 2. the same hit across 1,000 tenants (one application and cache per tenant);
//! 3. miss, 1 tenant × 10: the stub answers with `"scope": "never-requested"`, so every call goes
//!    to the stub and writes one token (MSAL Python makes its cache read-only instead);
//! 4. the same miss across 1,000 tenants;
//! 5. miss with 10,000 tokens in the application's cache (filled by `TokenCache::add`);
//! 6. fill a fresh application's cache to 10,000 tokens, one `acquire_token_for_client` per
//!    scope (one operation is the whole fill);
//! 7. `PublicClientApplication::accounts(None)` with 1,000 accounts, each filed from an
//!    authorization-code response (access, refresh and ID token, account);
//! 8. (`8s` / `8d`) `serialize` of that cache / `deserialize` of its JSON into a fresh cache;
//! 9. a file cache (`PersistentTokenCache` + `FilePersistence`) that holds 1,000 tokens: one
//!    `acquire_token_for_client` for a new scope, so one token is added and the file rewritten.
//!    The file is rewritten and a fresh cache attached before every batch, outside the timing.
//!
//! Each JSON line holds the operations run, wall and CPU nanoseconds per operation (CPU from
//! `/proc/self/schedstat`, Linux only, 0 elsewhere) and heap allocations per operation (a
//! counting global allocator).
#![allow(unsafe_code)] // the counting global allocator

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entra_msal::fuzzing::cache_internals::{self as internals, TokenEvent};
use entra_msal::http::{HttpClient, HttpError, HttpRequest, HttpResponse};
use entra_msal::persistence::{FilePersistence, PersistentTokenCache};
use entra_msal::{ConfidentialClientApplication, PublicClientApplication, TokenCache};
use futures_util::future::BoxFuture;
use serde_json::json;

/// Counts every allocation and reallocation, then defers to the system allocator.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to `System`, which upholds the contract.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is `GlobalAlloc::alloc`'s, which `System` shares.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const HOST: &str = "login.microsoftonline.com";
const CLIENT_ID: &str = "client_id";
/// The scope a miss's token is filed under, so the scope asked for stays uncached.
const NEVER_REQUESTED: &str = "never-requested";
const ROWS: [&str; 10] = ["1", "2", "3", "4", "5", "6", "7", "8s", "8d", "9"];

/// OpenID discovery for the tenant in the URL; a client-credential token for any POST, filed
/// under the scope asked for (`echo`) or under [`NEVER_REQUESTED`]. The bodies are byte for byte
/// those of the MSAL Python side's mock `http_client`.
struct Stub {
    echo: bool,
}

impl HttpClient for Stub {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        let body = if request.method() == http::Method::GET {
            let path = request.uri().path();
            let tenant = path.trim_start_matches('/').split('/').next().unwrap_or("");
            let base = format!("https://{HOST}/{tenant}");
            format!(
                r#"{{"authorization_endpoint": "{base}/oauth2/v2.0/authorize", "token_endpoint": "{base}/oauth2/v2.0/token", "issuer": "{base}/v2.0"}}"#
            )
        } else {
            let body = request.body();
            let scope = if self.echo {
                scope_field(body).unwrap_or_default()
            } else {
                NEVER_REQUESTED.into()
            };
            token_body(&scope)
        };
        // What a transport hands back: status 200 (the default), the body, its content type
        // (a typed header name, as an HTTP client's parser produces).
        let mut response = http::Response::new(body.into_bytes());
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        Box::pin(async move { Ok(response) })
    }
}

/// A client-credential token response for `scope`, written piece by piece (the text is the one
/// `format!` would give: `{"access_token": "AT", …, "scope": "<scope>"}`).
fn token_body(scope: &str) -> String {
    const HEAD: &str =
        r#"{"access_token": "AT", "token_type": "Bearer", "expires_in": 3600, "scope": ""#;
    const TAIL: &str = r#""}"#;
    let mut body = String::with_capacity(HEAD.len() + scope.len() + TAIL.len());
    body.push_str(HEAD);
    body.push_str(scope);
    body.push_str(TAIL);
    body
}

/// The `scope` field of a form body, decoded; enough decoding for the scopes of these
/// scenarios (`+` and `%20` are spaces). Borrowed when there is nothing to decode. (Found with
/// `memchr`'s SIMD search: a real HTTP client hands the form to the network, not to a parser;
/// MSAL Python's mock receives it as a dictionary.)
fn scope_field(body: &[u8]) -> Option<std::borrow::Cow<'_, str>> {
    static FIELD: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"scope="));
    let value = FIELD.find_iter(body).find_map(|at| {
        let pair_start = at == 0 || body[at - 1] == b'&';
        let rest = &body[at + FIELD.needle().len()..];
        let end = memchr::memchr(b'&', rest).unwrap_or(rest.len());
        pair_start.then_some(&rest[..end])
    })?;
    let value = std::str::from_utf8(value).ok()?;
    Some(if value.contains(['+', '%']) {
        value.replace('+', " ").replace("%20", " ").into()
    } else {
        value.into()
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

fn cca(tenant: usize, cache: TokenCache, echo: bool) -> ConfidentialClientApplication {
    ConfidentialClientApplication::builder(CLIENT_ID)
        .authority(format!("https://{HOST}/tenant_{tenant}"))
        .client_secret("foo")
        .token_cache(cache)
        .http_client(Arc::new(Stub { echo }))
        .build()
        .expect("an application")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Files a client-credential token for `scope` of `tenant` straight into `cache`.
fn add_app_token(cache: &TokenCache, tenant: usize, scope: &str, now: i64) {
    let response =
        json!({"access_token": "AT", "token_type": "Bearer", "expires_in": 3600, "scope": scope});
    let realm = format!("tenant_{tenant}");
    internals::add(
        cache,
        &TokenEvent {
            client_id: CLIENT_ID,
            environment: HOST,
            realm: &realm,
            requested_scopes: &[scope.to_string()],
            response: &response,
            grant_type: "client_credentials",
            username: None,
            ext_cache_key: None,
            skip_account_creation: true,
            now,
        },
    )
    .expect("a valid response");
}

/// Rows 1–5: `tenants` applications, each with its own cache of `tokens` scopes filled by
/// `acquire_token_for_client` (row 5: by `TokenCache::add`), plus `scope` for a hit.
fn apps(
    rt: &tokio::runtime::Runtime,
    tenants: usize,
    tokens: usize,
    hit: bool,
) -> Vec<ConfidentialClientApplication> {
    let direct = tokens > 100;
    (0..tenants)
        .map(|t| {
            let cache = TokenCache::new();
            let app = cca(t, cache.clone(), true);
            rt.block_on(async {
                for i in 0..tokens {
                    let scope = format!("scope_{i}");
                    if direct {
                        add_app_token(&cache, t, &scope, now());
                    } else {
                        app.acquire_token_for_client(&[scope.as_str()])
                            .await
                            .expect("a token");
                    }
                }
                if hit {
                    app.acquire_token_for_client(&["scope"])
                        .await
                        .expect("a token");
                }
            });
            if hit {
                app
            } else {
                // The same application, answered with tokens for another scope from now on.
                cca(t, cache, false)
            }
        })
        .collect()
}

/// Rows 7–8: a public-client cache with `accounts` accounts (the texts of `scale_bench.py`).
fn pca_cache(accounts: usize) -> TokenCache {
    let cache = TokenCache::new();
    let now = now();
    let scopes: Vec<String> = ["User.Read", "offline_access", "openid", "profile"]
        .map(String::from)
        .to_vec();
    let utid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    for i in 0..accounts {
        let uid = format!("{i:08}-0000-0000-0000-000000000000");
        let client_info = URL_SAFE_NO_PAD.encode(json!({"uid": uid, "utid": utid}).to_string());
        let claims = json!({"iss": format!("https://{HOST}/{utid}/v2.0"),
            "sub": format!("sub-{i}"), "aud": CLIENT_ID, "exp": now + 3600, "iat": now,
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
                environment: HOST,
                realm: "common",
                requested_scopes: &scopes,
                response: &response,
                grant_type: "authorization_code",
                username: None,
                ext_cache_key: None,
                skip_account_creation: false,
                now,
            },
        )
        .expect("a valid response");
    }
    cache
}

/// Row 9's state: the file, and the application attached to it for the current batch.
struct FileRow {
    dir: PathBuf,
    template: String,
    app: Option<(ConfidentialClientApplication, Arc<PersistentTokenCache>)>,
}

impl FileRow {
    fn new() -> Self {
        let cache = TokenCache::new();
        let now = now();
        for i in 0..1000 {
            add_app_token(&cache, 0, &format!("scope_{i}"), now);
        }
        let dir = std::env::temp_dir().join(format!("entra-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a directory");
        Self {
            dir,
            template: cache.serialize(),
            app: None,
        }
    }

    /// Outside the timing: the 1,000-token file rewritten, a new cache attached, one operation.
    fn reset(&mut self, rt: &tokio::runtime::Runtime, next: &mut u64) {
        let path = self.dir.join("msal_cache.json");
        let persistence = Arc::new(FilePersistence::new(&path));
        entra_msal::persistence::Persistence::save(persistence.as_ref(), &self.template)
            .expect("the cache file");
        let cache = TokenCache::new();
        let listener = PersistentTokenCache::attach(&cache, persistence).expect("attached");
        let app = cca(0, cache, true);
        self.app = Some((app, listener));
        self.op(rt, next);
    }

    fn op(&self, rt: &tokio::runtime::Runtime, next: &mut u64) {
        let (app, _) = self.app.as_ref().expect("reset first");
        *next += 1;
        let scope = format!("new_{next}");
        rt.block_on(app.acquire_token_for_client(&[scope.as_str()]))
            .expect("a token");
    }
}

impl Drop for FileRow {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

enum Scenario {
    Apps {
        apps: Vec<ConfidentialClientApplication>,
        hit: bool,
        next: usize,
    },
    Fill,
    Accounts(PublicClientApplication),
    Serialize(TokenCache),
    Deserialize(String),
    File(Box<FileRow>, u64),
}

impl Scenario {
    fn new(rt: &tokio::runtime::Runtime, row: &str) -> Self {
        let apps_row = |tenants, tokens, hit| Self::Apps {
            apps: apps(rt, tenants, tokens, hit),
            hit,
            next: 0,
        };
        match row {
            "1" => apps_row(1, 10, true),
            "2" => apps_row(1000, 10, true),
            "3" => apps_row(1, 10, false),
            "4" => apps_row(1000, 10, false),
            "5" => apps_row(1, 10_000, false),
            "6" => Self::Fill,
            "7" => Self::Accounts(
                PublicClientApplication::builder(CLIENT_ID)
                    .authority(format!("https://{HOST}/common"))
                    .token_cache(pca_cache(1000))
                    .http_client(Arc::new(Stub { echo: true }))
                    .build()
                    .expect("an application"),
            ),
            "8s" => Self::Serialize(pca_cache(1000)),
            "8d" => Self::Deserialize(pca_cache(1000).serialize()),
            "9" => Self::File(Box::new(FileRow::new()), 0),
            other => panic!("no row {other:?}; rows: {ROWS:?}"),
        }
    }

    /// Called before every batch, outside the timing.
    fn prepare(&mut self, rt: &tokio::runtime::Runtime) {
        if let Self::File(file, next) = self {
            file.reset(rt, next);
        }
    }

    #[inline(never)]
    fn run(&mut self, rt: &tokio::runtime::Runtime, ops: u64) {
        match self {
            Self::Apps { apps, hit, next } => {
                let expected = if *hit {
                    entra_msal::TokenSource::Cache
                } else {
                    entra_msal::TokenSource::IdentityProvider
                };
                rt.block_on(async {
                    for _ in 0..ops {
                        // The stride walk of the MSAL Python side.
                        *next = next.wrapping_add(7919);
                        let app = &apps[*next % apps.len()];
                        let result = app
                            .acquire_token_for_client(&["scope"])
                            .await
                            .expect("a token");
                        debug_assert!(result.token_source == expected);
                        std::hint::black_box(result);
                    }
                });
            }
            Self::Fill => {
                let scopes: Vec<String> = (0..10_000).map(|i| format!("scope_{i}")).collect();
                for _ in 0..ops {
                    let app = cca(0, TokenCache::new(), true);
                    rt.block_on(async {
                        for scope in &scopes {
                            app.acquire_token_for_client(&[scope.as_str()])
                                .await
                                .expect("a token");
                        }
                    });
                    assert_eq!(internals::access_token_count(app.token_cache()), 10_000);
                }
            }
            Self::Accounts(app) => {
                for _ in 0..ops {
                    let accounts = app.accounts(None);
                    assert_eq!(accounts.len(), 1000);
                    std::hint::black_box(accounts);
                }
            }
            Self::Serialize(cache) => {
                for _ in 0..ops {
                    std::hint::black_box(cache.serialize());
                }
            }
            Self::Deserialize(text) => {
                for _ in 0..ops {
                    let fresh = TokenCache::new();
                    fresh.deserialize(text).expect("a valid cache");
                    std::hint::black_box(fresh);
                }
            }
            Self::File(file, next) => {
                for _ in 0..ops {
                    file.op(rt, next);
                }
                let (_, listener) = file.app.as_ref().expect("reset first");
                assert!(listener.take_last_error().is_none());
            }
        }
    }
}

/// Nanoseconds this thread has run on a CPU (Linux), else 0.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

struct Sample {
    ops: u64,
    wall_ns: f64,
    cpu_ns: f64,
    allocations: f64,
}

fn measure(rt: &tokio::runtime::Runtime, scenario: &mut Scenario, ops: u64) -> Sample {
    scenario.prepare(rt);
    let allocations = ALLOCATIONS.load(Ordering::Relaxed);
    let cpu = cpu_ns();
    let start = Instant::now();
    scenario.run(rt, ops);
    let wall = start.elapsed();
    let cpu = cpu_ns().saturating_sub(cpu);
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - allocations;
    Sample {
        ops,
        wall_ns: wall.as_nanos() as f64 / ops as f64,
        cpu_ns: cpu as f64 / ops as f64,
        allocations: allocations as f64 / ops as f64,
    }
}

fn report(row: &str, sample: &Sample) -> String {
    json!({
        "row": row,
        "ops": sample.ops,
        "wall_ns": sample.wall_ns,
        "cpu_ns": sample.cpu_ns,
        "allocations": sample.allocations,
    })
    .to_string()
}

/// Answers `run ROW SECONDS` lines: the first run of a row sets it up and calibrates the batch
/// to about SECONDS; every run then times one batch.
fn serve() {
    let rt = runtime();
    let mut scenarios: HashMap<String, (Scenario, u64)> = HashMap::new();
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    for line in stdin.lock().lines() {
        let line = line.expect("stdin");
        let words: Vec<&str> = line.split_whitespace().collect();
        let reply = match words.as_slice() {
            ["run", row, seconds] => {
                let target = Duration::from_secs_f64(seconds.parse().expect("seconds"));
                let (scenario, batch) = scenarios.entry(row.to_string()).or_insert_with(|| {
                    let mut scenario = Scenario::new(&rt, row);
                    let batch = calibrate(&rt, &mut scenario, target);
                    (scenario, batch)
                });
                report(row, &measure(&rt, scenario, *batch))
            }
            ["quit"] => break,
            _ => json!({"error": format!("unknown command {line:?}")}).to_string(),
        };
        writeln!(stdout, "{reply}").expect("stdout");
        stdout.flush().expect("stdout");
    }
}

/// The batch size that takes about `target`, growing from one operation.
fn calibrate(rt: &tokio::runtime::Runtime, scenario: &mut Scenario, target: Duration) -> u64 {
    let mut ops = 1u64;
    loop {
        let sample = measure(rt, scenario, ops);
        let total = sample.wall_ns * ops as f64;
        if total >= target.as_nanos() as f64 / 4.0 || ops >= 1 << 24 {
            let per_op = sample.wall_ns.max(1.0);
            return ((target.as_nanos() as f64 / per_op) as u64).clamp(1, 1 << 26);
        }
        ops *= 4;
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["serve"] => serve(),
        ["once", row, ops] => {
            let rt = runtime();
            let mut scenario = Scenario::new(&rt, row);
            // Warm up: first-call costs (discovery, lazy statics) stay out of the count.
            measure(&rt, &mut scenario, 1);
            let sample = measure(
                &rt,
                &mut scenario,
                ops.parse().expect("a number of operations"),
            );
            println!("{}", report(row, &sample));
        }
        ["list"] => println!("{}", ROWS.join(" ")),
        _ => {
            eprintln!("usage: bench_scenarios serve | once ROW OPS | list");
            std::process::exit(2);
        }
    }
}
