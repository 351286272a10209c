//! A load balancer in front of nginx, on loopback: a small keep-alive HTTP proxy written
//! here (like an ALB: it keeps its backend connection to nginx and reuses it, adds
//! X-Forwarded-For, and answers 502 itself when the reused connection turns out closed)
//! in front of a real nginx with `keepalive_timeout 1s`. Reusing after 2 s gives the client
//! the proxy's 502 while nginx logs nothing at error; badgw names `lb-keepalive-race`.

mod lab;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use lab::{diagnose_json, free_port, Lab};

/// The proxy: one pooled keep-alive connection to nginx, reused for every request.
struct Balancer {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Balancer {
    fn start(backend: u16) -> Balancer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let pool: Arc<Mutex<Option<TcpStream>>> = Arc::new(Mutex::new(None));
        let thread = thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(c) = conn {
                    // One client at a time: the tests send requests one by one.
                    serve(c, backend, &pool);
                }
            }
        });
        Balancer {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_head(c: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match c.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => return None,
        }
        if head.len() > 16384 {
            return None;
        }
    }
    Some(head)
}

/// Reads one response (head + Content-Length body) from nginx; None when the connection
/// was closed or reset before a response.
fn read_response(c: &mut TcpStream) -> Option<(Vec<u8>, bool)> {
    let mut head = read_head(c)?;
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let len: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    c.read_exact(&mut body).ok()?;
    let close = text.contains("connection: close");
    head.extend_from_slice(&body);
    Some((head, close))
}

fn serve(mut client: TcpStream, backend: u16, pool: &Mutex<Option<TcpStream>>) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(5)));
    let Some(head) = read_head(&mut client) else {
        return;
    };
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n").filter(|l| !l.is_empty());
    let request_line = lines.next().unwrap_or("").replace("HTTP/1.0", "HTTP/1.1");
    let mut req = format!("{request_line}\r\n");
    for l in lines {
        if !l.to_ascii_lowercase().starts_with("connection:") {
            req.push_str(l);
            req.push_str("\r\n");
        }
    }
    req.push_str("X-Forwarded-For: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n");
    let reused = pool.lock().unwrap().take();
    let mut upstream = match reused {
        Some(c) => c,
        None => match TcpStream::connect(("127.0.0.1", backend)) {
            Ok(c) => c,
            Err(_) => return bad_gateway(&mut client),
        },
    };
    let _ = upstream.set_read_timeout(Some(Duration::from_secs(5)));
    if upstream.write_all(req.as_bytes()).is_err() {
        return bad_gateway(&mut client);
    }
    match read_response(&mut upstream) {
        Some((resp, close)) => {
            let _ = client.write_all(&resp);
            if !close {
                *pool.lock().unwrap() = Some(upstream);
            }
        }
        // The backend closed the connection it had kept: the balancer's own 502.
        None => bad_gateway(&mut client),
    }
    let _ = client.shutdown(Shutdown::Both);
}

fn bad_gateway(client: &mut TcpStream) {
    let body = "<html><body>502 Bad Gateway (balancer)</body></html>\n";
    let _ = write!(
        client,
        "HTTP/1.1 502 Bad Gateway\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// GET through the balancer with a User-Agent: the status.
fn get(port: u16, path: &str, ua: &str) -> u16 {
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect to balancer");
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        c,
        "GET {path} HTTP/1.0\r\nHost: shop.test\r\nUser-Agent: {ua}\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    String::from_utf8_lossy(&out)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn site(port: u16, app: u16, keepalive: &str) -> String {
    format!(
        "    log_format lbfmt '$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\" \"$http_x_forwarded_for\"';
    server {{
        listen 127.0.0.1:{port};
        server_name shop.test;
        access_log logs/lb_access.log lbfmt;
        {keepalive}
        location / {{
            proxy_pass http://127.0.0.1:{app};
        }}
    }}
"
    )
}

fn diagnose(nginx: &lab::Nginx, port: u16, extra: &[&str]) -> (i32, serde_json::Value) {
    let p = port.to_string();
    let mut args = vec![
        "--site",
        "shop.test",
        "--port",
        &p,
        "--nginx-conf",
        nginx.conf_path.to_str().unwrap(),
        "--since",
        "1h",
    ];
    args.extend_from_slice(extra);
    diagnose_json(&args)
}

/// With `LAB_RECORD=1`, writes `badgw collect` of this lab (balancer idle timeout 60 s) to
/// fixtures/snapshots/NAME.json (tests/reports.rs diagnoses it offline).
fn record_snapshot(nginx: &lab::Nginx, port: u16, name: &str) {
    if !std::env::var_os("LAB_RECORD").is_some_and(|v| !v.is_empty() && v != "0") {
        return;
    }
    let mut cmd = lab::badgw();
    cmd.args([
        "collect",
        "--site",
        "shop.test",
        "--port",
        &port.to_string(),
        "--since",
        "1h",
        "--lb-idle-timeout",
        "60s",
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

fn lb_finding(report: &serde_json::Value) -> Option<serde_json::Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["cause"] == "lb-keepalive-race")
        .cloned()
}

#[test]
fn balancer_reusing_connections_nginx_closed_gets_502_and_badgw_names_the_race() {
    let lab = Lab::new("lb-race");
    let (front, back) = (free_port(), free_port());
    let _app = lab.app("shop", &[&format!("127.0.0.1:{back}")], "ok");
    let nginx = lab.nginx(&site(front, back, "keepalive_timeout 1s;"));
    let lb = Balancer::start(front);
    assert_eq!(get(lb.port, "/health", "ELB-HealthChecker/2.0"), 200);
    // nginx closes the idle connection after 1 s; the balancer reuses it after 2 s.
    thread::sleep(Duration::from_secs(2));
    assert_eq!(
        get(lb.port, "/orders", "Mozilla/5.0"),
        502,
        "the balancer's own 502"
    );
    assert!(
        nginx.error_lines().is_empty(),
        "nginx logs nothing at error: {:?}",
        nginx.error_lines()
    );
    // A fresh connection works again.
    assert_eq!(get(lb.port, "/health", "ELB-HealthChecker/2.0"), 200);
    let log = lab::wait_for_line(
        &nginx.prefix.join("logs/lb_access.log"),
        "ELB-HealthChecker",
    );
    assert!(
        log.contains("\"127.0.0.1\""),
        "X-Forwarded-For logged: {log}"
    );

    let (code, report) = diagnose(&nginx, front, &["--lb-idle-timeout", "60s"]);
    assert_eq!(code, 1, "{report:#}");
    let f = lb_finding(&report).unwrap_or_else(|| panic!("no lb-keepalive-race: {report:#}"));
    assert_eq!(
        report["findings"][0]["cause"], "lb-keepalive-race",
        "{report:#}"
    );
    let ev = f["evidence"].to_string();
    let ka_at = format!("{}:", nginx.conf_path.display());
    assert!(
        ev.contains("--lb-idle-timeout")
            && ev.contains(&ka_at)
            && ev.contains("keepalive_timeout 1 s"),
        "{ev}"
    );
    assert!(
        ev.contains("ELB-HealthChecker/2.0") && ev.contains("X-Forwarded-For"),
        "{ev}"
    );
    assert_eq!(f["fixes"][0]["command"], "keepalive_timeout 65s;");
    record_snapshot(&nginx, front, "lb-keepalive-race");
    // The timeouts table shows the balancer hop.
    let hops: Vec<(String, String, f64)> = report["timeouts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["hop"] == "load balancer → nginx")
        .map(|r| {
            (
                r["setting"].as_str().unwrap().to_string(),
                r["source"].as_str().unwrap().to_string(),
                r["seconds"].as_f64().unwrap_or(-1.0),
            )
        })
        .collect();
    for (setting, secs) in [
        ("balancer idle timeout", 60.0),
        ("keepalive_timeout", 1.0),
        ("client_header_timeout", 60.0),
        ("client_body_timeout", 60.0),
        ("send_timeout", 60.0),
    ] {
        assert!(
            hops.iter().any(|(s, _, v)| s == setting && *v == secs),
            "{setting} = {secs} missing from the balancer hop: {hops:?}"
        );
    }

    // Without --lb-idle-timeout, the ALB default is assumed because its health checker
    // is in the log — and the finding says so.
    let (code, report) = diagnose(&nginx, front, &[]);
    assert_eq!(code, 1, "{report:#}");
    let f = lb_finding(&report).unwrap_or_else(|| panic!("{report:#}"));
    assert!(
        f["evidence"][0]
            .as_str()
            .unwrap()
            .starts_with("assumed: AWS ALB"),
        "{f:#}"
    );
}

#[test]
fn nginx_keeping_connections_longer_than_the_balancer_is_no_race() {
    let lab = Lab::new("lb-ok");
    let (front, back) = (free_port(), free_port());
    let _app = lab.app("shop", &[&format!("127.0.0.1:{back}")], "ok");
    let nginx = lab.nginx(&site(front, back, "keepalive_timeout 3s;"));
    let lb = Balancer::start(front);
    assert_eq!(get(lb.port, "/health", "ELB-HealthChecker/2.0"), 200);
    thread::sleep(Duration::from_secs(2));
    assert_eq!(
        get(lb.port, "/orders", "Mozilla/5.0"),
        200,
        "reused while nginx keeps it"
    );
    let (code, report) = diagnose(&nginx, front, &["--lb-idle-timeout", "2s"]);
    assert_eq!(code, 0, "{report:#}");
    assert!(lb_finding(&report).is_none(), "{report:#}");
}

#[test]
fn a_failing_health_check_path_is_routed_and_probed() {
    let lab = Lab::new("lb-health");
    let (front, back, dead) = (free_port(), free_port(), free_port());
    let _app = lab.app("shop", &[&format!("127.0.0.1:{back}")], "ok");
    // The site works; its health-check location goes to an app that is not running.
    let nginx = lab.nginx(&site(
        front,
        back,
        &format!("location = /health {{ proxy_pass http://127.0.0.1:{dead}; }}"),
    ));
    let lb = Balancer::start(front);
    assert_eq!(get(lb.port, "/", "Mozilla/5.0"), 200);
    for _ in 0..3 {
        assert_eq!(get(lb.port, "/health", "ELB-HealthChecker/2.0"), 502);
    }
    lab::wait_for_line(
        &nginx.prefix.join("logs/lb_access.log"),
        "ELB-HealthChecker",
    );
    let (code, report) = diagnose(&nginx, front, &["--lb-idle-timeout", "60s"]);
    assert_eq!(code, 1, "{report:#}");
    // The health checks' failure is the dead upstream behind /health: one finding, on that
    // location, whose evidence has the balancer's failed checks (port-bound finds the dead
    // app itself in site-wide mode, and the health-check finding merges into it).
    let f = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["evidence"].to_string().contains("health checks"))
        .cloned()
        .unwrap_or_else(|| panic!("no health-check evidence: {report:#}"));
    assert_eq!(f["location"]["pattern"], "/health", "{f:#}");
    assert_eq!(f["cause"], "upstream-down", "{f:#}");
    let ev = f["evidence"].to_string();
    assert!(
        ev.contains(&format!("127.0.0.1:{dead}")) && ev.contains("location = /health"),
        "{ev}"
    );
    // The site's own route (/) is healthy: the only failure is the health-check path
    // (site-wide mode also checks its upstream fully, at `location = /health`).
    assert!(
        !report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["cause"] == "upstream-down"
                && !f["title"].as_str().unwrap().contains("health")
                && f["location"]["pattern"] != "/health"),
        "{report:#}"
    );
}
