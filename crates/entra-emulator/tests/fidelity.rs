//! Token responses as Entra ID answers them (issue 18 §1). Each test asserts the exact answer
//! and cites the rule's source.

mod common;

use common::claims;
use serde_json::Value;

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

// Source: "Microsoft identity platform and OAuth 2.0 On-Behalf-Of flow", success response
// (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-on-behalf-of-flow): a request
// for `https://graph.microsoft.com/user.read offline_access` answers
// `"scope": "https://graph.microsoft.com/user.read"` (qualified, in the case sent).
#[tokio::test]
async fn qualified_scopes_are_echoed_qualified_in_the_case_sent() {
    let t = common::start().await;
    let (status, body) = t
        .password_tokens(
            "alice",
            "https://graph.microsoft.com/user.read offline_access",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "https://graph.microsoft.com/user.read");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["scp"],
        "user.read"
    );

    let (_, user) = t
        .password_tokens("alice", "api://emulator-api/access_as_user")
        .await;
    let (id, secret) = t.confidential();
    let (status, body) = t
        .token(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("client_id", id),
            ("client_secret", secret),
            ("assertion", user["access_token"].as_str().unwrap()),
            ("requested_token_use", "on_behalf_of"),
            (
                "scope",
                "https://graph.microsoft.com/user.read offline_access",
            ),
        ])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "https://graph.microsoft.com/user.read");
    assert_eq!(body["token_type"], "Bearer");
}

// Source: "Get access on behalf of a user" (https://learn.microsoft.com/graph/auth-v2-user) and
// "OAuth 2.0 device authorization grant"
// (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code): short Graph
// names are echoed short, followed by `profile openid email`; `offline_access` is not echoed.
#[tokio::test]
async fn short_graph_scopes_are_echoed_short() {
    let t = common::start().await;
    let (status, body) = t
        .password_tokens(
            "alice",
            "User.Read Mail.Read offline_access openid profile email",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "User.Read Mail.Read profile openid email");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["scp"],
        "User.Read Mail.Read"
    );
}

// Source: "Scopes and permissions", "The .default scope"
// (https://learn.microsoft.com/entra/identity-platform/scopes-oidc#the-default-scope): a
// delegated `.default` request receives the consented permissions, and the token's `scp` lists
// them. Entra's `scope` names them qualified, then the `.default` scope itself, as recorded in
// MSAL.NET's tests (`MockHelpers.GetTokenResponseWithNoOidClaim`:
// "https://management.core.windows.net//user_impersonation https://management.core.windows.net//.default").
#[tokio::test]
async fn delegated_default_returns_the_consented_permissions() {
    let t = common::start().await;
    let (status, body) = t
        .password_tokens(
            "alice",
            "api://emulator-api/.default openid profile offline_access",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["scope"],
        "api://emulator-api/access_as_user api://emulator-api/.default profile openid"
    );
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["scp"],
        "access_as_user"
    );
    // Graph, whose permissions the ready-made public client holds only as a wildcard: the
    // permission every registration starts with, `User.Read`.
    let (status, body) = t
        .password_tokens("alice", "https://graph.microsoft.com/.default")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["scope"],
        "https://graph.microsoft.com/User.Read https://graph.microsoft.com/.default"
    );
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["scp"],
        "User.Read"
    );
    // A refresh for `.default` answers the same way.
    let (_, first) = t
        .password_tokens("alice", "api://emulator-api/.default offline_access")
        .await;
    let (status, body) = t
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", t.public_id()),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
            ("scope", "api://emulator-api/.default offline_access"),
        ])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["scope"],
        "api://emulator-api/access_as_user api://emulator-api/.default"
    );
}

// Source: "Microsoft identity platform and the OAuth 2.0 client credentials flow", successful
// response (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow):
// `token_type`, `expires_in`, `ext_expires_in` (equal to `expires_in` outside an outage) and
// `access_token`; no `scope`, `refresh_token` or `id_token`.
#[tokio::test]
async fn client_credentials_answer_exactly_the_documented_fields() {
    let t = common::start().await;
    let (id, secret) = t.confidential();
    let (status, body) = t
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        keys(&body),
        ["access_token", "expires_in", "ext_expires_in", "token_type"]
    );
    assert_eq!(body["expires_in"], body["ext_expires_in"]);
    assert_eq!(body["token_type"], "Bearer");
}

// Source: "Claims challenges, claims requests, and client capabilities"
// (https://learn.microsoft.com/entra/identity-platform/claims-challenge) and "Continuous access
// evaluation": a CAE challenge (`nbf`) sent with a refresh is satisfied when the session still
// permits it; an authentication-context challenge (`acrs`) the session has not met needs the
// user (AADSTS50076, `interaction_required` for MSAL).
#[tokio::test]
async fn claims_challenges_on_refresh() {
    let t = common::start().await;
    let (_, first) = t.password_tokens("alice", "User.Read offline_access").await;
    let refresh = |claims: &'static str| {
        let rt = first["refresh_token"].as_str().unwrap().to_string();
        let t = &t;
        async move {
            t.token(&[
                ("grant_type", "refresh_token"),
                ("client_id", t.public_id()),
                ("refresh_token", &rt),
                ("scope", "User.Read offline_access"),
                ("claims", claims),
            ])
            .await
        }
    };
    let (status, body) =
        refresh(r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "User.Read");
    let (status, body) =
        refresh(r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#).await;
    common::assert_entra_error(status, &body, 400, "invalid_grant", 50076);
    assert!(body["claims"].is_string(), "{body}");
    let (status, body) = refresh("not json").await;
    common::assert_entra_error(status, &body, 400, "invalid_request", 9002313);
}

// Source: "ID token claims reference", claim `idp`
// (https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference): equal to
// the issuer unless the user is not in the issuer's tenant (a guest), then the home tenant's
// issuer `https://sts.windows.net/<home tenant id>/`; absent for members.
#[tokio::test]
async fn guests_carry_their_home_identity_provider() {
    let t = common::start().await;
    let (status, body) = t
        .password_tokens("carol", "api://emulator-api/access_as_user openid profile")
        .await;
    assert_eq!(status, 200, "{body}");
    let idp = format!(
        "https://sts.windows.net/{}/",
        entra_emulator::ready_made::GUEST_HOME_TENANT_ID
    );
    assert_eq!(claims(body["id_token"].as_str().unwrap())["idp"], idp);
    assert_eq!(claims(body["access_token"].as_str().unwrap())["idp"], idp);
    let (_, member) = t
        .password_tokens("alice", "api://emulator-api/access_as_user openid")
        .await;
    assert!(
        claims(member["id_token"].as_str().unwrap())
            .get("idp")
            .is_none()
    );
}
