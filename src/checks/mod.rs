//! Checks: pure functions of [`Facts`], one file each, listed once in [`registry::CHECKS`].
//!
//! A check never prints, never reads the clock and never touches the host: everything it
//! needs is in `Facts`, so it runs the same on a live host and on a recorded snapshot.
//! Each returns a [`Verdict`]; `run_all` times them and turns a panic into an `error` row
//! (a bug in badgw), so one bad check cannot hide the others.

mod crash_loop;
pub mod error_log_causes;
mod fd_exhaustion;
mod oom_killed;
mod pool_exhausted;
pub mod registry;
mod selinux_denied;
mod socket_permission;

pub use crash_loop::CrashLoop;
pub use fd_exhaustion::FdExhaustion;
pub use oom_killed::OomKilled;
pub use pool_exhausted::PoolExhausted;
pub use selinux_denied::SelinuxDenied;
pub use socket_permission::SocketPermission;

mod access_log_origin;
mod address_family;
mod connect_timeout;
mod health_check_path;
mod keepalive_alignment;
mod lb_keepalive_race;
mod listener_matches_config;
mod port_bound;
mod protocol;
mod route;
mod socket_exists;
mod stale_resolution;
mod timeout_alignment;
mod upstream_response;
pub mod upstream_tls_certificate;
mod websocket_upgrade;

pub mod evidence;

pub use access_log_origin::AccessLogOrigin;
pub use address_family::AddressFamily;
pub use connect_timeout::ConnectTimeout;
pub use health_check_path::HealthCheckPath;
pub use keepalive_alignment::KeepaliveAlignment;
pub use lb_keepalive_race::LbKeepaliveRace;
pub use listener_matches_config::ListenerMatchesConfig;
pub use port_bound::PortBound;
pub use protocol::Protocol;
pub use route::Route;
pub use socket_exists::SocketExists;
pub use stale_resolution::StaleResolution;
pub use timeout_alignment::{timeout_table, TimeoutAlignment, TimeoutRow};
pub use upstream_response::UpstreamResponse;
pub use upstream_tls_certificate::UpstreamTlsCertificate;
pub use websocket_upgrade::WebsocketUpgrade;

use serde::Serialize;
use std::time::Instant;

use crate::cause::Cause;
use crate::facts::Facts;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// How directly the evidence shows the cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Strength {
    /// Suggestive only (a similar process on another port).
    Circumstantial,
    /// Strong but indirect (nothing listens at the target, no log line yet).
    Strong,
    /// Seen happening (the probe was refused; the error log names this upstream).
    Direct,
}

/// One piece of evidence: where it was seen, and what was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// `/etc/nginx/sites-enabled/shop:14`, `/proc/net/tcp`, `probe`, `error.log:1832`.
    pub source: String,
    pub text: String,
}

impl Evidence {
    pub fn new(source: impl Into<String>, text: impl Into<String>) -> Self {
        Evidence {
            source: source.into(),
            text: text.into(),
        }
    }
}

impl std::fmt::Display for Evidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.source, self.text)
    }
}

/// Evidence is one string each in JSON (design §5): "source: text".
impl Serialize for Evidence {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

pub use crate::fixes::{Fix, Safety};

/// A root cause found by a check, with its evidence and fixes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub cause: Cause,
    pub severity: Severity,
    pub strength: Strength,
    /// Lower-case start, no final period.
    pub title: String,
    pub evidence: Vec<Evidence>,
    pub fixes: Vec<Fix>,
    /// How sure the check is, 0..1, when it can say better than its strength does
    /// (the report shows the resolved value as `confidence`).
    #[serde(skip)]
    pub confidence: Option<f64>,
}

impl Finding {
    pub fn new(
        cause: Cause,
        severity: Severity,
        strength: Strength,
        title: impl Into<String>,
    ) -> Self {
        Finding {
            cause,
            severity,
            strength,
            title: title.into(),
            evidence: Vec::new(),
            fixes: Vec::new(),
            confidence: None,
        }
    }
    pub fn confidence(mut self, c: f64) -> Self {
        self.confidence = Some(c.clamp(0.0, 1.0));
        self
    }
    pub fn evidence(mut self, source: impl Into<String>, text: impl Into<String>) -> Self {
        self.evidence.push(Evidence::new(source, text));
        self
    }
    pub fn fix(mut self, fix: Fix) -> Self {
        self.fixes.push(fix);
        self
    }
}

/// What a check concluded.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pass {
        detail: String,
    },
    Found(Vec<Finding>),
    /// The fact it needs is unavailable or the check does not apply; says how to get it.
    Skipped {
        reason: String,
    },
    /// The check itself failed (a bug in badgw, caught by the panic backstop): shown as an
    /// `error` row, and the diagnosis is not an all-clear.
    Error {
        reason: String,
    },
}

impl Verdict {
    pub fn pass(detail: impl Into<String>) -> Self {
        Verdict::Pass {
            detail: detail.into(),
        }
    }
    pub fn skipped(reason: impl Into<String>) -> Self {
        Verdict::Skipped {
            reason: reason.into(),
        }
    }
}

/// A check of the pipeline.
pub trait Check: Sync {
    /// Stable kebab-case id shown in `checks[].id`, e.g. "listener-matches-config".
    fn id(&self) -> &'static str;
    /// Causes this check can report; read by docs and the meta tests.
    fn causes(&self) -> &'static [Cause];
    /// Pure: reads `facts` only. No I/O, no clock, no printing.
    fn run(&self, facts: &Facts) -> Verdict;
}

/// Status of one check in the report's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Pass,
    Fail,
    Warn,
    Skipped,
    Error,
}

/// One check's run: its verdict, timed.
#[derive(Debug, Clone)]
pub struct CheckRun {
    pub id: &'static str,
    pub verdict: Verdict,
    pub duration_ms: f64,
}

impl CheckRun {
    pub fn status(&self) -> CheckStatus {
        match &self.verdict {
            Verdict::Pass { .. } => CheckStatus::Pass,
            Verdict::Error { .. } => CheckStatus::Error,
            Verdict::Skipped { .. } => CheckStatus::Skipped,
            Verdict::Found(f) if f.iter().any(|f| f.severity == Severity::Critical) => {
                CheckStatus::Fail
            }
            Verdict::Found(f) if f.iter().any(|f| f.severity == Severity::Warning) => {
                CheckStatus::Warn
            }
            Verdict::Found(_) => CheckStatus::Pass,
        }
    }
}

/// Runs every registered check on `facts`, in registry order.
pub fn run_all(facts: &Facts) -> Vec<CheckRun> {
    run_checks(registry::CHECKS, facts)
}

/// Runs `checks` on `facts`; a panicking check becomes an `error` row, not an abort.
pub fn run_checks(checks: &[&dyn Check], facts: &Facts) -> Vec<CheckRun> {
    checks
        .iter()
        .map(|check| {
            let start = Instant::now();
            let verdict =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check.run(facts)))
                    .unwrap_or_else(|payload| {
                        let what = payload
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| payload.downcast_ref::<String>().cloned())
                            .unwrap_or_default();
                        Verdict::Error {
                            reason: format!("internal error in badgw ({what}); please report it"),
                        }
                    });
            CheckRun {
                id: check.id(),
                verdict,
                duration_ms: start.elapsed().as_secs_f64() * 1000.0,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Panics;
    impl Check for Panics {
        fn id(&self) -> &'static str {
            "panics"
        }
        fn causes(&self) -> &'static [Cause] {
            &[]
        }
        fn run(&self, _: &Facts) -> Verdict {
            panic!("boom in a check")
        }
    }

    struct Passes;
    impl Check for Passes {
        fn id(&self) -> &'static str {
            "passes"
        }
        fn causes(&self) -> &'static [Cause] {
            &[]
        }
        fn run(&self, _: &Facts) -> Verdict {
            Verdict::pass("fine")
        }
    }

    #[test]
    fn a_panicking_check_is_an_error_row_and_the_others_still_run() {
        let facts = Facts::new(crate::facts::RequestSpec::default());
        let runs = run_checks(&[&Panics, &Passes], &facts);
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].status(), CheckStatus::Error);
        assert!(
            matches!(&runs[0].verdict, Verdict::Error { reason } if reason.contains("boom in a check")),
            "{:?}",
            runs[0].verdict
        );
        assert_eq!(runs[1].status(), CheckStatus::Pass);
    }
}
