//! Client assertions the library does not sign itself: one read from a file on every token
//! request (workload identity federation: a Kubernetes service-account token that the kubelet
//! rotates), and a caller's callback whose result is reused until shortly before it expires
//! (MSAL Python's `AutoRefresher`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::credential::{AssertionCallback, AssertionRequest};
use crate::error::Error;

/// The longest assertion file read (a projected service-account token is about 1 KiB).
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// A client assertion kept in a file, read again for every token request that needs it, so a
/// rotated token is used as soon as it is written (never a copy older than the file).
#[derive(Debug, Clone)]
pub struct AssertionFile {
    path: PathBuf,
}

impl AssertionFile {
    /// The assertion in `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the assertion now: the file's content without surrounding whitespace.
    pub fn read(&self) -> Result<String, Error> {
        let shown = self.path.display();
        let metadata = std::fs::metadata(&self.path).map_err(|e| {
            Error::configuration_caused(
                format!(
                    "the federated token file {shown} cannot be read ({e}); check \
                     AZURE_FEDERATED_TOKEN_FILE or the service-account token projection"
                ),
                e,
            )
        })?;
        if !metadata.is_file() || metadata.len() > MAX_FILE_BYTES {
            return Err(Error::configuration(format!(
                "the federated token file {shown} is not a regular file of at most {MAX_FILE_BYTES} bytes"
            )));
        }
        let text = std::fs::read_to_string(&self.path).map_err(|e| {
            Error::configuration_caused(
                format!("the federated token file {shown} cannot be read as text ({e})"),
                e,
            )
        })?;
        let token = text.trim();
        if token.is_empty() {
            return Err(Error::configuration(format!(
                "the federated token file {shown} is empty; wait for the token to be projected \
                 or fix AZURE_FEDERATED_TOKEN_FILE"
            )));
        }
        Ok(token.to_string())
    }
}

/// A callback's assertion reused for `lifetime` seconds after it was made, for the token
/// endpoint it was made for (MSAL Python's `AutoRefresher(callback, expires_in)`).
pub(crate) struct MemoizedAssertion {
    callback: AssertionCallback,
    lifetime: i64,
    /// (token endpoint, assertion, time after which it is made again)
    last: Mutex<Option<(String, String, i64)>>,
}

impl std::fmt::Debug for MemoizedAssertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoizedAssertion")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl MemoizedAssertion {
    /// Memoizes `callback`'s assertions for `lifetime` seconds.
    pub fn new(callback: AssertionCallback, lifetime: i64) -> Self {
        Self {
            callback,
            lifetime,
            last: Mutex::new(None),
        }
    }

    /// The remembered assertion for this request's endpoint while it is fresh at `now`, else a
    /// new one from the callback (a failure is not remembered).
    pub fn get(&self, request: &AssertionRequest, now: i64) -> Result<String, Error> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((endpoint, assertion, refresh_at)) = last.as_ref()
            && *endpoint == request.token_endpoint
            && now < *refresh_at
        {
            return Ok(assertion.clone());
        }
        let assertion = (self.callback)(request)?;
        *last = Some((
            request.token_endpoint.clone(),
            assertion.clone(),
            now + self.lifetime,
        ));
        Ok(assertion)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn request(endpoint: &str) -> AssertionRequest {
        AssertionRequest {
            client_id: "cid".into(),
            token_endpoint: endpoint.into(),
        }
    }

    #[test]
    fn a_memoized_assertion_is_reused_until_its_lifetime_ends() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let memo = MemoizedAssertion::new(
            Arc::new(move |_| Ok(format!("a{}", counter.fetch_add(1, Ordering::SeqCst)))),
            100,
        );
        assert_eq!(memo.get(&request("https://e"), 1000).unwrap(), "a0");
        assert_eq!(memo.get(&request("https://e"), 1099).unwrap(), "a0");
        assert_eq!(memo.get(&request("https://e"), 1100).unwrap(), "a1");
        // Another audience gets its own assertion.
        assert_eq!(memo.get(&request("https://other"), 1101).unwrap(), "a2");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_failing_callback_is_asked_again() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let memo = MemoizedAssertion::new(
            Arc::new(move |_| {
                if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                    Err(Error::configuration("vault unavailable".into()))
                } else {
                    Ok("ok".into())
                }
            }),
            100,
        );
        assert!(memo.get(&request("https://e"), 0).is_err());
        assert_eq!(memo.get(&request("https://e"), 1).unwrap(), "ok");
    }

    #[test]
    fn the_file_is_read_again_after_every_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        let file = AssertionFile::new(&path);
        let missing = file.read().unwrap_err().to_string();
        assert!(missing.contains("AZURE_FEDERATED_TOKEN_FILE"), "{missing}");
        std::fs::write(&path, "first\n").unwrap();
        assert_eq!(file.read().unwrap(), "first");
        // Same size, same second: still the new content.
        std::fs::write(&path, "secnd\n").unwrap();
        assert_eq!(file.read().unwrap(), "secnd");
        std::fs::write(&path, "  \n").unwrap();
        assert!(file.read().unwrap_err().to_string().contains("is empty"));
        assert!(AssertionFile::new(dir.path()).read().is_err());
    }
}
