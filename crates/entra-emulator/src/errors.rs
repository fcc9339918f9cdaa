//! Entra-shaped errors: the AADSTS catalogue the emulator knows and the JSON body Entra sends.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// One AADSTS error code the emulator can produce, with its OAuth `error` value and HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aadsts {
    /// The numeric code (`error_codes[0]`).
    pub code: u32,
    /// The OAuth 2.0 `error` value.
    pub error: &'static str,
    /// The HTTP status of the token-endpoint response.
    pub status: u16,
    /// The message; `{0}`, `{1}` are replaced by details.
    pub message: &'static str,
    /// The `suberror` Entra adds, if any.
    pub suberror: Option<&'static str>,
}

macro_rules! catalogue {
    ($($name:ident = $code:literal, $error:literal, $status:literal, $sub:expr, $msg:literal;)*) => {
        $(
            #[doc = concat!("AADSTS", stringify!($code), ": `", $msg, "`")]
            pub const $name: Aadsts = Aadsts { code: $code, error: $error, status: $status, message: $msg, suberror: $sub };
        )*
        /// Every code the emulator knows, for fault scripting by number.
        pub const ALL: &[Aadsts] = &[$($name),*];
    };
}

catalogue! {
    REDIRECT_URI_MISMATCH = 50011, "invalid_request", 400, None, "The redirect URI '{0}' specified in the request does not match the redirect URIs configured for the application '{1}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this.";
    USER_NOT_FOUND = 50034, "invalid_grant", 400, None, "The user account {0} does not exist in the {1} directory. To sign into this application, the account must be added to the directory.";
    UNKNOWN_INSTANCE = 50049, "invalid_instance", 400, None, "Unknown or invalid instance.";
    LOGIN_REQUIRED = 50058, "login_required", 400, None, "A silent sign-in request was sent but no user is signed in.";
    MFA_REQUIRED = 50076, "invalid_grant", 400, Some("basic_action"), "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '{0}'.";
    MFA_ENROLLMENT_REQUIRED = 50079, "interaction_required", 400, None, "Due to a configuration change made by your administrator, or because you moved to a new location, you are required to use multi-factor authentication to access '{0}'.";
    INVALID_CREDENTIALS = 50126, "invalid_grant", 400, None, "Error validating credentials due to invalid username or password.";
    NOT_MULTI_TENANT = 50194, "invalid_request", 400, None, "Application '{0}' is not configured as a multi-tenant application. Usage of the /common endpoint is not supported for such applications. Use a tenant-specific endpoint or configure the application to be multi-tenant.";
    USER_NOT_IN_TENANT = 50020, "invalid_grant", 400, None, "User account '{0}' from identity provider does not exist in tenant '{1}' and cannot access the application in that tenant.";
    AUTH_CODE_REDEEMED = 54005, "invalid_grant", 400, None, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.";
    CONSENT_REQUIRED = 65001, "invalid_grant", 400, Some("consent_required"), "The user or administrator has not consented to use the application with ID '{0}' named '{1}'. Send an interactive authorization request for this user and resource.";
    CONSENT_DECLINED = 65004, "access_denied", 400, None, "User declined to consent to access the app.";
    INVALID_GRANT = 70000, "invalid_grant", 400, None, "Provided grant is invalid or malformed. {0}";
    UNSUPPORTED_GRANT = 70003, "unsupported_grant_type", 400, None, "The app requested an unsupported grant type '{0}'.";
    EXPIRED_OR_REVOKED_GRANT = 70008, "invalid_grant", 400, None, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.";
    INVALID_SCOPE = 70011, "invalid_scope", 400, None, "The provided value for the input parameter 'scope' isn't valid. The scope {0} isn't valid.";
    AUTHORIZATION_PENDING = 70016, "authorization_pending", 400, None, "OAuth 2.0 device flow error. Authorization is pending. Continue polling.";
    BAD_VERIFICATION_CODE = 70018, "bad_verification_code", 400, None, "Invalid verification code entered.";
    DEVICE_CODE_EXPIRED = 70019, "expired_token", 400, None, "Verification code expired.";
    AUTHORIZATION_DECLINED = 70020, "authorization_declined", 400, None, "The user declined the sign-in on the device code page.";
    APP_NOT_FOUND = 700016, "unauthorized_client", 400, None, "Application with identifier '{0}' was not found in the directory '{1}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.";
    ASSERTION_SUBJECT_MISMATCH = 700021, "invalid_client", 401, None, "Client assertion application identifier doesn't match 'client_id' parameter. {0}";
    ASSERTION_AUDIENCE = 700023, "invalid_client", 401, None, "Client assertion audience claim does not match Realm issuer. Review the documentation at https://aka.ms/certCreds . {0}";
    ASSERTION_TIME = 700024, "invalid_client", 401, None, "Client assertion is not within its valid time range. Current time: {0}, assertion valid from {1}, expiry time of assertion {2}.";
    PUBLIC_CLIENT_WITH_CREDENTIAL = 700025, "invalid_client", 401, None, "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.";
    ASSERTION_SIGNATURE = 700027, "invalid_client", 401, None, "Client assertion failed signature validation. {0}";
    RESPONSE_TYPE_UNSUPPORTED = 700054, "unsupported_response_type", 400, None, "response_type '{0}' is not enabled for the application.";
    REFRESH_TOKEN_INACTIVE = 700082, "invalid_grant", 400, None, "The refresh token has expired due to inactivity. The token was issued on {0} and was inactive for {1}.";
    INVALID_CLIENT_SECRET = 7000215, "invalid_client", 401, None, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{0}'.";
    CREDENTIAL_REQUIRED = 7000218, "invalid_client", 401, None, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.";
    TENANT_NOT_FOUND = 90002, "invalid_request", 400, None, "Tenant '{0}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.";
    MISSING_PARAMETER = 900144, "invalid_request", 400, None, "The request body must contain the following parameter: '{0}'.";
    NO_REPLY_ADDRESS = 900971, "invalid_request", 400, None, "No reply address provided.";
    MALFORMED_REQUEST = 9002313, "invalid_request", 400, None, "Invalid request. Request is malformed or invalid. {0}";
    PKCE_MISMATCH = 501481, "invalid_grant", 400, None, "The Code_Verifier does not match the code_challenge supplied in the authorization request.";
    CLIENT_CREDENTIALS_SCOPE = 1002012, "invalid_scope", 400, None, "The provided value for scope {0} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).";
    OBO_ASSERTION_INVALID = 50013, "invalid_grant", 400, None, "Assertion failed signature validation. {0}";
    FIC_NO_MATCH = 70021, "invalid_grant", 400, None, "No matching federated identity record found for presented assertion. {0}";
    SAML_ASSERTION_INVALID = 50008, "invalid_grant", 400, None, "SAML token is invalid. {0}";
    OBO_ASSERTION_EXPIRED = 500133, "invalid_grant", 400, None, "Assertion is not within its valid time range. Ensure that the access token is not expired before using it for user assertion, or request a new token.";
    THROTTLED = 50196, "temporarily_unavailable", 429, None, "The server terminated an operation because it encountered a client request loop. Please retry later.";
    SERVICE_UNAVAILABLE = 90033, "temporarily_unavailable", 503, None, "A transient error has occurred. Please try again.";
    WRONG_CONTENT_TYPE = 900561, "invalid_request", 400, None, "The endpoint only accepts POST requests with Content-Type application/x-www-form-urlencoded. Received: {0}";
}

/// Looks up a code of the catalogue.
pub fn by_code(code: u32) -> Option<Aadsts> {
    ALL.iter().copied().find(|a| a.code == code)
}

/// The claims challenge sent with AADSTS50076 (Conditional Access requires MFA).
pub fn mfa_claims_challenge() -> String {
    r#"{"access_token":{"capolids":{"essential":true,"values":["c1a4fb2b-3c0e-4b6a-9b1c-5e8f7d2a6b10"]}}}"#
        .to_string()
}

/// An error about to be sent in Entra's JSON shape.
#[derive(Debug, Clone)]
pub struct EntraError {
    /// The catalogue entry.
    pub aadsts: Aadsts,
    /// The message with details filled in.
    pub message: String,
    /// The `claims` challenge (a JSON string), as Entra sends for Conditional Access.
    pub claims: Option<String>,
    /// Overrides the catalogue's HTTP status.
    pub status: Option<u16>,
    /// `Retry-After` seconds, for throttling errors.
    pub retry_after: Option<u64>,
}

impl EntraError {
    /// An error with the message's `{0}`, `{1}`, ... replaced by `details`.
    pub fn new(aadsts: Aadsts, details: &[&str]) -> Self {
        let mut message = aadsts.message.to_string();
        for (i, d) in details.iter().enumerate() {
            message = message.replace(&format!("{{{i}}}"), d);
        }
        Self {
            aadsts,
            message: message.trim_end().to_string(),
            claims: None,
            status: None,
            retry_after: None,
        }
    }

    /// Sends the error with another HTTP status than the catalogue's.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Adds a claims challenge.
    pub fn with_claims(mut self, claims: String) -> Self {
        self.claims = Some(claims);
        self
    }

    /// The HTTP status to send.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status.unwrap_or(self.aadsts.status))
            .unwrap_or(StatusCode::BAD_REQUEST)
    }

    /// `AADSTSnnnnn: message` followed by Entra's trace lines.
    pub fn description(&self, trace: &Trace) -> String {
        format!(
            "AADSTS{}: {}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {}",
            self.aadsts.code, self.message, trace.trace_id, trace.correlation_id, trace.timestamp
        )
    }

    /// The JSON body Entra sends.
    pub fn body(&self, trace: &Trace) -> serde_json::Value {
        let mut body = json!({
            "error": self.aadsts.error,
            "error_description": self.description(trace),
            "error_codes": [self.aadsts.code],
            "timestamp": trace.timestamp,
            "trace_id": trace.trace_id,
            "correlation_id": trace.correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.aadsts.code),
        });
        if let Some(sub) = self.aadsts.suberror {
            body["suberror"] = json!(sub);
        }
        if let Some(claims) = &self.claims {
            body["claims"] = json!(claims);
        }
        body
    }

    /// The full HTTP response.
    pub fn into_response_with(self, trace: &Trace) -> Response {
        let mut response = (self.status(), axum::Json(self.body(trace))).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert("retry-after", v);
        }
        response
    }
}

/// The ids Entra puts in every error: trace id, correlation id and timestamp.
#[derive(Debug, Clone)]
pub struct Trace {
    /// A fresh GUID per request.
    pub trace_id: String,
    /// The caller's `client-request-id`, or a fresh GUID.
    pub correlation_id: String,
    /// `YYYY-MM-DD HH:MM:SSZ`.
    pub timestamp: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique() {
        for (i, a) in ALL.iter().enumerate() {
            assert!(ALL[i + 1..].iter().all(|b| b.code != a.code), "{}", a.code);
        }
    }

    #[test]
    fn body_has_entra_shape() {
        let trace = Trace {
            trace_id: "t".into(),
            correlation_id: "c".into(),
            timestamp: "2026-01-01 00:00:00Z".into(),
        };
        let body = EntraError::new(INVALID_SCOPE, &["x"]).body(&trace);
        assert_eq!(body["error"], "invalid_scope");
        assert_eq!(
            body["error_description"],
            "AADSTS70011: The provided value for the input parameter 'scope' isn't valid. The scope x isn't valid.\r\nTrace ID: t\r\nCorrelation ID: c\r\nTimestamp: 2026-01-01 00:00:00Z"
        );
        assert_eq!(body["error_codes"], json!([70011]));
        let mfa = EntraError::new(MFA_REQUIRED, &["r"])
            .with_claims("{}".into())
            .body(&trace);
        assert_eq!(mfa["suberror"], "basic_action");
        assert_eq!(mfa["claims"], "{}");
    }
}
