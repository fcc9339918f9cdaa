//! What the broker remembers: accounts signed in through it (per client), device-user sign-outs,
//! interactive requests waiting for the control API, and injected one-shot errors.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::codec::{BrokerErrorSpec, Method};
use crate::state::SignIn;

/// An interactive broker request waiting for the user (approve or deny it through the control
/// API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingBrokerRequest {
    /// The id to approve or deny.
    pub id: String,
    /// The client that asked.
    pub client_id: String,
    /// The requested scopes.
    pub scopes: Vec<String>,
    /// The account the request named (`username` or `account.username`), if any.
    pub username_hint: Option<String>,
    /// The D-Bus correlation id of the call.
    pub correlation_id: String,
}

/// How long an interactive broker request waits for a decision before it fails and is
/// forgotten (real time).
pub const BROKER_PENDING_LIFETIME: std::time::Duration = std::time::Duration::from_secs(600);
/// The most interactive broker requests kept waiting; beyond it the oldest is canceled.
pub const MAX_BROKER_PENDING: usize = 256;

/// An account signed in through the broker for one client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerSignIn {
    /// The client id.
    pub client_id: String,
    /// The account's username.
    pub username: String,
}

/// A broker sign-in: who, in which tenant, how, and from which cloud host.
#[derive(Debug, Clone)]
pub(crate) struct SignInRecord {
    /// The client id as the client sent it.
    pub client_id: String,
    pub sign_in: SignIn,
    pub environment: String,
    seq: u64,
}

/// How a pending interactive request ends.
#[derive(Debug)]
pub(crate) enum Decision {
    Approve(SignIn),
    Deny,
    Cancel,
}

#[derive(Debug)]
struct PendingEntry {
    info: PendingBrokerRequest,
    tenant_segment: String,
    seq: u64,
    reply: oneshot::Sender<Decision>,
}

#[derive(Debug, Default)]
struct Inner {
    seq: u64,
    /// (client id, username), both lower-cased.
    sign_ins: BTreeMap<(String, String), SignInRecord>,
    /// Clients for which the device user was signed out (lower-cased).
    device_signed_out: HashSet<String>,
    /// The device user's session was revoked (control API): signed out for every client until
    /// it signs in interactively again.
    device_revoked: bool,
    /// The device user (lower-cased), once the broker service runs.
    device_user: Option<String>,
    pending: BTreeMap<String, PendingEntry>,
    injected: Vec<(Method, BrokerErrorSpec)>,
}

/// The broker's mutable state. The emulator holds it next to its shared state and hands it to
/// the broker service and the control API (which approves, denies and revokes through it). One
/// mutex, never held across an `.await`.
#[derive(Debug, Default)]
pub struct BrokerSession {
    inner: Mutex<Inner>,
}

fn key(client_id: &str, username: &str) -> (String, String) {
    (
        client_id.to_ascii_lowercase(),
        username.to_ascii_lowercase(),
    )
}

impl BrokerSession {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn next(inner: &mut Inner) -> u64 {
        inner.seq += 1;
        inner.seq
    }

    /// Records (or replaces) a sign-in for the client.
    pub(crate) fn record(&self, client_id: &str, sign_in: SignIn, environment: String) {
        let mut inner = self.lock();
        let seq = Self::next(&mut inner);
        inner.sign_ins.insert(
            key(client_id, &sign_in.username),
            SignInRecord {
                client_id: client_id.to_string(),
                sign_in,
                environment,
                seq,
            },
        );
    }

    /// The sign-in of `username` for the client.
    pub(crate) fn sign_in(&self, client_id: &str, username: &str) -> Option<SignInRecord> {
        self.lock().sign_ins.get(&key(client_id, username)).cloned()
    }

    /// The client's sign-ins, oldest first.
    pub(crate) fn sign_ins_for(&self, client_id: &str) -> Vec<SignInRecord> {
        let client = client_id.to_ascii_lowercase();
        let mut list: Vec<_> = self
            .lock()
            .sign_ins
            .iter()
            .filter(|((c, _), _)| *c == client)
            .map(|(_, r)| r.clone())
            .collect();
        list.sort_by_key(|r| r.seq);
        list
    }

    /// Whether `username` signed in through the broker for any client.
    pub(crate) fn signed_in_anywhere(&self, username: &str) -> bool {
        let user = username.to_ascii_lowercase();
        self.lock().sign_ins.keys().any(|(_, u)| *u == user)
    }

    /// Signs `username` out for the client; `is_device_user` also hides the device user.
    pub(crate) fn remove(&self, client_id: &str, username: &str, is_device_user: bool) {
        let mut inner = self.lock();
        inner.sign_ins.remove(&key(client_id, username));
        if is_device_user {
            inner
                .device_signed_out
                .insert(client_id.to_ascii_lowercase());
        }
    }

    /// Shows the device user again for the client (it signed in interactively).
    pub(crate) fn restore_device(&self, client_id: &str) {
        let mut inner = self.lock();
        inner
            .device_signed_out
            .remove(&client_id.to_ascii_lowercase());
        inner.device_revoked = false;
    }

    /// Whether the device user was signed out for the client (or its session revoked).
    pub(crate) fn device_signed_out(&self, client_id: &str) -> bool {
        let inner = self.lock();
        inner.device_revoked
            || inner
                .device_signed_out
                .contains(&client_id.to_ascii_lowercase())
    }

    /// Records the device user (the account signed in to the machine).
    pub(crate) fn set_device_user(&self, username: &str) {
        self.lock().device_user = Some(username.to_ascii_lowercase());
    }

    /// Revokes the broker sessions of `username` (or of everyone): its sign-ins for every
    /// client are forgotten, so silent requests need interaction again, as after a session
    /// revocation in Entra; revoking the device user also signs it out everywhere until it
    /// signs in interactively. Returns how many sign-ins were revoked.
    pub(crate) fn revoke(&self, username: Option<&str>) -> usize {
        let mut inner = self.lock();
        let includes_device_user = match (username, inner.device_user.as_deref()) {
            (None, _) => true,
            (Some(u), Some(d)) => u.eq_ignore_ascii_case(d),
            (Some(_), None) => false,
        };
        let before = inner.sign_ins.len();
        let user = username.map(str::to_ascii_lowercase);
        inner
            .sign_ins
            .retain(|(_, u), _| user.as_ref().is_some_and(|name| name != u));
        if includes_device_user {
            inner.device_revoked = true;
        }
        before - inner.sign_ins.len()
    }

    /// Every sign-in, in order.
    pub fn signed_in(&self) -> Vec<BrokerSignIn> {
        let inner = self.lock();
        let mut list: Vec<_> = inner.sign_ins.iter().collect();
        list.sort_by_key(|(_, r)| r.seq);
        list.into_iter()
            .map(|(_, r)| BrokerSignIn {
                client_id: r.client_id.clone(),
                username: r.sign_in.username.clone(),
            })
            .collect()
    }

    /// Adds an interactive request; the receiver gets the decision.
    pub(crate) fn add_pending(
        &self,
        client_id: &str,
        scopes: Vec<String>,
        username_hint: Option<String>,
        correlation_id: &str,
        tenant_segment: String,
    ) -> (String, oneshot::Receiver<Decision>) {
        let (reply, receiver) = oneshot::channel();
        let id = uuid::Uuid::new_v4().to_string();
        let mut inner = self.lock();
        // Requests whose caller's future is gone, then the oldest beyond the cap.
        inner.pending.retain(|_, p| !p.reply.is_closed());
        while inner.pending.len() >= MAX_BROKER_PENDING {
            let Some(oldest) = inner
                .pending
                .values()
                .min_by_key(|p| p.seq)
                .map(|p| p.info.id.clone())
            else {
                break;
            };
            if let Some(entry) = inner.pending.remove(&oldest) {
                let _ = entry.reply.send(Decision::Cancel);
            }
        }
        let seq = Self::next(&mut inner);
        inner.pending.insert(
            id.clone(),
            PendingEntry {
                info: PendingBrokerRequest {
                    id: id.clone(),
                    client_id: client_id.to_string(),
                    scopes,
                    username_hint,
                    correlation_id: correlation_id.to_string(),
                },
                tenant_segment,
                seq,
                reply,
            },
        );
        (id, receiver)
    }

    /// Drops a pending request whose caller is gone.
    pub(crate) fn forget_pending(&self, id: &str) {
        self.lock().pending.remove(id);
    }

    /// Pending interactive requests, oldest first.
    pub fn pending(&self) -> Vec<PendingBrokerRequest> {
        let inner = self.lock();
        let mut list: Vec<_> = inner
            .pending
            .values()
            .filter(|p| !p.reply.is_closed())
            .collect();
        list.sort_by_key(|p| p.seq);
        list.into_iter().map(|p| p.info.clone()).collect()
    }

    /// The tenant segment of a pending request's authority.
    pub(crate) fn pending_tenant(&self, id: &str) -> Option<String> {
        self.lock()
            .pending
            .get(id)
            .map(|p| p.tenant_segment.clone())
    }

    /// Ends a pending request; false when there is no such request (or its caller is gone).
    pub(crate) fn decide(&self, id: &str, decision: Decision) -> bool {
        let entry = self.lock().pending.remove(id);
        match entry {
            Some(entry) => entry.reply.send(decision).is_ok(),
            None => false,
        }
    }

    /// Cancels pending requests: those of `correlation_id`, else those of `client_id`, else all
    /// (both `None`). Returns how many.
    pub(crate) fn cancel(&self, correlation_id: Option<&str>, client_id: Option<&str>) -> usize {
        let mut inner = self.lock();
        let by_correlation: Vec<String> = inner
            .pending
            .values()
            .filter(|p| correlation_id.is_some_and(|c| !c.is_empty() && p.info.correlation_id == c))
            .map(|p| p.info.id.clone())
            .collect();
        let ids: Vec<String> = if !by_correlation.is_empty() {
            by_correlation
        } else if let Some(client) = client_id {
            inner
                .pending
                .values()
                .filter(|p| p.info.client_id.eq_ignore_ascii_case(client))
                .map(|p| p.info.id.clone())
                .collect()
        } else if correlation_id.is_none() {
            inner.pending.keys().cloned().collect()
        } else {
            Vec::new()
        };
        let mut count = 0;
        for id in ids {
            if let Some(entry) = inner.pending.remove(&id) {
                let _ = entry.reply.send(Decision::Cancel);
                count += 1;
            }
        }
        count
    }

    /// Queues a one-shot error for the next call of `method`.
    pub(crate) fn inject(&self, method: Method, spec: BrokerErrorSpec) {
        self.lock().injected.push((method, spec));
    }

    /// Takes the first queued error for `method`.
    pub(crate) fn take_injected(&self, method: Method) -> Option<BrokerErrorSpec> {
        let mut inner = self.lock();
        let i = inner.injected.iter().position(|(m, _)| *m == method)?;
        Some(inner.injected.remove(i).1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Red-team finding 13: requests whose caller went away stayed pending for ever and could
    // be "approved". They are dropped from the list, cannot be approved, and at most
    // MAX_BROKER_PENDING wait at once (the oldest is canceled).
    #[test]
    fn orphaned_requests_are_dropped_and_the_pending_list_is_capped() {
        let session = BrokerSession::default();
        let (orphan, receiver) = session.add_pending("c", vec![], None, "corr", "common".into());
        drop(receiver);
        assert!(session.pending().is_empty());
        assert!(!session.decide(&orphan, Decision::Deny));

        let mut receivers = Vec::new();
        for i in 0..MAX_BROKER_PENDING + 3 {
            let (_, r) = session.add_pending("c", vec![], None, &format!("c{i}"), "common".into());
            receivers.push(r);
        }
        assert_eq!(session.pending().len(), MAX_BROKER_PENDING);
        assert_eq!(session.pending()[0].correlation_id, "c3");
        assert!(matches!(receivers[0].try_recv(), Ok(Decision::Cancel)));
    }
}
