//! What users read, pinned: the human report and the `--json` document of every shipped
//! snapshot (`diagnose --from`), and of `explain-log` on every shipped log, are compared
//! with the reviewed copies in tests/snapshots/. An output change then shows up as a diff
//! to review (`cargo insta review`, or `INSTA_UPDATE=always cargo test --test
//! output_snapshots` and read the diff in git), never by accident.
//!
//! Only what changes from run to run is redacted: check durations and the tool's version.

use std::path::Path;
use std::process::Command;

fn badgw(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_badgw"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("BADGW_BACKUP_DIR")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run badgw");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The fixture's path relative to the crate, as the snapshots show it.
fn rel(path: &Path) -> String {
    path.strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(path)
        .display()
        .to_string()
}

fn json(text: &str, what: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: not JSON ({e}):\n{text}"))
}

#[test]
fn diagnose_reports_of_every_shipped_snapshot() {
    insta::glob!("../fixtures/snapshots", "*.json", |path| {
        let file = rel(path);
        let (code, human) = badgw(&["diagnose", "--from", &file]);
        insta::assert_snapshot!("diagnose-human", format!("exit {code}\n{human}"));
        let (code_json, doc) = badgw(&["diagnose", "--json", "--from", &file]);
        assert_eq!(
            code, code_json,
            "{file}: --json must not change the exit code"
        );
        insta::assert_json_snapshot!("diagnose-json", json(&doc, &file), {
            ".tool.version" => "[version]",
            ".checks[].duration_ms" => "[ms]",
            ".gather[].duration_ms" => "[ms]",
        });
    });
}

fn explain_log_snapshots(dir: &str, pattern: &str) {
    insta::glob!(dir, pattern, |path| {
        let file = rel(path);
        let (code, human) = badgw(&["explain-log", &file]);
        insta::assert_snapshot!("explain-log-human", format!("exit {code}\n{human}"));
        let (code_json, doc) = badgw(&["explain-log", "--json", &file]);
        assert_eq!(
            code, code_json,
            "{file}: --json must not change the exit code"
        );
        insta::assert_json_snapshot!("explain-log-json", json(&doc, &file), {
            ".tool.version" => "[version]",
        });
    });
}

#[test]
fn explain_log_on_every_shipped_error_log() {
    explain_log_snapshots("../fixtures/logs", "**/*.log");
}

#[test]
fn explain_log_on_every_shipped_balancer_log() {
    explain_log_snapshots("../fixtures/lb", "*.{log,json}");
}
