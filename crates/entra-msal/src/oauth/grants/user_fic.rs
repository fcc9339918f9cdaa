//! `grant_type=user_fic`: a federated identity credential exchanged for a user's tokens.

use super::Form;

/// Who the token is for: a user principal name or an object id.
pub enum UserFicSubject<'a> {
    /// `username=<upn>`.
    Username(&'a str),
    /// `user_id=<object id>`.
    ObjectId(&'a str),
}

/// The form of a `user_fic` request (scopes already decorated).
pub fn user_fic<'a>(
    client_id: &'a str,
    credential: &'a str,
    subject: UserFicSubject<'a>,
    scopes: &'a [String],
    claims: Option<&'a str>,
) -> Form<'a> {
    let mut form = super::base(client_id, "user_fic", scopes, claims);
    form.push((
        "user_federated_identity_credential".into(),
        credential.into(),
    ));
    form.push(("client_info".into(), "1".into()));
    match subject {
        UserFicSubject::Username(name) => form.push(("username".into(), name.into())),
        UserFicSubject::ObjectId(oid) => form.push(("user_id".into(), oid.into())),
    }
    form
}
