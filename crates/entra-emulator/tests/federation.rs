//! The emulated federation server over HTTPS: user realm pointing at the MEX document, the
//! WS-Trust endpoints (assertion or SOAP fault), and the SAML bearer grants at the token endpoint
//! (signature, audience, grant/version match, one-time use).

mod common;

use base64::Engine as _;
use common::TestEmulator;
use reqwest::StatusCode;

const SCOPE: &str = "api://emulator-api/access_as_user openid profile offline_access";
const SAML2_GRANT: &str = "urn:ietf:params:oauth:grant-type:saml2-bearer";
const SAML11_GRANT: &str = "urn:ietf:params:oauth:grant-type:saml1_1-bearer";

/// A RequestSecurityToken as a client sends it.
fn rst(version13: bool, to: &str, username: &str, password: &str, audience: &str) -> String {
    let (action, trust) = if version13 {
        (
            "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue",
            "http://docs.oasis-open.org/ws-sx/ws-trust/200512",
        )
    } else {
        (
            "http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue",
            "http://schemas.xmlsoap.org/ws/2005/02/trust",
        )
    };
    format!(
        r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://www.w3.org/2005/08/addressing"><s:Header><wsa:Action s:mustUnderstand="1">{action}</wsa:Action><wsa:To>{to}</wsa:To><wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><wsse:UsernameToken><wsse:Username>{username}</wsse:Username><wsse:Password>{password}</wsse:Password></wsse:UsernameToken></wsse:Security></s:Header><s:Body><wst:RequestSecurityToken xmlns:wst="{trust}"><wsp:AppliesTo xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy"><wsa:EndpointReference><wsa:Address>{audience}</wsa:Address></wsa:EndpointReference></wsp:AppliesTo></wst:RequestSecurityToken></s:Body></s:Envelope>"#
    )
}

async fn post_rst(
    t: &TestEmulator,
    version13: bool,
    password: &str,
    audience: &str,
) -> (StatusCode, String) {
    let path = if version13 {
        "/adfs/services/trust/13/usernamemixed"
    } else {
        "/adfs/services/trust/2005/usernamemixed"
    };
    let erin = &t.info.federated_users[0];
    let response = t
        .http
        .post(t.url(path))
        .header("content-type", "application/soap+xml; charset=utf-8")
        .body(rst(
            version13,
            &t.url(path),
            &erin.username,
            password,
            audience,
        ))
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

/// The assertion inside a response, exactly as sent.
fn assertion(rstr: &str) -> &str {
    let start = rstr.find("RequestedSecurityToken>").unwrap() + "RequestedSecurityToken>".len();
    let end = start + rstr[start..].find("</t:RequestedSecurityToken>").unwrap();
    &rstr[start..end]
}

async fn redeem(t: &TestEmulator, grant: &str, assertion: &str) -> (StatusCode, serde_json::Value) {
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(assertion);
    t.token(&[
        ("grant_type", grant),
        ("client_id", t.public_id()),
        ("assertion", &encoded),
        ("scope", SCOPE),
        ("client_info", "1"),
    ])
    .await
}

#[tokio::test]
async fn user_realm_points_at_the_mex_document_which_offers_both_versions() {
    let t = common::start().await;
    let erin = t.info.federated_users[0].clone();
    let (status, realm) = t
        .get_json(&t.url(&format!(
            "/common/userrealm/{}?api-version=1.0",
            erin.username
        )))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(realm["account_type"], "Federated");
    let mex_url = realm["federation_metadata_url"].as_str().unwrap();
    assert_eq!(mex_url, t.url("/adfs/services/trust/mex"));
    let mex = t
        .http
        .get(mex_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(mex.contains(&t.url("/adfs/services/trust/13/usernamemixed")));
    assert!(mex.contains(&t.url("/adfs/services/trust/2005/usernamemixed")));
    t.emulator.control().set_mex_endpoints(false, true);
    let mex = t
        .http
        .get(mex_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!mex.contains("/13/usernamemixed") && mex.contains("/2005/usernamemixed"));
}

#[tokio::test]
async fn ws_trust_issues_assertions_the_token_endpoint_redeems_once() {
    let t = common::start().await;
    let erin = t.info.federated_users[0].clone();
    for (version13, grant, token_type) in [
        (true, SAML2_GRANT, "urn:oasis:names:tc:SAML:2.0:assertion"),
        (false, SAML11_GRANT, "urn:oasis:names:tc:SAML:1.0:assertion"),
    ] {
        let (status, rstr) = post_rst(
            &t,
            version13,
            &erin.password,
            "urn:federation:MicrosoftOnline",
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{rstr}");
        assert!(rstr.contains(&format!("TokenType>{token_type}<")), "{rstr}");
        let saml = assertion(&rstr).to_string();

        // The other version's grant is refused.
        let other = if version13 { SAML11_GRANT } else { SAML2_GRANT };
        let (status, body) = redeem(&t, other, &saml).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error_codes"][0], 50008);

        // A changed assertion is refused.
        let (status, body) = redeem(&t, grant, &saml.replace("erin@", "alice@")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error_codes"][0], 50008);

        let (status, body) = redeem(&t, grant, &saml).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["access_token"].is_string() && body["refresh_token"].is_string());
        let claims = common::claims(body["id_token"].as_str().unwrap());
        assert_eq!(claims["preferred_username"], erin.username);

        // One-time use.
        let (status, body) = redeem(&t, grant, &saml).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("already redeemed"),
            "{body}"
        );
    }
    // Expired.
    let (_, rstr) = post_rst(&t, true, &erin.password, "urn:federation:MicrosoftOnline").await;
    t.emulator.control().advance_clock(3601);
    let (status, body) = redeem(&t, SAML2_GRANT, assertion(&rstr)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("time range"),
        "{body}"
    );
}

#[tokio::test]
async fn wrong_passwords_and_audiences_get_soap_faults() {
    let t = common::start().await;
    let (status, fault) =
        post_rst(&t, true, "wrong-password", "urn:federation:MicrosoftOnline").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        fault.contains(">a:FailedAuthentication</s:Value>"),
        "{fault}"
    );
    assert!(fault.contains("ID3242"), "{fault}");
    assert!(!fault.contains("wrong-password"));
    let erin = t.info.federated_users[0].clone();
    let (status, fault) = post_rst(&t, false, &erin.password, "urn:example:other").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(fault.contains("a:InvalidScope"), "{fault}");
    // A managed user's password is not checked by the federation server.
    let alice = t.user("alice").clone();
    let response = t
        .http
        .post(t.url("/adfs/services/trust/13/usernamemixed"))
        .body(rst(
            true,
            "x",
            &alice.username,
            &alice.password,
            "urn:federation:MicrosoftOnline",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    // Not XML.
    let response = t
        .http
        .post(t.url("/adfs/services/trust/2005/usernamemixed"))
        .body("<html>")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}
