//! The `msal` binary: the README's demo and the emulator subcommand.

use std::process::Command;

use entra_test_support::emulator::spawn_serve;
use entra_test_support::logs::suite_log_file;

#[test]
fn demo_runs_unattended_to_the_end() {
    let mut demo = Command::new(env!("CARGO_BIN_EXE_msal"));
    demo.arg("demo").env_remove("MSAL_LOG_FILE");
    // Under scripts/test the demo's trace joins the whole suite's logs for the leak scan.
    if let Some(file) = suite_log_file("msal-demo") {
        demo.env("MSAL_LOG_FILE", file);
    }
    let output = demo.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "signed in    alice@contoso.example",
        "token        from IdentityProvider",
        "from Cache; same token: true",
        "from IdentityProvider; new token: true",
        "first from IdentityProvider, second from Cache",
        "invalid_client (HTTP 401), AADSTS7000215",
        "UiRequired, as expected",
        "All 11 steps finished",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    // The broker step runs wherever a private D-Bus can be started (always under CI).
    let broker_ran = stdout.contains("(the device user, no UI), token from the broker");
    if std::env::var("CI").as_deref() == Ok("true") {
        assert!(broker_ran, "the broker step did not run:\n{stdout}");
    } else if !broker_ran {
        eprintln!("SKIPPED: the demo's broker step (no private D-Bus here)");
    }
}

#[test]
fn emulator_serve_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, info) = spawn_serve(
        Command::new(env!("CARGO_BIN_EXE_msal"))
            .args(["emulator", "serve", "--json", "--state-dir"])
            .arg(dir.path()),
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(info.authority.starts_with("https://127.0.0.1:"));
    assert!(
        info.control_url.is_none(),
        "the control API is off unless enabled"
    );
}

#[test]
fn emulator_scan_logs_finds_a_recorded_secret_and_passes_a_clean_log() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets.jsonl");
    std::fs::write(
        &secrets,
        "{\"kind\":\"refresh_token\",\"value\":\"1.emu.a-refresh-token-value\"}\n",
    )
    .unwrap();
    let clean = dir.path().join("clean.log");
    std::fs::write(&clean, "DEBUG token acquired\n").unwrap();
    let leaky = dir.path().join("leaky.log");
    std::fs::write(&leaky, "DEBUG rt=1.emu.a-refresh-token-value\n").unwrap();
    let scan = |log: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_msal"))
            .args(["emulator", "scan-logs", "--secrets"])
            .arg(&secrets)
            .arg(log)
            .output()
            .unwrap()
    };
    let ok = scan(&clean);
    assert!(ok.status.success(), "{ok:?}");
    let bad = scan(&leaky);
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("leaky.log:1: RefreshToken"), "{stderr}");
    assert!(!stderr.contains("a-refresh-token-value"), "{stderr}");
}

/// The commands whose `--help` docs/cli.md reproduces, in its order.
const HELP_PAGES: &[&[&str]] = &[
    &[],
    &["login"],
    &["token"],
    &["accounts"],
    &["logout"],
    &["status"],
    &["config"],
    &["config", "get"],
    &["config", "set"],
    &["config", "unset"],
    &["config", "list"],
    &["ssh-cert"],
    &["kubeconfig"],
    &["decode"],
    &["doctor"],
    &["demo"],
    &["emulator"],
    &["emulator", "serve"],
    &["emulator", "scan-logs"],
    &["completions"],
];

const HELP_BEGIN: &str = "<!-- BEGIN GENERATED HELP";
const HELP_END: &str = "<!-- END GENERATED HELP -->";
const REGENERATE: &str = "MSAL_REGENERATE_DOCS=1 cargo test -p entra-msal-cli --test cli docs_cli_md_has_every_help_page";

/// The reference section as the binary prints it today.
fn help_reference() -> String {
    let mut out = format!("{HELP_BEGIN}: written by `{REGENERATE}`; do not edit by hand -->\n");
    for page in HELP_PAGES {
        let output = Command::new(env!("CARGO_BIN_EXE_msal"))
            .env_clear()
            .args(*page)
            .arg("--help")
            .output()
            .unwrap();
        assert!(output.status.success(), "msal {page:?} --help failed");
        let text = String::from_utf8(output.stdout).unwrap();
        let title = if page.is_empty() {
            "msal --help".to_string()
        } else {
            format!("msal {} --help", page.join(" "))
        };
        out.push_str(&format!(
            "\n### `{title}`\n\n```text\n{}\n```\n",
            text.trim_end()
        ));
    }
    out.push('\n');
    out.push_str(HELP_END);
    out
}

#[test]
fn docs_cli_md_has_every_help_page() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/cli.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (Some(begin), Some(end)) = (doc.find(HELP_BEGIN), doc.find(HELP_END)) else {
        panic!(
            "docs/cli.md has no generated help section ({HELP_BEGIN} ... {HELP_END}); add the two markers and run `{REGENERATE}`"
        );
    };
    let current = &doc[begin..end + HELP_END.len()];
    let expected = help_reference();
    if current == expected {
        return;
    }
    if std::env::var("MSAL_REGENERATE_DOCS").as_deref() == Ok("1") {
        let updated = format!(
            "{}{expected}{}",
            &doc[..begin],
            &doc[end + HELP_END.len()..]
        );
        std::fs::write(&path, updated).unwrap();
        eprintln!("docs/cli.md: the help reference was regenerated");
        return;
    }
    let first_difference = current
        .lines()
        .zip(expected.lines())
        .position(|(a, b)| a != b)
        .map(|i| {
            format!(
                "first difference at line {} of the section:\n  doc:    {:?}\n  binary: {:?}",
                i + 1,
                current.lines().nth(i).unwrap_or(""),
                expected.lines().nth(i).unwrap_or("")
            )
        })
        .unwrap_or_else(|| "one is a prefix of the other".into());
    panic!(
        "docs/cli.md's help reference differs from `msal --help` and the commands' help: {first_difference}\nRegenerate it with `{REGENERATE}`, then review the diff."
    );
}
