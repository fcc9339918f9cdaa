//! The `azure-core` feature: our credentials inside azure_core's own pipeline and
//! `BearerTokenAuthorizationPolicy`, against the emulator.
//!
//! Run with `cargo test -p entra-msal --features azure-core --test azure_core_credential`.

mod support;

use std::sync::{Arc, Mutex};

use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::headers::{AUTHORIZATION, Headers};
use azure_core::http::policies::Policy;
use azure_core::http::policies::auth::BearerTokenAuthorizationPolicy;
use azure_core::http::{
    AsyncRawResponse, ClientOptions, Context, HttpClient, Method, Pipeline, Request, StatusCode,
    Transport, Url,
};
use entra_emulator::ManagedIdentityConfig;
use entra_msal::ManagedIdentityClient;
use entra_msal::azure::{InteractiveMode, PublicClientCredential};
use entra_msal::managed_identity::{ManagedIdentity, StaticEnvironment};
use serde_json::Value;

/// The service end of the pipeline: records each request's `Authorization` and answers 200.
#[derive(Debug, Default)]
struct Service {
    authorizations: Mutex<Vec<Option<String>>>,
}

#[async_trait::async_trait]
impl HttpClient for Service {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        self.authorizations.lock().unwrap().push(
            request
                .headers()
                .get_optional_str(&AUTHORIZATION)
                .map(str::to_string),
        );
        Ok(AsyncRawResponse::from_bytes(
            StatusCode::Ok,
            Headers::new(),
            b"{}".to_vec(),
        ))
    }
}

fn pipeline(credential: Arc<dyn TokenCredential>, scope: &str, service: Arc<Service>) -> Pipeline {
    let auth: Arc<dyn Policy> = Arc::new(BearerTokenAuthorizationPolicy::new(credential, [scope]));
    Pipeline::new(
        Some("entra-msal-test"),
        Some("0"),
        ClientOptions {
            transport: Some(Transport::new(service)),
            ..Default::default()
        },
        Vec::new(),
        vec![auth],
        None,
    )
}

async fn call(pipeline: &Pipeline) -> azure_core::Result<StatusCode> {
    let mut request = Request::new(
        Url::parse("https://my-vault.vault.azure.net/secrets/s?api-version=7.5").unwrap(),
        Method::Get,
    );
    Ok(pipeline
        .send(&Context::new(), &mut request, None)
        .await?
        .status())
}

fn claims(authorization: &str) -> Value {
    use base64::Engine as _;
    let token = authorization
        .strip_prefix("Bearer ")
        .expect("a bearer token");
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

fn token_requests(env: &support::Env) -> usize {
    env.emulator
        .control()
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/oauth2/v2.0/token"))
        .count()
}

#[tokio::test]
async fn confidential_client_through_the_bearer_policy() {
    let env = support::env().await;
    let app = env.secret_app();
    let client_id = app.client_id().to_string();
    let secret = env
        .info
        .confidential_client
        .as_ref()
        .unwrap()
        .client_secret
        .clone()
        .unwrap();
    assert!(
        !format!("{app:?}").contains(&secret),
        "Debug must redact the secret"
    );
    let credential: Arc<dyn TokenCredential> = Arc::new(app);
    let service = Arc::new(Service::default());
    let p = pipeline(credential, "api://emulator-api/.default", service.clone());
    assert_eq!(call(&p).await.unwrap(), StatusCode::Ok);
    assert_eq!(call(&p).await.unwrap(), StatusCode::Ok);
    let seen = service.authorizations.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0], seen[1]);
    let c = claims(seen[0].as_deref().unwrap());
    assert_eq!(c["azp"], client_id.as_str());
    assert_eq!(c["idtyp"], "app");
    assert_eq!(token_requests(&env), 1);
}

/// Workload identity federation (a Kubernetes pod's projected token file) as the SDK's
/// credential: the token file's assertion authenticates the app, and a rotated file is read.
#[tokio::test]
async fn workload_identity_federation_through_the_bearer_policy() {
    let env = support::env().await;
    let cert = env.info.certificate_client.as_ref().unwrap();
    let signer = entra_msal::CertificateCredential::from_pem(
        &std::fs::read_to_string(&cert.private_key_file).unwrap(),
        &std::fs::read_to_string(&cert.certificate_file).unwrap(),
    )
    .unwrap();
    let endpoint = format!("{}/oauth2/v2.0/token", env.emulator.authority());
    let now = || time::OffsetDateTime::now_utc().unix_timestamp();
    let file = env.dir.path().join("azure-identity-token");
    let first = signer.sign(&cert.client_id, &endpoint, now()).unwrap();
    std::fs::write(&file, &first).unwrap();
    let app = env
        .builder(&cert.client_id)
        .workload_identity_federation(&file)
        .build()
        .unwrap();
    let credential: Arc<dyn TokenCredential> = Arc::new(app);
    let service = Arc::new(Service::default());
    let p = pipeline(
        credential.clone(),
        "api://emulator-api/.default",
        service.clone(),
    );
    assert_eq!(call(&p).await.unwrap(), StatusCode::Ok);
    let seen = service.authorizations.lock().unwrap().clone();
    assert_eq!(
        claims(seen[0].as_deref().unwrap())["azp"],
        cert.client_id.as_str()
    );
    // Rotated: a token for another resource (not cached) authenticates with the new file.
    let second = signer.sign(&cert.client_id, &endpoint, now()).unwrap();
    std::fs::write(&file, &second).unwrap();
    credential
        .get_token(&["https://graph.microsoft.com/.default"], None)
        .await
        .unwrap();
    let assertions: Vec<String> = env
        .emulator
        .control()
        .requests()
        .into_iter()
        .filter_map(|r| r.form.get("client_assertion").cloned())
        .collect();
    assert_eq!(assertions, vec![first, second]);
}

#[tokio::test]
async fn managed_identity_through_the_bearer_policy() {
    let env = support::env().await;
    let server = env
        .emulator
        .start_managed_identity(ManagedIdentityConfig::default())
        .await
        .unwrap();
    let mut vars = StaticEnvironment::new();
    for (k, v) in server.environment("imds") {
        vars = vars.with_var(k, v);
    }
    let mi = ManagedIdentityClient::builder(ManagedIdentity::SystemAssigned)
        .environment(vars)
        .build()
        .unwrap();
    let service = Arc::new(Service::default());
    let p = pipeline(
        Arc::new(mi.clone()),
        "https://vault.azure.net/.default",
        service.clone(),
    );
    call(&p).await.unwrap();
    let seen = service.authorizations.lock().unwrap().clone();
    let c = claims(seen[0].as_deref().unwrap());
    assert_eq!(c["aud"], "https://vault.azure.net");
    assert_eq!(c["oid"], server.config().system_assigned.object_id.as_str());

    // Errors are Credential errors whose source is this crate's error.
    let unknown = ManagedIdentityClient::builder(ManagedIdentity::client_id("nope"))
        .environment(
            server
                .environment("imds")
                .into_iter()
                .fold(StaticEnvironment::new(), |e, (k, v)| e.with_var(k, v)),
        )
        .build()
        .unwrap();
    let err = unknown
        .get_token(&["https://vault.azure.net/.default"], None)
        .await
        .unwrap_err();
    assert_eq!(*err.kind(), ErrorKind::Credential);
    let source = std::error::Error::source(&err).expect("the entra-msal error");
    assert!(
        source.downcast_ref::<entra_msal::Error>().is_some(),
        "{source:?}"
    );
    let err = mi
        .get_token(&["a/.default", "b/.default"], None)
        .await
        .unwrap_err();
    assert_eq!(*err.kind(), ErrorKind::Credential);
}

#[tokio::test]
async fn public_client_signs_in_by_device_code_once_then_stays_silent() {
    let env = support::env().await;
    let alice = env.user("alice").username;
    let control = env.emulator.control();
    let shown = Arc::new(Mutex::new(Vec::<String>::new()));
    let shown_by_callback = shown.clone();
    let mode = InteractiveMode::DeviceCode(Arc::new(move |flow| {
        shown_by_callback
            .lock()
            .unwrap()
            .push(flow.user_code.clone());
        control
            .approve_device_code(&flow.user_code, &alice)
            .unwrap();
    }));
    let credential = PublicClientCredential::with_mode(env.public_app(), mode);
    assert!(format!("{credential:?}").contains("DeviceCode"));
    let scope = "api://emulator-api/access_as_user";
    let first = credential.get_token(&[scope], None).await.unwrap();
    let second = credential.get_token(&[scope], None).await.unwrap();
    assert_eq!(shown.lock().unwrap().len(), 1, "one sign-in, then silent");
    assert_eq!(first.token.secret(), second.token.secret());
    let c: Value = {
        let header = format!("Bearer {}", first.token.secret());
        claims(&header)
    };
    assert_eq!(c["preferred_username"], env.user("alice").username.as_str());

    // Through the policy, too: the silent path answers.
    let service = Arc::new(Service::default());
    let p = pipeline(Arc::new(credential), scope, service.clone());
    call(&p).await.unwrap();
    assert_eq!(shown.lock().unwrap().len(), 1);
    assert!(service.authorizations.lock().unwrap()[0].is_some());

    // Silent-only with an empty cache: a Credential error, no prompt.
    let silent_only =
        PublicClientCredential::with_mode(env.public_app(), InteractiveMode::SilentOnly);
    let err = silent_only.get_token(&[scope], None).await.unwrap_err();
    assert_eq!(*err.kind(), ErrorKind::Credential);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_authorizes_an_sdk_pipeline() {
    let env = support::env().await;
    let exe = support::example("azure_sdk");
    let c = env.info.confidential_client.as_ref().unwrap();
    let url = format!("{}/discovery/v2.0/keys", env.emulator.authority());
    let output = tokio::process::Command::new(exe)
        .env("ENTRA_AUTHORITY", env.emulator.authority())
        .env("ENTRA_CLIENT_ID", &c.client_id)
        .env("ENTRA_CLIENT_SECRET", c.client_secret.as_ref().unwrap())
        .env("ENTRA_CA_FILE", env.info.ca_file.as_ref().unwrap())
        .env("AZURE_SCOPE", "api://emulator-api/.default")
        .env("AZURE_URL", &url)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.matches("HTTP 200").count(), 2, "{stdout}");
    assert!(
        !stdout.contains(c.client_secret.as_ref().unwrap().as_str()),
        "{stdout}"
    );
    let calls: Vec<_> = env
        .emulator
        .control()
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/discovery/v2.0/keys"))
        .collect();
    assert_eq!(calls.len(), 2);
    for r in &calls {
        let c2 = claims(r.headers.get("authorization").expect("authorized"));
        assert_eq!(c2["azp"], c.client_id.as_str());
    }
    assert_eq!(token_requests(&env), 1);
}
