//! On-behalf-of: `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`.

use super::Form;

/// The form of an on-behalf-of exchange of `user_assertion` (scopes already decorated).
pub fn on_behalf_of(
    client_id: &str,
    user_assertion: &str,
    scopes: &[String],
    claims: Option<&str>,
) -> Form {
    let mut form = super::base(
        client_id,
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        scopes,
        claims,
    );
    form.push(("assertion".into(), user_assertion.into()));
    form.push(("requested_token_use".into(), "on_behalf_of".into()));
    form.push(("client_info".into(), "1".into()));
    form
}
