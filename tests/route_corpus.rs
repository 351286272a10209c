//! A corpus of realistic configurations (fixtures/configs/, written for this project in the
//! shapes users run): each parses without a problem, and `route` gives the expected server,
//! location, pass directive and upstream — through the `badgw route --json` command.

use std::process::Command;

use serde_json::Value;

struct Case {
    shape: &'static str,
    site: &'static str,
    path: &'static str,
    port: Option<u16>,
    /// (file suffix, line) of the server block.
    server: (&'static str, u64),
    location: Option<(&'static str, &'static str, u64)>,
    directive: Option<&'static str>,
    upstreams: &'static [&'static str],
    /// Substrings expected in the route's notes.
    notes: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        shape: "debian",
        site: "shop.example.com",
        path: "/cart",
        port: None,
        server: ("sites-enabled/shop", 1),
        location: Some(("", "/", 7)),
        directive: Some("proxy_pass"),
        upstreams: &["127.0.0.1:3000", "127.0.0.1:3001"],
        notes: &[],
    },
    Case {
        shape: "debian",
        site: "www.shop.example.com",
        path: "/static/app.js",
        port: Some(80),
        server: ("sites-enabled/shop", 1),
        location: Some(("", "/static/", 16)),
        directive: None,
        upstreams: &[],
        notes: &[],
    },
    Case {
        shape: "debian",
        site: "unknown.example.com",
        path: "/",
        port: None,
        server: ("sites-enabled/default", 3),
        location: Some(("", "/", 11)),
        directive: None,
        upstreams: &[],
        notes: &["default server"],
    },
    Case {
        shape: "wordpress",
        site: "blog.example.org",
        path: "/wp-login.php",
        port: None,
        server: ("nginx.conf", 7),
        location: Some(("~", "\\.php$", 21)),
        directive: Some("fastcgi_pass"),
        upstreams: &["unix:/run/php/php8.2-fpm.sock"],
        notes: &[],
    },
    Case {
        shape: "wordpress",
        site: "blog.example.org",
        path: "/robots.txt",
        port: None,
        server: ("nginx.conf", 7),
        location: Some(("=", "/robots.txt", 15)),
        directive: None,
        upstreams: &[],
        notes: &[],
    },
    Case {
        shape: "wordpress",
        site: "blog.example.org",
        path: "/wp-content/x.PNG",
        port: None,
        server: ("nginx.conf", 7),
        location: Some(("~*", "\\.(js|css|png|jpg|jpeg|gif|ico)$", 29)),
        directive: None,
        upstreams: &[],
        notes: &[],
    },
    Case {
        shape: "laravel",
        site: "app.example.test",
        path: "/index.php/users",
        port: None,
        server: ("nginx.conf", 3),
        location: Some(("~", "^/index\\.php(/|$)", 21)),
        directive: Some("fastcgi_pass"),
        upstreams: &["127.0.0.1:9000"],
        notes: &[],
    },
    // nginx matches `location ~ /\.(?!well-known).*` (a lookahead) and denies: 403, no upstream.
    Case {
        shape: "laravel",
        site: "app.example.test",
        path: "/.env",
        port: None,
        server: ("nginx.conf", 3),
        location: Some(("~", "/\\.(?!well-known).*", 28)),
        directive: None,
        upstreams: &[],
        notes: &[],
    },
    Case {
        shape: "node-keepalive",
        site: "api.example.io",
        path: "/v1/orders",
        port: Some(8080),
        server: ("nginx.conf", 11),
        location: Some(("", "/v1/", 14)),
        directive: Some("proxy_pass"),
        upstreams: &["127.0.0.1:3000", "[::1]:3000"],
        notes: &[],
    },
    Case {
        shape: "websocket",
        site: "chat.example.com",
        path: "/ws/room/1",
        port: None,
        server: ("nginx.conf", 10),
        location: Some(("", "/ws/", 13)),
        directive: Some("proxy_pass"),
        upstreams: &["127.0.0.1:8765"],
        notes: &[],
    },
    Case {
        shape: "openresty",
        site: "lua.example.com",
        path: "/api/items",
        port: None,
        server: ("nginx.conf", 9),
        location: Some(("", "/api/", 12)),
        directive: Some("proxy_pass"),
        upstreams: &["127.0.0.1:9090"],
        notes: &[],
    },
    Case {
        shape: "openresty",
        site: "lua.example.com",
        path: "/hello",
        port: None,
        server: ("nginx.conf", 9),
        location: Some(("", "/hello", 21)),
        directive: None,
        upstreams: &[],
        notes: &[],
    },
    Case {
        shape: "map-geo",
        site: "acme.saas.example",
        path: "/",
        port: None,
        server: ("nginx.conf", 18),
        location: Some(("", "/", 24)),
        directive: Some("proxy_pass"),
        upstreams: &["127.0.0.1:7000"],
        notes: &[],
    },
    Case {
        shape: "tls",
        site: "secure.example.com",
        path: "/",
        port: Some(443),
        server: ("nginx.conf", 8),
        location: Some(("", "/", 14)),
        directive: Some("proxy_pass"),
        upstreams: &["10.0.0.5:8443"],
        notes: &[],
    },
    Case {
        shape: "tls",
        site: "secure.example.com",
        path: "/",
        port: None,
        server: ("nginx.conf", 3),
        location: None,
        directive: None,
        upstreams: &[],
        notes: &["also served on port 443"],
    },
    Case {
        shape: "deep",
        site: "deep.example.com",
        path: "/x",
        port: None,
        server: ("conf.d/site.conf", 1),
        location: Some(("", "/", 4)),
        directive: Some("proxy_pass"),
        upstreams: &["127.0.0.1:5005"],
        notes: &[],
    },
];

fn route(case: &Case) -> (i32, Value) {
    let conf = format!(
        "{}/fixtures/configs/{}/nginx.conf",
        env!("CARGO_MANIFEST_DIR"),
        case.shape
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_badgw"));
    cmd.args([
        "route",
        "--json",
        "--site",
        case.site,
        "--path",
        case.path,
        "--nginx-conf",
        &conf,
    ]);
    if let Some(p) = case.port {
        cmd.args(["--port", &p.to_string()]);
    }
    let out = cmd.output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: not JSON ({e}): {}",
            case.shape,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), v)
}

#[test]
fn every_corpus_config_routes_as_expected() {
    for case in CASES {
        let (code, doc) = route(case);
        let what = format!("{} {}{}", case.shape, case.site, case.path);
        assert_eq!(code, 0, "{what}: {doc:#}");
        assert!(doc.get("config_issues").is_none(), "{what}: {doc:#}");
        let r = &doc["route"];
        let file = r["server"]["file"].as_str().unwrap();
        assert!(
            file.ends_with(&format!("/{}/{}", case.shape, case.server.0)),
            "{what}: server file {file}"
        );
        assert_eq!(r["server"]["line"], case.server.1, "{what}: {r:#}");
        match case.location {
            Some((m, p, line)) => {
                assert_eq!(
                    (
                        r["location"]["modifier"].as_str(),
                        r["location"]["pattern"].as_str()
                    ),
                    (Some(m), Some(p)),
                    "{what}"
                );
                assert_eq!(r["location"]["line"], line, "{what}");
            }
            None => assert!(r["location"].is_null(), "{what}: {r:#}"),
        }
        assert_eq!(r["directive"].as_str(), case.directive, "{what}");
        let ups: Vec<&str> = r["upstreams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["address"].as_str().unwrap())
            .collect();
        assert_eq!(ups, case.upstreams, "{what}");
        let notes = r["notes"].to_string();
        for n in case.notes {
            assert!(notes.contains(n), "{what}: notes {notes} lack {n:?}");
        }
    }
}

#[test]
fn effective_settings_follow_inheritance() {
    let case = &CASES[8]; // node-keepalive
    let (_, doc) = route(case);
    let s = &doc["route"]["settings"];
    assert_eq!(s["connect_timeout_s"], 2.0);
    assert_eq!(s["read_timeout_s"], 15.0);
    assert_eq!(s["send_timeout_s"], 60.0, "nginx's default");
    assert_eq!(s["buffer_size"], 16384);
    assert_eq!(s["http_version"], "1.1");
    assert_eq!(s["keepalive"], 64);
    assert_eq!(s["keepalive_timeout_s"], 4.0);
    assert_eq!(
        doc["route"]["upstream_uri"], "/orders",
        "proxy_pass with a URI replaces the location prefix"
    );
    let (_, deep) = route(&CASES[15]);
    assert_eq!(
        deep["route"]["settings"]["read_timeout_s"], 42.0,
        "from an include two levels down"
    );
    assert_eq!(
        deep["route"]["settings"]["host_header"],
        "backend.example.com"
    );
    let (_, shop) = route(&CASES[0]);
    assert_eq!(shop["route"]["error_log"], "/var/log/nginx/shop.error.log");
    assert_eq!(shop["route"]["settings"]["read_timeout_s"], 30.0);
}

#[test]
fn malformed_configs_give_file_and_line_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[u8], u64, &str)] = &[
        (
            "quote.conf",
            b"http {\n server {\n  server_name \"unterminated;\n }\n}\n",
            6,
            "double quote opened on line 3",
        ),
        (
            "semicolon.conf",
            b"http {\n server {\n  listen 80\n }\n}\n",
            4,
            "is not terminated by \";\"",
        ),
        (
            "braces.conf",
            b"http {\n server {\n  listen 80;\n",
            4,
            "unexpected end of file",
        ),
        ("extra.conf", b"http {\n}\n}\n", 3, "unexpected \"}\""),
    ];
    for (name, text, line, msg) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_badgw"))
            .args([
                "route",
                "--json",
                "--site",
                "x",
                "--nginx-conf",
                p.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let all = format!("{stdout}{stderr}");
        let at = format!("{}:{line}", p.display());
        let issues: Vec<Value> = serde_json::from_str::<Value>(&stdout)
            .ok()
            .and_then(|v| v["config_issues"].as_array().cloned())
            .unwrap_or_default();
        let named = issues
            .iter()
            .any(|i| i["line"] == *line && i["message"].as_str().unwrap_or("").contains(msg))
            || (all.contains(&at) && all.contains(msg));
        assert!(named, "{name}: expected {msg:?} at {at}, got:\n{all}");
    }
    // An include cycle, 10,000 nested blocks and binary garbage: a clear message, no panic.
    std::fs::write(dir.path().join("a.conf"), "include b.conf;\n").unwrap();
    std::fs::write(dir.path().join("b.conf"), "include a.conf;\n").unwrap();
    std::fs::write(
        dir.path().join("nested.conf"),
        "a {".repeat(10_000) + &"}".repeat(10_000),
    )
    .unwrap();
    let garbage: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(dir.path().join("garbage.conf"), garbage).unwrap();
    for (name, expect) in [
        ("a.conf", "include cycle"),
        ("nested.conf", "nested deeper than"),
        ("garbage.conf", ""),
    ] {
        let p = dir.path().join(name);
        let out = Command::new(env!("CARGO_BIN_EXE_badgw"))
            .args(["route", "--site", "x", "--nginx-conf", p.to_str().unwrap()])
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains("panicked"), "{name}: {all}");
        assert!(all.contains(expect), "{name}: expected {expect:?} in {all}");
        assert!(
            all.contains(&p.display().to_string()) || name == "garbage.conf",
            "{name}: names the file: {all}"
        );
        assert!(
            // nginx rejects every one of these: never an all-clear (exit 0).
            matches!(out.status.code(), Some(1) | Some(3)),
            "{name}: exit {:?}",
            out.status.code()
        );
    }
}
