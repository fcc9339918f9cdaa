//! Replays the fuzz seeds (`fuzz/seeds/<target>/`) and the inputs of fixed fuzzing findings
//! (`fuzz/regressions/<target>/`) through the same entry points the fuzz targets use, on the
//! stable toolchain, so every CI run checks them even where nightly and cargo-fuzz are missing.

use entra_emulator::fuzzing::replay_corpus as replay;

#[test]
fn emulator_broker_request() {
    replay(
        "emulator_broker_request",
        entra_emulator::fuzzing::broker_request,
    );
}

#[test]
fn emulator_form() {
    replay("emulator_form", entra_emulator::fuzzing::form);
}

#[test]
fn emulator_config() {
    replay("emulator_config", entra_emulator::fuzzing::config);
}

#[test]
fn emulator_http() {
    replay("emulator_http", entra_emulator::fuzzing::http);
}
