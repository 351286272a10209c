//! The incident timeline on a real nginx: the app is killed, clients get 502s, and the
//! report puts the failures in time order after what changed (issue 14, part 3).

mod lab;

use lab::{free_port, Lab};

#[test]
fn killed_app_gives_a_timeline_with_the_502s_per_minute_and_the_first_failure() {
    let lab = Lab::new("timeline");
    let (front, back) = (free_port(), free_port());
    let site = format!("tl-{front}.example.test");
    let app = lab.app("tl", &[&format!("127.0.0.1:{back}")], "ok");
    let nginx = lab.nginx(&lab::proxy_server(
        front,
        &site,
        &format!("http://127.0.0.1:{back}"),
        "",
    ));
    assert_eq!(lab.get(front, &site, "/").0, 200);
    app.kill();
    for _ in 0..3 {
        assert_eq!(lab.get(front, &site, "/").0, 502);
    }
    nginx.wait_log("connect() failed (111: Connection refused)");
    nginx.wait_access_log("\" 502 ");
    // Someone reloads nginx during the incident: its [notice] lines say so.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(nginx.pid as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    nginx.wait_log("reconfiguring");
    let args = [
        "--site",
        site.as_str(),
        "--port",
        &front.to_string(),
        "--nginx-conf",
        nginx.conf_path.to_str().unwrap(),
    ];
    let (code, report) = lab::diagnose_json(&args);
    assert_eq!(code, 1, "{report:#}");
    let tl = report["timeline"].as_array().expect("timeline[]");
    let kinds: Vec<&str> = tl.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    // 502s of the access log, per minute, with their count.
    let per_minute: u64 = tl
        .iter()
        .filter(|e| e["kind"] == "http-5xx" && e["count"].is_u64())
        .map(|e| e["count"].as_u64().unwrap())
        .sum();
    assert_eq!(per_minute, 3, "{tl:#?}");
    assert!(kinds.contains(&"error-log"), "{kinds:?}");
    assert!(kinds.contains(&"nginx-start"), "{kinds:?}");
    // The reload, read from the error log's notice, with its line.
    assert!(
        tl.iter().any(|e| e["kind"] == "nginx-reload"
            && e["text"].as_str().unwrap().contains("SIGHUP")
            && e["source"].as_str().unwrap().contains("error.log:")),
        "{tl:#?}"
    );
    // The error log per minute and category adds up to the category's total.
    let total = |kind: &str| -> u64 {
        tl.iter()
            .filter(|e| e["kind"] == kind)
            .filter_map(|e| e["count"].as_u64())
            .sum()
    };
    assert_eq!(total("error-log-minute"), total("error-log"), "{tl:#?}");
    assert!(total("error-log") >= 3, "{tl:#?}");
    // Time order.
    let times: Vec<&str> = tl.iter().map(|e| e["time"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted);
    // nginx started before the failures: its event points at the first one.
    let start = tl.iter().find(|e| e["kind"] == "nginx-start").unwrap();
    let after = start["first_failure_after"]["seconds"].as_i64().unwrap();
    assert!((0..60).contains(&after), "{start:#}");
    // The human report says when the failures started, with a sparkline.
    let (_, text) = lab::diagnose_human(&args);
    assert!(text.contains("Timeline  502/504 per minute"), "{text}");
    assert!(text.contains("started at "), "{text}");
}

/// nginx writes its logs in its own zone (here the tests' UTC; the error log carries no
/// zone, the access log `+0000`), while badgw runs under TZ=America/New_York: the times
/// badgw reads with its own clock (nginx's start from /proc) land in nginx's zone, right
/// before the failures, not five hours away.
#[test]
fn a_badgw_in_another_time_zone_puts_its_own_readings_in_nginx_s_zone() {
    let lab = Lab::new("timeline-tz");
    let o = lab.killed_app("tz.example.test");
    o.nginx.wait_access_log("\" 502 ");
    let mut cmd = lab::badgw();
    cmd.args(["diagnose", "--json", "--site", &o.site, "--port"])
        .arg(o.front.to_string())
        .arg("--nginx-conf")
        .arg(&o.nginx.conf_path)
        .env("TZ", "America/New_York")
        .env("NO_COLOR", "1");
    let out = lab::run_with_timeout(cmd, std::time::Duration::from_secs(20));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let tl = report["timeline"].as_array().expect("timeline[]");
    let time = |kind: &str| {
        let t = tl
            .iter()
            .rfind(|e| e["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} event: {tl:#?}"))["time"]
            .as_str()
            .unwrap()
            .to_string();
        chrono::NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M:%S").unwrap()
    };
    // The first 502 of the access log (nginx's zone, `+0000`) and nginx's start (read from
    // /proc against badgw's clock, converted).
    let gap = time("http-5xx") - time("nginx-start");
    assert!(
        gap >= chrono::Duration::zero() && gap < chrono::Duration::minutes(2),
        "nginx started {gap} before the first failure (in nginx's zone): {tl:#?}"
    );
    // The error log's window is cut on nginx's clock too: its refused connects are there.
    let gap = time("error-log") - time("nginx-start");
    assert!(
        gap >= chrono::Duration::zero() && gap < chrono::Duration::minutes(2),
        "the error log's first failure is {gap} after nginx's start: {tl:#?}"
    );
    let start = tl.iter().find(|e| e["kind"] == "nginx-start").unwrap();
    assert!(
        start["first_failure_after"]["seconds"]
            .as_i64()
            .is_some_and(|s| (0..120).contains(&s)),
        "{start:#}"
    );
}
