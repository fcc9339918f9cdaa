//! SSH certificates (MSAL Python's `data={"token_type": "ssh-cert", "req_cnf": …, "key_id": …}`)
//! end to end against the in-process emulator: every user flow, the cache by `key_id` in MSAL
//! Python's format, a changed key, bearer tokens kept apart; and the certificate read by
//! `ssh-keygen -L` and accepted by a real `sshd`.

mod support;

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use entra_msal::{
    DeviceFlowOptions, Error, InteractiveOptions, SilentOptions, SshCertificateRequest,
    TokenSource, UsernamePasswordOptions,
};
use entra_test_support::ssh;
use support::{browser, env};

/// The scope `az ssh` asks for.
const SSH_SCOPE: &str = "https://pas.windows.net/CheckMyAccess/Linux/.default";
const API_SCOPE: &str = "api://emulator-api/access_as_user";

/// MSAL Python's test key (`msal.__main__._JWK1`).
const JWK1_N: &str = "2tNr73xwcj6lH7bqRZrFzgSLj7OeLfbn8216uOMDHuaZ6TEUBDN8Uz0ve8jAlKsP9CQFCSVoSNovdE-fs7c15MxEGHjDcNKLWonznximj8pDGZQjVdfK-7mG6P6z-lgVcLuYu5JcWU_PeEqIKg5llOaz-qeQ4LEDS4T1D2qWRGpAra4rJX1-kmrWmX_XIamq30C9EIO0gGuT4rc2hJBWQ-4-FnE1NXmy125wfT3NdotAJGq5lMIfhjfglDbJCwhc8Oe17ORjO3FsB5CLuBRpYmP7Nzn66lRY3Fe11Xz8AEBl3anKFSJcTvlMnFtu3EpD-eiaHfTgRBU7CztGQqVbiQ";

fn key1() -> SshCertificateRequest {
    SshCertificateRequest::from_rsa_jwk(JWK1_N, "AQAB")
        .unwrap()
        .with_key_id("key1")
}

/// Another 2048-bit public key (the emulator signs public keys; no private half is needed).
fn key2() -> SshCertificateRequest {
    SshCertificateRequest::from_rsa_jwk(&URL_SAFE_NO_PAD.encode([0xc5u8; 256]), "AQAB")
        .unwrap()
        .with_key_id("key2")
}

/// The certificate's principals and key id, read from its SSH wire format.
fn principals_and_key_id(token: &str) -> (Vec<String>, String) {
    let blob = STANDARD.decode(token).expect("the certificate is base64");
    let mut rest = blob.as_slice();
    assert_eq!(string_at(&mut rest), b"ssh-rsa-cert-v01@openssh.com");
    for _ in 0..3 {
        string_at(&mut rest); // nonce, e, n
    }
    rest = &rest[8 + 4..]; // serial, type
    let key_id = String::from_utf8(string_at(&mut rest)).unwrap();
    let packed = string_at(&mut rest);
    let mut p = packed.as_slice();
    let mut principals = Vec::new();
    while !p.is_empty() {
        principals.push(String::from_utf8(string_at(&mut p)).unwrap());
    }
    (principals, key_id)
}

fn string_at(rest: &mut &[u8]) -> Vec<u8> {
    let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
    let value = rest[4..4 + len].to_vec();
    *rest = &rest[4 + len..];
    value
}

fn ssh_options(key: SshCertificateRequest) -> SilentOptions {
    SilentOptions {
        ssh_certificate: Some(key),
        ..SilentOptions::default()
    }
}

#[tokio::test]
async fn username_password_gets_an_ssh_certificate_cached_by_key_id_as_msal_python() {
    let e = env().await;
    let app = e.public_app();
    let alice = e.user("alice");
    let result = app
        .acquire_token_by_username_password_with(
            &alice.username,
            &alice.password,
            &[SSH_SCOPE],
            &UsernamePasswordOptions {
                ssh_certificate: Some(key1()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(result.token_type, "ssh-cert");
    let cert = result.access_token.expose().to_string();
    assert!(cert.starts_with("AAAA"), "a base64 SSH blob");
    assert_eq!(
        result.ssh_certificate_line().unwrap(),
        format!("ssh-rsa-cert-v01@openssh.com {cert}")
    );
    let (principals, key_id) = principals_and_key_id(&cert);
    assert_eq!(principals, vec![alice.username.clone()]);
    assert_eq!(key_id, "key1");
    // On the wire: MSAL Python's three parameters.
    let sent = e.token_requests().pop().unwrap();
    assert_eq!(sent.form["token_type"], "ssh-cert");
    assert_eq!(sent.form["key_id"], "key1");
    assert_eq!(sent.form["req_cnf"], key1().req_cnf());

    // The cache entry is MSAL Python's: the usual key (no key_id in it), `token_type` and
    // `key_id` stored on the entry, no extended cache key.
    let doc: serde_json::Value = serde_json::from_str(&app.token_cache().serialize()).unwrap();
    let ats = doc["AccessToken"].as_object().unwrap();
    assert_eq!(ats.len(), 1);
    let (key, at) = ats.iter().next().unwrap();
    assert!(key.contains("-accesstoken-"), "{key}");
    assert!(!key.contains("key1"), "{key}");
    assert_eq!(at["token_type"], "ssh-cert");
    assert_eq!(at["key_id"], "key1");
    assert_eq!(at["secret"], cert.as_str());
    assert!(at.get("ext_cache_key").is_none());

    // Silent with the same key: the cached certificate.
    let account = result.account.clone().unwrap();
    let silent = app
        .acquire_token_silent(&[SSH_SCOPE], &account, &ssh_options(key1()))
        .await
        .unwrap();
    assert_eq!(silent.token_source, TokenSource::Cache);
    assert_eq!(silent.token_type, "ssh-cert");
    assert_eq!(silent.access_token.expose(), cert);
}

#[tokio::test]
async fn a_changed_key_gets_a_new_certificate_through_the_refresh_token() {
    let e = env().await;
    let app = e.public_app();
    let alice = e.user("alice");
    let first = app
        .acquire_token_by_username_password_with(
            &alice.username,
            &alice.password,
            &[SSH_SCOPE],
            &UsernamePasswordOptions {
                ssh_certificate: Some(key1()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let account = first.account.clone().unwrap();
    let second = app
        .acquire_token_silent(&[SSH_SCOPE], &account, &ssh_options(key2()))
        .await
        .unwrap();
    assert_eq!(second.token_source, TokenSource::IdentityProvider);
    assert_eq!(second.token_type, "ssh-cert");
    assert_ne!(second.access_token, first.access_token);
    assert_eq!(
        principals_and_key_id(second.access_token.expose()).1,
        "key2"
    );
    let sent = e.token_requests().pop().unwrap();
    assert_eq!(sent.form["grant_type"], "refresh_token");
    assert_eq!(sent.form["key_id"], "key2");
    assert_eq!(sent.form["req_cnf"], key2().req_cnf());
    // Now key2's certificate is the cached one.
    let again = app
        .acquire_token_silent(&[SSH_SCOPE], &account, &ssh_options(key2()))
        .await
        .unwrap();
    assert_eq!(again.token_source, TokenSource::Cache);
    assert_eq!(again.access_token, second.access_token);
    // A forced refresh sends the parameters again and files the new certificate.
    let forced = app
        .acquire_token_silent(
            &[SSH_SCOPE],
            &account,
            &SilentOptions {
                force_refresh: true,
                ..ssh_options(key2())
            },
        )
        .await
        .unwrap();
    assert_eq!(forced.token_type, "ssh-cert");
    assert_ne!(forced.access_token, second.access_token);
}

#[tokio::test]
async fn bearer_tokens_and_ssh_certificates_are_never_mixed_up() {
    let e = env().await;
    let app = e.public_app();
    let alice = e.user("alice");
    let bearer = app
        .acquire_token_by_username_password(&alice.username, &alice.password, &[API_SCOPE])
        .await
        .unwrap();
    assert_eq!(bearer.token_type, "Bearer");
    let account = bearer.account.clone().unwrap();
    let cert = app
        .acquire_token_silent(&[SSH_SCOPE], &account, &ssh_options(key1()))
        .await
        .unwrap();
    assert_eq!(cert.token_type, "ssh-cert");
    // Both cached, each found by its own kind of request.
    let bearer_again = app
        .acquire_token_silent(&[API_SCOPE], &account, &SilentOptions::default())
        .await
        .unwrap();
    assert_eq!(
        (bearer_again.token_source, bearer_again.token_type.as_ref()),
        (TokenSource::Cache, "Bearer")
    );
    assert_eq!(bearer_again.access_token, bearer.access_token);
    let cert_again = app
        .acquire_token_silent(&[SSH_SCOPE], &account, &ssh_options(key1()))
        .await
        .unwrap();
    assert_eq!(cert_again.token_source, TokenSource::Cache);
    assert_eq!(cert_again.access_token, cert.access_token);
    // A bearer request for the certificate's scope never receives the certificate.
    let bearer_for_ssh_scope = app
        .acquire_token_silent(&[SSH_SCOPE], &account, &SilentOptions::default())
        .await
        .unwrap();
    assert_eq!(bearer_for_ssh_scope.token_type, "Bearer");
    assert_eq!(
        bearer_for_ssh_scope.token_source,
        TokenSource::IdentityProvider
    );
    // And an SSH request for the bearer token's scope gets a certificate, not the bearer token.
    let cert_for_api_scope = app
        .acquire_token_silent(&[API_SCOPE], &account, &ssh_options(key1()))
        .await
        .unwrap();
    assert_eq!(cert_for_api_scope.token_type, "ssh-cert");
    assert_eq!(
        cert_for_api_scope.token_source,
        TokenSource::IdentityProvider
    );
}

#[tokio::test]
async fn device_code_and_interactive_get_ssh_certificates() {
    let e = env().await;
    let app = e.public_app();
    let flow = app
        .initiate_device_flow_with(
            &[SSH_SCOPE],
            &DeviceFlowOptions {
                ssh_certificate: Some(key1()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    e.emulator
        .control()
        .approve_device_code(&flow.user_code, &e.user("alice").username)
        .unwrap();
    let by_device = app.acquire_token_by_device_flow(&flow).await.unwrap();
    assert_eq!(by_device.token_type, "ssh-cert");
    assert_eq!(
        principals_and_key_id(by_device.access_token.expose()).0,
        vec![e.user("alice").username]
    );

    let carol = e.user("carol");
    let interactive = app
        .acquire_token_interactive(
            &[SSH_SCOPE],
            &InteractiveOptions {
                url_opener: Some(browser(&e, Some(&carol.username))),
                ssh_certificate: Some(key2()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(interactive.token_type, "ssh-cert");
    assert_eq!(
        principals_and_key_id(interactive.access_token.expose()),
        (vec![carol.username.clone()], "key2".to_string())
    );
    let sent = e.token_requests().pop().unwrap();
    assert_eq!(sent.form["grant_type"], "authorization_code");
    assert_eq!(sent.form["token_type"], "ssh-cert");
}

#[tokio::test]
async fn bad_ssh_certificate_parameters_are_typed_errors() {
    let e = env().await;
    let app = e.public_app();
    let alice = e.user("alice");
    // MSAL Python's check: an ssh-cert request needs req_cnf and key_id (no request is sent).
    let data: BTreeMap<String, String> = [("token_type", "ssh-cert"), ("key_id", "k")]
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    let before = e.token_requests().len();
    let err = app
        .acquire_token_by_username_password_with(
            &alice.username,
            &alice.password,
            &[SSH_SCOPE],
            &UsernamePasswordOptions {
                data,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Configuration { .. }), "{err}");
    assert!(err.to_string().contains("req_cnf"), "{err}");
    assert_eq!(e.token_requests().len(), before);
    // The emulator refuses a req_cnf that is not an RSA JWK, as invalid_request.
    let data: BTreeMap<String, String> = [
        ("token_type", "ssh-cert"),
        ("key_id", "k"),
        ("req_cnf", r#"{"kty":"EC","crv":"P-256","x":"a","y":"b"}"#),
    ]
    .into_iter()
    .map(|(k, v)| (k.into(), v.into()))
    .collect();
    let err = app
        .acquire_token_by_username_password_with(
            &alice.username,
            &alice.password,
            &[SSH_SCOPE],
            &UsernamePasswordOptions {
                data,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    let service = err.service_error().expect("a service error");
    assert_eq!(service.error(), "invalid_request");
    assert!(
        service.error_description().contains("RSA keys only"),
        "{err}"
    );
    // An ed25519 OpenSSH key is refused before any request, saying why.
    let err = SshCertificateRequest::from_openssh_public_key(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOb1Ew8Pyd9aSGiMTv5nXhv9x7vWzBhNDkWlM6N2c2yb me",
    )
    .unwrap_err();
    assert!(err.to_string().contains("RSA keys only"), "{err}");
}

/// The certificate as OpenSSH reads it, and a real `sshd` that trusts the emulator's CA lets
/// the user in with it, and not without it.
#[tokio::test]
async fn ssh_keygen_reads_the_certificate_and_sshd_accepts_it() {
    let (Some(keygen), Some(ssh_bin), Some(sshd_bin)) =
        (ssh::ssh_keygen(), ssh::ssh(), ssh::sshd())
    else {
        return;
    };
    let e = env().await;
    let dir = tempfile::tempdir().unwrap();
    let key = ssh::generate_rsa_key(&keygen, dir.path(), "id_rsa");
    let public_line = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let app = e.public_app();
    let alice = e.user("alice");
    let result = app
        .acquire_token_by_username_password_with(
            &alice.username,
            &alice.password,
            &[SSH_SCOPE],
            &UsernamePasswordOptions {
                ssh_certificate: Some(
                    SshCertificateRequest::from_openssh_public_key(&public_line).unwrap(),
                ),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let cert = dir.path().join("id_rsa-cert.pub");
    std::fs::write(
        &cert,
        format!("{}\n", result.ssh_certificate_line().unwrap()),
    )
    .unwrap();

    let listing = ssh::list_certificate(&keygen, &cert);
    let ca_line = e
        .info
        .ssh_ca_public_key
        .clone()
        .expect("serve --json has the CA key");
    let ca_file = dir.path().join("ca.pub");
    std::fs::write(&ca_file, format!("{ca_line}\n")).unwrap();
    let ca_fingerprint = String::from_utf8(
        std::process::Command::new(&keygen)
            .arg("-l")
            .arg("-f")
            .arg(&ca_file)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let ca_fingerprint = ca_fingerprint
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    assert!(
        listing.contains("Type: ssh-rsa-cert-v01@openssh.com user certificate"),
        "{listing}"
    );
    assert!(
        listing.contains(&format!("Signing CA: RSA {ca_fingerprint}")),
        "{listing}"
    );
    assert!(listing.contains(&alice.username), "{listing}");
    assert!(listing.contains("permit-pty"), "{listing}");
    let control_ca = e.emulator.control().ssh_ca().unwrap();
    assert_eq!(
        (control_ca.0.as_str(), control_ca.1.as_str()),
        (ca_line.as_str(), ca_fingerprint.as_str())
    );

    let sshd_dir = tempfile::tempdir().unwrap();
    let server = ssh::Sshd::start(
        &sshd_bin,
        &keygen,
        sshd_dir.path(),
        &ca_line,
        &alice.username,
    );
    let (ok, stderr) = server.login(&ssh_bin, &key, Some(&cert));
    assert!(
        ok,
        "ssh with the certificate failed: {stderr}\nsshd: {}",
        server.log()
    );
    // The same key without its certificate is refused (no authorized_keys, no password).
    let bare = dir.path().join("bare");
    std::fs::create_dir(&bare).unwrap();
    let bare_key = bare.join("id_rsa");
    std::fs::copy(&key, &bare_key).unwrap();
    let (ok, _) = server.login(&ssh_bin, &bare_key, None);
    assert!(!ok, "sshd let the key in without a certificate");
    // A certificate for another principal is refused too.
    let carol = e.user("carol");
    let for_carol = app
        .acquire_token_by_username_password_with(
            &carol.username,
            &carol.password,
            &[SSH_SCOPE],
            &UsernamePasswordOptions {
                ssh_certificate: Some(
                    SshCertificateRequest::from_openssh_public_key(&public_line).unwrap(),
                ),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let carol_cert = dir.path().join("carol-cert.pub");
    std::fs::write(
        &carol_cert,
        format!("{}\n", for_carol.ssh_certificate_line().unwrap()),
    )
    .unwrap();
    let (ok, _) = server.login(&ssh_bin, &key, Some(&carol_cert));
    assert!(!ok, "sshd accepted a certificate for another principal");
}

/// MSAL Python 1.39 gets SSH certificates from the emulator with `data={...}` (username and
/// password, then silent by `key_id`, then another key through the refresh token), and its cache
/// file answers this library's silent request for the same `key_id`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_python_obtains_ssh_certificates_and_shares_them_by_key_id() {
    let Some(python) = entra_test_support::python() else {
        return;
    };
    let Some(keygen) = ssh::ssh_keygen() else {
        return;
    };
    let e = env().await;
    let dir = tempfile::tempdir().unwrap();
    let key = ssh::generate_rsa_key(&keygen, dir.path(), "id_rsa");
    let public_key = key.with_extension("pub");
    let info_file = dir.path().join("info.json");
    std::fs::write(&info_file, serde_json::to_string(&e.info).unwrap()).unwrap();
    let output = tokio::process::Command::new(&python)
        .arg(entra_test_support::repo_root().join("interop/msal_python_ssh_cert.py"))
        .arg("--info")
        .arg(&info_file)
        .arg("--public-key")
        .arg(&public_key)
        .arg("--out")
        .arg(dir.path())
        .env_remove("REQUESTS_CA_BUNDLE")
        .kill_on_drop(true)
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: serde_json::Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_default();
    assert!(
        output.status.success() && report["ok"] == true,
        "MSAL Python failed\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        e.emulator.control().requests().iter().any(|r| {
            r.headers.get("x-client-sku").map(String::as_str) == Some("MSAL.Python")
                && r.form.get("token_type").map(String::as_str) == Some("ssh-cert")
        }),
        "MSAL Python's ssh-cert requests reached the emulator"
    );
    let alice = e.user("alice");
    let listing = ssh::list_certificate(&keygen, &dir.path().join("cert.pub"));
    assert!(listing.contains(&alice.username), "{listing}");

    // The same key through this library: its key id is az ssh's, so MSAL Python's cached
    // certificate answers.
    let public_line = std::fs::read_to_string(&public_key).unwrap();
    let request = SshCertificateRequest::from_openssh_public_key(&public_line).unwrap();
    assert_eq!(report["key_id"], request.key_id());
    let cache = entra_msal::TokenCache::new();
    cache
        .deserialize(&std::fs::read_to_string(dir.path().join("cache.json")).unwrap())
        .unwrap();
    let app = e
        .public_builder(&e.info.public_client.as_ref().unwrap().client_id)
        .token_cache(cache)
        .build()
        .unwrap();
    let account = app.accounts(Some(&alice.username))[0].clone();
    let silent = app
        .acquire_token_silent(&[SSH_SCOPE], &account, &ssh_options(request))
        .await
        .unwrap();
    assert_eq!(silent.token_source, TokenSource::Cache);
    assert_eq!(
        format!("{}\n", silent.ssh_certificate_line().unwrap()),
        std::fs::read_to_string(dir.path().join("final-cert.pub")).unwrap()
    );
}

/// MSAL Python's `data=` beyond SSH certificates: extra body parameters go on the wire, and the
/// token is cached under MSAL Python's extended key of them (`atext`), found only by requests
/// with the same parameters.
#[tokio::test]
async fn extra_body_parameters_are_sent_and_key_the_cache_as_msal_python() {
    let e = env().await;
    let app = e.public_app();
    let alice = e.user("alice");
    let data: BTreeMap<String, String> = [("x_custom", "1")]
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    let with_data = app
        .acquire_token_by_username_password_with(
            &alice.username,
            &alice.password,
            &[API_SCOPE],
            &UsernamePasswordOptions {
                data: data.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(e.token_requests().pop().unwrap().form["x_custom"], "1");
    let doc: serde_json::Value = serde_json::from_str(&app.token_cache().serialize()).unwrap();
    let (key, at) = doc["AccessToken"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .unwrap();
    assert!(key.contains("-atext-"), "{key}");
    assert!(at["ext_cache_key"].as_str().is_some_and(|k| !k.is_empty()));
    let account = with_data.account.clone().unwrap();
    let same = app
        .acquire_token_silent(
            &[API_SCOPE],
            &account,
            &SilentOptions {
                data: data.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(same.token_source, TokenSource::Cache);
    assert_eq!(same.access_token, with_data.access_token);
    let plain = app
        .acquire_token_silent(&[API_SCOPE], &account, &SilentOptions::default())
        .await
        .unwrap();
    assert_eq!(plain.token_source, TokenSource::IdentityProvider);
    assert!(
        !e.token_requests()
            .pop()
            .unwrap()
            .form
            .contains_key("x_custom")
    );
}
