//! Faithful output: JSON carries the bytes the host gave (JSON-escaped only); a terminal
//! never receives a raw control byte that came from the host; a closed stdout ends quietly
//! with the exit code the result had.

mod lab;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use lab::free_port;
use serde_json::Value;

/// nginx's error-log time stamp for now (local time), so the line is inside diagnose's window.
fn now_stamp() -> String {
    chrono::Local::now().format("%Y/%m/%d %H:%M:%S").to_string()
}

/// A config proxying `site` to a port nothing listens on, and its path.
fn write_conf(dir: &Path, site: &str, back: u16) -> String {
    let front = free_port();
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "events {{}}\nhttp {{\n  server {{\n    listen 127.0.0.1:{front};\n    server_name {site};\n    \
             location / {{ proxy_pass http://127.0.0.1:{back}; }}\n  }}\n}}\n"
        ),
    )
    .unwrap();
    conf.to_str().unwrap().to_string()
}

fn refused_line(site: &str, back: u16, request_path: &str) -> String {
    format!(
        "{} [error] 12#12: *1 connect() failed (111: Connection refused) while connecting to upstream, \
         client: 127.0.0.1, server: {site}, request: \"GET {request_path} HTTP/1.1\", \
         upstream: \"http://127.0.0.1:{back}/\", host: \"{site}\"\n",
        now_stamp()
    )
}

/// The evidence texts (without their `file:line: ` source) of every finding.
fn evidence_texts(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings in {report:#}"))
        .iter()
        .flat_map(|f| f["evidence"].as_array().unwrap().iter())
        .filter_map(|e| e.as_str())
        .filter(|e| e.contains("connect() failed"))
        .map(|e| e.split_once(".log:1: ").map_or(e, |(_, t)| t).to_string())
        .collect()
}

#[test]
fn json_evidence_keeps_an_esc_byte_apart_from_the_four_characters_backslash_x1b() {
    let dir = tempfile::tempdir().unwrap();
    let back = free_port();
    let site = "esc.example.test";
    let conf = write_conf(dir.path(), site, back);
    let raw = dir.path().join("raw.log");
    let lit = dir.path().join("lit.log");
    std::fs::write(&raw, refused_line(site, back, "/\x1b[31mred")).unwrap();
    std::fs::write(&lit, refused_line(site, back, "/\\x1b[31mred")).unwrap();
    let run = |log: &Path| {
        lab::diagnose_json(&[
            "--site",
            site,
            "--nginx-conf",
            &conf,
            "--error-log",
            log.to_str().unwrap(),
            "--timeout",
            "1s",
        ])
        .1
    };
    let (a, b) = (evidence_texts(&run(&raw)), evidence_texts(&run(&lit)));
    assert!(!a.is_empty() && !b.is_empty(), "the log line is evidence");
    assert_ne!(a, b, "an ESC byte and the text \\x1b must differ in JSON");
    assert!(
        a.iter().any(|e| e.contains("GET /\x1b[31mred")),
        "the ESC byte is carried as logged: {a:?}"
    );
    assert!(
        b.iter().any(|e| e.contains("GET /\\x1b[31mred")),
        "the literal text is carried as logged: {b:?}"
    );

    // On a terminal the ESC byte is made visible, never written raw.
    let mut cmd = lab::badgw();
    cmd.args(["diagnose", "--site", site, "--nginx-conf", &conf])
        .args(["--error-log", raw.to_str().unwrap(), "--timeout", "1s"])
        .args(["--color", "never", "-v"]);
    let out = lab::run_with_timeout(cmd, Duration::from_secs(20));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("GET /\\x1b[31mred"), "{text}");
    assert!(!out.stdout.contains(&0x1b), "raw ESC reached the terminal");
}

/// Runs badgw with stdout a pipe whose reader takes `read` bytes and goes away; returns
/// (exit code, stderr). Fails when badgw does not finish within 30 s.
fn with_closed_stdout(args: &[&str], read: usize) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_badgw"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = vec![0u8; read];
    stdout.read_exact(&mut buf).unwrap();
    drop(stdout);
    let mut stderr = child.stderr.take().unwrap();
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("badgw {args:?} did not finish after its stdout closed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status.code(), err.join().unwrap())
}

#[test]
fn a_closed_stdout_ends_quietly_with_the_results_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let back = free_port();
    let site = "pipe.example.test";
    let log = dir.path().join("error.log");
    // Far more output than a pipe buffer (64 KiB), so badgw is still writing when the
    // reader goes away.
    let text: String = (0..4000)
        .map(|i| refused_line(site, back, &format!("/item/{i}")))
        .collect();
    std::fs::write(&log, text).unwrap();
    let log = log.to_str().unwrap();
    for args in [
        vec!["explain-log", log, "--events"],
        vec!["explain-log", log, "--events", "--json"],
    ] {
        let (code, err) = with_closed_stdout(&args, 1);
        assert_eq!(
            code,
            Some(1),
            "{args:?}: upstream failures were found; stderr: {err}"
        );
        assert!(
            err.is_empty(),
            "{args:?}: a closed pipe is not an error: {err}"
        );
    }
    // diagnose: the result is "problems found" (nothing listens), whether or not the
    // reader read anything.
    let conf = write_conf(dir.path(), site, back);
    let diag = [
        "diagnose",
        "--site",
        site,
        "--nginx-conf",
        &conf,
        "--timeout",
        "1s",
    ];
    for (json, read) in [(false, 0), (true, 1)] {
        let mut args = diag.to_vec();
        if json {
            args.push("--json");
        }
        let (code, err) = with_closed_stdout(&args, read);
        assert_eq!(code, Some(1), "{args:?}: stderr: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
    }
}

fn has_esc(bytes: &[u8]) -> bool {
    bytes.contains(&0x1b) || String::from_utf8_lossy(bytes).contains('\u{9b}')
}

#[test]
fn host_name_and_config_path_from_the_host_are_escaped_in_the_report_header() {
    let dir = tempfile::tempdir().unwrap();
    let snap = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/snapshots/upstream-down.json"
    );
    let mut facts: Value = serde_json::from_slice(&std::fs::read(snap).unwrap()).unwrap();
    facts["hostname"] = Value::from("web\x1b]0;owned\x07\u{9b}31m1");
    facts["nginx"]["value"]["conf_path"] = Value::from("/tmp/\x1b[2J/nginx.conf");
    let path = dir.path().join("snap.json");
    std::fs::write(&path, serde_json::to_vec(&facts).unwrap()).unwrap();
    let path = path.to_str().unwrap();
    for verbose in [false, true] {
        let mut cmd = lab::badgw();
        cmd.args(["diagnose", "--from", path, "--color", "never"]);
        if verbose {
            cmd.arg("-v");
        }
        let out = lab::run_with_timeout(cmd, Duration::from_secs(20));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            !has_esc(&out.stdout),
            "raw control bytes on the terminal:\n{text}"
        );
        assert!(text.contains("on web\\x1b]0;owned\\x07\\x9b31m1"), "{text}");
        assert!(text.contains("/tmp/\\x1b[2J/nginx.conf"), "{text}");
    }
    // JSON keeps the bytes.
    let (_, report) = lab::diagnose_json(&["--from", path]);
    assert_eq!(report["hostname"], "web\x1b]0;owned\x07\u{9b}31m1");
    assert_eq!(report["nginx"]["conf_path"], "/tmp/\x1b[2J/nginx.conf");
}

#[test]
fn error_messages_and_route_output_escape_host_bytes() {
    let dir = tempfile::tempdir().unwrap();
    // An error naming a path with an ESC in it.
    let missing = dir.path().join("\x1b[31mred.conf");
    let mut cmd = lab::badgw();
    cmd.args(["route", "--site", "x.test", "--nginx-conf"])
        .arg(&missing)
        .args(["--color", "never"]);
    let out = lab::run_with_timeout(cmd, Duration::from_secs(20));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("badgw: "), "{err}");
    assert!(err.contains("\\x1b[31mred.conf"), "{err}");
    assert!(!has_esc(&out.stderr), "raw ESC on stderr: {err}");

    // Route output: config text with control bytes in names, patterns and parameters.
    let conf = dir.path().join("nginx.conf");
    std::fs::write(
        &conf,
        "events {}\nhttp {\n  upstream \"b\x1b[1mk\" { server 127.0.0.1:9 max_fails=\"\x1b[5m\"; }\n  \
         server {\n    listen 127.0.0.1:8080;\n    server_name \"x\x1b[8m.test\" x.test;\n    \
         location \"/\x1b[7m\" { proxy_pass http://b\x1b[1mk; }\n    \
         location / { proxy_pass http://b\x1b[1mk; proxy_set_header X \"\x1b[3m\"; }\n  }\n}\n",
    )
    .unwrap();
    for path in ["/", "/\x1b[7m"] {
        let mut cmd = lab::badgw();
        cmd.args([
            "route", "--site", "x.test", "--port", "8080", "--path", path,
        ])
        .arg("--nginx-conf")
        .arg(&conf)
        .args(["--color", "never"]);
        let out = lab::run_with_timeout(cmd, Duration::from_secs(20));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains("\\x1b[1mk"), "{text}");
        assert!(!has_esc(&out.stdout), "raw ESC in route output:\n{text}");
        assert!(!has_esc(&out.stderr));
    }
}

#[test]
fn clap_help_and_errors_honour_color_never() {
    // CLICOLOR_FORCE makes clap color even into a pipe: `--color never` must still win.
    let run = |args: &[&str]| {
        let mut cmd = lab::badgw();
        cmd.args(args)
            .env("CLICOLOR_FORCE", "1")
            .env_remove("NO_COLOR");
        lab::run_with_timeout(cmd, Duration::from_secs(20))
    };
    let always = run(&["--color", "always", "--bogus"]);
    assert!(
        has_esc(&always.stderr),
        "--color always colors clap's errors (else this test proves nothing)"
    );
    for args in [
        &["--color", "never", "--bogus"][..],
        &["--color=never", "diagnose", "--bogus"],
        &["diagnose", "--site", "--color", "never"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            !has_esc(&out.stderr),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let help = run(&["--color", "never", "diagnose", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("Usage:"));
    assert!(
        !has_esc(&help.stdout),
        "{}",
        String::from_utf8_lossy(&help.stdout)
    );
}

#[test]
fn a_1_mb_proxy_pass_uri_renders_without_a_quadratic_blow_up_and_cut() {
    let dir = tempfile::tempdir().unwrap();
    let back = free_port();
    let uri = format!("http://127.0.0.1:{back}/{}", "a".repeat(1_000_000));
    let conf = dir.path().join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "events {{}}\nhttp {{ server {{ listen 127.0.0.1:{}; server_name long.test; \
             location / {{ proxy_pass {uri}; }} }} }}\n",
            free_port()
        ),
    )
    .unwrap();
    let conf = conf.to_str().unwrap();
    for verbose in [false, true] {
        let mut cmd = lab::badgw();
        cmd.args(["diagnose", "--site", "long.test", "--nginx-conf", conf])
            .args(["--timeout", "1s", "--color", "never"]);
        if verbose {
            cmd.arg("-v");
        }
        let start = std::time::Instant::now();
        // Before the fix, wrapping one long word was quadratic: 100 KB took 5 s, so 1 MB
        // takes minutes. The bound is generous so that a loaded machine cannot fail it.
        let out = lab::run_with_timeout(cmd, Duration::from_secs(20));
        let took = start.elapsed();
        assert!(took < Duration::from_secs(10), "rendering took {took:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        let route = text
            .lines()
            .find(|l| l.trim_start().starts_with("proxy_pass "))
            .unwrap_or_else(|| panic!("no route line:\n{text}"));
        assert!(
            route.len() < 1000,
            "route line not cut: {} bytes",
            route.len()
        );
        assert!(route.contains("--json has the full value"), "{route}");
        assert!(
            text.lines().all(|l| l.len() < 1000 || l.contains("curl ")),
            "only fix commands (which must work as pasted) stay whole"
        );
    }
    let (_, report) = lab::diagnose_json(&[
        "--site",
        "long.test",
        "--nginx-conf",
        conf,
        "--timeout",
        "1s",
    ]);
    assert_eq!(
        report["route"]["target"],
        uri.as_str(),
        "JSON has the full value"
    );
}
