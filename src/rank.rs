//! Ranking: orders findings so the most likely root cause comes first. Pure.
//!
//! A cause that explains another found cause (an OOM kill explains "nothing listens";
//! a port mismatch explains "connection refused") is the root and goes first, as long as
//! the check is reasonably sure of it; then severity, then confidence, then pipeline order.

use serde::Serialize;

use crate::cause::Cause;
use crate::checks::{CheckRun, Finding, Strength, Verdict};

/// A root needs at least this confidence to push the finding it explains below it.
const ROOT_MIN_CONFIDENCE: f64 = 0.6;

#[derive(Debug, Clone, Serialize)]
pub struct RankedFinding {
    #[serde(flatten)]
    pub finding: Finding,
    /// The check that reported it.
    pub check: &'static str,
    /// 0..1: the check's own confidence, else derived from the evidence's strength.
    #[serde(rename = "confidence", serialize_with = "two_decimals")]
    pub confidence_score: f64,
    /// Other checks that found the same cause; their evidence is merged into this one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub corroborated_by: Vec<&'static str>,
    /// The root cause that explains this symptom, when one was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explained_by: Option<Cause>,
    /// The location and upstream the finding concerns (docs/json.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<FindingLocation>,
}

/// Where in the site a finding applies: the location block whose `*_pass` reaches the
/// upstream (file:line of its opening line), the request routed there, and the upstream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingLocation {
    /// The request routed (a failing one from the logs when there was one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub modifier: String,
    pub pattern: String,
    pub file: String,
    pub line: u32,
    /// `proxy_pass`, `fastcgi_pass`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directive: Option<String>,
    /// The directive's argument as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The upstream addresses behind the target.
    pub upstreams: Vec<String>,
    /// Site-wide mode: the logs of the window show requests failing there (absent: false).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub failing: bool,
}

impl FindingLocation {
    pub fn of(r: &crate::facts::Route, failing: bool) -> Option<Self> {
        let l = r.location.as_ref()?;
        Some(FindingLocation {
            path: r.path.clone(),
            modifier: l.modifier.clone(),
            pattern: l.pattern.clone(),
            file: l.file.clone(),
            line: l.line,
            directive: r.directive.clone(),
            target: r.target.clone(),
            upstreams: r.upstreams.iter().map(|u| u.address.clone()).collect(),
            failing,
        })
    }
}

/// The check runs of one upstream of the site (site-wide mode), or of the one route.
pub struct ScopedRuns<'a> {
    pub location: Option<FindingLocation>,
    pub runs: &'a [CheckRun],
}

/// Ranks each upstream's findings on their own (a root explains symptoms of its own
/// upstream only), then merges them: a finding the same check makes for several upstreams
/// with the same title and evidence (a site-wide fact, e.g. nginx out of descriptors) is kept once, for
/// the first; the upstreams the logs show failing lead, then severity and confidence.
pub fn rank_scoped(groups: &[ScopedRuns]) -> Vec<RankedFinding> {
    let mut all: Vec<(usize, usize, RankedFinding)> = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        for (i, mut r) in rank(group.runs).into_iter().enumerate() {
            let dup = all.iter().any(|(_, _, o)| {
                o.finding.cause == r.finding.cause
                    && o.finding.title == r.finding.title
                    && o.finding.evidence == r.finding.evidence
            });
            if dup {
                continue;
            }
            r.location = group.location.clone();
            all.push((g, i, r));
        }
    }
    // A site-level check (e.g. the balancer's health checks) reports the same finding in
    // every upstream's view; where it names that upstream, rank() already merged it into
    // the upstream's own finding of the same cause. Keep only that merged one, which
    // carries the right location.
    let keep: Vec<bool> = all
        .iter()
        .enumerate()
        .map(|(i, (_, _, r))| {
            !all.iter().enumerate().any(|(j, (_, _, o))| {
                j != i
                    && o.finding.cause == r.finding.cause
                    && o.finding.evidence.len() > r.finding.evidence.len()
                    && r.finding
                        .evidence
                        .iter()
                        .all(|e| o.finding.evidence.contains(e))
            })
        })
        .collect();
    let mut keep = keep.into_iter();
    all.retain(|_| keep.next().unwrap_or(true));
    let failing = |r: &RankedFinding| r.location.as_ref().is_some_and(|l| l.failing);
    all.sort_by(|(ga, ia, a), (gb, ib, b)| {
        a.explained_by
            .is_some()
            .cmp(&b.explained_by.is_some())
            .then(failing(b).cmp(&failing(a)))
            .then(b.finding.severity.cmp(&a.finding.severity))
            .then(b.confidence_score.total_cmp(&a.confidence_score))
            .then(ga.cmp(gb))
            .then(ia.cmp(ib))
    });
    all.into_iter().map(|(_, _, r)| r).collect()
}

fn two_decimals<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((v * 100.0).round() / 100.0)
}

pub fn confidence_of(f: &Finding) -> f64 {
    f.confidence.unwrap_or(match f.strength {
        Strength::Direct => 0.95,
        Strength::Strong => 0.8,
        Strength::Circumstantial => 0.5,
    })
}

/// Orders every finding of `runs`. Findings of the same cause from several checks become
/// one, keeping the strongest as the lead and merging the others' evidence and fixes:
/// the error log saying "Connection refused" corroborates "nothing listens", it is not a
/// second root cause.
pub fn rank(runs: &[CheckRun]) -> Vec<RankedFinding> {
    let mut all: Vec<(usize, RankedFinding)> = Vec::new();
    for (order, run) in runs.iter().enumerate() {
        if let Verdict::Found(findings) = &run.verdict {
            for f in findings {
                let ranked = RankedFinding {
                    confidence_score: confidence_of(f),
                    finding: f.clone(),
                    check: run.id,
                    corroborated_by: Vec::new(),
                    explained_by: None,
                    location: None,
                };
                match all.iter_mut().find(|(_, r)| r.finding.cause == f.cause) {
                    Some((_, existing)) => merge(existing, ranked),
                    None => all.push((order, ranked)),
                }
            }
        }
    }
    let roots: Vec<(Cause, f64)> = all
        .iter()
        .map(|(_, r)| (r.finding.cause, r.confidence_score))
        .filter(|(_, c)| *c >= ROOT_MIN_CONFIDENCE)
        .collect();
    for (_, r) in &mut all {
        r.explained_by = roots
            .iter()
            .filter(|(root, _)| {
                *root != r.finding.cause && root.explains().contains(&r.finding.cause)
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(c, _)| *c);
    }
    all.sort_by(|(oa, a), (ob, b)| {
        a.explained_by
            .is_some()
            .cmp(&b.explained_by.is_some())
            .then(b.finding.severity.cmp(&a.finding.severity))
            .then(b.confidence_score.total_cmp(&a.confidence_score))
            .then(oa.cmp(ob))
    });
    all.into_iter().map(|(_, r)| r).collect()
}

/// Folds `other` (same cause) into `lead`; the stronger of the two leads.
fn merge(lead: &mut RankedFinding, mut other: RankedFinding) {
    let other_leads = (
        other.finding.severity,
        other.finding.strength,
        other.confidence_score,
    ) > (
        lead.finding.severity,
        lead.finding.strength,
        lead.confidence_score,
    );
    if other_leads {
        std::mem::swap(lead, &mut other);
    }
    // Two independent sources agreeing make the cause more likely, not less.
    lead.confidence_score = (lead.confidence_score.max(other.confidence_score) + 0.05).min(0.99);
    for e in other.finding.evidence {
        if !lead.finding.evidence.contains(&e) {
            lead.finding.evidence.push(e);
        }
    }
    // The lead's fixes are the ones to run; another check's only fill a gap.
    if lead.finding.fixes.is_empty() {
        lead.finding.fixes = other.finding.fixes;
    }
    lead.corroborated_by.push(other.check);
    lead.corroborated_by.extend(other.corroborated_by);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::Severity;

    fn run(id: &'static str, findings: Vec<Finding>) -> CheckRun {
        CheckRun {
            id,
            verdict: Verdict::Found(findings),
            duration_ms: 0.0,
        }
    }

    #[test]
    fn a_sure_root_goes_before_the_symptom_it_explains() {
        let down = Finding::new(
            Cause::UpstreamDown,
            Severity::Critical,
            Strength::Direct,
            "down",
        );
        let pm = Finding::new(
            Cause::PortMismatch,
            Severity::Critical,
            Strength::Circumstantial,
            "pm",
        )
        .confidence(0.9);
        let ranked = rank(&[run("a", vec![down]), run("b", vec![pm])]);
        assert_eq!(ranked[0].finding.cause, Cause::PortMismatch);
        assert_eq!(ranked[1].explained_by, Some(Cause::PortMismatch));
    }

    /// PHP-FPM over TCP: connect timeouts after "server reached pm.max_children" are the
    /// full pool's symptom (issue 11).
    #[test]
    fn a_full_pool_explains_the_connect_timeouts() {
        let timeout = Finding::new(
            Cause::UpstreamTimeout,
            Severity::Critical,
            Strength::Direct,
            "upstream timed out (110) while connecting to upstream",
        );
        let pool = Finding::new(
            Cause::PoolExhausted,
            Severity::Critical,
            Strength::Direct,
            "pool",
        )
        .confidence(0.9);
        let ranked = rank(&[run("a", vec![timeout]), run("b", vec![pool])]);
        assert_eq!(ranked[0].finding.cause, Cause::PoolExhausted);
        assert_eq!(ranked[1].explained_by, Some(Cause::PoolExhausted));
    }

    #[test]
    fn an_unsure_root_does_not_push_direct_evidence_down() {
        let down = Finding::new(
            Cause::UpstreamDown,
            Severity::Critical,
            Strength::Direct,
            "down",
        );
        let pm = Finding::new(
            Cause::PortMismatch,
            Severity::Critical,
            Strength::Circumstantial,
            "pm",
        )
        .confidence(0.5);
        let ranked = rank(&[run("a", vec![down]), run("b", vec![pm])]);
        assert_eq!(ranked[0].finding.cause, Cause::UpstreamDown);
        assert_eq!(ranked[0].explained_by, None);
    }

    #[test]
    fn the_same_cause_from_two_checks_is_one_finding_with_both_evidences() {
        let down = Finding::new(
            Cause::UpstreamDown,
            Severity::Critical,
            Strength::Strong,
            "down",
        )
        .evidence("/proc/net/tcp", "nothing");
        let log = Finding::new(
            Cause::UpstreamDown,
            Severity::Critical,
            Strength::Direct,
            "log",
        )
        .evidence("error.log:3", "refused");
        let ranked = rank(&[
            run("port-bound", vec![down]),
            run("error-log-causes", vec![log]),
        ]);
        assert_eq!(ranked.len(), 1);
        assert_eq!(ranked[0].finding.title, "log", "the direct evidence leads");
        assert_eq!(ranked[0].check, "error-log-causes");
        assert_eq!(ranked[0].corroborated_by, ["port-bound"]);
        assert_eq!(ranked[0].finding.evidence.len(), 2);
        assert!(ranked[0].confidence_score > 0.95);
    }

    #[test]
    fn severity_then_confidence_then_pipeline_order() {
        let w = Finding::new(
            Cause::KeepaliveRace,
            Severity::Warning,
            Strength::Direct,
            "w",
        );
        let c1 = Finding::new(
            Cause::HeaderTooBig,
            Severity::Critical,
            Strength::Strong,
            "c1",
        );
        let c2 = Finding::new(
            Cause::ProtocolMismatch,
            Severity::Critical,
            Strength::Direct,
            "c2",
        );
        let ranked = rank(&[run("a", vec![w]), run("b", vec![c1]), run("c", vec![c2])]);
        let order: Vec<_> = ranked.iter().map(|r| r.finding.title.as_str()).collect();
        assert_eq!(order, ["c2", "c1", "w"]);
    }

    fn scoped(failing: bool, addr: &str) -> Option<FindingLocation> {
        Some(FindingLocation {
            path: Some("/".into()),
            modifier: String::new(),
            pattern: "/".into(),
            file: "f".into(),
            line: 1,
            directive: None,
            target: None,
            upstreams: vec![addr.into()],
            failing,
        })
    }

    #[test]
    fn the_failing_upstream_leads_and_a_shared_finding_is_kept_once() {
        let quiet = [
            run(
                "a",
                vec![Finding::new(
                    Cause::UpstreamDown,
                    Severity::Critical,
                    Strength::Direct,
                    "down",
                )],
            ),
            run(
                "fd",
                vec![Finding::new(
                    Cause::FdExhaustion,
                    Severity::Warning,
                    Strength::Strong,
                    "nginx out of fds",
                )],
            ),
        ];
        let loud = [
            run(
                "b",
                vec![Finding::new(
                    Cause::KeepaliveRace,
                    Severity::Warning,
                    Strength::Direct,
                    "race",
                )],
            ),
            run(
                "fd",
                vec![Finding::new(
                    Cause::FdExhaustion,
                    Severity::Warning,
                    Strength::Strong,
                    "nginx out of fds",
                )],
            ),
        ];
        let ranked = rank_scoped(&[
            ScopedRuns {
                location: scoped(false, "127.0.0.1:1"),
                runs: &quiet,
            },
            ScopedRuns {
                location: scoped(true, "127.0.0.1:2"),
                runs: &loud,
            },
        ]);
        let order: Vec<_> = ranked.iter().map(|r| r.finding.cause).collect();
        assert_eq!(
            order,
            [
                Cause::KeepaliveRace,
                Cause::UpstreamDown,
                Cause::FdExhaustion
            ]
        );
        assert_eq!(
            ranked[0].location.as_ref().unwrap().upstreams,
            ["127.0.0.1:2"]
        );
    }

    /// A site-level finding (the balancer's failed health checks) that rank() merged into
    /// the dead upstream's own finding in that upstream's view is not repeated, on the
    /// wrong location, from the other upstream's view.
    #[test]
    fn a_site_level_finding_merged_in_one_view_is_not_repeated_from_another() {
        let health = || {
            Finding::new(
                Cause::UpstreamDown,
                Severity::Critical,
                Strength::Strong,
                "health checks on /health fail",
            )
            .evidence("lb_access.log", "3 of 3 health checks failed")
        };
        let dead = [
            run(
                "port-bound",
                vec![Finding::new(
                    Cause::UpstreamDown,
                    Severity::Critical,
                    Strength::Direct,
                    "nothing listens on 127.0.0.1:9",
                )
                .evidence("/proc/net/tcp", "no socket listens on 127.0.0.1:9")],
            ),
            run("health-check-path", vec![health()]),
        ];
        let healthy = [run("health-check-path", vec![health()])];
        for order in [[true, false], [false, true]] {
            let groups: Vec<ScopedRuns> = order
                .iter()
                .map(|&first_dead| ScopedRuns {
                    location: scoped(
                        first_dead,
                        if first_dead {
                            "127.0.0.1:9"
                        } else {
                            "127.0.0.1:8"
                        },
                    ),
                    runs: if first_dead { &dead } else { &healthy },
                })
                .collect();
            let ranked = rank_scoped(&groups);
            assert_eq!(ranked.len(), 1, "{ranked:#?}");
            assert_eq!(
                ranked[0].location.as_ref().unwrap().upstreams,
                ["127.0.0.1:9"]
            );
            assert_eq!(ranked[0].finding.evidence.len(), 2);
        }
    }
}
