//! Reading a JWT's header and claims (no signature check).

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::failure::Failure;

fn part(token: &str, index: usize, name: &str) -> Result<Map<String, Value>, Failure> {
    let segment = token.split('.').nth(index).ok_or_else(|| {
        Failure::other(format!("this is not a JWT: it has no {name} part"))
            .next("pass an access or id token: three base64url parts separated by dots")
    })?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment.trim_end_matches('='))
        .map_err(|e| {
            Failure::other(format!("the JWT's {name} is not base64url: {e}"))
                .next("check that the token was copied whole")
        })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Failure::other(format!("the JWT's {name} is not a JSON object: {e}")).next(
            "an opaque (non-JWT) token cannot be decoded; only the resource that issued it can read it",
        )
    })
}

/// The header of a JWT.
pub fn header(token: &str) -> Result<Map<String, Value>, Failure> {
    part(token.trim(), 0, "header")
}

/// The claims of a JWT.
pub fn claims(token: &str) -> Result<Map<String, Value>, Failure> {
    let token = token.trim();
    if token.split('.').count() == 5 {
        return Err(Failure::other(
            "this is an encrypted token (JWE, 5 parts separated by dots): its claims can only be read with the key of the resource it was issued for",
        )
        .next("pass an access or id token that is a signed JWT (3 parts, eyJ...)"));
    }
    if token.split('.').count() != 3 {
        return Err(Failure::other(format!(
            "this is not a JWT: it has {} parts separated by dots, not 3",
            token.split('.').count()
        ))
        .next("pass an access or id token (eyJ...)"));
    }
    part(token, 1, "claims")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_refuses() {
        let enc = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let jwt = format!(
            "{}.{}.sig",
            enc(r#"{"alg":"RS256"}"#),
            enc(r#"{"tid":"t"}"#)
        );
        assert_eq!(header(&jwt).unwrap()["alg"], "RS256");
        assert_eq!(claims(&jwt).unwrap()["tid"], "t");
        assert!(claims("abc").is_err());
        assert!(claims("a.b.c").is_err());
        let jwe = claims("h.k.iv.ct.tag").unwrap_err();
        assert!(
            jwe.message.contains("encrypted token (JWE"),
            "{}",
            jwe.message
        );
        assert!(claims(&format!("x.{}.s", enc("[1]"))).is_err());
    }
}
