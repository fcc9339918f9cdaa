//! `grant_type=password` (resource owner password credentials).

/// The form of a username/password request (scopes already decorated).
pub fn password(
    client_id: &str,
    username: &str,
    password: &str,
    scopes: &[String],
    claims: Option<&str>,
) -> Vec<(String, String)> {
    let mut form = super::base(client_id, "password", scopes, claims);
    form.push(("username".into(), username.into()));
    form.push(("password".into(), password.into()));
    form.push(("client_info".into(), "1".into()));
    form
}
