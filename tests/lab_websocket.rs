//! WebSocket locations through a real nginx: an echo app in this test (RFC 6455 handshake
//! on std), a `/socket.io/` location without the upgrade headers, with them, with its own
//! `proxy_set_header` lines hiding the server's, over HTTP/1.0 to an app that refuses it,
//! and with a 1 s `proxy_read_timeout` that cuts idle sockets.

mod lab;
#[path = "lab/ws.rs"]
mod ws;

use std::time::{Duration, Instant};

use lab::{diagnose_json, free_port, Lab};
use ws::{client_handshake, echo, EchoApp};

const LOG_FORMAT: &str = "log_format wsfmt '$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\" $request_time';";

/// A server for chat.test on `port`: `location /` and `location /socket.io/` (with `ws`
/// inside it) to the app; `server_extra` at server level.
fn site(lab: &Lab, port: u16, app: u16, ws_extra: &str, server_extra: &str) -> String {
    format!(
        "    {LOG_FORMAT}
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    server {{
        listen 127.0.0.1:{port};
        server_name chat.test;
        access_log {log} wsfmt;
        {server_extra}
        location / {{
            proxy_pass http://127.0.0.1:{app};
        }}
        location /socket.io/ {{
            proxy_pass http://127.0.0.1:{app};
            {ws_extra}
        }}
    }}
",
        log = lab.path("ws_access.log").display()
    )
}

fn diagnose(nginx: &lab::Nginx, port: u16) -> (i32, serde_json::Value) {
    diagnose_json(&[
        "--site",
        "chat.test",
        "--port",
        &port.to_string(),
        "--nginx-conf",
        nginx.conf_path.to_str().unwrap(),
        "--since",
        "1h",
    ])
}

/// With `LAB_RECORD=1`, writes `badgw collect` of this lab to fixtures/snapshots/NAME.json
/// (tests/reports.rs diagnoses it offline).
fn record_snapshot(nginx: &lab::Nginx, port: u16, name: &str) {
    if !std::env::var_os("LAB_RECORD").is_some_and(|v| !v.is_empty() && v != "0") {
        return;
    }
    let mut cmd = lab::badgw();
    cmd.args([
        "collect",
        "--site",
        "chat.test",
        "--port",
        &port.to_string(),
        "--since",
        "1h",
        "--nginx-conf",
    ])
    .arg(&nginx.conf_path);
    let out = lab::run_with_timeout(cmd, Duration::from_secs(20));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("fixtures/snapshots/{name}.json"));
    std::fs::write(path, out.stdout).expect("write snapshot");
}

fn ws_findings(report: &serde_json::Value) -> Vec<serde_json::Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["cause"] == "websocket-upgrade")
        .cloned()
        .collect()
}

fn wait_access(lab: &Lab, needle: &str) -> String {
    lab::wait_for_line(&lab.path("ws_access.log"), needle)
}

/// The line number of `needle` in nginx.conf.
fn conf_line(nginx: &lab::Nginx, needle: &str) -> usize {
    std::fs::read_to_string(&nginx.conf_path)
        .unwrap()
        .lines()
        .position(|l| l.contains(needle))
        .unwrap()
        + 1
}

#[test]
fn socket_io_without_upgrade_headers_is_named_with_the_lines_to_add() {
    let lab = Lab::new("ws-missing");
    let app = EchoApp::start(false);
    let port = free_port();
    let nginx = lab.nginx(&site(&lab, port, app.port, "", ""));
    // A browser's handshake loses its Upgrade header in nginx: the app answers 426.
    let (status, _) = client_handshake(port, "chat.test", "/socket.io/?EIO=4&transport=websocket");
    assert_eq!(status, 426);
    wait_access(&lab, "\" 426 ");
    assert!(
        nginx.error_lines().is_empty(),
        "nginx logs nothing at error: {:?}",
        nginx.error_lines()
    );

    let (code, report) = diagnose(&nginx, port);
    assert_eq!(code, 1, "{report:#}");
    let f = ws_findings(&report);
    assert_eq!(f.len(), 1, "{report:#}");
    assert_eq!(
        report["findings"][0]["cause"], "websocket-upgrade",
        "{report:#}"
    );
    assert_eq!(f[0]["severity"], "critical");
    let loc_at = format!(
        "{}:{}",
        nginx.conf_path.display(),
        conf_line(&nginx, "location /socket.io/")
    );
    let ev = f[0]["evidence"].to_string();
    assert!(
        ev.contains(&loc_at),
        "evidence names the location {loc_at}: {ev}"
    );
    assert!(ev.contains("426"), "{ev}");
    assert!(
        ev.contains("101 Switching Protocols"),
        "the direct probe shows the app upgrades: {ev}"
    );
    let fix = f[0]["fixes"][0]["command"].as_str().unwrap();
    for line in [
        "proxy_http_version 1.1;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Connection $connection_upgrade;",
    ] {
        assert!(fix.contains(line), "fix lacks {line}: {fix}");
    }
    record_snapshot(&nginx, port, "websocket-upgrade");
    // The timeout table gains the WebSocket hop.
    assert!(
        report["timeouts"]
            .to_string()
            .contains("nginx → WebSocket app"),
        "{:#}",
        report["timeouts"]
    );
}

#[test]
fn socket_io_with_upgrade_headers_is_healthy() {
    let lab = Lab::new("ws-ok");
    let app = EchoApp::start(false);
    let port = free_port();
    let nginx = lab.nginx(&site(
        &lab,
        port,
        app.port,
        "proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;",
        "",
    ));
    let (status, conn) =
        client_handshake(port, "chat.test", "/socket.io/?EIO=4&transport=websocket");
    assert_eq!(status, 101);
    let mut conn = conn.unwrap();
    assert_eq!(echo(&mut conn, "hello").as_deref(), Some("hello"));
    drop(conn);
    wait_access(&lab, "\" 101 ");

    let (code, report) = diagnose(&nginx, port);
    assert_eq!(code, 0, "{report:#}");
    assert!(ws_findings(&report).is_empty(), "{report:#}");
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "websocket-upgrade")
        .unwrap()
        .clone();
    assert_eq!(check["status"], "pass", "{check}");
}

#[test]
fn a_location_with_its_own_headers_does_not_inherit_the_servers_upgrade() {
    let lab = Lab::new("ws-inherit");
    let app = EchoApp::start(false);
    let port = free_port();
    let nginx = lab.nginx(&site(
        &lab,
        port,
        app.port,
        "proxy_set_header X-Real-IP $remote_addr;",
        "proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;",
    ));
    let (status, _) = client_handshake(port, "chat.test", "/socket.io/?EIO=4&transport=websocket");
    assert_eq!(
        status, 426,
        "the server's Upgrade lines do not reach this location"
    );
    wait_access(&lab, "\" 426 ");
    let (code, report) = diagnose(&nginx, port);
    assert_eq!(code, 1, "{report:#}");
    let f = ws_findings(&report);
    assert_eq!(f.len(), 1, "{report:#}");
    let upgrade_at = format!(
        "{}:{}",
        nginx.conf_path.display(),
        conf_line(&nginx, "proxy_set_header Upgrade $http_upgrade;")
    );
    let ev = f[0]["evidence"].to_string();
    assert!(
        ev.contains(&upgrade_at) && ev.contains("not inherited"),
        "{ev}"
    );
    let fix = f[0]["fixes"][0]["command"].as_str().unwrap();
    assert!(
        fix.contains("proxy_set_header Upgrade $http_upgrade;")
            && !fix.contains("proxy_http_version"),
        "{fix}"
    );
}

#[test]
fn http10_upstream_is_blamed_only_when_the_app_refuses_it() {
    let lab = Lab::new("ws-http10");
    let app = EchoApp::start(true);
    let port = free_port();
    // Headers right, but no proxy_http_version: nginx sends HTTP/1.0.
    let nginx = lab.nginx(&site(
        &lab,
        port,
        app.port,
        "proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;",
        "",
    ));
    let (status, _) = client_handshake(port, "chat.test", "/socket.io/?EIO=4&transport=websocket");
    assert_eq!(status, 400);
    wait_access(&lab, "\" 400 ");
    let (code, report) = diagnose(&nginx, port);
    assert_eq!(code, 1, "{report:#}");
    let f = ws_findings(&report);
    assert_eq!(f.len(), 1, "{report:#}");
    assert!(
        f[0]["title"].as_str().unwrap().contains("HTTP/1.0"),
        "{:#}",
        f[0]
    );
    assert_eq!(f[0]["fixes"][0]["command"], "proxy_http_version 1.1;");

    // The same configuration with an app that accepts 1.0 upgrades (Node's ws): healthy.
    let lab2 = Lab::new("ws-http10-ok");
    let app2 = EchoApp::start(false);
    let port2 = free_port();
    let nginx2 = lab2.nginx(&site(
        &lab2,
        port2,
        app2.port,
        "proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;",
        "",
    ));
    let (status, _) = client_handshake(port2, "chat.test", "/socket.io/?EIO=4&transport=websocket");
    assert_eq!(status, 101);
    let (code, report) = diagnose(&nginx2, port2);
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn idle_sockets_cut_at_a_short_read_timeout_are_found() {
    let lab = Lab::new("ws-idle");
    let app = EchoApp::start(false);
    let port = free_port();
    let nginx = lab.nginx(&site(
        &lab,
        port,
        app.port,
        "proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 1s;",
        "",
    ));
    let (status, conn) =
        client_handshake(port, "chat.test", "/socket.io/?EIO=4&transport=websocket");
    assert_eq!(status, 101);
    let mut conn = conn.unwrap();
    assert_eq!(echo(&mut conn, "hi").as_deref(), Some("hi"));
    // Idle: nginx closes the upgraded connection after proxy_read_timeout.
    let start = Instant::now();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 64];
    let closed = matches!(std::io::Read::read(&mut conn, &mut buf), Ok(0) | Err(_));
    assert!(
        closed && start.elapsed() < Duration::from_secs(4),
        "nginx cut the idle socket"
    );
    let line = wait_access(&lab, "\" 101 ");
    let rt: f64 = line.rsplit(' ').next().unwrap().trim().parse().unwrap();
    assert!(
        (0.9..2.5).contains(&rt),
        "request time {rt} ≈ proxy_read_timeout: {line}"
    );
    nginx.wait_log("while proxying upgraded connection");

    let (code, report) = diagnose(&nginx, port);
    assert_eq!(code, 1, "{report:#}");
    let f = ws_findings(&report);
    assert_eq!(f.len(), 1, "{report:#}");
    assert!(
        f[0]["title"].as_str().unwrap().contains("cut after 1 s"),
        "{:#}",
        f[0]
    );
    let ev = f[0]["evidence"].to_string();
    assert!(ev.contains("while proxying upgraded connection"), "{ev}");
    assert!(f[0]["fixes"][0]["command"]
        .as_str()
        .unwrap()
        .contains("proxy_read_timeout 3600s;"));
}
