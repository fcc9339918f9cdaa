//! `GET /adfs/services/trust/mex`: the emulated federation server's metadata exchange (MEX)
//! document, a WSDL shaped like the one ADFS publishes. It advertises username/password
//! (usernamemixed) endpoints for WS-Trust 1.3 and WS-Trust 2005, each bound to a policy that
//! demands a `WssUsernameToken10` over a transport binding, and a certificate endpoint clients
//! must not pick.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// The path of the MEX document.
pub const MEX_PATH: &str = "/adfs/services/trust/mex";
/// The WS-Trust 1.3 username/password endpoint.
pub const TRUST_13_PATH: &str = "/adfs/services/trust/13/usernamemixed";
/// The WS-Trust 2005 username/password endpoint.
pub const TRUST_2005_PATH: &str = "/adfs/services/trust/2005/usernamemixed";

const ACTION_13: &str = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue";
const ACTION_2005: &str = "http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue";

/// Serves the MEX document.
pub async fn mex(State(state): State<Arc<AppState>>) -> Response {
    let (without13, without2005) = state.runtime().mex_withheld;
    (
        [(header::CONTENT_TYPE, "application/soap+xml; charset=utf-8")],
        document(&state.base_url, !without13, !without2005),
    )
        .into_response()
}

fn binding(name: &str, action: &str) -> String {
    format!(
        r##"<wsdl:binding name="{name}" type="tns:IWSTrust"><wsp:PolicyReference URI="#{name}_policy"/><soap12:binding transport="http://schemas.xmlsoap.org/soap/http"/><wsdl:operation name="Issue"><soap12:operation soapAction="{action}" style="document"/><wsdl:input><soap12:body use="literal"/></wsdl:input><wsdl:output><soap12:body use="literal"/></wsdl:output></wsdl:operation></wsdl:binding>"##
    )
}

fn port(name: &str, address: &str) -> String {
    format!(
        r#"<wsdl:port name="{name}" binding="tns:{name}"><soap12:address location="{address}"/><wsa10:EndpointReference><wsa10:Address>{address}</wsa10:Address></wsa10:EndpointReference></wsdl:port>"#
    )
}

/// A policy demanding a username token: WS-SecurityPolicy 1.2 (`sp12`) for WS-Trust 1.3, the
/// 2005 draft for WS-Trust 2005.
fn username_policy(name: &str, sp12: bool) -> String {
    let (sp, supporting) = if sp12 {
        (
            "http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702",
            "SignedEncryptedSupportingTokens",
        )
    } else {
        (
            "http://schemas.xmlsoap.org/ws/2005/07/securitypolicy",
            "SignedSupportingTokens",
        )
    };
    format!(
        concat!(
            r#"<wsp:Policy wsu:Id="{name}_policy"><wsp:ExactlyOne><wsp:All>"#,
            r#"<sp:TransportBinding xmlns:sp="{sp}"><wsp:Policy><sp:TransportToken><wsp:Policy><sp:HttpsToken/></wsp:Policy></sp:TransportToken><sp:AlgorithmSuite><wsp:Policy><sp:Basic256/></wsp:Policy></sp:AlgorithmSuite><sp:Layout><wsp:Policy><sp:Strict/></wsp:Policy></sp:Layout><sp:IncludeTimestamp/></wsp:Policy></sp:TransportBinding>"#,
            r#"<sp:{supporting} xmlns:sp="{sp}"><wsp:Policy><sp:UsernameToken sp:IncludeToken="{sp}/IncludeToken/AlwaysToRecipient"><wsp:Policy><sp:WssUsernameToken10/></wsp:Policy></sp:UsernameToken></wsp:Policy></sp:{supporting}>"#,
            r#"</wsp:All></wsp:ExactlyOne></wsp:Policy>"#
        ),
        name = name,
        sp = sp,
        supporting = supporting,
    )
}

/// The MEX document of the federation server at `base_url`, advertising the WS-Trust 1.3 and
/// 2005 usernamemixed endpoints as asked.
pub fn document(base_url: &str, with13: bool, with2005: bool) -> String {
    let user13 = "UserNameWSTrustBinding_IWSTrust13Async";
    let user2005 = "UserNameWSTrustBinding_IWSTrustFeb2005";
    let cert2005 = "CertificateWSTrustBinding_IWSTrustFeb2005";
    let cert_policy = format!(
        r#"<wsp:Policy wsu:Id="{cert2005}_policy"><wsp:ExactlyOne><wsp:All><sp:TransportBinding xmlns:sp="http://schemas.xmlsoap.org/ws/2005/07/securitypolicy"><wsp:Policy><sp:TransportToken><wsp:Policy><sp:HttpsToken RequireClientCertificate="true"/></wsp:Policy></sp:TransportToken></wsp:Policy></sp:TransportBinding></wsp:All></wsp:ExactlyOne></wsp:Policy>"#
    );
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?>"#,
            r#"<wsdl:definitions name="SecurityTokenService" targetNamespace="http://tempuri.org/" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:tns="http://tempuri.org/" xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy" xmlns:wsa10="http://www.w3.org/2005/08/addressing">"#,
            "{cert_policy}{policy2005}{policy13}",
            r#"<wsdl:types/><wsdl:portType name="IWSTrust"><wsdl:operation name="Issue"/></wsdl:portType>"#,
            "{b_cert}{b2005}{b13}",
            r#"<wsdl:service name="SecurityTokenService">{p_cert}{p2005}{p13}</wsdl:service>"#,
            "</wsdl:definitions>"
        ),
        cert_policy = cert_policy,
        policy2005 = username_policy(user2005, false),
        policy13 = username_policy(user13, true),
        b_cert = binding(cert2005, ACTION_2005),
        b2005 = if with2005 {
            binding(user2005, ACTION_2005)
        } else {
            String::new()
        },
        b13 = if with13 {
            binding(user13, ACTION_13)
        } else {
            String::new()
        },
        p_cert = port(
            cert2005,
            &format!("{base_url}/adfs/services/trust/2005/certificatemixed")
        ),
        p2005 = if with2005 {
            port(user2005, &format!("{base_url}{TRUST_2005_PATH}"))
        } else {
            String::new()
        },
        p13 = if with13 {
            port(user13, &format!("{base_url}{TRUST_13_PATH}"))
        } else {
            String::new()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Document;

    #[test]
    fn advertises_both_usernamemixed_endpoints() {
        let doc = Document::parse(&document("https://127.0.0.1:1", true, true)).unwrap();
        let addresses: Vec<&str> = doc
            .nodes
            .iter()
            .filter(|n| n.ends_with(&["port", "EndpointReference", "Address"]))
            .map(|n| n.text.as_str())
            .collect();
        assert_eq!(
            addresses,
            [
                "https://127.0.0.1:1/adfs/services/trust/2005/certificatemixed",
                "https://127.0.0.1:1/adfs/services/trust/2005/usernamemixed",
                "https://127.0.0.1:1/adfs/services/trust/13/usernamemixed"
            ]
        );
        assert_eq!(
            doc.nodes
                .iter()
                .filter(|n| n.ends_with(&["UsernameToken", "Policy", "WssUsernameToken10"]))
                .count(),
            2
        );
        let only_cert = document("https://127.0.0.1:1", false, false);
        assert!(!only_cert.contains("usernamemixed"));
    }
}
