//! The report: everything a renderer shows, computed here so renderers only format.
//! `diagnose`'s [`Report`] is built here (merged over a site's upstreams by [`sitewide`]);
//! `explain-log`'s in [`explain_log`].

pub mod explain_log;
pub mod sitewide;

use serde::Serialize;

use crate::checks::{evidence, CheckRun, CheckStatus, Severity, Verdict};
use crate::exit::ExitStatus;
use crate::facts::{ConfigIssue, Facts, Route, SocketKind};
use crate::rank::{rank_scoped, FindingLocation, RankedFinding, ScopedRuns};

pub use explain_log::{LbLogReport, LogReport};

pub const JSON_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct ToolInfo {
    pub name: &'static str,
    pub version: &'static str,
}

pub fn tool() -> ToolInfo {
    ToolInfo {
        name: "badgw",
        version: env!("CARGO_PKG_VERSION"),
    }
}

/// One row of the checks table.
#[derive(Debug, Clone, Serialize)]
pub struct CheckRow {
    pub id: &'static str,
    /// Site-wide mode: the upstream this run of the check looked at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    pub status: CheckStatus,
    pub detail: String,
    pub duration_ms: f64,
}

/// What one upstream address looks like on the host, for the route line.
#[derive(Debug, Clone, Serialize)]
pub struct UpstreamState {
    pub address: String,
    pub kind: SocketKind,
    /// "node (pid 4242)" or "nothing listens", or None when listeners were not readable.
    pub listener: Option<String>,
    pub probe: Option<String>,
    pub ok: bool,
}

/// Which namespaces the facts were read in.
#[derive(Debug, Clone, Serialize)]
pub struct ViewSummary {
    /// `"host"` (badgw's own) or `{"pid": N}` (the nginx master's).
    pub net: crate::facts::Ns,
    pub mnt: crate::facts::Ns,
    pub probes_in_nginx_netns: bool,
    /// The view in words, e.g. "nginx's network namespace (pid 812); badgw's own files".
    pub summary: String,
    /// Other namespaces of this host that own an upstream address: pid, process, addresses.
    pub peers: Vec<PeerSummary>,
    /// What could not be done, in words.
    pub limits: Vec<String>,
    /// The container nginx runs in, described ("docker container web-1 (3f4e8a1c2b7d), …").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nginx_container: Option<String>,
    /// Containers meant to serve an upstream: [upstream address or name, description].
    pub upstream_containers: Vec<(String, String)>,
    /// The route's upstream names as nginx's resolver answers now, and which source
    /// answered (nginx's /etc/hosts, its DNS server asked from its network namespace, or
    /// the system resolver).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<crate::facts::NameResolution>,
    /// nginx workers' SYN-SENT/ESTABLISHED connections to the named upstreams' ports.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub upstream_connections: Vec<crate::facts::UpstreamConnection>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PeerSummary {
    pub pid: u32,
    pub process: Option<String>,
    pub addresses: Vec<String>,
}

/// Which nginx was examined.
#[derive(Debug, Clone, Serialize)]
pub struct NginxSummary {
    pub conf_path: String,
    pub discovered_by: String,
    pub master_pid: Option<u32>,
    pub files: usize,
    pub issues: Vec<ConfigIssue>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: ToolInfo,
    pub site: String,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collected_at: Option<String>,
    pub nginx: Option<NginxSummary>,
    pub route: Option<Route>,
    pub upstream_states: Vec<UpstreamState>,
    pub findings: Vec<RankedFinding>,
    pub checks: Vec<CheckRow>,
    /// Every timeout on the request's path, client to app, with where each is set.
    pub timeouts: Vec<crate::checks::TimeoutRow>,
    /// What badgw could not see, and why.
    pub notes: Vec<String>,
    /// The window's dated events in time order (src/timeline.rs); docs/json.md.
    pub timeline: Vec<crate::timeline::TimelineEvent>,
    /// 502/504 per minute (sparkline) and the one-sentence summary, for the human report.
    #[serde(skip)]
    pub timeline_minutes: Vec<(String, u64)>,
    #[serde(skip)]
    pub timeline_summary: Option<String>,
    /// Per finding (same order as `findings`), its evidence with runs of the same line
    /// folded: what the one-screen report shows.
    #[serde(skip)]
    pub folded_evidence: Vec<Vec<FoldedEvidence>>,
    /// How the checks ended, for the one-line summary.
    #[serde(skip)]
    pub checks_summary: ChecksSummary,
    /// Why the diagnosis is incomplete (exit 3) when it is, e.g. a probe failed and no
    /// check explains the failure: never reported as "no problem found".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
    /// Whose namespaces were used: nginx's or badgw's own (see docs/json.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub view: Option<ViewSummary>,
    /// Each collector's outcome and duration (`status` "deadline": cut off by --deadline).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gather: Vec<crate::facts::GatherStage>,
    /// Site-wide mode (no `--path`): every upstream behind the server and the one-line
    /// summary of the locations that did not fail (docs/json.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_wide: Option<crate::report::sitewide::SiteWide>,
    #[serde(skip)]
    pub exit: ExitStatus,
}

/// One evidence line of the report, standing for `count` lines that say the same thing
/// (e.g. the same error-log message at different times): the first and, when there are
/// several, the last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoldedEvidence {
    pub first: crate::checks::Evidence,
    pub count: usize,
    pub last: Option<crate::checks::Evidence>,
}

/// Counts of the checks' outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChecksSummary {
    pub total: usize,
    pub failed: usize,
    pub warned: usize,
    pub passed: usize,
    /// Skipped: the check does not apply here, or its fact was unavailable.
    pub not_applicable: usize,
    /// A check that panicked (a bug in badgw).
    pub errors: usize,
}

impl ChecksSummary {
    pub fn of(rows: &[CheckRow]) -> Self {
        let mut s = ChecksSummary {
            total: rows.len(),
            ..Default::default()
        };
        for r in rows {
            match r.status {
                CheckStatus::Fail => s.failed += 1,
                CheckStatus::Warn => s.warned += 1,
                CheckStatus::Pass => s.passed += 1,
                CheckStatus::Skipped => s.not_applicable += 1,
                CheckStatus::Error => s.errors += 1,
            }
        }
        s
    }
}

/// The part of an evidence line that identifies what it says: the source without its line
/// number, and the text without an nginx error-log line's time, pid#tid and `*connection`.
fn fold_key(e: &crate::checks::Evidence) -> (String, String) {
    let source = match e.source.rsplit_once(':') {
        Some((file, line)) if !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) => {
            file.to_string()
        }
        _ => e.source.clone(),
    };
    let t = e.text.as_str();
    // "2026/11/23 00:22:17 [error] 28979#28979: *1 connect() …"
    let text = match t.split_once("] ") {
        Some((head, rest))
            if head.len() >= 20
                && head.as_bytes()[4] == b'/'
                && head.as_bytes().get(19) == Some(&b' ') =>
        {
            let level = &head[20..];
            let rest = match rest.split_once(": ") {
                Some((pid, r)) if pid.contains('#') => r,
                _ => rest,
            };
            let rest = match rest.strip_prefix('*').and_then(|r| r.split_once(' ')) {
                Some((n, r)) if n.bytes().all(|b| b.is_ascii_digit()) => r,
                _ => rest,
            };
            format!("{level}] {rest}")
        }
        _ => t.to_string(),
    };
    (source, text)
}

/// Folds evidence lines that say the same thing, keeping the order of first appearance.
pub fn fold_evidence(evidence: &[crate::checks::Evidence]) -> Vec<FoldedEvidence> {
    let mut out: Vec<(FoldedEvidence, (String, String))> = Vec::new();
    for e in evidence {
        let key = fold_key(e);
        match out.iter_mut().find(|(_, k)| *k == key) {
            Some((f, _)) => {
                f.count += 1;
                f.last = Some(e.clone());
            }
            None => out.push((
                FoldedEvidence {
                    first: e.clone(),
                    count: 1,
                    last: None,
                },
                key,
            )),
        }
    }
    out.into_iter().map(|(f, _)| f).collect()
}

/// Builds the report of a diagnosis from its facts and check runs (one route).
pub fn build(facts: &Facts, runs: &[CheckRun]) -> Report {
    let location = facts
        .nginx
        .value()
        .and_then(|n| n.route.as_ref())
        .and_then(|r| FindingLocation::of(r, false));
    build_scoped(facts, &[ScopedRuns { location, runs }])
}

/// Builds the report from the check runs of each upstream (site-wide mode) or of the one
/// route: findings ranked together, each with the location it concerns.
pub fn build_scoped(facts: &Facts, groups: &[ScopedRuns]) -> Report {
    let mut findings = rank_scoped(groups);
    for f in &mut findings {
        crate::fixes::host::adapt(facts, &mut f.finding.fixes);
    }
    let scoped = groups.len() > 1;
    let checks: Vec<CheckRow> = groups
        .iter()
        .flat_map(|g| {
            let upstream = g
                .location
                .as_ref()
                .filter(|_| scoped)
                .map(|l| l.upstreams.join(","));
            g.runs.iter().map(move |r| (upstream.clone(), r))
        })
        .map(|(upstream, r)| CheckRow {
            upstream,
            id: r.id,
            status: r.status(),
            detail: match &r.verdict {
                Verdict::Pass { detail } => detail.clone(),
                Verdict::Skipped { reason } | Verdict::Error { reason } => reason.clone(),
                Verdict::Found(f) => f
                    .iter()
                    .map(|f| f.title.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
            },
            duration_ms: (r.duration_ms * 1000.0).round() / 1000.0,
        })
        .collect();
    let nginx = facts.nginx.value();
    let route = nginx.and_then(|n| n.route.clone());
    let mut notes = facts.notes.clone();
    match &facts.nginx {
        crate::facts::Fact::Unavailable { source, reason } => {
            notes.push(format!("{source}: {reason}"))
        }
        crate::facts::Fact::Collected { value } => {
            notes.extend(value.route.iter().flat_map(|r| r.notes.iter().cloned()))
        }
    }
    // Site-wide routes repeat the server's notes: each once, in order.
    let mut seen = std::collections::HashSet::new();
    notes.retain(|n| seen.insert(n.clone()));
    for (name, fact) in [
        ("listeners", facts.listeners.get().err()),
        ("error log", facts.error_log.get().err()),
    ] {
        if let Some(reason) = fact {
            notes.push(format!("{name} unavailable: {reason}"));
        }
    }
    // A run the deadline cut short is never "no problem found".
    let missed = facts.missed_deadline();
    if !missed.is_empty() {
        notes.push(format!(
            "deadline reached before {} finished: shown as unavailable (raise --deadline or look at them by hand)",
            missed.join(", ")
        ));
    }
    let upstream_states = route
        .as_ref()
        .map(|r| upstream_states(facts, r))
        .unwrap_or_default();
    let problems = findings
        .iter()
        .any(|f| f.finding.severity >= Severity::Warning);
    let unexplained = if problems {
        None
    } else {
        unexplained_failure(facts, &upstream_states, &checks)
    };
    let exit = if problems {
        ExitStatus::Problems
    } else if route.is_none() || unexplained.is_some() {
        ExitStatus::Incomplete
    } else {
        ExitStatus::Healthy
    };
    let folded_evidence = findings
        .iter()
        .map(|f| fold_evidence(&f.finding.evidence))
        .collect();
    let checks_summary = ChecksSummary::of(&checks);
    let incomplete = unexplained.map(|what| {
        format!("{what}, and no check explains it: the diagnosis is incomplete, not healthy")
    });
    let tl = crate::timeline::build(facts);
    Report {
        timeline: tl.events,
        timeline_minutes: tl.per_minute,
        timeline_summary: tl.summary,
        folded_evidence,
        checks_summary,
        schema_version: JSON_SCHEMA_VERSION,
        tool: tool(),
        site: facts.request.site.clone(),
        path: facts.request.path.clone(),
        hostname: facts.hostname.clone(),
        collected_at: facts
            .collected_at
            .map(|c| c.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)),
        nginx: nginx.map(|n| NginxSummary {
            conf_path: n.conf_path.clone(),
            discovered_by: n.discovered_by.clone(),
            master_pid: n.master.as_ref().map(|m| m.pid),
            files: n.files.len(),
            issues: n.issues.clone(),
        }),
        upstream_states,
        timeouts: crate::checks::timeout_table(facts),
        route,
        findings,
        checks,
        notes,
        incomplete,
        view: facts.view.value().map(|v| ViewSummary {
            net: v.net,
            mnt: v.mnt,
            probes_in_nginx_netns: v.probes_in_nginx_netns,
            summary: view_summary(v),
            peers: v
                .peers
                .iter()
                .map(|p| PeerSummary {
                    pid: p.pid,
                    process: p.process.clone(),
                    addresses: p.addresses.clone(),
                })
                .collect(),
            limits: v.limits.clone(),
            names: v.names.clone(),
            upstream_connections: v.upstream_connections.clone(),
            nginx_container: v.nginx_container.as_ref().map(|c| c.describe()),
            upstream_containers: v
                .upstream_containers
                .iter()
                .map(|(k, c)| (k.clone(), c.describe()))
                .collect(),
        }),
        gather: facts.gather.clone(),
        site_wide: None,
        exit,
    }
}

/// A failed probe, a missing listener or a failing check that no finding accounts for:
/// the report must not call such a site healthy (design §6).
fn unexplained_failure(
    facts: &Facts,
    states: &[UpstreamState],
    checks: &[CheckRow],
) -> Option<String> {
    let missed = facts.missed_deadline();
    if !missed.is_empty() {
        return Some(format!(
            "the deadline passed before {} finished",
            missed.join(", ")
        ));
    }
    // Probes from badgw's own namespace prove nothing about what nginx, in another one,
    // can reach: without entering nginx's namespace there is no all-clear.
    if let Some(v) = facts.view.value() {
        if matches!(v.net, crate::facts::Ns::Pid(_)) && !v.probes_in_nginx_netns {
            return Some(
                "nginx runs in a network namespace badgw could not enter (run as root): \
                 its upstreams were not probed from where nginx connects"
                    .to_string(),
            );
        }
    }
    // A pass whose address nginx's resolver could not give is not a healthy upstream.
    if let Some(r) = facts.nginx.value().and_then(|n| n.route.as_ref()) {
        if r.directive.is_some() && r.upstreams.is_empty() && r.dynamic.is_none() {
            return Some(format!(
                "the address of {} {} could not be resolved",
                r.directive.as_deref().unwrap_or("the pass"),
                r.target.as_deref().unwrap_or("")
            ));
        }
    }
    if let Some(p) = facts.probes.iter().find(|p| p.error.is_some()) {
        return Some(format!("the probe failed: {}", evidence::describe_probe(p)));
    }
    if let Some(u) = states
        .iter()
        .find(|u| u.listener.as_deref() == Some("nothing listens"))
    {
        return Some(format!("nothing listens on {}", u.address));
    }
    checks
        .iter()
        .find(|c| c.status == CheckStatus::Error)
        .map(|c| format!("check {} failed ({})", c.id, c.detail))
}

fn view_summary(v: &crate::facts::View) -> String {
    use crate::facts::Ns;
    let net = match v.net {
        Ns::Host => "network: badgw's own namespace (nginx's too)".to_string(),
        Ns::Pid(p) if v.probes_in_nginx_netns => {
            format!("network: nginx's own namespace (pid {p}), probes run inside it")
        }
        Ns::Pid(p) => {
            format!("network: nginx's own namespace (pid {p}) for listeners; probes from badgw's")
        }
    };
    let mnt = match v.mnt {
        Ns::Host => "files: badgw's own mount namespace".to_string(),
        Ns::Pid(p) => format!("files: nginx's own mount namespace, read through /proc/{p}/root"),
    };
    format!("{net}; {mnt}")
}

fn upstream_states(facts: &Facts, route: &Route) -> Vec<UpstreamState> {
    let listeners = facts.listeners.value();
    route
        .upstreams
        .iter()
        .map(|u| {
            let listener = listeners.map(|ls| {
                let found = match u.kind {
                    SocketKind::Unix => {
                        let path = u.address.strip_prefix("unix:").unwrap_or(&u.address);
                        ls.iter()
                            .find(|l| l.kind == SocketKind::Unix && l.address == path)
                    }
                    _ => {
                        let Ok(a) = u.address.parse() else {
                            return "not an IP address".to_string();
                        };
                        match facts.reach(&a) {
                            crate::facts::Reach::Local(ls) => {
                                crate::facts::accepting(ls, &a).into_iter().next()
                            }
                            crate::facts::Reach::Peer(p) => {
                                return match crate::facts::accepting(&p.listeners, &a).first() {
                                    Some(l) => format!(
                                        "{} (pid {}) listens on {} in another network namespace",
                                        l.process.as_deref().unwrap_or("?"),
                                        l.pid.map_or("?".to_string(), |p| p.to_string()),
                                        l.address
                                    ),
                                    None => format!("nothing listens in {}", p.describe()),
                                }
                            }
                            crate::facts::Reach::Remote | crate::facts::Reach::Unknown => {
                                return "remote: its listeners are not visible from nginx's \
                                        network namespace"
                                    .to_string()
                            }
                        }
                    }
                };
                match found {
                    Some(l) => match (&l.process, l.pid) {
                        (Some(p), Some(pid)) => format!("{p} (pid {pid}) listens on {}", l.address),
                        _ => format!("listening on {} (owner not visible)", l.address),
                    },
                    None => "nothing listens".to_string(),
                }
            });
            let probe = facts.probe_of(&u.address);
            UpstreamState {
                address: u.address.clone(),
                kind: u.kind,
                ok: facts.upstream_answered(&u.address, route.scheme.as_deref()),
                listener,
                probe: probe.map(evidence::describe_probe),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::Evidence;
    use crate::facts::SocketKind;
    use crate::test_support::FactsBuilder;

    #[test]
    fn same_error_log_message_folds_first_and_last_kept() {
        let line = |n: u32, t: &str, c: u32| {
            Evidence::new(
                format!("/var/log/nginx/error.log:{n}"),
                format!("2026/11/23 00:22:{t} [error] 289#289: *{c} connect() failed (111: Connection refused) while connecting to upstream, upstream: \"http://127.0.0.1:3000/\""),
            )
        };
        let ev = vec![
            Evidence::new("probe", "connect() to 127.0.0.1:3000 failed"),
            line(7, "17", 1),
            line(9, "18", 3),
            line(12, "19", 5),
            Evidence::new(
                "/var/log/nginx/error.log:14",
                "2026/11/23 00:22:20 [error] 289#289: *7 connect() failed (111: Connection refused) while connecting to upstream, upstream: \"http://127.0.0.1:3001/\"",
            ),
        ];
        let f = fold_evidence(&ev);
        assert_eq!(f.len(), 3, "{f:#?}");
        assert_eq!(f[0].count, 1);
        assert_eq!(f[1].count, 3);
        assert_eq!(f[1].first, ev[1]);
        assert_eq!(f[1].last.as_ref(), Some(&ev[3]));
        // Another upstream address is another line.
        assert_eq!(f[2].count, 1);
        assert_eq!(f[2].first, ev[4]);
    }

    #[test]
    fn summary_counts_every_status() {
        let row = |status| CheckRow {
            upstream: None,
            id: "x",
            status,
            detail: String::new(),
            duration_ms: 0.0,
        };
        let s = ChecksSummary::of(&[
            row(CheckStatus::Fail),
            row(CheckStatus::Pass),
            row(CheckStatus::Pass),
            row(CheckStatus::Skipped),
            row(CheckStatus::Warn),
        ]);
        assert_eq!(
            (
                s.total,
                s.failed,
                s.passed,
                s.not_applicable,
                s.warned,
                s.errors
            ),
            (5, 1, 2, 1, 1, 0)
        );
    }

    #[test]
    fn a_failed_probe_that_no_check_explains_is_incomplete_not_healthy() {
        let facts = FactsBuilder::proxy("127.0.0.1:3000")
            .listen(SocketKind::Tcp, "127.0.0.1:3000", "node")
            .probe_refused("127.0.0.1:3000")
            .build();
        let report = build(&facts, &[]);
        assert_eq!(report.exit, ExitStatus::Incomplete);
        let why = report.incomplete.expect("a reason");
        assert!(why.contains("111: Connection refused"), "{why}");
    }

    /// An nginx (or Go, Apache) HTTPS upstream answers the plain probe with 400; once the
    /// certificate collector completed a handshake it is known to speak TLS and the route
    /// line says ok, not FAIL. Without that handshake the 400 proves nothing either way.
    #[test]
    fn a_tls_upstream_answering_the_plain_probe_with_400_is_ok_after_a_handshake() {
        let mut b = FactsBuilder::proxy("127.0.0.1:8443")
            .listen(SocketKind::Tcp, "127.0.0.1:8443", "nginx")
            .probe_ok("127.0.0.1:8443", 400, 1);
        b.route_mut().scheme = Some("https".into());
        let p = b.0.probes.last_mut().expect("probe");
        p.speaks = Some("unknown".into());
        let report = build(&b.0.clone(), &[]);
        assert!(!report.upstream_states[0].ok, "no handshake: not known");
        b.0.upstream_tls = crate::facts::Fact::collected(vec![crate::facts::UpstreamCertificate {
            address: "127.0.0.1:8443".into(),
            certificate: Some(Default::default()),
            ..Default::default()
        }]);
        let report = build(&b.build(), &[]);
        assert!(report.upstream_states[0].ok);
        assert_eq!(report.exit, ExitStatus::Healthy, "{:?}", report.incomplete);
    }

    #[test]
    fn a_probe_that_answered_is_healthy_when_nothing_was_found() {
        let facts = FactsBuilder::proxy("127.0.0.1:3000")
            .listen(SocketKind::Tcp, "127.0.0.1:3000", "node")
            .probe_ok("127.0.0.1:3000", 200, 3)
            .build();
        let report = build(&facts, &[]);
        assert_eq!(report.exit, ExitStatus::Healthy);
        assert!(report.incomplete.is_none());
    }
}
