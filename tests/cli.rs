//! The command line as a user meets it: usage errors, exit codes, `explain`, snapshots,
//! JSON purity, colors, and a closed pipe.

use assert_cmd::Command;
use predicates::prelude::*;

fn badgw() -> Command {
    Command::new(env!("CARGO_BIN_EXE_badgw"))
}

#[test]
fn usage_errors_exit_2_with_a_clear_message() {
    badgw()
        .args(["diagnose"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--site"));
    badgw()
        .args(["diagnose", "--site", "x", "--timeout", "3parsecs"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid duration \"3parsecs\""));
    badgw()
        .args(["diagnose", "--url", "shop.example.com/x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--url needs a scheme"));
    badgw().args(["frobnicate"]).assert().code(2);
}

#[test]
fn explain_prints_the_doc_page_and_rejects_unknown_ids() {
    badgw()
        .args(["explain", "upstream-down"])
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("# upstream-down"));
    badgw().args(["explain"]).assert().code(0).stdout(
        predicate::str::contains("socket-missing").and(predicate::str::contains("dns-resolution")),
    );
    badgw()
        .args(["explain", "nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown cause \"nope\""));
}

#[test]
fn a_missing_or_garbage_snapshot_is_a_usage_error_naming_the_file() {
    badgw()
        .args(["diagnose", "--from", "/nonexistent/snap.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/snap.json"));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("garbage.json");
    std::fs::write(&p, b"\xff\xfe not json").unwrap();
    badgw()
        .args(["diagnose", "--from", p.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not a badgw snapshot"));
}

/// Times are parsed when a snapshot is read: one that no form reads is a usage error that
/// names the text and where it is, not a time silently missing from the diagnosis.
#[test]
fn a_snapshot_time_no_form_reads_is_a_usage_error_naming_it() {
    let snap = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/snapshots/upstream-down.json"
    ))
    .unwrap();
    let (key, rest) = snap
        .split_once("\"since\": \"")
        .expect("the snapshot has a since");
    let (_, tail) = rest.split_once('"').unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad-time.json");
    std::fs::write(&p, format!("{key}\"since\": \"yesterday\"{tail}")).unwrap();
    badgw()
        .args(["diagnose", "--from", p.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad-time.json"))
        .stderr(predicate::str::contains("unrecognised time \"yesterday\""))
        .stderr(predicate::str::contains("at line "));
}

#[test]
fn snapshots_in_fixtures_diagnose_with_pure_json_on_stdout() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/snapshots");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        seen += 1;
        let out = badgw()
            .args(["diagnose", "--json", "--from", path.to_str().unwrap()])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{}: stdout is not JSON: {e}", path.display()));
        assert_eq!(v["schema_version"], 1);
        assert_eq!(v["tool"]["name"], "badgw");
        assert!(v["checks"].as_array().is_some_and(|c| !c.is_empty()));
        let code = out.status.code().unwrap();
        let has_problem = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["severity"] == "critical" || f["severity"] == "warning");
        assert_eq!(
            code == 1,
            has_problem,
            "{}: exit {code} vs findings",
            path.display()
        );
    }
    assert!(seen >= 1, "no snapshots in fixtures/snapshots");
}

#[test]
fn no_color_when_not_a_terminal_and_color_when_forced() {
    let snap = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/snapshots/upstream-down.json"
    );
    let plain = badgw().args(["diagnose", "--from", snap]).output().unwrap();
    assert!(
        !plain.stdout.contains(&0x1b),
        "escape codes in piped output"
    );
    let forced = badgw()
        .args(["--color", "always", "diagnose", "--from", snap])
        .output()
        .unwrap();
    assert!(forced.stdout.contains(&0x1b), "--color always must color");
}

/// On a real terminal (a pty from util-linux `script`), output is colored unless NO_COLOR
/// is set: piped output is never colored, so only a pty can show that NO_COLOR is honoured.
#[test]
fn no_color_is_honoured_on_a_terminal() {
    let snap = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/snapshots/upstream-down.json"
    );
    let on_pty = |no_color: Option<&str>| {
        let mut cmd = std::process::Command::new("script");
        // stderr may carry progress (line clearing, not color): only stdout is judged.
        let line = format!(
            "{} diagnose --from {snap} 2>/dev/null",
            env!("CARGO_BIN_EXE_badgw")
        );
        cmd.args(["-q", "-e", "-c", &line, "/dev/null"])
            .env_remove("NO_COLOR")
            .stdin(std::process::Stdio::null());
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        let out = cmd
            .output()
            .expect("`script` (util-linux bsdutils) runs badgw on a pty: apt-get install bsdutils");
        assert!(
            !out.stdout.is_empty(),
            "nothing printed on the pty: {out:?}"
        );
        out.stdout
    };
    assert!(on_pty(None).contains(&0x1b), "a terminal must get colors");
    assert!(
        !on_pty(Some("1")).contains(&0x1b),
        "NO_COLOR=1 must turn them off"
    );
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    use std::io::Read;
    use std::process::{Command as Std, Stdio};
    let mut child = Std::new(env!("CARGO_BIN_EXE_badgw"))
        .args(["completions", "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "exit {status:?}, stderr {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn explain_log_reads_stdin_gzip_and_exits_by_what_it_found() {
    use std::io::Write;
    let refused = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/logs/lab/refused.log");
    let text = std::fs::read(refused).unwrap();
    let out = badgw()
        .args(["explain-log", "--json", "-"])
        .write_stdin(text.clone())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "an upstream failure was seen");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema_version"], 1);
    let summary = v["summary"].as_array().unwrap();
    assert_eq!(summary[0]["category"], "upstream-refused", "{v:#}");
    assert!(summary[0]["count"].as_u64().unwrap() >= 1);

    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("error.log.1.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(&text).unwrap();
    enc.finish().unwrap();
    let out = badgw()
        .args(["explain-log", "--json", gz.to_str().unwrap()])
        .output()
        .unwrap();
    let v2: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v2["summary"], v["summary"], "gzip reads the same as plain");

    let quiet = dir.path().join("quiet.log");
    std::fs::write(
        &quiet,
        "2026/11/22 10:00:00 [notice] 1#1: signal process started\n",
    )
    .unwrap();
    badgw()
        .args(["explain-log", quiet.to_str().unwrap()])
        .assert()
        .code(0);
    badgw()
        .args(["explain-log", "/nonexistent/error.log"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/error.log"));
    badgw()
        .args(["explain-log", dir.path().to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("directory"));
}

#[test]
fn explain_log_escapes_terminal_control_characters_in_human_output() {
    let line = "2026/11/22 10:00:00 [error] 7#7: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: x, request: \"GET /\u{1b}[2J\u{202e}evil HTTP/1.1\", upstream: \"http://127.0.0.1:1/\", host: \"x\"\n";
    let out = badgw()
        .args(["explain-log", "--events", "-"])
        .write_stdin(line)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!out.stdout.contains(&0x1b), "raw ESC reached the terminal");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains('\u{202e}'),
        "raw bidi override reached the terminal"
    );
    let json = badgw()
        .args(["explain-log", "--json", "--events", "-"])
        .write_stdin(line)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(
        v["events"][0]["request"]
            .as_str()
            .unwrap()
            .contains('\u{1b}'),
        "JSON keeps the bytes faithfully"
    );
}

/// When the configuration files cannot be read, badgw asks the nginx binary for `nginx -T`.
/// Reading files as one user and running a privileged binary needs two users and sudo, so
/// a stand-in `nginx` (a script printing a real-format dump) plays the binary here.
#[test]
fn unreadable_config_falls_back_to_nginx_dash_t() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let script = bin.join("nginx");
    std::fs::write(
        &script,
        "#!/bin/sh\n[ \"$1\" = -T ] || exit 1\ncat <<'DUMP'\n# configuration file /etc/hidden/nginx.conf:\nhttp {\n  server {\n    listen 80;\n    server_name hidden.example.test;\n    location / { proxy_pass http://127.0.0.1:3999; }\n  }\n}\nDUMP\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = badgw()
        .env("PATH", path)
        .args([
            "route",
            "--json",
            "--site",
            "hidden.example.test",
            "--nginx-conf",
            "/etc/hidden/nginx.conf",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(
        v["route"]["upstreams"][0]["address"], "127.0.0.1:3999",
        "{v:#}"
    );
    assert_eq!(v["route"]["server"]["file"], "/etc/hidden/nginx.conf");
}

/// `diagnose --from SNAPSHOT --error-log -` reads a container runtime's output from stdin
/// (prefixes stripped, other services' and access-log lines ignored) in place of the
/// snapshot's error log; `--error-log FILE` does the same for a saved `docker logs -t`.
#[test]
fn error_log_from_stdin_and_from_a_file_replace_the_snapshots() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
    let snap = format!("{dir}/snapshots/upstream-down.json");
    let compose =
        std::fs::read(format!("{dir}/logs/containers/compose-upstream-down.log")).unwrap();
    let out = badgw()
        .args(["diagnose", "--json", "--from", &snap, "--error-log", "-"])
        .write_stdin(compose)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["findings"][0]["cause"], "upstream-down",
        "{report:#}"
    );
    let evidence = report["findings"][0]["evidence"].to_string();
    // Line 4 of the piped output is nginx's first refused connection (the snapshot's own
    // log had it at line 7 of another file).
    assert!(evidence.contains("stdin:4"), "{evidence}");
    assert!(!evidence.contains("error.log:7"), "{evidence}");

    let saved = format!("{dir}/logs/containers/docker-timestamps-upstream-down.log");
    let out = badgw()
        .args(["diagnose", "--json", "--from", &snap, "--error-log", &saved])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let evidence = report["findings"][0]["evidence"].to_string();
    assert!(
        evidence.contains("docker-timestamps-upstream-down.log:2"),
        "{evidence}"
    );

    let out = badgw()
        .args([
            "diagnose",
            "--from",
            &snap,
            "--error-log",
            "/nonexistent/error.log",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a missing --error-log is a usage error"
    );
}
