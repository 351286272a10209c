use super::*;
use crate::facts::AnswerOrigin::{Nginx, Unknown, Upstream};

const CUSTOM: &str = include_str!("../../../fixtures/access/upstream-vars.log");
const JSON: &str = include_str!("../../../fixtures/access/escape-json.log");
const COMBINED: &str = include_str!("../../../fixtures/access/combined.log");

const CUSTOM_FORMAT: &str = "$remote_addr [$time_local] \"$request\" $status us=$upstream_status uht=$upstream_header_time urt=$upstream_response_time ua=$upstream_addr ub=$upstream_bytes_received rid=$request_id rt=$request_time host=$host";
const JSON_FORMAT: &str = "{\"time\":\"$time_iso8601\",\"request\":\"$request\",\"status\":$status,\"upstream_status\":\"$upstream_status\",\"upstream_header_time\":\"$upstream_header_time\",\"upstream_addr\":\"$upstream_addr\",\"request_id\":\"$request_id\",\"host\":\"$host\",\"ua\":\"$http_user_agent\"}";

fn entries(fmt: &LogFormat, text: &str) -> Vec<AccessEntry> {
    text.lines()
        .map(|l| parse_line(fmt, l.as_bytes()).unwrap_or_else(|| panic!("unparsed: {l}")))
        .collect()
}

/// (path, status, origin) of every recorded line.
fn origins(es: &[AccessEntry]) -> Vec<(String, u16, AnswerOrigin)> {
    es.iter()
        .map(|e| {
            let path = e.request.clone().unwrap_or_default();
            let path = path.split(' ').nth(1).unwrap_or("").to_string();
            (path, e.status.unwrap(), e.origin())
        })
        .collect()
}

fn expected(with_fields: bool) -> Vec<(String, u16, AnswerOrigin)> {
    let o = |x| if with_fields { x } else { Unknown };
    [
        ("/ok?…", 200, Unknown),
        ("/ok/a%20b", 200, Unknown),
        ("/app502", 502, o(Upstream)),
        ("/refused", 502, o(Nginx)),
        ("/group", 502, o(Nginx)),
        ("/group", 502, o(Nginx)),
        ("/group", 502, o(Nginx)),
        ("/hold", 504, o(Nginx)),
        ("/nginx502", 502, o(Nginx)),
        ("/ok", 200, Unknown),
    ]
    .into_iter()
    .map(|(p, s, o)| (p.to_string(), s, o))
    .collect()
}

#[test]
fn recorded_upstream_variables_tell_who_made_each_502() {
    let fmt = LogFormat::compile(CUSTOM_FORMAT, "default");
    assert!(fmt.has_upstream_fields());
    let es = entries(&fmt, CUSTOM);
    assert_eq!(origins(&es), expected(true));
    // Retries keep every attempt; the query string is gone.
    assert_eq!(es[4].upstream_status.as_deref(), Some("502, 502"));
    assert_eq!(
        es[4].upstream_addr.as_deref(),
        Some("127.0.0.1:18991, 127.0.0.1:18992")
    );
    assert_eq!(es[0].request.as_deref(), Some("GET /ok?… HTTP/1.1"));
    assert_eq!(es[9].host.as_deref(), Some("other.example.test"));
    assert_eq!(
        es[2].request_id.as_deref(),
        Some("07ba38c252e760ea82984f4fa6521458")
    );
    assert_eq!(format_time(es[0].time.unwrap()), "2026-11-23T04:22:49");
}

#[test]
fn recorded_escape_json_lines() {
    let fmt = LogFormat::compile(JSON_FORMAT, "json");
    let es = entries(&fmt, JSON);
    assert_eq!(origins(&es), expected(true));
    // `\"` inside a value does not end it.
    assert_eq!(es[1].status, Some(200));
    assert_eq!(format_time(es[7].time.unwrap()), "2026-11-23T04:22:50");
}

#[test]
fn recorded_combined_lines_have_no_origin() {
    let fmt = LogFormat::compile(crate::nginx::COMBINED_FORMAT, "default");
    assert!(!fmt.has_upstream_fields());
    let es = entries(&fmt, COMBINED);
    assert_eq!(origins(&es), expected(false));
}

#[test]
fn only_upstream_status_needs_bytes_to_blame_the_app() {
    let fmt = LogFormat::compile(
        "$status $upstream_status $upstream_bytes_received",
        "default",
    );
    let o = |l: &str| parse_line(&fmt, l.as_bytes()).unwrap().origin();
    assert_eq!(
        o("502 502 0"),
        Nginx,
        "refused connect: nginx writes 502 itself"
    );
    assert_eq!(o("502 502 173"), Upstream);
    assert_eq!(o("502 - -"), Nginx);
    let fmt = LogFormat::compile("$status $upstream_status", "default");
    assert_eq!(parse_line(&fmt, b"502 502").unwrap().origin(), Unknown);
    assert_eq!(parse_line(&fmt, b"502 -").unwrap().origin(), Nginx);
}

#[test]
fn bad_lines_never_match_and_never_panic() {
    let fmt = LogFormat::compile(CUSTOM_FORMAT, "default");
    for l in [
        &b""[..],
        b"GARBAGE \x01\xff\r",
        b"127.0.0.1 [99/Foo/2026:04:22:49 +0000] \"GET / HTTP/1.1\" 200 us=",
        b"127.0.0.1 [23/Nov/2026:04:22:49 +0000] \"GET /trunc",
        &[0xff; 5000][..],
    ] {
        assert!(parse_line(&fmt, l).is_none(), "{l:?}");
    }
    // CRLF line endings are accepted.
    let line = format!("{}\r", CUSTOM.lines().next().unwrap());
    assert!(parse_line(&fmt, line.as_bytes()).is_some());
    // Every prefix of a real line and every byte soup is handled.
    let real = CUSTOM.lines().nth(4).unwrap().as_bytes();
    for n in 0..real.len() {
        let _ = parse_line(&fmt, &real[..n]);
    }
}

#[test]
fn braces_and_unknown_variables_compile() {
    let fmt = LogFormat::compile("${status}x$foo_bar [$time_local]", "default");
    let e = parse_line(&fmt, b"502xanything [23/Nov/2026:04:22:49 +0000]").unwrap();
    assert_eq!(e.status, Some(502));
}

fn now() -> chrono::NaiveDateTime {
    chrono::NaiveDateTime::parse_from_str("2026-11-23T04:30:00", "%Y-%m-%dT%H:%M:%S").unwrap()
}

#[test]
fn window_of_the_recorded_log_for_one_site() {
    let fmt = LogFormat::compile(CUSTOM_FORMAT, "default");
    let path = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/access/upstream-vars.log"
    ));
    let (w, _) = crate::gather::log_window::read_access_window(
        path,
        "upstreamlog",
        &fmt,
        900,
        now(),
        "SHOP.example.test",
        &[],
    )
    .unwrap();
    assert_eq!((w.lines_read, w.lines_unparsed), (10, 0));
    assert_eq!((w.requests, w.other_sites), (9, 1));
    assert_eq!((w.nginx_502, w.nginx_504, w.upstream_5xx), (5, 1, 1));
    assert_eq!(w.minutes.len(), 1);
    let m = &w.minutes[0];
    assert_eq!(m.minute, "2026-11-23T04:22");
    assert_eq!(
        (m.requests, m.status_502, m.status_504, m.from_upstream),
        (9, 6, 1, 1)
    );
    let app: Vec<_> = w.samples.iter().filter(|s| s.origin == Upstream).collect();
    assert_eq!(app.len(), 1);
    assert_eq!(app[0].line, 3);
    assert_eq!(app[0].upstream_addr.as_deref(), Some("127.0.0.1:18982"));
    assert!(w.samples.len() <= 12);
    // Ten minutes later, the window is empty.
    let later = now() + chrono::Duration::minutes(20);
    let (w, _) = crate::gather::log_window::read_access_window(
        path,
        "upstreamlog",
        &fmt,
        300,
        later,
        "shop.example.test",
        &[],
    )
    .unwrap();
    assert_eq!((w.requests, w.nginx_502), (0, 0));
}

#[test]
fn window_start_is_found_by_binary_search_in_a_long_log() {
    let fmt = LogFormat::compile(CUSTOM_FORMAT, "default");
    let line = CUSTOM.lines().next().unwrap();
    // 20 000 lines over 20 000 s, then the recorded ones: only the last 15 min count.
    let dir = std::env::temp_dir().join(format!("badgw-access-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.log");
    let mut text = String::new();
    let start =
        chrono::NaiveDateTime::parse_from_str("2026-11-22T22:00:00", "%Y-%m-%dT%H:%M:%S").unwrap();
    for i in 0..20_000i64 {
        let t = start + chrono::Duration::seconds(i);
        text.push_str(&line.replace(
            "23/Nov/2026:04:22:49",
            &t.format("%d/%b/%Y:%H:%M:%S").to_string(),
        ));
        text.push('\n');
    }
    let before = text.lines().count() as u64;
    text.push_str(CUSTOM);
    std::fs::write(&path, &text).unwrap();
    let (w, _) = crate::gather::log_window::read_access_window(
        &path,
        "upstreamlog",
        &fmt,
        900,
        now(),
        "shop.example.test",
        &[],
    )
    .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(w.upstream_5xx, 1);
    assert_eq!(w.nginx_502, 5);
    // Line numbers count from the start of the file.
    let app = w.samples.iter().find(|s| s.origin == Upstream).unwrap();
    assert_eq!(app.line, before + 3);
    // 22:00 + 20 000 s = 03:33:20; the window starts 04:15: none of the generated lines.
    assert_eq!(w.requests, 9);
}

/// The zone nginx wrote the time in is kept (the time itself stays the written local time,
/// joined with the error log's): `+0000`, `-0500`, ISO `-05:00` and `Z`.
#[test]
fn the_time_zone_of_each_line_is_kept() {
    let fmt = LogFormat::compile("[$time_local] $status", "t");
    let e = parse_line(&fmt, b"[23/Nov/2026:03:53:13 -0500] 502").unwrap();
    assert_eq!(e.utc_offset.as_deref(), Some("-05:00"));
    assert_eq!(
        e.time.map(format_time).as_deref(),
        Some("2026-11-23T03:53:13")
    );
    let e = parse_line(&fmt, b"[23/Nov/2026:03:53:13 +0000] 502").unwrap();
    assert_eq!(e.utc_offset.as_deref(), Some("+00:00"));
    let iso = LogFormat::compile("$time_iso8601 $status", "t");
    let e = parse_line(&iso, b"2026-11-23T03:53:13-05:00 502").unwrap();
    assert_eq!(e.utc_offset.as_deref(), Some("-05:00"));
    let e = parse_line(&iso, b"2026-11-23T03:53:13Z 502").unwrap();
    assert_eq!(e.utc_offset.as_deref(), Some("+00:00"));
}
