//! Verdicts that must never be "healthy": against real nginx on loopback, a failed probe
//! or listener check always ends in a finding or in "incomplete" (exit 3), never in
//! "No problem found" with exit 0 (design §6).

mod lab;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::FromRawFd;
use std::time::Duration;

use lab::{free_port, Lab};

/// A listener on 127.0.0.1 with a listen backlog of 1 that never accepts.
fn listener_with_backlog_1() -> TcpListener {
    // std's TcpListener::bind always asks for a backlog of 128: build the socket by hand.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket(): {}", std::io::Error::last_os_error());
        let listener = TcpListener::from_raw_fd(fd);
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
            },
            sin_zero: [0; 8],
        };
        let rc = libc::bind(
            fd,
            &addr as *const libc::sockaddr_in as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(rc, 0, "bind(): {}", std::io::Error::last_os_error());
        assert_eq!(
            libc::listen(fd, 1),
            0,
            "listen(): {}",
            std::io::Error::last_os_error()
        );
        listener
    }
}

/// Connects until the kernel stops completing connections: the accept queue is full.
/// Returns the connections that hold the queue (dropping them would empty it).
fn fill_queue(addr: SocketAddr) -> Vec<TcpStream> {
    let mut held = Vec::new();
    for _ in 0..16 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(s) => held.push(s),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return held,
            Err(e) => panic!("connect to {addr}: {e}"),
        }
    }
    panic!(
        "the accept queue of {addr} never filled ({} connections)",
        held.len()
    )
}

#[test]
fn a_full_listen_queue_is_never_a_healthy_verdict() {
    let lab = Lab::new("full-queue");
    let listener = listener_with_backlog_1();
    let back = listener.local_addr().unwrap();
    let _held = fill_queue(back);
    let front = free_port();
    let nginx = lab.nginx(&lab::proxy_server(
        front,
        "full.example.test",
        &format!("http://{back}"),
        "proxy_connect_timeout 1s;",
    ));
    let conf = nginx.conf_path.to_str().unwrap().to_string();
    let port = front.to_string();
    let args = [
        "--site",
        "full.example.test",
        "--port",
        &port,
        "--nginx-conf",
        &conf,
        "--timeout",
        "1s",
    ];
    let (code, report) = lab::diagnose_json(&args);
    assert_ne!(code, 0, "a full listen queue is not healthy: {report:#}");
    let causes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["cause"].as_str())
        .collect();
    if code == 1 {
        assert_eq!(
            causes.first(),
            Some(&"pool-exhausted"),
            "the listener exists and its queue is full: {report:#}"
        );
        let evidence = report["findings"][0]["evidence"].to_string();
        assert!(
            evidence.contains("accept queue"),
            "the queue is the evidence: {evidence}"
        );
    } else {
        assert_eq!(code, 3, "{report:#}");
    }

    let mut cmd = lab::badgw();
    cmd.arg("diagnose").args(args).env("NO_COLOR", "1");
    let out = lab::run_with_timeout(cmd, Duration::from_secs(20));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(!text.contains("No problem found"), "{text}");
    drop(listener);
}
