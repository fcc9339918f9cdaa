//! Cache keys, byte-compatible with MSAL Python 1.39 (`TokenCache.key_makers`), and the
//! `ext_cache_key` hash.
//!
//! Every key joins its parts with `-` and is lowercased, except the AppMetadata key, which MSAL
//! Python leaves as written. A missing value (`None`) contributes an empty part.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

/// Request-body fields that never contribute to [`ext_cache_key`] (MSAL Python's
/// `_EXT_CACHE_KEY_EXCLUDED_FIELDS`): the standard OAuth 2.0 parameters, credentials, and fields
/// that are cached separately.
pub const EXT_CACHE_KEY_EXCLUDED_FIELDS: [&str; 22] = [
    "client_id",
    "grant_type",
    "scope",
    "claims",
    "username",
    "password",
    "refresh_token",
    "code",
    "redirect_uri",
    "code_verifier",
    "device_code",
    "assertion",
    "requested_token_use",
    "client_assertion",
    "client_assertion_type",
    "client_secret",
    "token_type",
    "req_cnf",
    "key_id",
    "user_federated_identity_credential",
    "user_id",
    "client_info",
];

/// The extended cache key of a token request, which isolates access tokens obtained with extra
/// body parameters (an FMI path, forwarded client claims, ...) from ordinary ones.
///
/// The input is every request-body field; fields with an empty value or in
/// [`EXT_CACHE_KEY_EXCLUDED_FIELDS`] are ignored. The remaining pairs, sorted by key, are encoded
/// as netstrings (`{byte length}:{key}{byte length}:{value}`), hashed with SHA-256, and encoded
/// as lowercased base64url without padding (MSAL Python 1.38+, MSAL Go). Returns `None` when no
/// field contributes, in which case the token is cached under an ordinary key.
///
/// (Golden vectors from MSAL Python in the tests below.)
pub fn ext_cache_key(params: &BTreeMap<String, String>) -> Option<String> {
    let mut hasher = Sha256::new();
    let mut any = false;
    // A BTreeMap iterates in byte order, which for UTF-8 is code-point order (Python's sort).
    for (k, v) in params {
        if v.is_empty() || EXT_CACHE_KEY_EXCLUDED_FIELDS.contains(&k.as_str()) {
            continue;
        }
        any = true;
        hasher.update(format!("{}:{k}{}:{v}", k.len(), v.len()).as_bytes());
    }
    if !any {
        return None;
    }
    Some(URL_SAFE_NO_PAD.encode(hasher.finalize()).to_lowercase())
}

fn join_lower(parts: &[&str]) -> String {
    let mut key = String::new();
    join_lower_into(&mut key, parts, '-');
    key
}

/// `parts` joined by `separator`, lowercased, into `key` (cleared first), so a caller can reuse
/// one buffer: MSAL's keys (`-`) and the store's index keys. Returns whether the parts were
/// lowercase ASCII already (the key is then their plain join).
pub(crate) fn join_lower_into(key: &mut String, parts: &[&str], separator: char) -> bool {
    key.clear();
    key.reserve(parts.iter().map(|p| p.len() + 1).sum());
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            key.push(separator);
        }
        key.push_str(part);
    }
    match letters(key.as_bytes()) {
        Letters::LowercaseAscii => true,
        Letters::Ascii => {
            key.make_ascii_lowercase();
            false
        }
        Letters::Other => {
            *key = key.to_lowercase();
            false
        }
    }
}

/// What lowercasing a text involves.
#[derive(Debug, PartialEq, Eq)]
enum Letters {
    /// Nothing: ASCII without an uppercase letter.
    LowercaseAscii,
    /// ASCII with an uppercase letter.
    Ascii,
    /// Beyond ASCII.
    Other,
}

/// Reads eight bytes at a time: a byte beyond ASCII has its high bit set, and for an ASCII byte
/// `b`, `b + 0x3f` has it set from `A` up and `b + 0x25` from `[` up (neither carries into the
/// next byte while every byte is ASCII; when one is not, the answer is `Other` anyway).
fn letters(text: &[u8]) -> Letters {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = ONES * 0x80;
    let (mut high, mut upper) = (0u64, 0u64);
    let mut add = |word: u64| {
        high |= word;
        upper |= word.wrapping_add(ONES * 0x3f) & !word.wrapping_add(ONES * 0x25);
    };
    let mut chunks = text.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        add(u64::from_ne_bytes(word));
    }
    let mut last = [0; 8];
    last[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    add(u64::from_ne_bytes(last));
    if high & HIGH != 0 {
        Letters::Other
    } else if upper & HIGH != 0 {
        Letters::Ascii
    } else {
        Letters::LowercaseAscii
    }
}

/// The AccessToken key: `{home_account_id}-{environment}-accesstoken-{client_id}-{realm}-{target}`,
/// or, with a non-empty `ext_cache_key`,
/// `{home_account_id}-{environment}-atext-{client_id}-{realm}-{target}-{ext_cache_key}`. `key_id`
/// is not part of the key. (The store writes it into a reused buffer: [`access_token_key_into`].)
#[cfg(test)]
pub fn access_token_key(
    home_account_id: Option<&str>,
    environment: &str,
    client_id: &str,
    realm: &str,
    target: &str,
    ext_cache_key: Option<&str>,
) -> String {
    let mut key = String::new();
    access_token_key_into(
        &mut key,
        home_account_id,
        [environment, client_id, realm, target],
        ext_cache_key,
    );
    key
}

/// The AccessToken key (`{home_account_id}-{environment}-accesstoken-…`, `atext` with an
/// extended cache key: see `access_token_key`) into `key` (cleared first); `parts` are the
/// environment, client id, realm and target.
pub(crate) fn access_token_key_into(
    key: &mut String,
    home_account_id: Option<&str>,
    [environment, client_id, realm, target]: [&str; 4],
    ext_cache_key: Option<&str>,
) -> bool {
    let hid = home_account_id.unwrap_or("");
    match ext_cache_key.filter(|e| !e.is_empty()) {
        Some(ext) => join_lower_into(
            key,
            &[hid, environment, "atext", client_id, realm, target, ext],
            '-',
        ),
        None => join_lower_into(
            key,
            &[hid, environment, "accesstoken", client_id, realm, target],
            '-',
        ),
    }
}

/// The RefreshToken key: `{home_account_id}-{environment}-refreshtoken-{client_id}--{target}`.
/// MSAL Python includes the target, where other MSALs leave it empty.
pub fn refresh_token_key(
    home_account_id: Option<&str>,
    environment: &str,
    client_id: &str,
    target: Option<&str>,
) -> String {
    join_lower(&[
        home_account_id.unwrap_or(""),
        environment,
        "refreshtoken",
        client_id,
        "",
        target.unwrap_or(""),
    ])
}

/// The IdToken key: `{home_account_id}-{environment}-idtoken-{client_id}-{realm}-` (the schema
/// requires an empty target part).
pub fn id_token_key(
    home_account_id: Option<&str>,
    environment: &str,
    client_id: &str,
    realm: &str,
) -> String {
    join_lower(&[
        home_account_id.unwrap_or(""),
        environment,
        "idtoken",
        client_id,
        realm,
        "",
    ])
}

/// The Account key: `{home_account_id}-{environment}-{realm}`.
pub fn account_key(home_account_id: &str, environment: &str, realm: &str) -> String {
    join_lower(&[home_account_id, environment, realm])
}

/// The AppMetadata key: `appmetadata-{environment}-{client_id}`, **not** lowercased.
pub fn app_metadata_key(environment: &str, client_id: &str) -> String {
    let mut key = String::new();
    app_metadata_key_into(&mut key, environment, client_id);
    key
}

/// [`app_metadata_key`] into `key` (cleared first).
pub(crate) fn app_metadata_key_into(key: &mut String, environment: &str, client_id: &str) {
    const PREFIX: &str = "appmetadata-";
    key.clear();
    key.reserve(PREFIX.len() + environment.len() + 1 + client_id.len());
    key.push_str(PREFIX);
    key.push_str(environment);
    key.push('-');
    key.push_str(client_id);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte at every position of texts up to 20 bytes long, against the standard library.
    #[test]
    fn letters_agrees_with_the_standard_library() {
        for len in 0..20 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut text = vec![b'x'; len];
                    text[at] = b;
                    let want = if !text.is_ascii() {
                        Letters::Other
                    } else if text.iter().any(u8::is_ascii_uppercase) {
                        Letters::Ascii
                    } else {
                        Letters::LowercaseAscii
                    };
                    assert_eq!(letters(&text), want, "{text:?}");
                }
            }
        }
        assert_eq!(letters(b""), Letters::LowercaseAscii);
        assert_eq!(
            letters("login.microsoftonline.com-é".as_bytes()),
            Letters::Other
        );
    }

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn ext_cache_key_golden_vectors() {
        let cases: [(&[(&str, &str)], &str); 8] = [
            (
                &[("key1", "value1"), ("key2", "value2")],
                "latlwkpewb_a0rcsmjvkecqt0_huumkw4sflzociike",
            ),
            (
                &[("key3", "value3"), ("key4", "value4")],
                "jjoe9jgfmdtnj0rzuetsqy7kzs2m1xfnjjxwsfxsrxq",
            ),
            (
                &[
                    ("key7", "value7"),
                    ("key4", "value4"),
                    ("key6", "value6"),
                    ("key5", "value5"),
                    ("key3", "value3"),
                ],
                "prrdp31y37ufw3lo7hly0oimjjvg_34m9ji30ocu4tw",
            ),
            (
                &[("fmi_path", "agent-app-id")],
                "a0ry_zl4gccsdp7gnw927x8s0mrmnodv6tyilt0u07m",
            ),
            (
                &[("a", "b"), ("cd", "e")],
                "cybgactkrvlzlen1aiwzwl3ay5krkyixommrobc-ri4",
            ),
            (
                &[("fmi_path", "value")],
                "n_lucewkadzv_nybtg-2wtorgf2nrns6ihlfa7vbuzg",
            ),
            (
                &[("fmi_pat", "hvalue")],
                "tjtm16m-suk2_bkniblr25lyuki40qyceco7knuyu0k",
            ),
            (&[("é", "é")], "xskzaoz4ibr3mznftyxctvg1ptuh-0fuzpty7ndbfls"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                ext_cache_key(&params(input)).as_deref(),
                Some(expected),
                "{input:?}"
            );
        }
    }

    #[test]
    fn ext_cache_key_ignores_excluded_and_empty_fields() {
        assert_eq!(ext_cache_key(&BTreeMap::new()), None);
        assert_eq!(
            ext_cache_key(&params(&[
                ("key_id", "k1"),
                ("token_type", "ssh-cert"),
                ("req_cnf", "nonce"),
                ("claims", "{}"),
                ("fmi_path", ""),
            ])),
            None
        );
        assert_eq!(
            ext_cache_key(&params(&[
                ("fmi_path", "value"),
                ("client_id", "x"),
                ("scope", "y")
            ])),
            ext_cache_key(&params(&[("fmi_path", "value")]))
        );
        assert_ne!(
            ext_cache_key(&params(&[("client_claims", "{\"a\": 1}")])),
            ext_cache_key(&params(&[("client_claims", "{\"a\": 2}")]))
        );
    }

    #[test]
    fn full_atext_key() {
        let ext = ext_cache_key(&params(&[("key1", "value1"), ("key2", "value2")]));
        assert_eq!(
            access_token_key(
                Some(""),
                "login.windows.net",
                "d3adb33f-c0de-ed0c-c0de-deadb33fc0d3",
                "common",
                "r1/scope1 r1/scope2",
                ext.as_deref()
            ),
            "-login.windows.net-atext-d3adb33f-c0de-ed0c-c0de-deadb33fc0d3-common-r1/scope1 r1/scope2-latlwkpewb_a0rcsmjvkecqt0_huumkw4sflzociike"
        );
        assert_eq!(
            access_token_key(Some("hid"), "env", "cid", "realm", "scope", Some("")),
            "hid-env-accesstoken-cid-realm-scope"
        );
    }

    #[test]
    fn key_formats() {
        assert_eq!(
            access_token_key(
                Some("Uid.Utid"),
                "Login.Example.com",
                "My_Client_Id",
                "Contoso",
                "S1 S2",
                None
            ),
            "uid.utid-login.example.com-accesstoken-my_client_id-contoso-s1 s2"
        );
        assert_eq!(
            access_token_key(None, "env", "cid", "realm", "s", None),
            "-env-accesstoken-cid-realm-s"
        );
        assert_eq!(
            refresh_token_key(Some("uid.utid"), "login.example.com", "cid", Some("s1 s2")),
            "uid.utid-login.example.com-refreshtoken-cid--s1 s2"
        );
        assert_eq!(
            refresh_token_key(Some("h"), "e", "c", None),
            "h-e-refreshtoken-c--"
        );
        assert_eq!(
            id_token_key(Some("uid.utid"), "login.example.com", "cid", "contoso"),
            "uid.utid-login.example.com-idtoken-cid-contoso-"
        );
        assert_eq!(
            account_key("uid.utid", "login.example.com", "Contoso"),
            "uid.utid-login.example.com-contoso"
        );
        assert_eq!(
            app_metadata_key("login.example.com", "My_Client"),
            "appmetadata-login.example.com-My_Client"
        );
    }
}
