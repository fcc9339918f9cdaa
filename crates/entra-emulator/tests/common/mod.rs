//! Shared helpers for the emulator's integration tests: an in-process emulator with the
//! ready-made tenant and the control API on, and an HTTPS client that trusts its CA.
#![allow(dead_code)]

use base64::Engine as _;
use entra_emulator::info::UserInfo;
use entra_emulator::{ConnectionInfo, Emulator, EmulatorConfig};
use reqwest::StatusCode;
use serde_json::Value;

pub use entra_test_support::emulator::config;

/// A running emulator plus what tests need to talk to it.
pub struct TestEmulator {
    pub emulator: Emulator,
    pub info: ConnectionInfo,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
}

pub async fn start() -> TestEmulator {
    start_with(config()).await
}

pub async fn start_with(config: EmulatorConfig) -> TestEmulator {
    let entra_test_support::emulator::Started {
        emulator,
        info,
        dir,
    } = entra_test_support::emulator::start_with(config).await;
    let http = client_for(&emulator);
    TestEmulator {
        emulator,
        info,
        http,
        dir,
    }
}

/// An HTTP client trusting only the emulator's CA, with redirects off and a cookie store off.
pub fn client_for(emulator: &Emulator) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30));
    if let Some(pem) = emulator.ca_pem() {
        builder = builder.tls_built_in_root_certs(false).add_root_certificate(
            reqwest::Certificate::from_pem(pem.as_bytes()).expect("CA parses"),
        );
    }
    builder.build().expect("client")
}

impl TestEmulator {
    pub fn base(&self) -> &str {
        &self.info.base_url
    }

    pub fn tenant(&self) -> &str {
        &self.info.tenant_id
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.info.base_url, path)
    }

    pub fn token_url(&self) -> String {
        self.url(&format!("/{}/oauth2/v2.0/token", self.info.tenant_id))
    }

    pub fn public_id(&self) -> &str {
        &self.info.public_client.as_ref().unwrap().client_id
    }

    pub fn family_id(&self) -> &str {
        &self.info.family_client.as_ref().unwrap().client_id
    }

    pub fn confidential(&self) -> (&str, &str) {
        let c = self.info.confidential_client.as_ref().unwrap();
        (&c.client_id, c.client_secret.as_deref().unwrap())
    }

    pub fn user(&self, prefix: &str) -> &UserInfo {
        self.info
            .users
            .iter()
            .find(|u| u.username.starts_with(prefix))
            .expect("user")
    }

    /// POSTs a form and returns the status and JSON body.
    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .http
            .post(url)
            .form(form)
            .send()
            .await
            .expect("request");
        let status = response.status();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    pub async fn token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        self.post_form(&self.token_url(), form).await
    }

    pub async fn get_json(&self, url: &str) -> (StatusCode, Value) {
        let response = self.http.get(url).send().await.expect("request");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// ROPC for a ready-made user with the public client.
    pub async fn password_tokens(&self, prefix: &str, scope: &str) -> (StatusCode, Value) {
        let user = self.user(prefix).clone();
        self.token(&[
            ("grant_type", "password"),
            ("client_id", self.public_id()),
            ("username", &user.username),
            ("password", &user.password),
            ("scope", scope),
            ("client_info", "1"),
        ])
        .await
    }
}

/// The claims of a JWT, without verification.
pub fn claims(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// Asserts an Entra-shaped error with the given status, `error` and AADSTS code.
pub fn assert_entra_error(
    status: StatusCode,
    body: &Value,
    want_status: u16,
    error: &str,
    code: u64,
) {
    assert_eq!(status.as_u16(), want_status, "status; body: {body}");
    assert_eq!(body["error"], error, "error; body: {body}");
    assert_eq!(body["error_codes"][0], code, "code; body: {body}");
    let description = body["error_description"]
        .as_str()
        .expect("error_description");
    assert!(
        description.starts_with(&format!("AADSTS{code}: ")),
        "{description}"
    );
    assert!(description.contains("\r\nTrace ID: "), "{description}");
    assert!(
        description.contains("\r\nCorrelation ID: "),
        "{description}"
    );
    assert!(description.contains("\r\nTimestamp: "), "{description}");
    for field in ["timestamp", "trace_id", "correlation_id", "error_uri"] {
        assert!(body[field].is_string(), "{field} missing: {body}");
    }
}
