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

/// As `nobody`, the nginx that serves the site has a 0600 configuration and another nginx
/// with a catch-all `server_name _` runs: the diagnosis is incomplete (exit 3) and says
/// why — never the other instance's "no problem found".
#[test]
fn unreadable_instance_serving_the_site_is_incomplete_never_another_instances_answer() {
    use std::os::unix::fs::PermissionsExt;
    assert!(
        nix::unistd::geteuid().is_root(),
        "this scenario switches to user nobody, which needs root"
    );
    let lab = Lab::new("wrong-instance");
    let (front, catch_all, back) = (free_port(), free_port(), free_port());
    let site = format!("shop-{front}.hidden.test");
    let _app = lab.app("shop", &[&format!("127.0.0.1:{back}")], "ok");
    let serving = lab.nginx(&lab::proxy_server(
        front,
        &site,
        &format!("http://127.0.0.1:{back}"),
        "",
    ));
    let other = lab.nginx(&format!(
        "    server {{\n        listen 127.0.0.1:{catch_all} default_server;\n        \
         listen 127.0.0.2:{front} default_server;\n        server_name _;\n        \
         location / {{ return 200 \"other\\n\"; }}\n    }}\n"
    ));
    let _ = &other;
    std::fs::set_permissions(&serving.conf_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let port = front.to_string();
    let out = lab::run_as_nobody(
        &lab.dir,
        [
            "diagnose",
            "--site",
            &site,
            "--port",
            &port,
            "--timeout",
            "1s",
            "--color",
            "never",
        ],
        Duration::from_secs(20),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(3),
        "the serving nginx is unreadable: incomplete\n{stdout}\n{stderr}"
    );
    assert!(!stdout.contains("No problem found"), "{stdout}");
    let conf = serving.conf_path.display().to_string();
    assert!(
        stderr.contains(&conf) && stderr.contains("run badgw as root"),
        "the reason names the unreadable configuration: {stderr}"
    );

    // As root the serving instance is read and diagnosed.
    let (code, report) = lab::diagnose_json(&["--site", &site, "--port", &port, "--timeout", "1s"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        report["route"]["server"]["file"],
        conf.as_str(),
        "{report:#}"
    );
}
