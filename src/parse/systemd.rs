//! systemd parsers: `systemctl show UNIT` (Key=Value lines), `journalctl -u UNIT` in the
//! short and short-iso formats, and `/proc/<pid>/cgroup` → unit name.
//!
//! Pure: text in, typed values out; unknown keys and lines are ignored, never an error.

use super::lines;
use crate::facts::{JournalEntry, JournalEventKind, UnitStatus, WallTime};

/// The evidence source of a unit's properties: the command they are read from.
pub fn show_source(unit: &str) -> String {
    format!("systemctl show {unit}")
}

/// Parses one or more `systemctl show` property blocks (blank-line separated, as
/// `systemctl show a.service b.service` prints them).
pub fn parse_systemctl_show(input: &[u8]) -> Vec<UnitStatus> {
    let mut units = Vec::new();
    let mut cur = UnitStatus::default();
    let mut any = false;
    let text = String::from_utf8_lossy(input);
    for raw in text.split('\n') {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            if any {
                units.push(std::mem::take(&mut cur));
                any = false;
            }
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        any = true;
        let opt = |v: &str| (!v.is_empty()).then(|| v.to_string());
        let num = |v: &str| v.parse::<u64>().ok();
        match k {
            "Id" => cur.id = v.to_string(),
            "Description" => cur.description = opt(v),
            "ActiveState" => cur.active_state = opt(v),
            "SubState" => cur.sub_state = opt(v),
            "Result" => cur.result = opt(v),
            "NRestarts" => cur.n_restarts = v.parse().ok(),
            "MainPID" => cur.main_pid = v.parse().ok().filter(|p| *p != 0),
            "ExecMainPID" => cur.exec_main_pid = v.parse().ok().filter(|p| *p != 0),
            "ExecMainStatus" => cur.exec_main_status = v.parse().ok(),
            "ExecMainCode" => cur.exec_main_code = v.parse().ok(),
            "ExecMainStartTimestamp" => cur.exec_main_start = opt(v),
            "ExecMainExitTimestamp" => cur.exec_main_exit = opt(v),
            "Restart" => cur.restart = opt(v),
            "RestartUSec" => cur.restart_usec = parse_usec(v),
            "MemoryMax" | "MemoryLimit" if cur.memory_max.is_none() => {
                cur.memory_max = num(v).filter(|b| *b != u64::MAX);
            }
            "MemoryCurrent" => cur.memory_current = num(v).filter(|b| *b != u64::MAX),
            "MemoryPeak" => cur.memory_peak = num(v).filter(|b| *b != u64::MAX),
            "LimitNOFILESoft" => cur.limit_nofile = num(v),
            "LimitNOFILE" if cur.limit_nofile.is_none() => cur.limit_nofile = num(v),
            "ExecStart" => {
                cur.exec_start = exec_argv(v);
                cur.exec_kind = cur
                    .exec_start
                    .as_deref()
                    .and_then(super::app_args::kind_of_command);
            }
            "FragmentPath" => cur.fragment_path = opt(v),
            "User" => cur.user = opt(v),
            "ControlGroup" => cur.control_group = opt(v),
            "Environment" => cur.environment = port_like_env(v),
            _ => {}
        }
    }
    if any {
        units.push(cur);
    }
    units
}

/// "100ms", "5s", "1min 30s", or a plain number of microseconds.
fn parse_usec(v: &str) -> Option<u64> {
    if let Ok(n) = v.parse::<u64>() {
        return Some(n);
    }
    let mut total = 0u64;
    for part in v.split_whitespace() {
        let idx = part.find(|c: char| !c.is_ascii_digit() && c != '.')?;
        let (n, unit) = part.split_at(idx);
        let n: f64 = n.parse().ok()?;
        let mult = match unit {
            "us" => 1.0,
            "ms" => 1e3,
            "s" => 1e6,
            "min" => 60e6,
            "h" => 3600e6,
            _ => return None,
        };
        total = total.checked_add((n * mult) as u64)?;
    }
    Some(total)
}

/// `{ path=/usr/bin/node ; argv[]=/usr/bin/node /srv/app/server.js ; ignore_errors=no ; … }`
fn exec_argv(v: &str) -> Option<String> {
    let start = v.find("argv[]=")? + "argv[]=".len();
    let rest = v.get(start..)?;
    let end = rest.find(" ;").unwrap_or(rest.len());
    Some(rest.get(..end)?.trim().to_string())
}

/// Whether an environment variable name is about where the app listens.
pub fn is_port_like(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    n == "PORT"
        || n.ends_with("_PORT")
        || n == "LISTEN"
        || n.ends_with("_LISTEN")
        || n.contains("LISTEN_ADDR")
        || n == "BIND"
        || n.ends_with("_BIND")
        || n == "HOST"
        || n.ends_with("_SOCKET")
        || n == "SOCKET"
}

/// Keeps only PORT-like assignments of an `Environment=` value; other values may be
/// secrets and are never recorded.
fn port_like_env(v: &str) -> Vec<String> {
    v.split_whitespace()
        .filter_map(|kv| {
            let kv = kv.trim_matches('"');
            let (k, _) = kv.split_once('=')?;
            is_port_like(k).then(|| kv.to_string())
        })
        .collect()
}

/// The unit in a cgroup path: "/system.slice/myapp.service" → "myapp.service";
/// "/user.slice/user-1000.slice/user@1000.service/app.slice/pm2.service" → "pm2.service".
pub fn unit_from_cgroup_path(path: &str) -> Option<&str> {
    path.rsplit('/')
        .find(|c| c.ends_with(".service") || c.ends_with(".scope") || c.ends_with(".socket"))
        .filter(|c| !c.starts_with("user@") && !c.starts_with("session-"))
        .or_else(|| path.rsplit('/').find(|c| c.ends_with(".service")))
}

/// `/proc/<pid>/cgroup` → the systemd unit (cgroup v2 `0::/…` or v1 `1:name=systemd:/…`).
pub fn unit_from_proc_cgroup(input: &str) -> Option<String> {
    let mut v1 = None;
    for line in input.lines() {
        let mut f = line.splitn(3, ':');
        let (Some(id), Some(ctrl), Some(path)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if id == "0" && ctrl.is_empty() {
            return unit_from_cgroup_path(path).map(str::to_string);
        }
        if ctrl == "name=systemd" {
            v1 = unit_from_cgroup_path(path).map(str::to_string);
        }
    }
    v1
}

/// Parses `journalctl -u UNIT` output (short or short-iso, with or without `-o` headers).
pub fn parse_journal(input: &[u8]) -> Vec<JournalEntry> {
    let mut out = Vec::new();
    for (no, line) in lines(input) {
        if line.starts_with("-- ") {
            continue; // "-- Logs begin at …", "-- Boot … --", "-- No entries --"
        }
        let Some((time, rest)) = split_time(&line) else {
            continue;
        };
        let Some((host, rest)) = rest.split_once(' ') else {
            continue;
        };
        let Some((ident, message)) = rest.split_once(": ") else {
            continue;
        };
        let (process, pid) = match ident.split_once('[') {
            Some((p, pid)) => (p.to_string(), pid.trim_end_matches(']').parse().ok()),
            None => (ident.to_string(), None),
        };
        // A time split_time took but no form reads (a day 31 of November) is not a line.
        let Ok(time) = WallTime::parse(time) else {
            continue;
        };
        let (kind, detail) = classify_journal(&process, message);
        out.push(JournalEntry {
            time,
            host: Some(host.to_string()),
            process,
            pid,
            message: message.to_string(),
            kind,
            detail,
            line: no,
        });
    }
    out
}

/// "Nov 22 03:12:01 rest" or "2026-11-22T03:12:01+0000 rest".
fn split_time(line: &str) -> Option<(&str, &str)> {
    let first = line.split(' ').next()?;
    if first.len() >= 19 && first.as_bytes().get(4) == Some(&b'-') && first.contains('T') {
        return Some((first, line.get(first.len() + 1..)?));
    }
    // "Nov 22 03:12:01": month, day (may be space-padded), time.
    super::month_number(line.get(..3)?)?;
    let rest = line.get(3..)?.trim_start();
    let (day, rest2) = rest.split_once(' ')?;
    day.parse::<u32>().ok()?;
    let (hms, rest3) = rest2.split_once(' ')?;
    if hms.len() < 8 || hms.as_bytes().get(2) != Some(&b':') {
        return None;
    }
    let end = line.len() - rest3.len() - 1;
    Some((line.get(..end)?, rest3))
}

fn classify_journal(process: &str, msg: &str) -> (JournalEventKind, Option<String>) {
    use JournalEventKind::*;
    if !is_systemd(process) {
        return (Other, None);
    }
    // "myapp.service: Main process exited, …" — the unit prefix is optional (old systemd).
    let body = match msg.split_once(": ") {
        Some((u, b)) if u.contains('.') && !u.contains(' ') => b,
        _ => msg,
    };
    if body.starts_with("Start request repeated too quickly") {
        return (StartLimitHit, None);
    }
    if let Some(r) = body
        .strip_prefix("Main process exited, ")
        .or_else(|| body.strip_prefix("main process exited, "))
    {
        return (MainProcessExited, Some(r.trim_end_matches('.').to_string()));
    }
    if let Some(r) = body.strip_prefix("Failed with result '") {
        return (FailedWithResult, r.split('\'').next().map(str::to_string));
    }
    if let Some(r) = body.strip_prefix("Unit entered failed state") {
        let _ = r;
        return (FailedWithResult, None);
    }
    if let Some(r) = body.strip_prefix("Scheduled restart job, restart counter is at ") {
        return (ScheduledRestart, Some(r.trim_end_matches('.').to_string()));
    }
    if body.contains("killed by the OOM killer") {
        return (OomKilled, None);
    }
    if body.starts_with("Started ") || body.starts_with("Starting ") {
        return (Started, None);
    }
    (Manager, None)
}

/// Whether a journal line was printed by systemd itself (`systemd`, `systemd[1]`).
fn is_systemd(process: &str) -> bool {
    process == "systemd" || process.starts_with("systemd[")
}

/// Reclassifies the journal lines of a snapshot recorded before [`JournalEventKind::Manager`]
/// existed: systemd's own unrecognised lines were `Other` then, like the app's.
pub fn fill_missing(facts: &mut crate::facts::Facts) {
    if let crate::facts::Fact::Collected { value } = &mut facts.systemd {
        for e in value.iter_mut().flat_map(|u| u.journal.iter_mut()) {
            if e.kind == JournalEventKind::Other && is_systemd(&e.process) {
                e.kind = JournalEventKind::Manager;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_of_a_restarting_unit() {
        let u = parse_systemctl_show(include_bytes!(
            "../../fixtures/host/systemd/show-shop-api-auto-restart.txt"
        ));
        assert_eq!(u.len(), 1);
        let u = &u[0];
        assert_eq!(u.id, "shop-api.service");
        assert_eq!(u.active_state.as_deref(), Some("activating"));
        assert_eq!(u.sub_state.as_deref(), Some("auto-restart"));
        assert_eq!(u.result.as_deref(), Some("oom-kill"));
        assert_eq!(u.n_restarts, Some(7));
        assert_eq!(u.main_pid, None);
        assert_eq!(u.exec_main_pid, Some(48213));
        assert_eq!(u.exec_main_status, Some(9));
        assert_eq!(u.exec_main_code, Some(2));
        assert_eq!(u.restart.as_deref(), Some("on-failure"));
        assert_eq!(u.restart_usec, Some(100_000));
        assert_eq!(u.memory_max, Some(536_870_912));
        assert_eq!(u.memory_current, None);
        assert_eq!(u.limit_nofile, Some(1024));
        assert_eq!(
            u.exec_start.as_deref(),
            Some("/usr/bin/node /srv/shop-api/server.js")
        );
        assert_eq!(u.environment, vec!["PORT=3000".to_string()]);
        assert_eq!(
            u.fragment_path.as_deref(),
            Some("/etc/systemd/system/shop-api.service")
        );
        assert_eq!(
            u.control_group.as_deref(),
            Some("/system.slice/shop-api.service")
        );
    }

    #[test]
    fn show_of_a_failed_start_limit_unit_and_infinity() {
        let u = parse_systemctl_show(include_bytes!(
            "../../fixtures/host/systemd/show-billing-start-limit.txt"
        ));
        let u = &u[0];
        assert_eq!(u.id, "billing.service");
        assert_eq!(u.active_state.as_deref(), Some("failed"));
        assert_eq!(u.result.as_deref(), Some("start-limit-hit"));
        assert_eq!(u.memory_max, None);
        assert_eq!(u.n_restarts, Some(5));
        assert_eq!(u.exec_main_status, Some(1));
    }

    #[test]
    fn journal_short_and_iso() {
        let j = parse_journal(include_bytes!(
            "../../fixtures/host/systemd/journal-shop-api-short.txt"
        ));
        let kinds: Vec<_> = j.iter().map(|e| e.kind).collect();
        use JournalEventKind::*;
        assert!(kinds.contains(&StartLimitHit));
        let exited: Vec<_> = j.iter().filter(|e| e.kind == MainProcessExited).collect();
        assert_eq!(exited.len(), 3);
        assert_eq!(
            exited[0].detail.as_deref(),
            Some("code=killed, status=9/KILL")
        );
        let restart = j
            .iter()
            .rfind(|e| e.kind == ScheduledRestart)
            .map(|e| e.detail.clone());
        assert_eq!(restart, Some(Some("2".to_string())));
        let oom = j
            .iter()
            .find(|e| e.kind == FailedWithResult)
            .and_then(|e| e.detail.clone());
        assert_eq!(oom.as_deref(), Some("oom-kill"));
        let app = j.iter().find(|e| e.process == "node").expect("app line");
        assert_eq!(app.pid, Some(48213));
        assert_eq!(app.time.as_str(), "Nov 22 03:11:58");
        // The short form has no year: it has a time once the collection's is known.
        assert_eq!(app.time.at(), None);
        assert_eq!(app.line, 2);
        // systemd's own other lines are the manager's, never the app's last words.
        let stopped = j.iter().find(|e| e.line == 8).expect("Stopped line");
        assert_eq!(stopped.kind, Manager);
        assert!(j
            .iter()
            .filter(|e| e.kind == Other)
            .all(|e| e.process == "node"));

        let iso = parse_journal(include_bytes!(
            "../../fixtures/host/systemd/journal-billing-short-iso.txt"
        ));
        assert_eq!(iso[0].time.as_str(), "2026-11-22T03:10:02+0000");
        assert_eq!(
            iso[0].time.zoned(),
            chrono::DateTime::parse_from_rfc3339("2026-11-22T03:10:02+00:00").ok()
        );
        assert_eq!(iso.iter().filter(|e| e.kind == StartLimitHit).count(), 1);
        assert_eq!(
            iso.iter().filter(|e| e.kind == MainProcessExited).count(),
            5
        );
    }

    #[test]
    fn old_snapshots_get_manager_lines() {
        let mut journal = parse_journal(include_bytes!(
            "../../fixtures/host/systemd/journal-shop-api-short.txt"
        ));
        let now: Vec<_> = journal.iter().map(|e| e.kind).collect();
        for e in &mut journal {
            if e.kind == JournalEventKind::Manager {
                e.kind = JournalEventKind::Other;
            }
        }
        let mut facts = crate::facts::Facts {
            systemd: crate::facts::Fact::collected(vec![crate::facts::UnitFacts {
                journal,
                ..Default::default()
            }]),
            ..Default::default()
        };
        fill_missing(&mut facts);
        let filled: Vec<_> = facts.systemd.value().unwrap()[0]
            .journal
            .iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(filled, now);
    }

    #[test]
    fn cgroup_to_unit() {
        assert_eq!(
            unit_from_proc_cgroup("0::/system.slice/myapp.service\n").as_deref(),
            Some("myapp.service")
        );
        assert_eq!(
            unit_from_proc_cgroup(
                "12:pids:/system.slice/a.service\n1:name=systemd:/system.slice/php8.2-fpm.service\n"
            )
            .as_deref(),
            Some("php8.2-fpm.service")
        );
        assert_eq!(unit_from_proc_cgroup("0::/\n"), None);
        assert_eq!(
            unit_from_cgroup_path(
                "/user.slice/user-1000.slice/user@1000.service/app.slice/pm2-deploy.service"
            ),
            Some("pm2-deploy.service")
        );
        assert_eq!(parse_usec("1min 30s"), Some(90_000_000));
        assert!(parse_systemctl_show(b"\xff=\n==\n").len() <= 1);
    }
}
