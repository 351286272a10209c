//! Every recorded snapshot in fixtures/snapshots is diagnosed offline (`--from`) and must
//! give the cause its file is named after (`healthy` gives none): the checks and the ranking,
//! tested on facts recorded from real nginx scenarios (see tests/lab_diagnose.rs).

use std::process::Command;

mod lab;

#[test]
fn each_snapshot_gives_the_cause_it_is_named_after() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/snapshots");
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        let out = Command::new(env!("CARGO_BIN_EXE_badgw"))
            .args(["diagnose", "--json", "--from", path.to_str().unwrap()])
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let top = report["findings"][0]["cause"].as_str();
        if name == "healthy" {
            let problems = report["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["severity"] != "info")
                .count();
            assert_eq!(problems, 0, "{name}: {report:#}");
            assert_eq!(out.status.code(), Some(0));
        } else {
            assert_eq!(top, Some(name.as_str()), "{name}: {report:#}");
            assert_eq!(out.status.code(), Some(1));
            let evidence = report["findings"][0]["evidence"].as_array().unwrap();
            assert!(!evidence.is_empty(), "{name}: a finding without evidence");
            assert!(
                !report["findings"][0]["fixes"]
                    .as_array()
                    .unwrap()
                    .is_empty(),
                "{name}: no fix"
            );
        }
        // The snapshot is analyzed as it was recorded: diagnosing it twice gives the same
        // findings (no clock, no host).
        let again = Command::new(env!("CARGO_BIN_EXE_badgw"))
            .args(["diagnose", "--json", "--from", path.to_str().unwrap()])
            .output()
            .unwrap();
        let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
        assert_eq!(
            again["findings"], report["findings"],
            "{name}: not deterministic"
        );
        checked.push(name);
    }
    for expected in [
        "healthy",
        "upstream-down",
        "port-mismatch",
        "address-family-mismatch",
        "socket-missing",
    ] {
        assert!(
            checked.iter().any(|c| c == expected),
            "fixtures/snapshots/{expected}.json is missing"
        );
    }
}

/// The default human report of every recorded scenario fits one screen (40 rows of 100
/// columns); `-v` adds the full checks table.
#[test]
fn default_report_of_each_snapshot_fits_one_screen() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/snapshots");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let (_, text) = lab::diagnose_human(&["--from", path.to_str().unwrap()]);
        assert!(text.contains("Route"), "{}: {text}", path.display());
        let verbose = Command::new(env!("CARGO_BIN_EXE_badgw"))
            .args(["diagnose", "-v", "--from", path.to_str().unwrap()])
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let verbose = String::from_utf8_lossy(&verbose.stdout);
        assert!(verbose.contains("Checks"), "{}: {verbose}", path.display());
        seen += 1;
    }
    assert!(seen >= 5, "only {seen} snapshots");
}
