//! A process-wide, expiring, coalescing memo for discovery results.
//!
//! Concurrent callers asking for the same key share one in-flight request; a success is kept for
//! the memo's lifetime, a failure is handed to every caller that waited for it and then forgotten.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};

use super::wire::replicate;
use crate::error::Error;
use crate::http::ThrottledHttp;

/// A fetch's result, with when it completed (on the memo's clock): the value is good for the
/// memo's lifetime from then, for every caller that waited for it.
type Outcome<T> = Result<(Arc<T>, Instant), Arc<Error>>;
type InFlight<T> = Shared<BoxFuture<'static, Outcome<T>>>;

enum Slot<T> {
    Ready { value: Arc<T>, expires_at: Instant },
    InFlight(InFlight<T>),
}

/// A memo keyed by strings (URL plus options), bounded in size.
pub(crate) struct Memo<T> {
    slots: Mutex<HashMap<String, Slot<T>>>,
    ttl: Duration,
    capacity: usize,
}

impl<T: Send + Sync + 'static> Memo<T> {
    /// A memo keeping results for `ttl` and at most `capacity` of them.
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            ttl,
            capacity: capacity.max(1),
        }
    }

    /// The stored value for `key` if one is current at `now`, without fetching or waiting.
    pub(crate) fn peek(&self, key: &str, now: Instant) -> Option<Arc<T>> {
        match self.lock().get(key) {
            Some(Slot::Ready { value, expires_at }) if *expires_at > now => Some(value.clone()),
            _ => None,
        }
    }

    /// The stored value for `key`, else the result of the in-flight request for it, else the
    /// result of `fetch` (started now and shared with concurrent callers). Time is read from
    /// `http`'s clock.
    pub(crate) async fn get_or_fetch(
        &self,
        key: &str,
        http: &ThrottledHttp,
        fetch: impl FnOnce() -> BoxFuture<'static, Result<T, Error>>,
    ) -> Result<Arc<T>, Error> {
        self.get_or_fetch_until(key, http, fetch)
            .await
            .map(|(value, _)| value)
    }

    /// [`get_or_fetch`](Self::get_or_fetch), with when the value expires: a caller may keep its
    /// own copy until then, even when the memo makes room for other keys before that. `None`
    /// only when that instant is beyond the clock's range.
    pub(crate) async fn get_or_fetch_until(
        &self,
        key: &str,
        http: &ThrottledHttp,
        fetch: impl FnOnce() -> BoxFuture<'static, Result<T, Error>>,
    ) -> Result<(Arc<T>, Option<Instant>), Error> {
        let in_flight = {
            let mut slots = self.lock();
            match slots.get(key) {
                Some(Slot::Ready { value, expires_at }) if *expires_at > http.now() => {
                    return Ok((value.clone(), Some(*expires_at)));
                }
                Some(Slot::InFlight(shared)) => shared.clone(),
                _ => {
                    let clock = http.clone();
                    let shared = fetch()
                        .map(move |r| match r {
                            Ok(value) => Ok((Arc::new(value), clock.now())),
                            Err(e) => Err(Arc::new(e)),
                        })
                        .boxed()
                        .shared();
                    slots.insert(key.to_string(), Slot::InFlight(shared.clone()));
                    shared
                }
            }
        };
        let outcome = in_flight.clone().await;
        let expires_at = match &outcome {
            Ok((_, completed)) => completed.checked_add(self.ttl),
            Err(_) => None,
        };
        {
            let mut slots = self.lock();
            let still_ours =
                matches!(slots.get(key), Some(Slot::InFlight(s)) if s.ptr_eq(&in_flight));
            if still_ours {
                slots.remove(key);
                if let (Ok((value, _)), Some(expires_at)) = (&outcome, expires_at) {
                    make_room(&mut slots, self.capacity, http.now());
                    slots.insert(
                        key.to_string(),
                        Slot::Ready {
                            value: value.clone(),
                            expires_at,
                        },
                    );
                }
            }
        }
        outcome
            .map(|(value, _)| (value, expires_at))
            .map_err(|e| replicate(&e))
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Slot<T>>> {
        // Entries are inserted whole, so a poisoned map is still consistent.
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Drops expired results, then the soonest-expiring ones, until one more fits.
fn make_room<T>(slots: &mut HashMap<String, Slot<T>>, capacity: usize, now: Instant) {
    if slots.len() < capacity {
        return;
    }
    slots.retain(|_, slot| !matches!(slot, Slot::Ready { expires_at, .. } if *expires_at <= now));
    while slots.len() >= capacity {
        let soonest = slots
            .iter()
            .filter_map(|(key, slot)| match slot {
                Slot::Ready { expires_at, .. } => Some((*expires_at, key)),
                Slot::InFlight(_) => None,
            })
            .min()
            .map(|(_, key)| key.clone());
        match soonest {
            Some(key) => {
                slots.remove(&key);
            }
            None => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    use futures_util::future::BoxFuture;

    use super::*;
    use crate::http::{HttpClient, HttpError, HttpRequest, HttpResponse};

    struct Unused;
    impl HttpClient for Unused {
        fn send(&self, _: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
            Box::pin(async { Err(HttpError::new("unused")) })
        }
    }

    fn clocked() -> (ThrottledHttp, Arc<AtomicU64>) {
        let offset = Arc::new(AtomicU64::new(0));
        let base = Instant::now();
        let o = offset.clone();
        let http = ThrottledHttp::with_clock(Arc::new(Unused), Duration::from_secs(5), move || {
            base + Duration::from_secs(o.load(Ordering::SeqCst))
        });
        (http, offset)
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    #[test]
    fn coalesces_caches_and_expires() {
        let memo = Memo::<u32>::new(Duration::from_secs(100), 10);
        let (http, offset) = clocked();
        let calls = Arc::new(AtomicUsize::new(0));
        let fetch = || {
            let calls = calls.clone();
            move || -> BoxFuture<'static, Result<u32, Error>> {
                Box::pin(async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Ok(7)
                })
            }
        };
        rt().block_on(async {
            let results = futures_util::future::join_all(
                (0..10).map(|_| memo.get_or_fetch("k", &http, fetch())),
            )
            .await;
            assert!(results.iter().all(|r| **r.as_ref().unwrap() == 7));
            assert_eq!(calls.load(Ordering::SeqCst), 1);
            memo.get_or_fetch("k", &http, fetch()).await.unwrap();
            assert_eq!(calls.load(Ordering::SeqCst), 1);
            offset.store(100, Ordering::SeqCst);
            memo.get_or_fetch("k", &http, fetch()).await.unwrap();
            assert_eq!(calls.load(Ordering::SeqCst), 2);
        });
    }

    #[test]
    fn failures_are_shared_but_not_kept() {
        let memo = Memo::<u32>::new(Duration::from_secs(100), 10);
        let (http, _) = clocked();
        let calls = Arc::new(AtomicUsize::new(0));
        let failing = || {
            let calls = calls.clone();
            move || -> BoxFuture<'static, Result<u32, Error>> {
                Box::pin(async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Err(Error::Network {
                        url: "u".into(),
                        message: "down".into(),
                        timeout: false,
                        source: None,
                    })
                })
            }
        };
        rt().block_on(async {
            let results = futures_util::future::join_all(
                (0..3).map(|_| memo.get_or_fetch("k", &http, failing())),
            )
            .await;
            assert!(
                results
                    .iter()
                    .all(|r| matches!(r, Err(Error::Network { .. })))
            );
            assert_eq!(calls.load(Ordering::SeqCst), 1);
            assert!(memo.get_or_fetch("k", &http, failing()).await.is_err());
            assert_eq!(calls.load(Ordering::SeqCst), 2);
        });
    }

    /// The call that fetches, the calls that waited for it and later calls all learn the same
    /// expiry, and it stands when the memo makes room for other keys: an application keeps its
    /// copy until then instead of asking the memo (and, once its key was pushed out, the
    /// network) on every call.
    #[test]
    fn every_caller_learns_the_expiry_even_after_eviction() {
        let memo = Memo::<u32>::new(Duration::from_secs(100), 2);
        let (http, offset) = clocked();
        let fetch = || -> BoxFuture<'static, Result<u32, Error>> {
            Box::pin(async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok(7)
            })
        };
        let expected = http.now() + Duration::from_secs(100);
        rt().block_on(async {
            let first = futures_util::future::join_all(
                (0..3).map(|_| memo.get_or_fetch_until("k", &http, fetch)),
            )
            .await;
            for result in &first {
                let (value, expires_at) = result.as_ref().unwrap();
                assert_eq!(**value, 7);
                assert_eq!(*expires_at, Some(expected));
            }
            let (_, again) = memo.get_or_fetch_until("k", &http, fetch).await.unwrap();
            assert_eq!(again, Some(expected));
            // Two other keys a second later: "k" expires first and leaves the memo.
            offset.store(1, Ordering::SeqCst);
            for key in ["a", "b"] {
                memo.get_or_fetch_until(key, &http, fetch).await.unwrap();
            }
            assert!(!memo.lock().contains_key("k"));
            // Fetched again: good for the memo's lifetime from now.
            let (_, refetched) = memo.get_or_fetch_until("k", &http, fetch).await.unwrap();
            assert_eq!(refetched, Some(expected + Duration::from_secs(1)));
        });
    }

    #[test]
    fn bounded() {
        let memo = Memo::<u32>::new(Duration::from_secs(100), 3);
        let (http, offset) = clocked();
        rt().block_on(async {
            for i in 0..5u32 {
                offset.store(u64::from(i), Ordering::SeqCst);
                memo.get_or_fetch(&format!("k{i}"), &http, || Box::pin(async move { Ok(i) }))
                    .await
                    .unwrap();
            }
        });
        let slots = memo.lock();
        assert_eq!(slots.len(), 3);
        assert!(slots.contains_key("k4") && slots.contains_key("k3") && slots.contains_key("k2"));
    }
}
