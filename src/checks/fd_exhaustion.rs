//! Check `fd-exhaustion`: nginx or the upstream app ran out of file descriptors.
//!
//! Detects: nginx's "(24: Too many open files)" (error-log category `fd-exhaustion`), and
//! processes whose open descriptors (/proc/<pid>/fd) reach 90% of their "Max open files"
//! soft limit (/proc/<pid>/limits).
//!
//! Why nginx returns 502: every upstream connection is a descriptor; at the limit, socket()
//! or accept() fails with EMFILE, so nginx cannot open the upstream connection (502), or the
//! app cannot accept it and nginx's connect times out or is reset.
//!
//! Evidence used: `facts.error_log`, `facts.process_limits` (nginx workers and upstream
//! processes, with their systemd unit when known).
//!
//! False positives avoided: only descriptor counts near the soft limit count, not a low limit
//! by itself; an unlimited soft limit is never reported.
//!
//! See: docs/causes/fd-exhaustion.md.

use super::{Check, Finding, Fix, Severity, Strength, Verdict};
use crate::cause::Cause;
use crate::facts::{Facts, ProcLimits, ProcRole};

pub struct FdExhaustion;

impl Check for FdExhaustion {
    fn id(&self) -> &'static str {
        "fd-exhaustion"
    }

    fn causes(&self) -> &'static [Cause] {
        &[Cause::FdExhaustion]
    }

    fn run(&self, facts: &Facts) -> Verdict {
        let limits = facts.process_limits.value();
        let log_hit = facts.error_category("fd-exhaustion");
        if limits.is_none() && facts.error_log.value().is_none() {
            return Verdict::skipped(format!(
                "no process limits ({}) and no error log",
                facts.process_limits.get().err().unwrap_or_default()
            ));
        }
        let near: Vec<&ProcLimits> = limits
            .map(|l| {
                l.iter()
                    .filter(|p| usage(p).is_some_and(|u| u >= 0.9))
                    .collect()
            })
            .unwrap_or_default();
        if near.is_empty() && log_hit.is_none() {
            let n = limits.map_or(0, |l| l.len());
            return Verdict::pass(format!("{n} process(es) below 90% of their open-file limit; no (24: Too many open files) in the error log"));
        }
        let mut found = Vec::new();
        if let Some(c) = log_hit {
            let file = facts
                .error_log
                .value()
                .map(|w| w.file.as_str())
                .unwrap_or("error log");
            let mut f = Finding::new(
                Cause::FdExhaustion,
                Severity::Critical,
                Strength::Direct,
                format!("nginx hit \"Too many open files\" {} times", c.count),
            );
            for s in &c.samples {
                f = f.evidence(format!("{file}:{}", s.line), s.text.clone());
            }
            // Name the nginx workers' current numbers when known.
            for p in limits
                .into_iter()
                .flatten()
                .filter(|p| p.role == ProcRole::NginxWorker)
                .take(2)
            {
                f = f.evidence(format!("/proc/{}/limits", p.pid), limit_text(p));
            }
            f = nginx_fixes(facts, f);
            found.push(f);
        }
        for p in near {
            if log_hit.is_some() && p.role == ProcRole::NginxWorker {
                continue; // already in the log finding
            }
            let u = usage(p).unwrap_or(0.0);
            let sev = if u >= 0.99 {
                Severity::Critical
            } else {
                Severity::Warning
            };
            let who = match p.role {
                ProcRole::Upstream => "the upstream app",
                _ => "nginx",
            };
            let mut f = Finding::new(
                Cause::FdExhaustion,
                sev,
                Strength::Strong,
                format!(
                    "{who} {} (pid {}) uses {:.0}% of its open-file limit",
                    p.comm,
                    p.pid,
                    u * 100.0
                ),
            )
            .evidence(format!("/proc/{}/limits", p.pid), limit_text(p));
            f = match (p.role, p.unit.as_deref()) {
                (ProcRole::Upstream, Some(unit)) => f
                    .fix(Fix::review(
                        format!("raise LimitNOFILE of {unit}"),
                        crate::fixes::systemd::raise_nofile(unit, 65535),
                    ))
                    .fix(Fix::safe("see what the descriptors are (a leak shows as many of one kind)", crate::fixes::inspect::fd_kinds(p.pid))),
                (ProcRole::Upstream, None) => f.fix(Fix::review(
                    "raise the app's limit where it is started (ulimit -n, LimitNOFILE=, or the supervisor's setting)",
                    format!("prlimit --pid {} --nofile=65535:65535", p.pid),
                )),
                _ => nginx_fixes(facts, f),
            };
            found.push(f);
        }
        Verdict::Found(found)
    }
}

fn usage(p: &ProcLimits) -> Option<f64> {
    let soft = p.nofile_soft?;
    let open = p.open_fds?;
    (soft > 0).then(|| open as f64 / soft as f64)
}

fn limit_text(p: &ProcLimits) -> String {
    format!(
        "{} (pid {}): {} open descriptors, Max open files soft {} hard {}",
        p.comm,
        p.pid,
        p.open_fds.map_or("?".to_string(), |n| n.to_string()),
        p.nofile_soft
            .map_or("unlimited".to_string(), |n| n.to_string()),
        p.nofile_hard
            .map_or("unlimited".to_string(), |n| n.to_string()),
    )
}

fn nginx_fixes(facts: &Facts, f: Finding) -> Finding {
    let ctl = crate::fixes::nginx::control(facts);
    f.fix(Fix::review(
        "raise nginx workers' limit: add `worker_rlimit_nofile 65535;` to the main context of nginx.conf (above `events`), keep worker_connections below it",
        ctl.test_and_reload(),
    ))
    .fix(Fix::review(
        "and raise the service's own limit",
        ctl.raise_nofile_shown(65535),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::*;
    use crate::parse::proc::parse_limits_nofile;
    use crate::test_support::*;

    fn app(open: u64) -> ProcLimits {
        let (soft, hard) = parse_limits_nofile(include_str!(
            "../../fixtures/host/proc/limits-node-1024.txt"
        ))
        .expect("fixture parses");
        ProcLimits {
            pid: 48390,
            comm: "node".into(),
            role: ProcRole::Upstream,
            nofile_soft: soft,
            nofile_hard: hard,
            open_fds: Some(open),
            unit: Some("shop-api.service".into()),
        }
    }

    #[test]
    fn app_at_its_limit() {
        let mut f = FactsBuilder::route_only("127.0.0.1:3000", "http").build();
        f.process_limits = Fact::collected(vec![app(1021)]);
        let Verdict::Found(found) = FdExhaustion.run(&f) else {
            panic!("expected a finding")
        };
        assert_eq!(found[0].severity, Severity::Critical);
        assert_eq!(
            found[0].title,
            "the upstream app node (pid 48390) uses 100% of its open-file limit"
        );
        assert_eq!(
            found[0].evidence[0].text,
            "node (pid 48390): 1021 open descriptors, Max open files soft 1024 hard 20000"
        );
        assert!(found[0].fixes[0]
            .command
            .starts_with("sudo systemctl set-property shop-api.service LimitNOFILE=65535"));
    }

    #[test]
    fn error_log_too_many_open_files() {
        let mut f = FactsBuilder::route_only("127.0.0.1:3000", "http").build();
        f.error_log = error_log_with(
            "fd-exhaustion",
            9,
            "2026/11/22 03:12:02",
            "socket() failed (24: Too many open files) while connecting to upstream",
        );
        let Verdict::Found(found) = FdExhaustion.run(&f) else {
            panic!("expected a finding")
        };
        assert_eq!(found[0].strength, Strength::Direct);
        assert_eq!(found[0].title, "nginx hit \"Too many open files\" 9 times");
    }

    #[test]
    fn pass_and_skip() {
        let mut f = FactsBuilder::route_only("127.0.0.1:3000", "http").build();
        assert!(matches!(FdExhaustion.run(&f), Verdict::Skipped { .. }));
        f.process_limits = Fact::collected(vec![app(40)]);
        assert_eq!(FdExhaustion.run(&f), Verdict::pass("1 process(es) below 90% of their open-file limit; no (24: Too many open files) in the error log"));
    }
}
