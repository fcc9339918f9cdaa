//! On-behalf-of: `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`.

use super::Form;

/// The form of an on-behalf-of exchange of `user_assertion` (scopes already decorated).
pub fn on_behalf_of<'a>(
    client_id: &'a str,
    user_assertion: &'a str,
    scopes: &'a [String],
    claims: Option<&'a str>,
) -> Form<'a> {
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
