//! Check `timeout-alignment`: nginx's timeouts against the upstream app's own limits.
//!
//! Detects: an app that kills a request before nginx stops waiting for it (gunicorn's
//! worker `--timeout`, PHP-FPM's `request_terminate_timeout` shorter than
//! `proxy_read_timeout`/`fastcgi_read_timeout`), and nginx giving up before the app does
//! (read timeout shorter than FPM's limit, so PHP runs on after the 504).
//!
//! Why nginx returns 502: the app's supervisor kills the worker mid-request, the connection
//! closes without a response, and nginx logs "upstream prematurely closed connection"
//! (502). The reverse order gives 504s while the app keeps working on abandoned requests.
//!
//! Evidence used: the route's effective timeouts and where they are set
//! (`route.settings`), the probe's time to first byte and idle close, the listener owner's
//! command line (`facts.processes`) for app recognition, the PHP-FPM pool on the route
//! (`facts.php_fpm`), and the error log's premature-close/reset/read-timeout counts.
//!
//! False positives avoided: a misalignment alone is information (most requests are fast);
//! it becomes a warning only when the error log shows the failure it produces. Known app
//! defaults are used only when the app is recognised from its command line.
//!
//! The same facts build the report's timeout table ([`timeout_table`]).
//!
//! See: docs/causes/upstream-timeout.md, docs/causes/premature-close.md.

use serde::Serialize;

use super::{Check, Finding, Fix, Severity, Strength, Verdict};
use crate::cause::Cause;
use crate::facts::{AppKind, Facts, FpmEventKind, ProcInfo, Route};

pub struct TimeoutAlignment;

/// One row of the report's timeout table.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TimeoutRow {
    /// "client → nginx", "nginx → upstream" or "upstream app".
    pub hop: &'static str,
    pub setting: String,
    /// Seconds; None when off (no limit) or unknown.
    pub seconds: Option<f64>,
    /// `file:line`, "nginx default", "measured", or "gunicorn default", ….
    pub source: String,
}

/// How an app limit is raised.
enum LimitFix {
    /// A command-line flag of the app (shown, not applied: it lives in the unit/script).
    Flag(&'static str),
    /// A PHP-FPM pool setting.
    Fpm(Box<crate::facts::FpmPool>),
}

/// An app limit after which the app itself ends a request.
struct AppLimit {
    app: &'static str,
    setting: String,
    seconds: f64,
    source: String,
    /// How to raise it.
    fix: LimitFix,
    /// The app's own log saying it ended a request at this limit (`source`, text).
    proof: Option<(String, String)>,
}

impl Check for TimeoutAlignment {
    fn id(&self) -> &'static str {
        "timeout-alignment"
    }

    fn causes(&self) -> &'static [Cause] {
        &[Cause::PrematureClose, Cause::UpstreamTimeout]
    }

    fn run(&self, facts: &Facts) -> Verdict {
        let r = match facts.route() {
            Ok(r) if r.directive.is_some() => r,
            Ok(_) => return Verdict::skipped("the location has no upstream"),
            Err(e) => return Verdict::skipped(e),
        };
        let Some(read) = r.settings.read_timeout_s else {
            return Verdict::skipped("no read timeout known for the route");
        };
        let read_name = format!("{}_read_timeout", prefix(r));
        let read_at = set_at(r, &read_name);
        let cut_lines = log_count(facts, &["premature-close", "connection-reset"]);
        let timeout_lines = log_count(facts, &["read-timeout"]);
        let mut found = Vec::new();
        for limit in app_limits(facts, r) {
            if limit.seconds > 0.0 && limit.seconds < read {
                // The app's log saying it killed a request is the cause itself; cut
                // connections in nginx's log without it are likely but not proven.
                let (severity, strength) = match (&limit.proof, cut_lines) {
                    (Some(_), n) if n > 0 => (Severity::Critical, Strength::Direct),
                    (_, n) if n > 0 => (Severity::Warning, Strength::Strong),
                    _ => (Severity::Info, Strength::Circumstantial),
                };
                let mut f = Finding::new(
                    Cause::PrematureClose,
                    severity,
                    strength,
                    format!(
                        "{} ends a request after {} s ({}), before nginx's {read_name} of {} s: slower requests end in 502",
                        limit.app,
                        secs(limit.seconds),
                        limit.setting,
                        secs(read)
                    ),
                )
                .evidence(limit.source.clone(), format!("{} = {} s", limit.setting, secs(limit.seconds)))
                .evidence(read_at.clone(), format!("{read_name} {}s", secs(read)));
                if cut_lines > 0 {
                    f = f.evidence(
                        "error log",
                        format!("{cut_lines} line(s) of connections cut mid-request"),
                    );
                }
                if let Some((source, text)) = &limit.proof {
                    f = f.evidence(source.clone(), text.clone());
                    if cut_lines > 0 {
                        // More specific than the error log's "closed mid-request": lead.
                        f = f.confidence(0.97);
                    }
                }
                let summary = format!(
                    "let {} run at least as long as nginx waits: {} {} s (or lower {read_name} to {} s)",
                    limit.app,
                    limit.setting,
                    secs(read),
                    secs(limit.seconds)
                );
                let fix = app_limit_fix(facts, &limit, read, summary);
                found.push(f.fix(fix));
            } else if limit.seconds == 0.0 || limit.seconds > read {
                // nginx gives up first: a 504 while the app runs on.
                let (severity, strength) = if timeout_lines > 0 {
                    (Severity::Warning, Strength::Strong)
                } else {
                    (Severity::Info, Strength::Circumstantial)
                };
                let app_side = if limit.seconds == 0.0 {
                    "no limit".to_string()
                } else {
                    format!("{} s", secs(limit.seconds))
                };
                found.push(
                    Finding::new(
                        Cause::UpstreamTimeout,
                        severity,
                        strength,
                        format!(
                            "nginx stops waiting after {} s ({read_name}) while {} allows {app_side} ({}): slow requests get 504 and keep running",
                            secs(read),
                            limit.app,
                            limit.setting
                        ),
                    )
                    .evidence(read_at.clone(), format!("{read_name} {}s", secs(read)))
                    .evidence(limit.source.clone(), format!("{} = {app_side}", limit.setting))
                    .fix(if limit.seconds == 0.0 {
                        // Raising nginx's wait cannot match "no limit": bound the app instead,
                        // so that work nginx has abandoned stops when nginx stops waiting.
                        let summary = format!(
                            "give {} a limit of {} s ({}), nginx's wait, so requests nginx has abandoned stop too",
                            limit.app,
                            secs(read),
                            limit.setting
                        );
                        app_limit_fix(facts, &limit, read, summary)
                    } else {
                        nginx_timeout_fix(facts, r, &read_name, read, &read_at, limit.seconds)
                    }),
                );
            }
        }
        if found.is_empty() {
            let rows = timeout_table(facts);
            let app = rows.iter().filter(|r| r.hop == "upstream app").count();
            return Verdict::pass(format!(
                "nginx waits {} s for a response; {} app-side limit(s) known, none shorter",
                secs(read),
                app
            ));
        }
        Verdict::Found(found)
    }
}

/// Set the app's own limit (`limit.setting`) to `read` seconds: the pool setting for
/// PHP-FPM, the command-line flag otherwise.
fn app_limit_fix(facts: &Facts, limit: &AppLimit, read: f64, summary: String) -> Fix {
    match (&limit.fix, facts.php_fpm.value()) {
        (LimitFix::Fpm(pool), Some(fpm)) => Fix::planned(
            summary,
            crate::fixes::fpm::setting_plan(
                &crate::fixes::fpm::control(fpm, pool),
                pool,
                "request_terminate_timeout",
                pool.request_terminate_timeout.as_ref(),
                &format!("{}s", secs(read)),
            ),
        ),
        (LimitFix::Flag(flag), _) => Fix::review(
            summary,
            crate::fixes::app::owner(facts).flag_change_shown(flag, &secs(read)),
        ),
        (LimitFix::Fpm(_), None) => Fix::review(
            summary,
            crate::fixes::app::owner(facts)
                .flag_change_shown("request_terminate_timeout", &secs(read)),
        ),
    }
}

/// Make nginx's read timeout the longest wait: `name value` at the narrowest place.
fn nginx_timeout_fix(facts: &Facts, r: &Route, name: &str, now: f64, now_at: &str, to: f64) -> Fix {
    let summary = format!(
        "set {name} {}s in the location (now {} s, {}) so nginx waits as long as the app may run",
        secs(to),
        secs(now),
        if now_at == "nginx default" {
            "nginx's default".to_string()
        } else {
            format!("set at {now_at}")
        }
    );
    let ctl = crate::fixes::nginx::control(facts);
    match crate::fixes::nginx::set_directive(r, name, &format!("{}s", secs(to))) {
        Some(edit) => Fix::planned(summary, ctl.edit_plan(vec![edit])),
        None => Fix::review(
            summary,
            ctl.manual_change("the location", &format!("{name} {}s;", secs(to))),
        ),
    }
}

/// The timeout table of the report: client → nginx, nginx → upstream, the app.
pub fn timeout_table(facts: &Facts) -> Vec<TimeoutRow> {
    let Ok(r) = facts.route() else {
        return Vec::new();
    };
    let s = &r.settings;
    let mut rows = Vec::new();
    // With a load balancer in front, nginx's client is the balancer.
    let client = if super::lb_keepalive_race::balancer_known(facts) {
        "load balancer → nginx"
    } else {
        "client → nginx"
    };
    let mut add = |hop, name: &str, v: Option<f64>, default: &str| {
        if let Some(v) = v {
            let source = r
                .settings
                .set_at
                .iter()
                .find(|(n, _)| n == name)
                .map_or(default.to_string(), |(_, at)| at.to_string());
            rows.push(TimeoutRow {
                hop,
                setting: name.to_string(),
                seconds: Some(v),
                source,
            });
        }
    };
    add(
        client,
        "client_body_timeout",
        s.client_body_timeout_s,
        "nginx default",
    );
    add(
        client,
        "send_timeout",
        s.client_send_timeout_s,
        "nginx default",
    );
    add(
        client,
        "keepalive_timeout",
        s.client_keepalive_timeout_s,
        "nginx default",
    );
    if r.directive.is_some() {
        let p = prefix(r);
        add(
            "nginx → upstream",
            &format!("{p}_connect_timeout"),
            s.connect_timeout_s,
            "nginx default",
        );
        add(
            "nginx → upstream",
            &format!("{p}_send_timeout"),
            s.send_timeout_s,
            "nginx default",
        );
        add(
            "nginx → upstream",
            &format!("{p}_read_timeout"),
            s.read_timeout_s,
            "nginx default",
        );
        add(
            "nginx → upstream",
            "upstream keepalive_timeout",
            s.keepalive_timeout_s,
            "nginx default",
        );
    }
    for p in &facts.probes {
        if let Some(ms) = p.ttfb_ms {
            rows.push(TimeoutRow {
                hop: "upstream app",
                setting: format!("time to first byte at {}", p.address),
                seconds: Some(ms / 1000.0),
                source: "measured".into(),
            });
        }
        if let Some(ms) = p.idle_close_ms {
            rows.push(TimeoutRow {
                hop: "upstream app",
                setting: format!("idle keep-alive close at {}", p.address),
                seconds: Some(ms / 1000.0),
                source: "measured".into(),
            });
        }
    }
    rows.extend(super::lb_keepalive_race::timeout_rows(facts));
    rows.extend(super::websocket_upgrade::timeout_rows(facts));
    for k in known_app_defaults(facts) {
        rows.push(k);
    }
    for l in app_limits(facts, r) {
        rows.push(TimeoutRow {
            hop: "upstream app",
            setting: format!("{} {}", l.app, l.setting),
            seconds: (l.seconds > 0.0).then_some(l.seconds),
            source: l.source,
        });
    }
    rows
}

fn prefix(r: &Route) -> &'static str {
    match r.directive.as_deref() {
        Some("fastcgi_pass") => "fastcgi",
        Some("uwsgi_pass") => "uwsgi",
        Some("scgi_pass") => "scgi",
        Some("grpc_pass") => "grpc",
        Some("memcached_pass") => "memcached",
        _ => "proxy",
    }
}

fn set_at(r: &Route, name: &str) -> String {
    r.settings
        .set_at
        .iter()
        .find(|(n, _)| n == name)
        .map_or("nginx default".to_string(), |(_, at)| at.to_string())
}

fn log_count(facts: &Facts, categories: &[&str]) -> u64 {
    categories
        .iter()
        .filter_map(|c| facts.error_category(c))
        .map(|c| c.count)
        .sum()
}

/// Whole seconds without a fraction, else one decimal.
fn secs(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// The processes listening at the route's upstream addresses.
fn app_processes(facts: &Facts) -> Vec<&ProcInfo> {
    let owners = facts.upstream_listener_owners();
    facts
        .processes
        .value()
        .map(|ps| {
            ps.iter()
                .filter(|p| owners.iter().any(|(pid, _)| *pid == p.pid))
                .collect()
        })
        .unwrap_or_default()
}

/// Limits after which the app itself ends a request: gunicorn's worker timeout and
/// PHP-FPM's request_terminate_timeout (0 = none).
fn app_limits(facts: &Facts, _r: &Route) -> Vec<AppLimit> {
    let mut out = Vec::new();
    for p in app_processes(facts) {
        if p.args.kind == Some(AppKind::Gunicorn) {
            let (seconds, source) = match p.args.timeout_s {
                Some(v) => (v, format!("/proc/{}/cmdline", p.pid)),
                None => (30.0, "gunicorn default".to_string()),
            };
            out.push(AppLimit {
                app: "gunicorn",
                setting: "--timeout (worker timeout)".into(),
                seconds,
                source,
                fix: LimitFix::Flag("--timeout"),
                proof: None,
            });
        }
    }
    if let Some(fpm) = facts.php_fpm.value() {
        for pool in facts.route_pools(fpm) {
            let (seconds, source) = match &pool.request_terminate_timeout {
                Some(s) => (
                    crate::nginx::values::parse_time(s.value.trim()).unwrap_or(0.0),
                    format!("{}:{}", s.file, s.line),
                ),
                None => (
                    0.0,
                    format!("{}:{} (unset: no limit)", pool.file, pool.line),
                ),
            };
            let log = fpm.log_file.as_deref().unwrap_or("PHP-FPM log");
            let proof = fpm
                .log_events
                .iter()
                .rfind(|e| e.kind == FpmEventKind::ExecutionTimedOut && e.pool == pool.name)
                .map(|e| (format!("{log}:{}", e.line), e.text.clone()));
            out.push(AppLimit {
                proof,
                app: "PHP-FPM",
                setting: format!("pool [{}] request_terminate_timeout", pool.name),
                seconds,
                source,
                fix: LimitFix::Fpm(Box::new(pool.clone())),
            });
        }
    }
    out
}

/// Idle and request limits of recognised app servers, as their documentation states them.
fn known_app_defaults(facts: &Facts) -> Vec<TimeoutRow> {
    let mut rows = Vec::new();
    for p in app_processes(facts) {
        let row = |setting: &str, v: f64, source: String| TimeoutRow {
            hop: "upstream app",
            setting: setting.to_string(),
            seconds: Some(v),
            source,
        };
        match p.args.kind {
            Some(AppKind::Node) => {
                rows.push(row(
                    "Node server.keepAliveTimeout",
                    5.0,
                    "Node default".into(),
                ));
                rows.push(row(
                    "Node server.headersTimeout",
                    60.0,
                    "Node default".into(),
                ));
            }
            Some(AppKind::Gunicorn) => {
                let (v, src) = match p.args.keep_alive_s {
                    Some(v) => (v, format!("/proc/{}/cmdline", p.pid)),
                    None => (2.0, "gunicorn default".into()),
                };
                rows.push(row("gunicorn --keep-alive", v, src));
            }
            Some(AppKind::Uvicorn) => {
                let (v, src) = match p.args.timeout_keep_alive_s {
                    Some(v) => (v, format!("/proc/{}/cmdline", p.pid)),
                    None => (5.0, "uvicorn default".into()),
                };
                rows.push(row("uvicorn --timeout-keep-alive", v, src));
            }
            // PHP-FPM's limits come from its pool configuration (facts.php_fpm).
            Some(AppKind::PhpFpm) | None => {}
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::*;
    use crate::test_support::*;

    fn with_gunicorn(cmdline: &str) -> Facts {
        let mut f = FactsBuilder::route_only("127.0.0.1:3000", "http").build();
        if let Fact::Collected { value } = &mut f.nginx {
            let r = value.route.as_mut().expect("route");
            r.directive = Some("proxy_pass".into());
            r.settings.read_timeout_s = Some(60.0);
            r.settings.set_at = vec![(
                "proxy_read_timeout".into(),
                SourceRef {
                    file: "/etc/nginx/sites-enabled/shop".into(),
                    line: 9,
                },
            )];
        }
        f.listeners = Fact::collected(vec![Listener {
            kind: SocketKind::Tcp,
            address: "127.0.0.1:3000".into(),
            port: Some(3000),
            inode: 1,
            pid: Some(4242),
            process: Some("gunicorn".into()),
            role: None,
            accept_queue: None,
        }]);
        f.processes = Fact::collected(vec![ProcInfo {
            pid: 4242,
            ppid: Some(1),
            comm: "gunicorn".into(),
            cmdline: cmdline.into(),
            user: None,
            age_secs: Some(100),
            env_ports: vec![],
            env_port_numbers: vec![],
            listen_inodes: vec![1],
            args: crate::parse::app_args::app_args("gunicorn", cmdline),
            role: None,
        }]);
        f
    }

    #[test]
    fn gunicorn_worker_timeout_below_nginx_read_timeout() {
        let mut f = with_gunicorn("/usr/bin/python3 /usr/bin/gunicorn -w 4 app:app");
        let Verdict::Found(found) = TimeoutAlignment.run(&f) else {
            panic!("expected a finding");
        };
        assert_eq!(found[0].cause, Cause::PrematureClose);
        assert_eq!(found[0].severity, Severity::Info, "no failures logged yet");
        assert!(
            found[0]
                .title
                .starts_with("gunicorn ends a request after 30 s"),
            "{}",
            found[0].title
        );
        assert_eq!(
            found[0].evidence[1].source,
            "/etc/nginx/sites-enabled/shop:9"
        );
        f.error_log = error_log_with(
            "premature-close",
            7,
            "2026/11/22 03:12:04",
            "upstream prematurely closed connection while reading response header from upstream",
        );
        let Verdict::Found(found) = TimeoutAlignment.run(&f) else {
            panic!("expected a finding");
        };
        assert_eq!(found[0].severity, Severity::Warning);
        // Aligned: --timeout 120 > 60 is nginx giving up first (information only).
        let f = with_gunicorn("/usr/bin/gunicorn --timeout=120 app:app");
        let Verdict::Found(found) = TimeoutAlignment.run(&f) else {
            panic!("expected a finding");
        };
        assert_eq!(found[0].cause, Cause::UpstreamTimeout);
        assert_eq!(found[0].severity, Severity::Info);
        let f = with_gunicorn("/usr/bin/gunicorn --timeout 60 app:app");
        assert!(matches!(TimeoutAlignment.run(&f), Verdict::Pass { .. }));
    }

    #[test]
    fn an_app_without_limit_is_given_one_instead_of_a_no_op_nginx_edit() {
        // gunicorn --timeout 0 disables its worker timeout: nginx gives up first.
        let f = with_gunicorn("/usr/bin/gunicorn --timeout 0 app:app");
        let Verdict::Found(found) = TimeoutAlignment.run(&f) else {
            panic!("expected a finding");
        };
        assert_eq!(found[0].cause, Cause::UpstreamTimeout);
        let fix = &found[0].fixes[0];
        assert!(
            fix.summary
                .starts_with("give gunicorn a limit of 60 s (--timeout"),
            "{}",
            fix.summary
        );
        assert!(
            !fix.command.contains("proxy_read_timeout"),
            "{}",
            fix.command
        );
        assert!(fix.command.contains("--timeout"), "{}", fix.command);
        // An app limit longer than nginx's wait: raise nginx's wait to the app's.
        let f = with_gunicorn("/usr/bin/gunicorn --timeout=120 app:app");
        let Verdict::Found(found) = TimeoutAlignment.run(&f) else {
            panic!("expected a finding");
        };
        assert!(
            found[0].fixes[0]
                .summary
                .starts_with("set proxy_read_timeout 120s"),
            "{}",
            found[0].fixes[0].summary
        );
    }

    #[test]
    fn table_lists_every_hop_with_sources() {
        let mut f = with_gunicorn("/usr/bin/gunicorn --keep-alive 5 app:app");
        if let Fact::Collected { value } = &mut f.nginx {
            let s = &mut value.route.as_mut().expect("route").settings;
            s.client_body_timeout_s = Some(60.0);
            s.client_keepalive_timeout_s = Some(75.0);
            s.connect_timeout_s = Some(60.0);
        }
        let rows = timeout_table(&f);
        let names: Vec<(&str, &str, Option<f64>, &str)> = rows
            .iter()
            .map(|r| (r.hop, r.setting.as_str(), r.seconds, r.source.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                (
                    "client → nginx",
                    "client_body_timeout",
                    Some(60.0),
                    "nginx default"
                ),
                (
                    "client → nginx",
                    "keepalive_timeout",
                    Some(75.0),
                    "nginx default"
                ),
                (
                    "nginx → upstream",
                    "proxy_connect_timeout",
                    Some(60.0),
                    "nginx default"
                ),
                (
                    "nginx → upstream",
                    "proxy_read_timeout",
                    Some(60.0),
                    "/etc/nginx/sites-enabled/shop:9"
                ),
                (
                    "upstream app",
                    "gunicorn --keep-alive",
                    Some(5.0),
                    "/proc/4242/cmdline"
                ),
                (
                    "upstream app",
                    "gunicorn --timeout (worker timeout)",
                    Some(30.0),
                    "gunicorn default"
                ),
            ]
        );
    }

    #[test]
    fn skipped_without_a_route() {
        let f = Facts::new(RequestSpec::default());
        assert!(matches!(TimeoutAlignment.run(&f), Verdict::Skipped { .. }));
    }
}
