//! What the upstream does on the wire, against real nginx and real upstream processes:
//! each scenario makes nginx fail for one reason and asserts badgw ranks that cause first.

mod lab;

use lab::{free_port, Lab};
use serde_json::Value;

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id}: {report:#}"))
}

fn top(report: &Value) -> String {
    report["findings"][0]["cause"]
        .as_str()
        .unwrap_or("(none)")
        .to_string()
}

/// Starts an app in `mode` and nginx with `pass` (`{back}` is replaced by the app's
/// address) plus `extra` directives in the location; returns the diagnosis.
fn scenario(
    name: &str,
    mode: &str,
    pass: &str,
    extra: &str,
    upstream_block: &str,
    timeout: &str,
) -> (i32, Value, u16) {
    let lab = Lab::new(name);
    let (front, back) = (free_port(), free_port());
    let _app = lab.app(name, &[&format!("127.0.0.1:{back}")], mode);
    let site = format!("{name}.example.test");
    let body = format!(
        "{}{}",
        upstream_block.replace("{back}", &format!("127.0.0.1:{back}")),
        lab::proxy_server(
            front,
            &site,
            &pass.replace("{back}", &format!("127.0.0.1:{back}")),
            extra
        )
    )
    .replace("proxy_pass fastcgi://", "fastcgi_pass ");
    let nginx = lab.nginx(&body);
    // A TLS-speaking app makes nginx relay raw bytes (HTTP/0.9): read the status raw.
    let raw = lab.get_raw(front, &site, "/");
    let status = std::str::from_utf8(raw.get(9..12).unwrap_or(b"000"))
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (code, report) = lab::diagnose_json(&[
        "--site",
        &site,
        "--port",
        &front.to_string(),
        "--nginx-conf",
        nginx.conf_path.to_str().unwrap(),
        "--timeout",
        timeout,
    ]);
    (code, report, status)
}

#[test]
fn slow_app_beyond_proxy_read_timeout_is_upstream_timeout() {
    let (code, r, status) = scenario(
        "slow",
        "slow=3000",
        "http://{back}",
        "proxy_read_timeout 1s;",
        "",
        "2s",
    );
    assert_eq!(status, 504);
    assert_eq!(top(&r), "upstream-timeout", "{r:#}");
    assert_eq!(code, 1);
    assert!(
        r["findings"][0]["evidence"]
            .to_string()
            .contains("proxy_read_timeout 1s"),
        "{r:#}"
    );
}

#[test]
fn app_closing_without_answer_is_premature_close() {
    let (code, r, status) = scenario("close", "close", "http://{back}", "", "", "2s");
    assert_eq!(status, 502);
    assert_eq!(top(&r), "premature-close", "{r:#}");
    assert_eq!(code, 1);
}

#[test]
fn headers_beyond_the_buffer_are_header_too_big() {
    let (code, r, status) = scenario("bighdr", "big-header=16000", "http://{back}", "", "", "2s");
    assert_eq!(status, 502);
    assert_eq!(top(&r), "header-too-big", "{r:#}");
    assert_eq!(code, 1);
    let fix = r["findings"][0]["fixes"][0]["command"].as_str().unwrap();
    assert!(
        fix.starts_with("proxy_buffer_size 16k;") || fix.starts_with("proxy_buffer_size 32k;"),
        "{fix}"
    );
}

#[test]
fn an_app_answering_502_itself_is_upstream_502() {
    let (code, r, status) = scenario("app502", "status=502", "http://{back}", "", "", "2s");
    assert_eq!(status, 502);
    assert_eq!(top(&r), "upstream-502", "{r:#}");
    assert_eq!(code, 1);
}

#[test]
fn https_to_a_plain_http_app_is_protocol_mismatch() {
    let (code, r, status) = scenario("tlsplain", "ok", "https://{back}", "", "", "2s");
    assert_eq!(status, 502);
    assert_eq!(top(&r), "protocol-mismatch", "{r:#}");
    assert_eq!(code, 1);
    assert!(
        r["findings"][0]["title"]
            .as_str()
            .unwrap()
            .contains("plain-HTTP server"),
        "{r:#}"
    );
}

#[test]
fn http_to_a_tls_speaking_app_is_protocol_mismatch() {
    let (code, r, _) = scenario("plaintls", "tls-garbage", "http://{back}", "", "", "2s");
    assert_eq!(top(&r), "protocol-mismatch", "{r:#}");
    assert_eq!(code, 1);
    assert!(
        r["findings"][0]["title"]
            .as_str()
            .unwrap()
            .contains("answers with TLS"),
        "{r:#}"
    );
}

#[test]
fn fastcgi_pass_to_an_http_server_is_protocol_mismatch() {
    let (code, r, status) = scenario("fcgihttp", "ok", "fastcgi://{back}", "", "", "2s");
    assert_eq!(status, 502);
    assert_eq!(top(&r), "protocol-mismatch", "{r:#}");
    assert_eq!(code, 1);
    assert!(
        r["findings"][0]["title"]
            .as_str()
            .unwrap()
            .contains("not FastCGI"),
        "{r:#}"
    );
}

const KEEPALIVE_GROUP: &str = "upstream app { server {back}; keepalive 8; }\n";
const KEEPALIVE_LOCATION: &str = "proxy_http_version 1.1; proxy_set_header Connection \"\";";

#[test]
fn app_closing_idle_connections_before_nginx_is_keepalive_race() {
    let (code, r, status) = scenario(
        "karace",
        "idle-close=1000",
        "http://app",
        KEEPALIVE_LOCATION,
        KEEPALIVE_GROUP,
        "1s",
    );
    assert_eq!(status, 200);
    assert_eq!(top(&r), "keepalive-race", "{r:#}");
    assert_eq!(code, 1);
    let title = r["findings"][0]["title"].as_str().unwrap();
    assert!(
        title.contains("after 1.0s") || title.contains("after 1.1s"),
        "{title}"
    );
    assert!(r["findings"][0]["fixes"][0]["command"]
        .as_str()
        .unwrap()
        .starts_with("keepalive_timeout "));
}

#[test]
fn keepalive_aligned_app_has_no_finding() {
    let (code, r, status) = scenario(
        "kaok",
        "ok",
        "http://app",
        KEEPALIVE_LOCATION,
        KEEPALIVE_GROUP,
        "1s",
    );
    assert_eq!(status, 200);
    let problems: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] != "info")
        .collect();
    assert!(problems.is_empty(), "{r:#}");
    assert_eq!(code, 0);
    let ka = check(&r, "keepalive-alignment");
    assert_eq!(ka["status"], "pass", "{ka:#}");
}

#[test]
fn probes_of_black_hole_and_reset_targets_end_within_the_timeout() {
    for mode in ["blackhole", "reset"] {
        let start = std::time::Instant::now();
        let (_, r, _) = scenario(
            mode,
            mode,
            "http://{back}",
            "proxy_read_timeout 1s;",
            "",
            "1s",
        );
        assert!(
            start.elapsed() < std::time::Duration::from_secs(8),
            "{mode}: {:?}",
            start.elapsed()
        );
        assert_ne!(top(&r), "(none)", "{mode}: a finding is expected: {r:#}");
    }
}

/// A real PHP-FPM pool whose request_terminate_timeout (1 s) is shorter than nginx's
/// fastcgi_read_timeout (60 s by default): FPM kills the worker of a 3 s script, nginx gets
/// a reset connection and answers 502. timeout-alignment names both settings, file:line,
/// and the report's timeout table lists every hop.
#[test]
fn php_fpm_killing_requests_before_nginx_gives_up_is_timeout_misalignment() {
    let lab = Lab::new("fpmterm");
    let front = free_port();
    let site = format!("php-{front}.term.test");
    let fpm = lab::fpm::start(
        &lab,
        &[("slow.php", "<?php usleep(3000000); echo \"done\\n\";\n")],
        "pm = static\npm.max_children = 2\nrequest_terminate_timeout = 1s",
    );
    let nginx = lab.nginx(&format!(
        "server {{ listen 127.0.0.1:{front}; server_name {site}; root {www};
           {location}
         }}",
        www = fpm.www.display(),
        location = fpm.location("")
    ));
    assert_eq!(lab.get(front, &site, "/slow.php").0, 502);
    nginx.wait_log("while reading response header from upstream");
    let (code, r) = lab::diagnose_json(&[
        "--site",
        &site,
        "--port",
        &front.to_string(),
        "--path",
        "/slow.php",
        "--nginx-conf",
        nginx.conf_path.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(top(&r), "premature-close", "{r:#}");
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "timeout-alignment")
        .unwrap_or_else(|| panic!("no timeout-alignment finding: {r:#}"));
    // FPM's own log says it killed the script: the cause itself, so it leads and the
    // error log's "closed mid-request" corroborates it.
    assert_eq!(f, &r["findings"][0], "{r:#}");
    assert_eq!(f["severity"], "critical", "{f:#}");
    assert!(
        f["title"]
            .as_str()
            .unwrap()
            .starts_with("PHP-FPM ends a request after 1 s"),
        "{f:#}"
    );
    assert!(
        f["evidence"].to_string().contains("execution timed out"),
        "{f:#}"
    );
    assert!(
        f["fixes"][0]["command"]
            .as_str()
            .unwrap()
            .contains("request_terminate_timeout = 60s"),
        "{f:#}"
    );
    let ev = f["evidence"].to_string();
    let at = format!(
        "{}:{}",
        fpm.conf.display(),
        fpm.line_of("request_terminate_timeout")
    );
    assert!(ev.contains(&at), "evidence names {at}: {ev}");
    assert!(ev.contains("fastcgi_read_timeout 60s"), "{ev}");
    let rows = r["timeouts"].as_array().unwrap();
    let setting = |name: &str| {
        rows.iter()
            .find(|t| t["setting"].as_str().unwrap_or("").contains(name))
            .unwrap_or_else(|| panic!("no {name} row: {rows:#?}"))
    };
    assert_eq!(setting("fastcgi_read_timeout")["seconds"], 60.0);
    assert_eq!(setting("fastcgi_read_timeout")["source"], "nginx default");
    assert_eq!(setting("request_terminate_timeout")["seconds"], 1.0);
    assert_eq!(setting("client_body_timeout")["hop"], "client → nginx");
}

/// The log_format of the access-log scenarios: nginx's upstream variables, as an SRE adds
/// them to tell who made a 502.
const UPSTREAM_LOG_FORMAT: &str = "log_format upstreamlog '$remote_addr [$time_local] \"$request\" $status us=$upstream_status uht=$upstream_header_time urt=$upstream_response_time ua=$upstream_addr rid=$request_id host=$host';\n";

/// Starts nginx with the upstream log format on the site's server, sends `n` requests, and
/// returns the diagnosis once the access log has them.
fn access_log_scenario(
    lab: &Lab,
    site: &str,
    front: u16,
    back: u16,
    n: usize,
) -> (lab::Nginx, i32, Value) {
    let nginx = lab.nginx(&format!(
        "{UPSTREAM_LOG_FORMAT}{}",
        lab::proxy_server(
            front,
            site,
            &format!("http://127.0.0.1:{back}"),
            &format!(
                "access_log {} upstreamlog;",
                lab.path("nginx/logs/site.access.log").display()
            )
        )
    ));
    for _ in 0..n {
        assert_eq!(lab.get(front, site, "/api/orders?token=secret").0, 502);
    }
    let log = lab.path("nginx/logs/site.access.log");
    // nginx writes the access line after the response: wait for all of them.
    let deadline = std::time::Instant::now() + lab::WAIT;
    while std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .count()
        < n
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{} has fewer than {n} lines",
            log.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (code, r) = lab::diagnose_json(&[
        "--site",
        site,
        "--port",
        &front.to_string(),
        "--path",
        "/api/orders",
        "--nginx-conf",
        nginx.conf_path.to_str().unwrap(),
    ]);
    (nginx, code, r)
}

/// The app answers 502 itself: nginx's error log stays silent, the access log's
/// `$upstream_header_time` shows a response came from the app. upstream-502 leads, and the
/// access log is named as evidence, file:line, with the request id and no query string.
#[test]
fn an_app_answering_502_is_found_in_the_access_log() {
    let lab = Lab::new("al502");
    let (front, back) = (free_port(), free_port());
    let site = format!("al-{front}.example.test");
    let _app = lab.app("al502", &[&format!("127.0.0.1:{back}")], "status=502");
    let (nginx, code, r) = access_log_scenario(&lab, &site, front, back, 3);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(top(&r), "upstream-502", "{r:#}");
    let origin = check(&r, "access-log-origin");
    assert_eq!(origin["status"], "fail", "{origin:#}");
    let ev = r["findings"][0]["evidence"].to_string();
    let log = lab.path("nginx/logs/site.access.log");
    assert!(
        ev.contains(&format!("{}:1", log.display())),
        "the access log's first line is evidence: {ev}"
    );
    assert!(ev.contains("upstream_status=502"), "{ev}");
    assert!(ev.contains("request_id="), "{ev}");
    assert!(!ev.contains("secret"), "query strings are never kept: {ev}");
    assert!(
        !nginx.error_log_text().contains("[error]"),
        "nginx's error log is silent for the app's own 502"
    );
}

/// The app is down: every 502 is nginx's own (`uht=-`), so access-log-origin passes and
/// says so, and upstream-down leads.
#[test]
fn nginx_made_502s_are_not_blamed_on_the_app() {
    let lab = Lab::new("alnginx");
    let (front, back) = (free_port(), free_port());
    let site = format!("aln-{front}.example.test");
    let (_nginx, code, r) = access_log_scenario(&lab, &site, front, back, 2);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(top(&r), "upstream-down", "{r:#}");
    let origin = check(&r, "access-log-origin");
    assert_eq!(origin["status"], "pass", "{origin:#}");
    let detail = origin["detail"].as_str().unwrap();
    assert!(detail.contains("2 502 and 0 504 made by nginx"), "{detail}");
}
