//! PHP-FPM parsers: configuration files (php-fpm.conf and pool files, ini style with
//! `[pool]` sections and `include=` globs) with file:line for every key, and the FPM log.
//!
//! Pure: text in, typed out. Include globs are returned, not followed: `gather` expands them.

use super::lines;
use crate::facts::{FpmEventKind, FpmLogEvent, FpmPool, FpmSetting, WallTime};

/// One parsed configuration file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FpmConfFile {
    pub pools: Vec<FpmPool>,
    /// `include=` patterns with their line, relative paths as written.
    pub includes: Vec<(String, u32)>,
    /// The global `error_log`, when set.
    pub error_log: Option<FpmSetting>,
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    let v = v
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
        .unwrap_or(v);
    v.to_string()
}

/// Parses one FPM configuration file. `$pool` in values is expanded to the pool name, as
/// FPM does.
pub fn parse_fpm_conf(file: &str, input: &[u8]) -> FpmConfFile {
    let mut out = FpmConfFile::default();
    let mut section: Option<String> = None;
    for (no, line) in lines(input) {
        let l = line.trim();
        if l.is_empty() || l.starts_with(';') || l.starts_with('#') {
            continue;
        }
        let no32 = u32::try_from(no).unwrap_or(u32::MAX);
        if let Some(name) = l.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            let name = name.trim().to_string();
            if name != "global" {
                out.pools.push(FpmPool {
                    name: name.clone(),
                    file: file.to_string(),
                    line: no32,
                    ..Default::default()
                });
            }
            section = Some(name);
            continue;
        }
        let Some((k, v)) = l.split_once('=') else {
            continue;
        };
        let key = k.trim();
        // Inline comments are only ';' preceded by whitespace outside quotes.
        let v = v.trim();
        let v = if v.starts_with('"') {
            v
        } else {
            v.split(" ;").next().unwrap_or(v)
        };
        let mut value = unquote(v);
        let in_pool = section.as_deref().is_some_and(|s| s != "global");
        if key == "include" {
            out.includes.push((value, no32));
            continue;
        }
        if !in_pool {
            if key == "error_log" {
                out.error_log = Some(FpmSetting {
                    value,
                    file: file.to_string(),
                    line: no32,
                });
            }
            continue;
        }
        let Some(pool) = out.pools.last_mut() else {
            continue;
        };
        value = value.replace("$pool", &pool.name);
        let setting = Some(FpmSetting {
            value,
            file: file.to_string(),
            line: no32,
        });
        match key {
            "listen" => pool.listen = setting,
            "listen.owner" => pool.listen_owner = setting,
            "listen.group" => pool.listen_group = setting,
            "listen.mode" => pool.listen_mode = setting,
            "listen.acl_users" => pool.listen_acl_users = setting,
            "listen.acl_groups" => pool.listen_acl_groups = setting,
            "listen.backlog" => pool.listen_backlog = setting,
            "user" => pool.user = setting,
            "group" => pool.group = setting,
            "pm" => pool.pm = setting,
            "pm.max_children" => pool.max_children = setting,
            "pm.start_servers" => pool.start_servers = setting,
            "pm.min_spare_servers" => pool.min_spare_servers = setting,
            "pm.max_spare_servers" => pool.max_spare_servers = setting,
            "request_terminate_timeout" => pool.request_terminate_timeout = setting,
            "php_admin_value[memory_limit]" | "php_value[memory_limit]" => {
                pool.memory_limit = setting
            }
            _ => {}
        }
    }
    out
}

/// "[22-Nov-2026 03:12:01]" or "[22-Nov-2026 03:12:01.123456]" → 2026-11-22T03:12:01
/// (whole seconds, as snapshots have always written it).
fn fpm_time(s: &str) -> Option<WallTime> {
    let inner = s.strip_prefix('[')?.split(']').next()?;
    let (date, time) = inner.split_once(' ')?;
    let mut d = date.split('-');
    let (day, mon, year) = (d.next()?, d.next()?, d.next()?);
    let m = super::month_number(mon)?;
    let day: u32 = day.parse().ok()?;
    let year: i32 = year.parse().ok()?;
    let hms = time.split('.').next()?;
    if hms.len() != 8 {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(year, m, day)?;
    let time = chrono::NaiveTime::parse_from_str(hms, "%H:%M:%S").ok()?;
    Some(WallTime::naive(date.and_time(time)))
}

/// Parses a PHP-FPM log (its own file, or syslog/journal lines of php-fpm).
pub fn parse_fpm_log(input: &[u8]) -> Vec<FpmLogEvent> {
    let mut out = Vec::new();
    for (no, line) in lines(input) {
        let Some(p) = line.find("[pool ") else {
            continue;
        };
        let after = line.get(p + 6..).unwrap_or("");
        let Some((pool, msg)) = after.split_once(']') else {
            continue;
        };
        let msg = msg.trim();
        let time = fpm_time(line.trim_start());
        let num_in_parens = |m: &str| {
            m.split_once('(')
                .and_then(|(_, r)| r.split(')').next())
                .map(str::to_string)
        };
        let mut ev = FpmLogEvent {
            time,
            pool: pool.to_string(),
            kind: FpmEventKind::SeemsBusy,
            value: None,
            child_pid: None,
            script: None,
            line: no,
            text: line.trim().to_string(),
        };
        if msg.contains("reached pm.max_children setting")
            || msg.contains("reached max_children setting")
        {
            ev.kind = FpmEventKind::MaxChildrenReached;
            ev.value = num_in_parens(msg);
        } else if msg.starts_with("seems busy") {
            ev.kind = FpmEventKind::SeemsBusy;
        } else if let Some(r) = msg.strip_prefix("child ") {
            let pid_str: String = r.chars().take_while(|c| c.is_ascii_digit()).collect();
            ev.child_pid = pid_str.parse().ok();
            if let Some(sig) = r.split_once("exited on signal ") {
                ev.kind = FpmEventKind::ChildKilled;
                ev.value = sig.1.split_whitespace().next().map(str::to_string);
            } else if let Some(code) = r.split_once("exited with code ") {
                ev.kind = FpmEventKind::ChildExited;
                ev.value = code.1.split_whitespace().next().map(str::to_string);
            } else if r.contains("execution timed out") {
                ev.kind = FpmEventKind::ExecutionTimedOut;
                ev.script = r
                    .split_once("script '")
                    .and_then(|(_, s)| s.split('\'').next())
                    .map(str::to_string);
                ev.value = r
                    .split_once("execution timed out (")
                    .and_then(|(_, s)| s.split(' ').next())
                    .map(str::to_string);
            } else {
                continue;
            }
        } else {
            continue;
        }
        out.push(ev);
    }
    out
}

/// The PHP version in a packaged PHP-FPM socket's name: `unix:/run/php/php8.2-fpm.sock`
/// → "8.2" (Debian/Ubuntu name the socket and the service `php8.2-fpm`).
pub fn socket_version(address: &str) -> Option<String> {
    let name = std::path::Path::new(address.strip_prefix("unix:")?)
        .file_name()?
        .to_str()?;
    let rest = name.strip_prefix("php")?;
    let version: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    (rest[version.len()..].starts_with("-fpm") && !version.is_empty()).then_some(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_pool_file_with_line_numbers() {
        let f = parse_fpm_conf(
            "/etc/php/8.2/fpm/pool.d/www.conf",
            include_bytes!("../../fixtures/host/php-fpm/debian-8.2/pool.d/www.conf"),
        );
        assert_eq!(f.pools.len(), 1);
        let p = &f.pools[0];
        assert_eq!(p.name, "www");
        assert_eq!(p.line, 4);
        let listen = p.listen.as_ref().expect("listen");
        assert_eq!(listen.value, "/run/php/php8.2-fpm.sock");
        assert_eq!(listen.line, 41);
        assert_eq!(
            p.listen_owner.as_ref().map(|s| s.value.as_str()),
            Some("www-data")
        );
        assert_eq!(
            p.listen_mode.as_ref().map(|s| s.value.as_str()),
            Some("0660")
        );
        assert_eq!(p.user.as_ref().map(|s| s.value.as_str()), Some("www-data"));
        assert_eq!(p.pm.as_ref().map(|s| s.value.as_str()), Some("dynamic"));
        assert_eq!(p.max_children_value(), Some(5));
        assert_eq!(p.max_children.as_ref().map(|s| s.line), Some(113));
        assert_eq!(p.listen_backlog, None);
    }

    #[test]
    fn main_conf_includes_and_rhel_pool_with_pool_var() {
        let m = parse_fpm_conf(
            "/etc/php/8.2/fpm/php-fpm.conf",
            include_bytes!("../../fixtures/host/php-fpm/debian-8.2/php-fpm.conf"),
        );
        assert!(m.pools.is_empty());
        assert_eq!(
            m.includes,
            vec![("/etc/php/8.2/fpm/pool.d/*.conf".to_string(), 23)]
        );
        assert_eq!(
            m.error_log.map(|s| s.value),
            Some("/var/log/php8.2-fpm.log".to_string())
        );
        let r = parse_fpm_conf(
            "/etc/php-fpm.d/app.conf",
            include_bytes!("../../fixtures/host/php-fpm/rhel-app.conf"),
        );
        let p = &r.pools[0];
        assert_eq!(p.name, "app");
        assert_eq!(
            p.listen.as_ref().map(|s| s.value.as_str()),
            Some("127.0.0.1:9001")
        );
        assert_eq!(
            p.listen_backlog.as_ref().map(|s| s.value.as_str()),
            Some("511")
        );
        assert_eq!(p.max_children_value(), Some(50));
        assert_eq!(
            p.memory_limit.as_ref().map(|s| s.value.as_str()),
            Some("256M")
        );
        assert_eq!(
            p.request_terminate_timeout
                .as_ref()
                .map(|s| s.value.as_str()),
            Some("30s")
        );
        assert_eq!(
            p.listen_acl_users.as_ref().map(|s| s.value.as_str()),
            Some("apache,nginx")
        );
    }

    /// Recorded for real: php-fpm 8.2 (Debian) with pm.max_children = 2 and
    /// request_terminate_timeout = 2s, five concurrent 5-second requests, then one child
    /// killed with SIGKILL.
    #[test]
    fn real_recording_php_fpm_8_2() {
        let conf = parse_fpm_conf(
            "fpm.conf",
            include_bytes!("../../fixtures/host/php-fpm/real-8.2-fpm.conf"),
        );
        assert_eq!(
            conf.error_log.map(|s| s.value),
            Some("/tmp/fpmrec/fpm.log".to_string())
        );
        assert_eq!(conf.pools[0].max_children_value(), Some(2));
        let ev = parse_fpm_log(include_bytes!(
            "../../fixtures/host/php-fpm/real-8.2-fpm.log"
        ));
        use FpmEventKind::*;
        let count = |k| ev.iter().filter(|e| e.kind == k).count();
        assert_eq!(count(MaxChildrenReached), 1);
        assert_eq!(count(ExecutionTimedOut), 5);
        assert_eq!(count(ChildKilled), 6);
        let reached = ev
            .iter()
            .find(|e| e.kind == MaxChildrenReached)
            .expect("one");
        assert_eq!((reached.line, reached.value.as_deref()), (4, Some("2")));
        assert_eq!(
            reached.time.as_ref().map(|t| t.as_str()),
            Some("2026-11-22T23:57:41")
        );
        let kill9 = ev.iter().rfind(|e| e.kind == ChildKilled).expect("one");
        assert_eq!(
            (kill9.child_pid, kill9.value.as_deref()),
            (Some(5957), Some("9"))
        );
        let t = ev
            .iter()
            .find(|e| e.kind == ExecutionTimedOut)
            .expect("one");
        assert_eq!(t.script.as_deref(), Some("/tmp/fpmrec/slow.php"));
        assert_eq!(t.value.as_deref(), Some("2.397820"));
    }

    #[test]
    fn log_events() {
        let ev = parse_fpm_log(include_bytes!("../../fixtures/host/php-fpm/php8.2-fpm.log"));
        let kinds: Vec<_> = ev.iter().map(|e| e.kind).collect();
        use FpmEventKind::*;
        assert_eq!(
            kinds,
            vec![
                SeemsBusy,
                MaxChildrenReached,
                ExecutionTimedOut,
                ChildKilled,
                MaxChildrenReached,
                ChildExited,
                MaxChildrenReached
            ]
        );
        assert_eq!(ev[1].value.as_deref(), Some("5"));
        assert_eq!(ev[1].pool, "www");
        assert_eq!(
            ev[1]
                .time
                .as_ref()
                .and_then(|t| t.at())
                .map(|t| t.to_string()),
            Some("2026-11-22 03:12:01".to_string())
        );
        assert_eq!(ev[2].script.as_deref(), Some("/var/www/shop/export.php"));
        assert_eq!(ev[2].value.as_deref(), Some("31.203015"));
        assert_eq!(ev[2].child_pid, Some(23107));
        assert_eq!(ev[3].value.as_deref(), Some("9"));
        assert_eq!(ev[5].value.as_deref(), Some("255"));
        // journal form: "php-fpm[812]: [WARNING] [pool app] …" has no FPM time prefix
        assert_eq!(ev[6].pool, "app");
        assert_eq!(ev[6].time, None);
        assert_eq!(ev[6].line, 9);
        assert!(parse_fpm_log(b"[pool ").is_empty());
        assert!(parse_fpm_conf("x", b"[\n=\n[a]\nlisten\n").pools.len() == 1);
    }

    #[test]
    fn php_versions_from_socket_names() {
        assert_eq!(
            socket_version("unix:/run/php/php8.2-fpm.sock").as_deref(),
            Some("8.2")
        );
        assert_eq!(socket_version("unix:/run/php-fpm/www.sock"), None);
        assert_eq!(socket_version("127.0.0.1:9000"), None);
    }
}
