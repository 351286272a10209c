//! Load-balancer access logs for `explain-log`: AWS Application/Classic Load Balancer
//! access logs (space-separated, quoted fields) and GCP load-balancer request logs
//! (`gcloud logging read --format=json` arrays or one JSON entry per line, with
//! `httpRequest` and `jsonPayload.statusDetails`). Recognised from the first lines of the
//! first file; each record that shows a balancer-side failure becomes an event of one
//! category (documented in docs/json.md next to nginx's).
//!
//! AWS: `elb_status_code` vs `target_status_code` — 502 with target status `-` is the
//! target closing or resetting the connection, 504 a target timeout, 503 no target, 460
//! the client closing first; a 5xx target status is the target's own answer passed on.
//! GCP: `statusDetails` (`backend_connection_closed_before_data_sent_to_client`,
//! `backend_timeout`, `failed_to_connect_to_backend`, `failed_to_pick_backend`, …).

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::Value;

use super::explain::LogFix;
use super::line::LogTime;

/// Which balancer wrote the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LbFormat {
    /// AWS ALB (`http 2026-… app/…`) or Classic ELB (`2026-… my-elb …`).
    Aws,
    /// GCP load-balancer request log entries (JSON).
    Gcp,
}

impl LbFormat {
    pub fn id(self) -> &'static str {
        match self {
            LbFormat::Aws => "aws-elb",
            LbFormat::Gcp => "gcp-lb",
        }
    }

    /// What the log is, in words.
    pub fn description(self) -> &'static str {
        match self {
            LbFormat::Aws => "AWS load balancer access log",
            LbFormat::Gcp => "GCP load balancer log",
        }
    }
}

/// Balancer-side failure categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LbCategory {
    TargetReset,
    TargetConnectFailed,
    TargetTimeout,
    NoTargets,
    Target5xx,
    ClientClosed,
    OtherError,
}

pub const CATEGORIES: &[LbCategory] = &[
    LbCategory::TargetReset,
    LbCategory::TargetConnectFailed,
    LbCategory::TargetTimeout,
    LbCategory::NoTargets,
    LbCategory::Target5xx,
    LbCategory::ClientClosed,
    LbCategory::OtherError,
];

impl LbCategory {
    pub fn id(self) -> &'static str {
        match self {
            LbCategory::TargetReset => "lb-target-reset",
            LbCategory::TargetConnectFailed => "lb-target-connect-failed",
            LbCategory::TargetTimeout => "lb-target-timeout",
            LbCategory::NoTargets => "lb-no-targets",
            LbCategory::Target5xx => "lb-target-5xx",
            LbCategory::ClientClosed => "lb-client-closed",
            LbCategory::OtherError => "lb-other-error",
        }
    }

    /// The status the balancer answered with, as usually logged.
    pub fn status(self) -> u16 {
        match self {
            LbCategory::TargetReset | LbCategory::TargetConnectFailed => 502,
            LbCategory::TargetTimeout => 504,
            LbCategory::NoTargets => 503,
            LbCategory::Target5xx | LbCategory::OtherError => 500,
            LbCategory::ClientClosed => 460,
        }
    }

    /// A client closing its connection is not a failure of the balancer or of nginx.
    pub fn is_failure(self) -> bool {
        self != LbCategory::ClientClosed
    }

    pub fn explanation(self) -> &'static str {
        match self {
            LbCategory::TargetReset => "the target (nginx) closed or reset the connection before sending a response, and the balancer answered 502 itself. Intermittent ones on otherwise healthy targets are the keep-alive race: nginx's keepalive_timeout is shorter than the balancer's idle timeout (ALB 60 s by default, GCP 600 s), so nginx closes connections the balancer is about to reuse.",
            LbCategory::TargetConnectFailed => "the balancer could not open a connection to the target: nginx is not running or not listening on the target port, or a firewall/security group drops the balancer's traffic.",
            LbCategory::TargetTimeout => "the target accepted the request but did not answer within the balancer's timeout (ALB: its idle timeout; GCP: the backend service timeout, 30 s by default): nginx or the app behind it is slow, or nginx waits longer (proxy_read_timeout) than the balancer.",
            LbCategory::NoTargets => "the balancer had no registered or healthy target to send the request to: every target fails its health check, or none is registered.",
            LbCategory::Target5xx => "the target answered a 5xx itself and the balancer passed it on: the 502/504 came from nginx (or the app behind it), so read nginx's error log.",
            LbCategory::ClientClosed => "the client closed its connection before the balancer answered (ALB 460): usually a slow response the client gave up on; not a failure by itself.",
            LbCategory::OtherError => "another error the balancer generated (ALB 500/561, a malformed target response, an authentication or Lambda error); read the sample lines.",
        }
    }

    pub fn fixes(self) -> &'static [LogFix] {
        use LogFix::*;
        match self {
            LbCategory::TargetReset => &[
                Run("badgw diagnose --site <host> --lb-idle-timeout 60s   # the balancer's idle timeout (GCP: 600s)"),
                Advice("set keepalive_timeout above the balancer's idle timeout (65s for ALB's 60 s, 620s for GCP) in nginx's http or server block, then nginx -t && nginx -s reload"),
            ],
            LbCategory::TargetConnectFailed => &[
                Run("ss -ltnp   # does nginx listen on the target port?"),
                Advice("check the security group / firewall rules between the balancer and the target"),
            ],
            LbCategory::TargetTimeout => &[
                Run("badgw explain-log /var/log/nginx/error.log   # upstream timed out on the nginx side?"),
                Advice("make nginx answer within the balancer's timeout, or raise the balancer's idle / backend service timeout"),
            ],
            LbCategory::NoTargets => &[
                Run("aws elbv2 describe-target-health --target-group-arn <arn>"),
                Run("gcloud compute backend-services get-health <backend-service> --global"),
            ],
            LbCategory::Target5xx => &[
                Run("badgw explain-log /var/log/nginx/error.log"),
                Run("badgw diagnose --site <host>"),
            ],
            LbCategory::ClientClosed => &[Advice("compare with slow responses (target_processing_time / latency) in the same minutes")],
            LbCategory::OtherError => &[Advice("read the sample lines: badgw explain-log <file> --events")],
        }
    }
}

/// One classified balancer record.
#[derive(Debug, Clone, PartialEq)]
pub struct LbEvent {
    pub line: u64,
    pub category: LbCategory,
    pub time: Option<LogTime>,
    pub target: Option<String>,
    pub request: Option<String>,
    pub client: Option<String>,
    /// `elb 502 / target -`, or GCP's statusDetails.
    pub detail: String,
    /// The status the balancer answered the client with (0 when not logged).
    pub status: u16,
}

/// How much of a file's start [`detect`] needs.
pub const DETECT_BYTES: usize = 64 << 10;

/// Recognises a balancer log from the first bytes of a file (None: not one).
pub fn detect(bytes: &[u8]) -> Option<LbFormat> {
    let text = String::from_utf8_lossy(bytes);
    let first = text.trim_start();
    if (first.starts_with('{') || first.starts_with('[')) && text.contains("\"httpRequest\"") {
        return Some(LbFormat::Gcp);
    }
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(5)
        .collect();
    (!lines.is_empty()
        && lines
            .iter()
            .take(lines.len().saturating_sub(1).max(1))
            .all(|l| parse_aws(l).is_some()))
    .then_some(LbFormat::Aws)
}

/// Splits an AWS log line into fields: spaces separate, double quotes group (with `\"`).
fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' if quoted => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '"' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            _ => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The fields badgw reads from an AWS line.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsRecord {
    pub time: LogTime,
    pub client: String,
    pub target: String,
    pub target_processing_time: String,
    pub elb_status: u16,
    pub target_status: String,
    pub request: String,
}

fn iso_time(s: &str) -> Option<LogTime> {
    let t = chrono::DateTime::parse_from_rfc3339(s).ok()?;
    Some(super::naive_to_logtime(t.naive_utc()))
}

/// ALB: `type time elb client:port target:port rpt tpt rspt elb_status target_status …
/// "request" …`; Classic ELB: the same without the leading type.
pub fn parse_aws(line: &str) -> Option<AwsRecord> {
    let f = fields(line.trim_end_matches('\r'));
    let off = match f.first()?.as_str() {
        "http" | "https" | "h2" | "grpcs" | "ws" | "wss" => 1,
        _ => 0,
    };
    let time = iso_time(f.get(off)?)?;
    let g = |i: usize| f.get(off + i).cloned();
    let elb_status: u16 = g(7)?.parse().ok()?;
    let request = g(11)?;
    if !request.contains(' ') {
        return None;
    }
    Some(AwsRecord {
        time,
        client: g(2)?,
        target: g(3)?,
        target_processing_time: g(5)?,
        elb_status,
        target_status: g(8)?,
        request: strip_query(&request),
    })
}

/// `GET http://h:80/a?x=1 HTTP/1.1` → `GET http://h:80/a?… HTTP/1.1`.
fn strip_query(r: &str) -> String {
    match r.find('?') {
        Some(q) => {
            let end = r[q..].find(' ').map_or(r.len(), |p| q + p);
            format!("{}?…{}", &r[..q], &r[end..])
        }
        None => r.to_string(),
    }
}

pub fn classify_aws(r: &AwsRecord) -> Option<LbCategory> {
    use LbCategory::*;
    if r.elb_status == 460 {
        return Some(ClientClosed);
    }
    match r.target_status.parse::<u16>() {
        Ok(t) if t >= 500 => Some(Target5xx),
        Ok(_) if r.elb_status >= 500 => Some(OtherError),
        Ok(_) => None,
        Err(_) => match r.elb_status {
            502 => Some(TargetReset),
            504 => Some(TargetTimeout),
            503 => Some(NoTargets),
            s if s >= 500 => Some(OtherError),
            _ => None,
        },
    }
}

/// The fields badgw reads from a GCP entry.
#[derive(Debug, Clone, PartialEq)]
pub struct GcpRecord {
    pub time: Option<LogTime>,
    pub status: Option<u16>,
    pub details: String,
    pub target: Option<String>,
    pub request: Option<String>,
    pub client: Option<String>,
}

pub fn parse_gcp(v: &Value) -> Option<GcpRecord> {
    let http = v.get("httpRequest")?;
    let s = |x: Option<&Value>| x.and_then(Value::as_str).map(str::to_string);
    let status = http
        .get("status")
        .and_then(|x| x.as_u64().or_else(|| x.as_str()?.parse().ok()))
        .map(|x| x as u16);
    let request = match (s(http.get("requestMethod")), s(http.get("requestUrl"))) {
        (Some(m), Some(u)) => Some(strip_query(&format!("{m} {u}"))),
        (None, Some(u)) => Some(strip_query(&u)),
        _ => None,
    };
    let labels = v.get("resource").and_then(|r| r.get("labels"));
    Some(GcpRecord {
        time: s(v.get("timestamp")).and_then(|t| iso_time(&t)),
        status,
        details: s(v.get("jsonPayload").and_then(|j| j.get("statusDetails"))).unwrap_or_default(),
        target: s(http.get("serverIp"))
            .or_else(|| s(labels.and_then(|l| l.get("backend_service_name")))),
        request,
        client: s(http.get("remoteIp")),
    })
}

pub fn classify_gcp(r: &GcpRecord) -> Option<LbCategory> {
    use LbCategory::*;
    let d = r.details.as_str();
    let by_detail = match d {
        "backend_connection_closed_before_data_sent_to_client"
        | "backend_connection_closed_after_partial_response_sent" => Some(TargetReset),
        "backend_timeout" => Some(TargetTimeout),
        "failed_to_connect_to_backend" => Some(TargetConnectFailed),
        "failed_to_pick_backend" | "no_healthy_backends" => Some(NoTargets),
        "client_disconnected_before_any_response"
        | "client_disconnected_after_partial_response"
        | "client_timed_out" => Some(ClientClosed),
        _ => None,
    };
    if by_detail.is_some() {
        return by_detail;
    }
    match r.status {
        Some(s) if s >= 500 && d == "response_sent_by_backend" => Some(Target5xx),
        Some(s) if s >= 500 => Some(OtherError),
        _ => None,
    }
}

/// What one file contributed.
#[derive(Debug, Default)]
pub struct LbReport {
    pub files: Vec<String>,
    pub lines_total: u64,
    pub lines_unparsed: u64,
    pub first: Option<LogTime>,
    pub last: Option<LogTime>,
    pub events: Vec<(String, LbEvent)>,
}

/// Reads every file as `format`; `open` opens one for reading line by line (the reader
/// is gather's: `gather::log_input::open_lines`).
pub fn analyze(
    files: &[PathBuf],
    format: LbFormat,
    open: impl Fn(&Path) -> anyhow::Result<Box<dyn BufRead>>,
) -> anyhow::Result<LbReport> {
    let mut rep = LbReport::default();
    for path in files {
        let name = path.display().to_string();
        rep.files.push(name.clone());
        let add = |rep: &mut LbReport, line: u64, t: Option<LogTime>, ev: Option<LbEvent>| {
            if let Some(t) = t {
                rep.first = Some(rep.first.map_or(t, |f| f.min(t)));
                rep.last = Some(rep.last.map_or(t, |l| l.max(t)));
            }
            if let Some(e) = ev {
                rep.events.push((name.clone(), LbEvent { line, ..e }));
            }
        };
        let mut r = open(path)?;
        match format {
            LbFormat::Aws => {
                let mut buf = String::new();
                let mut n = 0u64;
                loop {
                    buf.clear();
                    let mut raw = Vec::new();
                    if r.read_until(b'\n', &mut raw)
                        .with_context(|| format!("reading {name}"))?
                        == 0
                    {
                        break;
                    }
                    n += 1;
                    buf.push_str(&String::from_utf8_lossy(&raw));
                    let line = buf.trim_end_matches(['\n', '\r']);
                    if line.trim().is_empty() {
                        continue;
                    }
                    rep.lines_total += 1;
                    let Some(rec) = parse_aws(line) else {
                        rep.lines_unparsed += 1;
                        continue;
                    };
                    let ev = classify_aws(&rec).map(|c| LbEvent {
                        line: n,
                        category: c,
                        time: Some(rec.time),
                        target: (rec.target != "-").then(|| rec.target.clone()),
                        request: Some(rec.request.clone()),
                        client: Some(rec.client.clone()),
                        detail: format!("elb {} / target {}", rec.elb_status, rec.target_status),
                        status: rec.elb_status,
                    });
                    add(&mut rep, n, Some(rec.time), ev);
                }
            }
            LbFormat::Gcp => {
                let mut text = String::new();
                r.read_to_string(&mut text)
                    .with_context(|| format!("reading {name}"))?;
                let trimmed = text.trim_start();
                // A JSON array (gcloud --format=json) or one entry per line.
                let entries: Vec<(u64, Result<Value, String>)> = if trimmed.starts_with('[') {
                    match serde_json::from_str::<Vec<Value>>(trimmed) {
                        Ok(v) => v
                            .into_iter()
                            .enumerate()
                            .map(|(i, e)| (i as u64 + 1, Ok(e)))
                            .collect(),
                        Err(e) => vec![(e.line() as u64, Err(e.to_string()))],
                    }
                } else {
                    text.lines()
                        .enumerate()
                        .filter(|(_, l)| !l.trim().is_empty())
                        .map(|(i, l)| {
                            (
                                i as u64 + 1,
                                serde_json::from_str(l).map_err(|e| e.to_string()),
                            )
                        })
                        .collect()
                };
                for (n, e) in entries {
                    rep.lines_total += 1;
                    let Some(rec) = e.ok().as_ref().and_then(parse_gcp) else {
                        rep.lines_unparsed += 1;
                        continue;
                    };
                    let ev = classify_gcp(&rec).map(|c| LbEvent {
                        line: n,
                        category: c,
                        time: rec.time,
                        target: rec.target.clone(),
                        request: rec.request.clone(),
                        client: rec.client.clone(),
                        detail: format!(
                            "{} {}",
                            rec.status.map_or("-".into(), |s| s.to_string()),
                            rec.details
                        ),
                        status: rec.status.unwrap_or(0),
                    });
                    add(&mut rep, n, rec.time, ev);
                }
            }
        }
    }
    Ok(rep)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALB_RESET: &str = r#"http 2026-11-30T10:00:05.123456Z app/my-alb/50dc6c495c0c9188 203.0.113.7:51234 10.0.1.12:80 0.000 -1 -1 502 - 120 277 "GET http://shop.example.com:80/api/orders?id=7 HTTP/1.1" "curl/8.5.0" - - arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2d6bc24d8a067 "Root=1-6568a1b5-2a3b4c5d6e7f8a9b0c1d2e3f" "shop.example.com" "-" 0 2026-11-30T10:00:05.120000Z "forward" "-" "-" "10.0.1.12:80" "-" "-" "-" TID_1"#;

    #[test]
    fn alb_fields_and_categories() {
        let r = parse_aws(ALB_RESET).unwrap();
        assert_eq!(
            (r.elb_status, r.target_status.as_str(), r.target.as_str()),
            (502, "-", "10.0.1.12:80")
        );
        assert_eq!(
            r.request,
            "GET http://shop.example.com:80/api/orders?… HTTP/1.1"
        );
        assert_eq!(classify_aws(&r), Some(LbCategory::TargetReset));
        let classic = r#"2026-11-30T10:00:05.123456Z my-elb 203.0.113.7:51234 10.0.1.12:80 0.000041 0.000982 0.000038 504 - 0 0 "GET http://shop.example.com:80/ HTTP/1.1" "curl/8.5.0" - -"#;
        assert_eq!(
            classify_aws(&parse_aws(classic).unwrap()),
            Some(LbCategory::TargetTimeout)
        );
        assert!(parse_aws("2026/11/30 10:00:00 [error] 1#1: nope").is_none());
    }

    #[test]
    fn gcp_status_details() {
        let v: Value = serde_json::from_str(r#"{"httpRequest":{"requestMethod":"GET","requestUrl":"https://shop.example.com/a?t=1","status":502,"remoteIp":"198.51.100.4","serverIp":"10.128.0.5"},"jsonPayload":{"statusDetails":"backend_connection_closed_before_data_sent_to_client"},"timestamp":"2026-11-30T10:00:00.5Z"}"#).unwrap();
        let r = parse_gcp(&v).unwrap();
        assert_eq!(
            r.request.as_deref(),
            Some("GET https://shop.example.com/a?…")
        );
        assert_eq!(classify_gcp(&r), Some(LbCategory::TargetReset));
    }
}
