//! The file-backed token cache against the emulator: permissions and atomic writes, two caches
//! in one process, many processes writing one file while some are killed, a lock left by a
//! killed process, and a file shared with MSAL Python's msal-extensions.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use entra_msal::TokenCache;
use entra_msal::TokenSource;
use entra_msal::persistence::{FilePersistence, Persistence, PersistentTokenCache};
use entra_test_support::cache_file::access_token_targets as targets;
use sha2::{Digest, Sha256};
use support::{Env, example, python, repo_root};
use tokio::io::{AsyncBufReadExt, BufReader};

const LIMIT: Duration = Duration::from_secs(120);

/// A `cache_writer` process for the ready-made secret client and `cache`.
fn writer(e: &Env, cache: &Path) -> tokio::process::Command {
    let client = e.info.confidential_client.as_ref().unwrap();
    let mut command = tokio::process::Command::new(example("cache_writer"));
    command
        .env("ENTRA_AUTHORITY", e.emulator.authority())
        .env("ENTRA_CLIENT_ID", &client.client_id)
        .env(
            "ENTRA_CLIENT_SECRET",
            client.client_secret.as_ref().unwrap(),
        )
        .env("ENTRA_CA_FILE", e.info.ca_file.as_ref().unwrap())
        .env("CACHE_PATH", cache)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// A cache attached to the file at `path`.
fn persisted(path: &Path) -> (TokenCache, Arc<PersistentTokenCache>) {
    let cache = TokenCache::new();
    let listener =
        PersistentTokenCache::attach(&cache, Arc::new(FilePersistence::new(path))).unwrap();
    (cache, listener)
}

fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_only_atomic_and_round_trip() {
    let e = support::env().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/msal_cache.json");
    let (cache, listener) = persisted(&path);
    let app = e
        .secret_builder()
        .token_cache(cache.clone())
        .build()
        .unwrap();
    let first = app
        .acquire_token_for_client(&["api://load-1/.default"])
        .await
        .unwrap();
    #[cfg(unix)]
    {
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
    }
    app.acquire_token_for_client(&["api://load-2/.default"])
        .await
        .unwrap();
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600, "after a rewrite");
    assert!(listener.take_last_error().is_none());
    let mut names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // On Linux the file a write replaced is kept, blank, for the next write to fill.
    let expected: &[&str] = if cfg!(target_os = "linux") {
        &[".msal_cache.json.spare", "msal_cache.json"]
    } else {
        &["msal_cache.json"]
    };
    assert_eq!(names, expected, "no temporary or lock file is left");
    if cfg!(target_os = "linux") {
        let spare = std::fs::read(path.with_file_name(".msal_cache.json.spare")).unwrap();
        assert!(spare.iter().all(|&b| b == 0), "the spare holds no token");
    }

    // The file is exactly what `serialize` writes, and reads back into an equal cache.
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, cache.serialize());
    let (again, _) = persisted(&path);
    assert_eq!(again.serialize(), text);
    let hit = e
        .secret_builder()
        .token_cache(again)
        .build()
        .unwrap()
        .acquire_token_for_client(&["api://load-1/.default"])
        .await
        .unwrap();
    assert_eq!(hit.token_source, TokenSource::Cache);
    assert_eq!(hit.access_token.expose(), first.access_token.expose());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_apps_in_one_process_share_the_file() {
    let e = support::env().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("msal_cache.json");
    let (cache_a, listener_a) = persisted(&path);
    let (cache_b, listener_b) = persisted(&path);
    let a = e.secret_builder().token_cache(cache_a).build().unwrap();
    let b = e.secret_builder().token_cache(cache_b).build().unwrap();
    let scope = ["api://load-7/.default"];
    let from_a = a.acquire_token_for_client(&scope).await.unwrap();
    assert_eq!(from_a.token_source, TokenSource::IdentityProvider);
    let from_b = b.acquire_token_for_client(&scope).await.unwrap();
    assert_eq!(from_b.token_source, TokenSource::Cache);
    assert_eq!(from_b.access_token.expose(), from_a.access_token.expose());

    // And back: B's new token reaches A.
    let scope = ["api://load-8/.default"];
    let from_b = b.acquire_token_for_client(&scope).await.unwrap();
    assert_eq!(from_b.token_source, TokenSource::IdentityProvider);
    let from_a = a.acquire_token_for_client(&scope).await.unwrap();
    assert_eq!(from_a.token_source, TokenSource::Cache);
    assert!(listener_a.take_last_error().is_none());
    assert!(listener_b.take_last_error().is_none());
    assert_eq!(e.token_requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_processes_one_file_some_killed() {
    const PROCESSES: u32 = 8;
    const TOKENS: u32 = 6;
    let e = support::env().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("msal_cache.json");
    // All run at once; every third one is killed right after its first token, in the middle
    // of its run (most likely while it holds the lock for its next acquisition).
    let mut runs = Vec::new();
    for p in 0..PROCESSES {
        let mut child = writer(&e, &path)
            .args(["acquire", &(p * 100).to_string(), &TOKENS.to_string()])
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let victim = p % 3 == 1;
        runs.push(tokio::spawn(async move {
            let run = async {
                let mut done = Vec::new();
                while let Some(line) = lines.next_line().await.unwrap() {
                    if let Some(rest) = line.strip_prefix("done ") {
                        done.push(rest.split(' ').next().unwrap().to_lowercase());
                        if victim {
                            child.kill().await.unwrap();
                            return (done, None);
                        }
                    }
                }
                let status = child.wait().await.unwrap();
                let mut stderr = String::new();
                child_stderr(&mut stderr, &mut child).await;
                (done, Some((status, stderr)))
            };
            (p, tokio::time::timeout(LIMIT, run).await.expect("bounded"))
        }));
    }
    let mut completed = Vec::new();
    let mut killed = 0;
    for run in runs {
        let (p, (done, outcome)) = run.await.unwrap();
        match outcome {
            None => killed += 1,
            Some((status, stderr)) => {
                assert!(status.success(), "writer {p} failed: {stderr}");
                assert_eq!(done.len(), TOKENS as usize, "writer {p}");
            }
        }
        completed.extend(done);
    }
    assert!(killed >= 2);
    let in_file = targets(&path);
    for scope in &completed {
        assert!(in_file.contains(scope), "{scope} is missing from the file");
    }
    // The file is a valid cache that a fresh process can use.
    let (cache, listener) = persisted(&path);
    let hit = e
        .secret_builder()
        .token_cache(cache)
        .build()
        .unwrap()
        .acquire_token_for_client(&[completed[0].as_str()])
        .await
        .unwrap();
    assert_eq!(hit.token_source, TokenSource::Cache);
    assert!(listener.take_last_error().is_none());
}

async fn child_stderr(out: &mut String, child: &mut tokio::process::Child) {
    use tokio::io::AsyncReadExt;
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(out).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_held_by_a_killed_process_does_not_block() {
    let e = support::env().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("msal_cache.json");
    let mut holder = writer(&e, &path).arg("hold-lock").spawn().unwrap();
    let mut lines = BufReader::new(holder.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(LIMIT, lines.next_line())
        .await
        .expect("bounded")
        .unwrap();
    assert_eq!(first.as_deref(), Some("locked"));
    let persistence = FilePersistence::new(&path).with_lock_timeout(Duration::from_millis(100));
    assert!(persistence.lock().is_err(), "the child holds the lock");

    holder.kill().await.unwrap();
    assert!(
        persistence.lock_path().exists(),
        "the lock file is left behind"
    );
    let (cache, listener) = persisted(&path);
    let result = e
        .secret_builder()
        .token_cache(cache)
        .build()
        .unwrap()
        .acquire_token_for_client(&["api://load-3/.default"])
        .await
        .unwrap();
    assert_eq!(result.token_source, TokenSource::IdentityProvider);
    assert!(listener.take_last_error().is_none());
    assert!(targets(&path).contains("api://load-3/.default"));
}

/// One run of `interop/msal_extensions_cache.py`: MSAL Python with msal-extensions gets a token
/// for `scope` through the cache file `cache`. Its last output line, as JSON. Owns its arguments,
/// so runs can be spawned.
async fn msal_extensions_step(
    python: PathBuf,
    info: PathBuf,
    cache: PathBuf,
    scope: String,
) -> serde_json::Value {
    let mut command = tokio::process::Command::new(python);
    command
        .arg(repo_root().join("interop/msal_extensions_cache.py"))
        .arg("--info")
        .arg(info)
        .arg("--cache")
        .arg(cache)
        .arg("--scope")
        .arg(scope)
        .env_remove("REQUESTS_CA_BUNDLE")
        .kill_on_drop(true);
    let output = tokio::time::timeout(LIMIT, command.output())
        .await
        .expect("bounded")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "msal-extensions step failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str::<serde_json::Value>(stdout.lines().last().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_with_msal_extensions_both_ways() {
    let Some(python) = python() else { return };
    let e = support::env().await;
    let info = e.dir.path().join("info.json");
    std::fs::write(&info, serde_json::to_string(&e.info).unwrap()).unwrap();
    let path = e.dir.path().join("shared_cache.json");
    let run_python = |scope: &str| {
        msal_extensions_step(python.clone(), info.clone(), path.clone(), scope.into())
    };

    // Python writes, Rust reads.
    let written = run_python("api://load-21/.default").await;
    assert_eq!(written["token_source"], "identity_provider");
    let (cache, listener) = persisted(&path);
    let app = e.secret_builder().token_cache(cache).build().unwrap();
    let hit = app
        .acquire_token_for_client(&["api://load-21/.default"])
        .await
        .unwrap();
    assert_eq!(hit.token_source, TokenSource::Cache);
    assert_eq!(
        written["token_sha256"].as_str(),
        Some(sha256(hit.access_token.expose()).as_str())
    );

    // Rust writes, Python reads.
    let fresh = app
        .acquire_token_for_client(&["api://load-22/.default"])
        .await
        .unwrap();
    assert_eq!(fresh.token_source, TokenSource::IdentityProvider);
    assert!(listener.take_last_error().is_none());
    let read = run_python("api://load-22/.default").await;
    assert_eq!(read["token_source"], "cache");
    assert_eq!(
        read["token_sha256"].as_str(),
        Some(sha256(fresh.access_token.expose()).as_str())
    );
    // And Python's first token is still there for both.
    let again = run_python("api://load-21/.default").await;
    assert_eq!(again["token_source"], "cache");
}

/// MSAL Python (msal-extensions with portalocker) and this library writing one file at the
/// same time: three Python processes and three Rust processes run at once, then each side
/// gets silent tokens for every scope the other side stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_extensions_and_rust_write_one_file_at_the_same_time() {
    let Some(python) = python() else { return };
    let e = support::env().await;
    let info = e.dir.path().join("info.json");
    std::fs::write(&info, serde_json::to_string(&e.info).unwrap()).unwrap();
    let path = e.dir.path().join("concurrent_cache.json");
    let run_python =
        |scope: String| msal_extensions_step(python.clone(), info.clone(), path.clone(), scope);
    let python_scopes: Vec<String> = (61..64)
        .map(|n| format!("api://load-{n}/.default"))
        .collect();
    let mut python_runs = Vec::new();
    for scope in &python_scopes {
        python_runs.push(tokio::spawn(run_python(scope.clone())));
    }
    let mut rust_runs = Vec::new();
    for first in [70u32, 73, 76] {
        let child = writer(&e, &path)
            .args(["acquire", &first.to_string(), "3"])
            .spawn()
            .unwrap();
        rust_runs.push(tokio::spawn(async move {
            tokio::time::timeout(LIMIT, child.wait_with_output())
                .await
                .expect("bounded")
                .unwrap()
        }));
    }
    for run in python_runs {
        assert_eq!(run.await.unwrap()["token_source"], "identity_provider");
    }
    let mut rust_scopes = Vec::new();
    for run in rust_runs {
        let output = run.await.unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            if let Some(rest) = line.strip_prefix("done ") {
                rust_scopes.push(rest.split(' ').next().unwrap().to_string());
            }
        }
    }
    assert_eq!(rust_scopes.len(), 9);

    // Everything is in the file, and each side is served the other's tokens from it.
    let in_file = targets(&path);
    for scope in python_scopes.iter().chain(&rust_scopes) {
        assert!(
            in_file.contains(&scope.to_lowercase()),
            "{scope} is missing"
        );
    }
    let (cache, listener) = persisted(&path);
    let app = e.secret_builder().token_cache(cache).build().unwrap();
    for scope in &python_scopes {
        let hit = app
            .acquire_token_for_client(&[scope.as_str()])
            .await
            .unwrap();
        assert_eq!(hit.token_source, TokenSource::Cache, "{scope}");
    }
    assert!(listener.take_last_error().is_none());
    for scope in rust_scopes.iter().take(3) {
        let read = run_python(scope.clone()).await;
        assert_eq!(read["token_source"], "cache", "{scope}");
    }
}
