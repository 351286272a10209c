//! Site-wide diagnosis (no `--path`): every distinct upstream behind the server is checked
//! once, fully, on a view of the facts whose route ends at that upstream; the findings are
//! merged into one ranked report (rank::rank_scoped). Pure: facts in, report out.

use serde::Serialize;

use super::Report;
use crate::checks::{self, CheckRun, Severity};
use crate::facts::{ErrorLogWindow, Fact, Facts, OtherTarget, SiteUpstream};
use crate::rank::{FindingLocation, RankedFinding, ScopedRuns};

/// One upstream of the site as the report lists it.
#[derive(Debug, Clone, Serialize)]
pub struct SiteUpstreamRow {
    /// `fastcgi_pass unix:/run/php/php8.2-fpm.sock`
    pub target: String,
    pub upstreams: Vec<String>,
    /// The request paths routed here (one per location that reaches it, then failing ones).
    pub paths: Vec<String>,
    pub failing_paths: Vec<String>,
    pub failures: u64,
    /// Findings (warning or worse) that concern it.
    pub findings: usize,
    /// No finding of warning or worse, and every probe of it answered.
    pub healthy: bool,
}

/// The whole site at a glance: its upstreams and the locations nginx answers itself.
#[derive(Debug, Clone, Serialize)]
pub struct SiteWide {
    pub upstreams: Vec<SiteUpstreamRow>,
    /// Locations whose requests nginx answers itself (files, `return`, a status).
    pub static_locations: usize,
    /// Locations (with a request to them) that reach an upstream.
    pub upstream_locations: usize,
    /// The one line that stands for what did not fail, e.g. "12 other location(s) not
    /// failing: 9 static, 3 on 1 healthy upstream(s): proxy_pass http://127.0.0.1:3001".
    pub summary: Option<String>,
}

/// The facts as checks see them for one upstream: its route, and its own slice of the
/// error log (plus the lines that name no upstream, which concern the whole site).
pub fn upstream_view(facts: &Facts, u: &SiteUpstream) -> Facts {
    let mut v = facts.clone();
    if let Fact::Collected { value: n } = &mut v.nginx {
        // The site's other upstreams are nginx's targets too: an app listening there is
        // another location's, never this upstream's app on the wrong port.
        let others: Vec<OtherTarget> = n
            .site_upstreams
            .iter()
            .filter(|o| SiteUpstream::key_of(&o.route) != SiteUpstream::key_of(&u.route))
            .flat_map(|o| {
                let at = o.route.location.clone().unwrap_or_default();
                let names = o.route.server.server_name.clone();
                o.route.upstreams.iter().map(move |a| OtherTarget {
                    address: a.address.clone(),
                    server_name: names.clone(),
                    file: at.file.clone(),
                    line: at.line,
                })
            })
            .filter(|t| !u.route.upstreams.iter().any(|a| a.address == t.address))
            .collect();
        n.other_targets.extend(others);
        n.route = Some(u.route.clone());
        n.site_upstreams.clear();
        n.site_routes.clear();
    }
    if let (Some(slice), Some(site)) = (&u.error_log, facts.error_log.value()) {
        v.error_log = Fact::collected(with_unattributed(slice, site));
    }
    v
}

/// `slice` plus the categories of the site window none of whose sample lines names an
/// upstream (a resolver failure, accept() out of descriptors).
fn with_unattributed(slice: &ErrorLogWindow, site: &ErrorLogWindow) -> ErrorLogWindow {
    let mut w = slice.clone();
    w.file = site.file.clone();
    w.since = site.since.clone();
    for c in &site.categories {
        let unattributed = c.samples.iter().all(|s| s.upstream.is_none());
        if unattributed && !w.categories.iter().any(|x| x.category == c.category) {
            w.categories.push(c.clone());
        }
    }
    w
}

/// The diagnosis of `facts`: site-wide when gathering found two or more distinct
/// upstreams behind the server, else the one route's.
pub fn diagnose(facts: &Facts) -> Report {
    let ups: &[SiteUpstream] = facts
        .nginx
        .value()
        .map(|n| &n.site_upstreams[..])
        .unwrap_or(&[]);
    let route_key = facts
        .nginx
        .value()
        .and_then(|n| n.route.as_ref())
        .map(SiteUpstream::key_of);
    // One upstream, and it is the route's: the facts as they are.
    let single = match ups {
        [] => true,
        [u] => route_key.as_deref() == Some(SiteUpstream::key_of(&u.route).as_str()),
        _ => false,
    };
    if single {
        let runs = checks::run_all(facts);
        let failing = ups.first().is_some_and(|u| u.failures > 0);
        let mut r = super::build(facts, &runs);
        for f in &mut r.findings {
            f.location = f.location.take().map(|mut l| {
                l.failing = failing;
                l
            });
        }
        if !ups.is_empty() {
            r.site_wide = Some(summary(facts, ups, &r.findings));
        }
        return r;
    }
    let runs: Vec<Vec<CheckRun>> = ups
        .iter()
        .map(|u| checks::run_all(&upstream_view(facts, u)))
        .collect();
    let groups: Vec<ScopedRuns> = ups
        .iter()
        .zip(&runs)
        .map(|(u, r)| ScopedRuns {
            location: FindingLocation::of(&u.route, u.failures > 0),
            runs: r,
        })
        .collect();
    let mut r = super::build_scoped(facts, &groups);
    r.site_wide = Some(summary(facts, ups, &r.findings));
    r
}

fn concerns(f: &RankedFinding, u: &SiteUpstream) -> bool {
    f.finding.severity >= Severity::Warning
        && f.location.as_ref().is_some_and(|l| {
            l.upstreams
                == u.route
                    .upstreams
                    .iter()
                    .map(|a| a.address.clone())
                    .collect::<Vec<_>>()
        })
}

fn summary(facts: &Facts, ups: &[SiteUpstream], findings: &[RankedFinding]) -> SiteWide {
    let routes = facts
        .nginx
        .value()
        .map(|n| &n.site_routes[..])
        .unwrap_or(&[]);
    let static_locations = routes
        .iter()
        .filter(|r| r.ends.as_deref() != Some("upstream"))
        .count();
    let rows: Vec<SiteUpstreamRow> = ups
        .iter()
        .map(|u| {
            let n = findings.iter().filter(|f| concerns(f, u)).count();
            let probes_ok = u.route.upstreams.iter().all(|a| {
                facts
                    .probe_of(&a.address)
                    .is_none_or(|p| p.error.is_none() && p.connected)
            });
            SiteUpstreamRow {
                target: format!(
                    "{} {}",
                    u.route.directive.as_deref().unwrap_or("?"),
                    u.route.target.as_deref().unwrap_or("?")
                ),
                upstreams: u
                    .route
                    .upstreams
                    .iter()
                    .map(|a| a.address.clone())
                    .collect(),
                paths: u.paths.clone(),
                failing_paths: u.failing_paths.clone(),
                failures: u.failures,
                findings: n,
                healthy: n == 0 && u.failures == 0 && !u.late && probes_ok,
            }
        })
        .collect();
    let upstream_locations = routes.len() - static_locations;
    // Locations that reach a healthy upstream, and those nginx answers itself.
    let healthy: Vec<&SiteUpstreamRow> = rows.iter().filter(|r| r.healthy).collect();
    let healthy_locations: usize = healthy.iter().map(|r| r.paths.len()).sum();
    let others = static_locations + healthy_locations;
    let summary = (others > 0).then(|| {
        let mut parts = Vec::new();
        if static_locations > 0 {
            parts.push(format!("{static_locations} static"));
        }
        if !healthy.is_empty() {
            let names: Vec<&str> = healthy.iter().map(|r| r.target.as_str()).collect();
            parts.push(format!(
                "{healthy_locations} on {} healthy upstream(s): {}",
                healthy.len(),
                names.join(", ")
            ));
        }
        format!(
            "{others} other location(s) not failing: {}",
            parts.join(", ")
        )
    });
    SiteWide {
        upstreams: rows,
        static_locations,
        upstream_locations,
        summary,
    }
}
