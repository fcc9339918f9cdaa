//! The RequestSecurityToken SOAP envelope: the user's name and password in a WS-Security
//! `UsernameToken`, a ten-minute timestamp, and the audience the token is for (Entra's
//! `urn:federation:MicrosoftOnline`). Every value is XML-escaped.

use quick_xml::escape::escape;
use time::OffsetDateTime;

use super::{WsTrustVersion, ns};

/// What goes into one request.
pub(crate) struct RstRequest<'a> {
    /// The WS-Trust version of the endpoint.
    pub version: WsTrustVersion,
    /// The endpoint's URL (the `wsa:To` header).
    pub endpoint: &'a str,
    /// The audience (`AppliesTo`).
    pub applies_to: &'a str,
    /// The user's name.
    pub username: &'a str,
    /// The user's password.
    pub password: &'a str,
    /// The time now, in Unix seconds.
    pub now: i64,
    /// The `wsa:MessageID` (a UUID).
    pub message_id: &'a str,
}

impl std::fmt::Debug for RstRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RstRequest")
            .field("version", &self.version)
            .field("endpoint", &self.endpoint)
            .field("password", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// `2026-12-06T10:00:00Z`: seconds, no fraction.
fn utc(seconds: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH);
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

/// The envelope, as the body of a `application/soap+xml` POST.
pub(crate) fn envelope(r: &RstRequest<'_>) -> String {
    let version = r.version;
    format!(
        concat!(
            r#"<s:Envelope xmlns:s="{soap}" xmlns:wsa="{wsa}" xmlns:wsu="{wsu}">"#,
            "<s:Header>",
            r#"<wsa:Action s:mustUnderstand="1">{action}</wsa:Action>"#,
            "<wsa:MessageID>urn:uuid:{message_id}</wsa:MessageID>",
            "<wsa:ReplyTo><wsa:Address>http://www.w3.org/2005/08/addressing/anonymous</wsa:Address></wsa:ReplyTo>",
            r#"<wsa:To s:mustUnderstand="1">{to}</wsa:To>"#,
            r#"<wsse:Security s:mustUnderstand="1" xmlns:wsse="{wsse}">"#,
            r#"<wsu:Timestamp wsu:Id="_0"><wsu:Created>{created}</wsu:Created><wsu:Expires>{expires}</wsu:Expires></wsu:Timestamp>"#,
            r#"<wsse:UsernameToken wsu:Id="UsernameToken-1"><wsse:Username>{username}</wsse:Username><wsse:Password>{password}</wsse:Password></wsse:UsernameToken>"#,
            "</wsse:Security>",
            "</s:Header>",
            "<s:Body>",
            r#"<wst:RequestSecurityToken xmlns:wst="{trust}">"#,
            r#"<wsp:AppliesTo xmlns:wsp="{wsp}"><wsa:EndpointReference><wsa:Address>{applies_to}</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>"#,
            "<wst:KeyType>{key_type}</wst:KeyType>",
            "<wst:RequestType>{request_type}</wst:RequestType>",
            "</wst:RequestSecurityToken>",
            "</s:Body>",
            "</s:Envelope>"
        ),
        soap = ns::SOAP,
        wsa = ns::WSA,
        wsu = ns::WSU,
        wsse = ns::WSSE,
        wsp = ns::WSP,
        action = version.action(),
        message_id = escape(r.message_id),
        to = escape(r.endpoint),
        created = utc(r.now),
        expires = utc(r.now.saturating_add(600)),
        username = escape(r.username),
        password = escape(r.password),
        trust = version.trust_namespace(),
        applies_to = escape(r.applies_to),
        key_type = version.key_type(),
        request_type = version.request_type(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::wstrust::xml;

    fn request(version: WsTrustVersion, password: &str) -> String {
        envelope(&RstRequest {
            version,
            endpoint: "https://fs.example/adfs/services/trust/13/usernamemixed",
            applies_to: "urn:federation:MicrosoftOnline",
            username: "erin@federated.example",
            password,
            now: 1_765_000_000,
            message_id: "3f1c0e8a-0000-4000-8000-000000000001",
        })
    }

    #[test]
    fn both_versions_and_escaping() {
        for (version, trust, key_type) in [
            (WsTrustVersion::V13, ns::TRUST13, "200512/Bearer"),
            (WsTrustVersion::V2005, ns::TRUST2005, "identity/NoProofKey"),
        ] {
            let body = request(version, r#"p<&>"'w"#);
            let root = xml::parse(&body).unwrap();
            assert!(root.is(ns::SOAP, "Envelope"));
            let header = root.child(ns::SOAP, "Header").unwrap();
            assert_eq!(
                header.child(ns::WSA, "Action").unwrap().text,
                version.action()
            );
            let token = header
                .find_path(&[(ns::WSSE, "Security"), (ns::WSSE, "UsernameToken")])
                .unwrap();
            assert_eq!(
                token.child(ns::WSSE, "Password").unwrap().text,
                r#"p<&>"'w"#
            );
            assert_eq!(
                token.child(ns::WSSE, "Username").unwrap().text,
                "erin@federated.example"
            );
            let timestamp = header
                .find_path(&[(ns::WSSE, "Security"), (ns::WSU, "Timestamp")])
                .unwrap();
            assert_eq!(
                timestamp.child(ns::WSU, "Created").unwrap().text,
                "2025-12-06T05:46:40Z"
            );
            assert_eq!(
                timestamp.child(ns::WSU, "Expires").unwrap().text,
                "2025-12-06T05:56:40Z"
            );
            let rst = root
                .find_path(&[(ns::SOAP, "Body"), (trust, "RequestSecurityToken")])
                .unwrap();
            assert!(
                rst.child(trust, "KeyType")
                    .unwrap()
                    .text
                    .ends_with(key_type)
            );
            assert_eq!(
                rst.find_path(&[
                    (ns::WSP, "AppliesTo"),
                    (ns::WSA, "EndpointReference"),
                    (ns::WSA, "Address")
                ])
                .unwrap()
                .text,
                "urn:federation:MicrosoftOnline"
            );
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let r = RstRequest {
            version: WsTrustVersion::V13,
            endpoint: "https://fs.example",
            applies_to: "urn:federation:MicrosoftOnline",
            username: "u",
            password: "hunter2",
            now: 0,
            message_id: "m",
        };
        assert!(!format!("{r:?}").contains("hunter2"));
    }
}
