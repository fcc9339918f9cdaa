//! WS-Trust for username/password sign-in of a federated account (MSAL Python's `mex.py`,
//! `wstrust_request.py`, `wstrust_response.py`): the federation server's metadata exchange
//! (MEX) document read for its usernamemixed endpoint, the RequestSecurityToken envelope, and
//! the response read for its SAML assertion or SOAP fault. `exchange.rs` sends them; the rest
//! are pure codecs. `mod.rs` also holds the namespaces and the two protocol versions.

pub(crate) mod exchange;
pub(crate) mod mex;
pub(crate) mod request;
pub(crate) mod response;
pub(crate) mod xml;

pub(crate) use exchange::saml_assertion;

/// The namespaces the codecs read and write.
pub(crate) mod ns {
    /// WSDL 1.1.
    pub const WSDL: &str = "http://schemas.xmlsoap.org/wsdl/";
    /// WS-SecurityPolicy 1.2.
    pub const SP: &str = "http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702";
    /// WS-SecurityPolicy of 2005.
    pub const SP2005: &str = "http://schemas.xmlsoap.org/ws/2005/07/securitypolicy";
    /// WS-Security utility (`wsu:Id`, timestamps).
    pub const WSU: &str =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
    /// WS-Security extension (`UsernameToken`).
    pub const WSSE: &str =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
    /// WS-Addressing 1.0.
    pub const WSA: &str = "http://www.w3.org/2005/08/addressing";
    /// The SOAP 1.2 binding of WSDL.
    pub const SOAP12: &str = "http://schemas.xmlsoap.org/wsdl/soap12/";
    /// WS-Policy of 2004.
    pub const WSP: &str = "http://schemas.xmlsoap.org/ws/2004/09/policy";
    /// The SOAP 1.2 envelope.
    pub const SOAP: &str = "http://www.w3.org/2003/05/soap-envelope";
    /// WS-Trust 1.3.
    pub const TRUST13: &str = "http://docs.oasis-open.org/ws-sx/ws-trust/200512";
    /// WS-Trust of February 2005.
    pub const TRUST2005: &str = "http://schemas.xmlsoap.org/ws/2005/02/trust";
    /// The SOAP-over-HTTP transport a usable binding names.
    pub const SOAP_HTTP_TRANSPORT: &str = "http://schemas.xmlsoap.org/soap/http";
}

/// The SOAP action of a WS-Trust 1.3 issue request.
pub(crate) const ACTION_13: &str = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue";
/// The SOAP action of a WS-Trust 2005 issue request.
pub(crate) const ACTION_2005: &str = "http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue";

/// A WS-Trust version: decides the SOAP action and the request's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WsTrustVersion {
    /// WS-Trust 1.3 (OASIS, `/trust/13/usernamemixed`); preferred.
    V13,
    /// WS-Trust of 2005 (`/trust/2005/usernamemixed`).
    V2005,
}

impl WsTrustVersion {
    /// The version a SOAP action names.
    pub fn from_action(action: &str) -> Option<Self> {
        match action {
            ACTION_13 => Some(Self::V13),
            ACTION_2005 => Some(Self::V2005),
            _ => None,
        }
    }

    /// The version an ADFS endpoint address implies (when no MEX document named the action).
    pub fn from_address(address: &str) -> Option<Self> {
        if address.contains("/trust/2005/usernamemixed") {
            Some(Self::V2005)
        } else if address.contains("/trust/13/usernamemixed") {
            Some(Self::V13)
        } else {
            None
        }
    }

    /// The SOAP action.
    pub fn action(self) -> &'static str {
        match self {
            Self::V13 => ACTION_13,
            Self::V2005 => ACTION_2005,
        }
    }

    /// The namespace of `RequestSecurityToken`.
    pub fn trust_namespace(self) -> &'static str {
        match self {
            Self::V13 => ns::TRUST13,
            Self::V2005 => ns::TRUST2005,
        }
    }

    /// The `KeyType` asked for: a bearer token.
    pub fn key_type(self) -> &'static str {
        match self {
            Self::V13 => "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Bearer",
            Self::V2005 => "http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey",
        }
    }

    /// The `RequestType`: issue.
    pub fn request_type(self) -> &'static str {
        match self {
            Self::V13 => "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue",
            Self::V2005 => "http://schemas.xmlsoap.org/ws/2005/02/trust/Issue",
        }
    }
}
