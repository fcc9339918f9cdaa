//! The form of each grant, one file per grant. Scopes go on the wire sorted and space-joined;
//! `claims` only when non-empty.

use std::borrow::Cow;

mod authorization_code;
mod client_credentials;
mod device_code;
mod on_behalf_of;
mod password;
mod refresh_token;
mod user_fic;

pub use authorization_code::authorization_code;
pub use client_credentials::client_credentials;
pub use device_code::{DEVICE_CODE_GRANT, device_authorization, device_code};
pub use on_behalf_of::on_behalf_of;
pub use password::{password, saml_bearer};
pub use refresh_token::refresh_token;
pub use user_fic::{UserFicSubject, user_fic};

/// A token request's form: field names (nearly always constants) and values (mostly the
/// application's own strings), borrowed where they can be.
pub type Form<'a> = Vec<(Cow<'static, str>, Cow<'a, str>)>;

/// Fields every token request carries.
pub(crate) fn base<'a>(
    client_id: &'a str,
    grant_type: &'a str,
    scopes: &'a [String],
    claims: Option<&'a str>,
) -> Form<'a> {
    let scope: Cow<'a, str> = match scopes {
        [] => Cow::Borrowed(""),
        [one] => Cow::Borrowed(one),
        many => {
            let mut sorted: Vec<&str> = many.iter().map(String::as_str).collect();
            sorted.sort_unstable();
            sorted.dedup();
            Cow::Owned(sorted.join(" "))
        }
    };
    // Room for the grant's own fields and the client's credential.
    let mut form = Vec::with_capacity(8);
    form.push(("client_id".into(), client_id.into()));
    form.push(("grant_type".into(), grant_type.into()));
    form.push(("scope".into(), scope));
    if let Some(claims) = claims.filter(|c| !c.is_empty()) {
        form.push(("claims".into(), claims.into()));
    }
    form
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(form: &'a [(Cow<'static, str>, Cow<'_, str>)], k: &str) -> Option<&'a str> {
        form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_ref())
    }

    #[test]
    fn exact_forms() {
        let scopes = vec!["b".to_string(), "a".to_string(), "b".to_string()];
        let f = client_credentials("cid", &scopes, None);
        assert_eq!(
            f,
            vec![
                ("client_id".into(), "cid".into()),
                ("grant_type".into(), "client_credentials".into()),
                ("scope".into(), "a b".into())
            ]
        );
        let f = refresh_token("cid", "rt", &scopes, Some("{}"));
        assert_eq!(get(&f, "grant_type"), Some("refresh_token"));
        assert_eq!(get(&f, "refresh_token"), Some("rt"));
        assert_eq!(get(&f, "client_info"), Some("1"));
        assert_eq!(get(&f, "claims"), Some("{}"));
        let f = on_behalf_of("cid", "user-at", &scopes, None);
        assert_eq!(
            get(&f, "grant_type"),
            Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
        );
        assert_eq!(get(&f, "requested_token_use"), Some("on_behalf_of"));
        assert_eq!(get(&f, "assertion"), Some("user-at"));
        let f = device_code("cid", "dc", None);
        assert_eq!(get(&f, "grant_type"), Some(DEVICE_CODE_GRANT));
        assert_eq!(get(&f, "device_code"), Some("dc"));
        assert_eq!(get(&f, "code"), Some("dc"));
        assert_eq!(get(&f, "scope"), None);
        let f = device_authorization("cid", &scopes, None);
        assert_eq!(get(&f, "grant_type"), None);
        assert_eq!(get(&f, "scope"), Some("a b"));
        let f = password("cid", "u@x", "pw", &scopes, None);
        assert_eq!(
            (get(&f, "username"), get(&f, "password")),
            (Some("u@x"), Some("pw"))
        );
        let f = saml_bearer(
            "cid",
            "urn:ietf:params:oauth:grant-type:saml2-bearer",
            "<a>?</a>",
            &scopes,
            None,
        );
        assert_eq!(
            get(&f, "grant_type"),
            Some("urn:ietf:params:oauth:grant-type:saml2-bearer")
        );
        assert_eq!(get(&f, "assertion"), Some("PGE-PzwvYT4"));
        assert_eq!(get(&f, "client_info"), Some("1"));
        let f = authorization_code(
            "cid",
            "code",
            "http://localhost:1",
            Some("verifier"),
            &scopes,
            None,
        );
        assert_eq!(get(&f, "code_verifier"), Some("verifier"));
        assert_eq!(get(&f, "redirect_uri"), Some("http://localhost:1"));
        let f = authorization_code("cid", "code", "", None, &scopes, None);
        assert_eq!(
            (get(&f, "code_verifier"), get(&f, "redirect_uri")),
            (None, None)
        );
        let f = user_fic("cid", "fic", UserFicSubject::Username("u@x"), &scopes, None);
        assert_eq!(get(&f, "grant_type"), Some("user_fic"));
        assert_eq!(get(&f, "user_federated_identity_credential"), Some("fic"));
        assert_eq!(get(&f, "username"), Some("u@x"));
        assert_eq!(get(&f, "user_id"), None);
        assert_eq!(get(&f, "client_info"), Some("1"));
        let f = user_fic("cid", "fic", UserFicSubject::ObjectId("oid"), &scopes, None);
        assert_eq!(
            (get(&f, "user_id"), get(&f, "username")),
            (Some("oid"), None)
        );
    }
}
