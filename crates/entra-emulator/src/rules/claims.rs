//! Claims challenges (`claims` / `decodedClaims`): which ones a session satisfies silently and
//! which need the user.
//!
//! Rule: a client that receives a claims challenge from a resource asks for a new token with the
//! challenge; when the session still permits it (Continuous Access Evaluation's `nbf` or
//! `xms_cc` challenges after an event the session survived), Entra issues the token without
//! interaction, as it does for a refresh; only a challenge the user must act on (an
//! authentication-context `acrs` or a Conditional Access policy needing MFA the session did not
//! perform) needs interaction. Sources: "Claims challenges, claims requests, and client
//! capabilities" (<https://learn.microsoft.com/entra/identity-platform/claims-challenge>) and
//! "Continuous access evaluation"
//! (<https://learn.microsoft.com/entra/identity-platform/app-resilience-continuous-access-evaluation>).
//! The `/token` endpoint (refresh grant) and the broker service apply the same rule.

use serde_json::Value;

use crate::errors::{self, EntraError};

/// What a claims challenge asks of the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimsDemand {
    /// A fresh token from the current session satisfies it (`nbf`, `xms_cc`, ...).
    Silent,
    /// The user must authenticate with MFA (an `acrs` authentication context or a
    /// `capolids` Conditional Access policy).
    Mfa,
}

/// Reads a claims request. `Err` when it is not a JSON object.
pub fn demand(claims: &str) -> Result<ClaimsDemand, EntraError> {
    let value: Value = serde_json::from_str(claims).map_err(|_| invalid())?;
    let object = value.as_object().ok_or_else(invalid)?;
    let needs_mfa = ["access_token", "id_token"]
        .iter()
        .filter_map(|t| object.get(*t).and_then(Value::as_object))
        .any(|token| token.contains_key("acrs") || token.contains_key("capolids"));
    Ok(if needs_mfa {
        ClaimsDemand::Mfa
    } else {
        ClaimsDemand::Silent
    })
}

/// AADSTS50076 (with the emulator's MFA claims challenge) when `claims` needs MFA that the
/// session did not perform; `Ok` when the session satisfies it silently.
pub fn check(claims: Option<&str>, mfa_done: bool, resource: &str) -> Result<(), EntraError> {
    let Some(claims) = claims.filter(|c| !c.trim().is_empty()) else {
        return Ok(());
    };
    match demand(claims)? {
        ClaimsDemand::Mfa if !mfa_done => Err(EntraError::new(errors::MFA_REQUIRED, &[resource])
            .with_claims(errors::mfa_claims_challenge())),
        _ => Ok(()),
    }
}

fn invalid() -> EntraError {
    EntraError::new(
        errors::MALFORMED_REQUEST,
        &["The claims parameter is not a valid JSON object."],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cae_challenges_are_silent_and_acrs_needs_mfa() {
        let nbf = r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#;
        assert_eq!(demand(nbf).unwrap(), ClaimsDemand::Silent);
        assert!(check(Some(nbf), false, "r").is_ok());
        let acrs = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;
        assert_eq!(demand(acrs).unwrap(), ClaimsDemand::Mfa);
        assert_eq!(
            check(Some(acrs), false, "r").unwrap_err().aadsts.code,
            50076
        );
        assert!(check(Some(acrs), true, "r").is_ok());
        assert!(check(Some("[1]"), true, "r").is_err());
        assert!(check(Some("not json"), true, "r").is_err());
        assert!(check(None, false, "r").is_ok());
    }
}
