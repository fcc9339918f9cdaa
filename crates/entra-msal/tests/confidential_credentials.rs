//! How a confidential client authenticates, end to end against the in-process emulator: a
//! certificate chain in `x5c`, an encrypted private key, a memoized assertion callback, and
//! workload identity federation (an assertion file that is rotated).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use entra_msal::{CertificateCredential, Error, ForClientOptions, TokenSource};

use support::{Env, env, test_clock};

const SCOPE: &str = "api://emulator-api/.default";

fn force() -> ForClientOptions {
    ForClientOptions {
        force_refresh: true,
        ..Default::default()
    }
}

/// The certificate client's key and certificate (PEM).
fn certificate(e: &Env) -> (String, String, String) {
    let cert = e.info.certificate_client.as_ref().unwrap();
    (
        cert.client_id.clone(),
        std::fs::read_to_string(&cert.private_key_file).unwrap(),
        std::fs::read_to_string(&cert.certificate_file).unwrap(),
    )
}

fn header(jwt: &str) -> serde_json::Value {
    let part = jwt.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn sent_assertions(e: &Env) -> Vec<String> {
    e.token_requests()
        .into_iter()
        .filter_map(|r| r.form.get("client_assertion").cloned())
        .collect()
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Runs `openssl` (a test fixture tool: `scripts/test` installs it).
fn openssl(args: &[&str], input: &str) -> String {
    use std::io::Write as _;
    let mut child = std::process::Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl is needed to make the encrypted-key fixtures (scripts/test installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl {args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn x5c_carries_the_whole_certificate_chain() {
    let e = env().await;
    let (client_id, key, cert) = certificate(&e);
    // The client's certificate followed by an issuer's (here the emulator's CA).
    let ca = e.emulator.ca_pem().unwrap();
    let chain = format!("{cert}\n{ca}");
    let app = e
        .builder(&client_id)
        .certificate(key.clone(), chain)
        .send_x5c(true)
        .build()
        .unwrap();
    app.acquire_token_for_client(&[SCOPE]).await.unwrap();
    let assertion = sent_assertions(&e).pop().unwrap();
    let x5c = header(&assertion)["x5c"].as_array().unwrap().clone();
    let der = |pem: &str| {
        use rustls::pki_types::pem::PemObject as _;
        STANDARD.encode(rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).unwrap())
    };
    assert_eq!(x5c, vec![der(&cert), der(ca)], "leaf first, then the chain");
    // Without send_x5c, no chain is sent.
    let plain = e
        .builder(&client_id)
        .certificate(key, format!("{cert}\n{ca}"))
        .build()
        .unwrap();
    plain.acquire_token_for_client(&[SCOPE]).await.unwrap();
    assert!(
        header(&sent_assertions(&e).pop().unwrap())
            .get("x5c")
            .is_none()
    );
}

#[tokio::test]
async fn an_encrypted_private_key_with_its_passphrase() {
    let e = env().await;
    let (client_id, key, cert) = certificate(&e);
    // openssl pkcs8 -topk8 -v2 aes-256-cbc: PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC).
    let encrypted = openssl(
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-passout",
            "pass:s3cret",
        ],
        &key,
    );
    assert!(encrypted.contains("BEGIN ENCRYPTED PRIVATE KEY"));
    let app = e
        .builder(&client_id)
        .certificate(encrypted.clone(), cert.clone())
        .private_key_passphrase("s3cret")
        .build()
        .unwrap();
    let token = app.acquire_token_for_client(&[SCOPE]).await.unwrap();
    assert_eq!(token.token_source, TokenSource::IdentityProvider);
    // With the thumbprint instead of the certificate, too; and scrypt-protected keys.
    let scrypt = openssl(
        &["pkcs8", "-topk8", "-scrypt", "-passout", "pass:s3cret"],
        &key,
    );
    let thumbprint = e
        .info
        .certificate_client
        .as_ref()
        .unwrap()
        .thumbprint_sha1
        .clone();
    e.builder(&client_id)
        .certificate_thumbprint(scrypt, thumbprint)
        .private_key_passphrase("s3cret")
        .build()
        .unwrap()
        .acquire_token_for_client(&[SCOPE])
        .await
        .unwrap();
    // The legacy OpenSSL form (Proc-Type: 4,ENCRYPTED), with AES and with triple DES.
    for cipher in ["-aes256", "-aes128", "-des3"] {
        let legacy = openssl(
            &["rsa", cipher, "-traditional", "-passout", "pass:s3cret"],
            &key,
        );
        assert!(legacy.contains("Proc-Type: 4,ENCRYPTED"), "{cipher}");
        e.builder(&client_id)
            .certificate(legacy.clone(), cert.clone())
            .private_key_passphrase("s3cret")
            .build()
            .unwrap()
            .acquire_token_for_client(&[SCOPE])
            .await
            .unwrap();
        let err = e
            .builder(&client_id)
            .certificate(legacy, cert.clone())
            .private_key_passphrase("wrong")
            .build()
            .unwrap_err();
        assert!(
            err.to_string().contains("passphrase is wrong"),
            "{cipher}: {err}"
        );
    }
    let failure = |builder: entra_msal::ConfidentialClientBuilder| {
        let err = builder.build().unwrap_err();
        assert!(matches!(err, Error::Configuration { .. }), "{err}");
        err.to_string()
    };
    let wrong = failure(
        e.builder(&client_id)
            .certificate(encrypted.clone(), cert.clone())
            .private_key_passphrase("wrong"),
    );
    assert!(wrong.contains("passphrase is wrong"), "{wrong}");
    let missing = failure(e.builder(&client_id).certificate(encrypted, cert.clone()));
    assert!(missing.contains("give its passphrase"), "{missing}");
    let needless = failure(
        e.builder(&client_id)
            .certificate(key, cert)
            .private_key_passphrase("s3cret"),
    );
    assert!(needless.contains("not encrypted"), "{needless}");
}

#[tokio::test]
async fn a_memoized_assertion_callback_is_called_once_per_lifetime() {
    let e = env().await;
    let (client_id, key, cert) = certificate(&e);
    let signer = CertificateCredential::from_pem(&key, &cert).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let (clock, reader) = test_clock();
    let app = e
        .builder(&client_id)
        .clock(reader)
        .client_assertion_with_lifetime(
            move |request| {
                counter.fetch_add(1, Ordering::SeqCst);
                signer.sign(&request.client_id, &request.token_endpoint, now())
            },
            Duration::from_secs(300),
        )
        .build()
        .unwrap();
    for _ in 0..3 {
        app.acquire_token_for_client_with(&[SCOPE], &force())
            .await
            .unwrap();
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "reused within its lifetime"
    );
    let sent = sent_assertions(&e);
    assert!(sent.iter().all(|a| a == &sent[0]));
    clock.fetch_add(300, Ordering::SeqCst);
    app.acquire_token_for_client_with(&[SCOPE], &force())
        .await
        .unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "made again once it expired"
    );
    assert_ne!(sent_assertions(&e).pop().unwrap(), sent[0]);
}

#[tokio::test]
async fn workload_identity_federation_sends_the_rotated_token() {
    let e = env().await;
    let (client_id, key, cert) = certificate(&e);
    let signer = CertificateCredential::from_pem(&key, &cert).unwrap();
    let endpoint = format!("{}/oauth2/v2.0/token", e.emulator.authority());
    let file = e.dir.path().join("azure-identity-token");
    let first = signer.sign(&client_id, &endpoint, now()).unwrap();
    std::fs::write(&file, format!("{first}\n")).unwrap();
    let app = e
        .builder(&client_id)
        .workload_identity_federation(&file)
        .build()
        .unwrap();
    let token = app.acquire_token_for_client(&[SCOPE]).await.unwrap();
    assert_eq!(token.token_source, TokenSource::IdentityProvider);
    assert_eq!(sent_assertions(&e), vec![first.clone()]);
    // The kubelet rotates the token: the next request sends the new one.
    let second = signer.sign(&client_id, &endpoint, now()).unwrap();
    assert_ne!(second, first);
    std::fs::write(&file, &second).unwrap();
    app.acquire_token_for_client_with(&[SCOPE], &force())
        .await
        .unwrap();
    assert_eq!(sent_assertions(&e), vec![first, second.clone()]);
    // A cached token needs no assertion: the file is not read while the token is fresh.
    std::fs::write(&file, "").unwrap();
    let cached = app.acquire_token_for_client(&[SCOPE]).await.unwrap();
    assert_eq!(cached.token_source, TokenSource::Cache);
    // An empty or missing file is a configuration error, and nothing is sent.
    let err = app
        .acquire_token_for_client_with(&[SCOPE], &force())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Configuration { .. }), "{err}");
    std::fs::remove_file(&file).unwrap();
    let err = app
        .acquire_token_for_client_with(&[SCOPE], &force())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("AZURE_FEDERATED_TOKEN_FILE"),
        "{err}"
    );
    assert_eq!(sent_assertions(&e).len(), 2);
    // A token the identity provider refuses (not signed by a registered key) is its error.
    std::fs::write(&file, "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln").unwrap();
    let err = app
        .acquire_token_for_client_with(&[SCOPE], &force())
        .await
        .unwrap_err();
    assert!(err.service_error().is_some(), "{err}");
}
