//! Smoke tests of the real-nginx lab itself: each labapp failure mode makes the real nginx
//! answer the expected status and write the expected error-log line. These pin down the lab's
//! behaviour (and nginx's exact words) that badgw's scenarios build on. Run with
//! `LAB_RECORD=1` to refresh the recorded logs in fixtures/logs/lab/.
//!
//! They need nginx installed; they never skip silently when it is missing.

mod lab;

use lab::{free_port, proxy_server, Lab};

fn upstream(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

#[test]
fn ok_app_is_proxied_then_refused_when_killed() {
    let lab = Lab::new("ok-then-refused");
    let (front, back) = (free_port(), free_port());
    let app = lab.app("shop", &[&format!("127.0.0.1:{back}")], "ok");
    let nginx = lab.nginx(&proxy_server(front, "shop.test", &upstream(back), ""));
    assert_eq!(
        lab.get(front, "shop.test", "/"),
        (200, "ok from shop".to_string())
    );
    assert!(app.is_running());
    assert_eq!(nginx.worker_pids().len(), 1, "worker_processes 1");
    // The master's cmdline names its prefix and config, as on a real host. nginx rewrites it
    // to one string: "nginx: master process /usr/sbin/nginx -p … -c … -e … -g daemon off;".
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", nginx.pid)).expect("cmdline");
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    assert!(cmdline.starts_with("nginx: master process "), "{cmdline}");
    let args: Vec<String> = cmdline.split_whitespace().map(str::to_string).collect();
    let after = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .map(|i| args[i + 1].clone())
    };
    assert_eq!(after("-c"), Some(nginx.conf_path.display().to_string()));
    assert_eq!(after("-p"), Some(nginx.prefix.display().to_string()));
    assert_eq!(after("-e"), Some(nginx.error_log.display().to_string()));
    assert!(
        nginx.error_lines().is_empty(),
        "no error yet: {:?}",
        nginx.error_lines()
    );

    app.kill();
    assert!(!app.is_running());
    let (status, _) = lab.get(front, "shop.test", "/");
    assert_eq!(status, 502);
    let line =
        nginx.wait_log("connect() failed (111: Connection refused) while connecting to upstream");
    assert!(line.contains("[error]"), "{line}");
    assert!(
        line.contains(&format!("upstream: \"http://127.0.0.1:{back}/\"")),
        "{line}"
    );
    assert!(line.contains("host: \"shop.test\""), "{line}");
    nginx.record_fixture("refused");
}

#[test]
fn close_mode_is_premature_close() {
    let lab = Lab::new("close");
    let (front, back) = (free_port(), free_port());
    lab.app("shop", &[&format!("127.0.0.1:{back}")], "close");
    let nginx = lab.nginx(&proxy_server(front, "shop.test", &upstream(back), ""));
    assert_eq!(lab.get(front, "shop.test", "/").0, 502);
    nginx.wait_log(
        "upstream prematurely closed connection while reading response header from upstream",
    );
    nginx.record_fixture("premature-close");
}

#[test]
fn reset_mode_is_connection_reset() {
    let lab = Lab::new("reset");
    let (front, back) = (free_port(), free_port());
    lab.app("shop", &[&format!("127.0.0.1:{back}")], "reset");
    let nginx = lab.nginx(&proxy_server(front, "shop.test", &upstream(back), ""));
    assert_eq!(lab.get(front, "shop.test", "/").0, 502);
    nginx.wait_log("(104: Connection reset by peer) while reading response header from upstream");
    nginx.record_fixture("reset");
}

#[test]
fn slow_app_times_out_with_504() {
    let lab = Lab::new("slow");
    let (front, back) = (free_port(), free_port());
    lab.app("shop", &[&format!("127.0.0.1:{back}")], "slow=3000");
    let nginx = lab.nginx(&proxy_server(
        front,
        "shop.test",
        &upstream(back),
        "proxy_read_timeout 1s;",
    ));
    let started = std::time::Instant::now();
    assert_eq!(lab.get(front, "shop.test", "/").0, 504);
    // nginx gave up after its 1 s timeout, not after the app's 3 s.
    assert!(started.elapsed() < std::time::Duration::from_millis(2500));
    nginx.wait_log(
        "upstream timed out (110: Connection timed out) while reading response header from upstream",
    );
    nginx.record_fixture("read-timeout");
}

#[test]
fn unix_socket_app_and_missing_socket() {
    let lab = Lab::new("unix");
    let front = free_port();
    let front_missing = free_port();
    let sock = lab.sock("shop");
    let missing = lab.sock("gone");
    lab.app("shop", &[&sock], "ok");
    let body = format!(
        "{}{}",
        proxy_server(front, "shop.test", &format!("http://{sock}:"), ""),
        proxy_server(
            front_missing,
            "gone.test",
            &format!("http://{missing}:"),
            ""
        )
    );
    let nginx = lab.nginx(&body);
    assert_eq!(nginx.ports, vec![front, front_missing]);
    assert_eq!(
        lab.get(front, "shop.test", "/"),
        (200, "ok from shop".to_string())
    );
    assert_eq!(lab.get(front_missing, "gone.test", "/").0, 502);
    let line = nginx.wait_log("(2: No such file or directory) while connecting to upstream");
    let path = missing.trim_start_matches("unix:");
    assert!(
        line.contains(&format!("connect() to unix:{path} failed")),
        "{line}"
    );
    nginx.record_fixture("unix-missing");
}

#[test]
fn big_header_is_too_big() {
    let lab = Lab::new("big-header");
    let (front, back) = (free_port(), free_port());
    lab.app("shop", &[&format!("127.0.0.1:{back}")], "big-header=16000");
    let nginx = lab.nginx(&proxy_server(front, "shop.test", &upstream(back), ""));
    assert_eq!(lab.get(front, "shop.test", "/").0, 502);
    nginx.wait_log("upstream sent too big header while reading response header from upstream");
    nginx.record_fixture("too-big-header");
}

#[test]
fn app_502_is_passed_through_silently() {
    let lab = Lab::new("status-502");
    let (front, back) = (free_port(), free_port());
    lab.app("shop", &[&format!("127.0.0.1:{back}")], "status=502");
    let nginx = lab.nginx(&proxy_server(front, "shop.test", &upstream(back), ""));
    assert_eq!(
        lab.get(front, "shop.test", "/"),
        (502, "status 502 from shop".to_string())
    );
    // The access log is written after the response; wait for it, then the error log must
    // still have nothing at [error]: nginx itself saw no failure.
    nginx.wait_access_log("\"GET / HTTP/1.0\" 502 ");
    assert_eq!(nginx.error_lines(), Vec::<String>::new());
    nginx.record_fixture("app-502");
}

#[test]
fn tls_garbage_is_not_http() {
    let lab = Lab::new("tls-garbage");
    let (front, back) = (free_port(), free_port());
    lab.app("shop", &[&format!("127.0.0.1:{back}")], "tls-garbage");
    let nginx = lab.nginx(&proxy_server(front, "shop.test", &upstream(back), ""));
    // nginx 1.22 takes a reply without a status line for HTTP/0.9: it logs the error but
    // relays the raw bytes (no status line at all), so the client sees garbage, not a 502.
    let raw = lab.get_raw(front, "shop.test", "/");
    assert_eq!(raw, vec![0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28]);
    let line = nginx.wait_log(
        "upstream sent no valid HTTP/1.0 header while reading response header from upstream",
    );
    assert!(line.contains("[error]"), "{line}");
    nginx.record_fixture("tls-garbage");
}

#[test]
fn blackhole_times_out_and_nginx_still_stops() {
    let lab = Lab::new("blackhole");
    let (front, back) = (free_port(), free_port());
    lab.app("shop", &[&format!("127.0.0.1:{back}")], "blackhole");
    let mut nginx = lab.nginx(&proxy_server(
        front,
        "shop.test",
        &upstream(back),
        "proxy_read_timeout 1s;",
    ));
    assert_eq!(lab.get(front, "shop.test", "/").0, 504);
    nginx.wait_log("upstream timed out (110: Connection timed out) while reading response header");
    // A request still hanging on the blackhole must not keep nginx alive past stop().
    let hanging = std::thread::spawn(move || lab::http_get(front, "shop.test", "/slow"));
    std::thread::sleep(std::time::Duration::from_millis(200));
    let t = std::time::Instant::now();
    nginx.stop();
    assert!(t.elapsed() < std::time::Duration::from_secs(3));
    assert!(std::net::TcpStream::connect(("127.0.0.1", front)).is_err());
    let _ = hanging.join();
}

#[test]
fn idle_close_app_closes_idle_keepalive_connections() {
    use std::io::{Read, Write};
    let lab = Lab::new("idle-close");
    let back = free_port();
    lab.app("shop", &[&format!("127.0.0.1:{back}")], "idle-close=300");
    let mut s = std::net::TcpStream::connect(("127.0.0.1", back)).expect("connect");
    s.set_read_timeout(Some(lab::WAIT)).expect("timeout");
    let req = b"GET / HTTP/1.1\r\nHost: shop.test\r\n\r\n";
    s.write_all(req).expect("send");
    let mut buf = [0u8; 4096];
    // Reads one whole answer (it ends with the body, whose length we know).
    let mut read_answer = |s: &mut std::net::TcpStream| {
        let mut answer = Vec::new();
        while !answer.ends_with(b"ok from shop") {
            let n = s.read(&mut buf).expect("read answer");
            assert!(n > 0, "EOF after {:?}", String::from_utf8_lossy(&answer));
            answer.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&answer).into_owned()
    };
    let answer = read_answer(&mut s);
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(
        answer.contains("\r\nConnection: keep-alive\r\n"),
        "{answer}"
    );
    // Kept alive: a second request on the same connection is answered.
    // The app's idle clock starts only after it answered, so after `sent`.
    let sent = std::time::Instant::now();
    s.write_all(req).expect("send again");
    assert_eq!(read_answer(&mut s), answer);
    let mut buf = [0u8; 16];
    // Idle longer than 300 ms: the app closes, the next read sees EOF.
    assert_eq!(s.read(&mut buf).expect("read eof"), 0);
    assert!(sent.elapsed() >= std::time::Duration::from_millis(300));
}

#[test]
fn ipv6_only_app_refuses_ipv4() {
    // One skip policy: a scenario that cannot run here fails with the reason.
    assert!(
        lab::has_ipv6_loopback(),
        "ipv6_only_app_refuses_ipv4 needs the IPv6 loopback [::1], which this host cannot bind \
         (enable it: sysctl -w net.ipv6.conf.lo.disable_ipv6=0)"
    );
    let lab = Lab::new("ipv6-only");
    let (front, back) = (free_port(), free_port());
    lab.app("shop", &[&format!("[::1]:{back}")], "ok");
    let nginx = lab.nginx(&proxy_server(front, "shop.test", &upstream(back), ""));
    assert_eq!(lab.get(front, "shop.test", "/").0, 502);
    let line = nginx.wait_log("connect() failed (111: Connection refused)");
    assert!(line.contains(&format!("127.0.0.1:{back}")), "{line}");
    nginx.record_fixture("ipv6-only-app");
}

#[test]
fn listen_ports_are_parsed() {
    assert_eq!(
        lab::listen_ports(
            "server { listen 8080; listen 127.0.0.1:8081 default_server;\n listen [::1]:8082;\n\
             listen unix:/x.sock; listen localhost; }"
        ),
        vec![8080, 8081, 8082, 80]
    );
}

#[test]
fn free_ports_are_distinct() {
    let ports: std::collections::HashSet<u16> = (0..50).map(|_| free_port()).collect();
    assert_eq!(ports.len(), 50);
}

#[test]
fn socket_only_root_can_open_is_permission_denied() {
    // nginx's workers drop to `nobody` only when the master runs as root.
    assert!(
        nix::unistd::geteuid().is_root(),
        "socket_only_root_can_open_is_permission_denied needs root (nginx's workers drop to \
         nobody only under a root master); run the tests as root, as CI does"
    );
    let lab = Lab::new("sock-perm");
    let front = free_port();
    let sock = lab.sock("shop");
    lab.app_args("shop", &["--listen", &sock, "--socket-mode", "0600"]);
    let nginx = lab.nginx(&proxy_server(
        front,
        "shop.test",
        &format!("http://{sock}:"),
        "",
    ));
    assert_eq!(lab.get(front, "shop.test", "/").0, 502);
    nginx.wait_log("failed (13: Permission denied) while connecting to upstream");
    nginx.record_fixture("unix-permission-denied");
}

#[test]
fn reload_switches_upstream() {
    let lab = Lab::new("reload");
    let (front, a, b) = (free_port(), free_port(), free_port());
    lab.app("old", &[&format!("127.0.0.1:{a}")], "ok");
    lab.app("new", &[&format!("127.0.0.1:{b}")], "ok");
    let mut nginx = lab.nginx(&proxy_server(front, "shop.test", &upstream(a), ""));
    assert_eq!(lab.get(front, "shop.test", "/").1, "ok from old");
    nginx.reload(&proxy_server(front, "shop.test", &upstream(b), ""));
    // The old worker may finish in-flight requests; new connections go to the new one.
    let deadline = std::time::Instant::now() + lab::WAIT;
    while lab.get(front, "shop.test", "/").1 != "ok from new" {
        assert!(std::time::Instant::now() < deadline, "reload not effective");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
#[should_panic(expected = "unknown directive \"no_such_directive\"")]
fn bad_config_panics_with_nginx_words() {
    let lab = Lab::new("bad-conf");
    let _nginx = lab.nginx("no_such_directive on;");
}

#[test]
fn badgw_binary_runs() {
    let mut cmd = lab::badgw();
    cmd.arg("--version");
    let out = lab::run_with_timeout(cmd, std::time::Duration::from_secs(10));
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("badgw {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
#[should_panic(expected = "labapp: unknown mode \"sideways\"")]
fn bad_app_mode_panics_with_labapp_words() {
    let lab = Lab::new("bad-mode");
    lab.app("shop", &[&format!("127.0.0.1:{}", free_port())], "sideways");
}

#[test]
fn app_on_several_listeners_answers_on_each() {
    let lab = Lab::new("multi-listen");
    let (p4, p6) = (free_port(), free_port());
    let sock = lab.sock("multi");
    let mut listens = vec![format!("127.0.0.1:{p4}"), sock.clone()];
    if lab::has_ipv6_loopback() {
        listens.push(format!("[::1]:{p6}"));
    }
    let refs: Vec<&str> = listens.iter().map(String::as_str).collect();
    let app = lab.app("multi", &refs, "status=503");
    assert_eq!(app.listens, listens);
    assert_eq!(
        lab::http_get(p4, "x", "/"),
        Ok((503, "status 503 from multi".to_string()))
    );
    let mut s = std::os::unix::net::UnixStream::connect(sock.trim_start_matches("unix:"))
        .expect("connect unix");
    use std::io::{Read, Write};
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").expect("send");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read");
    assert!(
        answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{answer}"
    );
    assert!(
        answer.ends_with("\r\n\r\nstatus 503 from multi"),
        "{answer}"
    );
}
