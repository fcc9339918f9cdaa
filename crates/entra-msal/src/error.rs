//! The one public error type.

use std::time::Duration;

use crate::broker::{BrokerError, BrokerPlatform};

/// MSAL's classification of a service error's `suberror`, as MSAL Python reports it in
/// `classification` (`bad_token`, `token_expired`, `protection_policy_required`,
/// `client_mismatch` and `device_authentication_failed` are internal and map to `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Classification {
    /// No classification.
    None,
    /// `basic_action`: the user must complete a simple step, such as MFA (Conditional Access).
    BasicAction,
    /// `additional_action`: the user must take an extra step in the interactive UI.
    AdditionalAction,
    /// `message_only`: show the message; interaction does not help.
    MessageOnly,
    /// `consent_required`: the user or an admin must consent.
    ConsentRequired,
    /// `user_password_expired`.
    UserPasswordExpired,
    /// Any other value Entra sends.
    Other(String),
}

impl Classification {
    /// Maps a `suberror` value.
    pub fn from_suberror(suberror: Option<&str>) -> Self {
        match suberror {
            None | Some("") => Self::None,
            Some(
                "bad_token"
                | "token_expired"
                | "protection_policy_required"
                | "client_mismatch"
                | "device_authentication_failed",
            ) => Self::None,
            Some("basic_action") => Self::BasicAction,
            Some("additional_action") => Self::AdditionalAction,
            Some("message_only") => Self::MessageOnly,
            Some("consent_required") => Self::ConsentRequired,
            Some("user_password_expired") => Self::UserPasswordExpired,
            Some(other) => Self::Other(other.to_string()),
        }
    }
}

/// An error's cause, kept as its [`source`](std::error::Error::source) (shared, so errors
/// handed to several waiters of one coalesced request keep it).
pub type ErrorCause = std::sync::Arc<dyn std::error::Error + Send + Sync + 'static>;

/// An error answer from the identity provider (Entra's JSON error body), or a broker's
/// equivalent. Read it through its accessors; new fields may be added.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceError {
    pub(crate) error: String,
    pub(crate) error_description: String,
    pub(crate) error_codes: Vec<u32>,
    pub(crate) suberror: Option<String>,
    pub(crate) claims: Option<String>,
    pub(crate) correlation_id: Option<String>,
    pub(crate) trace_id: Option<String>,
    pub(crate) http_status: Option<u16>,
    pub(crate) classification: Classification,
}

impl ServiceError {
    /// The OAuth 2.0 `error` code, e.g. `invalid_grant`.
    pub fn error(&self) -> &str {
        &self.error
    }

    /// `error_description`, including Entra's `AADSTSnnnnn:` prefix and trace lines.
    pub fn error_description(&self) -> &str {
        &self.error_description
    }

    /// The AADSTS numbers from `error_codes`.
    pub fn error_codes(&self) -> &[u32] {
        &self.error_codes
    }

    /// `suberror`, when Entra sent one.
    pub fn suberror(&self) -> Option<&str> {
        self.suberror.as_deref()
    }

    /// The claims challenge to pass to the next interactive or silent call.
    pub fn claims(&self) -> Option<&str> {
        self.claims.as_deref()
    }

    /// The correlation id (`correlation_id` in the body, else the request's).
    pub fn correlation_id(&self) -> Option<&str> {
        self.correlation_id.as_deref()
    }

    /// Entra's trace id.
    pub fn trace_id(&self) -> Option<&str> {
        self.trace_id.as_deref()
    }

    /// The HTTP status of the answer; `None` when no HTTP exchange carried it (a broker's
    /// answer, a cached error replayed by the library).
    pub fn http_status(&self) -> Option<u16> {
        self.http_status
    }

    /// MSAL's classification of [`suberror`](Self::suberror).
    pub fn classification(&self) -> &Classification {
        &self.classification
    }

    /// The first AADSTS code, if any.
    pub fn aadsts(&self) -> Option<u32> {
        self.error_codes.first().copied()
    }

    /// Whether MSAL treats this error as requiring user interaction: `interaction_required`,
    /// `consent_required`, `login_required` or `bad_token` as the error or inside the description,
    /// or a suberror in MSAL's interaction list.
    pub fn requires_interaction(&self) -> bool {
        const CODES: [&str; 4] = [
            "interaction_required",
            "consent_required",
            "login_required",
            "bad_token",
        ];
        const SUBERRORS: [&str; 6] = [
            "message_only",
            "additional_action",
            "basic_action",
            "user_password_expired",
            "consent_required",
            "bad_token",
        ];
        CODES.contains(&self.error.as_str())
            || CODES.iter().any(|c| self.error_description.contains(c))
            || self
                .suberror
                .as_deref()
                .is_some_and(|s| SUBERRORS.contains(&s))
    }

    /// The first line of the description (`AADSTSnnnnn: message`).
    pub fn summary(&self) -> &str {
        self.error_description.lines().next().unwrap_or(&self.error)
    }
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.http_status {
            None => write!(f, "{}: {}", self.error, self.summary())?,
            Some(status) => write!(f, "{} (HTTP {status}): {}", self.error, self.summary())?,
        }
        if let Some(c) = &self.correlation_id {
            write!(f, " [correlation id {c}]")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong. Match on the variant to decide what to do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The identity provider refused the request. Read `error`, the AADSTS codes and the
    /// description; the `claims` challenge, if any, goes into the next request.
    #[error("the identity provider refused the request: {0}")]
    Service(Box<ServiceError>),
    /// The user must interact (sign in, consent, pass MFA): call an interactive method, passing
    /// the `claims` challenge when there is one.
    #[error("user interaction is required: {0}")]
    UiRequired(Box<ServiceError>),
    /// The identity provider asked to slow down; retry after `retry_after`.
    #[error("throttled by {url}: retry after {retry_after:?}")]
    Throttled {
        /// The endpoint.
        url: String,
        /// How long to wait.
        retry_after: Duration,
        /// The HTTP status (429 or 5xx).
        status: u16,
    },
    /// The request did not complete: DNS, connect, TLS, timeout or a dropped connection.
    #[error("network error talking to {url}: {message}{hint}", hint = if *timeout { " (timed out; check connectivity or raise the timeout)" } else { "" })]
    Network {
        /// The URL.
        url: String,
        /// What failed.
        message: String,
        /// Whether it was a timeout.
        timeout: bool,
        /// The transport's error, when it gave one.
        #[source]
        source: Option<ErrorCause>,
    },
    /// The server answered something that is not a valid response (wrong content type,
    /// malformed JSON, missing fields).
    #[error("invalid response from {url} (HTTP {status}): {message}")]
    InvalidResponse {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// What was wrong.
        message: String,
    },
    /// The application is configured wrongly (authority, credential, scopes...). `message`
    /// says what to change.
    #[error("configuration error: {message}")]
    Configuration {
        /// What is wrong and what to change.
        message: String,
        /// The underlying error (a PEM or URL parser, a file read), when there is one.
        #[source]
        source: Option<ErrorCause>,
    },
    /// The request is valid but this library, platform or account cannot serve it (a federated
    /// account for username/password, proof-of-possession without a broker...). `why` says
    /// what to use instead.
    #[error("{what} is not supported: {why}")]
    Unsupported {
        /// What was asked for.
        what: String,
        /// Why not, and what to do instead.
        why: String,
    },
    /// The federation server (ADFS) of a federated account refused a username/password sign-in
    /// with a SOAP fault: usually a wrong password, or a locked or disabled account. `code` is
    /// the fault's subcode (ADFS: `a:FailedAuthentication`), `reason` its text.
    #[error(
        "the federation server {url} refused the sign-in ({code}): {reason}; check the username and password"
    )]
    FederationFault {
        /// The WS-Trust endpoint.
        url: String,
        /// The SOAP fault's subcode (else its code).
        code: String,
        /// The SOAP fault's reason.
        reason: String,
    },
    /// The token cache could not be read or written.
    #[error("token cache error: {message}")]
    Cache {
        /// What failed.
        message: String,
        /// The underlying error (usually an I/O error), when there is one.
        #[source]
        source: Option<ErrorCause>,
    },
    /// Another process held the token cache's lock file for the whole wait. The cache file
    /// itself is fine: wait for that process (named by `holder`, from the lock file) and retry.
    #[error(
        "another process ({holder}) held the token cache lock {} for {waited:?}; wait for it to \
         finish and try again (the cache file itself is fine; if that process is no longer \
         running, delete the lock file {})",
        lock_file.display(),
        lock_file.display()
    )]
    CacheLockBusy {
        /// The lock file, `<cache>.lockfile`.
        lock_file: std::path::PathBuf,
        /// How long the library waited.
        waited: Duration,
        /// Who holds it, as recorded in the lock file (`pid <n> (<program>)`), or
        /// `an unknown process` when it records nothing.
        holder: String,
    },
    /// A token cache path this library never reads or replaces: a device, FIFO, socket or
    /// directory given as the cache file, a lock file that is a symbolic link or not a regular
    /// file, or a cache file above the size bound. The message names the path and what to do.
    #[error("{message}")]
    CacheFileRefused {
        /// The path refused.
        path: std::path::PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// An authorization response did not match its request (state, nonce, auth_time).
    #[error("the authorization response is not valid: {0}")]
    Validation(String),
    /// The user did not finish signing in within the allowed time.
    #[error("the sign-in did not complete within {waited:?}; start it again, or allow more time")]
    InteractionTimeout {
        /// How long the library waited.
        waited: Duration,
    },
    /// No browser could be opened. The URL is included so it can be opened by hand.
    #[error("no browser could be opened because {message}; open this URL yourself: {url}")]
    NoBrowser {
        /// The sign-in URL.
        url: String,
        /// What was tried.
        message: String,
    },
    /// The caller cancelled the operation.
    #[error("cancelled: {0}")]
    Cancelled(String),
    /// An authentication broker reported an error. It keeps the broker's status, error code,
    /// tag and context, and displays as MSAL Python's `broker_error` does.
    #[error("the authentication broker failed: {0}")]
    Broker(Box<BrokerError>),
    /// The app registration lacks the redirect URI the broker uses (`AADSTS50011`,
    /// `AADSTS7000218`, or macOS `invalid_client` -51411). Add it in the Entra portal.
    #[error(
        "the app registration of {client_id} lacks the {platform} broker's redirect URI: in the Entra portal, \
         open App registrations > {client_id} > Authentication, add the platform \"Mobile and desktop \
         applications\" and the redirect URI {redirect_uri} (broker said: {source})"
    )]
    BrokerRedirectUriNotRegistered {
        /// The application (client) id.
        client_id: String,
        /// The platform whose broker needs it.
        platform: BrokerPlatform,
        /// The exact redirect URI to register.
        redirect_uri: String,
        /// What the broker reported.
        source: Box<BrokerError>,
    },
    /// Interactive sign-in through a broker needs the window that owns its UI.
    #[error(
        "parent_window is required when the broker is enabled: pass \
         PublicClientApplication::CONSOLE_WINDOW_HANDLE in a console app, or your window's handle \
         (ParentWindow::try_from(raw_window_handle)) in a GUI app"
    )]
    ParentWindowRequired,
    /// A managed-identity endpoint failed or refused; the error names the source and says
    /// what to do.
    #[error("{0}")]
    ManagedIdentity(Box<crate::managed_identity::ManagedIdentityError>),
}

impl Error {
    /// A [`Configuration`](Self::Configuration) error without an underlying cause.
    pub(crate) fn configuration(message: String) -> Self {
        Self::Configuration {
            message,
            source: None,
        }
    }

    /// A [`Configuration`](Self::Configuration) error caused by `source`.
    pub(crate) fn configuration_caused(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Configuration {
            message: message.into(),
            source: Some(std::sync::Arc::new(source)),
        }
    }

    /// A [`Cache`](Self::Cache) error without an underlying cause.
    pub(crate) fn cache(message: String) -> Self {
        Self::Cache {
            message,
            source: None,
        }
    }

    /// A [`Cache`](Self::Cache) error caused by `source`.
    pub(crate) fn cache_caused(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Cache {
            message: message.into(),
            source: Some(std::sync::Arc::new(source)),
        }
    }

    /// An [`Unsupported`](Self::Unsupported) error.
    pub(crate) fn unsupported(what: impl Into<String>, why: impl Into<String>) -> Self {
        Self::Unsupported {
            what: what.into(),
            why: why.into(),
        }
    }

    /// The service error, for `Service` and `UiRequired`.
    pub fn service_error(&self) -> Option<&ServiceError> {
        match self {
            Self::Service(e) | Self::UiRequired(e) => Some(e),
            _ => None,
        }
    }

    /// Whether the user must interact.
    pub fn is_ui_required(&self) -> bool {
        matches!(self, Self::UiRequired(_))
    }

    /// Whether retrying later may succeed (network failures, throttling, HTTP 5xx service
    /// errors, a broker's transient errors).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Network { .. } | Self::Throttled { .. } => true,
            // A 5xx answer (e.g. HTTP 500 `temporarily_unavailable`) is the service's fault.
            Self::Service(e) | Self::UiRequired(e) => e.http_status.is_some_and(|s| s >= 500),
            Self::Broker(e) => e.status.is_transient(),
            Self::ManagedIdentity(e) => e.is_transient(),
            _ => false,
        }
    }

    /// The broker's error, for `Broker` and `BrokerRedirectUriNotRegistered`.
    pub fn broker_error(&self) -> Option<&BrokerError> {
        match self {
            Self::Broker(e) | Self::BrokerRedirectUriNotRegistered { source: e, .. } => Some(e),
            _ => None,
        }
    }

    /// Wraps a service error, choosing `UiRequired` when the user must act: MSAL's interaction
    /// errors and, as in MSAL.NET, every `invalid_grant` (an expired, revoked or
    /// policy-blocked grant can only be replaced by signing in again).
    pub fn from_service(e: ServiceError) -> Self {
        if e.requires_interaction() || e.error == "invalid_grant" {
            Self::UiRequired(Box::new(e))
        } else {
            Self::Service(Box::new(e))
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn service(error: &str, suberror: Option<&str>) -> ServiceError {
        ServiceError {
            error: error.into(),
            error_description: "AADSTS1: x".into(),
            error_codes: vec![1],
            suberror: suberror.map(Into::into),
            claims: None,
            correlation_id: None,
            trace_id: None,
            http_status: Some(400),
            classification: Classification::from_suberror(suberror),
        }
    }

    #[test]
    fn interaction_classification_follows_msal() {
        assert!(Error::from_service(service("interaction_required", None)).is_ui_required());
        assert!(
            Error::from_service(service("invalid_grant", Some("basic_action"))).is_ui_required()
        );
        assert!(Error::from_service(service("invalid_grant", None)).is_ui_required());
        assert!(!Error::from_service(service("invalid_client", None)).is_ui_required());
        assert_eq!(
            Classification::from_suberror(Some("client_mismatch")),
            Classification::None
        );
        assert_eq!(
            Classification::from_suberror(Some("basic_action")),
            Classification::BasicAction
        );
    }
}
