//! [`HttpOptions`]: what the applications' builders configure for the default transport.

use std::time::Duration;

/// Options of the default HTTP client.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Whole-request timeout (default 30 s; MSAL Python has none).
    pub timeout: Duration,
    /// Connect timeout (default 10 s).
    pub connect_timeout: Duration,
    /// Extra CA certificates (PEM) to trust, e.g. a private authority such as the emulator.
    pub trusted_ca_pems: Vec<String>,
    /// Trust only `trusted_ca_pems`, not the public web PKI roots.
    pub only_trusted_cas: bool,
    /// An explicit proxy URL for all requests.
    pub proxy: Option<String>,
    /// How many times a request is sent again, as MSAL Python's default transport does
    /// (`requests` with `HTTPAdapter(max_retries=1)`), default 1:
    /// - any request whose connection could not be established (the server never saw it);
    /// - a GET (discovery, metadata) whose connection dropped or whose body was cut short;
    /// - a GET answered 413, 429 or 503 with a `Retry-After` of at most 60 s, after waiting it.
    ///
    /// A token request (POST) that reached the server is never sent again, and timeouts are
    /// not retried. Managed identity uses 0, as MSAL Python's `ManagedIdentityClient` does.
    pub retries: u8,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            trusted_ca_pems: Vec::new(),
            only_trusted_cas: false,
            proxy: None,
            retries: 1,
        }
    }
}
