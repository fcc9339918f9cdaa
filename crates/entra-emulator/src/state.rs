//! Everything the emulator remembers between requests: pending sign-ins, codes, refresh
//! tokens, device codes, browser sessions and consents. Guarded by one mutex that is never held
//! across an `.await`.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use uuid::Uuid;

use crate::clock::Clock;
use crate::config::Settings;
use crate::crypto::SigningKey;
use crate::directory::Directory;
use crate::faults::FaultRule;
use crate::request_log::RequestLog;
use crate::scopes::RequestedScopes;

/// A user who completed sign-in: who, where, when, and whether MFA was performed.
#[derive(Debug, Clone)]
pub struct SignIn {
    /// The username (key into the directory).
    pub username: String,
    /// The tenant the tokens are for.
    pub tenant: Uuid,
    /// Unix time of the authentication.
    pub auth_time: i64,
    /// Multi-factor authentication was performed.
    pub mfa: bool,
}

/// An `/authorize` request waiting for the user.
#[derive(Debug, Clone)]
pub struct PendingAuthorization {
    /// Id carried by the pages' forms.
    pub id: String,
    /// The tenant segment of the URL (`common`, a GUID, a domain).
    pub tenant_segment: String,
    /// Client id.
    pub client_id: String,
    /// The (registered) redirect URI.
    pub redirect_uri: String,
    /// Parsed scopes.
    pub scopes: RequestedScopes,
    /// `state`, echoed back.
    pub state: Option<String>,
    /// `nonce`, put in the id token.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// `query`, `fragment` or `form_post`.
    pub response_mode: String,
    /// `prompt`.
    pub prompt: Option<String>,
    /// `login_hint`.
    pub login_hint: Option<String>,
    /// `domain_hint`.
    pub domain_hint: Option<String>,
    /// `max_age` in seconds.
    pub max_age: Option<i64>,
    /// `claims` request parameter.
    pub claims: Option<String>,
    /// `client_info=1` was sent.
    pub client_info: bool,
    /// The user chosen so far, waiting for MFA or consent.
    pub sign_in: Option<SignIn>,
    /// The user accepted the consent page during this request.
    pub consented: bool,
    /// Creation time.
    pub created_at: i64,
    /// When the request arrived, in real time: it expires [`PENDING_LIFETIME`] later.
    pub received: std::time::Instant,
}

/// How long an unfinished `/authorize` request waits for the user before it is forgotten
/// (real time, not the emulator's adjustable clock).
pub const PENDING_LIFETIME: std::time::Duration = std::time::Duration::from_secs(600);
/// The most unfinished `/authorize` requests kept; the oldest go first.
pub const MAX_PENDING_AUTHORIZATIONS: usize = 256;
/// The most device codes kept; expired ones go first, then the oldest.
pub const MAX_DEVICE_CODES: usize = 1000;

/// An issued authorization code.
#[derive(Debug, Clone)]
pub struct AuthorizationCode {
    /// Client the code was issued to.
    pub client_id: String,
    /// Redirect URI it was issued for.
    pub redirect_uri: String,
    /// Who signed in.
    pub sign_in: SignIn,
    /// Scopes granted.
    pub scopes: RequestedScopes,
    /// Nonce for the id token.
    pub nonce: Option<String>,
    /// PKCE challenge to verify.
    pub code_challenge: Option<String>,
    /// Expiry (unix).
    pub expires_at: i64,
    /// Already redeemed.
    pub redeemed: bool,
}

/// An issued refresh token.
#[derive(Debug, Clone)]
pub struct RefreshTokenRecord {
    /// Client the token was issued to.
    pub client_id: String,
    /// FOCI family of that client.
    pub family_id: Option<String>,
    /// Who signed in.
    pub sign_in: SignIn,
    /// Expiry (unix).
    pub expires_at: i64,
    /// Revoked through the control API.
    pub revoked: bool,
}

/// Where a device code stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceCodeStatus {
    /// Waiting for the user.
    Pending,
    /// Approved by the user.
    Approved,
    /// Declined by the user.
    Declined,
    /// Tokens were issued.
    Redeemed,
}

/// An issued device code.
#[derive(Debug, Clone)]
pub struct DeviceCodeRecord {
    /// The code the user types.
    pub user_code: String,
    /// Client id.
    pub client_id: String,
    /// Tenant segment of the request.
    pub tenant_segment: String,
    /// Requested scopes.
    pub scopes: RequestedScopes,
    /// Expiry (unix).
    pub expires_at: i64,
    /// Status.
    pub status: DeviceCodeStatus,
    /// The user once approved.
    pub sign_in: Option<SignIn>,
}

/// The longest access-token lifetime the control API accepts and the token endpoints use: 100
/// years. Beyond it `exp` would leave the range JWT consumers handle (a security review found
/// that `u64::MAX` gave `exp` < `iat`).
pub const MAX_LIFETIME_SECONDS: u64 = 100 * 365 * 24 * 3600;

/// The mutable part of the emulator.
#[derive(Debug, Default)]
pub struct Runtime {
    /// Pending `/authorize` requests by id.
    pub pending: HashMap<String, PendingAuthorization>,
    /// Authorization codes.
    pub codes: HashMap<String, AuthorizationCode>,
    /// Refresh tokens.
    pub refresh_tokens: HashMap<String, RefreshTokenRecord>,
    /// Device codes by `device_code`.
    pub device_codes: HashMap<String, DeviceCodeRecord>,
    /// Browser sessions: session id → signed-in users.
    pub sessions: HashMap<String, Vec<SignIn>>,
    /// (username lowercased, client id lowercased) pairs consented interactively.
    pub consents: HashSet<(String, String)>,
    /// Scripted faults, first match wins.
    pub faults: Vec<FaultRule>,
    /// SAML assertions already redeemed (id → `NotOnOrAfter`), for one-time use; expired ones
    /// are dropped as new ones arrive.
    pub redeemed_assertions: HashMap<String, i64>,
    /// Which usernamemixed endpoints the MEX document leaves out: (WS-Trust 1.3, 2005); none
    /// unless the control API says otherwise.
    pub mex_withheld: (bool, bool),
    /// Access-token lifetime override.
    pub access_token_lifetime: Option<u64>,
    /// Device-code interval override.
    pub device_code_interval: Option<u64>,
    /// Device-code lifetime (`expires_in`) override.
    pub device_code_lifetime: Option<u64>,
}

/// Shared state of one running emulator.
#[derive(Debug)]
pub struct AppState {
    /// `https://127.0.0.1:PORT`.
    pub base_url: String,
    /// Tenants, apps, users.
    pub directory: Directory,
    /// Token-signing key.
    pub key: SigningKey,
    /// The adjustable clock.
    pub clock: Clock,
    /// Static settings.
    pub settings: Settings,
    /// Mutable state.
    runtime: Mutex<Runtime>,
    /// Request log.
    pub log: RequestLog,
    /// Where issued and received secrets are recorded (off unless configured).
    pub secrets: crate::secrets_log::SecretsLog,
    /// The SSH certificate authority, made (or loaded from the key cache) on first use.
    ssh_ca: std::sync::OnceLock<Result<crate::ssh_cert::SshCa, String>>,
}

impl Runtime {
    /// Stores (or updates) a pending authorization after forgetting those older than
    /// `lifetime` and, when `cap` are kept, the oldest.
    pub fn insert_pending(
        &mut self,
        pending: PendingAuthorization,
        lifetime: std::time::Duration,
        cap: usize,
    ) {
        let now = std::time::Instant::now();
        self.pending
            .retain(|_, p| now.saturating_duration_since(p.received) < lifetime);
        if !self.pending.contains_key(&pending.id) {
            while self.pending.len() >= cap.max(1) {
                let Some(oldest) = self
                    .pending
                    .values()
                    .min_by_key(|p| p.received)
                    .map(|p| p.id.clone())
                else {
                    break;
                };
                self.pending.remove(&oldest);
            }
        }
        self.pending.insert(pending.id.clone(), pending);
    }

    /// A pending authorization that has not expired.
    pub fn live_pending(&self, id: &str) -> Option<&PendingAuthorization> {
        self.pending
            .get(id)
            .filter(|p| p.received.elapsed() < PENDING_LIFETIME)
    }

    /// Stores a device code after making room: when `cap` are kept, expired ones (at `now`)
    /// go first, then those that expire soonest.
    pub fn insert_device_code(
        &mut self,
        device_code: String,
        record: DeviceCodeRecord,
        now: i64,
        cap: usize,
    ) {
        if self.device_codes.len() >= cap.max(1) {
            self.device_codes.retain(|_, r| r.expires_at > now);
        }
        while self.device_codes.len() >= cap.max(1) {
            let Some(first) = self
                .device_codes
                .iter()
                .min_by_key(|(_, r)| r.expires_at)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.device_codes.remove(&first);
        }
        self.device_codes.insert(device_code, record);
    }
}

impl AppState {
    /// Builds the shared state.
    pub fn new(
        base_url: String,
        directory: Directory,
        key: SigningKey,
        settings: Settings,
    ) -> Self {
        let log = RequestLog::new(settings.request_log_capacity);
        Self {
            base_url,
            directory,
            key,
            clock: Clock::default(),
            settings,
            runtime: Mutex::new(Runtime::default()),
            log,
            secrets: crate::secrets_log::SecretsLog::off(),
            ssh_ca: std::sync::OnceLock::new(),
        }
    }

    /// The SSH certificate authority: its key is the key cache's `ssh-ca` key (generated once
    /// per machine, see `key_cache`), or a new one when the cache is off.
    pub fn ssh_ca(&self) -> Result<&crate::ssh_cert::SshCa, String> {
        self.ssh_ca
            .get_or_init(|| {
                crate::key_cache::rsa_key_pem(crate::key_cache::SSH_CA_KEY)
                    .and_then(|pem| crate::ssh_cert::SshCa::from_pem(&pem))
                    .map_err(|e| format!("the SSH certificate authority's key is unusable: {e}"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Locks the runtime state. A poisoned lock is recovered: every update is a single
    /// insertion or flag change, so the data stays consistent.
    pub fn runtime(&self) -> MutexGuard<'_, Runtime> {
        self.runtime.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The access-token lifetime in force, at most
    /// [`MAX_LIFETIME_SECONDS`] so that `exp` never
    /// wraps below `iat`.
    pub fn access_token_lifetime(&self) -> u64 {
        self.runtime()
            .access_token_lifetime
            .unwrap_or(self.settings.access_token_lifetime_seconds)
            .min(MAX_LIFETIME_SECONDS)
    }

    /// The device-code polling interval in force.
    pub fn device_code_interval(&self) -> u64 {
        self.runtime()
            .device_code_interval
            .unwrap_or(self.settings.device_code_interval_seconds)
    }

    /// The device-code lifetime (`expires_in`, seconds) in force.
    pub fn device_code_lifetime(&self) -> u64 {
        self.runtime()
            .device_code_lifetime
            .unwrap_or(self.settings.device_code_lifetime_seconds)
    }

    /// The issuer for a tenant: `https://127.0.0.1:PORT/<tid>/v2.0`.
    pub fn issuer(&self, tenant: &str) -> String {
        format!("{}/{tenant}/v2.0", self.base_url)
    }

    /// Whether the user consented to the app, in configuration or interactively.
    pub fn has_consent(&self, username: &str, client_id: &str) -> bool {
        self.directory
            .user(username)
            .is_some_and(|u| u.consent_given)
            || self.runtime().consents.contains(&(
                username.to_ascii_lowercase(),
                client_id.to_ascii_lowercase(),
            ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(id: &str, received: std::time::Instant) -> PendingAuthorization {
        PendingAuthorization {
            id: id.into(),
            tenant_segment: "common".into(),
            client_id: "c".into(),
            redirect_uri: "http://localhost".into(),
            scopes: RequestedScopes::default(),
            state: None,
            nonce: None,
            code_challenge: None,
            response_mode: "query".into(),
            prompt: None,
            login_hint: None,
            domain_hint: None,
            max_age: None,
            claims: None,
            client_info: false,
            sign_in: None,
            consented: false,
            created_at: 0,
            received,
        }
    }

    // Red-team finding 6: pending sign-ins were never expired or capped.
    #[test]
    fn pending_authorizations_expire_and_are_capped() {
        let now = std::time::Instant::now();
        let old = now - std::time::Duration::from_secs(120);
        let mut runtime = Runtime::default();
        runtime.insert_pending(pending("old", old), PENDING_LIFETIME, 10);
        // A shorter lifetime than the old request's age: it is forgotten on the next insert.
        runtime.insert_pending(pending("new", now), std::time::Duration::from_secs(60), 10);
        assert!(!runtime.pending.contains_key("old"));
        for i in 0..5 {
            runtime.insert_pending(pending(&format!("p{i}"), now), PENDING_LIFETIME, 3);
        }
        assert_eq!(runtime.pending.len(), 3);
        // Updating a kept request does not evict another.
        runtime.insert_pending(pending("p4", now), PENDING_LIFETIME, 3);
        assert_eq!(runtime.pending.len(), 3);
        assert!(runtime.live_pending("p4").is_some());
        assert!(runtime.live_pending("missing").is_none());
    }
}
