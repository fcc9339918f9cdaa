//! The SAML assertions the emulated federation server (ADFS) issues for a federated user, and
//! their checks when the token endpoint redeems one (the SAML 1.1 and 2.0 bearer grants).
//!
//! The signature is an enveloped XML signature made the emulator's way: the `DigestValue` is the
//! SHA-256 of the assertion's exact text without its `ds:Signature` element, and the
//! `SignatureValue` is RSA-SHA256 (the token-signing key) over the `ds:SignedInfo` element's
//! exact text. No canonicalization is done: the emulator only verifies what it issued, byte for
//! byte, as clients pass assertions on unchanged.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

use crate::crypto::{self, CryptoError, SigningKey};
use crate::xml::{Document, escape};

/// The audience Entra accepts federated assertions for.
pub const ENTRA_AUDIENCE: &str = "urn:federation:MicrosoftOnline";
/// The SAML 1.1 assertion namespace (also its WS-Trust `TokenType`).
pub const SAML1_NS: &str = "urn:oasis:names:tc:SAML:1.0:assertion";
/// The SAML 2.0 assertion namespace (also its WS-Trust `TokenType`).
pub const SAML2_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// How long an issued assertion is valid.
pub const LIFETIME_SECONDS: i64 = 3600;

const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const SIGNATURE_OPEN: &str = "<ds:Signature ";
const SIGNATURE_CLOSE: &str = "</ds:Signature>";

/// The SAML version of an assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamlVersion {
    /// SAML 1.1 (`urn:ietf:params:oauth:grant-type:saml1_1-bearer`).
    V1_1,
    /// SAML 2.0 (`urn:ietf:params:oauth:grant-type:saml2-bearer`).
    V2,
}

impl SamlVersion {
    /// The assertion namespace, which is also the WS-Trust `TokenType`.
    pub fn namespace(self) -> &'static str {
        match self {
            Self::V1_1 => SAML1_NS,
            Self::V2 => SAML2_NS,
        }
    }
}

/// An assertion that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    /// `AssertionID` (SAML 1.1) or `ID` (SAML 2.0), for one-time use.
    pub id: String,
    /// The user's sign-in name (the subject).
    pub username: String,
    /// `NotOnOrAfter`, Unix seconds.
    pub not_on_or_after: i64,
}

/// `2026-12-06T10:00:00Z`.
pub fn utc(seconds: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(seconds)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Reads `YYYY-MM-DDTHH:MM:SSZ` (the form [`utc`] writes).
fn parse_utc(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let n = |range: std::ops::Range<usize>| text.get(range)?.parse::<u16>().ok();
    let date = time::Date::from_calendar_date(
        i32::from(n(0..4)?),
        time::Month::try_from(u8::try_from(n(5..7)?).ok()?).ok()?,
        u8::try_from(n(8..10)?).ok()?,
    )
    .ok()?;
    let clock = time::Time::from_hms(
        u8::try_from(n(11..13)?).ok()?,
        u8::try_from(n(14..16)?).ok()?,
        u8::try_from(n(17..19)?).ok()?,
    )
    .ok()?;
    Some(
        time::PrimitiveDateTime::new(date, clock)
            .assume_utc()
            .unix_timestamp(),
    )
}

/// Issues a signed assertion for `username`, audience [`ENTRA_AUDIENCE`], valid for an hour.
pub fn issue(
    key: &SigningKey,
    issuer: &str,
    version: SamlVersion,
    username: &str,
    now: i64,
) -> Result<String, CryptoError> {
    let id = format!("_{}", crypto::random_uuid());
    let (issued, not_after) = (utc(now), utc(now + LIFETIME_SECONDS));
    let (issuer, user) = (escape(issuer), escape(username));
    // The assertion in two parts; the signature goes between them.
    let (before, after) = match version {
        SamlVersion::V1_1 => (
            format!(
                concat!(
                    r#"<saml:Assertion MajorVersion="1" MinorVersion="1" AssertionID="{id}" Issuer="{issuer}" IssueInstant="{issued}" xmlns:saml="{ns}">"#,
                    r#"<saml:Conditions NotBefore="{issued}" NotOnOrAfter="{not_after}"><saml:AudienceRestrictionCondition><saml:Audience>{audience}</saml:Audience></saml:AudienceRestrictionCondition></saml:Conditions>"#,
                    r#"<saml:AttributeStatement><saml:Subject><saml:NameIdentifier Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{user}</saml:NameIdentifier><saml:SubjectConfirmation><saml:ConfirmationMethod>urn:oasis:names:tc:SAML:1.0:cm:bearer</saml:ConfirmationMethod></saml:SubjectConfirmation></saml:Subject>"#,
                    r#"<saml:Attribute AttributeName="UPN" AttributeNamespace="http://schemas.xmlsoap.org/claims"><saml:AttributeValue>{user}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>"#,
                    r#"<saml:AuthenticationStatement AuthenticationMethod="urn:oasis:names:tc:SAML:1.0:am:password" AuthenticationInstant="{issued}"><saml:Subject><saml:NameIdentifier Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{user}</saml:NameIdentifier><saml:SubjectConfirmation><saml:ConfirmationMethod>urn:oasis:names:tc:SAML:1.0:cm:bearer</saml:ConfirmationMethod></saml:SubjectConfirmation></saml:Subject></saml:AuthenticationStatement>"#,
                ),
                id = id,
                issuer = issuer,
                issued = issued,
                not_after = not_after,
                ns = SAML1_NS,
                audience = ENTRA_AUDIENCE,
                user = user,
            ),
            "</saml:Assertion>".to_string(),
        ),
        SamlVersion::V2 => (
            format!(
                r#"<Assertion ID="{id}" IssueInstant="{issued}" Version="2.0" xmlns="{ns}"><Issuer>{issuer}</Issuer>"#,
                ns = SAML2_NS,
            ),
            format!(
                concat!(
                    r#"<Subject><NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{user}</NameID><SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><SubjectConfirmationData NotOnOrAfter="{not_after}"/></SubjectConfirmation></Subject>"#,
                    r#"<Conditions NotBefore="{issued}" NotOnOrAfter="{not_after}"><AudienceRestriction><Audience>{audience}</Audience></AudienceRestriction></Conditions>"#,
                    r#"<AuthnStatement AuthnInstant="{issued}"><AuthnContext><AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</AuthnContextClassRef></AuthnContext></AuthnStatement>"#,
                    "</Assertion>"
                ),
                user = user,
                issued = issued,
                not_after = not_after,
                audience = ENTRA_AUDIENCE,
            ),
        ),
    };
    let digest = STANDARD.encode(Sha256::digest(format!("{before}{after}").as_bytes()));
    let signed_info = format!(
        concat!(
            r#"<ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#,
            r#"<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>"#,
            r##"<ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/></ds:Transforms>"##,
            r#"<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>"#
        ),
        id = id,
        digest = digest,
    );
    let signature = STANDARD.encode(key.sign_rs256(signed_info.as_bytes())?);
    Ok(format!(
        r#"{before}{SIGNATURE_OPEN}xmlns:ds="{DSIG_NS}">{signed_info}<ds:SignatureValue>{signature}</ds:SignatureValue></ds:Signature>{after}"#
    ))
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = start + text[start..].find(close)?;
    Some(&text[start..end])
}

/// Checks an assertion redeemed with the grant for `version`: the emulator's signature over its
/// exact text, the audience, the validity window, and the subject. The error says which failed.
pub fn verify(
    key: &SigningKey,
    assertion: &str,
    version: SamlVersion,
    now: i64,
) -> Result<VerifiedAssertion, String> {
    // The signature, and the assertion without it.
    let start = assertion
        .find(SIGNATURE_OPEN)
        .ok_or("The assertion is not signed.")?;
    let end = assertion[start..]
        .find(SIGNATURE_CLOSE)
        .map(|e| start + e + SIGNATURE_CLOSE.len())
        .ok_or("The assertion's signature is malformed.")?;
    if assertion[end..].contains(SIGNATURE_OPEN) {
        return Err("The assertion has more than one signature.".into());
    }
    let signature_element = &assertion[start..end];
    let unsigned = format!("{}{}", &assertion[..start], &assertion[end..]);
    let signed_info = between(signature_element, "<ds:SignedInfo>", "</ds:SignedInfo>")
        .map(|inner| format!("<ds:SignedInfo>{inner}</ds:SignedInfo>"))
        .ok_or("The assertion's signature has no SignedInfo.")?;
    let digest = between(&signed_info, "<ds:DigestValue>", "</ds:DigestValue>")
        .ok_or("The assertion's signature has no DigestValue.")?;
    let signature_value = between(
        signature_element,
        "<ds:SignatureValue>",
        "</ds:SignatureValue>",
    )
    .and_then(|v| STANDARD.decode(v.trim()).ok())
    .ok_or("The assertion's SignatureValue is malformed.")?;
    ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        key.public_key_der(),
    )
    .verify(signed_info.as_bytes(), &signature_value)
    .map_err(|_| "The assertion's signature was not made by this federation server.")?;
    if STANDARD.encode(Sha256::digest(unsigned.as_bytes())) != digest.trim() {
        return Err("The assertion was changed after it was signed.".into());
    }
    // The content.
    let doc = Document::parse(assertion).map_err(|e| format!("The assertion is not XML: {e}"))?;
    let root = doc.root();
    if root.path != ["Assertion"] || root.ns != version.namespace() {
        return Err(format!(
            "The assertion is not a SAML {} assertion, as the grant type says.",
            if version == SamlVersion::V1_1 {
                "1.1"
            } else {
                "2.0"
            }
        ));
    }
    let id = root
        .attr(if version == SamlVersion::V1_1 {
            "AssertionID"
        } else {
            "ID"
        })
        .ok_or("The assertion has no ID.")?
        .to_string();
    let reference = between(&signed_info, "URI=\"#", "\"").unwrap_or_default();
    if reference != id {
        return Err("The assertion's signature refers to another element.".into());
    }
    let (audience, subject) = match version {
        SamlVersion::V1_1 => (
            doc.text(&["AudienceRestrictionCondition", "Audience"]),
            doc.text(&["AuthenticationStatement", "Subject", "NameIdentifier"]),
        ),
        SamlVersion::V2 => (
            doc.text(&["AudienceRestriction", "Audience"]),
            doc.text(&["Assertion", "Subject", "NameID"]),
        ),
    };
    if audience != Some(ENTRA_AUDIENCE) {
        return Err(format!("The assertion's audience is not {ENTRA_AUDIENCE}."));
    }
    let conditions = doc
        .find(&["Assertion", "Conditions"])
        .ok_or("The assertion has no Conditions.")?;
    let not_on_or_after = conditions
        .attr("NotOnOrAfter")
        .and_then(parse_utc)
        .ok_or("The assertion has no valid NotOnOrAfter.")?;
    let not_before = conditions.attr("NotBefore").and_then(parse_utc);
    if not_on_or_after <= now || not_before.is_some_and(|nb| nb > now + 300) {
        return Err("The assertion is not within its valid time range.".into());
    }
    let username = subject
        .filter(|s| !s.is_empty())
        .ok_or("The assertion has no subject.")?
        .to_string();
    Ok(VerifiedAssertion {
        id,
        username,
        not_on_or_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_pem(&crate::key_cache::rsa_key_pem(crate::key_cache::SIGNING_KEY).unwrap())
            .unwrap()
    }

    #[test]
    fn issued_assertions_verify_and_tampering_is_caught() {
        let key = key();
        let now = 1_800_000_000;
        for version in [SamlVersion::V1_1, SamlVersion::V2] {
            let a = issue(
                &key,
                "https://127.0.0.1/adfs/services/trust",
                version,
                "erin@x.example",
                now,
            )
            .unwrap();
            let v = verify(&key, &a, version, now + 10).unwrap();
            assert_eq!(v.username, "erin@x.example");
            assert_eq!(v.not_on_or_after, now + LIFETIME_SECONDS);
            assert!(v.id.starts_with('_'));
            // Expired.
            assert!(
                verify(&key, &a, version, now + LIFETIME_SECONDS)
                    .unwrap_err()
                    .contains("time range")
            );
            // Changed after signing.
            let changed = a.replace("erin@x.example", "mallory@x.example");
            assert!(
                verify(&key, &changed, version, now)
                    .unwrap_err()
                    .contains("changed")
            );
            // The other version's grant.
            let other = if version == SamlVersion::V1_1 {
                SamlVersion::V2
            } else {
                SamlVersion::V1_1
            };
            assert!(verify(&key, &a, other, now).is_err());
            // Unsigned.
            let start = a.find(SIGNATURE_OPEN).unwrap();
            let end = a.find(SIGNATURE_CLOSE).unwrap() + SIGNATURE_CLOSE.len();
            let unsigned = format!("{}{}", &a[..start], &a[end..]);
            assert!(
                verify(&key, &unsigned, version, now)
                    .unwrap_err()
                    .contains("not signed")
            );
        }
    }
}
