//! The CLI's transport: tenant and instance discovery answered from a local file, and the real
//! HTTP client built only when a request really has to go out. A `msal token` answered from the
//! token cache then sends no request at all and never builds a TLS client.
//!
//! The file (`msal_discovery_cache.json` beside the token cache file, owner-only like it) maps a
//! discovery URL to the body of its last `200` answer and when it was fetched; entries are used
//! for [`MAX_AGE`], then fetched again. Only discovery GETs are kept (`…/.well-known/
//! openid-configuration` and `…/common/discovery/instance`); nothing else, and never a token.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use entra_msal::http::{
    HttpClient, HttpError, HttpOptions, HttpRequest, HttpResponse, ReqwestHttpClient,
};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

/// How long a stored discovery answer is used.
pub const MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// The file's name, beside the token cache file.
pub const FILE_NAME: &str = "msal_discovery_cache.json";

#[derive(Clone, Serialize, Deserialize)]
struct Stored {
    fetched_at: u64,
    body: String,
}

/// See the [module documentation](self).
pub struct CachingTransport {
    options: HttpOptions,
    inner: OnceLock<Result<Arc<ReqwestHttpClient>, String>>,
    file: Option<PathBuf>,
    entries: Mutex<Option<BTreeMap<String, Stored>>>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether `request` is a discovery GET worth keeping.
fn is_discovery(request: &HttpRequest) -> bool {
    let path = request.uri().path();
    request.method() == http::Method::GET
        && request.uri().scheme_str() == Some("https")
        && (path.ends_with("/.well-known/openid-configuration")
            || path == "/common/discovery/instance")
}

impl CachingTransport {
    /// A transport with `options`, keeping discovery in `file` (`None`: nothing kept).
    pub fn new(options: HttpOptions, file: Option<PathBuf>) -> Self {
        Self {
            options,
            inner: OnceLock::new(),
            file,
            entries: Mutex::new(None),
        }
    }

    /// The discovery file beside a token cache file.
    pub fn file_beside(cache_file: &Path) -> PathBuf {
        cache_file.with_file_name(FILE_NAME)
    }

    fn inner(&self) -> Result<Arc<ReqwestHttpClient>, HttpError> {
        self.inner
            .get_or_init(|| {
                ReqwestHttpClient::new(&self.options)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(HttpError::new)
    }

    fn with_entries<T>(&self, f: impl FnOnce(&mut BTreeMap<String, Stored>) -> T) -> T {
        let mut guard = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let entries = guard.get_or_insert_with(|| {
            self.file
                .as_deref()
                .and_then(|p| std::fs::read_to_string(p).ok())
                .and_then(|text| serde_json::from_str(&text).ok())
                .unwrap_or_default()
        });
        f(entries)
    }

    fn lookup(&self, url: &str) -> Option<HttpResponse> {
        self.file.as_ref()?;
        let body = self.with_entries(|entries| {
            let stored = entries.get(url)?;
            let age = now().saturating_sub(stored.fetched_at);
            (age < MAX_AGE.as_secs()).then(|| stored.body.clone())
        })?;
        http::Response::builder()
            .status(200)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body.into_bytes())
            .ok()
    }

    /// Keeps a `200` discovery answer; a file that cannot be written is only a missed shortcut.
    fn remember(&self, url: String, response: &HttpResponse) {
        let Some(file) = &self.file else { return };
        if response.status() != http::StatusCode::OK {
            return;
        }
        let Ok(body) = String::from_utf8(response.body().clone()) else {
            return;
        };
        let text = self.with_entries(|entries| {
            let now = now();
            entries.retain(|_, s| now.saturating_sub(s.fetched_at) < MAX_AGE.as_secs());
            entries.insert(
                url,
                Stored {
                    fetched_at: now,
                    body,
                },
            );
            serde_json::to_string_pretty(entries).ok()
        });
        if let Some(text) = text {
            let _ = crate::atomic_file::replace(file, &text, "the discovery cache", "");
        }
    }
}

impl HttpClient for CachingTransport {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        Box::pin(async move {
            let discovery = is_discovery(&request).then(|| request.uri().to_string());
            if let Some(url) = &discovery
                && let Some(response) = self.lookup(url)
            {
                return Ok(response);
            }
            let response = self.inner()?.send(request).await?;
            if let Some(url) = discovery {
                self.remember(url, &response);
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(url: &str) -> HttpRequest {
        http::Request::get(url).body(Vec::new()).unwrap()
    }

    #[test]
    fn only_discovery_gets_are_kept() {
        assert!(is_discovery(&get(
            "https://login.microsoftonline.com/contoso/v2.0/.well-known/openid-configuration"
        )));
        assert!(is_discovery(&get(
            "https://login.microsoftonline.com/common/discovery/instance?api-version=1.1"
        )));
        assert!(!is_discovery(&get(
            "https://login.microsoftonline.com/common/userrealm/a@b.c?api-version=1.0"
        )));
        assert!(!is_discovery(&get(
            "http://169.254.169.254/metadata/identity/oauth2/token"
        )));
        let post = http::Request::post(
            "https://login.microsoftonline.com/contoso/v2.0/.well-known/openid-configuration",
        )
        .body(Vec::new())
        .unwrap();
        assert!(!is_discovery(&post));
    }

    #[test]
    fn a_kept_answer_is_served_until_it_is_too_old() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(FILE_NAME);
        let url = "https://login.example/t/v2.0/.well-known/openid-configuration";
        let t = CachingTransport::new(HttpOptions::default(), Some(file.clone()));
        let response = http::Response::builder()
            .status(200)
            .body(b"{\"token_endpoint\":\"x\"}".to_vec())
            .unwrap();
        t.remember(url.to_string(), &response);
        // A new process reads the file.
        let again = CachingTransport::new(HttpOptions::default(), Some(file.clone()));
        assert_eq!(
            again.lookup(url).unwrap().body(),
            b"{\"token_endpoint\":\"x\"}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "owner-only");
        }
        // Too old: not served.
        let old: BTreeMap<String, Stored> = [(
            url.to_string(),
            Stored {
                fetched_at: now() - MAX_AGE.as_secs() - 1,
                body: "{}".into(),
            },
        )]
        .into();
        std::fs::write(&file, serde_json::to_string(&old).unwrap()).unwrap();
        let stale = CachingTransport::new(HttpOptions::default(), Some(file));
        assert!(stale.lookup(url).is_none());
        // An error answer is never kept.
        let t = CachingTransport::new(HttpOptions::default(), None);
        assert!(t.lookup(url).is_none());
    }
}
