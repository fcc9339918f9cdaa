//! `grant_type=password` (resource owner password credentials), and the SAML bearer grants that
//! redeem a federated user's assertion instead of a password.

use super::Form;

/// The form of a username/password request (scopes already decorated).
pub fn password<'a>(
    client_id: &'a str,
    username: &'a str,
    password: &'a str,
    scopes: &'a [String],
    claims: Option<&'a str>,
) -> Form<'a> {
    let mut form = super::base(client_id, "password", scopes, claims);
    form.push(("username".into(), username.into()));
    form.push(("password".into(), password.into()));
    form.push(("client_info".into(), "1".into()));
    form
}

/// The form redeeming a SAML assertion a federation server issued for the user's password
/// (`grant_type` is the SAML 1.1 or SAML 2.0 bearer grant; the assertion is its XML, base64url
/// without padding, as MSAL Python sends it).
pub fn saml_bearer<'a>(
    client_id: &'a str,
    grant_type: &'a str,
    assertion_xml: &str,
    scopes: &'a [String],
    claims: Option<&'a str>,
) -> Form<'a> {
    use base64::Engine as _;
    let mut form = super::base(client_id, grant_type, scopes, claims);
    form.push((
        "assertion".into(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(assertion_xml.as_bytes())
            .into(),
    ));
    form.push(("client_info".into(), "1".into()));
    form
}
