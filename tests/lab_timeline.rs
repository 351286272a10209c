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
