//! Site-wide diagnosis through real nginx (no `--path`): every distinct upstream behind the
//! server is checked once, the one the logs show failing leads, the healthy ones are
//! summarised in one line, and the root cause is the one `--path` to a failing request
//! names. Scenarios: two upstreams with one down; an SPA whose `/api/` app is bound to
//! another port; an SPA whose `/api/` suffers the keep-alive race; Debian's default site
//! with PHP enabled and its pool full over a unix socket.

mod lab;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use lab::{fpm, free_port, Lab};
use serde_json::Value;

fn top_cause(report: &Value) -> String {
    report["findings"][0]["cause"]
        .as_str()
        .unwrap_or_else(|| panic!("no finding in {report:#}"))
        .to_string()
}

fn dist(lab: &Lab) -> String {
    let root = lab.path("dist");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("index.html"), "<div id=app></div>\n").unwrap();
    root.display().to_string()
}

/// `diagnose --site SITE` and `diagnose --site SITE --path PATH`, both as JSON.
fn with_and_without_path(site: &str, path: &str, conf: &str) -> ((i32, Value), (i32, Value)) {
    let whole = lab::diagnose_json(&["--site", site, "--nginx-conf", conf]);
    let one = lab::diagnose_json(&["--site", site, "--path", path, "--nginx-conf", conf]);
    (whole, one)
}

/// `/` static, `/api/` on a healthy app, `/admin/` on an app that is not running: the
/// dead one leads (with its location and upstream), the healthy one is one summary line.
#[test]
fn two_upstreams_one_down_the_down_one_leads_and_the_healthy_one_is_summarised() {
    let lab = Lab::new("two-ups");
    let root = dist(&lab);
    let (front, api, admin) = (free_port(), free_port(), free_port());
    let site = format!("two-{front}.example.test");
    let _app = lab.app("api", &[&format!("127.0.0.1:{api}")], "ok");
    let nginx = lab.nginx(&format!(
        "server {{
    listen 127.0.0.1:{front};
    server_name {site};
    root {root};
    location / {{ try_files $uri $uri/ /index.html; }}
    location /api/ {{ proxy_pass http://127.0.0.1:{api}; }}
    location /admin/ {{ proxy_pass http://127.0.0.1:{admin}; }}
}}"
    ));
    assert_eq!(lab.get(front, &site, "/api/x").0, 200);
    assert_eq!(lab.get(front, &site, "/admin/users").0, 502);
    nginx.wait_log("(111: Connection refused)");
    let conf = nginx.conf_path.to_str().unwrap().to_string();
    let (code, r) = lab::diagnose_json(&["--site", &site, "--nginx-conf", &conf]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(top_cause(&r), "upstream-down", "{r:#}");
    let loc = &r["findings"][0]["location"];
    assert_eq!(loc["upstreams"][0], format!("127.0.0.1:{admin}"), "{r:#}");
    assert_eq!(loc["pattern"], "/admin/", "{r:#}");
    assert_eq!(loc["failing"], true, "{r:#}");
    assert_eq!(
        loc["path"], "/admin/users",
        "the failing request is routed: {r:#}"
    );
    // Every finding of warning or worse concerns the dead app, none the healthy one.
    for f in r["findings"].as_array().unwrap() {
        if f["severity"] != "info" {
            assert_ne!(
                f["location"]["upstreams"][0],
                format!("127.0.0.1:{api}"),
                "{f:#}"
            );
        }
    }
    let ups = r["site_wide"]["upstreams"].as_array().unwrap();
    assert_eq!(ups.len(), 2, "{r:#}");
    assert_eq!(ups[0]["upstreams"][0], format!("127.0.0.1:{admin}"));
    assert_eq!(ups[1]["healthy"], true, "{r:#}");
    // Each upstream was checked fully: a probe of each, and the checks ran once per upstream.
    let probes: Vec<&str> = r["upstream_states"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["address"].as_str())
        .collect();
    assert!(
        probes.contains(&format!("127.0.0.1:{admin}").as_str()),
        "{r:#}"
    );
    let runs_on_api = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["upstream"] == format!("127.0.0.1:{api}"))
        .count();
    assert!(runs_on_api > 5, "{r:#}");
    let (code, text) = lab::diagnose_human(&["--site", &site, "--nginx-conf", &conf]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("at location /admin/") && text.contains("on 1 healthy upstream"),
        "{text}"
    );
}

/// `/` static, `/api/` proxied to a port the app does not listen on (it listens on
/// another): without `--path` the report names port-mismatch, as `--path /api/…` does.
#[test]
fn spa_with_api_app_on_another_port_is_port_mismatch_without_path() {
    let lab = Lab::new("spa-pm");
    let root = dist(&lab);
    let (front, back, actual) = (free_port(), free_port(), free_port());
    let site = format!("spa-{front}.example.test");
    let _app = lab.app("api", &[&format!("127.0.0.1:{actual}")], "ok");
    let nginx = lab.nginx(&format!(
        "server {{
    listen 127.0.0.1:{front};
    server_name {site};
    root {root};
    location / {{ try_files $uri $uri/ /index.html; }}
    location /api/ {{ proxy_pass http://127.0.0.1:{back}; }}
}}"
    ));
    assert_eq!(lab.get(front, &site, "/").0, 200);
    assert_eq!(lab.get(front, &site, "/api/users").0, 502);
    nginx.wait_log("(111: Connection refused)");
    let conf = nginx.conf_path.to_str().unwrap().to_string();
    let ((cw, whole), (cp, one)) = with_and_without_path(&site, "/api/users", &conf);
    assert_eq!(top_cause(&one), "port-mismatch", "{one:#}");
    assert_eq!(top_cause(&whole), top_cause(&one), "{whole:#}");
    assert_eq!((cw, cp), (1, 1));
    lab::diagnose_human(&["--site", &site, "--nginx-conf", &conf]);
}

fn request(port: u16, host: &str, method: &str, path: &str) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to nginx");
    s.set_read_timeout(Some(lab::WAIT)).unwrap();
    let body = if method == "POST" { "order=1" } else { "" };
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    std::str::from_utf8(out.get(9..12).unwrap_or(b"000"))
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// `/api/` through an upstream group with `keepalive` to an app that resets connections
/// idle 150 ms or more (labapp `stale-reset`, as in tests/lab_keepalive.rs): POSTs after a
/// pause fail. Without `--path` the report names keepalive-race, as `--path /api/…` does.
#[test]
fn spa_with_api_keepalive_race_is_named_without_path() {
    let lab = Lab::new("spa-ka");
    let root = dist(&lab);
    let (front, back) = (free_port(), free_port());
    let site = format!("spaka-{front}.example.test");
    let _app = lab.app("orders", &[&format!("127.0.0.1:{back}")], "stale-reset=150");
    let nginx = lab.nginx(&format!(
        "upstream api {{ server 127.0.0.1:{back}; keepalive 8; }}
server {{
    listen 127.0.0.1:{front};
    server_name {site};
    root {root};
    location / {{ try_files $uri $uri/ /index.html; }}
    location /api/ {{
        proxy_pass http://api;
        proxy_http_version 1.1;
        proxy_set_header Connection \"\";
    }}
}}"
    ));
    let mut failed = 0;
    for _ in 0..6 {
        assert_eq!(request(front, &site, "GET", "/api/orders"), 200);
        std::thread::sleep(Duration::from_millis(250));
        if request(front, &site, "POST", "/api/orders") == 502 {
            failed += 1;
        }
    }
    assert!(failed > 0, "no POST met a stale connection");
    nginx.wait_log("(104: Connection reset by peer)");
    let conf = nginx.conf_path.to_str().unwrap().to_string();
    let ((cw, whole), (cp, one)) = with_and_without_path(&site, "/api/orders", &conf);
    assert_eq!(top_cause(&one), "keepalive-race", "{one:#}");
    assert_eq!(top_cause(&whole), top_cause(&one), "{whole:#}");
    assert_eq!((cw, cp), (1, 1));
    lab::diagnose_human(&["--site", &site, "--nginx-conf", &conf]);
}

/// Debian's default site with its PHP block enabled, on a real PHP-FPM pool over a unix
/// socket with one child and no backlog: slow requests for `/` (index → index.php) fill
/// it, nginx logs `(11: Resource temporarily unavailable)`. `diagnose --site localhost`
/// with no other flag but the configuration names pool-exhausted first.
#[test]
fn debian_default_site_with_a_full_pool_over_a_unix_socket_is_pool_exhausted() {
    let lab = Lab::new("d");
    let fpm = fpm::start(
        &lab,
        &[("index.php", "<?php usleep(3000000); echo \"done\\n\";\n")],
        "listen.backlog = 0\npm = static\npm.max_children = 1\nrequest_terminate_timeout = 8s",
    );
    let snippet = lab.path("fastcgi-php.conf");
    std::fs::write(
        &snippet,
        "fastcgi_split_path_info ^(.+?\\.php)(/.*)$;\n\
         try_files $fastcgi_script_name =404;\n\
         set $path_info $fastcgi_path_info;\n\
         fastcgi_param PATH_INFO $path_info;\n\
         fastcgi_index index.php;\n\
         fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n\
         fastcgi_param REQUEST_METHOD $request_method;\n\
         fastcgi_read_timeout 8s;\n",
    )
    .unwrap();
    let port = free_port();
    let nginx = lab.nginx(&format!(
        "server {{
    listen 127.0.0.1:{port} default_server;
    root {root};
    index index.php index.html index.htm index.nginx-debian.html;
    server_name _;
    location / {{
        try_files $uri $uri/ =404;
    }}
    location ~ \\.php$ {{
        include {snippet};
        fastcgi_pass unix:{sock};
    }}
}}",
        root = fpm.www.display(),
        snippet = snippet.display(),
        sock = fpm.sock.display()
    ));
    let mut inflight = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(s, "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
        inflight.push(s);
        std::thread::sleep(Duration::from_millis(100));
    }
    nginx.wait_log("(11: Resource temporarily unavailable)");
    let conf = nginx.conf_path.to_str().unwrap().to_string();
    let (code, r) = lab::diagnose_json(&["--site", "localhost", "--nginx-conf", &conf]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(top_cause(&r), "pool-exhausted", "{r:#}");
    let loc = &r["findings"][0]["location"];
    assert_eq!(loc["pattern"], "\\.php$", "{r:#}");
    assert_eq!(
        loc["upstreams"][0],
        format!("unix:{}", fpm.sock.display()),
        "{r:#}"
    );
    lab::diagnose_human(&["--site", "localhost", "--nginx-conf", &conf]);
    drop(inflight);
}

/// `auth_request /auth` in front of a healthy app, the auth location proxying to an auth
/// service that is not running: nginx answers 500 (not 502: the auth module turns any
/// subrequest status other than 2xx/401/403 into 500). The route names the auth upstream
/// as a second one, and both `--path` and the site-wide mode name it down.
#[test]
fn auth_request_to_a_dead_auth_service_is_named_as_the_second_upstream() {
    let lab = Lab::new("authreq");
    let (front, app, auth) = (free_port(), free_port(), free_port());
    let site = format!("auth-{front}.example.test");
    let _app = lab.app("app", &[&format!("127.0.0.1:{app}")], "ok");
    let nginx = lab.nginx(&format!(
        "server {{
    listen 127.0.0.1:{front};
    server_name {site};
    location /private/ {{
        auth_request /auth;
        proxy_pass http://127.0.0.1:{app};
    }}
    location = /auth {{
        internal;
        proxy_pass http://127.0.0.1:{auth};
        proxy_pass_request_body off;
        proxy_set_header Content-Length \"\";
    }}
}}"
    ));
    assert_eq!(lab.get(front, &site, "/private/x").0, 500);
    nginx.wait_log("auth request unexpected status: 502");
    let conf = nginx.conf_path.to_str().unwrap().to_string();
    let ((cw, whole), (cp, one)) = with_and_without_path(&site, "/private/x", &conf);
    let auth_addr = format!("127.0.0.1:{auth}");
    assert_eq!(
        one["route"]["auth_requests"][0]["route"]["upstreams"][0]["address"], auth_addr,
        "{one:#}"
    );
    for r in [&one, &whole] {
        assert_eq!(top_cause(r), "upstream-down", "{r:#}");
        assert_eq!(
            r["findings"][0]["location"]["upstreams"][0], auth_addr,
            "{r:#}"
        );
        assert_eq!(r["findings"][0]["location"]["pattern"], "/auth", "{r:#}");
    }
    assert_eq!((cw, cp), (1, 1));
    let out = lab::badgw()
        .args([
            "route",
            "--site",
            &site,
            "--path",
            "/private/x",
            "--nginx-conf",
            &conf,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("auth_request /auth (nginx.conf:17) → proxy_pass http://127.0.0.1:{auth}; when it fails nginx answers 500")),
        "{text}"
    );
}

/// Two dead apps, `/api/` first in the configuration, but only `/admin/` requested in the
/// window: the upstream the logs show failing leads, the other follows (it is down too,
/// and still reported) and is named on the report's `also:` line.
#[test]
fn the_upstream_the_logs_show_failing_leads_over_config_order() {
    let lab = Lab::new("fail-first");
    let (front, api, admin) = (free_port(), free_port(), free_port());
    let site = format!("ff-{front}.example.test");
    let nginx = lab.nginx(&format!(
        "server {{
    listen 127.0.0.1:{front};
    server_name {site};
    location /api/ {{ proxy_pass http://127.0.0.1:{api}; }}
    location /admin/ {{ proxy_pass http://127.0.0.1:{admin}; }}
}}"
    ));
    assert_eq!(lab.get(front, &site, "/admin/users").0, 502);
    nginx.wait_log("(111: Connection refused)");
    let conf = nginx.conf_path.to_str().unwrap().to_string();
    let (code, r) = lab::diagnose_json(&["--site", &site, "--nginx-conf", &conf]);
    assert_eq!(code, 1, "{r:#}");
    let downs: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["cause"] == "upstream-down")
        .collect();
    assert_eq!(downs.len(), 2, "one finding per dead upstream: {r:#}");
    assert_eq!(r["findings"][0]["cause"], "upstream-down", "{r:#}");
    assert_eq!(
        r["findings"][0]["location"]["upstreams"][0],
        format!("127.0.0.1:{admin}"),
        "{r:#}"
    );
    assert_eq!(
        downs[1]["location"]["upstreams"][0],
        format!("127.0.0.1:{api}")
    );
    assert!(downs[1]["location"].get("failing").is_none(), "{r:#}");
    let (_, text) = lab::diagnose_human(&["--site", &site, "--nginx-conf", &conf]);
    assert!(
        text.contains(&format!("also: proxy_pass http://127.0.0.1:{api} [FAIL]")),
        "{text}"
    );
}
