//! `badgw explain-log` on load-balancer logs: AWS ALB / Classic ELB access logs and GCP
//! load-balancer request logs (fixtures/lb/, written from the documented formats — see its
//! README), recognised from their first lines and summarised by cause.

use std::io::Write;
use std::process::Command;

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_badgw"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn fixture(name: &str) -> String {
    format!("{}/fixtures/lb/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn counts(doc: &serde_json::Value) -> Vec<(String, u64, u64)> {
    doc["summary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["category"].as_str().unwrap().to_string(),
                s["count"].as_u64().unwrap(),
                s["status"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn alb_access_log_is_summarised_by_cause() {
    let (code, out) = run(&["explain-log", "--json", "--events", &fixture("alb.log")]);
    assert_eq!(code, 1, "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["format"], "aws-elb");
    assert_eq!(
        (doc["lines_total"].as_u64(), doc["lines_unparsed"].as_u64()),
        (Some(9), Some(0))
    );
    let c = counts(&doc);
    assert_eq!(c[0], ("lb-target-reset".to_string(), 3, 502), "{c:?}");
    for want in [
        ("lb-target-timeout", 1, 504),
        ("lb-no-targets", 1, 503),
        ("lb-target-5xx", 1, 502),
        ("lb-client-closed", 1, 460),
    ] {
        assert!(
            c.iter()
                .any(|(id, n, s)| id == want.0 && *n == want.1 && *s == want.2),
            "{want:?} in {c:?}"
        );
    }
    assert_eq!(
        doc["lines_failures"], 6,
        "a client closing is not a failure"
    );
    let top = &doc["summary"][0]["upstreams"][0];
    assert_eq!(
        (top["address"].as_str(), top["count"].as_u64()),
        (Some("10.0.1.12:80"), Some(2))
    );
    // Events: line numbers, and never a query string.
    let ev = doc["events"].as_array().unwrap();
    assert_eq!(ev[0]["line"], 2);
    assert!(!out.contains("session=abc"), "query strings are secrets");

    let (code, human) = run(&["explain-log", &fixture("alb.log")]);
    assert_eq!(code, 1);
    assert!(
        human.contains("lb-target-reset ×3 (502)") && human.contains("keepalive_timeout"),
        "{human}"
    );
}

#[test]
fn classic_elb_and_gzip_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("elb.log.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(&std::fs::read(fixture("elb-classic.log")).unwrap())
        .unwrap();
    enc.finish().unwrap();
    let (code, out) = run(&["explain-log", "--json", gz.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let c = counts(&doc);
    assert!(
        c.contains(&("lb-target-reset".into(), 1, 502))
            && c.contains(&("lb-target-timeout".into(), 1, 504)),
        "{c:?}"
    );
}

#[test]
fn gcp_log_is_summarised_by_status_details() {
    let (code, out) = run(&["explain-log", "--json", &fixture("gcp.json")]);
    assert_eq!(code, 1, "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["format"], "gcp-lb");
    assert_eq!(doc["lines_total"], 6);
    let c = counts(&doc);
    assert_eq!(c[0], ("lb-target-reset".to_string(), 2, 502), "{c:?}");
    for want in [
        ("lb-target-timeout", 1, 504),
        ("lb-target-connect-failed", 1, 502),
        ("lb-no-targets", 1, 503),
    ] {
        assert!(
            c.iter()
                .any(|(id, n, s)| id == want.0 && *n == want.1 && *s == want.2),
            "{want:?} in {c:?}"
        );
    }
    // The same entries one per line (JSON lines) and --since relative to the log's end.
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(fixture("gcp.json")).unwrap()).unwrap();
    let jl = dir.path().join("gcp.jsonl");
    std::fs::write(
        &jl,
        lines
            .iter()
            .map(|v| v.to_string() + "\n")
            .collect::<String>(),
    )
    .unwrap();
    let (code, out) = run(&[
        "explain-log",
        "--json",
        "--since",
        "5m",
        jl.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let c = counts(&doc);
    assert!(
        !c.iter().any(|(id, _, _)| id == "lb-target-reset"),
        "the resets are older than 5 minutes: {c:?}"
    );
}

#[test]
fn a_healthy_balancer_log_exits_0_and_nginx_logs_are_not_taken_for_one() {
    let dir = tempfile::tempdir().unwrap();
    let ok = dir.path().join("ok.log");
    let first = std::fs::read_to_string(fixture("alb.log"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    std::fs::write(&ok, format!("{first}\n")).unwrap();
    let (code, out) = run(&["explain-log", ok.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no balancer-side failure"), "{out}");
    let nginx = dir.path().join("error.log");
    std::fs::write(&nginx, "2026/11/30 10:00:00 [error] 12#12: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: a, request: \"GET / HTTP/1.1\", upstream: \"http://127.0.0.1:3000/\", host: \"a\"\n").unwrap();
    let (code, out) = run(&["explain-log", "--json", nginx.to_str().unwrap()]);
    assert_eq!(code, 1);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        doc.get("format").is_none() && doc["summary"][0]["category"] == "upstream-refused",
        "{doc:#}"
    );
}
