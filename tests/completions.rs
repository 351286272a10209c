//! The committed completion scripts must match what `badgw completions SHELL` prints.
//! Regenerate them with `BADGW_BLESS=1 cargo test --test completions`.

use std::process::Command;

const SHELLS: &[(&str, &str)] = &[
    ("bash", "completions/badgw.bash"),
    ("zsh", "completions/_badgw"),
    ("fish", "completions/badgw.fish"),
    ("elvish", "completions/badgw.elv"),
    ("powershell", "completions/_badgw.ps1"),
];

#[test]
fn committed_completions_are_current() {
    let root = env!("CARGO_MANIFEST_DIR");
    let bless = std::env::var_os("BADGW_BLESS").is_some();
    let mut stale = Vec::new();
    for (shell, file) in SHELLS {
        let out = Command::new(env!("CARGO_BIN_EXE_badgw"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "badgw completions {shell} failed");
        assert!(
            out.stdout.len() > 500,
            "{shell} completion is suspiciously short"
        );
        let path = format!("{root}/{file}");
        if bless {
            std::fs::write(&path, &out.stdout).unwrap();
        } else if std::fs::read(&path).ok().as_deref() != Some(&out.stdout[..]) {
            stale.push(*file);
        }
    }
    assert!(
        stale.is_empty(),
        "stale completion files {stale:?}: regenerate with `BADGW_BLESS=1 cargo test --test completions` and commit them"
    );
}
