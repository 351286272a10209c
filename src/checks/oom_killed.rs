//! Check `oom-killed`: the kernel's OOM killer killed the process behind the upstream.
//!
//! Detects: an OOM kill in the kernel log whose victim is the upstream app — matched by pid
//! (the systemd unit's main pid, a PM2 app's pid, the listener's owner), by cgroup (the
//! victim's `task_memcg`/`oom_memcg` is a unit that runs the upstream), by journal
//! ("Failed with result 'oom-kill'"), or by process name (the listener at the upstream
//! address is the same program, restarted).
//!
//! Why nginx returns 502: the app's listening socket dies with the process, so nginx's
//! connect() fails (111: Connection refused) or a request in flight is cut (upstream
//! prematurely closed connection) until a supervisor restarts it.
//!
//! Evidence used: `facts.kernel_log` (OOM kills), `facts.systemd` (unit pids, MemoryMax,
//! journal), `facts.pm2` (pids, max_memory_restart, --max-old-space-size),
//! `facts.listeners`, `facts.error_log` (first upstream error time), `facts.php_fpm`.
//!
//! False positives avoided: a kill of an unrelated process is reported only as a
//! circumstantial warning, never as the root cause; kills long before the first 502 are
//! shown with their distance in time; an unreadable kernel log is a skip, not a pass.
//!
//! See: docs/causes/oom-killed.md.

use super::{Check, Finding, Fix, Severity, Strength, Verdict};
use crate::cause::Cause;
use crate::facts::{AppKind, Facts, OomKill, Pm2App, ProcessRole, UnitFacts, WallTime};

pub struct OomKilled;

/// How a kill was tied to the upstream, strongest first.
enum Match<'a> {
    Unit(&'a UnitFacts, &'static str),
    Pm2(&'a Pm2App),
    ListenerPid,
    SameProgram(String),
    FpmPool,
    /// Nothing listens at the upstream now and its first failure in the error log came
    /// this many seconds after the kill: the app died with the kill and left no trace in
    /// any manager (a plain process, `nohup`, a shell loop, a container without systemd).
    Timing(i64),
}

impl Check for OomKilled {
    fn id(&self) -> &'static str {
        "oom-killed"
    }

    fn causes(&self) -> &'static [Cause] {
        &[Cause::OomKilled]
    }

    fn run(&self, facts: &Facts) -> Verdict {
        let log = match facts.kernel_log.get() {
            Ok(l) => l,
            Err(why) => return Verdict::skipped(format!("kernel log unreadable ({why})")),
        };
        if log.oom_kills.is_empty() {
            return Verdict::pass(format!(
                "no OOM kill in {} ({} lines)",
                log.source, log.lines_read
            ));
        }
        let mut findings = Vec::new();
        let mut unmatched = Vec::new();
        for kill in &log.oom_kills {
            match match_kill(facts, kill) {
                Some(m) => findings.push(finding(facts, kill, m)),
                None => unmatched.push(kill),
            }
        }
        if findings.is_empty() {
            // Not the upstream as far as the facts show: say so, weakly. It is a problem
            // for this site only while the upstream is failing (the victim may be the app
            // under a pid badgw could not tie to it); with a healthy upstream, it is news.
            let k = unmatched[unmatched.len() - 1];
            let upstream_failing = facts.probes.iter().any(|p| p.error.is_some());
            let f = Finding::new(
                Cause::OomKilled,
                if upstream_failing {
                    Severity::Warning
                } else {
                    Severity::Info
                },
                Strength::Circumstantial,
                format!(
                    "the OOM killer killed {} (pid {}), not matched to the upstream",
                    k.comm, k.pid
                ),
            )
            .evidence(k.origin.to_string(), k.text.clone())
            .fix(Fix::safe(
                "see what uses memory now",
                crate::fixes::inspect::top_memory(),
            ));
            return Verdict::Found(vec![f]);
        }
        // The most recent matched kill first: it is the one that explains the 502s now.
        findings.reverse();
        Verdict::Found(findings)
    }
}

fn match_kill<'a>(facts: &'a Facts, kill: &OomKill) -> Option<Match<'a>> {
    if let Some(units) = facts.systemd.value() {
        for u in units {
            let s = &u.status;
            if s.exec_main_pid == Some(kill.pid) || s.main_pid == Some(kill.pid) {
                return Some(Match::Unit(u, "its main pid"));
            }
            if kill.unit().is_some_and(|k| k == s.id) {
                return Some(Match::Unit(u, "its cgroup"));
            }
        }
        for u in units {
            if u.status.result.as_deref() == Some("oom-kill")
                || u.journal.iter().any(|e| {
                    e.kind == crate::facts::JournalEventKind::OomKilled
                        || e.detail.as_deref() == Some("oom-kill")
                })
            {
                return Some(Match::Unit(u, "its journal"));
            }
        }
    }
    if let Some(apps) = facts.pm2.value() {
        if let Some(a) = apps.iter().find(|a| a.pid == Some(kill.pid)) {
            return Some(Match::Pm2(a));
        }
    }
    let owners = facts.upstream_listener_owners();
    if owners.iter().any(|(p, _)| *p == kill.pid) {
        return Some(Match::ListenerPid);
    }
    if let Some((_, comm)) = owners
        .iter()
        .find(|(_, c)| !c.is_empty() && *c == kill.comm)
    {
        return Some(Match::SameProgram(comm.clone()));
    }
    if let Some(apps) = facts.pm2.value() {
        // PM2 restarted the app under a new pid: match by the app's port and program.
        if let Some(a) = apps.iter().find(|a| {
            a.env_ports.iter().any(|p| facts.names_upstream(p))
                && (kill.kind == Some(AppKind::Node) || kill.comm == a.name)
        }) {
            return Some(Match::Pm2(a));
        }
    }
    let fastcgi = facts
        .nginx
        .value()
        .and_then(|n| n.route.as_ref())
        .and_then(|r| r.scheme.as_deref())
        == Some("fastcgi");
    if fastcgi && kill.kind == Some(AppKind::PhpFpm) {
        return Some(Match::FpmPool);
    }
    timing_match(facts, kill).map(Match::Timing)
}

/// Error-log categories that start when the app behind the upstream disappears.
const GONE_CATEGORIES: &[&str] = &[
    "upstream-refused",
    "socket-missing",
    "premature-close",
    "connection-reset",
    "no-live-upstreams",
];

/// Longest gap between the kill and the upstream's first failure that still ties them: a
/// supervisor-less app stays dead, so the first request after the kill fails; sites with
/// little traffic may take a while to send one.
const TIMING_WINDOW_SECS: i64 = 120;

/// Seconds from the kill to the upstream's first failure, when that ties the kill to the
/// upstream by time alone: nothing listens at the upstream now (the victim's socket died
/// with it), the error log's window began before the kill (so the first failure in it is
/// the first after the kill, not just the window's edge), and the first failure follows the
/// kill within [`TIMING_WINDOW_SECS`]. nginx's own processes are never the upstream.
fn timing_match(facts: &Facts, kill: &OomKill) -> Option<i64> {
    if kill.role == Some(ProcessRole::Nginx) || facts.route_upstreams().is_empty() {
        return None;
    }
    // Unknown listeners (not collected) cannot show that the upstream is gone.
    facts.listeners.value()?;
    // A remote upstream's listeners are not visible: "nothing listens" cannot be told.
    let remote = facts.route_upstreams().iter().any(|u| {
        u.socket_addr()
            .is_some_and(|a| facts.listeners_at(&a).is_none())
    });
    if remote {
        return None;
    }
    if !facts.upstream_listener_owners().is_empty() {
        return None;
    }
    let at = kill.time?.naive_local();
    let window = facts.error_log.value()?;
    if let Some(since) = window.since.as_ref().and_then(WallTime::at) {
        if since > at {
            return None;
        }
    }
    let first = window
        .categories
        .iter()
        .filter(|c| c.count > 0 && GONE_CATEGORIES.contains(&c.category.as_str()))
        .filter_map(|c| c.first_seen.as_ref().and_then(WallTime::at))
        .min()?;
    // Both clocks print whole seconds: a request cut by the kill may log in the same
    // second, or the one before when the kill's stamp was rounded up.
    let gap = (first - at).num_seconds();
    (-1..=TIMING_WINDOW_SECS)
        .contains(&gap)
        .then_some(gap.max(0))
}

/// Kills at least this many hours before the snapshot are reported as old.
const STALE_HOURS: i64 = 24;

/// Whole hours between the kill and the snapshot, when both times are known.
fn hours_before_snapshot(facts: &Facts, kill: &OomKill) -> Option<i64> {
    let now = facts.collected_at?.naive_local();
    let t = kill.time?.naive_local();
    Some((now - t).num_hours())
}

fn mib(kb: u64) -> u64 {
    kb.div_ceil(1024)
}

fn finding(facts: &Facts, kill: &OomKill, m: Match) -> Finding {
    let (strength, who) = match &m {
        Match::Unit(u, how) => (
            Strength::Direct,
            format!("{} (matched by {how})", u.status.id),
        ),
        Match::Pm2(a) => (Strength::Direct, format!("PM2 app {}", a.name)),
        Match::ListenerPid => (
            Strength::Direct,
            "the upstream listener's process".to_string(),
        ),
        Match::SameProgram(c) => (
            Strength::Strong,
            format!("{c}, the program now listening at the upstream"),
        ),
        Match::FpmPool => (
            Strength::Strong,
            "a PHP-FPM child of the upstream pool".to_string(),
        ),
        Match::Timing(gap) => (
            Strength::Strong,
            format!(
                "the upstream's process (matched by time: nothing listens at the upstream now, and its first failure came {gap} s after the kill)"
            ),
        ),
    };
    let memcg = kill.constraint.as_deref() == Some("CONSTRAINT_MEMCG") || kill.memcg_oom;
    let title = format!(
        "the kernel OOM killer killed {} (pid {}){}",
        kill.comm,
        kill.pid,
        if memcg {
            ", at its memory limit"
        } else {
            ", the host ran out of memory"
        }
    );
    // A kill long before the snapshot explains an old outage, not necessarily this one.
    let age_h = hours_before_snapshot(facts, kill);
    let (severity, strength) = match age_h {
        Some(h) if h >= STALE_HOURS => (Severity::Warning, Strength::Circumstantial),
        _ => (Severity::Critical, strength),
    };
    let mut f = Finding::new(Cause::OomKilled, severity, strength, title)
        .evidence(kill.origin.to_string(), kill.text.clone());
    if let Some(h) = age_h.filter(|h| *h >= STALE_HOURS) {
        f = f.evidence(
            "kernel log",
            format!("the kill was {h} h before this snapshot"),
        );
    }
    let mut detail = format!("victim is {who}");
    if let Some(rss) = kill.anon_rss_kb {
        detail.push_str(&format!("; it used {} MiB anonymous memory", mib(rss)));
    }
    if let Some(cg) = kill.oom_memcg.as_deref().or(kill.task_memcg.as_deref()) {
        detail.push_str(&format!("; cgroup {cg}"));
    }
    if let Some(c) = &kill.constraint {
        detail.push_str(&format!("; {c}"));
    }
    f = f.evidence("kernel log", detail);
    if let Some(t) = kill.time {
        if let Some(ev) = first_error_relation(facts, t.naive_local()) {
            f = f.evidence("error log", ev);
        }
    }
    match &m {
        Match::Unit(u, _) => unit_fixes(f, kill, u, memcg),
        Match::Pm2(a) => pm2_fixes(f, kill, a),
        Match::FpmPool => f
            .evidence("nginx", "the route passes requests to PHP-FPM (fastcgi)")
            .fix(Fix::review(
                "lower pm.max_children or memory_limit so children fit in RAM (see `badgw explain pool-exhausted` for sizing)",
                crate::fixes::inspect::fpm_memory_settings(),
            )),
        Match::ListenerPid | Match::SameProgram(_) | Match::Timing(_) => f
            .fix(Fix::safe(
                "see what uses memory now",
                crate::fixes::inspect::top_memory(),
            ))
            .fix(Fix::safe("check memory and swap", "free -m")),
    }
}

/// "first upstream error at …, 3 s after the kill", when the error log has one.
fn first_error_relation(facts: &Facts, kill: chrono::NaiveDateTime) -> Option<String> {
    let window = facts.error_log.value()?;
    let first = window
        .categories
        .iter()
        .filter_map(|c| c.first_seen.as_ref())
        .filter_map(|s| s.at().map(|t| (t, s)))
        .min_by_key(|(t, _)| *t)?;
    let secs = (first.0 - kill).num_seconds();
    let rel = if secs >= 0 {
        format!("{secs} s after the kill")
    } else {
        format!("{} s before the kill", -secs)
    };
    Some(format!(
        "first upstream error in {} at {} ({rel})",
        window.file, first.1
    ))
}

fn unit_fixes(mut f: Finding, kill: &OomKill, u: &UnitFacts, memcg: bool) -> Finding {
    let s = &u.status;
    let id = &s.id;
    if let Some(src) = &u.journal_source {
        for e in u.journal.iter().filter(|e| {
            e.kind == crate::facts::JournalEventKind::OomKilled
                || e.detail.as_deref() == Some("oom-kill")
        }) {
            f = f.evidence(format!("{src}:{}", e.line), e.message.clone());
        }
    }
    if let (true, Some(max)) = (memcg, s.memory_max) {
        let used = kill.anon_rss_kb.unwrap_or(max / 1024) * 1024;
        // Headroom of 50% over what the victim used when it was killed.
        let new = (used.max(max) * 3 / 2).div_ceil(1024 * 1024);
        f = f
            .evidence(
                crate::parse::systemd::show_source(id),
                format!("MemoryMax={} ({} MiB)", max, max / (1024 * 1024)),
            )
            .fix(Fix::review(
                format!(
                    "raise MemoryMax of {id} (now {} MiB), or find the leak first",
                    max / (1024 * 1024)
                ),
                crate::fixes::systemd::memory_max_restart(id, new),
            ));
        if kill.kind == Some(AppKind::Node) || s.exec_kind == Some(AppKind::Node) {
            let heap = (max / (1024 * 1024)) * 3 / 4;
            f = f.fix(Fix::review(
                format!("cap node's heap below the limit so V8 collects garbage before the kernel kills it (add to ExecStart in {})", s.fragment_path.as_deref().unwrap_or(id)),
                format!("node --max-old-space-size={heap} …"),
            ));
        }
    } else if !memcg {
        f = f.fix(Fix::safe(
            "see what else uses memory on the host",
            crate::fixes::inspect::top_memory(),
        ));
    }
    f = f.fix(Fix::safe(
        format!("read why {id} stopped"),
        crate::fixes::systemd::journal(id),
    ));
    if s.active_state.as_deref() != Some("active") {
        f = f.fix(Fix::review(
            format!("start {id} again"),
            crate::fixes::systemd::restart(id),
        ));
    }
    f
}

fn pm2_fixes(mut f: Finding, kill: &OomKill, a: &Pm2App) -> Finding {
    f = f.evidence(
        crate::parse::pm2::SOURCE,
        format!(
            "app {} (pm_id {}) status {}, restarted {} times{}",
            a.name,
            a.pm_id,
            a.status,
            a.restart_time,
            a.max_old_space_mb
                .map(|m| format!(", --max-old-space-size={m}"))
                .unwrap_or_default()
        ),
    );
    let rss_mb = kill.anon_rss_kb.map(mib);
    if let Some(rss) = rss_mb {
        // Keep V8's heap well under what the kernel allowed, so a GC happens first.
        let heap = (rss * 3 / 4).max(128);
        f = f.fix(Fix::review(
            format!("cap the heap of {} below the {} MiB it reached (and restart it on high memory instead of being killed)", a.name, rss),
            crate::fixes::pm2::cap_memory(&a.name, heap, rss * 9 / 10),
        ));
    }
    f.fix(Fix::safe(
        format!("read {}'s last output before the kill", a.name),
        crate::fixes::pm2::logs(&a.name),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::*;
    use crate::parse::kernel::{parse_kernel_log, TimeContext};
    use crate::parse::systemd::{parse_journal, parse_systemctl_show};
    use crate::test_support::*;

    fn ctx() -> TimeContext {
        TimeContext {
            boot_time: None,
            year: 2026,
            utc_offset_secs: 0,
            now: None,
        }
    }

    fn shop_api_unit() -> UnitFacts {
        UnitFacts {
            status: parse_systemctl_show(include_bytes!(
                "../../fixtures/host/systemd/show-shop-api-auto-restart.txt"
            ))
            .remove(0),
            why: "Environment names port 3000".into(),
            journal_source: Some("journalctl -u shop-api.service".into()),
            journal: parse_journal(include_bytes!(
                "../../fixtures/host/systemd/journal-shop-api-short.txt"
            )),
        }
    }

    fn kernel(fixture: &[u8]) -> Fact<KernelLog> {
        Fact::collected(parse_kernel_log("journalctl -k", fixture, &ctx()))
    }

    #[test]
    fn memcg_kill_of_the_unit_is_direct_with_memory_max_fix() {
        let mut f = FactsBuilder::route_only("127.0.0.1:3000", "http").build();
        f.kernel_log = kernel(include_bytes!(
            "../../fixtures/host/kernel/journalctl-k-short-iso.txt"
        ));
        f.systemd = Fact::collected(vec![shop_api_unit()]);
        f.error_log = error_log_with(
            "upstream-refused",
            42,
            "2026/11/22 03:12:04",
            "connect() failed (111: Connection refused) while connecting to upstream",
        );
        let Verdict::Found(found) = OomKilled.run(&f) else {
            panic!("expected a finding");
        };
        let x = &found[0];
        assert_eq!(x.cause, Cause::OomKilled);
        assert_eq!(x.severity, Severity::Critical);
        assert_eq!(x.strength, Strength::Direct);
        assert_eq!(
            x.title,
            "the kernel OOM killer killed node (pid 777), at its memory limit"
        );
        assert_eq!(x.evidence[0].source, "journalctl -k:7");
        assert!(
            x.evidence[1]
                .text
                .contains("shop-api.service (matched by its cgroup)"),
            "{:?}",
            x.evidence
        );
        assert!(
            x.evidence.iter().any(|e| e
                .text
                .contains("at 2026/11/22 03:12:04 (3 s after the kill)")),
            "{:?}",
            x.evidence
        );
        let cmds: Vec<&str> = x.fixes.iter().map(|f| f.command.as_str()).collect();
        assert!(cmds.contains(&"sudo systemctl set-property shop-api.service MemoryMax=768M && sudo systemctl restart shop-api.service"), "{cmds:?}");
        assert!(
            cmds.contains(&"node --max-old-space-size=384 …"),
            "{cmds:?}"
        );
        assert!(cmds.contains(&"sudo journalctl -u shop-api.service -n 100 --no-pager"));
        assert!(cmds.contains(&"sudo systemctl restart shop-api.service"));
    }

    #[test]
    fn pm2_app_killed_by_pid() {
        let mut f = FactsBuilder::route_only("127.0.0.1:3017", "http").build();
        let mut log = parse_kernel_log(
            "/var/log/kern.log",
            include_bytes!("../../fixtures/host/kernel/kern.log-rfc3339.txt"),
            &ctx(),
        );
        log.oom_kills[0].pid = 8197; // the recorded PM2 app's pid
        f.kernel_log = Fact::collected(log);
        f.pm2 = Fact::collected(
            crate::parse::pm2::parse_pm2_jlist(include_bytes!(
                "../../fixtures/host/pm2-jlist.json"
            ))
            .expect("fixture parses"),
        );
        let Verdict::Found(found) = OomKilled.run(&f) else {
            panic!("expected a finding");
        };
        assert_eq!(found[0].strength, Strength::Direct);
        assert!(found[0].title.contains("the host ran out of memory"));
        let cmds: Vec<&str> = found[0].fixes.iter().map(|f| f.command.as_str()).collect();
        assert_eq!(
            cmds,
            vec![
                "pm2 restart api --node-args=\"--max-old-space-size=381\" --max-memory-restart 457M && pm2 save",
                "pm2 logs api --lines 100 --nostream"
            ]
        );
    }

    /// The real recording: node killed in its memcg; a new node now listens at the upstream.
    #[test]
    fn real_kill_matched_by_the_program_now_listening() {
        let mut f = FactsBuilder::route_only("127.0.0.1:3000", "http").build();
        f.kernel_log = kernel(include_bytes!(
            "../../fixtures/host/kernel/real-6.18-memcg-kmsg.txt"
        ));
        f.listeners = Fact::collected(vec![Listener {
            kind: SocketKind::Tcp,
            address: "127.0.0.1:3000".into(),
            port: Some(3000),
            inode: 77,
            pid: Some(32501),
            process: Some("node".into()),
            role: None,
            accept_queue: None,
        }]);
        let Verdict::Found(found) = OomKilled.run(&f) else {
            panic!("expected a finding");
        };
        assert_eq!(found[0].strength, Strength::Strong);
        assert_eq!(found[0].severity, Severity::Critical);
        assert_eq!(
            found[0].title,
            "the kernel OOM killer killed node (pid 32410), at its memory limit"
        );
        assert_eq!(found[0].evidence[0].source, "journalctl -k:83");
        assert!(found[0].evidence[1]
            .text
            .contains("it used 64 MiB anonymous memory"));
    }

    #[test]
    fn a_kill_days_before_the_snapshot_is_only_a_warning() {
        let mut f = FactsBuilder::route_only("127.0.0.1:3000", "http").build();
        f.kernel_log = kernel(include_bytes!(
            "../../fixtures/host/kernel/journalctl-k-short-iso.txt"
        ));
        f.systemd = Fact::collected(vec![shop_api_unit()]);
        f.collected_at = Some(
            chrono::DateTime::parse_from_rfc3339("2026-11-25T03:12:01+00:00").expect("RFC 3339"),
        );
        let Verdict::Found(found) = OomKilled.run(&f) else {
            panic!("expected a finding");
        };
        assert_eq!(found[0].severity, Severity::Warning);
        assert_eq!(found[0].strength, Strength::Circumstantial);
        assert!(found[0]
            .evidence
            .iter()
            .any(|e| e.text == "the kill was 72 h before this snapshot"));
    }

    #[test]
    fn unrelated_kill_is_only_circumstantial() {
        let mut f = FactsBuilder::route_only("127.0.0.1:3000", "http").build();
        f.kernel_log = kernel(include_bytes!("../../fixtures/host/kernel/kmsg.txt"));
        f.systemd = Fact::collected(vec![]);
        let Verdict::Found(found) = OomKilled.run(&f) else {
            panic!("expected a finding");
        };
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].severity,
            Severity::Info,
            "the upstream answers: news, not a problem"
        );
        assert_eq!(found[0].strength, Strength::Circumstantial);
        f.probes.push(crate::facts::ProbeResult {
            address: "127.0.0.1:3000".into(),
            kind: crate::facts::SocketKind::Tcp,
            request: String::new(),
            connected: false,
            connect_ms: None,
            ttfb_ms: None,
            status_line: None,
            status: None,
            header_bytes: None,
            phase: crate::facts::ProbePhase::Connect,
            error: Some(crate::facts::OsError {
                errno: Some(111),
                message: "Connection refused".into(),
            }),
            note: None,
            speaks: None,
            timeout_ms: None,
            idle_close_ms: None,
            idle_open_after_ms: None,
        });
        let Verdict::Found(found) = OomKilled.run(&f) else {
            panic!()
        };
        assert_eq!(
            found[0].severity,
            Severity::Warning,
            "the upstream is down: maybe the victim"
        );
    }

    /// A plain process (no unit, no PM2 app) killed at 03:12:01 whose upstream has been
    /// refusing since 03:12:04 and where nothing listens now: tied by time. The same kill
    /// is not tied when something listens, when the first failure is minutes later, or
    /// when the log window starts after the kill (its first line proves nothing).
    #[test]
    fn unmanaged_victim_is_matched_by_time_only_when_everything_agrees() {
        let mut f = FactsBuilder::route_only("127.0.0.1:3000", "http").build();
        f.kernel_log = kernel(include_bytes!(
            "../../fixtures/host/kernel/journalctl-k-short-iso.txt"
        ));
        f.listeners = Fact::collected(vec![]);
        let refused = |first: &str| {
            error_log_with(
                "upstream-refused",
                9,
                first,
                "connect() failed (111: Connection refused) while connecting to upstream",
            )
        };
        f.error_log = refused("2026/11/22 03:12:04");
        let Verdict::Found(found) = OomKilled.run(&f) else {
            panic!("expected a finding");
        };
        assert_eq!(found[0].strength, Strength::Strong, "{:?}", found[0]);
        assert!(
            found[0].title.contains("node (pid 777)"),
            "{}",
            found[0].title
        );

        f.error_log = refused("2026/11/22 03:20:00");
        let Verdict::Found(found) = OomKilled.run(&f) else {
            panic!("expected a finding");
        };
        assert_eq!(
            found[0].strength,
            Strength::Circumstantial,
            "8 minutes later"
        );

        f.error_log = refused("2026/11/22 03:12:04");
        if let Fact::Collected { value } = &mut f.error_log {
            value.since = Some("2026/11/22 03:12:03".parse().unwrap());
        }
        let Verdict::Found(found) = OomKilled.run(&f) else {
            panic!("expected a finding");
        };
        assert_eq!(
            found[0].strength,
            Strength::Circumstantial,
            "window after the kill"
        );
    }

    #[test]
    fn pass_and_skip() {
        let mut f = FactsBuilder::route_only("127.0.0.1:3000", "http").build();
        f.kernel_log = kernel(b"[    0.000000] Linux version 6.1.0-26-amd64\n");
        assert_eq!(
            OomKilled.run(&f),
            Verdict::pass("no OOM kill in journalctl -k (1 lines)")
        );
        f.kernel_log = Fact::unavailable("/dev/kmsg", "permission denied (run as root)");
        assert_eq!(
            OomKilled.run(&f),
            Verdict::skipped("kernel log unreadable (/dev/kmsg: permission denied (run as root))")
        );
    }
}
