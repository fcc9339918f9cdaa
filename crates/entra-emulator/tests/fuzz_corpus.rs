//! Replays the fuzz seeds (`fuzz/seeds/<target>/`) and the inputs of fixed fuzzing findings
//! (`fuzz/regressions/<target>/`) through the same entry points the fuzz targets use, on the
//! stable toolchain, so every CI run checks them even where nightly and cargo-fuzz are missing.

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
