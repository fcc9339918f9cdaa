//! The token endpoint: client authentication and every grant.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::{assert_entra_error, claims};
use serde_json::{Value, json};

const API_USER: &str = "api://emulator-api/access_as_user openid profile offline_access";

#[tokio::test]
async fn client_credentials_with_secret_post_and_basic() {
    let t = common::start().await;
    let (id, secret) = t.confidential();
    let (status, body) = t
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("scope", "api://emulator-api/.default"),
        ])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    assert!(
        body.get("refresh_token").is_none()
            && body.get("id_token").is_none()
            && body.get("refresh_in").is_none()
    );
    let c = claims(body["access_token"].as_str().unwrap());
    assert_eq!(c["aud"], id, "the API's own client id is the audience");
    assert_eq!(c["idtyp"], "app");
    assert_eq!(c["azpacr"], "1");
    assert_eq!(c["iss"], format!("{}/{}/v2.0", t.base(), t.tenant()));

    let basic = STANDARD.encode(format!("{id}:{}", urlencode(secret)));
    let response = t
        .http
        .post(t.token_url())
        .header("authorization", format!("Basic {basic}"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "api://load-42/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["aud"],
        "api://load-42"
    );
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn client_credentials_errors() {
    let t = common::start().await;
    let (id, secret) = t.confidential();
    type Case<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str, u64);
    let cases: Vec<Case<'_>> = vec![
        (
            vec![
                ("client_id", id),
                ("client_secret", "wrong"),
                ("scope", "api://emulator-api/.default"),
            ],
            401,
            "invalid_client",
            7000215,
        ),
        (
            vec![("client_id", id), ("scope", "api://emulator-api/.default")],
            401,
            "invalid_client",
            7000218,
        ),
        (
            vec![
                ("client_id", "00000000-0000-0000-0000-000000000000"),
                ("client_secret", "x"),
                ("scope", "api://emulator-api/.default"),
            ],
            400,
            "unauthorized_client",
            700016,
        ),
        (
            vec![
                ("client_id", id),
                ("client_secret", secret),
                ("scope", "api://emulator-api/access_as_user"),
            ],
            400,
            "invalid_scope",
            1002012,
        ),
        (
            vec![
                ("client_id", id),
                ("client_secret", secret),
                ("scope", "api://not-permitted/.default"),
            ],
            400,
            "invalid_scope",
            70011,
        ),
        (
            vec![("client_id", id), ("client_secret", secret)],
            400,
            "invalid_request",
            900144,
        ),
        (
            vec![
                ("client_id", t.public_id()),
                ("client_secret", "x"),
                ("scope", "api://emulator-api/.default"),
            ],
            401,
            "invalid_client",
            700025,
        ),
    ];
    for (mut form, status, error, code) in cases {
        form.push(("grant_type", "client_credentials"));
        let (s, body) = t.token(&form).await;
        assert_entra_error(s, &body, status, error, code);
    }
    let common_url = t.url("/common/oauth2/v2.0/token");
    let (s, body) = t
        .post_form(
            &common_url,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
                ("scope", "api://emulator-api/.default"),
            ],
        )
        .await;
    assert_entra_error(s, &body, 400, "invalid_request", 50194);
    let (s, body) = t
        .token(&[("grant_type", "magic"), ("client_id", t.public_id())])
        .await;
    assert_entra_error(s, &body, 400, "unsupported_grant_type", 70003);
}

#[tokio::test]
async fn correlation_id_echoes_client_request_id() {
    let t = common::start().await;
    let response = t
        .http
        .post(t.token_url())
        .header("client-request-id", "5c1f0e2a-0000-4000-8000-000000000001")
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "nobody"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["client-request-id"],
        "5c1f0e2a-0000-4000-8000-000000000001"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["correlation_id"],
        "5c1f0e2a-0000-4000-8000-000000000001"
    );
}

/// Builds a client assertion with the ready-made certificate client's key.
fn assertion(
    t: &common::TestEmulator,
    alg: &str,
    aud: &str,
    exp_offset: i64,
    tamper: bool,
) -> String {
    let cert = t.info.certificate_client.as_ref().unwrap();
    let key_pem = std::fs::read_to_string(&cert.private_key_file).unwrap();
    let der = entra_emulator::crypto::rsa_pem_to_pkcs8_der(&key_pem).unwrap();
    let key = ring::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
    let thumb = |hex: &str| -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    };
    let header = match alg {
        // MSAL Python keeps base64 padding in thumbprints.
        "RS256" => {
            json!({"alg": "RS256", "typ": "JWT", "x5t": base64::engine::general_purpose::URL_SAFE.encode(thumb(&cert.thumbprint_sha1))})
        }
        _ => {
            json!({"alg": "PS256", "typ": "JWT", "x5t#S256": URL_SAFE_NO_PAD.encode(thumb(&cert.thumbprint_sha256))})
        }
    };
    let now = t.emulator.control().now() as f64 + 0.25;
    let claims = json!({"aud": aud, "iss": cert.client_id, "sub": cert.client_id, "iat": now, "nbf": now, "exp": now + exp_offset as f64, "jti": uuid::Uuid::new_v4().to_string()});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let padding: &dyn ring::signature::RsaEncoding = if alg == "RS256" {
        &ring::signature::RSA_PKCS1_SHA256
    } else {
        &ring::signature::RSA_PSS_SHA256
    };
    let mut sig = vec![0; key.public().modulus_len()];
    key.sign(
        padding,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    if tamper {
        sig[10] ^= 1;
    }
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

#[tokio::test]
async fn private_key_jwt_rs256_and_ps256() {
    let t = common::start().await;
    let cert_client = t.info.certificate_client.clone().unwrap();
    let aud = t.token_url();
    for alg in ["RS256", "PS256"] {
        let a = assertion(&t, alg, &aud, 600, false);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", cert_client.client_id.as_str()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", a.as_str()),
            ("scope", "api://emulator-api/.default"),
        ];
        let (status, body) = t.token(&form).await;
        assert_eq!(status, 200, "{alg}: {body}");
        assert_eq!(
            claims(body["access_token"].as_str().unwrap())["azpacr"],
            "2"
        );
        // Reusing an assertion within its lifetime is allowed, as in Entra.
        let (status, _) = t.token(&form).await;
        assert_eq!(status, 200);
    }
}

#[tokio::test]
async fn private_key_jwt_failures() {
    let t = common::start().await;
    let cert_client = t.info.certificate_client.clone().unwrap();
    let aud = t.token_url();
    let cases = [
        (assertion(&t, "RS256", &aud, 600, true), 700027),
        (
            assertion(&t, "PS256", "https://elsewhere.example/token", 600, false),
            700023,
        ),
        (assertion(&t, "RS256", &aud, -900, false), 700024),
    ];
    for (a, code) in cases {
        let (status, body) = t
            .token(&[
                ("grant_type", "client_credentials"),
                ("client_id", cert_client.client_id.as_str()),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", a.as_str()),
                ("scope", "api://emulator-api/.default"),
            ])
            .await;
        assert_entra_error(status, &body, 401, "invalid_client", code);
    }
    // An assertion whose iss/sub name another client.
    let (id, _) = t.confidential();
    let a = assertion(&t, "RS256", &aud, 600, false);
    let (status, body) = t
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", a.as_str()),
            ("scope", "api://emulator-api/.default"),
        ])
        .await;
    assert_entra_error(status, &body, 401, "invalid_client", 700027);
}

#[tokio::test]
async fn password_grant_success_and_claims() {
    let t = common::start().await;
    let (status, body) = t.password_tokens("alice", API_USER).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["scope"],
        "api://emulator-api/access_as_user profile openid"
    );
    assert_eq!(body["foci"], "1");
    let info = URL_SAFE_NO_PAD
        .decode(body["client_info"].as_str().unwrap())
        .unwrap();
    let info: Value = serde_json::from_slice(&info).unwrap();
    assert_eq!(info["utid"], t.tenant());
    let id = claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["ver"], "2.0");
    assert_eq!(id["aud"], t.public_id());
    assert_eq!(id["preferred_username"], "alice@contoso.example");
    assert_eq!(id["oid"], info["uid"]);
    for claim in ["iat", "nbf", "exp", "sub", "tid", "name"] {
        assert!(!id[claim].is_null(), "{claim} missing");
    }
    let at = claims(body["access_token"].as_str().unwrap());
    assert_eq!(at["scp"], "access_as_user");
    assert_eq!(at["azp"], t.public_id());
}

#[tokio::test]
async fn password_grant_errors() {
    let t = common::start().await;
    let alice = t.user("alice").clone();
    let (status, body) = t
        .token(&[
            ("grant_type", "password"),
            ("client_id", t.public_id()),
            ("username", &alice.username),
            ("password", "nope"),
            ("scope", API_USER),
        ])
        .await;
    assert_entra_error(status, &body, 400, "invalid_grant", 50126);
    let (status, body) = t
        .token(&[
            ("grant_type", "password"),
            ("client_id", t.public_id()),
            ("username", "ghost@contoso.example"),
            ("password", "x"),
            ("scope", API_USER),
        ])
        .await;
    assert_entra_error(status, &body, 400, "invalid_grant", 50034);
    // MFA user: AADSTS50076 with suberror and a claims challenge.
    let (status, body) = t.password_tokens("bob", API_USER).await;
    assert_entra_error(status, &body, 400, "invalid_grant", 50076);
    assert_eq!(body["suberror"], "basic_action");
    let challenge: Value = serde_json::from_str(body["claims"].as_str().unwrap()).unwrap();
    assert!(challenge["access_token"].is_object());
    // No consent yet.
    let (status, body) = t.password_tokens("dave", API_USER).await;
    assert_entra_error(status, &body, 400, "invalid_grant", 65001);
    assert_eq!(body["suberror"], "consent_required");
    // Scope the client may not request.
    let (status, body) = t.password_tokens("alice", "api://other/x openid").await;
    assert_entra_error(status, &body, 400, "invalid_scope", 70011);
}

#[tokio::test]
async fn guest_user_gets_tokens_for_the_resource_tenant() {
    let t = common::start().await;
    let (status, body) = t.password_tokens("carol", API_USER).await;
    assert_eq!(status, 200, "{body}");
    let id = claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["tid"], t.tenant());
    let info: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(body["client_info"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        info["utid"],
        entra_emulator::ready_made::GUEST_HOME_TENANT_ID.to_string()
    );
    assert_ne!(
        id["oid"], info["uid"],
        "a guest has another object id in the resource tenant"
    );
    // Through /common the guest lands in their home tenant.
    let carol = t.user("carol").clone();
    let (status, body) = t
        .post_form(
            &t.url("/common/oauth2/v2.0/token"),
            &[
                ("grant_type", "password"),
                ("client_id", t.public_id()),
                ("username", &carol.username),
                ("password", &carol.password),
                ("scope", API_USER),
            ],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        claims(body["id_token"].as_str().unwrap())["tid"],
        entra_emulator::ready_made::GUEST_HOME_TENANT_ID.to_string()
    );
    // Alice is not a member of the second tenant.
    let alice = t.user("alice").clone();
    let url = t.url(&format!(
        "/{}/oauth2/v2.0/token",
        entra_emulator::ready_made::GUEST_HOME_TENANT_ID
    ));
    let (status, body) = t
        .post_form(
            &url,
            &[
                ("grant_type", "password"),
                ("client_id", t.public_id()),
                ("username", &alice.username),
                ("password", &alice.password),
                ("scope", API_USER),
            ],
        )
        .await;
    assert_entra_error(status, &body, 400, "invalid_grant", 50020);
}

#[tokio::test]
async fn refresh_token_rotation_family_and_resources() {
    let t = common::start().await;
    let (_, first) = t.password_tokens("alice", API_USER).await;
    let rt1 = first["refresh_token"].as_str().unwrap().to_string();
    let refresh = |client: String, rt: String, scope: &'static str| {
        let t = &t;
        async move {
            t.token(&[
                ("grant_type", "refresh_token"),
                ("client_id", &client),
                ("refresh_token", &rt),
                ("scope", scope),
                ("client_info", "1"),
            ])
            .await
        }
    };
    let (status, second) = refresh(t.public_id().into(), rt1.clone(), API_USER).await;
    assert_eq!(status, 200, "{second}");
    let rt2 = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2, "a new refresh token every time");
    // The old refresh token stays valid, as in Entra.
    let (status, _) = refresh(t.public_id().into(), rt1.clone(), API_USER).await;
    assert_eq!(status, 200);
    // Another resource with the same refresh token.
    let (status, graph) = refresh(
        t.public_id().into(),
        rt2.clone(),
        "User.Read openid offline_access",
    )
    .await;
    assert_eq!(status, 200, "{graph}");
    assert_eq!(
        claims(graph["access_token"].as_str().unwrap())["aud"],
        "https://graph.microsoft.com"
    );
    // FOCI: the family app redeems the first app's refresh token.
    let (status, family) = refresh(t.family_id().into(), rt2.clone(), API_USER).await;
    assert_eq!(status, 200, "{family}");
    assert_eq!(
        claims(family["access_token"].as_str().unwrap())["azp"],
        t.family_id()
    );
    // A client outside the family cannot.
    let (id, secret) = t.confidential();
    let (status, body) = t
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", id),
            ("client_secret", secret),
            ("refresh_token", &rt2),
            ("scope", API_USER),
        ])
        .await;
    assert_entra_error(status, &body, 400, "invalid_grant", 70000);
    // Revoked.
    assert!(
        t.emulator
            .control()
            .revoke_refresh_tokens(Some("alice@contoso.example"))
            >= 3
    );
    let (status, body) = refresh(t.public_id().into(), rt2, API_USER).await;
    assert_entra_error(status, &body, 400, "invalid_grant", 70008);
    // Garbage.
    let (status, body) = refresh(t.public_id().into(), "garbage".into(), API_USER).await;
    assert_entra_error(status, &body, 400, "invalid_grant", 70000);
}

#[tokio::test]
async fn refresh_token_expires_with_the_clock() {
    let t = common::start().await;
    let (_, first) = t.password_tokens("alice", API_USER).await;
    let rt = first["refresh_token"].as_str().unwrap();
    t.emulator.control().advance_clock(91 * 24 * 3600);
    let (status, body) = t
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", t.public_id()),
            ("refresh_token", rt),
            ("scope", API_USER),
        ])
        .await;
    assert_entra_error(status, &body, 400, "invalid_grant", 700082);
}

#[tokio::test]
async fn long_lived_tokens_carry_refresh_in() {
    let t = common::start().await;
    t.emulator
        .control()
        .set_access_token_lifetime(Some(4 * 3600));
    let (id, secret) = t.confidential();
    let (_, body) = t
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("scope", "api://emulator-api/.default"),
        ])
        .await;
    assert_eq!(body["expires_in"], 14400);
    assert_eq!(body["refresh_in"], 7200);
    let c = claims(body["access_token"].as_str().unwrap());
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        14400
    );
}

#[tokio::test]
async fn on_behalf_of_exchanges_a_user_token() {
    let t = common::start().await;
    let (_, user) = t.password_tokens("alice", API_USER).await;
    let user_at = user["access_token"].as_str().unwrap();
    let (id, secret) = t.confidential();
    let obo = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        ("client_id", id),
        ("client_secret", secret),
        ("assertion", user_at),
        ("requested_token_use", "on_behalf_of"),
        (
            "scope",
            "https://graph.microsoft.com/User.Read offline_access",
        ),
    ];
    let (status, body) = t.token(&obo).await;
    assert_eq!(status, 200, "{body}");
    let c = claims(body["access_token"].as_str().unwrap());
    assert_eq!(c["preferred_username"], "alice@contoso.example");
    assert_eq!(c["azp"], id);
    assert!(body["refresh_token"].is_string());
    // An app token is not a user assertion.
    let (_, app) = t
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("scope", "api://emulator-api/.default"),
        ])
        .await;
    let mut bad = obo;
    bad[3] = ("assertion", app["access_token"].as_str().unwrap());
    let (status, body) = t.token(&bad).await;
    assert_entra_error(status, &body, 400, "invalid_grant", 50013);
    // A user token for another audience.
    let (_, graph) = t.password_tokens("alice", "User.Read openid").await;
    bad[3] = ("assertion", graph["access_token"].as_str().unwrap());
    let (status, body) = t.token(&bad).await;
    assert_entra_error(status, &body, 400, "invalid_grant", 50013);
    // Expired.
    t.emulator.control().advance_clock(2 * 3600);
    let (status, body) = t.token(&obo).await;
    assert_entra_error(status, &body, 400, "invalid_grant", 500133);
}

#[tokio::test]
async fn refresh_tokens_work_across_the_users_tenants() {
    let t = common::start().await;
    let (_, carol) = t.password_tokens("carol", API_USER).await;
    let rt = carol["refresh_token"].as_str().unwrap();
    let home = entra_emulator::ready_made::GUEST_HOME_TENANT_ID.to_string();
    let url = t.url(&format!("/{home}/oauth2/v2.0/token"));
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", t.public_id()),
        ("refresh_token", rt),
        ("scope", API_USER),
    ];
    let (status, body) = t.post_form(&url, &form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(claims(body["id_token"].as_str().unwrap())["tid"], home);
    let (_, alice) = t.password_tokens("alice", API_USER).await;
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", t.public_id()),
        ("refresh_token", alice["refresh_token"].as_str().unwrap()),
        ("scope", API_USER),
    ];
    let (status, body) = t.post_form(&url, &form).await;
    assert_entra_error(status, &body, 400, "invalid_grant", 50020);
}
