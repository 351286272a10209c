//! The error-log evidence in `diagnose`, against real nginx: causes that only the error log
//! shows (DNS resolution, file-descriptor exhaustion) are ranked first, and a decoy site's
//! failures in the same log never leak into a healthy site's diagnosis.

mod lab;

use std::net::{TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lab::{free_port, Lab};
use serde_json::Value;

/// A DNS server on loopback that answers NXDOMAIN to every query, like a resolver asked
/// for a name that does not exist. Stops when dropped.
struct NxdomainStub {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl NxdomainStub {
    fn start() -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let port = sock.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while !flag.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                if n < 12 {
                    continue;
                }
                let mut reply = buf[..n].to_vec();
                // QR=1, keep opcode and RD; RA=1, RCODE=3 (NXDOMAIN); no answers.
                reply[2] = 0x80 | (buf[2] & 0x79);
                reply[3] = 0x80 | 0x03;
                reply[6..12].fill(0);
                let _ = sock.send_to(&reply, from);
            }
        });
        NxdomainStub {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for NxdomainStub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn causes(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["cause"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn unresolvable_run_time_name_is_dns_resolution() {
    let lab = Lab::new("dns");
    let dns = NxdomainStub::start();
    let front = free_port();
    let nginx = lab.nginx(&format!(
        "server {{
        listen 127.0.0.1:{front};
        server_name dns.example.test;
        resolver 127.0.0.1:{} valid=1s ipv6=off;
        resolver_timeout 2s;
        location / {{
            set $backend app.invalid;
            proxy_pass http://$backend:3000;
        }}
    }}",
        dns.port
    ));
    assert_eq!(lab.get(front, "dns.example.test", "/").0, 502);
    nginx.wait_log("could not be resolved (3: Host not found)");
    let (code, report) = lab::diagnose_json(&[
        "--site",
        "dns.example.test",
        "--port",
        &front.to_string(),
        "--nginx-conf",
        nginx.conf_path.to_str().unwrap(),
    ]);
    assert_eq!(
        causes(&report).first().map(String::as_str),
        Some("dns-resolution"),
        "{report:#}"
    );
    assert_eq!(code, 1);
    let ev = report["findings"][0]["evidence"].to_string();
    assert!(ev.contains("app.invalid could not be resolved"), "{ev}");
    assert!(
        ev.contains(&format!("{}:", nginx.error_log.display())),
        "the log line's file:line: {ev}"
    );
    assert!(
        report["route"]["dynamic"]
            .as_str()
            .unwrap()
            .contains("resolver"),
        "{report:#}"
    );
}

#[test]
fn tiny_file_descriptor_limit_is_fd_exhaustion() {
    let lab = Lab::new("fd");
    let (front, ok_port, hold_port) = (free_port(), free_port(), free_port());
    let _ok = lab.app("fdok", &[&format!("127.0.0.1:{ok_port}")], "ok");
    let _hold = lab.app("fdhold", &[&format!("127.0.0.1:{hold_port}")], "blackhole");
    // worker_rlimit_nofile is a main-context directive: the lab's body goes into http {},
    // so set it through a second config that includes the lab's.
    let nginx = lab.nginx(&format!(
        "server {{
        listen 127.0.0.1:{front};
        server_name fd.example.test;
        location / {{ proxy_pass http://127.0.0.1:{ok_port}; }}
        location /hold/ {{ proxy_read_timeout 30s; proxy_pass http://127.0.0.1:{hold_port}; }}
    }}"
    ));
    let text = std::fs::read_to_string(&nginx.conf_path).unwrap();
    let limited = text.replacen(
        "worker_processes",
        "worker_rlimit_nofile 24;\nworker_processes",
        1,
    );
    let mut nginx = nginx;
    nginx.reload_conf(&limited);
    // Hold connections open until nginx cannot open a socket to the upstream.
    let mut held = Vec::new();
    let mut seen = false;
    for _ in 0..40 {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", front)) {
            use std::io::Write;
            let _ = s.write_all(b"GET /hold/x HTTP/1.0\r\nHost: fd.example.test\r\n\r\n");
            held.push(s);
        }
        std::thread::sleep(Duration::from_millis(20));
        if nginx.error_log_text().contains("(24: Too many open files)") {
            seen = true;
            break;
        }
    }
    assert!(
        seen,
        "nginx never ran out of descriptors:\n{}",
        nginx.error_log_text()
    );
    let (code, report) = lab::diagnose_json(&[
        "--site",
        "fd.example.test",
        "--port",
        &front.to_string(),
        "--nginx-conf",
        nginx.conf_path.to_str().unwrap(),
    ]);
    drop(held);
    assert_eq!(
        causes(&report).first().map(String::as_str),
        Some("fd-exhaustion"),
        "{report:#}\n--- error log:\n{}",
        nginx.error_log_text()
    );
    assert_eq!(code, 1);
    assert!(
        report["findings"][0]["evidence"]
            .to_string()
            .contains("Too many open files"),
        "{report:#}\n--- error log:\n{}",
        nginx.error_log_text()
    );
}

#[test]
fn a_decoy_sites_failures_do_not_leak_into_a_healthy_site() {
    let lab = Lab::new("decoy");
    let (front, ok_port, dead_port) = (free_port(), free_port(), free_port());
    let _ok = lab.app("healthy", &[&format!("127.0.0.1:{ok_port}")], "ok");
    let nginx = lab.nginx(&format!(
        "{}{}",
        lab::proxy_server(
            front,
            "healthy.example.test",
            &format!("http://127.0.0.1:{ok_port}"),
            ""
        ),
        lab::proxy_server(
            front,
            "decoy.example.test",
            &format!("http://127.0.0.1:{dead_port}"),
            ""
        )
    ));
    for _ in 0..5 {
        assert_eq!(lab.get(front, "decoy.example.test", "/").0, 502);
    }
    assert_eq!(lab.get(front, "healthy.example.test", "/").0, 200);
    nginx.wait_log("connect() failed (111: Connection refused)");
    let args = [
        "--site",
        "healthy.example.test",
        "--port",
        &front.to_string(),
        "--nginx-conf",
        nginx.conf_path.to_str().unwrap(),
    ];
    let (code, report) = lab::diagnose_json(&args);
    let problems: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] != "info")
        .collect();
    assert!(problems.is_empty(), "the decoy's 502s leaked: {report:#}");
    assert_eq!(code, 0);
    // And the decoy itself is diagnosed from the same log.
    let (code, decoy) = lab::diagnose_json(&[
        "--site",
        "decoy.example.test",
        "--port",
        &front.to_string(),
        "--nginx-conf",
        nginx.conf_path.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert_eq!(
        causes(&decoy).first().map(String::as_str),
        Some("upstream-down"),
        "{decoy:#}"
    );
    assert!(
        decoy["findings"][0]["corroborated_by"]
            .to_string()
            .contains("error-log-causes"),
        "{decoy:#}"
    );
}

/// An upstream group whose two servers are dead, max_fails=1: nginx tries both (refused),
/// marks them failed ("upstream server temporarily disabled"), then answers "no live
/// upstreams" without trying. The refusals are the root cause: upstream-down leads, and
/// no-live-upstreams is explained by it, with the disabled notes and the group's limits,
/// file:line, as its evidence.
#[test]
fn no_live_upstreams_is_traced_back_to_the_refused_servers() {
    let lab = Lab::new("nolive");
    let (front, a, b) = (free_port(), free_port(), free_port());
    let site = format!("group-{front}.example.test");
    let nginx = lab.nginx(&format!(
        "upstream deadgrp {{
        server 127.0.0.1:{a} max_fails=1 fail_timeout=30s;
        server 127.0.0.1:{b} max_fails=1 fail_timeout=30s;
    }}
{}",
        lab::proxy_server(front, &site, "http://deadgrp", "")
    ));
    for _ in 0..3 {
        assert_eq!(lab.get(front, &site, "/").0, 502);
    }
    nginx.wait_log("no live upstreams");
    let conf = std::fs::read_to_string(&nginx.conf_path).unwrap();
    let group_line = conf
        .lines()
        .position(|l| l.contains("upstream deadgrp"))
        .unwrap()
        + 1;
    let (code, report) = lab::diagnose_json(&[
        "--site",
        &site,
        "--port",
        &front.to_string(),
        "--nginx-conf",
        nginx.conf_path.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        causes(&report).first().map(String::as_str),
        Some("upstream-down"),
        "{report:#}"
    );
    let nolive = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["cause"] == "no-live-upstreams")
        .unwrap_or_else(|| panic!("no no-live-upstreams finding: {report:#}"));
    assert_eq!(nolive["explained_by"], "upstream-down", "{nolive:#}");
    let ev = nolive["evidence"].to_string();
    let at = format!("{}:{group_line}", nginx.conf_path.display());
    assert!(ev.contains(&at), "the group's file:line {at}: {ev}");
    assert!(ev.contains("max_fails=1 fail_timeout=30s"), "{ev}");
    assert!(ev.contains("temporarily disabled"), "{ev}");
    assert!(ev.contains(&format!("127.0.0.1:{a}")), "{ev}");
}
