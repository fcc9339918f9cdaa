//! Client-credentials tokens kept in a token cache file that several processes share.
//!
//! ```text
//! CACHE_PATH=/tmp/cache.json ENTRA_AUTHORITY=... ENTRA_CLIENT_ID=... ENTRA_CLIENT_SECRET=... \
//!   [ENTRA_CA_FILE=...] cargo run -p entra-msal --example cache_writer -- acquire FIRST COUNT
//! ```
//!
//! - `acquire FIRST COUNT`: acquires `api://load-<n>/.default` for `n` in `FIRST..FIRST+COUNT`,
//!   printing `done <scope> <source>` once each acquisition has returned (and so is in the file);
//! - `hold-lock`: takes the file's lock, prints `locked` and sleeps (the tests kill it).

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use entra_msal::ConfidentialClientApplication;
use entra_msal::TokenCache;
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
        _ => Err("usage: cache_writer acquire FIRST COUNT | hold-lock".into()),
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
