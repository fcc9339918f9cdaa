//! MSAL Python 1.39's `ManagedIdentityClient`, unchanged, against the emulator's endpoints for
//! every source it handles, and the managed-identity token cache shared both ways between it and
//! `ManagedIdentityClient` (`interop/msal_python_managed_identity.py`).
//!
//! Without the interpreter the tests fail when `CI=true` and are skipped with a notice otherwise.

mod support;

use std::path::Path;
use std::sync::Arc;

use entra_emulator::{ManagedIdentityConfig, ManagedIdentityServer};
use entra_msal::managed_identity::{ManagedIdentity, StaticEnvironment};
use entra_msal::{ManagedIdentityClient, TokenSource};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const VAULT: &str = "https://vault.azure.net";
const STORAGE: &str = "https://storage.azure.com";

struct Setup {
    env: support::Env,
    server: ManagedIdentityServer,
    arc_dir: tempfile::TempDir,
    work: tempfile::TempDir,
}

async fn setup() -> Setup {
    let env = support::env().await;
    let arc_dir = tempfile::tempdir().unwrap();
    let server = env
        .emulator
        .start_managed_identity(ManagedIdentityConfig {
            arc_key_directory: Some(arc_dir.path().to_path_buf()),
            ..Default::default()
        })
        .await
        .unwrap();
    Setup {
        env,
        server,
        arc_dir,
        work: tempfile::tempdir().unwrap(),
    }
}

impl Setup {
    /// Runs MSAL Python for `source` with `identity`; returns its JSON report.
    fn python(
        &self,
        python: &Path,
        source: &str,
        identity: Value,
        resource: &str,
        cache_in: Option<&Path>,
        cache_out: Option<&Path>,
    ) -> Value {
        let spec = self.work.path().join("spec.json");
        std::fs::write(
            &spec,
            json!({
                "identity": identity,
                "resource": resource,
                "cache_in": cache_in,
                "cache_out": cache_out,
                "arc_key_directory": self.arc_dir.path(),
            })
            .to_string(),
        )
        .unwrap();
        let mut command = std::process::Command::new(python);
        command
            .arg(support::repo_root().join("interop/msal_python_managed_identity.py"))
            .arg(&spec)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default());
        for (k, v) in self.server.environment(source) {
            command.env(k, v);
        }
        let output = command.output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let last = stdout.lines().last().unwrap_or("");
        serde_json::from_str(last).unwrap_or_else(|_| {
            panic!(
                "MSAL Python said:\n{stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
    }

    fn rust_client(&self, source: &str, identity: ManagedIdentity) -> ManagedIdentityClient {
        let mut vars = StaticEnvironment::new()
            .with_os("linux")
            .with_arc_key_directory(self.arc_dir.path());
        for (k, v) in self.server.environment(source) {
            vars = vars.with_var(k, v);
        }
        let control = self.env.emulator.control();
        ManagedIdentityClient::builder(identity)
            .environment(vars)
            .clock(Arc::new(move || control.now()))
            .build()
            .unwrap()
    }
}

fn sha256(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_python_gets_tokens_from_every_emulated_source() {
    let Some(python) = support::python() else {
        return;
    };
    let s = setup().await;
    let uami = s.server.config().user_assigned[0].clone();
    let cases = [
        (
            "imds",
            json!({"ManagedIdentityIdType": "SystemAssigned", "Id": null}),
            "/metadata/identity/oauth2/token",
        ),
        (
            "imds",
            json!({"ManagedIdentityIdType": "ResourceId", "Id": uami.resource_id}),
            "/metadata/identity/oauth2/token",
        ),
        (
            "app_service",
            json!({"ManagedIdentityIdType": "ClientId", "Id": uami.client_id}),
            "/msi/token",
        ),
        (
            "machine_learning",
            json!({"ManagedIdentityIdType": "ClientId", "Id": uami.client_id}),
            "/ml/token",
        ),
        (
            "service_fabric",
            json!({"ManagedIdentityIdType": "SystemAssigned", "Id": null}),
            "/servicefabric/token",
        ),
        (
            "azure_arc",
            json!({"ManagedIdentityIdType": "ObjectId", "Id": uami.object_id}),
            "/arc/metadata/identity/oauth2/token",
        ),
    ];
    for (source, identity, path) in cases {
        let python_report = tokio::task::block_in_place(|| {
            s.python(&python, source, identity.clone(), VAULT, None, None)
        });
        assert_eq!(python_report["source"], source, "{python_report}");
        assert_eq!(
            python_report["token_source"], "identity_provider",
            "{source}: {python_report}"
        );
        let python_request = s
            .env
            .emulator
            .control()
            .requests()
            .into_iter()
            .rfind(|r| r.path == path)
            .unwrap();
        // The same request from this crate: the same query parameters, in MSAL's spellings.
        let mi = ManagedIdentity::from_json(&identity.to_string()).unwrap();
        s.rust_client(source, mi)
            .acquire_token_for_client(VAULT)
            .await
            .unwrap();
        let rust_request = s
            .env
            .emulator
            .control()
            .requests()
            .into_iter()
            .rfind(|r| r.path == path)
            .unwrap();
        assert_eq!(rust_request.query, python_request.query, "{source}");
        assert_eq!(rust_request.status, 200);
        for header in ["metadata", "secret", "x-identity-header"] {
            assert_eq!(
                rust_request.headers.contains_key(header),
                python_request.headers.contains_key(header),
                "{source}: header {header}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_identity_cache_is_shared_both_ways() {
    let Some(python) = support::python() else {
        return;
    };
    let s = setup().await;
    let file = s.work.path().join("cache.json");
    let uami = s.server.config().user_assigned[0].clone();
    let by_client_id = json!({"ManagedIdentityIdType": "ClientId", "Id": uami.client_id});

    // Rust first: MSAL Python finds the token in the cache Rust wrote.
    let rust = s.rust_client("imds", ManagedIdentity::client_id(&uami.client_id));
    let token = rust.acquire_token_for_client(VAULT).await.unwrap();
    std::fs::write(&file, rust.token_cache().serialize()).unwrap();
    let report = tokio::task::block_in_place(|| {
        s.python(
            &python,
            "imds",
            by_client_id.clone(),
            VAULT,
            Some(&file),
            Some(&file),
        )
    });
    assert_eq!(report["token_source"], "cache", "{report}");
    assert_eq!(report["token_sha256"], sha256(token.access_token.expose()));
    assert_eq!(
        report["refresh_on"],
        token.refresh_on.unwrap().unix_timestamp()
    );

    // MSAL Python adds another resource; Rust reads its cache and finds both.
    let report = tokio::task::block_in_place(|| {
        s.python(
            &python,
            "imds",
            by_client_id,
            STORAGE,
            Some(&file),
            Some(&file),
        )
    });
    assert_eq!(report["token_source"], "identity_provider", "{report}");
    let reader = s.rust_client("imds", ManagedIdentity::client_id(&uami.client_id));
    reader
        .token_cache()
        .deserialize(&std::fs::read_to_string(&file).unwrap())
        .unwrap();
    let storage = reader.acquire_token_for_client(STORAGE).await.unwrap();
    assert_eq!(storage.token_source, TokenSource::Cache);
    assert_eq!(
        sha256(storage.access_token.expose()),
        report["token_sha256"]
    );
    assert!(
        storage.refresh_on.is_some(),
        "MSAL Python's refresh_on is honoured"
    );
    let vault = reader.acquire_token_for_client(VAULT).await.unwrap();
    assert_eq!(vault.token_source, TokenSource::Cache);
    assert_eq!(vault.access_token, token.access_token);
}

/// MSAL Python 1.39 means to file system-assigned tokens under `SYSTEM_ASSIGNED_MANAGED_IDENTITY`
/// but writes `client_id: null` (`{"Id": None}.get("Id", default)` is `None`). This crate writes
/// the intended id, so the two do not share system-assigned tokens; a cache holding MSAL
/// Python's entry still loads and round-trips. If MSAL Python fixes this, this test says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_python_files_system_assigned_tokens_without_a_client_id() {
    let Some(python) = support::python() else {
        return;
    };
    let s = setup().await;
    let file = s.work.path().join("cache.json");
    let system = json!({"ManagedIdentityIdType": "SystemAssigned", "Id": null});
    let report =
        tokio::task::block_in_place(|| s.python(&python, "imds", system, VAULT, None, Some(&file)));
    assert_eq!(report["token_source"], "identity_provider", "{report}");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let (key, entry) = written["AccessToken"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .unwrap();
    assert_eq!(
        entry["client_id"],
        Value::Null,
        "MSAL Python changed: {entry}"
    );
    assert_eq!(
        key,
        &format!("-localhost-accesstoken--managed_identity-{VAULT}")
    );

    let reader = s.rust_client("imds", ManagedIdentity::SystemAssigned);
    reader
        .token_cache()
        .deserialize(&std::fs::read_to_string(&file).unwrap())
        .unwrap();
    let again: Value = serde_json::from_str(&reader.token_cache().serialize()).unwrap();
    assert_eq!(
        again["AccessToken"][key], *entry,
        "the entry survives a round trip"
    );
    let t = reader.acquire_token_for_client(VAULT).await.unwrap();
    assert_eq!(t.token_source, TokenSource::IdentityProvider);
}
