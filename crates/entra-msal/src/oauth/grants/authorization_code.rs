//! `grant_type=authorization_code` with PKCE.

/// The form of an authorization-code redemption (scopes already decorated).
pub fn authorization_code(
    client_id: &str,
    code: &str,
    redirect_uri: &str,
    code_verifier: &str,
    scopes: &[String],
    claims: Option<&str>,
) -> Vec<(String, String)> {
    let mut form = super::base(client_id, "authorization_code", scopes, claims);
    form.push(("code".into(), code.into()));
    form.push(("redirect_uri".into(), redirect_uri.into()));
    form.push(("code_verifier".into(), code_verifier.into()));
    form.push(("client_info".into(), "1".into()));
    form
}
