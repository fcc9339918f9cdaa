//! The distributed token cache on a real `redis-server` (`scripts/test` starts one and exports
//! `ENTRA_TEST_REDIS_URL`): several application instances, each with its own in-memory cache,
//! acquire concurrently and lose nothing; each operation reads only its partition; keys
//! expire with their tokens. Without the URL the tests fail when `CI=true` and are skipped with
//! a notice otherwise.
#![cfg(feature = "redis")]

mod support;

use std::collections::HashSet;
use std::sync::Arc;

use entra_msal::TokenCache;
use entra_msal::persistence::partition;
use entra_msal::persistence::{RedisOptions, RedisTokenCache};
use entra_msal::{AuthCodeFlowOptions, ConfidentialClientApplication, SilentOptions, TokenSource};
use support::Env;

fn redis_url() -> Option<String> {
    match std::env::var("ENTRA_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let message =
                "Redis tests: ENTRA_TEST_REDIS_URL is not set (scripts/test starts redis-server)";
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{message}");
            }
            eprintln!("SKIPPED: {message}");
            None
        }
    }
}

/// Options with a key prefix of this test run only.
fn options(url: &str, prefix: &str) -> RedisOptions {
    let mut o = RedisOptions::new(url);
    o.key_prefix = prefix.to_string();
    o
}

/// An application instance: its own in-memory cache on the shared Redis.
fn instance(e: &Env, o: &RedisOptions) -> (ConfidentialClientApplication, Arc<RedisTokenCache>) {
    let cache = TokenCache::new();
    let listener = RedisTokenCache::attach(&cache, o.clone()).unwrap();
    (
        e.secret_builder().token_cache(cache).build().unwrap(),
        listener,
    )
}

fn redis(url: &str) -> redis::Connection {
    redis::Client::open(url).unwrap().get_connection().unwrap()
}

fn stored(con: &mut redis::Connection, key: &str) -> serde_json::Value {
    let text: String = redis::cmd("GET").arg(key).query(con).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn ttl(con: &mut redis::Connection, key: &str) -> i64 {
    redis::cmd("TTL").arg(key).query(con).unwrap()
}

fn prefix() -> String {
    format!("msal-test:{}:", uuid::Uuid::new_v4())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_instances_lose_nothing() {
    const INSTANCES: usize = 4;
    const TOKENS: usize = 6;
    let Some(url) = redis_url() else { return };
    let e = Arc::new(support::env().await);
    let o = options(&url, &prefix());

    // Every instance writes app tokens of the same client and tenant: one partition, the worst
    // case for concurrent writers.
    let mut runs = Vec::new();
    for i in 0..INSTANCES {
        let (app, listener) = instance(&e, &o);
        runs.push(tokio::spawn(async move {
            let mut scopes = Vec::new();
            for j in 0..TOKENS {
                let scope = format!("api://load-redis-{i}-{j}/.default");
                let r = app
                    .acquire_token_for_client(&[scope.as_str()])
                    .await
                    .unwrap();
                assert_eq!(r.token_source, TokenSource::IdentityProvider);
                scopes.push(scope);
            }
            assert!(listener.take_last_error().is_none());
            assert_eq!(listener.reads(), TOKENS as u64, "one GET per operation");
            scopes
        }));
    }
    let mut all = Vec::new();
    for run in runs {
        all.extend(run.await.unwrap());
    }
    let key = format!(
        "{}{}",
        o.key_prefix,
        partition::app_partition(
            &e.info.confidential_client.as_ref().unwrap().client_id,
            &e.info.tenant_id
        )
    );
    let mut con = redis(&url);
    let doc = stored(&mut con, &key);
    let targets: HashSet<String> = doc["AccessToken"]
        .as_object()
        .unwrap()
        .values()
        .map(|at| at["target"].as_str().unwrap().to_lowercase())
        .collect();
    for scope in &all {
        assert!(targets.contains(scope), "{scope} was lost");
    }
    assert_eq!(targets.len(), INSTANCES * TOKENS);
    // The key lives as long as its longest-lived access token, not a refresh-token lifetime.
    let t = ttl(&mut con, &key);
    assert!(t > 0 && t <= 2 * 3600, "TTL {t}");

    // A new instance is served every token from Redis, without the identity provider.
    e.emulator.control().clear_requests();
    let (app, listener) = instance(&e, &o);
    for scope in &all {
        let r = app
            .acquire_token_for_client(&[scope.as_str()])
            .await
            .unwrap();
        assert_eq!(r.token_source, TokenSource::Cache, "{scope}");
    }
    assert!(e.token_requests().is_empty());
    assert!(listener.take_last_error().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_partitions_are_read_alone() {
    let Some(url) = redis_url() else { return };
    let e = support::env().await;
    let o = options(&url, &prefix());
    let scope = "api://emulator-api/access_as_user";

    // Instance A signs in two users (auth code flow, as a web app does).
    let (a, a_listener) = instance(&e, &o);
    let mut accounts = Vec::new();
    for user in ["alice@contoso.example", "dave@contoso.example"] {
        let flow = a
            .initiate_auth_code_flow(
                &[scope],
                &AuthCodeFlowOptions {
                    redirect_uri: "https://localhost/auth/callback".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let response = e.sign_in(&flow.auth_uri, &flow.state, user).await;
        let r = a
            .acquire_token_by_auth_code_flow(&flow, &response)
            .await
            .unwrap();
        accounts.push(r.account.unwrap());
    }
    assert!(a_listener.take_last_error().is_none());
    let mut con = redis(&url);
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", o.key_prefix))
        .query(&mut con)
        .unwrap();
    let mut expected: Vec<String> = accounts
        .iter()
        .map(|a| format!("{}{}", o.key_prefix, a.home_account_id))
        .collect();
    let mut keys_sorted = keys.clone();
    keys_sorted.sort();
    expected.sort();
    assert_eq!(keys_sorted, expected, "one key per account");
    for key in &keys {
        let doc = stored(&mut con, key);
        assert_eq!(doc["RefreshToken"].as_object().unwrap().len(), 1);
        // User partitions live as long as their refresh token (90 days by default).
        assert!(ttl(&mut con, key) > 80 * 86400);
    }

    // Instance B serves alice (the web app's session names her account): it reads her
    // partition only, and has nothing of dave in memory.
    let cache_b = TokenCache::new();
    let b_listener = RedisTokenCache::attach(&cache_b, o.clone()).unwrap();
    let b = e
        .secret_builder()
        .token_cache(cache_b.clone())
        .build()
        .unwrap();
    e.emulator.control().clear_requests();
    let hit = b
        .acquire_token_silent(&[scope], &accounts[0], &SilentOptions::default())
        .await
        .unwrap();
    assert_eq!(hit.token_source, TokenSource::Cache);
    assert!(e.token_requests().is_empty());
    assert_eq!(b_listener.reads(), 1);
    let memory: serde_json::Value = serde_json::from_str(&cache_b.serialize()).unwrap();
    let homes: HashSet<&str> = ["AccessToken", "RefreshToken", "IdToken", "Account"]
        .iter()
        .flat_map(|s| memory[*s].as_object().unwrap().values())
        .map(|v| v["home_account_id"].as_str().unwrap())
        .collect();
    assert_eq!(homes, HashSet::from([accounts[0].home_account_id.as_str()]));

    // B refreshes alice's token; A then sees B's new token for alice (merged, nothing lost).
    let refreshed = b
        .acquire_token_silent(
            &[scope],
            &accounts[0],
            &SilentOptions {
                force_refresh: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(refreshed.token_source, TokenSource::IdentityProvider);
    let from_a = a
        .acquire_token_silent(&[scope], &accounts[0], &SilentOptions::default())
        .await
        .unwrap();
    assert_eq!(from_a.token_source, TokenSource::Cache);
    assert_eq!(
        from_a.access_token.expose(),
        refreshed.access_token.expose()
    );
    assert!(b_listener.take_last_error().is_none());
    assert!(a_listener.take_last_error().is_none());

    // Removing the account on B deletes its partition in Redis.
    b.remove_account(&accounts[0]);
    let exists: i64 = redis::cmd("EXISTS")
        .arg(format!("{}{}", o.key_prefix, accounts[0].home_account_id))
        .query(&mut con)
        .unwrap();
    assert_eq!(exists, 0);
}

/// A TCP relay to `upstream` (host:port) served by tasks of the *current* runtime; the number
/// of connections it relayed so far.
async fn relay(upstream: String) -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let relayed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = relayed.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let mut server = tokio::net::TcpStream::connect(upstream).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    (address, relayed)
}

/// Issue 15: the listener's Redis round trips hold no thread. Everything runs on ONE thread (a
/// current-thread runtime), and the listener reaches Redis only through a relay served by
/// another task on that same thread: had a hook blocked the thread while waiting for Redis,
/// the relay could never forward its request, the hook would time out and the operation would
/// report an error. Instead both operations complete through the relay with no error: the
/// token is written, and a second instance is served it from Redis.
#[test]
fn redis_round_trips_hold_no_thread() {
    let Some(url) = redis_url() else { return };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let e = support::env().await;
        let mut via = url::Url::parse(&url).unwrap();
        let upstream = format!("{}:{}", via.host_str().unwrap(), via.port().unwrap_or(6379));
        let (address, relayed) = relay(upstream).await;
        via.set_port(Some(address.port())).unwrap();
        let mut o = options(via.as_str(), &prefix());
        o.timeout = std::time::Duration::from_secs(3);

        let (app, listener) = instance(&e, &o);
        let fresh = app
            .acquire_token_for_client(&["api://load-redis-one-thread/.default"])
            .await
            .unwrap();
        assert_eq!(fresh.token_source, TokenSource::IdentityProvider);
        assert!(
            listener.take_last_error().is_none(),
            "a Redis round trip blocked the only thread: {:?}",
            listener.take_last_error()
        );
        assert_eq!((listener.reads(), listener.writes()), (1, 1));

        let (other, other_listener) = instance(&e, &o);
        let hit = other
            .acquire_token_for_client(&["api://load-redis-one-thread/.default"])
            .await
            .unwrap();
        assert_eq!(hit.token_source, TokenSource::Cache);
        assert_eq!(hit.access_token.expose(), fresh.access_token.expose());
        assert!(other_listener.take_last_error().is_none());
        assert!(
            relayed.load(std::sync::atomic::Ordering::Relaxed) >= 2,
            "each instance talked to Redis through the relay"
        );
    });
}
