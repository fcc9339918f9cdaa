//! Managed-identity failures, one kind per thing a caller can fix.

use std::fmt;

use super::source::ManagedIdentitySource;

/// What went wrong with a managed-identity request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ManagedIdentityErrorKind {
    /// The endpoint answered with an error (unknown identity, wrong resource, bad secret). See
    /// [`ManagedIdentityError::error`] and the message.
    Refused,
    /// The endpoint failed (HTTP 5xx without `Retry-After`); retrying later may help.
    Unavailable,
    /// The environment's settings cannot work: an `http://` Service Fabric endpoint, a malformed
    /// `IDENTITY_SERVER_THUMBPRINT`, a user-assigned identity where the source has none.
    Configuration,
    /// The Service Fabric endpoint's certificate is not the one `IDENTITY_SERVER_THUMBPRINT` pins.
    CertificateMismatch,
    /// Azure Arc did not answer its first request with the expected `401` and
    /// `WWW-Authenticate: Basic realm=<key file>` challenge.
    ArcChallenge,
    /// The Azure Arc key file named by the challenge is outside the agent's key directory, not a
    /// `.key` file, larger than 4096 bytes, or unreadable.
    ArcKeyFile,
    /// Azure Arc is not supported on this operating system (only Linux and Windows).
    PlatformNotSupported,
    /// The token is for a different identity than the one requested (Azure Arc did not echo the
    /// requested user-assigned identity): refused rather than returned.
    IdentityMismatch,
    /// The answer is not a token response (not JSON, no `access_token`, bad expiry).
    InvalidResponse,
}

/// A managed-identity failure: the source, what kind of failure, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedIdentityError {
    /// The source the request went to.
    pub source: ManagedIdentitySource,
    /// The kind of failure.
    pub kind: ManagedIdentityErrorKind,
    /// The HTTP status, when there was a response.
    pub http_status: Option<u16>,
    /// The OAuth 2.0 error code as MSAL Python reports it for this source (e.g.
    /// `invalid_client` for Service Fabric's `ManagedIdentityNotFound`), when the endpoint refused.
    pub error: Option<String>,
    /// What happened, and what to do next.
    pub message: String,
}

impl ManagedIdentityError {
    pub(crate) fn new(
        source: ManagedIdentitySource,
        kind: ManagedIdentityErrorKind,
        message: impl Into<String>,
    ) -> Self {
        Self {
            source,
            kind,
            http_status: None,
            error: None,
            message: message.into(),
        }
    }

    pub(crate) fn status(mut self, status: u16) -> Self {
        self.http_status = Some(status);
        self
    }

    pub(crate) fn code(mut self, error: impl Into<String>) -> Self {
        self.error = Some(error.into());
        self
    }

    /// Whether retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        self.kind == ManagedIdentityErrorKind::Unavailable
    }
}

impl fmt::Display for ManagedIdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} managed identity", self.source)?;
        if let Some(status) = self.http_status {
            write!(f, " (HTTP {status})")?;
        }
        if let Some(error) = &self.error {
            write!(f, " [{error}]")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ManagedIdentityError {}
