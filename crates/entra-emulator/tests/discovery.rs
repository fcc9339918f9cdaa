//! OIDC discovery, instance discovery, JWKS and user realm.

mod common;

use serde_json::Value;

#[tokio::test]
async fn tenant_document_uses_the_tenant_guid() {
    let t = common::start().await;
    for segment in [t.tenant().to_string(), "contoso.example".to_string()] {
        let (status, doc) = t
            .get_json(&t.url(&format!("/{segment}/v2.0/.well-known/openid-configuration")))
            .await;
        assert_eq!(status, 200);
        assert_eq!(doc["issuer"], format!("{}/{}/v2.0", t.base(), t.tenant()));
        assert_eq!(
            doc["token_endpoint"],
            format!("{}/{}/oauth2/v2.0/token", t.base(), t.tenant())
        );
        assert_eq!(
            doc["device_authorization_endpoint"],
            format!("{}/{}/oauth2/v2.0/devicecode", t.base(), t.tenant())
        );
        assert_eq!(
            doc["jwks_uri"],
            format!("{}/{}/discovery/v2.0/keys", t.base(), t.tenant())
        );
        assert_eq!(
            doc["response_modes_supported"],
            serde_json::json!(["query", "fragment", "form_post"])
        );
    }
}

#[tokio::test]
async fn multi_tenant_documents_have_the_tenantid_placeholder() {
    let t = common::start().await;
    for segment in ["common", "organizations"] {
        let (status, doc) = t
            .get_json(&t.url(&format!("/{segment}/v2.0/.well-known/openid-configuration")))
            .await;
        assert_eq!(status, 200);
        assert_eq!(doc["issuer"], format!("{}/{{tenantid}}/v2.0", t.base()));
        assert_eq!(
            doc["authorization_endpoint"],
            format!("{}/{segment}/oauth2/v2.0/authorize", t.base())
        );
    }
    let (_, consumers) = t
        .get_json(&t.url("/consumers/v2.0/.well-known/openid-configuration"))
        .await;
    assert_eq!(
        consumers["issuer"],
        format!("{}/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0", t.base())
    );
}

#[tokio::test]
async fn unknown_tenant_is_90002() {
    let t = common::start().await;
    let (status, body) = t
        .get_json(&t.url("/nope.example/v2.0/.well-known/openid-configuration"))
        .await;
    common::assert_entra_error(status, &body, 400, "invalid_request", 90002);
}

#[tokio::test]
async fn instance_discovery_for_the_emulator_and_public_clouds() {
    let t = common::start().await;
    let port = t.emulator.local_addr().port();
    for version in ["1.0", "1.1"] {
        // MSAL Python drops the port from the authorization endpoint it sends.
        for host in ["127.0.0.1".to_string(), format!("127.0.0.1:{port}")] {
            let url = t.url(&format!(
                "/common/discovery/instance?api-version={version}&authorization_endpoint=https://{host}/{}/oauth2/v2.0/authorize",
                t.tenant()
            ));
            let (status, doc) = t.get_json(&url).await;
            assert_eq!(status, 200, "{doc}");
            assert_eq!(
                doc["tenant_discovery_endpoint"],
                format!(
                    "{}/{}/v2.0/.well-known/openid-configuration",
                    t.base(),
                    t.tenant()
                )
            );
            assert!(
                doc["metadata"][0]["aliases"]
                    .as_array()
                    .unwrap()
                    .contains(&Value::from("127.0.0.1"))
            );
        }
    }
    let url = t.url("/common/discovery/instance?api-version=1.1&authorization_endpoint=https://login.microsoftonline.com/common/oauth2/v2.0/authorize");
    let (_, doc) = t.get_json(&url).await;
    assert_eq!(doc["metadata"][0]["preferred_cache"], "login.windows.net");
    assert_eq!(doc["metadata"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn unknown_instance_is_invalid_instance() {
    let t = common::start().await;
    let url = t.url("/common/discovery/instance?api-version=1.1&authorization_endpoint=https://login.contoso.invalid/common/oauth2/v2.0/authorize");
    let (status, body) = t.get_json(&url).await;
    common::assert_entra_error(status, &body, 400, "invalid_instance", 50049);
    let (status, body) = t
        .get_json(&t.url("/common/discovery/instance?authorization_endpoint=x"))
        .await;
    common::assert_entra_error(status, &body, 400, "invalid_request", 900144);
}

#[tokio::test]
async fn jwks_verifies_issued_tokens() {
    let t = common::start().await;
    let (_, jwks) = t
        .get_json(&t.url(&format!("/{}/discovery/v2.0/keys", t.tenant())))
        .await;
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    let (status, body) = t
        .password_tokens(
            "alice",
            "api://emulator-api/access_as_user openid profile offline_access",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for token in [&body["access_token"], &body["id_token"]] {
        let token = token.as_str().unwrap();
        let jwt = entra_emulator::jwt::decode_unverified(token).unwrap();
        assert_eq!(jwt.header["kid"], key["kid"]);
        let n = entra_emulator::jwt::decode_b64url(key["n"].as_str().unwrap()).unwrap();
        let e = entra_emulator::jwt::decode_b64url(key["e"].as_str().unwrap()).unwrap();
        let public = ring::signature::RsaPublicKeyComponents { n: &n, e: &e };
        public
            .verify(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                jwt.signing_input.as_bytes(),
                &jwt.signature,
            )
            .expect("signature verifies with the JWKS key");
    }
}

#[tokio::test]
async fn user_realm_discovery() {
    let t = common::start().await;
    let (status, managed) = t
        .get_json(&t.url("/common/userrealm/alice@contoso.example?api-version=1.0"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(managed["account_type"], "Managed");
    assert_eq!(managed["domain_name"], "contoso.example");
    let (_, federated) = t
        .get_json(&t.url("/common/userrealm/x@federated.fabrikam.example?api-version=1.0"))
        .await;
    assert_eq!(federated["account_type"], "Federated");
    assert_eq!(federated["federation_protocol"], "WSTrust");
    let (_, unknown) = t
        .get_json(&t.url("/common/userrealm/x@nowhere.example?api-version=1.0"))
        .await;
    assert_eq!(unknown["account_type"], "Unknown");
}
