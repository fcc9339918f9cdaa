//! Replays the fuzz seeds (`fuzz/seeds/<target>/`) and the inputs of fixed fuzzing findings
//! (`fuzz/regressions/<target>/`) through the same entry points the fuzz targets use, on the
//! stable toolchain, so every CI run checks them even where nightly and cargo-fuzz are missing.

mod support;

use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut files = Vec::new();
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else {
            continue;
        };
        files.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
    }
    files.sort();
    files
}

fn replay(target: &str, check: fn(&[u8])) {
    let files = inputs(target);
    assert!(
        !files.is_empty(),
        "fuzz/seeds/{target} is empty; run fuzz/seed_corpora.py and fuzz/golden_seeds.py"
    );
    for file in &files {
        let data = std::fs::read(file).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{target}: {} fails", file.display());
    }
}

#[test]
fn http1_request() {
    replay("http1_request", entra_msal::fuzzing::http1_request);
}

#[test]
fn token_response() {
    replay("token_response", entra_msal::fuzzing::token_response);
}

#[test]
fn cache_json() {
    replay("cache_json", entra_msal::fuzzing::cache_json);
}

#[test]
fn id_token_claims() {
    replay("id_token_claims", entra_msal::fuzzing::id_token_claims);
}

#[test]
fn discovery() {
    replay("discovery", entra_msal::fuzzing::discovery);
}

#[test]
fn linux_broker() {
    replay("linux_broker", entra_msal::fuzzing::linux_broker);
}

#[test]
fn managed_identity() {
    replay("managed_identity", entra_msal::fuzzing::managed_identity);
}

#[test]
fn client_flow() {
    replay("client_flow", entra_msal::fuzzing::client_flow);
}

#[test]
fn macos_broker() {
    replay("macos_broker", entra_msal::fuzzing::macos_broker);
}

#[test]
fn windows_broker() {
    replay("windows_broker", entra_msal::fuzzing::windows_broker);
}

#[test]
fn wsl_protocol() {
    replay("wsl_protocol", entra_msal::fuzzing::wsl_protocol);
}
