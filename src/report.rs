//! The report: everything a renderer shows, computed here so renderers only format.

use serde::Serialize;

use crate::checks::{util, CheckRun, CheckStatus, Severity, Verdict};
use crate::exit::ExitStatus;
use crate::facts::{ConfigIssue, Facts, Route, SocketKind};
use crate::rank::{rank, RankedFinding};

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
    #[serde(skip)]
    pub exit: ExitStatus,
}

/// Builds the report of a diagnosis from its facts and check runs.
pub fn build(facts: &Facts, runs: &[CheckRun]) -> Report {
    let findings = rank(runs);
    let checks: Vec<CheckRow> = runs
        .iter()
        .map(|r| CheckRow {
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
    for (name, fact) in [
        ("listeners", facts.listeners.get().err()),
        ("error log", facts.error_log.get().err()),
    ] {
        if let Some(reason) = fact {
            notes.push(format!("{name} unavailable: {reason}"));
        }
    }
    let exit = if findings
        .iter()
        .any(|f| f.finding.severity >= Severity::Warning)
    {
        ExitStatus::Problems
    } else if route.is_none() || checks.iter().any(|c| c.status == CheckStatus::Error) {
        // A check that crashed saw nothing: never an all-clear.
        ExitStatus::Incomplete
    } else {
        ExitStatus::Healthy
    };
    Report {
        schema_version: JSON_SCHEMA_VERSION,
        tool: tool(),
        site: facts.request.site.clone(),
        path: facts.request.path.clone(),
        hostname: facts.hostname.clone(),
        collected_at: facts.collected_at.clone(),
        nginx: nginx.map(|n| NginxSummary {
            conf_path: n.conf_path.clone(),
            discovered_by: n.discovered_by.clone(),
            master_pid: n.master.as_ref().map(|m| m.pid),
            files: n.files.len(),
            issues: n.issues.clone(),
        }),
        upstream_states: route
            .as_ref()
            .map(|r| upstream_states(facts, r))
            .unwrap_or_default(),
        timeouts: crate::checks::timeout_table(facts),
        route,
        findings,
        checks,
        notes,
        exit,
    }
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
                    _ => u
                        .address
                        .parse()
                        .ok()
                        .and_then(|a| util::accepting(ls, &a).into_iter().next()),
                };
                match found {
                    Some(l) => match (&l.process, l.pid) {
                        (Some(p), Some(pid)) => format!("{p} (pid {pid}) listens on {}", l.address),
                        _ => format!("listening on {} (owner not visible)", l.address),
                    },
                    None => "nothing listens".to_string(),
                }
            });
            let probe = util::probe_of(facts, &u.address);
            UpstreamState {
                address: u.address.clone(),
                kind: u.kind,
                ok: probe.is_some_and(|p| {
                    p.error.is_none()
                        && p.note
                            .as_deref()
                            .is_none_or(|n| n.contains("only the connection"))
                        && p.status.is_none_or(|s| s < 500)
                }),
                listener,
                probe: probe.map(util::describe_probe),
            }
        })
        .collect()
}
