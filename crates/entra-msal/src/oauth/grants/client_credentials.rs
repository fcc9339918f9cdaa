//! `grant_type=client_credentials` (no `client_info`, no scope decoration).

use super::Form;

/// The form of a client-credentials request; the client authentication is added by the caller.
pub fn client_credentials<'a>(
    client_id: &'a str,
    scopes: &'a [String],
    claims: Option<&'a str>,
) -> Form<'a> {
    super::base(client_id, "client_credentials", scopes, claims)
}
