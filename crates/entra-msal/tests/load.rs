//! Load: 1,000 concurrent app-token requests across 100 resources against the emulator while it
//! injects faults into 10% of the token responses.
//!
//! What "no request fails except those faulted" means here: a caller whose token request met a
//! fault (or who was queued behind one and got its throttled answer replayed) receives a typed
//! error with `is_transient()`; every other caller gets a token. After the longest `Retry-After`
//! a retry of each failed caller succeeds. Requests for one token coalesce: each resource is
//! issued exactly once by the emulator, and the token endpoint sees at most one extra request per
//! fault. Throughput and latency are printed (no timing assertions).

mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use entra_emulator::FaultAction;
use entra_msal::Error;

const RESOURCES: usize = 100;
const CALLERS: usize = 1000;

fn scope(i: usize) -> String {
    format!("api://load-{i}/.default")
}

/// The faults: 10 of the 100 token responses, of every transient kind, all with short windows.
fn faults() -> Vec<FaultAction> {
    let status = |status| FaultAction::Status {
        status,
        retry_after: Some(1),
    };
    vec![
        status(503),
        status(503),
        status(503),
        status(500),
        status(500),
        FaultAction::Throttle {
            retry_after: Some(1),
        },
        FaultAction::Throttle {
            retry_after: Some(1),
        },
        FaultAction::DropConnection,
        FaultAction::DropConnection,
        FaultAction::TruncatedBody,
    ]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_concurrent_requests_across_a_hundred_resources_with_faults() {
    let e = support::env().await;
    let app = Arc::new(e.secret_app());
    // Discovery first, so the measured requests are token requests.
    app.acquire_token_for_client(&["api://emulator-api/.default"])
        .await
        .unwrap();
    e.emulator.control().clear_requests();
    let faults = faults();
    let fault_count = faults.len();
    for f in faults {
        e.fault(f, 1);
    }

    let started = Instant::now();
    let tasks: Vec<_> = (0..CALLERS)
        .map(|n| {
            let app = app.clone();
            let resource = n % RESOURCES;
            tokio::spawn(async move {
                let s = scope(resource);
                let t = Instant::now();
                let r = tokio::time::timeout(
                    Duration::from_secs(120),
                    app.acquire_token_for_client(&[s.as_str()]),
                )
                .await
                .expect("a token request hung");
                (resource, t.elapsed(), r)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(CALLERS);
    let mut failed: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut longest_wait = Duration::ZERO;
    for t in tasks {
        let (resource, latency, result) = t.await.unwrap();
        latencies.push(latency);
        match result {
            Ok(r) => assert!(!r.access_token.expose().is_empty()),
            Err(err) => {
                assert!(
                    err.is_transient(),
                    "resource {resource}: a non-transient failure under load: {err}"
                );
                if let Error::Throttled { retry_after, .. } = &err {
                    longest_wait = longest_wait.max(*retry_after);
                }
                failed.entry(resource).or_default().push(err.to_string());
            }
        }
    }
    let wall = started.elapsed();
    latencies.sort();
    let failed_callers: usize = failed.values().map(Vec::len).sum();
    eprintln!(
        "load: {CALLERS} requests over {RESOURCES} resources, {fault_count} faults: {:.0} requests/s; \
         latency p50 {:?}, p99 {:?}, max {:?}; {} callers on {} resources got a transient error",
        CALLERS as f64 / wall.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.last().unwrap(),
        failed_callers,
        failed.len()
    );
    assert!(
        failed.len() <= fault_count,
        "more resources failed ({}) than faults were injected ({fault_count}): {failed:?}",
        failed.len()
    );

    // Coalescing: the token endpoint saw one request per resource plus at most one per fault.
    let requests = e.token_requests();
    assert!(
        requests.len() <= RESOURCES + fault_count,
        "{} token requests for {RESOURCES} resources: requests did not coalesce",
        requests.len()
    );

    // The failed callers retry once their window has passed; all succeed.
    tokio::time::sleep(longest_wait + Duration::from_millis(200)).await;
    for resource in failed.keys() {
        let s = scope(*resource);
        app.acquire_token_for_client(&[s.as_str()])
            .await
            .unwrap_or_else(|err| panic!("resource {resource}: the retry failed: {err}"));
    }

    // Each resource was issued exactly once (coalesced). The emulator logs a dropped or
    // truncated answer with status 200 too, so those faults are added to the expected total.
    let broken_200s = 3;
    let mut issued: HashMap<String, usize> = HashMap::new();
    for r in e.token_requests() {
        if r.status == 200 {
            *issued.entry(r.form["scope"].clone()).or_default() += 1;
        }
    }
    for i in 0..RESOURCES {
        assert!(
            issued.contains_key(&scope(i)),
            "resource {i} was never issued"
        );
    }
    assert_eq!(
        issued.values().sum::<usize>(),
        RESOURCES + broken_200s,
        "a token was issued more than once: {issued:?}"
    );
    let cache: serde_json::Value = serde_json::from_str(&app.token_cache().serialize()).unwrap();
    let targets: Vec<String> = cache["AccessToken"]
        .as_object()
        .unwrap()
        .values()
        .map(|at| at["target"].as_str().unwrap().to_lowercase())
        .collect();
    for i in 0..RESOURCES {
        let want = scope(i).to_lowercase();
        assert!(
            targets.iter().any(|t| t.split(' ').any(|s| s == want)),
            "the token for {want} is missing from the cache"
        );
    }
}
