//! Device approval: finding the device code a user typed, and approving (signing in and
//! consenting) or declining it. The `/devicelogin` pages and the control API both decide here;
//! the token endpoint's device-code grant then reads the outcome.

use crate::state::{AppState, DeviceCodeRecord, DeviceCodeStatus, SignIn};

/// Finds the device code a user typed: pending and not expired.
pub fn find_pending(state: &AppState, user_code: &str) -> Option<(String, DeviceCodeRecord)> {
    let now = state.clock.now();
    let wanted = user_code.trim().replace('-', "");
    state
        .runtime()
        .device_codes
        .iter()
        .find(|(_, r)| {
            r.user_code.eq_ignore_ascii_case(&wanted)
                && r.status == DeviceCodeStatus::Pending
                && r.expires_at > now
        })
        .map(|(k, r)| (k.clone(), r.clone()))
}

/// Approves a pending device code for `sign_in`.
pub fn approve(state: &AppState, device_code: &str, sign_in: SignIn) {
    let mut runtime = state.runtime();
    if let Some(record) = runtime.device_codes.get_mut(device_code) {
        record.status = DeviceCodeStatus::Approved;
        let consent = (
            sign_in.username.to_ascii_lowercase(),
            record.client_id.to_ascii_lowercase(),
        );
        record.sign_in = Some(sign_in);
        // Approving is signing in and consenting (one lock: the code and the consent together).
        runtime.consents.insert(consent);
    }
}

/// Marks a pending device code declined.
pub fn decline(state: &AppState, device_code: &str) {
    if let Some(r) = state.runtime().device_codes.get_mut(device_code) {
        r.status = DeviceCodeStatus::Declined;
    }
}
