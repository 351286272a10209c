//! Check `websocket-upgrade`: WebSocket locations that do not pass the upgrade, or that
//! cut idle sockets at `proxy_read_timeout`.
//!
//! Detects: a location that receives WebSocket handshakes (a typical path such as
//! `/socket.io/`, `/ws`, `/cable`, `/graphql`; `101` answers in the access log; an app that
//! answers a direct upgrade request with `101`) where no `proxy_set_header Upgrade` applies,
//! where the `Connection` header sent upstream drops the `upgrade` token (missing, so nginx
//! sends `Connection: close`; `Connection ""` meant for upstream keep-alive; a
//! `map $http_upgrade $connection_upgrade` that does not give `upgrade`), where the
//! location's own `proxy_set_header` lines stop inheriting the server's (nginx inherits the
//! list only when a level defines none), or where nginx talks HTTP/1.0 to an app that
//! refuses the upgrade over 1.0 — the last only when the app is seen refusing it (a direct
//! HTTP/1.0 upgrade probe, or 400/426 answers with the headers in place), never from the
//! configuration alone: Node's `ws` accepts it. Also idle WebSocket connections cut at
//! `proxy_read_timeout` (101 access-log lines whose request time is the timeout; the
//! info-level `upstream timed out … while proxying upgraded connection`), and an app whose
//! heartbeat (Socket.IO `pingInterval`, `ws` heartbeat flags) is slower than that timeout.
//!
//! Why nginx returns 502: it usually does not — without the upgrade headers the app gets
//! a plain GET and answers its own `400`/`426` (nginx passes it on), or a `502` when it
//! closes the connection on a request it cannot handle; nginx logs nothing at `error`. An
//! idle socket cut at the read timeout makes clients reconnect in a loop.
//!
//! Evidence used: `facts.websocket` (each location's file:line, the `proxy_set_header`
//! lines that apply and the level they come from, the shadowed outer ones, the effective
//! `proxy_http_version` and timeouts, the `map` blocks, access-log counts and samples, the
//! info-level timeout lines, the direct upgrade probes) and the upstream's command line
//! (`facts.processes`) for heartbeat settings.
//!
//! False positives avoided: a typical path whose app answers a direct upgrade with
//! something other than 101 and whose access log shows no failed upgrade is only
//! information (it may be plain HTTP); HTTP/1.0 is never blamed from the configuration
//! alone; idle cuts need the log to show them or a visible heartbeat slower than the
//! timeout.

use super::{Check, Finding, Fix, Severity, Strength, TimeoutRow, Verdict};
use crate::cause::Cause;
use crate::facts::{Facts, SocketKind, UpgradeMap, WsHeader, WsLocation};

pub struct WebsocketUpgrade;

impl Check for WebsocketUpgrade {
    fn id(&self) -> &'static str {
        "websocket-upgrade"
    }

    fn causes(&self) -> &'static [Cause] {
        &[Cause::WebsocketUpgrade]
    }

    fn run(&self, facts: &Facts) -> Verdict {
        let ws = match facts.websocket.get() {
            Ok(w) => w,
            Err(e) => return Verdict::skipped(e),
        };
        if ws.locations.is_empty() {
            return Verdict::pass("no location of this server receives WebSocket handshakes");
        }
        let mut found = Vec::new();
        for l in &ws.locations {
            if let Some(f) = upgrade_finding(facts, l, &ws.maps) {
                found.push(f);
            }
            if let Some(f) = idle_finding(facts, l) {
                found.push(f);
            }
        }
        if found.is_empty() {
            let names: Vec<String> = ws.locations.iter().map(loc_name).collect();
            return Verdict::pass(format!(
                "{} passes the upgrade (HTTP/1.1, Upgrade, Connection: upgrade)",
                names.join(", ")
            ));
        }
        Verdict::Found(found)
    }
}

fn loc_name(l: &WsLocation) -> String {
    if l.modifier.is_empty() {
        format!("location {}", l.pattern)
    } else {
        format!("location {} {}", l.modifier, l.pattern)
    }
}

fn header<'a>(l: &'a WsLocation, name: &str) -> Option<&'a WsHeader> {
    l.headers
        .iter()
        .rev()
        .find(|h| h.name.eq_ignore_ascii_case(name))
}

/// What a `map` gives for a client's `Upgrade: websocket` (maps match case-insensitively).
fn map_value(m: &UpgradeMap) -> String {
    let input = "websocket";
    if let Some((_, v)) = m
        .entries
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(input))
    {
        return v.clone();
    }
    for (k, v) in &m.entries {
        if let Some(re) = k.strip_prefix("~*").or_else(|| k.strip_prefix('~')) {
            let ci = k.starts_with("~*");
            if let Ok(re) = crate::nginx::select::translate_regex(re, ci) {
                if re.is_match(input) {
                    return v.clone();
                }
            }
        }
    }
    m.entries
        .iter()
        .find(|(k, _)| k == "default")
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// Problems with Connection: (evidence source, text), and whether a correct map exists.
fn connection_problem(l: &WsLocation, maps: &[UpgradeMap]) -> Option<(String, String)> {
    let Some(h) = header(l, "Connection") else {
        return Some((
            l.at.to_string(),
            "no `proxy_set_header Connection` applies: nginx sends `Connection: close` upstream, which drops the upgrade".into(),
        ));
    };
    let v = h.value.as_str();
    if v.is_empty() {
        return Some((
            h.at.to_string(),
            "`proxy_set_header Connection \"\"` (upstream keep-alive) removes the `upgrade` token the handshake needs".into(),
        ));
    }
    if (!v.starts_with('$') && v.to_ascii_lowercase().contains("upgrade"))
        || v.eq_ignore_ascii_case("$http_connection")
    {
        return None;
    }
    if v.starts_with('$') {
        return match maps.iter().find(|m| m.variable == v) {
            None => Some((
                h.at.to_string(),
                format!("`proxy_set_header Connection {v}`: no `map $http_upgrade {v}` defines it"),
            )),
            Some(m) => {
                let got = map_value(m);
                (!got.to_ascii_lowercase().contains("upgrade")).then(|| {
                    (
                        m.at.to_string(),
                        format!(
                            "`map {} {}` gives {:?} for `Upgrade: websocket`, not `upgrade` (used by `proxy_set_header Connection {v}` at {})",
                            m.source, m.variable, got, h.at
                        ),
                    )
                })
            }
        };
    }
    Some((
        h.at.to_string(),
        format!("`proxy_set_header Connection {v}` drops the upgrade token"),
    ))
}

fn upgrade_finding(facts: &Facts, l: &WsLocation, maps: &[UpgradeMap]) -> Option<Finding> {
    let mut problems: Vec<(String, String)> = Vec::new();
    match header(l, "Upgrade") {
        None => problems.push((
            l.at.to_string(),
            "no `proxy_set_header Upgrade` applies: nginx does not pass the client's Upgrade header (it is hop-by-hop)".into(),
        )),
        Some(h) if !(h.value.to_ascii_lowercase().starts_with("$http_upgrade") || h.value.eq_ignore_ascii_case("websocket")) => problems.push((
            h.at.to_string(),
            format!("`proxy_set_header Upgrade {}` does not pass `$http_upgrade`", h.value),
        )),
        Some(_) => {}
    }
    if let Some(p) = connection_problem(l, maps) {
        problems.push(p);
    }
    let headers_ok = problems.is_empty();
    let access = l.access.as_ref();
    let rejected = access.map_or(0, |a| a.status_400 + a.status_426 + a.status_502);
    let p11 = l
        .probes
        .iter()
        .find(|p| p.http_version == "1.1" && p.status.is_some());
    let p10 = l
        .probes
        .iter()
        .find(|p| p.http_version == "1.0" && p.status.is_some());
    let app_speaks_ws = p11.is_some_and(|p| p.status == Some(101));
    // HTTP/1.0 only when the app is seen refusing it.
    let v10_refused = l.http_version == "1.0"
        && (matches!((p11, p10), (Some(a), Some(b)) if a.status == Some(101) && b.status != Some(101))
            || (headers_ok && access.is_some_and(|a| a.status_400 + a.status_426 > 0)));
    if v10_refused {
        problems.push((
            l.http_version_at.as_ref().map_or_else(|| l.at.to_string(), |a| a.to_string()),
            format!(
                "nginx talks HTTP/1.0 to the upstream ({}) and the app refuses the upgrade over 1.0",
                if l.http_version_at.is_some() { "proxy_http_version 1.0" } else { "proxy_http_version is not set: 1.0 by default" }
            ),
        ));
    }
    if problems.is_empty() {
        return None;
    }
    let (severity, strength) = if rejected > 0 {
        (Severity::Critical, Strength::Direct)
    } else if app_speaks_ws || access.is_some_and(|a| a.status_101 > 0) {
        (Severity::Critical, Strength::Strong)
    } else if p11.is_some() {
        // The app answered the upgrade with something else: maybe not WebSocket at all.
        (Severity::Info, Strength::Circumstantial)
    } else {
        (Severity::Warning, Strength::Circumstantial)
    };
    let what: Vec<&str> = [
        header(l, "Upgrade")
            .is_none()
            .then_some("no Upgrade header"),
        (!headers_ok && header(l, "Upgrade").is_some()
            || header(l, "Connection").is_none()
            || header(l, "Connection").is_some_and(|h| h.value.is_empty()))
        .then_some("no `Connection: upgrade`"),
        v10_refused.then_some("HTTP/1.0 to an app that refuses it"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut f = Finding::new(
        Cause::WebsocketUpgrade,
        severity,
        strength,
        format!(
            "WebSocket handshakes to {} do not reach the app as upgrades ({})",
            loc_name(l),
            if what.is_empty() {
                "the upgrade is dropped".to_string()
            } else {
                what.join(", ")
            }
        ),
    )
    .evidence(
        l.at.to_string(),
        format!(
            "{} proxies to {} ({})",
            loc_name(l),
            l.target,
            l.why.join("; ")
        ),
    );
    for (src, text) in &problems {
        f = f.evidence(src.clone(), text.clone());
    }
    let needs_header = |n: &str| {
        problems.iter().any(|(_, t)| {
            t.contains(&format!("proxy_set_header {n}"))
                || (n == "Connection" && t.contains("Connection"))
        })
    };
    for s in &l.shadowed {
        if needs_header(&s.name) {
            f = f.evidence(
                s.at.to_string(),
                format!(
                    "`proxy_set_header {} {}` here is not inherited by {}: that level defines its own proxy_set_header lines (nginx inherits them only when a level defines none)",
                    s.name, s.value, loc_name(l)
                ),
            );
        }
    }
    if let Some(a) = access {
        f = f.evidence(
            a.file.clone(),
            format!(
                "{} request(s) to {}: {} × 101, {} × 400, {} × 426, {} × 502",
                a.requests,
                loc_name(l),
                a.status_101,
                a.status_400,
                a.status_426,
                a.status_502
            ),
        );
        for (line, status, req) in a.samples.iter().take(2) {
            f = f.evidence(format!("{}:{line}", a.file), format!("{status} {req}"));
        }
    }
    for p in &l.probes {
        let answer = match (&p.status_line, &p.error) {
            (Some(s), _) => s.clone(),
            (None, Some(e)) => e.clone(),
            _ => "no answer".into(),
        };
        f = f.evidence(
            "probe",
            format!("{} to {} → {answer}", p.request, p.address),
        );
    }
    // The lines to add.
    let good_map = maps
        .iter()
        .find(|m| map_value(m).to_ascii_lowercase().contains("upgrade"));
    let conn_value = match (good_map, header(l, "Connection").map(|h| h.value.as_str())) {
        (Some(m), _) => m.variable.clone(),
        (None, _) => "\"upgrade\"".into(),
    };
    let mut lines = Vec::new();
    if l.http_version != "1.1" {
        lines.push("proxy_http_version 1.1;".to_string());
    }
    if header(l, "Upgrade").is_none()
        || problems
            .iter()
            .any(|(_, t)| t.contains("proxy_set_header Upgrade"))
    {
        lines.push("proxy_set_header Upgrade $http_upgrade;".into());
    }
    if connection_problem(l, maps).is_some() {
        lines.push(format!("proxy_set_header Connection {conn_value};"));
    }
    if l.headers_level != "location" {
        // Adding proxy_set_header to the location stops it inheriting the outer ones.
        for h in &l.headers {
            if h.name.eq_ignore_ascii_case("upgrade") || h.name.eq_ignore_ascii_case("connection") {
                continue;
            }
            if h.value == "…" {
                lines.push(format!("# repeat `proxy_set_header {} …` from {} (a location's own lines replace the inherited ones)", h.name, h.at));
            } else {
                lines.push(format!(
                    "proxy_set_header {} {};   # repeated from {}",
                    h.name,
                    quote(&h.value),
                    h.at
                ));
            }
        }
    }
    f = f.fix(Fix::review(
        format!(
            "add to {} at {}, then: {}",
            loc_name(l),
            l.at,
            crate::fixes::nginx::test_and_reload(facts)
        ),
        lines.join("\n"),
    ));
    if good_map.is_none() && connection_problem(l, maps).is_some() {
        let keepalive = header(l, "Connection").is_some_and(|h| h.value.is_empty());
        f = f.fix(Fix::review(
            if keepalive {
                "to keep upstream keep-alive for plain requests, use a map in the http block (Connection \"\" without Upgrade, \"upgrade\" with it) and `proxy_set_header Connection $connection_upgrade;`"
            } else {
                "or, nginx's documented form: a map in the http block and `proxy_set_header Connection $connection_upgrade;`"
            },
            format!(
                "map $http_upgrade $connection_upgrade {{\n    default upgrade;\n    ''      {};\n}}",
                if keepalive { "''" } else { "close" }
            ),
        ));
    }
    Some(f)
}

fn quote(v: &str) -> String {
    if v.is_empty() || v.contains(' ') {
        format!("\"{v}\"")
    } else {
        v.to_string()
    }
}

/// Heartbeat settings of the processes listening at the location's upstreams.
fn heartbeats(facts: &Facts, l: &WsLocation) -> Vec<(String, f64, String)> {
    let (Some(listeners), Some(procs)) = (facts.listeners.value(), facts.processes.value()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (addr, kind) in &l.upstreams {
        for li in listeners {
            let hit = match kind {
                SocketKind::Unix => Some(li.address.as_str()) == addr.strip_prefix("unix:"),
                _ => addr
                    .parse()
                    .is_ok_and(|a| li.kind != SocketKind::Unix && li.accepts(&a)),
            };
            let Some(p) = li
                .pid
                .filter(|_| hit)
                .and_then(|pid| procs.iter().find(|p| p.pid == pid))
            else {
                continue;
            };
            for hb in &p.args.heartbeats {
                let (setting, secs) = (hb.name.clone(), hb.seconds);
                let src = format!("pid {} command line", p.pid);
                if !out
                    .iter()
                    .any(|(s, _, so): &(String, f64, String)| *s == setting && *so == src)
                {
                    out.push((setting, secs, src));
                }
            }
        }
    }
    out
}

fn idle_finding(facts: &Facts, l: &WsLocation) -> Option<Finding> {
    let read = l.read_timeout_s;
    let cut = l.access.as_ref().map_or(0, |a| a.cut_at_read_timeout);
    let lines = l.idle_timeouts.as_ref().map_or(0, |e| e.count);
    let beats = heartbeats(facts, l);
    // A ping timeout is how long the app waits for the answer, not an idle gap.
    let interval = |name: &str| !name.to_ascii_lowercase().contains("timeout");
    let slow_beat = beats.iter().find(|(n, s, _)| interval(n) && *s >= read);
    if cut == 0 && lines == 0 && slow_beat.is_none() {
        return None;
    }
    let read_at = l
        .read_timeout_at
        .as_ref()
        .map_or("nginx default".to_string(), |a| a.to_string());
    let mut f = Finding::new(
        Cause::WebsocketUpgrade,
        Severity::Warning,
        if cut + lines > 0 { Strength::Direct } else { Strength::Strong },
        format!(
            "idle WebSocket connections of {} are cut after {} s (proxy_read_timeout): clients reconnect in a loop",
            loc_name(l),
            secs(read)
        ),
    )
    .evidence(read_at.clone(), format!("proxy_read_timeout {}s applies to {} (send: {}s)", secs(read), loc_name(l), secs(l.send_timeout_s)));
    if let Some(a) = l.access.as_ref().filter(|a| a.cut_at_read_timeout > 0) {
        f = f.evidence(
            a.file.clone(),
            format!(
                "{} of {} upgraded connection(s) (101) lasted about {} s, the read timeout",
                a.cut_at_read_timeout,
                a.status_101,
                secs(read)
            ),
        );
    }
    if let Some(e) = &l.idle_timeouts {
        match &e.sample {
            Some((n, text)) => {
                f = f.evidence(
                    format!("{}:{n}", e.file),
                    format!("{} line(s) like: {text}", e.count),
                )
            }
            None => {
                f = f.evidence(
                    e.file.clone(),
                    format!(
                        "{} \"while proxying upgraded connection\" timeout line(s)",
                        e.count
                    ),
                )
            }
        }
    }
    for (s, v, src) in &beats {
        f = f.evidence(
            src.clone(),
            format!("the app's heartbeat {s} = {} s", secs(*v)),
        );
    }
    let beat_hint = match beats.iter().find(|(n, _, _)| interval(n)) {
        Some((s, v, _)) if *v >= read => format!(
            " — or make the app's {s} ({} s) shorter than {} s",
            secs(*v),
            secs(read)
        ),
        _ => {
            " — or have the app ping more often than that (Socket.IO pingInterval, ws ping frames)"
                .into()
        }
    };
    Some(f.fix(Fix::review(
        format!(
            "let idle WebSocket connections live: add to {} at {}{beat_hint}",
            loc_name(l),
            l.at
        ),
        "proxy_read_timeout 3600s;\nproxy_send_timeout 3600s;".to_string(),
    )))
}

fn secs(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// The WebSocket hop of the report's timeout table: each WebSocket location's read/send
/// timeouts and the app's heartbeat where visible.
pub fn timeout_rows(facts: &Facts) -> Vec<TimeoutRow> {
    let Some(ws) = facts.websocket.value() else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    for l in &ws.locations {
        let at = |a: &Option<crate::facts::SourceRef>| {
            a.as_ref()
                .map_or("nginx default".to_string(), |a| a.to_string())
        };
        rows.push(TimeoutRow {
            hop: "nginx → WebSocket app",
            setting: format!("proxy_read_timeout ({})", loc_name(l)),
            seconds: Some(l.read_timeout_s),
            source: at(&l.read_timeout_at),
        });
        rows.push(TimeoutRow {
            hop: "nginx → WebSocket app",
            setting: format!("proxy_send_timeout ({})", loc_name(l)),
            seconds: Some(l.send_timeout_s),
            source: at(&l.send_timeout_at),
        });
        for (s, v, src) in heartbeats(facts, l) {
            rows.push(TimeoutRow {
                hop: "WebSocket app",
                setting: format!("heartbeat {s}"),
                seconds: Some(v),
                source: src,
            });
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{Fact, SourceRef, WebSocketFacts, WsAccess, WsProbe};

    fn at(line: u32) -> SourceRef {
        SourceRef {
            file: "/etc/nginx/sites-enabled/chat".into(),
            line,
        }
    }

    fn hdr(name: &str, value: &str, line: u32) -> WsHeader {
        WsHeader {
            name: name.into(),
            value: value.into(),
            at: at(line),
        }
    }

    fn loc(headers: Vec<WsHeader>, version: &str) -> WsLocation {
        WsLocation {
            pattern: "/socket.io/".into(),
            at: at(20),
            why: vec!["typical WebSocket path (socket.io)".into()],
            target: "http://127.0.0.1:3000".into(),
            upstreams: vec![("127.0.0.1:3000".into(), SocketKind::Tcp)],
            http_version: version.into(),
            headers_level: if headers.is_empty() {
                "none"
            } else {
                "location"
            }
            .into(),
            headers,
            read_timeout_s: 60.0,
            send_timeout_s: 60.0,
            ..Default::default()
        }
    }

    fn facts(l: WsLocation, maps: Vec<UpgradeMap>) -> Facts {
        Facts {
            websocket: Fact::collected(WebSocketFacts {
                locations: vec![l],
                maps,
                notes: vec![],
            }),
            ..Default::default()
        }
    }

    fn probe(v: &str, status: u16) -> WsProbe {
        WsProbe {
            address: "127.0.0.1:3000".into(),
            request: format!("GET /socket.io/ HTTP/{v}"),
            http_version: v.into(),
            status: Some(status),
            status_line: Some(format!("HTTP/1.1 {status} x")),
            error: None,
        }
    }

    #[test]
    fn missing_headers_with_an_app_that_upgrades_is_critical_with_the_lines_to_add() {
        let mut l = loc(vec![], "1.0");
        l.probes = vec![probe("1.1", 101), probe("1.0", 101)];
        let Verdict::Found(f) = WebsocketUpgrade.run(&facts(l, vec![])) else {
            panic!()
        };
        assert_eq!(f[0].severity, Severity::Critical);
        let fix = &f[0].fixes[0].command;
        assert!(fix.contains("proxy_http_version 1.1;"), "{fix}");
        assert!(
            fix.contains("proxy_set_header Upgrade $http_upgrade;"),
            "{fix}"
        );
        assert!(
            fix.contains("proxy_set_header Connection \"upgrade\";"),
            "{fix}"
        );
        // The app accepts 1.0 upgrades: 1.0 itself is not blamed.
        assert!(!f[0].title.contains("HTTP/1.0"), "{}", f[0].title);
    }

    #[test]
    fn correct_headers_pass_and_a_map_is_evaluated() {
        let good = UpgradeMap {
            source: "$http_upgrade".into(),
            variable: "$connection_upgrade".into(),
            entries: vec![
                ("default".into(), "upgrade".into()),
                ("".into(), "close".into()),
            ],
            at: at(3),
        };
        let l = loc(
            vec![
                hdr("Upgrade", "$http_upgrade", 21),
                hdr("Connection", "$connection_upgrade", 22),
            ],
            "1.1",
        );
        assert!(matches!(
            WebsocketUpgrade.run(&facts(l.clone(), vec![good])),
            Verdict::Pass { .. }
        ));
        let wrong = UpgradeMap {
            source: "$http_upgrade".into(),
            variable: "$connection_upgrade".into(),
            entries: vec![("default".into(), "close".into())],
            at: at(3),
        };
        let Verdict::Found(f) = WebsocketUpgrade.run(&facts(l, vec![wrong])) else {
            panic!()
        };
        assert!(
            f[0].evidence
                .iter()
                .any(|e| e.source.ends_with(":3") && e.text.contains("\"close\"")),
            "{:?}",
            f[0].evidence
        );
    }

    #[test]
    fn connection_empty_for_keepalive_drops_the_upgrade() {
        let l = loc(
            vec![
                hdr("Upgrade", "$http_upgrade", 21),
                hdr("Connection", "", 22),
            ],
            "1.1",
        );
        let Verdict::Found(f) = WebsocketUpgrade.run(&facts(l, vec![])) else {
            panic!()
        };
        assert!(f[0].evidence.iter().any(|e| e.source.ends_with(":22")));
        assert!(f[0].fixes.iter().any(|x| x.command.contains("''      '';")));
    }

    #[test]
    fn http10_only_when_the_app_refuses_it() {
        let hs = vec![
            hdr("Upgrade", "$http_upgrade", 21),
            hdr("Connection", "upgrade", 22),
        ];
        let mut l = loc(hs.clone(), "1.0");
        assert!(
            matches!(
                WebsocketUpgrade.run(&facts(l.clone(), vec![])),
                Verdict::Pass { .. }
            ),
            "config alone never blames 1.0"
        );
        l.probes = vec![probe("1.1", 101), probe("1.0", 400)];
        let Verdict::Found(f) = WebsocketUpgrade.run(&facts(l, vec![])) else {
            panic!()
        };
        assert!(f[0].title.contains("HTTP/1.0"));
        assert_eq!(f[0].fixes[0].command, "proxy_http_version 1.1;");
    }

    #[test]
    fn a_typical_path_whose_app_does_not_upgrade_is_information() {
        let mut l = loc(vec![], "1.0");
        l.probes = vec![probe("1.1", 200), probe("1.0", 200)];
        let Verdict::Found(f) = WebsocketUpgrade.run(&facts(l, vec![])) else {
            panic!()
        };
        assert_eq!(f[0].severity, Severity::Info);
    }

    #[test]
    fn idle_cuts_at_the_read_timeout() {
        let mut l = loc(
            vec![
                hdr("Upgrade", "$http_upgrade", 21),
                hdr("Connection", "upgrade", 22),
            ],
            "1.1",
        );
        l.read_timeout_s = 1.0;
        l.access = Some(WsAccess {
            file: "access.log".into(),
            requests: 3,
            status_101: 3,
            cut_at_read_timeout: 3,
            has_request_time: true,
            ..Default::default()
        });
        let Verdict::Found(f) = WebsocketUpgrade.run(&facts(l, vec![])) else {
            panic!()
        };
        assert!(f[0].title.contains("cut after 1 s"), "{}", f[0].title);
        assert!(f[0].fixes[0].command.contains("proxy_read_timeout 3600s;"));
    }
}
