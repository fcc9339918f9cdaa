//! The federation server's metadata exchange (MEX) document, a WSDL: which endpoint takes a
//! username and password over WS-Trust. A usable endpoint is a WSDL port whose binding is SOAP
//! over HTTP and refers to a policy demanding a `WssUsernameToken10` under a transport binding
//! (WS-SecurityPolicy 1.2 or 2005). WS-Trust 1.3 is preferred, as MSAL does.

use super::ns;
use super::xml::{self, Element};

/// The endpoint a username/password request goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MexEndpoint {
    /// The endpoint's URL.
    pub address: String,
    /// The binding's SOAP action (which names the WS-Trust version).
    pub action: String,
}

/// Reads a MEX document: `Ok(None)` when it advertises no usable usernamemixed endpoint (or none
/// whose address `acceptable` allows), `Err` when it is not XML.
pub(crate) fn username_password_endpoint(
    document: &str,
    acceptable: impl Fn(&str) -> bool,
) -> Result<Option<MexEndpoint>, String> {
    let root = xml::parse(document)?;
    let policies = username_password_policies(&root);
    let mut endpoints = Vec::new();
    let bindings: Vec<(&str, Vec<&str>, &str)> = root
        .children_named(ns::WSDL, "binding")
        .filter_map(soap_http_binding)
        .collect();
    for service in root.children_named(ns::WSDL, "service") {
        for port in service.children_named(ns::WSDL, "port") {
            let Some(binding_name) = port.attr("binding").map(|b| b.rsplit(':').next()) else {
                continue;
            };
            let Some((_, policy_uris, action)) = bindings
                .iter()
                .find(|(name, _, _)| Some(*name) == binding_name)
            else {
                continue;
            };
            if !policy_uris.iter().any(|u| policies.iter().any(|p| p == u)) {
                continue;
            }
            let Some(address) = port
                .find_path(&[(ns::WSA, "EndpointReference"), (ns::WSA, "Address")])
                .map(Element::trimmed_text)
                .filter(|a| acceptable(a))
            else {
                continue;
            };
            endpoints.push(MexEndpoint {
                address: address.to_string(),
                action: (*action).to_string(),
            });
        }
    }
    let preferred = endpoints
        .iter()
        .position(|e| e.action == super::ACTION_13)
        .unwrap_or(0);
    Ok((!endpoints.is_empty()).then(|| endpoints.swap_remove(preferred)))
}

/// `#Id` of every top-level policy that demands a username token over a transport binding.
fn username_password_policies(root: &Element) -> Vec<String> {
    let demands = |policy: &Element, sp: &str, supporting: &str| {
        let token = policy.find_path(&[
            (ns::WSP, "ExactlyOne"),
            (ns::WSP, "All"),
            (sp, supporting),
            (ns::WSP, "Policy"),
            (sp, "UsernameToken"),
            (ns::WSP, "Policy"),
            (sp, "WssUsernameToken10"),
        ]);
        token.is_some()
            && policy
                .descendants()
                .iter()
                .any(|e| e.is(sp, "TransportBinding"))
    };
    root.children_named(ns::WSP, "Policy")
        .filter(|p| {
            demands(p, ns::SP, "SignedEncryptedSupportingTokens")
                || demands(p, ns::SP2005, "SignedSupportingTokens")
        })
        .filter_map(|p| p.attr_ns(ns::WSU, "Id"))
        .map(|id| format!("#{id}"))
        .collect()
}

/// A binding of SOAP over HTTP: its name, the policies it refers to, its SOAP action.
fn soap_http_binding(binding: &Element) -> Option<(&str, Vec<&str>, &str)> {
    let transport = binding.child(ns::SOAP12, "binding")?.attr("transport")?;
    if transport != ns::SOAP_HTTP_TRANSPORT {
        return None;
    }
    let action = binding
        .find_path(&[(ns::WSDL, "operation"), (ns::SOAP12, "operation")])?
        .attr("soapAction")?;
    let policies = binding
        .children_named(ns::WSP, "PolicyReference")
        .filter_map(|r| r.attr("URI"))
        .collect();
    Some((binding.attr("name")?, policies, action))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::oauth::wstrust::{ACTION_13, ACTION_2005};

    /// A MEX document shaped like the one ADFS publishes: a WS-SecurityPolicy 1.2 policy for
    /// WS-Trust 1.3, a 2005 policy for WS-Trust 2005, a Kerberos policy, and their ports.
    pub(crate) fn adfs_mex(base: &str, with13: bool, with2005: bool) -> String {
        let port = |name: &str, binding: &str, path: &str| {
            format!(
                r#"<wsdl:port name="{name}" binding="tns:{binding}"><soap12:address location="{base}{path}"/><wsa10:EndpointReference><wsa10:Address>{base}{path}</wsa10:Address></wsa10:EndpointReference></wsdl:port>"#
            )
        };
        let binding = |name: &str, policy: &str, action: &str| {
            format!(
                r##"<wsdl:binding name="{name}" type="tns:IWSTrust"><wsp:PolicyReference URI="#{policy}"/><soap12:binding transport="http://schemas.xmlsoap.org/soap/http"/><wsdl:operation name="Issue"><soap12:operation soapAction="{action}" style="document"/></wsdl:operation></wsdl:binding>"##
            )
        };
        let mut ports = String::new();
        let mut bindings = binding(
            "CertificateWSTrustBinding_IWSTrustFeb2005",
            "CertificateWSTrustBinding_IWSTrustFeb2005_policy",
            ACTION_2005,
        );
        ports.push_str(&port(
            "CertificateWSTrustBinding_IWSTrustFeb2005",
            "CertificateWSTrustBinding_IWSTrustFeb2005",
            "/adfs/services/trust/2005/certificatemixed",
        ));
        if with2005 {
            bindings.push_str(&binding(
                "UserNameWSTrustBinding_IWSTrustFeb2005",
                "UserNameWSTrustBinding_IWSTrustFeb2005_policy",
                ACTION_2005,
            ));
            ports.push_str(&port(
                "UserNameWSTrustBinding_IWSTrustFeb2005",
                "UserNameWSTrustBinding_IWSTrustFeb2005",
                "/adfs/services/trust/2005/usernamemixed",
            ));
        }
        if with13 {
            bindings.push_str(&binding(
                "UserNameWSTrustBinding_IWSTrust13Async",
                "UserNameWSTrustBinding_IWSTrust13Async_policy",
                ACTION_13,
            ));
            ports.push_str(&port(
                "UserNameWSTrustBinding_IWSTrust13Async",
                "UserNameWSTrustBinding_IWSTrust13Async",
                "/adfs/services/trust/13/usernamemixed",
            ));
        }
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?><wsdl:definitions name="SecurityTokenService" targetNamespace="http://tempuri.org/" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:tns="http://tempuri.org/" xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy" xmlns:wsa10="http://www.w3.org/2005/08/addressing">
<wsp:Policy wsu:Id="CertificateWSTrustBinding_IWSTrustFeb2005_policy"><wsp:ExactlyOne><wsp:All><sp:TransportBinding xmlns:sp="http://schemas.xmlsoap.org/ws/2005/07/securitypolicy"/><sp:EndorsingSupportingTokens xmlns:sp="http://schemas.xmlsoap.org/ws/2005/07/securitypolicy"><wsp:Policy><sp:X509Token/></wsp:Policy></sp:EndorsingSupportingTokens></wsp:All></wsp:ExactlyOne></wsp:Policy>
<wsp:Policy wsu:Id="UserNameWSTrustBinding_IWSTrustFeb2005_policy"><wsp:ExactlyOne><wsp:All><sp:TransportBinding xmlns:sp="http://schemas.xmlsoap.org/ws/2005/07/securitypolicy"><wsp:Policy><sp:TransportToken><wsp:Policy><sp:HttpsToken RequireClientCertificate="false"/></wsp:Policy></sp:TransportToken></wsp:Policy></sp:TransportBinding><sp:SignedSupportingTokens xmlns:sp="http://schemas.xmlsoap.org/ws/2005/07/securitypolicy"><wsp:Policy><sp:UsernameToken sp:IncludeToken="http://schemas.xmlsoap.org/ws/2005/07/securitypolicy/IncludeToken/AlwaysToRecipient"><wsp:Policy><sp:WssUsernameToken10/></wsp:Policy></sp:UsernameToken></wsp:Policy></sp:SignedSupportingTokens></wsp:All></wsp:ExactlyOne></wsp:Policy>
<wsp:Policy wsu:Id="UserNameWSTrustBinding_IWSTrust13Async_policy"><wsp:ExactlyOne><wsp:All><sp:TransportBinding xmlns:sp="http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702"><wsp:Policy><sp:TransportToken><wsp:Policy><sp:HttpsToken/></wsp:Policy></sp:TransportToken></wsp:Policy></sp:TransportBinding><sp:SignedEncryptedSupportingTokens xmlns:sp="http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702"><wsp:Policy><sp:UsernameToken sp:IncludeToken="http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702/IncludeToken/AlwaysToRecipient"><wsp:Policy><sp:WssUsernameToken10/></wsp:Policy></sp:UsernameToken></wsp:Policy></sp:SignedEncryptedSupportingTokens></wsp:All></wsp:ExactlyOne></wsp:Policy>
{bindings}<wsdl:service name="SecurityTokenService">{ports}</wsdl:service></wsdl:definitions>"#
        )
    }

    fn https(a: &str) -> bool {
        a.starts_with("https://")
    }

    #[test]
    fn prefers_ws_trust_13_then_2005() {
        let base = "https://fs.contoso.example";
        let e = username_password_endpoint(&adfs_mex(base, true, true), https)
            .unwrap()
            .unwrap();
        assert_eq!(
            e,
            MexEndpoint {
                address: format!("{base}/adfs/services/trust/13/usernamemixed"),
                action: ACTION_13.into()
            }
        );
        let e = username_password_endpoint(&adfs_mex(base, false, true), https)
            .unwrap()
            .unwrap();
        assert_eq!(
            e.address,
            format!("{base}/adfs/services/trust/2005/usernamemixed")
        );
        assert_eq!(e.action, ACTION_2005);
    }

    #[test]
    fn no_usernamemixed_endpoint_is_none() {
        let base = "https://fs.contoso.example";
        // Only the certificate endpoint: its policy demands no username token.
        assert_eq!(
            username_password_endpoint(&adfs_mex(base, false, false), https).unwrap(),
            None
        );
        // Endpoints whose address is refused (plain http) are not offered.
        assert_eq!(
            username_password_endpoint(&adfs_mex("http://fs.example", true, true), https).unwrap(),
            None
        );
    }

    #[test]
    fn a_document_that_is_not_xml_is_an_error() {
        assert!(username_password_endpoint("<html><body>sign in", https).is_err());
        assert!(username_password_endpoint("{}", https).is_err());
    }
}
