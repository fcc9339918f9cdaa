//! The RequestSecurityTokenResponse: the SAML assertion (its exact bytes) and its token type,
//! or the SOAP fault the federation server answered instead.

use super::ns;
use super::xml::{self, Element};

/// The `grant_type` for redeeming a SAML 1.1 assertion at Entra's token endpoint.
pub(crate) const GRANT_SAML1_1: &str = "urn:ietf:params:oauth:grant-type:saml1_1-bearer";
/// The `grant_type` for redeeming a SAML 2.0 assertion (RFC 7522).
pub(crate) const GRANT_SAML2: &str = "urn:ietf:params:oauth:grant-type:saml2-bearer";

/// The SAML version of an issued assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SamlVersion {
    /// SAML 1.1.
    V1_1,
    /// SAML 2.0.
    V2,
}

impl SamlVersion {
    /// The version a `TokenType` names (the SAML namespaces and the WSS SAML token profile's
    /// URIs), if known.
    pub fn from_token_type(token_type: &str) -> Option<Self> {
        match token_type {
            "urn:oasis:names:tc:SAML:1.0:assertion"
            | "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1" => {
                Some(Self::V1_1)
            }
            "urn:oasis:names:tc:SAML:2.0:assertion"
            | "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0" => {
                Some(Self::V2)
            }
            _ => None,
        }
    }

    /// The grant that redeems it.
    pub fn grant_type(self) -> &'static str {
        match self {
            Self::V1_1 => GRANT_SAML1_1,
            Self::V2 => GRANT_SAML2,
        }
    }
}

/// An issued SAML assertion, exactly as the federation server sent it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SamlAssertion {
    /// The assertion's XML (a bearer credential: never logged).
    pub xml: String,
    /// Its SAML version.
    pub version: SamlVersion,
}

impl std::fmt::Debug for SamlAssertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamlAssertion")
            .field("xml", &"[redacted]")
            .field("version", &self.version)
            .finish()
    }
}

/// What a WS-Trust response says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RstrOutcome {
    /// A token was issued.
    Token(SamlAssertion),
    /// The server answered a SOAP fault (a wrong password, a locked account...).
    Fault {
        /// The fault's subcode (`a:FailedAuthentication`), else its code.
        code: String,
        /// The fault's reason text.
        reason: String,
    },
}

/// Reads a WS-Trust response body; `Err` says why it is neither a token nor a fault.
pub(crate) fn parse(body: &str) -> Result<RstrOutcome, String> {
    let root = xml::parse(body)?;
    let elements = root.descendants();
    let responses = elements
        .iter()
        .filter(|e| is_trust(e, "RequestSecurityTokenResponse"));
    for rstr in responses {
        let inside = rstr.descendants();
        let token_type = inside.iter().find(|e| is_trust(e, "TokenType"));
        let token = inside
            .iter()
            .find(|e| is_trust(e, "RequestedSecurityToken"));
        if let (Some(token_type), Some(token)) = (token_type, token) {
            let token_type = token_type.trimmed_text();
            let version = SamlVersion::from_token_type(token_type).ok_or_else(|| {
                format!(
                    "the token issued is of an unknown type {token_type:?}, not SAML 1.1 or 2.0"
                )
            })?;
            let xml = body[token.inner.clone()].trim();
            if xml.is_empty() {
                return Err("the RequestedSecurityToken is empty".into());
            }
            return Ok(RstrOutcome::Token(SamlAssertion {
                xml: xml.to_string(),
                version,
            }));
        }
    }
    let fault = root.find_path(&[(ns::SOAP, "Body"), (ns::SOAP, "Fault")]);
    if let Some(fault) = fault {
        let text = |path: &[(&str, &str)]| {
            fault
                .find_path(path)
                .map(|e| e.trimmed_text().to_string())
                .filter(|t| !t.is_empty())
        };
        let code = text(&[
            (ns::SOAP, "Code"),
            (ns::SOAP, "Subcode"),
            (ns::SOAP, "Value"),
        ])
        .or_else(|| text(&[(ns::SOAP, "Code"), (ns::SOAP, "Value")]))
        .unwrap_or_else(|| "(no code)".into());
        let reason = text(&[(ns::SOAP, "Reason"), (ns::SOAP, "Text")])
            .unwrap_or_else(|| "(no reason given)".into());
        return Ok(RstrOutcome::Fault { code, reason });
    }
    Err(
        "the response holds neither a RequestSecurityTokenResponse with a token nor a SOAP fault"
            .into(),
    )
}

fn is_trust(e: &Element, name: &str) -> bool {
    e.name == name && (e.ns == ns::TRUST13 || e.ns == ns::TRUST2005)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const SAML1: &str = r#"<saml:Assertion MajorVersion="1" MinorVersion="1" AssertionID="_a1" xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion"><saml:Conditions NotOnOrAfter="2026-12-06T12:00:00Z"/><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignatureValue>c2ln</ds:SignatureValue></ds:Signature></saml:Assertion>"#;
    const SAML2: &str = r#"<Assertion ID="_a2" Version="2.0" xmlns="urn:oasis:names:tc:SAML:2.0:assertion"><Issuer>http://fs.example/adfs/services/trust</Issuer></Assertion>"#;

    fn rstr13(token_type: &str, assertion: &str) -> String {
        format!(
            r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header><a:Action s:mustUnderstand="1">http://docs.oasis-open.org/ws-sx/ws-trust/200512/RSTRC/IssueFinal</a:Action></s:Header><s:Body><trust:RequestSecurityTokenResponseCollection xmlns:trust="http://docs.oasis-open.org/ws-sx/ws-trust/200512"><trust:RequestSecurityTokenResponse><trust:Lifetime/><trust:RequestedSecurityToken>{assertion}</trust:RequestedSecurityToken><trust:TokenType>{token_type}</trust:TokenType><trust:RequestType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue</trust:RequestType><trust:KeyType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Bearer</trust:KeyType></trust:RequestSecurityTokenResponse></trust:RequestSecurityTokenResponseCollection></s:Body></s:Envelope>"#
        )
    }

    fn rstr2005(token_type: &str, assertion: &str) -> String {
        format!(
            r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><t:RequestSecurityTokenResponse xmlns:t="http://schemas.xmlsoap.org/ws/2005/02/trust"><t:Lifetime/><t:RequestedSecurityToken>
{assertion}
</t:RequestedSecurityToken><t:TokenType>{token_type}</t:TokenType></t:RequestSecurityTokenResponse></s:Body></s:Envelope>"#
        )
    }

    /// A SOAP fault as ADFS answers a wrong password.
    pub(crate) const FAULT: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header><a:Action s:mustUnderstand="1">http://www.w3.org/2005/08/addressing/soap/fault</a:Action></s:Header><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value xmlns:a="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">a:FailedAuthentication</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">ID3242: The security token could not be authenticated or authorized.</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>"#;

    #[test]
    fn tokens_of_both_versions_kept_byte_for_byte() {
        let r = parse(&rstr13("urn:oasis:names:tc:SAML:2.0:assertion", SAML2)).unwrap();
        assert_eq!(
            r,
            RstrOutcome::Token(SamlAssertion {
                xml: SAML2.into(),
                version: SamlVersion::V2
            })
        );
        let r = parse(&rstr2005("urn:oasis:names:tc:SAML:1.0:assertion", SAML1)).unwrap();
        assert_eq!(
            r,
            RstrOutcome::Token(SamlAssertion {
                xml: SAML1.into(),
                version: SamlVersion::V1_1
            })
        );
        let r = parse(&rstr13(
            "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1",
            SAML1,
        ))
        .unwrap();
        assert!(matches!(
            r,
            RstrOutcome::Token(SamlAssertion {
                version: SamlVersion::V1_1,
                ..
            })
        ));
        assert_eq!(SamlVersion::V1_1.grant_type(), GRANT_SAML1_1);
        assert_eq!(SamlVersion::V2.grant_type(), GRANT_SAML2);
    }

    #[test]
    fn faults_unknown_types_and_garbage() {
        assert_eq!(
            parse(FAULT).unwrap(),
            RstrOutcome::Fault {
                code: "a:FailedAuthentication".into(),
                reason: "ID3242: The security token could not be authenticated or authorized."
                    .into()
            }
        );
        let e = parse(&rstr13("urn:example:jwt", SAML2)).unwrap_err();
        assert!(e.contains("unknown type"), "{e}");
        assert!(parse("<html>Service Unavailable</html>").is_err());
        assert!(parse("Service Unavailable").is_err());
    }

    #[test]
    fn debug_hides_the_assertion() {
        let a = SamlAssertion {
            xml: SAML2.into(),
            version: SamlVersion::V2,
        };
        assert!(!format!("{a:?}").contains("Issuer"));
    }
}
