//! Properties of the parsers (proptest, run in CI): no input panics the config lexer and
//! parser, the error-log line parser, the access-log parser or the snapshot loader (and a
//! snapshot that loads is diagnosed and rendered without a panic); a configuration printed
//! back from its parsed tree parses to the same tree; noise after an error line, or
//! blanks before it, never changes its category.
//!
//! The fuzz targets in fuzz/ explore the same entry points for longer (docs/fuzzing.md).

use std::collections::BTreeMap;
use std::path::Path;

use badgw::facts::{Facts, RequestSpec};
use badgw::logs::access::{parse_line, LogFormat};
use badgw::logs::line::{classify, parse};
use badgw::nginx::lexer::tokenize;
use badgw::nginx::tree::{self, Directive, Source};
use proptest::prelude::*;

const COMBINED: &str = "$remote_addr - $remote_user [$time_local] \"$request\" $status \
     $body_bytes_sent \"$http_referer\" \"$http_user_agent\" rt=$request_time \
     uct=\"$upstream_connect_time\" uht=\"$upstream_header_time\" urt=\"$upstream_response_time\" \
     us=$upstream_status ua=$upstream_addr";

/// Bytes that look like configuration more often than random bytes do.
fn config_text() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => prop::sample::select(vec![
            "server", "location", "http", "upstream", "listen", "proxy_pass", "include",
            "{", "}", ";", " ", "\n", "\t", "\"", "'", "\\", "#", "$", "${x}", "~*", "=",
            "/api/", "http://127.0.0.1:3000", "x.test", "é", "content_by_lua_block",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..4),
    ];
    prop::collection::vec(piece, 0..80).prop_map(|v| v.concat())
}

fn load_text(bytes: &[u8]) -> tree::Tree {
    let mut files = BTreeMap::new();
    files.insert("/p/nginx.conf".to_string(), bytes.to_vec());
    tree::load(Path::new("/p/nginx.conf"), &Source::Dump(files)).expect("in the dump")
}

/// nginx syntax for a word: always double-quoted, with `"` and `\` escaped.
fn quote(w: &str) -> String {
    let mut s = String::from("\"");
    for c in w.chars() {
        if c == '"' || c == '\\' {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    s
}

fn print(dirs: &[Directive], out: &mut String) {
    for d in dirs {
        out.push_str(&quote(&d.name));
        for a in &d.args {
            out.push(' ');
            out.push_str(&quote(a));
        }
        match &d.block {
            Some(children) => {
                out.push_str(" {\n");
                print(children, out);
                out.push_str("}\n");
            }
            None => out.push_str(";\n"),
        }
    }
}

/// The tree without its positions: (name, args, children).
#[derive(Debug, PartialEq)]
struct Shape(String, Vec<String>, Option<Vec<Shape>>);

fn shape(dirs: &[Directive]) -> Vec<Shape> {
    dirs.iter()
        .map(|d| {
            Shape(
                d.name.clone(),
                d.args.clone(),
                d.block.as_deref().map(shape),
            )
        })
        .collect()
}

fn has_raw_blocks(dirs: &[Directive]) -> bool {
    dirs.iter()
        .any(|d| d.name.contains("lua_block") || has_raw_blocks(d.children()))
}

/// Real nginx error lines that have a category (from the recorded fixtures).
fn categorized_lines() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/logs");
    let mut lines = Vec::new();
    for f in [
        "nginx-1.22-loopback.log",
        "nginx-1.22-loopback-2.log",
        "mixed.log",
    ] {
        let text = std::fs::read(root.join(f)).unwrap();
        for l in text.split(|&b| b == b'\n') {
            if classify(&parse(l)).is_some() {
                lines.push(l.to_vec());
            }
        }
    }
    assert!(lines.len() > 10, "fixtures hold categorized lines");
    lines
}

fn snapshot_bytes() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/snapshots");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    v.sort();
    v.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// Diagnoses and renders a loaded snapshot both ways.
fn diagnose(facts: &Facts) {
    let runs = badgw::checks::run_all(facts);
    let report = badgw::report::build(facts, &runs);
    let mut out = Vec::new();
    badgw::render::human::diagnose(&report, false, true, &mut out).unwrap();
    badgw::render::json(&report, &mut out).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn config_lexer_parser_and_route_never_panic(bytes in config_text()) {
        let _ = tokenize(&bytes);
        let t = load_text(&bytes);
        for i in &t.issues {
            prop_assert!(i.line >= 1, "an issue without a line: {i:?}");
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let config = badgw::nginx::load(&badgw::nginx::LoadOptions {
            conf_path: "/p/nginx.conf".into(),
            prefix: None,
            dump: Some(format!("# configuration file /p/nginx.conf:\n{text}")),
        }, badgw::gather::files::CONFIG);
        if let Ok(config) = config {
            let req = RequestSpec { site: "x.test".into(), path: "/api/".into(), ..Default::default() };
            let _ = badgw::nginx::route(&config, &req, &|_, _| Vec::new());
        }
    }

    #[test]
    fn config_from_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = tokenize(&bytes);
        let _ = load_text(&bytes);
    }

    #[test]
    fn parse_print_parse_is_stable(bytes in config_text()) {
        let first = load_text(&bytes);
        prop_assume!(!has_raw_blocks(&first.root));
        let mut printed = String::new();
        print(&first.root, &mut printed);
        let second = load_text(printed.as_bytes());
        prop_assert!(second.issues.is_empty(), "printed config has issues: {:?}\n{printed}", second.issues);
        prop_assert_eq!(shape(&first.root), shape(&second.root), "printed:\n{}", printed);
    }

    #[test]
    fn error_log_line_parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let r = parse(&bytes);
        let _ = classify(&r);
        let _ = badgw::logs::line::upstream_key(&r);
        let _ = badgw::logs::line::strip_query(&bytes);
    }

    #[test]
    fn noise_after_a_line_or_blanks_before_it_keep_its_category(
        i in any::<prop::sample::Index>(),
        blanks in "[ \t]{0,4}",
        noise in prop::collection::vec(any::<u8>(), 0..40),
    ) {
        let lines = categorized_lines();
        let line = i.get(&lines);
        let want = classify(&parse(line));
        // nginx ends every context with `, host: "…"` or similar: noise after a comma and
        // space is one more field, never part of the message.
        let mut noisy = blanks.as_bytes().to_vec();
        noisy.extend_from_slice(line);
        noisy.extend_from_slice(b", ");
        noisy.extend(noise.iter().map(|&b| if b == b'\n' { b' ' } else { b }));
        prop_assert_eq!(
            classify(&parse(&noisy)), want,
            "{}", String::from_utf8_lossy(&noisy)
        );
    }

    #[test]
    fn access_log_parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let fmt = LogFormat::compile(COMBINED, "default");
        let _ = parse_line(&fmt, &bytes);
        let json = LogFormat::compile(COMBINED, "json");
        let _ = parse_line(&json, &bytes);
    }

    #[test]
    fn access_log_format_compiler_never_panics(template in ".{0,80}", bytes in prop::collection::vec(any::<u8>(), 0..120)) {
        let fmt = LogFormat::compile(&template, "default");
        let _ = parse_line(&fmt, &bytes);
    }

    #[test]
    fn snapshot_loader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(facts) = serde_json::from_slice::<Facts>(&bytes) {
            diagnose(&facts);
        }
    }

    #[test]
    fn mutated_snapshots_load_or_fail_cleanly(
        i in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        cut in 0usize..64,
        insert in prop::collection::vec(any::<u8>(), 0..16),
    ) {
        let snaps = snapshot_bytes();
        let mut bytes = i.get(&snaps).clone();
        let pos = at.index(bytes.len());
        let end = (pos + cut).min(bytes.len());
        bytes.splice(pos..end, insert);
        if let Ok(facts) = serde_json::from_slice::<Facts>(&bytes) {
            diagnose(&facts);
        }
    }
}

/// Found by `cargo fuzz run error_line` (docs/fuzzing.md): a digit run longer than an i64
/// in a pid, connection number or timestamp overflowed (a panic in debug builds, a wrong
/// number in release).
#[test]
fn huge_numbers_in_an_error_line_do_not_overflow() {
    let n = "9".repeat(40);
    for line in [
        format!("2026/11/22 23:49:34 [error] {n}#{n}: *{n} connect() failed (111: Connection refused) while connecting to upstream, upstream: \"http://127.0.0.1:9/\""),
        format!("{n}/11/22 23:49:34 [error] 1#1: *1 upstream timed out ({n}: Connection timed out)"),
        format!("[error] {n}#1: *{n} recv() failed ({n}: x)"),
    ] {
        let _ = classify(&parse(line.as_bytes()));
    }
    let found = include_bytes!("../fixtures/fuzz/error_line-overflow.log");
    for l in found.split(|&b| b == b'\n') {
        let _ = classify(&parse(l));
    }
}
