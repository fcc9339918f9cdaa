//! Client-credentials tokens kept in a token cache file that several processes share.
//!
//! ```text
//! CACHE_PATH=/tmp/cache.json ENTRA_AUTHORITY=... ENTRA_CLIENT_ID=... ENTRA_CLIENT_SECRET=... \
//!   [ENTRA_CA_FILE=...] cargo run -p entra-msal --example cache_writer -- acquire FIRST COUNT
//! ```
//!
//! - `acquire FIRST COUNT`: acquires `api://load-<n>/.default` for `n` in `FIRST..FIRST+COUNT`,
//!   printing `done <scope> <source>` once each acquisition has returned (and so is in the file);
//! - `hold-lock`: takes the file's lock, prints `locked` and sleeps (the tests kill it);
//! - `bench TOKENS`: no network; measures one persisted token operation on a file that holds
//!   `TOKENS` access tokens.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use entra_msal::app::ConfidentialClientApplication;
use entra_msal::cache::{TokenCache, TokenEvent};
use entra_msal::persistence::{FilePersistence, Persistence, PersistentTokenCache};

type Failure = Box<dyn std::error::Error>;

fn var(name: &str) -> Result<String, Failure> {
    std::env::var(name).map_err(|_| format!("set {name}").into())
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let persistence =
        FilePersistence::new(var("CACHE_PATH")?).with_lock_timeout(Duration::from_secs(60));
    match args.first().map(String::as_str) {
        Some("acquire") => {
            let number = |i: usize| -> Result<u32, Failure> {
                Ok(args.get(i).ok_or("acquire FIRST COUNT")?.parse()?)
            };
            acquire(persistence, number(1)?, number(2)?).await
        }
        Some("hold-lock") => {
            let _lock = persistence.lock()?;
            println!("locked");
            std::io::stdout().flush()?;
            std::thread::sleep(Duration::from_secs(120));
            Ok(())
        }
        Some("bench") => bench(persistence, args.get(1).map_or(Ok(1000), |n| n.parse())?),
        _ => Err("usage: cache_writer acquire FIRST COUNT | hold-lock | bench TOKENS".into()),
    }
}

async fn acquire(persistence: FilePersistence, first: u32, count: u32) -> Result<(), Failure> {
    let cache = TokenCache::new();
    let listener = PersistentTokenCache::attach(&cache, Arc::new(persistence))?;
    let mut builder = ConfidentialClientApplication::builder(var("ENTRA_CLIENT_ID")?)
        .authority(var("ENTRA_AUTHORITY")?)
        .client_secret(var("ENTRA_CLIENT_SECRET")?)
        .token_cache(cache);
    if let Ok(ca_file) = std::env::var("ENTRA_CA_FILE") {
        builder = builder
            .trusted_ca(std::fs::read_to_string(ca_file)?)
            .instance_discovery(false);
    }
    let app = builder.build()?;
    let mut out = std::io::stdout().lock();
    for n in first..first + count {
        let scope = format!("api://load-{n}/.default");
        let result = app.acquire_token_for_client(&[scope.as_str()]).await?;
        if let Some(error) = listener.take_last_error() {
            return Err(error.into());
        }
        writeln!(out, "done {scope} {:?}", result.token_source)?;
        out.flush()?;
    }
    Ok(())
}

fn add(cache: &TokenCache, n: usize) -> Result<(), Failure> {
    let scopes = vec![format!("api://load-{n}/.default")];
    let response = serde_json::json!({
        "access_token": format!("eyJ0eXAiOiJKV1QifQ.{}.sig", "x".repeat(400)),
        "token_type": "Bearer", "expires_in": 3599,
    });
    cache.add(&TokenEvent {
        client_id: "11111111-2222-3333-4444-555555555555",
        environment: "login.microsoftonline.com",
        realm: "contoso.onmicrosoft.com",
        requested_scopes: &scopes,
        response: &response,
        grant_type: "client_credentials",
        username: None,
        ext_cache_key: None,
        skip_account_creation: false,
        now: 1_700_000_000,
    })?;
    Ok(())
}

fn bench(persistence: FilePersistence, tokens: usize) -> Result<(), Failure> {
    let _ = std::fs::remove_file(persistence.path());
    let cache = TokenCache::new();
    for n in 0..tokens {
        add(&cache, n)?;
    }
    persistence.save(&cache.serialize())?;
    let size = std::fs::metadata(persistence.path())?.len();
    let listener = PersistentTokenCache::attach(&cache, Arc::new(persistence))?;
    let rounds = 50;
    let start = Instant::now();
    for n in 0..rounds {
        cache.before_access();
        add(&cache, tokens + n)?;
        cache.after_access();
    }
    let write = start.elapsed() / rounds as u32;
    let start = Instant::now();
    for _ in 0..rounds {
        cache.before_access();
        cache.after_access();
    }
    let hit = start.elapsed() / rounds as u32;
    if let Some(error) = listener.take_last_error() {
        return Err(error.into());
    }
    println!(
        "{tokens} tokens ({size} bytes): one operation that adds a token {:.3} ms, one without \
         change {:.3} ms",
        write.as_secs_f64() * 1e3,
        hit.as_secs_f64() * 1e3
    );
    Ok(())
}
