//! The one decoder of `client_info` and ID-token payloads, without signature validation (as MSAL
//! does: tokens obtained directly from the token endpoint need none). The cache, the results,
//! the auth-code flow's nonce check and the broker codecs all read tokens through it, so they
//! cannot disagree about who a token names.
//!
//! base64 is decoded leniently, like MSAL Python's `decode_part`: padding is optional, and both
//! the URL-safe and the standard alphabets are accepted. Claims read as text accept numbers too
//! (a numeric `uid` or `utid` is formatted).

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};

const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Decodes base64url or base64, with or without padding.
pub(crate) fn decode_base64_lenient(input: &str) -> Option<Vec<u8>> {
    let cleaned: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    LENIENT.decode(cleaned.as_bytes()).ok()
}

/// Decodes a base64 text holding a JSON object.
pub(crate) fn decode_json_object(input: &str) -> Option<Map<String, Value>> {
    let bytes = decode_base64_lenient(input)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// The claims of a JWT (its second segment), without validation.
pub(crate) fn jwt_claims(jwt: &str) -> Option<Map<String, Value>> {
    decode_json_object(jwt.split('.').nth(1)?)
}

/// `{uid}.{utid}` from a `client_info` (base64 JSON; `uid` and `utid` may be numbers).
pub(crate) fn home_account_id(client_info: &str) -> Option<String> {
    let info = decode_json_object(client_info)?;
    Some(format!(
        "{}.{}",
        claim_text(&info, "uid")?,
        claim_text(&info, "utid")?
    ))
}

/// A claim as text: strings as they are, numbers and booleans formatted (Python's `format`).
pub(crate) fn claim_text(map: &Map<String, Value>, name: &str) -> Option<String> {
    match map.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    #[test]
    fn decodes_with_and_without_padding_in_both_alphabets() {
        let data = b"{\"uid\":\"u\",\"utid\":\"t?>\"}";
        for encoded in [STANDARD.encode(data), URL_SAFE_NO_PAD.encode(data)] {
            let map = decode_json_object(&encoded).unwrap();
            assert_eq!(map["utid"], "t?>");
        }
        assert!(decode_json_object("not base64 !!").is_none());
        assert!(decode_json_object(&URL_SAFE_NO_PAD.encode(b"[1]")).is_none());
    }

    #[test]
    fn reads_jwt_payload_without_validation() {
        let payload = STANDARD.encode(b"{\"sub\":\"subject\",\"n\":5}");
        let claims = jwt_claims(&format!("header.{payload}.signature")).unwrap();
        assert_eq!(claim_text(&claims, "sub").as_deref(), Some("subject"));
        assert_eq!(claim_text(&claims, "n").as_deref(), Some("5"));
        assert!(jwt_claims("no-dots").is_none());
    }

    #[test]
    fn home_account_id_accepts_padding_and_numbers() {
        let padded = STANDARD.encode(b"{\"uid\":\"u\",\"utid\":\"t\"}");
        assert!(padded.ends_with('='));
        assert_eq!(home_account_id(&padded).as_deref(), Some("u.t"));
        let numeric = URL_SAFE_NO_PAD.encode(b"{\"uid\":12,\"utid\":34}");
        assert_eq!(home_account_id(&numeric).as_deref(), Some("12.34"));
        assert!(home_account_id(&URL_SAFE_NO_PAD.encode(b"{\"uid\":\"u\"}")).is_none());
    }
}
