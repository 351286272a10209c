//! explain-log end to end through the library API (`badgw::logs`): real nginx 1.22 output
//! recorded on loopback (fixtures/logs/nginx-1.22-loopback*.{log,conf}), a hand-built mix of every
//! category and noise, and the awkward inputs (gzip, rotation order, stdin-style streams,
//! CRLF, non-UTF-8, a 20 MB line, empty, missing, directory).

use std::io::Write;
use std::path::{Path, PathBuf};

use badgw::app::explain_log;
use badgw::cli::ExplainLogArgs;
use badgw::exit::{ExitError, ExitStatus};
use badgw::gather::log_input;
use badgw::logs::{line::Category, scan, WindowFilter};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/logs")
        .join(name)
}

fn counts(stats: &scan::Stats) -> Vec<(&'static str, u64)> {
    Category::ALL
        .iter()
        .filter(|c| stats.categories[c.index()].count > 0)
        .map(|c| (c.id(), stats.categories[c.index()].count))
        .collect()
}

fn event_lines(stats: &scan::Stats) -> Vec<(u64, &'static str)> {
    stats
        .events
        .iter()
        .map(|e| (e.line, e.category.id()))
        .collect()
}

fn args(files: Vec<PathBuf>) -> ExplainLogArgs {
    ExplainLogArgs {
        files,
        since: None,
        until: None,
        json: true,
        events: true,
        top: 5,
    }
}

fn run_json(a: &ExplainLogArgs) -> (ExitStatus, Value) {
    let mut out = Vec::new();
    let st = explain_log::run(a, false, &mut out).expect("explain-log runs");
    (st, serde_json::from_slice(&out).expect("valid JSON"))
}

const LOOPBACK_EVENTS: &[(u64, &str)] = &[
    (7, "upstream-refused"),
    (9, "socket-missing"),
    (11, "read-timeout"),
    (13, "premature-close"),
    (15, "invalid-header"),
    (17, "ssl-handshake"),
    (21, "upstream-refused"),
    (23, "upstream-refused"),
    (26, "no-live-upstreams"),
    (28, "no-live-upstreams"),
    (30, "header-too-big"),
    (32, "connection-reset"),
    (34, "invalid-header"),
    (36, "dns-resolution"),
];

#[test]
fn real_nginx_loopback_log() {
    let rep =
        explain_log::analyze(&[fixture("nginx-1.22-loopback.log")], None, None, true).unwrap();
    let s = &rep.files[0].stats;
    assert_eq!(event_lines(s), LOOPBACK_EVENTS);
    assert_eq!(s.lines_total, 43);
    assert_eq!(s.lines_unparsed, 0);
    assert_eq!(s.failures, 14);
    assert_eq!(s.upstream_disabled, 2);
    let refused = &s.categories[Category::UpstreamRefused.index()];
    assert_eq!(
        refused.upstreams.get(&b"http://127.0.0.1:18999"[..]),
        Some(&1)
    );
    assert_eq!(
        refused.upstreams.get(&b"http://127.0.0.1:18998"[..]),
        Some(&1)
    );
    let missing = &s.events[1];
    assert_eq!(
        missing.upstream.as_deref(),
        Some("http://unix:/tmp/ngxlab/missing.sock")
    );
    // Query strings never leave the tool.
    assert_eq!(
        missing.request.as_deref(),
        Some("GET /path/x.php?… HTTP/1.1")
    );
}

#[test]
fn json_document_shape() {
    let (st, doc) = run_json(&args(vec![fixture("nginx-1.22-loopback.log")]));
    assert_eq!(st, ExitStatus::Problems);
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["tool"]["name"], "badgw");
    assert_eq!(doc["lines_total"], 43);
    assert_eq!(doc["lines_unparsed"], 0);
    assert_eq!(doc["time_range"]["first"], "2026-11-22T23:51:56");
    assert_eq!(doc["time_range"]["last"], "2026-11-22T23:52:00");
    let summary = doc["summary"].as_array().unwrap();
    assert_eq!(summary[0]["category"], "upstream-refused");
    assert_eq!(summary[0]["count"], 3);
    assert_eq!(summary[0]["status"], 502);
    assert_eq!(summary[0]["first_seen"], "2026-11-22T23:51:57");
    assert_eq!(summary[0]["last_seen"], "2026-11-22T23:51:58");
    let timeout = summary
        .iter()
        .find(|c| c["category"] == "read-timeout")
        .unwrap();
    assert_eq!(timeout["status"], 504);
    let invalid = summary
        .iter()
        .find(|c| c["category"] == "invalid-header")
        .unwrap();
    assert!(invalid["explanation"].as_str().unwrap().contains("72"));
    assert_eq!(doc["events"].as_array().unwrap().len(), 14);
    assert_eq!(doc["events"][4]["line"], 15);
    assert_eq!(doc["events"][4]["upstream"], "fastcgi://127.0.0.1:18098");
    let minutes: u64 = doc["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["count"].as_u64().unwrap())
        .sum();
    assert_eq!(minutes, 14);
}

const MIXED_EVENTS: &[(u64, &str)] = &[
    (1, "upstream-refused"),
    (2, "upstream-refused"),
    (3, "socket-permission"),
    (4, "permission-denied-tcp"),
    (5, "backlog-full"),
    (6, "ephemeral-ports"),
    (7, "fd-exhaustion"),
    (8, "no-route"),
    (9, "connect-timeout"),
    (10, "read-timeout"),
    (11, "broken-pipe"),
    (12, "connection-reset"),
    (13, "invalid-header"),
    (14, "ssl-handshake"),
    (15, "dns-resolution"),
    (16, "fastcgi-script-unknown"),
    (19, "other-upstream"),
    (26, "dns-resolution"),
    (27, "premature-close"),
];

#[test]
fn every_category_and_noise() {
    let rep = explain_log::analyze(&[fixture("mixed.log")], None, None, true).unwrap();
    let s = &rep.files[0].stats;
    assert_eq!(event_lines(s), MIXED_EVENTS);
    assert_eq!(s.lines_total, 27);
    assert_eq!(s.lines_unparsed, 1);
    // The truncated record keeps its request without the closing quote.
    let last = s.events.last().unwrap();
    assert_eq!(last.upstream, None);
    assert!(last
        .request
        .as_deref()
        .unwrap()
        .starts_with("GET /search?…"));
    // The three-line FastCGI record belongs to blog.example.org.
    assert_eq!(s.events[15].server.as_deref(), Some("blog.example.org"));
}

fn write_tmp(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn crlf_log_classifies_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("mixed.log")).unwrap();
    let p = write_tmp(
        dir.path(),
        "crlf.log",
        text.replace('\n', "\r\n").as_bytes(),
    );
    let rep = explain_log::analyze(&[p], None, None, true).unwrap();
    let s = &rep.files[0].stats;
    assert_eq!(event_lines(s), MIXED_EVENTS);
    assert_eq!(s.events[0].host.as_deref(), Some("shop.example.com"));
}

#[test]
fn gzip_and_rotation_order() {
    let dir = tempfile::tempdir().unwrap();
    // error.log.1.gz holds the older (10:00) mixed log; error.log the newer loopback one.
    let gz = dir.path().join("error.log.1.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(&std::fs::read(fixture("mixed.log")).unwrap())
        .unwrap();
    enc.finish().unwrap();
    let plain = write_tmp(
        dir.path(),
        "error.log",
        &std::fs::read(fixture("nginx-1.22-loopback.log")).unwrap(),
    );
    let rep = explain_log::analyze(&[plain.clone(), gz.clone()], None, None, true).unwrap();
    assert_eq!(rep.files[0].name, gz.display().to_string());
    assert_eq!(rep.files[1].name, plain.display().to_string());
    assert_eq!(event_lines(&rep.files[0].stats), MIXED_EVENTS);
    assert_eq!(event_lines(&rep.files[1].stats), LOOPBACK_EVENTS);
    assert_eq!(rep.total.failures, 19 + 14);
    assert_eq!(rep.total.lines_total, 27 + 43);
}

#[test]
fn stream_reader_matches_mapped_reader() {
    let bytes = std::fs::read(fixture("mixed.log")).unwrap();
    let stream = log_input::scan_stream(
        Box::new(std::io::Cursor::new(bytes.clone())),
        scan::ScanOptions {
            keep_events: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(event_lines(&stream), MIXED_EVENTS);
    assert_eq!(stream.lines_total, 27);
    assert_eq!(stream.lines_unparsed, 1);
}

#[test]
fn big_file_two_threads_equal_one_stream() {
    // > 8 MiB so the mapped scan splits in two; the stream reads 4 MiB blocks, so records
    // straddle block ends. Both must agree line for line.
    let one = std::fs::read(fixture("mixed.log")).unwrap();
    let mut big = Vec::new();
    while big.len() < 10 << 20 {
        big.extend_from_slice(&one);
    }
    let copies = big.len() / one.len();
    let dir = tempfile::tempdir().unwrap();
    let p = write_tmp(dir.path(), "big.log", &big);
    let mapped = explain_log::analyze(&[p], None, None, true).unwrap();
    let m = &mapped.files[0].stats;
    let s = log_input::scan_stream(
        Box::new(std::io::Cursor::new(big)),
        scan::ScanOptions {
            keep_events: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(m.lines_total, 27 * copies as u64);
    assert_eq!(m.failures, 19 * copies as u64);
    assert_eq!(m.lines_unparsed, copies as u64);
    assert_eq!(counts(m), counts(&s));
    assert_eq!(event_lines(m), event_lines(&s));
    assert_eq!(m.events.last().unwrap().line, 27 * copies as u64);
}

#[test]
fn non_utf8_and_terminal_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let line = b"2026/11/22 10:00:00 [error] 1#1: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 1.2.3.4, server: a, request: \"GET /\xff\x1b[2J HTTP/1.1\", upstream: \"http://127.0.0.1:3000/\", host: \"a\"\n";
    let p = write_tmp(dir.path(), "bin.log", line);
    let mut a = args(vec![p]);
    let (st, doc) = run_json(&a);
    assert_eq!(st, ExitStatus::Problems);
    assert_eq!(
        doc["events"][0]["request"],
        "GET /\u{fffd}\u{1b}[2J HTTP/1.1"
    );
    a.json = false;
    let mut out = Vec::new();
    explain_log::run(&a, false, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        !text.contains('\u{1b}'),
        "raw ESC reached the terminal: {text}"
    );
    assert!(text.contains("\\x1b[2J"));
    assert!(text.contains("upstream-refused"));
}

#[test]
fn twenty_megabyte_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = vec![b'x'; 20 << 20];
    data.extend_from_slice(b"\n2026/11/22 10:00:00 [error] 1#1: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 1.2.3.4, server: a, request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:3000/\", host: \"a\"");
    let p = write_tmp(dir.path(), "long.log", &data);
    let rep = explain_log::analyze(&[p], None, None, true).unwrap();
    let s = &rep.files[0].stats;
    assert_eq!((s.lines_total, s.lines_unparsed), (2, 1));
    assert_eq!(event_lines(s), vec![(2, "upstream-refused")]);
    let st = log_input::scan_stream(
        Box::new(std::io::Cursor::new(data)),
        scan::ScanOptions {
            keep_events: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(event_lines(&st), vec![(2, "upstream-refused")]);
}

#[test]
fn empty_file_is_healthy() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_tmp(dir.path(), "empty.log", b"");
    let (st, doc) = run_json(&args(vec![p]));
    assert_eq!(st, ExitStatus::Healthy);
    assert_eq!(doc["lines_total"], 0);
    assert_eq!(doc["summary"].as_array().unwrap().len(), 0);
    assert_eq!(doc["time_range"], Value::Null);
}

fn usage_error(p: PathBuf) -> String {
    let err = explain_log::run(&args(vec![p]), false, &mut Vec::new()).expect_err("must fail");
    let exit = err
        .downcast_ref::<ExitError>()
        .expect("carries an exit status");
    assert_eq!(exit.status, ExitStatus::Usage);
    format!("{err:#}")
}

#[test]
fn missing_file_and_directory_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.log");
    let msg = usage_error(missing.clone());
    assert!(msg.contains(&missing.display().to_string()), "{msg}");
    assert!(msg.contains("No such file"), "{msg}");
    let msg = usage_error(dir.path().to_path_buf());
    assert!(msg.contains("directory"), "{msg}");
}

#[test]
fn since_and_until_bound_the_window() {
    // mixed.log ends at 10:04:01, so "1m" starts at 10:03:01.
    let rep = explain_log::analyze(&[fixture("mixed.log")], Some("1m"), None, true).unwrap();
    assert_eq!(
        event_lines(&rep.files[0].stats),
        vec![
            (19, "other-upstream"),
            (26, "dns-resolution"),
            (27, "premature-close")
        ]
    );
    let rep = explain_log::analyze(
        &[fixture("mixed.log")],
        Some("2026-11-22T10:01"),
        Some("2026-11-22 10:02:01"),
        true,
    )
    .unwrap();
    assert_eq!(
        event_lines(&rep.files[0].stats),
        vec![
            (6, "ephemeral-ports"),
            (7, "fd-exhaustion"),
            (8, "no-route"),
            (9, "connect-timeout"),
            (10, "read-timeout"),
            (11, "broken-pipe"),
        ]
    );
    assert!(explain_log::analyze(&[fixture("mixed.log")], Some("yesterday"), None, false).is_err());
}

#[test]
fn since_on_a_big_file_uses_binary_search_and_keeps_line_numbers() {
    // 40 000 minutes of one refused line each; --since 3m must see exactly the last 3
    // minutes with their true line numbers.
    let dir = tempfile::tempdir().unwrap();
    let mut data = Vec::new();
    let base = chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    for i in 0..40_000i64 {
        let t = base + chrono::Duration::minutes(i);
        writeln!(data, "{} [error] 1#1: *{i} connect() failed (111: Connection refused) while connecting to upstream, client: 1.2.3.4, server: a, request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:3000/\", host: \"a\"", t.format("%Y/%m/%d %H:%M:%S")).unwrap();
    }
    let p = write_tmp(dir.path(), "long.log", &data);
    let rep = explain_log::analyze(&[p], Some("3m"), None, true).unwrap();
    let s = &rep.files[0].stats;
    assert_eq!(
        event_lines(s),
        vec![
            (39_997, "upstream-refused"),
            (39_998, "upstream-refused"),
            (39_999, "upstream-refused"),
            (40_000, "upstream-refused")
        ]
    );
    assert_eq!(s.lines_total, 4);
}

#[test]
fn read_window_keeps_the_sites_events() {
    let now = chrono::NaiveDate::from_ymd_opt(2026, 11, 22)
        .unwrap()
        .and_hms_opt(10, 5, 0)
        .unwrap();
    let filter = WindowFilter {
        site: "shop.example.com".into(),
        server_names: vec!["shop.example.com".into()],
        upstreams: vec![],
    };
    let w = badgw::gather::log_window::read_error_window(&fixture("mixed.log"), 300, now, &filter)
        .unwrap()
        .0;
    assert_eq!(w.lines_read, 27);
    // blog.example.org's FastCGI record and the config-time emerg line are not this site's.
    assert_eq!(w.other_sites_events, 2);
    let refused = w
        .categories
        .iter()
        .find(|c| c.category == "upstream-refused")
        .unwrap();
    assert_eq!(refused.count, 2);
    assert_eq!(
        refused.first_seen.as_ref().map(|t| t.as_str()),
        Some("2026-11-22T10:00:01")
    );
    assert_eq!(
        refused.samples.iter().map(|s| s.line).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(refused.samples[0]
        .text
        .contains("connect() failed (111: Unknown error)"));
    assert!(!refused.samples[0].text.contains("id=1"), "query leaked");
    assert_eq!(w.categories.iter().map(|c| c.count).sum::<u64>(), 17);
    // Filtering by upstream address alone.
    let by_up = WindowFilter {
        upstreams: vec!["unix:/run/php/php8.2-fpm.sock".into()],
        ..Default::default()
    };
    let w = badgw::gather::log_window::read_error_window(&fixture("mixed.log"), 300, now, &by_up)
        .unwrap()
        .0;
    let cats: Vec<(&str, u64)> = w
        .categories
        .iter()
        .map(|c| (c.category.as_str(), c.count))
        .collect();
    assert_eq!(
        cats,
        vec![
            ("socket-permission", 1),
            ("backlog-full", 1),
            ("fastcgi-script-unknown", 1)
        ]
    );
    // A window that ends before the log starts is empty.
    let early = now - chrono::Duration::hours(1);
    let w =
        badgw::gather::log_window::read_error_window(&fixture("mixed.log"), 300, early, &filter)
            .unwrap()
            .0;
    assert_eq!((w.lines_read, w.categories.len()), (0, 0));
}

#[test]
fn colors_only_when_asked() {
    let mut a = args(vec![fixture("nginx-1.22-loopback.log")]);
    a.json = false;
    a.events = false;
    let mut plain = Vec::new();
    let st = explain_log::run(&a, false, &mut plain).unwrap();
    assert_eq!(st, ExitStatus::Problems);
    let plain = String::from_utf8(plain).unwrap();
    assert!(!plain.contains('\u{1b}'));
    assert!(
        plain.contains("14 upstream failure(s) in 10 categories"),
        "{plain}"
    );
    assert!(plain.contains("failures per minute:"));
    let mut colored = Vec::new();
    explain_log::run(&a, true, &mut colored).unwrap();
    assert!(String::from_utf8(colored).unwrap().contains("\u{1b}["));
}

#[test]
fn read_window_on_a_big_file_reads_only_the_tail_with_true_line_numbers() {
    // 12 MiB of old noise, then two recent failures: the window must find them (from the
    // last 8 MiB) and number them by their place in the whole file.
    let dir = tempfile::tempdir().unwrap();
    let noise = b"2026/11/21 08:00:00 [info] 1#1: *1 client 1.2.3.4 closed keepalive connection\n";
    let mut data = Vec::new();
    while data.len() < 12 << 20 {
        data.extend_from_slice(noise);
    }
    let noise_lines = (data.len() / noise.len()) as u64;
    for s in ["10:04:00", "10:04:30"] {
        writeln!(data, "2026/11/22 {s} [error] 1#1: *2 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 1.2.3.4, server: shop.example.com, request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:3000/\", host: \"shop.example.com\"").unwrap();
    }
    let p = write_tmp(dir.path(), "error.log", &data);
    let now = chrono::NaiveDate::from_ymd_opt(2026, 11, 22)
        .unwrap()
        .and_hms_opt(10, 5, 0)
        .unwrap();
    let filter = WindowFilter {
        upstreams: vec!["127.0.0.1:3000".into()],
        ..Default::default()
    };
    let w = badgw::gather::log_window::read_error_window(&p, 900, now, &filter)
        .unwrap()
        .0;
    assert_eq!(w.lines_read, 2);
    assert_eq!(w.categories.len(), 1);
    assert_eq!(w.categories[0].category, "read-timeout");
    let lines: Vec<u64> = w.categories[0].samples.iter().map(|s| s.line).collect();
    assert_eq!(lines, vec![noise_lines + 1, noise_lines + 2]);
}

#[test]
fn real_nginx_socket_permission_ipv6_and_client_noise() {
    // fixtures/logs/nginx-1.22-loopback-2.conf: a 0600 root-owned unix socket, a closed
    // [::1] port, a body over client_max_body_size, a client that gives up (499).
    let rep =
        explain_log::analyze(&[fixture("nginx-1.22-loopback-2.log")], None, None, true).unwrap();
    let s = &rep.files[0].stats;
    assert_eq!(
        event_lines(s),
        vec![(7, "socket-permission"), (9, "upstream-refused")]
    );
    assert_eq!(s.events[1].upstream.as_deref(), Some("http://[::1]:18999"));
    assert_eq!((s.lines_total, s.lines_unparsed), (18, 0));
}

/// A FIFO (`explain-log <(zcat …)`, a named pipe a collector writes) is read as a stream
/// whole: its first bytes are peeked for the gzip magic, never lost. Plain and gzip text
/// through a FIFO give the same counts as the file itself.
#[test]
fn a_fifo_is_read_whole_plain_or_gzip() {
    use flate2::{write::GzEncoder, Compression};
    let text = std::fs::read(fixture("mixed.log")).unwrap();
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(&text).unwrap();
    let gz = gz.finish().unwrap();
    let want = explain_log::analyze(&[fixture("mixed.log")], None, None, true).unwrap();
    for bytes in [text.clone(), gz] {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::write(&fifo, &bytes).unwrap())
        };
        let got = explain_log::analyze(std::slice::from_ref(&fifo), None, None, true).unwrap();
        writer.join().unwrap();
        assert_eq!(got.total.lines_total, want.total.lines_total);
        assert_eq!(got.total.lines_unparsed, want.total.lines_unparsed);
        assert_eq!(got.total.failures, want.total.failures);
        assert_eq!(got.files[0].stats.events, want.files[0].stats.events);
    }
}
