//! `grant_type=authorization_code` with PKCE.

use super::Form;

/// The form of an authorization-code redemption (scopes already decorated). An empty
/// `redirect_uri` is left out, and so is a missing PKCE `code_verifier` (a code obtained without
/// PKCE).
pub fn authorization_code<'a>(
    client_id: &'a str,
    code: &'a str,
    redirect_uri: &'a str,
    code_verifier: Option<&'a str>,
    scopes: &'a [String],
    claims: Option<&'a str>,
) -> Form<'a> {
    let mut form = super::base(client_id, "authorization_code", scopes, claims);
    form.push(("code".into(), code.into()));
    if !redirect_uri.is_empty() {
        form.push(("redirect_uri".into(), redirect_uri.into()));
    }
    if let Some(verifier) = code_verifier {
        form.push(("code_verifier".into(), verifier.into()));
    }
    form.push(("client_info".into(), "1".into()));
    form
}
