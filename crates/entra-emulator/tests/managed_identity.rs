//! The managed-identity endpoints speak each source's dialect and refuse what the real ones
//! refuse, checked with a plain HTTP client.

mod common;

use entra_emulator::ManagedIdentityConfig;
use serde_json::Value;
use sha1::{Digest, Sha1};

const VAULT: &str = "https://vault.azure.net";

async fn start() -> (
    common::TestEmulator,
    entra_emulator::ManagedIdentityServer,
    tempfile::TempDir,
) {
    let t = common::start().await;
    let arc = tempfile::tempdir().unwrap();
    let server = t
        .emulator
        .start_managed_identity(ManagedIdentityConfig {
            arc_key_directory: Some(arc.path().to_path_buf()),
            ..Default::default()
        })
        .await
        .unwrap();
    (t, server, arc)
}

async fn json(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn imds_requires_its_header_and_version() {
    let (_t, mi, _arc) = start().await;
    let http = reqwest::Client::new();
    let url = format!("{}/metadata/identity/oauth2/token", mi.imds_host());
    let (status, body) = json(
        http.get(&url)
            .query(&[("api-version", "2018-02-01"), ("resource", VAULT)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error_description"],
        "Required metadata header not specified"
    );
    let (status, _) = json(
        http.get(&url)
            .header("Metadata", "true")
            .query(&[("api-version", "2017-01-01"), ("resource", VAULT)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    let uami = mi.config().user_assigned[0].clone();
    let (status, body) = json(
        http.get(&url)
            .header("Metadata", "true")
            .query(&[
                ("api-version", "2018-02-01"),
                ("resource", VAULT),
                ("msi_res_id", uami.resource_id.as_str()),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["client_id"], uami.client_id.as_str());
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_str().unwrap().parse::<i64>().unwrap() > 0);
}

#[tokio::test]
async fn app_service_and_machine_learning_check_their_secrets() {
    let (_t, mi, _arc) = start().await;
    let http = reqwest::Client::new();
    let (status, body) = json(
        http.get(mi.app_service_endpoint())
            .header("X-IDENTITY-HEADER", "wrong")
            .query(&[("api-version", "2019-08-01"), ("resource", VAULT)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["statusCode"], 401);
    let (status, body) = json(
        http.get(mi.app_service_endpoint())
            .header("X-IDENTITY-HEADER", mi.secret())
            .query(&[("api-version", "2019-08-01"), ("resource", VAULT)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body["expires_on"].as_str().unwrap().parse::<i64>().is_ok());
    // The 2017 API wants `clientid`.
    let uami = mi.config().user_assigned[0].clone();
    let (status, _) = json(
        http.get(mi.machine_learning_endpoint())
            .header("secret", mi.secret())
            .query(&[
                ("api-version", "2017-09-01"),
                ("resource", VAULT),
                ("client_id", uami.client_id.as_str()),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn arc_challenge_key_is_single_use() {
    let (_t, mi, arc) = start().await;
    let http = reqwest::Client::new();
    let get = |auth: Option<String>| {
        let mut r = http
            .get(mi.arc_endpoint())
            .header("Metadata", "true")
            .query(&[("api-version", "2020-06-01"), ("resource", VAULT)]);
        if let Some(a) = auth {
            r = r.header("Authorization", a);
        }
        r.send()
    };
    let challenge = get(None).await.unwrap();
    assert_eq!(challenge.status().as_u16(), 401);
    let header = challenge.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    let path = header.strip_prefix("Basic realm=").unwrap();
    assert!(
        path.starts_with(arc.path().to_str().unwrap()) && path.ends_with(".key"),
        "{path}"
    );
    let secret = std::fs::read_to_string(path).unwrap();
    let (status, body) = json(get(Some(format!("Basic {secret}"))).await.unwrap()).await;
    assert_eq!(status, 200);
    assert!(body["access_token"].is_string());
    assert!(
        !std::path::Path::new(path).exists(),
        "the key file is removed after use"
    );
    let (status, _) = json(get(Some(format!("Basic {secret}"))).await.unwrap()).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn service_fabric_serves_the_pinned_certificate() {
    let (_t, mi, _arc) = start().await;
    let http = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .tls_info(true)
        .build()
        .unwrap();
    let response = http
        .get(mi.service_fabric_endpoint())
        .header("Secret", mi.secret())
        .query(&[("api-version", "2019-07-01-preview"), ("resource", VAULT)])
        .send()
        .await
        .unwrap();
    let der = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .unwrap()
        .to_vec();
    let thumbprint: String = Sha1::digest(&der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert_eq!(thumbprint, mi.service_fabric_thumbprint());
    let (status, body) = json(response).await;
    assert_eq!(status, 200);
    assert!(body["expires_on"].is_i64());
    let (status, body) = json(
        http.get(mi.service_fabric_endpoint())
            .query(&[("api-version", "2019-07-01-preview"), ("resource", VAULT)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "SecretHeaderNotFound");
}

#[tokio::test]
async fn cloud_shell_requires_metadata_and_resource() {
    let (_t, mi, _arc) = start().await;
    let http = reqwest::Client::new();
    let (status, _) = json(
        http.post(mi.cloud_shell_endpoint())
            .form(&[("resource", VAULT)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    let (status, body) = json(
        http.post(mi.cloud_shell_endpoint())
            .header("Metadata", "true")
            .form(&[("resource", VAULT)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["resource"], VAULT);
}

#[tokio::test]
async fn imds_instance_metadata_reports_the_location() {
    let (t, mi, _arc) = start().await;
    let http = reqwest::Client::new();
    let compute = format!("{}/metadata/instance/compute", mi.imds_host());
    let (status, body) = json(
        http.get(&compute)
            .header("Metadata", "true")
            .query(&[("api-version", "2021-02-01")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["location"], "westus2");
    let text = http
        .get(format!("{compute}/location"))
        .header("Metadata", "true")
        .query(&[("api-version", "2021-01-01"), ("format", "text")])
        .send()
        .await
        .unwrap();
    assert_eq!(text.status().as_u16(), 200);
    assert_eq!(text.text().await.unwrap(), "westus2");
    // IMDS's refusals: no header, no api-version, a leaf without format=text.
    for (metadata, query) in [(false, vec![("api-version", "2021-02-01")]), (true, vec![])] {
        let mut request = http.get(&compute).query(&query);
        if metadata {
            request = request.header("Metadata", "true");
        }
        assert_eq!(request.send().await.unwrap().status().as_u16(), 400);
    }
    let leaf = http
        .get(format!("{compute}/location"))
        .header("Metadata", "true")
        .query(&[("api-version", "2021-01-01")])
        .send()
        .await
        .unwrap();
    assert_eq!(leaf.status().as_u16(), 400);
    // Off Azure: no location, 404.
    let off_azure = t
        .emulator
        .start_managed_identity(ManagedIdentityConfig {
            location: None,
            ..Default::default()
        })
        .await
        .unwrap();
    let missing = http
        .get(format!(
            "{}/metadata/instance/compute",
            off_azure.imds_host()
        ))
        .header("Metadata", "true")
        .query(&[("api-version", "2021-02-01")])
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
}
