//! Replays the fuzz seeds (`fuzz/seeds/<target>/`) and the inputs of fixed fuzzing findings
//! (`fuzz/regressions/<target>/`) through the same entry points the fuzz targets use, on the
//! stable toolchain, so every CI run checks them even where nightly and cargo-fuzz are missing.

mod support;

use entra_emulator::fuzzing::replay_corpus as replay;

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
