//! Broker errors: status, error code, tag and context as the broker reported them, displayed the
//! way MSAL Python displays them, and classified into what the app should do next.

use std::fmt;

use super::platform::BrokerPlatform;

/// The outcome classes brokers report (MSALRuntime's `Response_Status` names). Each OS codec maps
/// its own numbers or codes onto these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BrokerStatus {
    /// No better classification.
    Unexpected,
    /// Reserved.
    Reserved,
    /// The user must interact (sign in, MFA, consent).
    InteractionRequired,
    /// No network.
    NoNetwork,
    /// The network is temporarily unavailable.
    NetworkTemporarilyUnavailable,
    /// The identity provider is temporarily unavailable.
    ServerTemporarilyUnavailable,
    /// The request broke the broker's API contract.
    ApiContractViolation,
    /// The user cancelled.
    UserCanceled,
    /// The application cancelled.
    ApplicationCanceled,
    /// The app or its registration is configured wrongly (e.g. a missing redirect URI).
    IncorrectConfiguration,
    /// A buffer was too small.
    InsufficientBuffer,
    /// The authority is not trusted.
    AuthorityUntrusted,
    /// The user switched accounts.
    UserSwitch,
    /// The account cannot be used silently.
    AccountUnusable,
    /// The user's data must be removed.
    UserDataRemovalRequired,
    /// A key was not found.
    KeyNotFound,
    /// The account was not found.
    AccountNotFound,
    /// A transient error: retry.
    TransientError,
    /// The user picked another account.
    AccountSwitch,
    /// A required broker is missing.
    RequiredBrokerMissing,
    /// The device is not registered.
    DeviceNotRegistered,
    /// The broker asks the app to use its own (non-broker) flow.
    FallbackToNativeMsal,
}

/// Every status with its MSALRuntime name, in MSALRuntime's public `MSALRUNTIME_RESPONSE_STATUS`
/// order (the index is the public number).
const STATUSES: [(BrokerStatus, &str); 22] = {
    use BrokerStatus::*;
    [
        (Unexpected, "Unexpected"),
        (Reserved, "Reserved"),
        (InteractionRequired, "InteractionRequired"),
        (NoNetwork, "NoNetwork"),
        (
            NetworkTemporarilyUnavailable,
            "NetworkTemporarilyUnavailable",
        ),
        (ServerTemporarilyUnavailable, "ServerTemporarilyUnavailable"),
        (ApiContractViolation, "ApiContractViolation"),
        (UserCanceled, "UserCanceled"),
        (ApplicationCanceled, "ApplicationCanceled"),
        (IncorrectConfiguration, "IncorrectConfiguration"),
        (InsufficientBuffer, "InsufficientBuffer"),
        (AuthorityUntrusted, "AuthorityUntrusted"),
        (UserSwitch, "UserSwitch"),
        (AccountUnusable, "AccountUnusable"),
        (UserDataRemovalRequired, "UserDataRemovalRequired"),
        (KeyNotFound, "KeyNotFound"),
        (AccountNotFound, "AccountNotFound"),
        (TransientError, "TransientError"),
        (AccountSwitch, "AccountSwitch"),
        (RequiredBrokerMissing, "RequiredBrokerMissing"),
        (DeviceNotRegistered, "DeviceNotRegistered"),
        (FallbackToNativeMsal, "FallbackToNativeMsal"),
    ]
};

impl BrokerStatus {
    /// The name as MSAL Python prints it after `Response_Status.Status_`.
    pub fn name(self) -> &'static str {
        STATUSES
            .iter()
            .find(|(status, _)| *status == self)
            .map_or("Unexpected", |(_, name)| name)
    }

    /// MSALRuntime's public `MSALRUNTIME_RESPONSE_STATUS` numbering (the C header, pymsalruntime
    /// and msal-node-runtime). `None` for numbers outside the enum.
    pub fn from_msalruntime(code: i64) -> Option<Self> {
        usize::try_from(code)
            .ok()
            .and_then(|i| STATUSES.get(i))
            .map(|(status, _)| *status)
    }

    /// Whether the app should fall back to interactive sign-in (MSAL Python continues with
    /// interactive only on these two).
    pub fn requires_interaction(self) -> bool {
        matches!(self, Self::InteractionRequired | Self::AccountUnusable)
    }

    /// Whether retrying later may succeed.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Self::NoNetwork
                | Self::NetworkTemporarilyUnavailable
                | Self::ServerTemporarilyUnavailable
                | Self::TransientError
        )
    }
}

impl fmt::Display for BrokerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Response_Status.Status_{}", self.name())
    }
}

/// An error reported by an authentication broker, with everything the broker said.
///
/// Displays as MSAL Python does: `{context}. Status: {status}, Error code: {code}, Tag: {tag}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerError {
    /// Which broker reported it.
    pub platform: BrokerPlatform,
    /// The broker's classification.
    pub status: BrokerStatus,
    /// The broker's error code (an HRESULT on Windows, an `NSError` code on macOS, the JSON
    /// `errorCode` on Linux).
    pub error_code: i64,
    /// The broker's tag (where in the broker the error arose), 0 when it sent none.
    pub tag: i64,
    /// The broker's description of the error (may be `(pii)` when the broker hides it).
    pub context: String,
    /// A sub-status, when the broker sent one.
    pub sub_status: Option<i64>,
}

impl BrokerError {
    /// An error with no code or tag (the library's own, e.g. a malformed broker answer).
    pub fn new(platform: BrokerPlatform, status: BrokerStatus, context: impl Into<String>) -> Self {
        Self {
            platform,
            status,
            error_code: 0,
            tag: 0,
            context: context.into(),
            sub_status: None,
        }
    }

    /// Whether the app registration lacks the broker's redirect URI: the context names
    /// `AADSTS50011` or `AADSTS7000218` (as MSAL Python's `RedirectUriError`), or the macOS SSO
    /// extension answered `invalid_client` (-51411), which it does for a redirect URI it does not
    /// accept even when the description is hidden as `(pii)`.
    pub fn is_redirect_uri_mismatch(&self) -> bool {
        self.context.contains("AADSTS50011")
            || self.context.contains("AADSTS7000218")
            || (self.platform == BrokerPlatform::MacOs && self.error_code == -51411)
    }
}

impl fmt::Display for BrokerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}. Status: {}, Error code: {}, Tag: {}",
            self.context, self.status, self.error_code, self.tag
        )
    }
}

impl std::error::Error for BrokerError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_msal_python() {
        let e = BrokerError {
            platform: BrokerPlatform::Linux,
            status: BrokerStatus::Unexpected,
            error_code: -2147023584,
            tag: 557973639,
            context: "(pii)".into(),
            sub_status: None,
        };
        assert_eq!(
            e.to_string(),
            "(pii). Status: Response_Status.Status_Unexpected, Error code: -2147023584, Tag: 557973639"
        );
    }

    #[test]
    fn msalruntime_numbering() {
        assert_eq!(
            BrokerStatus::from_msalruntime(2),
            Some(BrokerStatus::InteractionRequired)
        );
        assert_eq!(
            BrokerStatus::from_msalruntime(21),
            Some(BrokerStatus::FallbackToNativeMsal)
        );
        assert_eq!(BrokerStatus::from_msalruntime(22), None);
        assert_eq!(BrokerStatus::from_msalruntime(-1), None);
    }

    #[test]
    fn redirect_uri_mismatch_is_found_in_the_context() {
        let mut e = BrokerError::new(
            BrokerPlatform::MacOs,
            BrokerStatus::Unexpected,
            "AADSTS50011 Description: (pii), Domain: MSAIMSIDOAuthErrorDomain",
        );
        assert!(e.is_redirect_uri_mismatch());
        e.context = "AADSTS7000218: the request body must contain client_assertion".into();
        assert!(e.is_redirect_uri_mismatch());
        e.context = "(pii)".into();
        assert!(!e.is_redirect_uri_mismatch());
    }
}
