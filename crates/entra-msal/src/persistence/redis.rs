//! [`RedisTokenCache`]: a token cache shared by many instances through Redis, one key per
//! partition (feature `redis`).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::aio::MultiplexedConnection;
use serde_json::Value;

use super::partition;
use super::write_back::WriteBack;
use crate::cache::{CacheListener, TokenCache};
use crate::error::Error;

/// Options of [`RedisTokenCache`].
#[derive(Clone)]
pub struct RedisOptions {
    /// `redis://[:password@]host:port[/db]` (`rediss://` is not built in).
    pub url: String,
    /// Prepended to every partition key (default `msal:`), to share a Redis between apps.
    pub key_prefix: String,
    /// How long partitions with refresh tokens live after their last write (default 90 days,
    /// Entra's refresh-token lifetime for confidential clients).
    pub refresh_token_lifetime: Duration,
    /// Connect, read and write timeout (default 5 s).
    pub timeout: Duration,
}

impl fmt::Debug for RedisOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisOptions")
            .field("url", &redact_url(&self.url))
            .field("key_prefix", &self.key_prefix)
            .field("refresh_token_lifetime", &self.refresh_token_lifetime)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RedisOptions {
    /// The defaults for the server at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            key_prefix: "msal:".into(),
            refresh_token_lifetime: Duration::from_secs(90 * 24 * 3600),
            timeout: Duration::from_secs(5),
        }
    }
}

/// The URL without its password, for messages.
fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("redacted"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "[unparsable URL]".into(),
    }
}

#[derive(Default)]
struct State {
    /// Token operations in progress on the cache, and writes owed.
    write_back: WriteBack,
    /// Per partition, the stored data this instance last read or wrote.
    synced: HashMap<String, Value>,
    /// Per partition, the stored text of `synced`: an unchanged key is not parsed again.
    synced_text: HashMap<String, String>,
}

/// Keeps a [`TokenCache`] in Redis, partitioned like Microsoft.Identity.Web's distributed
/// cache: each key `<prefix><partition>` holds the serialized cache (MSAL's JSON) of one
/// partition (see the `persistence::partition` module): app tokens by client and tenant, user
/// tokens by home account.
///
/// - At the start of an operation the application names the partition it needs; only that
///   key is read (one `GET`) and merged into memory. Memory is a working set of the partitions
///   this instance used.
/// - At the end, every partition the operation changed is written with an optimistic
///   transaction (`WATCH`, `GET`, three-way [`merge`](super::partition::merge), `MULTI`/`SET
///   EX`/`EXEC`, retried when another instance wrote in between), so concurrent writers on
///   many machines lose nothing.
/// - Each key expires with its tokens ([`time_to_live`](super::partition::time_to_live)): the
///   latest access-token expiry, or the refresh-token lifetime for partitions with refresh
///   tokens, counted from the last write. A partition left without tokens is deleted.
///
/// Like [`PersistentTokenCache`](super::PersistentTokenCache), problems never fail a token
/// operation: they are logged and kept for [`take_last_error`](Self::take_last_error), and
/// unwritten changes are retried at the next operation's end.
///
/// **No thread is held while Redis answers.** The applications' async token operations await
/// the listener's async hooks ([`CacheListener::before_access_async`],
/// [`CacheListener::after_access_async`]), which talk to Redis over one multiplexed async
/// connection on the caller's tokio runtime; other tasks (even on a current-thread runtime) run
/// while a round trip waits. The synchronous hooks, used only by the few synchronous methods
/// (`remove_account`, `remove_tokens_for_client`) and when an operation is dropped before its
/// end, run the same exchange on a short-lived helper thread with its own runtime and
/// connection, and return when it is done.
pub struct RedisTokenCache {
    client: redis::Client,
    options: RedisOptions,
    /// The shared async connection (multiplexed; cloning it is cheap). It is used by one
    /// operation at a time, under `state`, so `WATCH` transactions do not interleave.
    connection: Mutex<Option<MultiplexedConnection>>,
    state: tokio::sync::Mutex<State>,
    last_error: Mutex<Option<Error>>,
    reads: AtomicU64,
    writes: AtomicU64,
}

impl fmt::Debug for RedisTokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisTokenCache")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Which connection an exchange uses.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Link {
    /// The listener's shared connection (async hooks on the application's runtime).
    Shared,
    /// A connection of its own (the synchronous hooks' helper thread and runtime).
    Own,
}

impl RedisTokenCache {
    /// A listener for the Redis at `options.url`; nothing is contacted until first use.
    ///
    /// # Errors
    /// [`Error::Configuration`] when the URL is not a Redis URL.
    pub fn new(options: RedisOptions) -> Result<Arc<Self>, Error> {
        let client = redis::Client::open(options.url.as_str()).map_err(|e| {
            Error::configuration_caused(
                format!(
                    "invalid Redis URL {}: {e}; use redis://[:password@]host:port[/db]",
                    redact_url(&options.url)
                ),
                e,
            )
        })?;
        Ok(Arc::new(Self {
            client,
            options,
            connection: Mutex::new(None),
            state: tokio::sync::Mutex::new(State::default()),
            last_error: Mutex::new(None),
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
        }))
    }

    /// [`new`](Self::new) and installs the listener on `cache`.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn attach(cache: &TokenCache, options: RedisOptions) -> Result<Arc<Self>, Error> {
        let listener = Self::new(options)?;
        cache.set_listener(Some(listener.clone()));
        Ok(listener)
    }

    /// The Redis key of `partition`.
    pub fn key(&self, partition: &str) -> String {
        format!("{}{partition}", self.options.key_prefix)
    }

    /// Partition reads (`GET`s at the start of operations) so far.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Partition writes (committed transactions) so far.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    /// The latest problem since the last call, if any (Redis unreachable, a stored partition
    /// that is not a cache).
    pub fn take_last_error(&self) -> Option<Error> {
        lock(&self.last_error).take()
    }

    fn record(&self, error: Error) {
        tracing::warn!(redis = %redact_url(&self.options.url), "{error}");
        *lock(&self.last_error) = Some(error);
    }

    fn redis_error(&self, what: &str, e: &redis::RedisError) -> Error {
        Error::cache_caused(
            format!(
                "the Redis token cache at {} could not {what}: {e}; check that the server is \
             reachable and the password is right (changes are retried at the next operation)",
                redact_url(&self.options.url)
            ),
            e.clone(),
        )
    }

    async fn connect(&self, link: Link) -> Result<MultiplexedConnection, Error> {
        if link == Link::Shared
            && let Some(c) = lock(&self.connection).clone()
        {
            return Ok(c);
        }
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.options.timeout))
            .set_response_timeout(Some(self.options.timeout));
        let c = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| self.redis_error("be reached", &e))?;
        if link == Link::Shared {
            *lock(&self.connection) = Some(c.clone());
        }
        Ok(c)
    }

    /// A failed exchange: the shared connection is dropped so the next one reconnects.
    fn failed(&self, link: Link, what: &str, e: &redis::RedisError) -> Error {
        if link == Link::Shared {
            *lock(&self.connection) = None;
        }
        self.redis_error(what, e)
    }

    fn parse(&self, key: &str, text: Option<String>) -> Result<Value, Error> {
        match text {
            None => Ok(Value::Object(Default::default())),
            Some(text) => match serde_json::from_str::<Value>(&text) {
                Ok(v @ Value::Object(_)) => Ok(v),
                _ => Err(Error::cache(format!(
                    "the Redis key {key} does not hold a serialized token cache; delete it"
                ))),
            },
        }
    }

    fn memory(cache: &TokenCache) -> Value {
        serde_json::from_str(&cache.serialize())
            .unwrap_or_else(|_| Value::Object(Default::default()))
    }

    fn set_memory(cache: &TokenCache, doc: &Value) -> Result<(), Error> {
        cache.deserialize(&doc.to_string())
    }

    /// Reads `partition` and merges it into memory.
    async fn load(
        &self,
        link: Link,
        cache: &TokenCache,
        state: &mut State,
        partition: &str,
    ) -> Result<(), Error> {
        let key = self.key(partition);
        let mut c = self.connect(link).await?;
        let text: Option<String> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut c)
            .await
            .map_err(|e| self.failed(link, "read a partition", &e))?;
        self.reads.fetch_add(1, Ordering::Relaxed);
        if text.is_some() && text.as_ref() == state.synced_text.get(partition) {
            return Ok(());
        }
        let theirs = self.parse(&key, text.clone())?;
        let empty = Value::Object(Default::default());
        let base = state.synced.get(partition).unwrap_or(&empty);
        if *base == theirs {
            return Ok(());
        }
        let memory = Self::memory(cache);
        let ours = partition::filter(&memory, partition);
        let merged = partition::merge(base, &ours, &theirs);
        Self::set_memory(cache, &partition::replace(&memory, partition, &merged))?;
        if merged != theirs {
            // Local changes not written yet: the end of the operation writes them.
            state.write_back.owe();
        }
        state.synced.insert(partition.to_string(), theirs);
        match text {
            Some(text) => state.synced_text.insert(partition.to_string(), text),
            None => state.synced_text.remove(partition),
        };
        Ok(())
    }

    /// One optimistic transaction on `key`: `WATCH`, `GET`, merge, `MULTI`/`SET EX` (or `DEL`)
    /// /`EXEC`, repeated while another writer changes the key in between. `Ok(None)` when the
    /// stored value is not a cache (then nothing is written, and the error is recorded).
    async fn write_partition(
        &self,
        c: &mut MultiplexedConnection,
        key: &str,
        base: &Value,
        ours: &Value,
        known_text: Option<&String>,
    ) -> redis::RedisResult<Option<(Value, Option<String>)>> {
        let rt_lifetime = self.options.refresh_token_lifetime.as_secs();
        loop {
            redis::cmd("WATCH").arg(key).query_async::<()>(c).await?;
            let text: Option<String> = redis::cmd("GET").arg(key).query_async(c).await?;
            // Unchanged since this instance last synced it: ours is the result.
            let merged = if text.is_some() && text.as_ref() == known_text {
                ours.clone()
            } else {
                match self.parse(key, text) {
                    Ok(theirs) => partition::merge(base, ours, &theirs),
                    Err(e) => {
                        // Never overwrite what is not a cache; give up on this key.
                        self.record(e);
                        redis::cmd("UNWATCH").query_async::<()>(c).await?;
                        return Ok(None);
                    }
                }
            };
            let mut pipe = redis::pipe();
            pipe.atomic();
            let written = if partition::has_tokens(&merged) {
                let ttl = partition::time_to_live(&merged, now(), rt_lifetime);
                let text = merged.to_string();
                pipe.cmd("SET")
                    .arg(key)
                    .arg(&text)
                    .arg("EX")
                    .arg(ttl)
                    .ignore();
                Some(text)
            } else {
                pipe.cmd("DEL").arg(key).ignore();
                None
            };
            // EXEC answers nil when a watched key changed: merge again.
            let done: Option<redis::Value> = pipe.query_async(c).await?;
            if done.is_some() {
                return Ok(Some((merged, written)));
            }
        }
    }

    /// Writes every partition whose memory differs from what was last synced.
    async fn write(&self, link: Link, cache: &TokenCache, state: &mut State) -> Result<(), Error> {
        let mut memory = Self::memory(cache);
        let mut names = partition::partitions(&memory);
        names.extend(state.synced.keys().cloned());
        let empty = Value::Object(Default::default());
        let mut memory_changed = false;
        for name in names {
            let ours = partition::filter(&memory, &name);
            let base = state
                .synced
                .get(&name)
                .cloned()
                .unwrap_or_else(|| empty.clone());
            if ours == base || (!partition::has_tokens(&ours) && !partition::has_tokens(&base)) {
                continue;
            }
            let key = self.key(&name);
            let mut c = self.connect(link).await?;
            let outcome = self
                .write_partition(&mut c, &key, &base, &ours, state.synced_text.get(&name))
                .await
                .map_err(|e| self.failed(link, "write a partition", &e))?;
            let Some((merged, written)) = outcome else {
                continue;
            };
            self.writes.fetch_add(1, Ordering::Relaxed);
            if merged != ours {
                memory = partition::replace(&memory, &name, &merged);
                memory_changed = true;
            }
            match written {
                Some(text) => state.synced_text.insert(name.clone(), text),
                None => state.synced_text.remove(&name),
            };
            state.synced.insert(name, merged);
        }
        if memory_changed {
            Self::set_memory(cache, &memory)?;
        }
        Ok(())
    }

    async fn before(&self, link: Link, cache: &TokenCache, partition: Option<&str>) {
        let mut state = self.state.lock().await;
        if let Some(partition) = partition
            && let Err(e) = self.load(link, cache, &mut state, partition).await
        {
            self.record(e);
        }
        // Counted once the read is done: an operation cancelled while it waits for Redis has
        // not entered, so it owes no `after` (CacheAccess::around only calls it once this ends).
        state.write_back.enter();
    }

    async fn after(&self, link: Link, cache: &TokenCache, has_state_changed: bool) {
        let mut state = self.state.lock().await;
        if state.write_back.must_write(has_state_changed) {
            let outcome = self.write(link, cache, &mut state).await;
            state.write_back.wrote(outcome.is_ok());
            if let Err(e) = outcome {
                self.record(e);
            }
        }
        state.write_back.leave();
    }

    /// Runs `exchange` to completion for a synchronous hook, on a helper thread with its own
    /// runtime and connection, so it works (and never deadlocks on the caller's runtime) from
    /// inside an async runtime too. Waiting for another operation's hook is bounded by the
    /// timeout.
    fn run_on_helper<'a>(&'a self, exchange: impl Future<Output = ()> + Send + 'a) {
        let timeout = self.options.timeout.saturating_mul(2);
        let outcome =
            std::thread::scope(|scope| {
                scope
                    .spawn(|| {
                        let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| {
                            Error::cache_caused(format!(
                                "the Redis token cache could not start a helper runtime ({e}); \
                                 the process is out of resources"
                            ), e)
                        })?;
                        runtime
                            .block_on(async { tokio::time::timeout(timeout, exchange).await })
                            .map_err(|_| {
                                Error::cache(format!(
                                    "the Redis token cache was busy or unreachable for {} s; \
                                 changes are retried at the next operation",
                                    timeout.as_secs()
                                ))
                            })
                    })
                    .join()
                    .unwrap_or_else(|_| {
                        Err(Error::cache(
                            "the Redis token cache's helper thread panicked".into(),
                        ))
                    })
            });
        if let Err(e) = outcome {
            self.record(e);
        }
    }
}

impl CacheListener for RedisTokenCache {
    fn before_access(&self, cache: &TokenCache) {
        self.before_partition_access(cache, None);
    }

    /// For synchronous callers: the read runs on a helper thread (see the type's documentation).
    fn before_partition_access(&self, cache: &TokenCache, partition: Option<&str>) {
        self.run_on_helper(self.before(Link::Own, cache, partition));
    }

    /// For synchronous callers (and an operation dropped before its end): the write runs on a
    /// helper thread, and is done when this returns.
    fn after_access(&self, cache: &TokenCache, has_state_changed: bool) {
        self.run_on_helper(self.after(Link::Own, cache, has_state_changed));
    }

    fn before_access_async<'a>(
        &'a self,
        cache: &'a TokenCache,
        partition: Option<&'a str>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(self.before(Link::Shared, cache, partition))
    }

    fn after_access_async<'a>(
        &'a self,
        cache: &'a TokenCache,
        has_state_changed: bool,
    ) -> BoxFuture<'a, ()> {
        Box::pin(self.after(Link::Shared, cache, has_state_changed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let o = RedisOptions::new("redis://:hunter2@127.0.0.1:6390/0");
        assert!(!format!("{o:?}").contains("hunter2"));
        let l = RedisTokenCache::new(o).unwrap();
        assert!(!format!("{l:?}").contains("hunter2"));
        assert!(matches!(
            RedisTokenCache::new(RedisOptions::new("http://x")),
            Err(Error::Configuration { .. })
        ));
    }

    #[test]
    fn an_unreachable_server_is_reported_not_fatal() {
        // Port 1 on loopback: refused at once.
        let mut o = RedisOptions::new("redis://127.0.0.1:1/");
        o.timeout = Duration::from_millis(200);
        let cache = TokenCache::new();
        let l = RedisTokenCache::attach(&cache, o).unwrap();
        cache.before_partition_access(Some("p"));
        cache.after_access();
        let err = l.take_last_error().unwrap().to_string();
        assert!(err.contains("reachable"), "{err}");
    }
}
