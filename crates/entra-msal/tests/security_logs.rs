//! No access token, refresh token, id token, authorization code, PKCE verifier, device code,
//! client secret, client assertion, password or username appears in the library's logs at any
//! level (TRACE, spans included) unless PII logging is on; with PII logging on, usernames may
//! appear, secrets still never do.
//!
//! Guards the redaction in `app/core.rs` (`pii()`), the redacting `Debug` of `SecretToken`,
//! `AuthCodeFlow`, credentials and `ServiceError` bodies, and every `tracing` call that names a
//! request (URLs and forms are logged without their secret parts).

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;

use entra_emulator::ManagedIdentityConfig;
use entra_msal::managed_identity::{ManagedIdentity, StaticEnvironment};
use entra_msal::{AuthCodeFlowOptions, AuthenticationResult, ManagedIdentityClient, SilentOptions};

const USER_SCOPE: &str = "api://emulator-api/access_as_user";

#[derive(Default)]
struct Secrets(BTreeSet<(String, String)>);

impl Secrets {
    fn add(&mut self, label: &str, value: &str) {
        if value.len() >= 6 {
            self.0.insert((label.to_string(), value.to_string()));
            // A JWT's parts are secrets on their own (a logged signature or payload leaks too).
            if value.matches('.').count() == 2 {
                for (i, part) in value.split('.').enumerate().skip(1) {
                    if part.len() >= 16 {
                        self.0
                            .insert((format!("{label} (JWT part {i})"), part.to_string()));
                    }
                }
            }
        }
    }

    fn result(&mut self, label: &str, r: &AuthenticationResult) {
        self.add(&format!("{label} access token"), r.access_token.expose());
        if let Some(id) = &r.id_token {
            self.add(&format!("{label} id token"), id.expose());
        }
    }

    /// Every token secret in a serialized cache.
    fn cache(&mut self, label: &str, json: &str) {
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        for section in ["AccessToken", "RefreshToken", "IdToken"] {
            if let Some(entries) = v[section].as_object() {
                for e in entries.values() {
                    if let Some(s) = e["secret"].as_str() {
                        self.add(&format!("{label} {section}"), s);
                    }
                }
            }
        }
    }

    /// Secrets the library sent, read back from the emulator's request log.
    fn sent(&mut self, e: &support::Env) {
        for r in e.emulator.control().requests() {
            for key in entra_emulator::secrets_log::SECRET_FORM_FIELDS {
                if let Some(v) = r.form.get(key) {
                    self.add(&format!("sent {key}"), v);
                }
            }
        }
    }

    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(l, v)| (l.as_str(), v.as_str()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_or_username_in_logs_at_any_level() {
    let logs = support::log_capture::install();
    let e = support::env().await;
    let mut secrets = Secrets::default();
    let mut usernames = Vec::new();
    for u in &e.info.users {
        secrets.add(&format!("{} password", u.username), &u.password);
        usernames.push(u.username.clone());
    }
    let c = e.info.confidential_client.clone().unwrap();
    secrets.add("client secret", c.client_secret.as_deref().unwrap());

    // Confidential client: secret, certificate, OBO, auth code, failures.
    let app = e.secret_app();
    let r = app
        .acquire_token_for_client(&["api://emulator-api/.default"])
        .await
        .unwrap();
    secrets.result("client credentials", &r);
    // The user_fic grant: a federated identity credential for a named user.
    let fic = app
        .acquire_token_for_client(&["api://AzureADTokenExchange/.default"])
        .await
        .unwrap();
    secrets.result("federated identity credential", &fic);
    let user_fic = app
        .acquire_token_by_user_federated_identity_credential(
            &[USER_SCOPE],
            fic.access_token.expose(),
            &entra_msal::FederatedUser::Username(e.user("alice").username),
            &Default::default(),
        )
        .await
        .unwrap();
    secrets.result("user_fic", &user_fic);
    let cert = e.info.certificate_client.as_ref().unwrap();
    let cert_app = e
        .builder(&cert.client_id)
        .certificate(
            std::fs::read_to_string(&cert.private_key_file).unwrap(),
            std::fs::read_to_string(&cert.certificate_file).unwrap(),
        )
        .build()
        .unwrap();
    secrets.result(
        "certificate",
        &cert_app
            .acquire_token_for_client(&["api://emulator-api/.default"])
            .await
            .unwrap(),
    );
    let wrong_secret = "Wr0ng-Secret-Value-For-Logging-Test";
    secrets.add("wrong client secret", wrong_secret);
    e.builder(&c.client_id)
        .client_secret(wrong_secret)
        .build()
        .unwrap()
        .acquire_token_for_client(&["api://emulator-api/.default"])
        .await
        .unwrap_err();

    // Public client: username/password (success, MFA, wrong password), device code, refresh.
    let public = e.public_app();
    let alice = e.user("alice");
    let ropc = public
        .acquire_token_by_username_password(&alice.username, &alice.password, &[USER_SCOPE])
        .await
        .unwrap();
    secrets.result("ropc", &ropc);
    let bob = e.user("bob");
    public
        .acquire_token_by_username_password(&bob.username, &bob.password, &[USER_SCOPE])
        .await
        .unwrap_err();
    let wrong_password = "Not-Alice-Password-42";
    secrets.add("wrong password", wrong_password);
    public
        .acquire_token_by_username_password(&alice.username, wrong_password, &[USER_SCOPE])
        .await
        .unwrap_err();
    let flow = public.initiate_device_flow(&[USER_SCOPE]).await.unwrap();
    secrets.add("device user code", &flow.user_code);
    let dave = e.user("dave");
    e.emulator
        .control()
        .approve_device_code(&flow.user_code, &dave.username)
        .unwrap();
    secrets.result(
        "device code",
        &public.acquire_token_by_device_flow(&flow).await.unwrap(),
    );
    for account in public.accounts(None) {
        secrets.result(
            "silent refresh",
            &public
                .acquire_token_silent(
                    &[USER_SCOPE],
                    &account,
                    &SilentOptions {
                        force_refresh: true,
                        ..Default::default()
                    },
                )
                .await
                .unwrap(),
        );
    }
    secrets.cache("public cache", &public.token_cache().serialize());

    let obo = app
        .acquire_token_on_behalf_of(
            ropc.access_token.expose(),
            &["https://graph.microsoft.com/User.Read"],
        )
        .await
        .unwrap();
    secrets.result("obo", &obo);
    let flow = app
        .initiate_auth_code_flow(
            &[USER_SCOPE],
            &AuthCodeFlowOptions {
                redirect_uri: "https://localhost/auth/callback".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let response = e
        .sign_in(&flow.auth_uri, &flow.state, &alice.username)
        .await;
    secrets.add("authorization code", &response["code"]);
    secrets.result(
        "auth code",
        &app.acquire_token_by_auth_code_flow(&flow, &response)
            .await
            .unwrap(),
    );
    secrets.cache("confidential cache", &app.token_cache().serialize());

    // Managed identity: IMDS and App Service (its IDENTITY_HEADER is a secret).
    let dir = tempfile::tempdir().unwrap();
    let server = e
        .emulator
        .start_managed_identity(ManagedIdentityConfig {
            arc_key_directory: Some(dir.path().to_path_buf()),
            ..Default::default()
        })
        .await
        .unwrap();
    for source in ["imds", "app_service"] {
        let mut env = StaticEnvironment::new().with_os("linux");
        for (k, v) in server.environment(source) {
            if k == "IDENTITY_HEADER" {
                secrets.add("IDENTITY_HEADER", &v);
            }
            env = env.with_var(k, v);
        }
        let control = e.emulator.control();
        let mi = ManagedIdentityClient::builder(ManagedIdentity::SystemAssigned)
            .environment(env)
            .clock(Arc::new(move || control.now()))
            .build()
            .unwrap();
        let r = mi
            .acquire_token_for_client("https://vault.azure.net")
            .await
            .unwrap();
        secrets.result(source, &r);
    }
    secrets.sent(&e);

    let text = logs.text();
    assert!(
        text.contains("TRACE") || text.contains("DEBUG"),
        "nothing was captured; the capture is broken"
    );
    let leaks = logs.leaks(secrets.pairs());
    assert!(leaks.is_empty(), "secrets in the logs: {leaks:?}");
    let names = logs.leaks(usernames.iter().map(|u| ("username", u.as_str())));
    assert!(
        names.is_empty(),
        "usernames in the logs without PII logging: {names:?}"
    );
    eprintln!(
        "searched {} bytes of logs for {} secrets and {} usernames",
        text.len(),
        secrets.0.len(),
        usernames.len()
    );

    // With PII logging on, the username may appear (and does: the capture works); secrets not.
    logs.clear();
    let pii = e
        .public_builder(&e.info.public_client.as_ref().unwrap().client_id)
        .enable_pii_log(true)
        .build()
        .unwrap();
    let r = pii
        .acquire_token_by_username_password(&alice.username, &alice.password, &[USER_SCOPE])
        .await
        .unwrap();
    secrets.result("pii ropc", &r);
    secrets.cache("pii cache", &pii.token_cache().serialize());
    secrets.sent(&e);
    assert!(
        logs.text().contains(&alice.username),
        "PII logging is on, yet the username was not logged"
    );
    let leaks = logs.leaks(secrets.pairs());
    assert!(leaks.is_empty(), "secrets in the PII logs: {leaks:?}");
}
