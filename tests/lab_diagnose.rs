//! `badgw diagnose` against real nginx and real upstream processes on loopback: one
//! scenario per cause of the foundation, each asserting the top cause, the exit code and
//! that the evidence names the right configuration file:line.
//!
//! Set `BADGW_RECORD=1` to also write each scenario's facts (`badgw collect`) into
//! `fixtures/snapshots/<scenario>.json`: that is how the shipped snapshots are recorded.

mod lab;

use lab::{free_port, Lab, Nginx};
use serde_json::Value;

/// The 1-based line of the first line of nginx.conf containing `needle`.
fn conf_line(nginx: &Nginx, needle: &str) -> usize {
    let text = std::fs::read_to_string(&nginx.conf_path).unwrap();
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle in conf")
        + 1
}

fn conf_arg(nginx: &Nginx) -> String {
    nginx.conf_path.to_str().unwrap().to_string()
}

fn evidence(report: &Value, i: usize) -> Vec<String> {
    report["findings"][i]["evidence"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings[{i}] in {report:#}"))
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect()
}

fn top_cause(report: &Value) -> &str {
    report["findings"][0]["cause"]
        .as_str()
        .unwrap_or_else(|| panic!("no finding in {report:#}"))
}

/// Writes the scenario's facts to fixtures/snapshots when BADGW_RECORD is set.
fn record(scenario: &str, args: &[&str]) {
    if std::env::var_os("BADGW_RECORD").is_none() {
        return;
    }
    let mut cmd = lab::badgw();
    cmd.arg("collect").args(args);
    let out = lab::run_with_timeout(cmd, std::time::Duration::from_secs(20));
    assert!(
        out.status.success(),
        "collect failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = format!(
        "{}/fixtures/snapshots/{scenario}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::write(path, out.stdout).unwrap();
}

#[test]
fn healthy_site_has_no_finding_and_exits_0() {
    let lab = Lab::new("healthy");
    let (front, back) = (free_port(), free_port());
    let _app = lab.app("healthy", &[&format!("127.0.0.1:{back}")], "ok");
    let nginx = lab.nginx(&lab::proxy_server(
        front,
        "healthy.example.test",
        &format!("http://127.0.0.1:{back}"),
        "",
    ));
    assert_eq!(lab.get(front, "healthy.example.test", "/").0, 200);
    let args = [
        "--site",
        "healthy.example.test",
        "--port",
        &front.to_string(),
        "--nginx-conf",
        &conf_arg(&nginx),
    ];
    let (code, report) = lab::diagnose_json(&args);
    // The same scenario as a human reads it fits one screen.
    lab::diagnose_human(&args);
    // Info findings (news from the host, like an old OOM kill of another process) may
    // appear; nothing of severity warning or critical may.
    let problems: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] != "info")
        .collect();
    assert!(problems.is_empty(), "{report:#}");
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        report["route"]["server"]["line"],
        conf_line(&nginx, "server {")
    );
    assert_eq!(
        report["route"]["upstreams"][0]["address"],
        format!("127.0.0.1:{back}")
    );
    assert_eq!(report["upstream_states"][0]["ok"], true, "{report:#}");
    record("healthy", &args);
}

/// The acceptance scenario: the app was just killed, and badgw is run with no flag but
/// --site: it must find this lab's nginx among the other labs' masters by itself.
#[test]
fn killed_app_is_upstream_down_found_without_flags() {
    let lab = Lab::new("down");
    let outage = lab.killed_app("example.test");
    let (back, site) = (outage.back, outage.site.clone());
    let nginx = outage.nginx;

    let (code, report) = lab::diagnose_json(&["--site", &site]);
    assert_eq!(top_cause(&report), "upstream-down", "{report:#}");
    assert_eq!(code, 1);
    assert_eq!(
        report["nginx"]["master_pid"], nginx.pid,
        "picked another lab's nginx: {report:#}"
    );
    let at = format!("{}:{}", conf_arg(&nginx), conf_line(&nginx, "proxy_pass"));
    let ev = evidence(&report, 0);
    assert!(ev.iter().any(|e| e.starts_with(&at)), "no {at} in {ev:#?}");
    assert!(
        ev.iter().any(|e| e.contains("111: Connection refused")),
        "{ev:#?}"
    );
    let fixes: Vec<&str> = report["findings"][0]["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["command"].as_str().unwrap())
        .collect();
    assert!(
        fixes
            .iter()
            .any(|f| f.contains(&format!("sport = :{back}"))),
        "{fixes:#?}"
    );
    // Commands for this host: journalctl where systemd is init, else ps and dmesg.
    if std::path::Path::new("/run/systemd/system").is_dir() {
        assert!(fixes.iter().any(|f| f.contains("journalctl")), "{fixes:#?}");
    } else {
        assert!(
            !fixes
                .iter()
                .any(|f| f.contains("systemctl") || f.contains("journalctl")),
            "{fixes:#?}"
        );
        assert!(fixes.iter().any(|f| f.starts_with("ps -eo")), "{fixes:#?}");
    }
    record("upstream-down", &["--site", &site]);
}

#[test]
fn app_on_the_next_port_is_port_mismatch() {
    let lab = Lab::new("portmismatch");
    let (front, back) = (free_port(), free_port());
    let real = back + 1;
    let site = format!("portmismatch{front}.example.test");
    // The app is named after the site, as real apps often are (its directory, its unit).
    let _app = lab.app(
        &format!("portmismatch{front}"),
        &[&format!("127.0.0.1:{real}")],
        "ok",
    );
    let nginx = lab.nginx(&lab::proxy_server(
        front,
        &site,
        &format!("http://127.0.0.1:{back}"),
        "",
    ));
    assert_eq!(lab.get(front, &site, "/").0, 502);
    let args = [
        "--site",
        site.as_str(),
        "--port",
        &front.to_string(),
        "--nginx-conf",
        &conf_arg(&nginx),
    ];
    let (code, report) = lab::diagnose_json(&args);
    // The same scenario as a human reads it fits one screen.
    lab::diagnose_human(&args);
    assert_eq!(top_cause(&report), "port-mismatch", "{report:#}");
    assert_eq!(code, 1);
    let ev = evidence(&report, 0).join("\n");
    assert!(ev.contains(&format!("listens on 127.0.0.1:{real}")), "{ev}");
    assert!(
        ev.contains(&format!(
            "{}:{}",
            conf_arg(&nginx),
            conf_line(&nginx, "proxy_pass")
        )),
        "{ev}"
    );
    let fix = report["findings"][0]["fixes"][0]["command"]
        .as_str()
        .unwrap();
    assert!(fix.contains(&format!("#127.0.0.1:{real}#")), "{fix}");
    // The symptom is kept, below its root.
    let causes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["cause"].as_str().unwrap())
        .collect();
    assert!(causes.contains(&"upstream-down"), "{causes:?}");
    record("port-mismatch", &args);
}

#[test]
fn app_on_ipv6_loopback_only_is_address_family_mismatch() {
    assert!(
        lab::has_ipv6_loopback(),
        "this host has no IPv6 loopback (::1): the scenario cannot run"
    );
    let lab = Lab::new("af");
    let (front, back) = (free_port(), free_port());
    let _app = lab.app("af-app", &[&format!("[::1]:{back}")], "ok");
    let nginx = lab.nginx(&lab::proxy_server(
        front,
        "af.example.test",
        &format!("http://127.0.0.1:{back}"),
        "",
    ));
    assert_eq!(lab.get(front, "af.example.test", "/").0, 502);
    let args = [
        "--site",
        "af.example.test",
        "--port",
        &front.to_string(),
        "--nginx-conf",
        &conf_arg(&nginx),
    ];
    let (code, report) = lab::diagnose_json(&args);
    // The same scenario as a human reads it fits one screen.
    lab::diagnose_human(&args);
    assert_eq!(top_cause(&report), "address-family-mismatch", "{report:#}");
    assert_eq!(code, 1);
    let ev = evidence(&report, 0).join("\n");
    assert!(
        ev.contains(&format!("listens on [::1]:{back} only")),
        "{ev}"
    );
    assert!(
        ev.contains(&format!(
            "{}:{}",
            conf_arg(&nginx),
            conf_line(&nginx, "proxy_pass")
        )),
        "{ev}"
    );
    record("address-family-mismatch", &args);
}

#[test]
fn missing_unix_socket_is_socket_missing() {
    let lab = Lab::new("sock");
    let front = free_port();
    let sock = lab.sock("gone");
    let nginx = lab.nginx(&lab::proxy_server(
        front,
        "sock.example.test",
        &format!("http://{sock}"),
        "",
    ));
    assert_eq!(lab.get(front, "sock.example.test", "/").0, 502);
    let args = [
        "--site",
        "sock.example.test",
        "--port",
        &front.to_string(),
        "--nginx-conf",
        &conf_arg(&nginx),
    ];
    let (code, report) = lab::diagnose_json(&args);
    // The same scenario as a human reads it fits one screen.
    lab::diagnose_human(&args);
    assert_eq!(top_cause(&report), "socket-missing", "{report:#}");
    assert_eq!(code, 1);
    let ev = evidence(&report, 0).join("\n");
    assert!(ev.contains("No such file or directory"), "{ev}");
    assert!(
        ev.contains(&format!(
            "{}:{}",
            conf_arg(&nginx),
            conf_line(&nginx, "proxy_pass")
        )),
        "{ev}"
    );
    record("socket-missing", &args);
}

#[test]
fn a_config_error_and_an_unreadable_log_do_not_stop_the_diagnosis() {
    let lab = Lab::new("badinput");
    let (front, back) = (free_port(), free_port());
    let _app = lab.app("badinput", &[&format!("127.0.0.1:{back}")], "ok");
    let nginx = lab.nginx(&lab::proxy_server(
        front,
        "bad.example.test",
        &format!("http://127.0.0.1:{back}"),
        "",
    ));
    // Break a copy of the running config: an included file with a syntax error.
    let broken = lab.path("broken.conf");
    let mut text = std::fs::read_to_string(&nginx.conf_path).unwrap();
    let inc = lab.path("extra.conf");
    std::fs::write(
        &inc,
        "server {\n    listen 127.0.0.1:1;\n    location / { return 200 \"x\"\n}\n",
    )
    .unwrap();
    text = text.replacen(
        "http {",
        &format!("http {{\n    include {};", inc.display()),
        1,
    );
    // The error log the configuration names is missing (a log named on the command line
    // that cannot be read is a usage error instead: tests/hostile_inputs.rs).
    text = text.replace(
        &nginx.error_log.display().to_string(),
        "/nonexistent/error.log",
    );
    std::fs::write(&broken, text).unwrap();
    let (code, report) = lab::diagnose_json(&[
        "--site",
        "bad.example.test",
        "--port",
        &front.to_string(),
        "--nginx-conf",
        broken.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{report:#}");
    let issues = report["nginx"]["issues"].as_array().unwrap();
    assert!(
        issues
            .iter()
            .any(|i| i["file"] == inc.to_str().unwrap() && i["line"].as_u64().unwrap() > 0),
        "the syntax error names its file and line: {issues:#?}"
    );
    let notes = report["notes"].to_string();
    assert!(notes.contains("/nonexistent/error.log"), "{notes}");
    let ran: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "pass")
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(
        ran.contains(&"port-bound"),
        "other checks still run: {ran:?}"
    );
}

#[test]
fn human_output_shows_the_route_the_cause_and_the_fix() {
    let lab = Lab::new("human");
    let (front, back) = (free_port(), free_port());
    let nginx = lab.nginx(&lab::proxy_server(
        front,
        "human.example.test",
        &format!("http://127.0.0.1:{back}"),
        "",
    ));
    let (code, text) = lab::diagnose_human(&[
        "--site",
        "human.example.test",
        "--port",
        &front.to_string(),
        "--nginx-conf",
        &conf_arg(&nginx),
    ]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("1. Most likely cause: upstream-down"),
        "{text}"
    );
    assert!(
        text.contains(&format!("proxy_pass http://127.0.0.1:{back}")),
        "{text}"
    );
    assert!(text.contains("fix:"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "no escape codes when stdout is not a terminal"
    );
    assert!(!text.contains("┌"), "no checks table by default:\n{text}");
    // -v: the full table.
    let mut cmd = lab::badgw();
    cmd.args([
        "diagnose",
        "-v",
        "--site",
        "human.example.test",
        "--port",
        &front.to_string(),
        "--nginx-conf",
        &conf_arg(&nginx),
    ]);
    let out = lab::run_with_timeout(cmd, std::time::Duration::from_secs(20));
    let verbose = String::from_utf8_lossy(&out.stdout);
    assert!(
        verbose.contains("Checks") && verbose.contains("port-bound"),
        "{verbose}"
    );
}

/// Several nginx masters on one host: with no flag but --site, badgw picks the instance
/// whose configuration names the site, and says when more than one does.
#[test]
fn discovery_picks_the_master_that_serves_the_site_and_reports_ambiguity() {
    let (a, b) = (Lab::new("multi-a"), Lab::new("multi-b"));
    let (pa, pb, dead) = (free_port(), free_port(), free_port());
    let site_a = format!("alpha-{pa}.example.test");
    let site_b = format!("beta-{pb}.example.test");
    let shared = format!("shared-{pa}.example.test");
    let na = a.nginx(&format!(
        "{}{}",
        lab::proxy_server(pa, &site_a, &format!("http://127.0.0.1:{dead}"), ""),
        lab::proxy_server(pa, &shared, &format!("http://127.0.0.1:{dead}"), "")
    ));
    let nb = b.nginx(&format!(
        "{}{}",
        lab::proxy_server(pb, &site_b, &format!("http://127.0.0.1:{dead}"), ""),
        lab::proxy_server(pb, &shared, &format!("http://127.0.0.1:{dead}"), "")
    ));
    let (_, ra) = lab::diagnose_json(&["--site", &site_a]);
    assert_eq!(ra["nginx"]["master_pid"], na.pid, "{ra:#}");
    let (_, rb) = lab::diagnose_json(&["--site", &site_b]);
    assert_eq!(rb["nginx"]["master_pid"], nb.pid, "{rb:#}");
    let (_, rs) = lab::diagnose_json(&["--site", &shared]);
    let notes = rs["notes"].to_string();
    assert!(
        notes.contains("running nginx instances serve"),
        "ambiguity must be said: {notes}"
    );
}

/// A healthy PHP-FPM pool behind `fastcgi_pass`: the probe speaks FastCGI, the pool answers
/// FCGI_GET_VALUES_RESULT, and the upstream's state is OK (it was shown as failing because
/// the state was read from the probe's note, which only an HTTP probe leaves empty).
#[test]
fn healthy_php_fpm_pool_is_ok() {
    let lab = Lab::new("fpm-ok");
    let fpm = lab::fpm::start(
        &lab,
        &[("index.php", "<?php echo 'ok';\n")],
        "pm = static\npm.max_children = 2",
    );
    let port = free_port();
    let nginx = lab.nginx(&format!(
        "server {{
            listen 127.0.0.1:{port};
            server_name php.example.test;
            root {www};
            index index.php;
            {loc}
        }}",
        www = fpm.www.display(),
        loc = fpm.location("")
    ));
    assert_eq!(lab.get(port, "php.example.test", "/index.php").0, 200);
    let conf = conf_arg(&nginx);
    let args = [
        "--site",
        "php.example.test",
        "--path",
        "/index.php",
        "--nginx-conf",
        &conf,
    ];
    let (code, report) = lab::diagnose_json(&args);
    assert_eq!(report["upstream_states"][0]["ok"], true, "{report:#}");
    assert_eq!(code, 0, "{report:#}");
    let (_, human) = lab::diagnose_human(&args);
    assert!(!human.contains("[FAIL]"), "{human}");
}
