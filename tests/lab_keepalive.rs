//! The keep-alive race, reproduced through real nginx: an upstream group with `keepalive`,
//! and an app whose idle timer fires exactly as nginx reuses a connection (labapp
//! `stale-reset=MS`: a request on a connection idle for MS or more gets an RST). nginx
//! retries an idempotent GET on a fresh connection, so only POSTs fail — the trickle of
//! 502s on writes that makes this race hard to see — and badgw must name it.

mod lab;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use lab::{free_port, Lab, Nginx};
use serde_json::Value;

/// Idle time after which the app resets a reused connection, and the gap the test leaves
/// between a request and the next (longer, so every reuse meets a stale connection).
const STALE_MS: u64 = 150;
const GAP: Duration = Duration::from_millis(250);

fn request(port: u16, host: &str, method: &str) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to nginx");
    s.set_read_timeout(Some(lab::WAIT)).unwrap();
    let body = if method == "POST" { "order=1" } else { "" };
    write!(
        s,
        "{method} /orders HTTP/1.0\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n{body}",
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

fn keepalive_site(lab: &Lab, mode: &str) -> (lab::App, Nginx, u16, String) {
    let (front, back) = (free_port(), free_port());
    let site = format!("ka-{front}.example.test");
    let app = lab.app("orders", &[&format!("127.0.0.1:{back}")], mode);
    let nginx = lab.nginx(&format!(
        "upstream orders {{ server 127.0.0.1:{back}; keepalive 8; }}\n{}",
        lab::proxy_server(
            front,
            &site,
            "http://orders",
            "proxy_http_version 1.1; proxy_set_header Connection \"\";"
        )
    ));
    (app, nginx, front, site)
}

/// Twenty rounds of: a GET (opens or refreshes the kept-alive connection), a pause longer
/// than the app's idle limit, a POST on the reused connection. Returns the POSTs' statuses.
fn twenty_posts_after_idle(front: u16, site: &str) -> Vec<u16> {
    (0..20)
        .map(|_| {
            assert_eq!(request(front, site, "GET"), 200);
            std::thread::sleep(GAP);
            request(front, site, "POST")
        })
        .collect()
}

#[test]
fn posts_on_stale_keepalive_connections_fail_every_time_and_badgw_names_the_race() {
    let lab = Lab::new("karepro");
    let (_app, nginx, front, site) = keepalive_site(&lab, &format!("stale-reset={STALE_MS}"));
    let posts = twenty_posts_after_idle(front, &site);
    let failed = posts.iter().filter(|&&s| s == 502).count();
    assert_eq!(failed, 20, "POST statuses: {posts:?}");
    // A GET after the same pause meets the same reset, but nginx retries it on a new
    // connection: the client sees 200, and only the error log shows the race.
    std::thread::sleep(GAP);
    assert_eq!(request(front, &site, "GET"), 200);
    nginx.wait_log("(104: Connection reset by peer)");
    let (code, r): (i32, Value) = lab::diagnose_json(&[
        "--site",
        &site,
        "--port",
        &front.to_string(),
        "--nginx-conf",
        nginx.conf_path.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["findings"][0]["cause"], "keepalive-race", "{r:#}");
    let ev = r["findings"][0]["evidence"].to_string();
    assert!(ev.contains("Connection reset by peer"), "{ev}");
}

#[test]
fn an_app_that_keeps_connections_open_never_fails_a_post() {
    let lab = Lab::new("kaok20");
    let (_app, nginx, front, site) = keepalive_site(&lab, "ok");
    let posts = twenty_posts_after_idle(front, &site);
    assert!(posts.iter().all(|&s| s == 200), "POST statuses: {posts:?}");
    assert!(
        !nginx.error_log_text().contains("[error]"),
        "{}",
        nginx.error_log_text()
    );
}
