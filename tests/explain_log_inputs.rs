//! `explain-log` on what people feed it: every recorded nginx error log of `fixtures/logs`
//! transformed into what `docker compose logs`, `docker logs -t`, the json-file driver,
//! `kubectl logs --prefix --timestamps`, containerd's CRI files, `journalctl` (short,
//! short-iso, short-full, json), syslog (recorded live from util-linux `logger`) and log
//! shippers print must give the same events (line, category, time) as the bare file;
//! lines pasted without nginx's timestamp or cut short are classified; errno numbers are
//! read by the platform the line shows (`fixtures/logs/classify/*.tsv`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use badgw::logs::line::{format_time, Category};
use badgw::logs::scan::{ScanOptions, Scanner};
use proptest::prelude::*;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The recorded error logs of real nginx runs.
fn recorded_logs() -> Vec<PathBuf> {
    let mut v = vec![
        root().join("fixtures/logs/nginx-1.22-loopback.log"),
        root().join("fixtures/logs/nginx-1.22-loopback-2.log"),
        root().join("fixtures/logs/mixed.log"),
    ];
    let mut lab: Vec<PathBuf> = std::fs::read_dir(root().join("fixtures/logs/lab"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    lab.sort();
    v.extend(lab);
    v
}

/// Runs `badgw explain-log <args> --json --events` with `stdin` on its standard input.
fn explain(args: &[&str], stdin: &[u8]) -> Value {
    let mut child = Command::new(env!("CARGO_BIN_EXE_badgw"))
        .arg("explain-log")
        .args(args)
        .args(["--json", "--events"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run badgw");
    let mut pipe = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "explain-log {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// (line, category, time, truncated) of every event.
fn events(doc: &Value) -> Vec<(u64, String, Value, bool)> {
    doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["category"].as_str().unwrap().to_string(),
                e["time"].clone(),
                e["truncated"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn summary(doc: &Value) -> Vec<(String, u64)> {
    doc["summary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["category"].as_str().unwrap().to_string(),
                s["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn lines(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    String::from_utf8_lossy(&bytes)
        .lines()
        .map(str::to_string)
        .collect()
}

type Transform = fn(usize, &str) -> String;

/// Each collector's output format, built from its documentation (the tools themselves
/// cannot run here without a daemon): docker compose logs [-t] ("name  | "), docker logs
/// -t and kubectl --timestamps (RFC 3339 with nanoseconds), the json-file driver, kubectl
/// --prefix ("[pod/NAME/CONTAINER] "), CRI ("TIME STREAM F "), journalctl -o short /
/// short-iso / short-full / json (journalctl(1) "Output options"), Fluentd out_file
/// (time TAB tag TAB JSON), Grafana logcli (time {labels} line).
fn transforms() -> Vec<(&'static str, Transform)> {
    vec![
        ("docker compose logs", |_, l| format!("nginx-1  | {l}")),
        ("docker-compose v1 logs", |_, l| {
            format!("web_nginx_1     | {l}")
        }),
        ("docker compose logs -t", |i, l| {
            format!("nginx-1  | 2026-11-30T10:{:02}:00.{i:09}Z {l}", i % 60)
        }),
        ("docker logs -t", |i, l| {
            format!("2026-11-30T10:00:{:02}.123456789Z {l}", i % 60)
        }),
        ("json-file driver", |_, l| {
            serde_json::json!({"log": format!("{l}\n"), "stream": "stderr", "time": "2026-11-30T10:00:00.123456789Z"}).to_string()
        }),
        ("kubectl logs --prefix", |_, l| {
            format!("[pod/web-7c5b9d4f8-x2x9q/nginx] {l}")
        }),
        ("kubectl logs --prefix --timestamps", |_, l| {
            format!("[pod/web-7c5b9d4f8-x2x9q/nginx] 2026-11-30T10:00:00.123456789Z {l}")
        }),
        ("CRI log file", |_, l| {
            format!("2026-11-30T10:00:00.123456789Z stderr F {l}")
        }),
        ("journalctl -o short", |_, l| {
            format!("Nov 30 10:00:00 web01 nginx[812]: {l}")
        }),
        ("journalctl -o short-iso", |_, l| {
            format!("2026-11-30T10:00:00+0000 web01 nginx[812]: {l}")
        }),
        ("journalctl -o short-full", |_, l| {
            format!("Mon 2026-11-30 10:00:00 UTC web01 nginx[812]: {l}")
        }),
        ("journalctl -o json", |_, l| {
            serde_json::json!({"__REALTIME_TIMESTAMP": "1796032800000000", "_HOSTNAME": "web01", "SYSLOG_IDENTIFIER": "nginx", "_PID": "812", "MESSAGE": l}).to_string()
        }),
        ("fluentd out_file", |_, l| {
            format!(
                "2026-11-30T10:00:00+00:00\tdocker.nginx\t{}",
                serde_json::json!({"log": l, "container_name": "/nginx"})
            )
        }),
        ("logcli query", |_, l| {
            format!("2026-11-30T10:00:00Z {{app=\"nginx\", pod=\"web-1\"}} {l}")
        }),
    ]
}

#[test]
fn every_collector_format_gives_the_events_of_the_bare_log() {
    for log in recorded_logs() {
        let bare = explain(&[log.to_str().unwrap()], b"");
        let want = events(&bare);
        assert!(
            !want.is_empty() || log.ends_with("app-502.log"),
            "{}: no events in the bare log",
            log.display()
        );
        for (name, t) in transforms() {
            let text: String = lines(&log)
                .iter()
                .enumerate()
                .map(|(i, l)| t(i, l) + "\n")
                .collect();
            let got = explain(&["-"], text.as_bytes());
            assert_eq!(
                events(&got),
                want,
                "{name} of {}:\n{}",
                log.display(),
                text.lines().take(3).collect::<Vec<_>>().join("\n")
            );
            assert_eq!(summary(&got), summary(&bare), "{name} of {}", log.display());
            let formats = got["input_formats"].as_array().unwrap();
            assert!(!formats.is_empty(), "{name}: no format recognised");
        }
    }
}

/// Syslog as util-linux `logger` really sends it (RFC 3164 and RFC 5424, recorded here
/// from a UDP socket this test binds on loopback).
#[test]
fn syslog_recorded_from_logger_gives_the_events_of_the_bare_log() {
    let log = root().join("fixtures/logs/nginx-1.22-loopback.log");
    let bare = events(&explain(&[log.to_str().unwrap()], b""));
    for proto in ["--rfc3164", "--rfc5424"] {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let port = sock.local_addr().unwrap().port().to_string();
        let n = lines(&log).len();
        let status = Command::new("logger")
            .args([
                "-d",
                "-n",
                "127.0.0.1",
                "-P",
                &port,
                proto,
                "-t",
                "nginx",
                "-i",
            ])
            .args(["-S", "65000", "-f", log.to_str().unwrap()])
            .status()
            .expect("util-linux logger is needed for this test: apt-get install bsdutils");
        assert!(status.success());
        let mut text = Vec::new();
        let mut buf = vec![0u8; 65536];
        for _ in 0..n {
            let k = sock.recv(&mut buf).expect("a datagram from logger");
            text.extend_from_slice(buf[..k].strip_suffix(b"\n").unwrap_or(&buf[..k]));
            text.push(b'\n');
        }
        let got = explain(&["-"], &text);
        assert_eq!(
            events(&got),
            bare,
            "logger {proto}:\n{}",
            String::from_utf8_lossy(&text[..text.len().min(600)])
        );
    }
}

/// Parses a `fixtures/logs/classify/*.tsv` file: (expected category or "-", truncated, line).
fn tsv(name: &str) -> Vec<(String, bool, String)> {
    let text = std::fs::read_to_string(root().join("fixtures/logs/classify").join(name)).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (want, line) = l.split_once('\t').expect("category<TAB>line");
            let (truncated, want) = match want.strip_prefix("truncated:") {
                Some(w) => (true, w),
                None => (false, want),
            };
            (want.to_string(), truncated, line.to_string())
        })
        .collect()
}

fn check_tsv(name: &str) {
    let cases = tsv(name);
    let text: String = cases.iter().map(|c| format!("{}\n", c.2)).collect();
    let got = events(&explain(&["-"], text.as_bytes()));
    for (i, (want, truncated, line)) in cases.iter().enumerate() {
        let ev = got.iter().find(|e| e.0 == i as u64 + 1);
        match (want.as_str(), ev) {
            ("-", None) => {}
            ("-", Some(e)) => panic!(
                "{name}: {line}\n  classified as {} but is no upstream failure",
                e.1
            ),
            (w, Some(e)) => {
                assert_eq!(e.1, w, "{name}: {line}");
                assert_eq!(e.3, *truncated, "{name}: truncated flag of {line}");
                assert!(
                    Category::from_id(w).is_some(),
                    "{name}: {w} is not a category"
                );
            }
            (w, None) => panic!("{name}: {line}\n  not classified, want {w}"),
        }
    }
}

#[test]
fn errno_numbers_are_read_by_the_platform_the_line_shows() {
    check_tsv("platforms.tsv");
}

#[test]
fn fragments_cut_and_nginx_t_lines_are_classified() {
    check_tsv("fragments.tsv");
}

#[test]
fn three_lines_pasted_without_timestamps_are_each_classified() {
    let pasted = "connect() failed (111: Connection refused) while connecting to upstream, client: 10.1.2.3, server: shop.example.com, request: \"GET /api HTTP/1.1\", upstream: \"http://127.0.0.1:3000/api\", host: \"shop.example.com\"\n\
                  upstream timed out (110: Connection timed out) while reading response header from upstream, client: 10.1.2.3, server: shop.example.com, request: \"GET /report HTTP/1.1\", upstream: \"http://127.0.0.1:3000/report\", host: \"shop.example.com\"\n\
                  connect() to unix:/run/php/php8.2-fpm.sock failed (2: No such file or direc\n";
    let doc = explain(&["-"], pasted.as_bytes());
    let ev = events(&doc);
    let cats: Vec<(u64, &str, bool)> = ev.iter().map(|e| (e.0, e.1.as_str(), e.3)).collect();
    assert_eq!(
        cats,
        [
            (1, "upstream-refused", false),
            (2, "read-timeout", false),
            (3, "socket-missing", true)
        ]
    );
    assert!(
        ev.iter().all(|e| e.2.is_null()),
        "time must be null: {ev:?}"
    );
    assert_eq!(doc["fragments"], 3);
}

#[test]
fn a_record_wrapped_over_lines_is_joined() {
    let wrapped = "2026/11/30 10:00:00 [error] 7#7: *5 connect() failed (111: Connection refused) while connecting to upstream, client: 1.2.3.4, server: a, request: \"GET / HTTP/1.1\", upstr\n\
                   eam: \"http://127.0.0.1:3000/\", host: \"a\"\n\
                   2026/11/30 10:00:01 [error] 7#7: *6 upstream timed out (110: Connection timed out) while connecting to\n\
                   2026/11/30 10:00:02 [error] 7#7: *7 upstream timed out (110: Connection timed out)\n\
                   while connecting to upstream, client: 1.2.3.4, server: a, request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:3000/\", host: \"a\"\n";
    let doc = explain(&["-"], wrapped.as_bytes());
    let ev = events(&doc);
    assert_eq!(ev.len(), 3, "{ev:?}");
    assert_eq!(ev[0].1, "upstream-refused");
    assert_eq!(doc["events"][0]["upstream"], "http://127.0.0.1:3000");
    assert_eq!(ev[2].1, "connect-timeout");
    assert_eq!(doc["events"][2]["upstream"], "http://127.0.0.1:3000");
    assert_eq!(doc["lines_unparsed"], 0);
}

/// The scanner's events of `text`: (line, category, time).
fn scan(text: &str) -> Vec<(u64, Category, Option<String>)> {
    let mut sc = Scanner::new(ScanOptions {
        keep_events: true,
        ..Default::default()
    });
    sc.feed(text.as_bytes(), true);
    sc.stats
        .events
        .iter()
        .map(|e| (e.line, e.category, e.time.map(format_time)))
        .collect()
}

fn fixture_lines() -> Vec<String> {
    let mut v: Vec<String> = recorded_logs()
        .iter()
        .flat_map(|p| lines(p))
        .filter(|l| l.starts_with("20") && !l.contains('\u{1b}'))
        .collect();
    for name in ["platforms.tsv", "fragments.tsv"] {
        v.extend(
            tsv(name)
                .into_iter()
                .filter(|c| c.2.starts_with("20"))
                .map(|c| c.2),
        );
    }
    v
}

/// A supported prefix built from generated parts.
fn any_prefix() -> impl Strategy<Value = String> {
    let name = "[a-z][a-z0-9_-]{0,20}";
    let stamp = (0u32..28, 0u32..24, 0u32..60, 0u32..60, 0u32..1_000_000_000)
        .prop_map(|(d, h, m, s, ns)| format!("2026-11-{:02}T{h:02}:{m:02}:{s:02}.{ns:09}Z", d + 1));
    let host = "[a-z][a-z0-9-]{0,15}";
    prop_oneof![
        (name, 0usize..6).prop_map(|(n, pad)| format!("{n}{}| ", " ".repeat(pad))),
        (name, stamp.clone()).prop_map(|(n, t)| format!("{n}  | {t} ")),
        stamp.clone().prop_map(|t| format!("{t} ")),
        (name, name).prop_map(|(p, c)| format!("[pod/{p}/{c}] ")),
        (name, name, stamp.clone()).prop_map(|(p, c, t)| format!("[pod/{p}/{c}] {t} ")),
        stamp.clone().prop_map(|t| format!("{t} stderr F ")),
        (host, 1u32..99999).prop_map(|(h, pid)| format!("Nov 30 10:00:00 {h} nginx[{pid}]: ")),
        (host, 1u32..99999)
            .prop_map(|(h, pid)| format!("2026-11-30T10:00:00+0000 {h} nginx[{pid}]: ")),
        (0u32..192, host).prop_map(|(p, h)| format!("<{p}>Nov 30 10:00:00 {h} nginx: ")),
        (0u32..192, stamp, host).prop_map(|(p, t, h)| format!("<{p}>1 {t} {h} nginx 812 - - ")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Prefixing any fixture line with any supported prefix leaves its category and
    /// time unchanged.
    #[test]
    fn any_prefix_keeps_category_and_time(i in any::<prop::sample::Index>(), prefix in any_prefix()) {
        let all = fixture_lines();
        let line = &all[i.index(all.len())];
        let bare = scan(&format!("{line}\n"));
        let prefixed = scan(&format!("{prefix}{line}\n"));
        prop_assert_eq!(prefixed, bare, "prefix {:?}", prefix);
    }

    /// The json-file driver's escaping (quotes, backslashes, control bytes) is undone.
    #[test]
    fn json_file_lines_keep_category_and_time(i in any::<prop::sample::Index>()) {
        let all = fixture_lines();
        let line = &all[i.index(all.len())];
        let json = serde_json::json!({"log": format!("{line}\n"), "stream": "stderr", "time": "2026-11-30T10:00:00.1Z"});
        prop_assert_eq!(scan(&format!("{json}\n")), scan(&format!("{line}\n")));
    }
}
