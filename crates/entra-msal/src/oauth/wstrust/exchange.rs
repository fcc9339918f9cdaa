//! The two WS-Trust round trips of a federated username/password sign-in: GET the MEX document
//! for the usernamemixed endpoint, then POST the RequestSecurityToken to it and read the SAML
//! assertion (or the SOAP fault) out of the answer. Neither the password nor the assertion is
//! logged.

use super::WsTrustVersion;
use super::mex::{self, MexEndpoint};
use super::request::{self, RstRequest};
use super::response::{self, RstrOutcome, SamlAssertion};
use crate::authority::{Authority, FederatedRealm, federation_url_allowed};
use crate::error::Error;
use crate::http::ThrottledHttp;

/// The audience Entra's federation servers issue assertions for, when the realm names none.
const DEFAULT_AUDIENCE: &str = "urn:federation:MicrosoftOnline";

/// Where to direct people whose federation server offers no username/password endpoint.
const NO_ENDPOINT_HINT: &str = "this happens with Microsoft accounts and with federation servers that do not allow username/password sign-in; use acquire_token_interactive or the device-code flow instead";

/// Gets a SAML assertion for `username` from the federation server of `realm`.
pub(crate) async fn saml_assertion(
    http: &ThrottledHttp,
    authority: &Authority,
    realm: &FederatedRealm,
    username: &str,
    password: &str,
    now: i64,
) -> Result<SamlAssertion, Error> {
    let endpoint = match &realm.metadata_url {
        Some(mex_url) => mex_endpoint(http, authority, mex_url).await?,
        None => {
            let address = realm.active_auth_url.clone().ok_or_else(|| {
                Error::unsupported(
                    "username/password sign-in for a federated account",
                    format!(
                        "user-realm discovery names neither a federation metadata document nor a WS-Trust endpoint for {username}'s domain; {NO_ENDPOINT_HINT}"
                    ),
                )
            })?;
            MexEndpoint {
                action: WsTrustVersion::from_address(&address)
                    .map(|v| v.action().to_string())
                    .unwrap_or_default(),
                address,
            }
        }
    };
    let version = WsTrustVersion::from_action(&endpoint.action).ok_or_else(|| {
        Error::unsupported(
            "username/password sign-in for a federated account",
            format!(
                "the federation server's WS-Trust endpoint {} uses the unsupported SOAP action {:?}; ask its administrator to check the metadata exchange (MEX) settings",
                endpoint.address, endpoint.action
            ),
        )
    })?;
    if !federation_url_allowed(authority, &endpoint.address) {
        return Err(Error::configuration(format!(
            "the federation server's WS-Trust endpoint {} is not an https URL; it will not be sent a password",
            endpoint.address
        )));
    }
    let message_id = uuid::Uuid::new_v4().to_string();
    let body = request::envelope(&RstRequest {
        version,
        endpoint: &endpoint.address,
        applies_to: realm
            .cloud_audience_urn
            .as_deref()
            .unwrap_or(DEFAULT_AUDIENCE),
        username,
        password,
        now,
        message_id: &message_id,
    });
    let url = endpoint.address.as_str();
    let request = http::Request::post(url)
        .header(
            http::header::CONTENT_TYPE,
            "application/soap+xml; charset=utf-8",
        )
        .header("SOAPAction", version.action())
        .body(body.into_bytes())
        .map_err(|e| {
            Error::configuration_caused(format!("cannot build a request to {url}: {e}"), e)
        })?;
    tracing::debug!(endpoint = url, ?version, "sending a WS-Trust request");
    let response = http.send(request).await.map_err(|e| e.at(url))?;
    let status = response.status().as_u16();
    // A federation server answers a wrong password with a fault and a 4xx or 5xx status: read the
    // body whatever the status.
    let text = String::from_utf8_lossy(response.body());
    match response::parse(&text) {
        Ok(RstrOutcome::Token(assertion)) => Ok(assertion),
        Ok(RstrOutcome::Fault { code, reason }) => Err(Error::FederationFault {
            url: url.to_string(),
            code,
            reason,
        }),
        Err(why) => Err(Error::InvalidResponse {
            url: url.to_string(),
            status,
            message: format!("the WS-Trust response is not usable: {why}"),
        }),
    }
}

/// The usernamemixed endpoint of the MEX document at `mex_url`.
async fn mex_endpoint(
    http: &ThrottledHttp,
    authority: &Authority,
    mex_url: &str,
) -> Result<MexEndpoint, Error> {
    if !federation_url_allowed(authority, mex_url) {
        return Err(Error::configuration(format!(
            "the federation metadata (MEX) URL {mex_url} from user-realm discovery is not an https URL"
        )));
    }
    let request = http::Request::get(mex_url).body(Vec::new()).map_err(|e| {
        Error::configuration_caused(format!("cannot build a request to {mex_url}: {e}"), e)
    })?;
    let response = http.send(request).await.map_err(|e| e.at(mex_url))?;
    let status = response.status().as_u16();
    if !response.status().is_success() {
        return Err(Error::InvalidResponse {
            url: mex_url.to_string(),
            status,
            message: "the federation metadata (MEX) document could not be read".into(),
        });
    }
    let text = String::from_utf8_lossy(response.body());
    let endpoint = mex::username_password_endpoint(&text, |address| {
        federation_url_allowed(authority, address)
    })
    .map_err(|why| Error::InvalidResponse {
        url: mex_url.to_string(),
        status,
        message: format!("the federation metadata (MEX) document is malformed: {why}"),
    })?;
    endpoint.ok_or_else(|| {
        Error::unsupported(
            "username/password sign-in for a federated account",
            format!(
                "the federation metadata (MEX) document at {mex_url} advertises no WS-Trust usernamemixed endpoint over https; {NO_ENDPOINT_HINT}"
            ),
        )
    })
}
