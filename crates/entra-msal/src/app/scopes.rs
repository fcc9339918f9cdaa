//! Scope rules: reserved OIDC scopes are refused as input and added on the wire (except for
//! client credentials); scopes are compared case-insensitively. Flows that sign a user in
//! (interactive, auth code, device code) accept no scopes at all: "sign in only", where just the
//! reserved scopes are sent, as in MSAL Python.

use crate::error::Error;

/// Scopes the library adds itself; passing them in is an error, as in MSAL.
pub const RESERVED_SCOPES: [&str; 3] = ["openid", "profile", "offline_access"];

/// Validates input scopes: non-empty, no reserved scope.
pub fn validate(scopes: &[&str]) -> Result<Vec<String>, Error> {
    let out = validate_sign_in(scopes)?;
    if out.is_empty() {
        return Err(Error::configuration(
            "at least one scope is required, e.g. \"User.Read\" or \"api://my-api/.default\""
                .into(),
        ));
    }
    Ok(out)
}

/// Validates the input scopes of a sign-in flow: no reserved scope; none at all means "sign in
/// only" (the reserved scopes alone go on the wire).
pub fn validate_sign_in(scopes: &[&str]) -> Result<Vec<String>, Error> {
    let mut out: Vec<String> = Vec::new();
    for s in scopes.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if RESERVED_SCOPES.iter().any(|r| r.eq_ignore_ascii_case(s)) {
            return Err(Error::configuration(format!(
                "the scope {s:?} is reserved: the library adds openid, profile and offline_access itself; remove it from the request"
            )));
        }
        if !out.iter().any(|o| o.eq_ignore_ascii_case(s)) {
            out.push(s.to_string());
        }
    }
    Ok(out)
}

/// Adds `openid profile offline_access` minus `exclude` (user flows).
pub fn decorate(scopes: &[String], exclude: &[String]) -> Vec<String> {
    let mut out = scopes.to_vec();
    for r in RESERVED_SCOPES {
        if !exclude.iter().any(|e| e.eq_ignore_ascii_case(r)) {
            out.push(r.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_scopes_are_refused_and_added() {
        assert!(validate(&["openid"]).is_err());
        assert!(validate(&[]).is_err());
        assert_eq!(validate_sign_in(&[]).unwrap(), Vec::<String>::new());
        assert!(validate_sign_in(&["profile"]).is_err());
        assert_eq!(
            decorate(&[], &[]),
            vec!["openid", "profile", "offline_access"]
        );
        assert_eq!(validate(&["B", "b", " a "]).unwrap(), vec!["B", "a"]);
        let d = decorate(&["x".into()], &["offline_access".into()]);
        assert_eq!(d, vec!["x", "openid", "profile"]);
    }
}
