//! `grant_type=refresh_token`.

use super::Form;

/// The form of a refresh-token redemption (scopes already decorated).
pub fn refresh_token<'a>(
    client_id: &'a str,
    refresh_token: &'a str,
    scopes: &'a [String],
    claims: Option<&'a str>,
) -> Form<'a> {
    let mut form = super::base(client_id, "refresh_token", scopes, claims);
    form.push(("refresh_token".into(), refresh_token.into()));
    form.push(("client_info".into(), "1".into()));
    form
}
