//! Check `crash-loop`: the process manager keeps restarting the upstream app.
//!
//! Detects: a systemd unit that hit its start limit ("Start request repeated too quickly",
//! Result=start-limit-hit), is in `auto-restart` or counts NRestarts ≥ 3; a PM2 app that is
//! `errored` or restarted ≥ 3 times and up for under a minute; a process behind the upstream
//! address that is seconds old under a supervisor, or whose pid changed between two looks.
//!
//! Why nginx returns 502: between crashes nothing listens (111: Connection refused), and a
//! crash during a request closes the connection (upstream prematurely closed connection);
//! once systemd gives up, the app stays down.
//!
//! Evidence used: `facts.systemd` (status and journal), `facts.pm2`, `facts.liveness`,
//! `facts.collected_at` (as "now" for PM2 uptime).
//!
//! False positives avoided: PM2 apps are reported only when they serve the route's port or
//! own its listener; a unit that restarted a few times but now runs steadily is a warning,
//! not a failure; a young process without a supervisor parent is not a loop.
//!
//! See: docs/causes/crash-loop.md.

use super::{Check, Finding, Fix, Severity, Strength, Verdict};
use crate::cause::Cause;
use crate::facts::{Facts, JournalEventKind, Pm2App, UnitFacts, UpstreamLiveness, WallTime};

pub struct CrashLoop;

/// Restarts from which a unit or app counts as looping.
const LOOP_RESTARTS: u32 = 3;

impl Check for CrashLoop {
    fn id(&self) -> &'static str {
        "crash-loop"
    }

    fn causes(&self) -> &'static [Cause] {
        &[Cause::CrashLoop]
    }

    fn run(&self, facts: &Facts) -> Verdict {
        let mut skipped = Vec::new();
        let mut looked = Vec::new();
        let mut found = Vec::new();
        match facts.systemd.get() {
            Ok(units) => {
                looked.push(format!("{} systemd unit(s)", units.len()));
                found.extend(units.iter().filter_map(unit_finding));
            }
            Err(e) => skipped.push(e),
        }
        match facts.pm2.get() {
            Ok(apps) => {
                let related: Vec<&Pm2App> =
                    apps.iter().filter(|a| serves_route(facts, a)).collect();
                looked.push(format!("{} PM2 app(s) for this route", related.len()));
                found.extend(related.into_iter().filter_map(|a| pm2_finding(facts, a)));
            }
            Err(e) => skipped.push(e),
        }
        match facts.liveness.get() {
            Ok(looks) => {
                looked.push(format!(
                    "{} upstream address(es) looked at repeatedly",
                    looks.len()
                ));
                let churn = error_log_churn(facts);
                found.extend(looks.iter().filter_map(|l| {
                    liveness_finding(facts, l, initial_listener_pid(facts, &l.address), churn)
                }));
            }
            Err(e) => skipped.push(e),
        }
        if let Some(f) = alternating_log_finding(facts) {
            found.push(f);
        }
        if !found.is_empty() {
            return Verdict::Found(found);
        }
        if looked.is_empty() {
            return Verdict::skipped(format!("no process manager facts: {}", skipped.join("; ")));
        }
        Verdict::pass(format!("no restart loop in {}", looked.join(", ")))
    }
}

fn serves_route(facts: &Facts, a: &Pm2App) -> bool {
    if facts.route_upstreams().is_empty() {
        return true;
    }
    a.env_ports.iter().any(|p| facts.names_upstream(p))
        || a.pid.is_some_and(|pid| {
            facts
                .upstream_listener_owners()
                .iter()
                .any(|(p, _)| *p == pid)
        })
}

fn unit_finding(u: &UnitFacts) -> Option<Finding> {
    let s = &u.status;
    let id = &s.id;
    let journal_src = u.journal_source.as_deref().unwrap_or("journal");
    let limit_line = u
        .journal
        .iter()
        .rfind(|e| e.kind == JournalEventKind::StartLimitHit);
    let scheduled = u
        .journal
        .iter()
        .filter(|e| e.kind == JournalEventKind::ScheduledRestart)
        .count() as u32;
    let restarts = s.n_restarts.unwrap_or(0).max(scheduled);
    let gave_up = s.result.as_deref() == Some("start-limit-hit") || limit_line.is_some();
    let restarting = s.sub_state.as_deref() == Some("auto-restart");
    let running =
        s.active_state.as_deref() == Some("active") && s.sub_state.as_deref() == Some("running");
    if !gave_up && !restarting && restarts < LOOP_RESTARTS {
        return None;
    }
    let (severity, title) = if gave_up && !running {
        (
            Severity::Critical,
            format!("{id} crashed {restarts} times and systemd gave up restarting it"),
        )
    } else if running {
        (
            Severity::Warning,
            format!("{id} was restarted {restarts} times; it runs now but keeps dying"),
        )
    } else {
        (
            Severity::Critical,
            format!(
                "{id} is crash-looping ({restarts} restarts, now {})",
                s.sub_state.as_deref().unwrap_or("down")
            ),
        )
    };
    let mut f = Finding::new(Cause::CrashLoop, severity, Strength::Direct, title).evidence(
        crate::parse::systemd::show_source(id),
        format!(
            "ActiveState={} SubState={} Result={} NRestarts={} ExecMainStatus={}",
            s.active_state.as_deref().unwrap_or("?"),
            s.sub_state.as_deref().unwrap_or("?"),
            s.result.as_deref().unwrap_or("?"),
            s.n_restarts.map_or("?".to_string(), |n| n.to_string()),
            s.exec_main_status
                .map_or("?".to_string(), |n| n.to_string()),
        ),
    );
    if let Some(e) = u
        .journal
        .iter()
        .rfind(|e| e.kind == JournalEventKind::MainProcessExited)
    {
        f = f.evidence(format!("{journal_src}:{}", e.line), e.message.clone());
    }
    if let Some(e) = limit_line {
        f = f.evidence(format!("{journal_src}:{}", e.line), e.message.clone());
    }
    // The app's own last words before the crash, when the journal has them.
    if let Some(e) = u
        .journal
        .iter()
        .rfind(|e| e.kind == JournalEventKind::Other)
    {
        f = f.evidence(
            format!("{journal_src}:{}", e.line),
            format!("{}: {}", e.process, e.message),
        );
    }
    f = f.fix(Fix::safe(
        format!("read why {id} exits"),
        crate::fixes::systemd::journal(id),
    ));
    if s.result.as_deref() == Some("oom-kill") {
        f = f.evidence(
            crate::parse::systemd::show_source(id),
            "Result=oom-kill: the kernel killed it for memory (see oom-killed)",
        );
    }
    if let Some(path) = &s.fragment_path {
        f = f.fix(Fix::safe(
            format!("check the command and environment of {id}"),
            crate::fixes::systemd::cat(id, path),
        ));
    }
    if gave_up && !running {
        f = f.fix(Fix::review(
            format!("after fixing the cause, clear the start limit and start {id}"),
            crate::fixes::systemd::reset_failed_restart(id),
        ));
    } else {
        f = f.fix(Fix::review(
            format!("restart {id} once fixed"),
            crate::fixes::systemd::restart(id),
        ));
    }
    Some(f)
}

/// Seconds the app has been up, from PM2's pm_uptime and the snapshot time.
fn pm2_uptime_secs(facts: &Facts, a: &Pm2App) -> Option<i64> {
    let now = facts.collected_at?;
    Some(now.timestamp_millis().checked_sub(a.pm_uptime_ms?)? / 1000)
}

fn pm2_finding(facts: &Facts, a: &Pm2App) -> Option<Finding> {
    let uptime = pm2_uptime_secs(facts, a);
    let errored = a.status == "errored";
    let young_and_restarted =
        a.restart_time >= LOOP_RESTARTS && uptime.is_some_and(|u| (0..60).contains(&u));
    let unstable = a.unstable_restarts > 0;
    if !errored && !young_and_restarted && !unstable {
        return None;
    }
    let title = if errored {
        format!(
            "PM2 app {} crashed {} times and PM2 stopped restarting it (errored)",
            a.name, a.restart_time
        )
    } else {
        format!(
            "PM2 app {} keeps restarting ({} restarts)",
            a.name, a.restart_time
        )
    };
    let severity = if errored || young_and_restarted {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let mut text = format!(
        "{} (pm_id {}): status {}, restart_time {}, unstable_restarts {}",
        a.name, a.pm_id, a.status, a.restart_time, a.unstable_restarts
    );
    if let Some(u) = uptime.filter(|_| a.status == "online") {
        text.push_str(&format!(", up {u} s"));
    }
    if !a.env_ports.is_empty() {
        text.push_str(&format!(", env {}", a.env_ports.join(" ")));
    }
    let mut f = Finding::new(Cause::CrashLoop, severity, Strength::Direct, title)
        .evidence(crate::parse::pm2::SOURCE, text)
        .fix(Fix::safe(
            format!("read why {} exits", a.name),
            crate::fixes::pm2::logs(&a.name),
        ));
    if let Some(err) = &a.err_log {
        f = f.fix(Fix::safe(
            "the app's error log",
            crate::fixes::inspect::tail(err, 100),
        ));
    }
    f = f.fix(Fix::review(
        format!("restart {} once fixed", a.name),
        crate::fixes::pm2::restart(&a.name),
    ));
    Some(f)
}

/// The pid that listened at `address` in the listener scan at the start of the diagnosis.
fn initial_listener_pid(facts: &Facts, address: &str) -> Option<u32> {
    let listeners = facts.listeners.value()?;
    match address.strip_prefix("unix:") {
        Some(path) => listeners.iter().find(|l| l.address == path)?.pid,
        None => {
            let a: std::net::SocketAddr = address.parse().ok()?;
            listeners.iter().find(|l| l.accepts(&a))?.pid
        }
    }
}

/// Error-log lines of the site where the app vanished (refused) or died mid-request
/// (prematurely closed, reset): what a crash loop leaves behind.
fn error_log_churn(facts: &Facts) -> u64 {
    ["upstream-refused", "premature-close", "connection-reset"]
        .iter()
        .filter_map(|c| facts.error_category(c))
        .map(|c| c.count)
        .sum()
}

/// The error log alternates "Connection refused" with "prematurely closed"/"reset" for the
/// site: the app keeps coming up (accepts, starts the request) and dying (cuts it, then
/// nothing listens). Alternation means the two kinds interleave in time, not one after the
/// other (a single crash gives cut-then-refused once; a deploy gives refused-then-fine).
fn alternating_log_finding(facts: &Facts) -> Option<Finding> {
    let w = facts.error_log.value()?;
    let refused = facts.error_category("upstream-refused")?;
    let cut = facts
        .error_category("premature-close")
        .or_else(|| facts.error_category("connection-reset"))?;
    let t = |s: &Option<WallTime>| s.as_ref().and_then(WallTime::at);
    let (rf, rl, cf, cl) = (
        t(&refused.first_seen)?,
        t(&refused.last_seen)?,
        t(&cut.first_seen)?,
        t(&cut.last_seen)?,
    );
    // Interleaved: each kind was seen both before and after (or at) the other's first.
    let interleaved =
        rf <= cl && cf <= rl && (rl > cf || cl > rf) && refused.count + cut.count >= 3;
    if !interleaved {
        return None;
    }
    let mut f = Finding::new(
        Cause::CrashLoop,
        Severity::Critical,
        Strength::Strong,
        format!(
            "the error log alternates refused connections ({}) with connections cut mid-request ({}): the app keeps restarting",
            refused.count, cut.count
        ),
    );
    for s in refused
        .samples
        .iter()
        .take(1)
        .chain(cut.samples.iter().take(1))
    {
        f = f.evidence(format!("{}:{}", w.file, s.line), s.text.clone());
    }
    Some(f.fix(Fix::safe(
        "find the process manager restarting it (the parent of whatever listens now)",
        crate::fixes::inspect::newest_processes(),
    )))
}

/// The listener's pid at each look, oldest first: the listener scan at the start of the
/// diagnosis, then the liveness looks (first and last only in snapshots that predate them).
fn pid_sequence(l: &UpstreamLiveness, initial: Option<u32>) -> Vec<Option<u32>> {
    let mut seq: Vec<Option<u32>> = initial.into_iter().map(Some).collect();
    if l.samples.is_empty() {
        seq.push(l.first.as_ref().map(|p| p.pid));
        seq.push(l.second.as_ref().map(|p| p.pid));
    } else {
        seq.extend(l.samples.iter().copied());
    }
    seq
}

fn liveness_finding(
    facts: &Facts,
    l: &UpstreamLiveness,
    initial: Option<u32>,
    churn: u64,
) -> Option<Finding> {
    let who = |p: &crate::facts::ProcLook| {
        format!(
            "pid {} ({}), {} s old, parent {}",
            p.pid,
            p.comm,
            p.age_secs.map_or("?".to_string(), |a| format!("{a:.1}")),
            p.parent_comm.as_deref().unwrap_or("?")
        )
    };
    let seq = pid_sequence(l, initial);
    let mut pids: Vec<u32> = Vec::new();
    for p in seq.iter().flatten() {
        if !pids.contains(p) {
            pids.push(*p);
        }
    }
    let gaps = seq.iter().filter(|p| p.is_none()).count();
    let changes = seq.windows(2).filter(|w| w[0] != w[1]).count();
    let subject = l.first.as_ref().or(l.second.as_ref());
    let sup = subject.and_then(|p| p.supervisor.as_deref());
    let young = subject.is_some_and(|p| p.age_secs.is_some_and(|a| a < 10.0));
    let looks = format!(
        "{} looks in {} ms: {}",
        seq.len(),
        l.interval_ms,
        seq.iter()
            .map(|p| p.map_or("-".to_string(), |p| p.to_string()))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let (severity, strength, title) = if pids.len() >= 2 {
        (
            Severity::Critical,
            Strength::Direct,
            format!(
                "the process behind {} changed {} time(s) within {} ms (pids {})",
                l.address,
                pids.len() - 1,
                l.interval_ms,
                pids.iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    } else if pids.len() == 1 && changes > 0 && seq.last() == Some(&None) && gaps == 1 {
        (
            Severity::Critical,
            Strength::Direct,
            format!(
                "the process behind {} (pid {}) died while badgw looked ({} ms)",
                l.address, pids[0], l.interval_ms
            ),
        )
    } else if pids.len() == 1 && changes > 0 {
        // A listener that comes and goes (or appears) with the same pid in view: a (re)start
        // caught in the act. Under a supervisor, or with the error log showing the app
        // vanish, that is a restart loop; otherwise it may be a deploy.
        if sup.is_none() && churn == 0 {
            return None;
        }
        (
            if churn > 0 {
                Severity::Critical
            } else {
                Severity::Warning
            },
            Strength::Strong,
            format!(
                "the listener at {} came and went while badgw looked ({} ms): the app is restarting",
                l.address, l.interval_ms
            ),
        )
    } else if pids.len() == 1 && sup.is_some() && young {
        // Every look caught the same young life: a restart just happened. With the error
        // log showing the app vanishing or dying mid-request, that is the loop itself.
        (
            if churn > 0 {
                Severity::Critical
            } else {
                Severity::Warning
            },
            Strength::Strong,
            format!(
                "the process behind {} is only {:.1} s old under {}{}",
                l.address,
                subject.and_then(|p| p.age_secs).unwrap_or(0.0),
                sup.unwrap_or("a supervisor"),
                if churn > 0 {
                    format!(", and the error log shows it vanishing or dying mid-request ({churn} line(s))")
                } else {
                    String::new()
                }
            ),
        )
    } else {
        return None;
    };
    let mut f = Finding::new(Cause::CrashLoop, severity, strength, title)
        .evidence(format!("listener at {}", l.address), looks);
    for (n, p) in [("first", l.first.as_ref()), ("last", l.second.as_ref())] {
        if let Some(p) = p {
            f = f.evidence(format!("/proc/{}", p.pid), format!("{n} look: {}", who(p)));
        }
    }
    let unit = subject.and_then(|p| p.unit.as_deref());
    let fix = match (unit, sup) {
        (Some(unit), _) => Fix::safe(
            format!("read why {unit} exits"),
            crate::fixes::systemd::journal(unit),
        ),
        (None, Some("pm2")) => Fix::safe("read why the app exits", crate::fixes::pm2::logs_all()),
        (None, Some("supervisord")) => Fix::safe(
            "see the program's state",
            crate::fixes::inspect::supervisor_status(facts),
        ),
        _ => Fix::safe(
            "see the process tree",
            crate::fixes::inspect::children_of(subject.and_then(|p| p.ppid).unwrap_or(1)),
        ),
    };
    Some(f.fix(fix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::*;
    use crate::parse::systemd::{parse_journal, parse_systemctl_show};
    use crate::test_support::*;

    fn billing() -> UnitFacts {
        UnitFacts {
            status: parse_systemctl_show(include_bytes!(
                "../../fixtures/host/systemd/show-billing-start-limit.txt"
            ))
            .remove(0),
            why: "ExecStart names 127.0.0.1:8000".into(),
            journal_source: Some("journalctl -u billing.service".into()),
            journal: parse_journal(include_bytes!(
                "../../fixtures/host/systemd/journal-billing-short-iso.txt"
            )),
        }
    }

    #[test]
    fn systemd_start_limit_hit() {
        let mut f = FactsBuilder::route_only("127.0.0.1:8000", "http").build();
        f.systemd = Fact::collected(vec![billing()]);
        let Verdict::Found(found) = CrashLoop.run(&f) else {
            panic!("expected a finding");
        };
        assert_eq!(found.len(), 1);
        let x = &found[0];
        assert_eq!(x.severity, Severity::Critical);
        assert_eq!(
            x.title,
            "billing.service crashed 5 times and systemd gave up restarting it"
        );
        assert_eq!(x.evidence[1].source, "journalctl -u billing.service:12");
        assert_eq!(x.evidence[2].source, "journalctl -u billing.service:14");
        assert_eq!(x.evidence[3].text, "gunicorn: django.core.exceptions.ImproperlyConfigured: SECRET_KEY setting must not be empty.");
        let cmds: Vec<&str> = x.fixes.iter().map(|f| f.command.as_str()).collect();
        assert_eq!(
            cmds[0],
            "sudo journalctl -u billing.service -n 100 --no-pager"
        );
        assert!(cmds.contains(&"sudo systemctl reset-failed billing.service && sudo systemctl restart billing.service"));
    }

    #[test]
    fn pm2_errored_app_on_the_route_port_only() {
        let apps = crate::parse::pm2::parse_pm2_jlist(include_bytes!(
            "../../fixtures/host/pm2-jlist.json"
        ))
        .expect("fixture parses");
        let mut f = FactsBuilder::route_only("127.0.0.1:3018", "http").build();
        f.pm2 = Fact::collected(apps.clone());
        let Verdict::Found(found) = CrashLoop.run(&f) else {
            panic!("expected a finding");
        };
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].title,
            "PM2 app worker crashed 15 times and PM2 stopped restarting it (errored)"
        );
        assert_eq!(
            found[0].fixes[0].command,
            "pm2 logs worker --lines 100 --nostream"
        );
        // The route to the healthy app on 3017 passes.
        let mut g = FactsBuilder::route_only("127.0.0.1:3017", "http").build();
        g.pm2 = Fact::collected(apps);
        assert_eq!(
            CrashLoop.run(&g),
            Verdict::pass("no restart loop in 1 PM2 app(s) for this route")
        );
    }

    #[test]
    fn pid_changed_between_looks() {
        let mut f = FactsBuilder::route_only("127.0.0.1:3000", "http").build();
        let look = |pid, age| ProcLook {
            pid,
            comm: "node".into(),
            age_secs: Some(age),
            ppid: Some(1),
            parent_comm: Some("systemd".into()),
            supervisor: Some("systemd".into()),
            unit: Some("shop-api.service".into()),
        };
        f.liveness = Fact::collected(vec![UpstreamLiveness {
            address: "127.0.0.1:3000".into(),
            interval_ms: 200,
            first: Some(look(48390, 0.4)),
            second: Some(look(48402, 0.1)),
            samples: vec![],
        }]);
        let Verdict::Found(found) = CrashLoop.run(&f) else {
            panic!("expected a finding");
        };
        assert_eq!(
            found[0].title,
            "the process behind 127.0.0.1:3000 changed 1 time(s) within 200 ms (pids 48390, 48402)"
        );
        assert_eq!(
            found[0].fixes[0].command,
            "sudo journalctl -u shop-api.service -n 100 --no-pager"
        );
        // Same pid, old process: no loop.
        f.liveness = Fact::collected(vec![UpstreamLiveness {
            address: "127.0.0.1:3000".into(),
            interval_ms: 200,
            first: Some(look(48390, 3600.0)),
            second: Some(look(48390, 3600.2)),
            samples: vec![Some(48390); 6],
        }]);
        assert!(matches!(CrashLoop.run(&f), Verdict::Pass { .. }));
    }

    /// Both looks catch the same 0.3 s old life under a shell loop: a warning alone, critical
    /// once the error log shows the app vanishing or dying mid-request.
    #[test]
    fn young_process_under_a_shell_loop_with_error_log_churn() {
        let mut f = FactsBuilder::route_only("127.0.0.1:3000", "http").build();
        let look = ProcLook {
            pid: 9001,
            comm: "labapp".into(),
            age_secs: Some(0.3),
            ppid: Some(9000),
            parent_comm: Some("sh".into()),
            supervisor: Some("a shell loop".into()),
            unit: None,
        };
        f.liveness = Fact::collected(vec![UpstreamLiveness {
            address: "127.0.0.1:3000".into(),
            interval_ms: 150,
            first: Some(look.clone()),
            second: Some(look.clone()),
            samples: vec![Some(9001); 6],
        }]);
        let Verdict::Found(found) = CrashLoop.run(&f) else {
            panic!("expected a finding");
        };
        assert_eq!(found[0].severity, Severity::Warning);
        f.error_log = error_log_with(
            "premature-close",
            1,
            "2026/11/22 03:12:04",
            "upstream prematurely closed connection while reading response header from upstream",
        );
        let Verdict::Found(found) = CrashLoop.run(&f) else {
            panic!("expected a finding");
        };
        assert_eq!(found[0].severity, Severity::Critical, "{}", found[0].title);
        assert!(
            found[0].title.contains("under a shell loop"),
            "{}",
            found[0].title
        );
        // Lives shorter than the looks: the listener comes and goes.
        f.liveness = Fact::collected(vec![UpstreamLiveness {
            address: "127.0.0.1:3000".into(),
            interval_ms: 150,
            first: None,
            second: Some(look),
            samples: vec![None, Some(9001), None, None, Some(9001), Some(9001)],
        }]);
        let Verdict::Found(found) = CrashLoop.run(&f) else {
            panic!("expected a finding");
        };
        assert!(
            found[0].title.contains("came and went"),
            "{}",
            found[0].title
        );
        assert_eq!(found[0].severity, Severity::Critical);
        assert_eq!(
            found[0].evidence[0].text,
            "6 looks in 150 ms: - 9001 - - 9001 9001"
        );
    }

    /// Refused and cut lines interleaved in time: a loop. Cut once, then refused: not.
    #[test]
    fn error_log_alternating_refused_and_cut_is_a_loop() {
        let mut f = FactsBuilder::route_only("127.0.0.1:3000", "http").build();
        f.liveness = Fact::collected(vec![]);
        let window = |cut_first: &str, cut_last: &str| {
            let mut w = error_log_with(
                "upstream-refused",
                4,
                "2026/11/22 03:12:04",
                "connect() failed (111: Connection refused) while connecting to upstream",
            );
            if let Fact::Collected { value } = &mut w {
                value.categories[0].last_seen = Some("2026/11/22 03:12:40".parse().unwrap());
                value.categories.push(LogCategoryCount {
                    category: "premature-close".into(),
                    count: 3,
                    first_seen: Some(cut_first.parse().unwrap()),
                    last_seen: Some(cut_last.parse().unwrap()),
                    samples: vec![],
                });
            }
            w
        };
        f.error_log = window("2026/11/22 03:12:10", "2026/11/22 03:12:30");
        let Verdict::Found(found) = CrashLoop.run(&f) else {
            panic!("expected a finding");
        };
        assert!(
            found[0].title.starts_with("the error log alternates"),
            "{}",
            found[0].title
        );
        assert_eq!(found[0].severity, Severity::Critical);
        // One crash: cut at 03:12:00, refused from 03:12:04 on.
        f.error_log = window("2026/11/22 03:12:00", "2026/11/22 03:12:00");
        assert!(matches!(CrashLoop.run(&f), Verdict::Pass { .. }));
    }

    #[test]
    fn skipped_without_sources() {
        let f = FactsBuilder::route_only("127.0.0.1:3000", "http").build();
        assert!(
            matches!(CrashLoop.run(&f), Verdict::Skipped { reason } if reason.starts_with("no process manager facts: not collected"))
        );
    }
}
