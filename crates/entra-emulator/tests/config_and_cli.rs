//! Configuration files, plain-HTTP mode, and the `entra-emulator serve` command line.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use entra_emulator::{ConnectionInfo, EmulatorConfig};

const TOML: &str = r#"
[[tenants]]
id = "11111111-2222-4333-8444-555555555555"
domains = ["example.test"]

[[applications]]
client_id = "aaaaaaaa-0000-4000-8000-000000000001"
kind = "confidential"
secrets = ["s3cret"]
application_scopes = ["api://svc-*/.default"]

[[applications]]
client_id = "aaaaaaaa-0000-4000-8000-000000000002"
kind = "public"
redirect_uris = ["http://localhost"]
delegated_scopes = ["User.Read"]

[[users]]
username = "erin@example.test"
password = "pw"
object_id = "bbbbbbbb-0000-4000-8000-000000000001"
home_tenant = "11111111-2222-4333-8444-555555555555"

[settings]
plain_http = true
access_token_lifetime_seconds = 600
"#;

#[tokio::test]
async fn toml_configuration_over_plain_http() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tenant.toml");
    std::fs::write(&path, TOML).unwrap();
    let config = EmulatorConfig::from_file(&path).unwrap();
    let t = common::start_with(config).await;
    assert!(t.base().starts_with("http://127.0.0.1:"));
    assert!(t.emulator.ca_pem().is_none());
    let url = t.url("/example.test/oauth2/v2.0/token");
    let (status, body) = t
        .post_form(
            &url,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "aaaaaaaa-0000-4000-8000-000000000001"),
                ("client_secret", "s3cret"),
                ("scope", "api://svc-1/.default"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 600);
    let (status, body) = t
        .post_form(
            &url,
            &[
                ("grant_type", "password"),
                ("client_id", "aaaaaaaa-0000-4000-8000-000000000002"),
                ("username", "erin@example.test"),
                ("password", "pw"),
                ("scope", "User.Read openid"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "User.Read openid");
}

#[test]
fn json_configuration_round_trips() {
    let config: EmulatorConfig = toml::from_str(TOML).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tenant.json");
    std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    let loaded = EmulatorConfig::from_file(&path).unwrap();
    assert_eq!(loaded.applications.len(), 2);
    assert_eq!(loaded.users[0].username, "erin@example.test");
}

#[test]
fn invalid_configurations_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let check = |text: &str, needle: &str| {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, text).unwrap();
        let err = EmulatorConfig::from_file(&path).unwrap_err().to_string();
        assert!(err.contains(needle), "{err:?} should mention {needle:?}");
    };
    check("tenants = []", "at least one tenant");
    check(
        &TOML.replace("secrets = [\"s3cret\"]", ""),
        "needs a secret or a certificate",
    );
    check(
        &TOML.replace(
            "home_tenant = \"11111111-2222-4333-8444-555555555555\"",
            "home_tenant = \"11111111-2222-4333-8444-000000000000\"",
        ),
        "is not configured",
    );
    check(
        &TOML.replace("kind = \"public\"", "kind = \"weird\""),
        "invalid emulator configuration",
    );
    check(&format!("{TOML}\nunknown_key = 1"), "unknown");
    let missing = EmulatorConfig::from_file(&dir.path().join("absent.toml"))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("cannot read"), "{missing}");
}

#[tokio::test]
async fn serve_json_prints_connection_info_once_ready() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_entra-emulator"))
        .args(["serve", "--json", "--enable-control", "--state-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info: ConnectionInfo = serde_json::from_str(&line).expect("one JSON line");
    let raw: serde_json::Value = serde_json::from_str(&line).unwrap();
    for field in [
        "authority",
        "tenant_id",
        "ca_file",
        "control_url",
        "public_client",
        "confidential_client",
        "users",
        "ssh_ca_public_key",
    ] {
        assert!(!raw[field].is_null(), "{field} missing from {line}");
    }
    assert!(info.authority.starts_with("https://127.0.0.1:"));
    assert!(info.authority.ends_with(&info.tenant_id));
    assert!(
        std::fs::read_to_string(info.ca_file.as_ref().unwrap())
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    assert!(info.confidential_client.unwrap().client_secret.is_some());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let key = info
            .certificate_client
            .as_ref()
            .unwrap()
            .private_key_file
            .clone();
        let mode = std::fs::metadata(key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the private key is owner-only");
    }
    assert_eq!(info.users.len(), 4);
    assert!(info.users.iter().any(|u| u.mfa_required));
    assert!(info.users.iter().any(|u| u.guest));
    // The SSH CA's public key, for sshd's TrustedUserCAKeys, also served by the control API.
    let ssh_ca = info.ssh_ca_public_key.clone().unwrap();
    assert!(ssh_ca.starts_with("ssh-rsa AAAAB3NzaC1yc2E"), "{ssh_ca}");
    assert!(ssh_ca.ends_with(" entra-emulator-ssh-ca"), "{ssh_ca}");
    let ca_pem = std::fs::read(info.ca_file.as_ref().unwrap()).unwrap();
    let control: serde_json::Value = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca_pem).unwrap())
        .build()
        .unwrap()
        .get(format!("{}/ssh-ca", info.control_url.as_ref().unwrap()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(control["public_key"], ssh_ca.as_str());
    assert!(
        control["fingerprint"]
            .as_str()
            .unwrap()
            .starts_with("SHA256:")
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn serve_rejects_a_bad_config_file() {
    let output = Command::new(env!("CARGO_BIN_EXE_entra-emulator"))
        .args(["serve", "--config", "/definitely/not/here.toml"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read"));
}

/// Starts `serve --http --json` with `ENTRA_EMULATOR_KEY_CACHE=cache` and returns the `kid` of
/// its token-signing key, the certificate client's key and the SSH CA's public key.
async fn served_key_ids(cache: &std::ffi::OsStr) -> (String, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_entra-emulator"))
        .args(["serve", "--http", "--json", "--state-dir"])
        .arg(dir.path())
        .env("ENTRA_EMULATOR_KEY_CACHE", cache)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info: ConnectionInfo = serde_json::from_str(&line).expect("one JSON line");
    let jwks: serde_json::Value = reqwest::get(format!("{}/discovery/v2.0/keys", info.authority))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_string();
    let cert_key =
        std::fs::read_to_string(info.certificate_client.unwrap().private_key_file).unwrap();
    (kid, cert_key, info.ssh_ca_public_key.unwrap())
}

#[cfg(unix)]
#[tokio::test]
async fn rsa_keys_come_from_the_per_machine_cache_unless_it_is_off() {
    use std::os::unix::fs::PermissionsExt as _;
    let root = tempfile::tempdir().unwrap();
    let cache = root.path().join("cache/keys");
    let first = served_key_ids(cache.as_os_str()).await;
    let second = served_key_ids(cache.as_os_str()).await;
    assert_eq!(
        first, second,
        "the same signing and certificate keys from the cache"
    );
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&cache), 0o700);
    for slot in ["token-signing", "certificate-client", "ssh-ca"] {
        assert_eq!(mode(&cache.join(format!("{slot}.pem"))), 0o600, "{slot}");
    }
    let off = served_key_ids(std::ffi::OsStr::new("off")).await;
    assert_ne!(off.0, first.0, "a new signing key when the cache is off");
    assert_ne!(
        off.1, first.1,
        "a new certificate key when the cache is off"
    );
    assert_ne!(off.2, first.2, "a new SSH CA key when the cache is off");
}
