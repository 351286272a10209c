//! Settings app servers take on their command line: gunicorn's worker timeout and
//! keep-alive, uvicorn's keep-alive, WebSocket heartbeat intervals. Parsed once at gather
//! time into [`AppArgs`]; the checks read the typed values.

use crate::facts::{AppArgs, AppKind, Facts, Heartbeat};

/// The settings `cmdline` (arguments joined by spaces) gives, and the app server that
/// `comm` (the executable name) and `cmdline` name.
pub fn app_args(comm: &str, cmdline: &str) -> AppArgs {
    AppArgs {
        kind: app_kind(comm, cmdline),
        timeout_s: flag(cmdline, "--timeout", Some("-t")),
        keep_alive_s: flag(cmdline, "--keep-alive", None),
        timeout_keep_alive_s: flag(cmdline, "--timeout-keep-alive", None),
        heartbeats: heartbeat_flags(cmdline)
            .into_iter()
            .map(|(name, seconds)| Heartbeat { name, seconds })
            .collect(),
        ports: port_flags(cmdline),
        names_listen: cmdline.split_whitespace().any(|w| {
            let w = w.to_ascii_lowercase();
            w.starts_with("--port") || w.starts_with("--bind") || w == "-b"
        }),
    }
}

/// The ports of `--port N` / `--port=N` (any case) in a command line.
fn port_flags(cmdline: &str) -> Vec<u16> {
    let words: Vec<String> = cmdline
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let value = match w.strip_prefix("--port") {
            Some("") => words.get(i + 1).map(String::as_str),
            Some(rest) => rest.strip_prefix('='),
            None => None,
        };
        if let Some(p) = value.and_then(|v| v.parse().ok()) {
            out.push(p);
        }
    }
    out
}

/// The values of `NAME=VALUE` environment settings that are a bare port number.
pub fn env_port_numbers(env_ports: &[String]) -> Vec<u16> {
    env_ports
        .iter()
        .filter_map(|kv| kv.split_once('=')?.1.parse().ok())
        .collect()
}

/// Node (by executable name or a `node …` command line), else gunicorn or uvicorn when the
/// command line names them (they run under python, so comm alone does not tell).
fn app_kind(comm: &str, cmdline: &str) -> Option<AppKind> {
    if comm == "node" || cmdline.starts_with("node ") {
        Some(AppKind::Node)
    } else if cmdline.contains("gunicorn") {
        Some(AppKind::Gunicorn)
    } else if cmdline.contains("uvicorn") {
        Some(AppKind::Uvicorn)
    } else if comm.starts_with("php-fpm") || cmdline.starts_with("php-fpm") {
        Some(AppKind::PhpFpm)
    } else {
        None
    }
}

/// The app server a process is from its comm alone, as the kernel's OOM report gives it
/// (at most 15 bytes, and whatever title the process set: "node", "nodejs", "node
/// /srv/app/ser", "gunicorn: worke", "php-fpm7.4"). Python servers without a title run as "python3".
pub fn kind_of_comm(comm: &str) -> Option<AppKind> {
    if comm.starts_with("node") {
        Some(AppKind::Node)
    } else if comm.starts_with("gunicorn") {
        Some(AppKind::Gunicorn)
    } else if comm.starts_with("uvicorn") {
        Some(AppKind::Uvicorn)
    } else if comm.starts_with("php-fpm") {
        Some(AppKind::PhpFpm)
    } else {
        None
    }
}

/// The app server a command line (a unit's `ExecStart` argv) runs: by its program's name
/// and arguments as for a process, and node wherever the line names it (a version
/// manager's `~/.nvm/versions/node/v20/bin/npm start`).
pub fn kind_of_command(argv: &str) -> Option<AppKind> {
    let program = argv.split(' ').next().unwrap_or("");
    let comm = program.rsplit('/').next().unwrap_or(program);
    app_kind(comm, argv).or_else(|| argv.contains("node").then_some(AppKind::Node))
}

/// Fills `args` of every process of a snapshot recorded before they (or the app kind)
/// were gathered, and the app kind of its OOM kills and systemd units; re-deriving from the recorded cmdline gives what gather would have.
pub fn fill_missing(facts: &mut Facts) {
    if let crate::facts::Fact::Collected { value } = &mut facts.processes {
        // Re-deriving is what gather does today, whichever fields the snapshot predates.
        for p in value.iter_mut() {
            p.args = app_args(&p.comm, &p.cmdline);
            p.env_port_numbers = env_port_numbers(&p.env_ports);
        }
    }
    if let crate::facts::Fact::Collected { value } = &mut facts.systemd {
        for s in value.iter_mut().map(|u| &mut u.status) {
            if s.exec_kind.is_none() {
                s.exec_kind = s.exec_start.as_deref().and_then(kind_of_command);
            }
        }
    }
    if let crate::facts::Fact::Collected { value } = &mut facts.kernel_log {
        for k in value.oom_kills.iter_mut().filter(|k| k.kind.is_none()) {
            k.kind = kind_of_comm(&k.comm);
        }
    }
}

/// The value of `--name N`, `--name=N` or `-s N` in a command line.
fn flag(cmdline: &str, long: &str, short: Option<&str>) -> Option<f64> {
    let words: Vec<&str> = cmdline.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        if let Some(v) = w.strip_prefix(long).and_then(|r| r.strip_prefix('=')) {
            return v.parse().ok();
        }
        if *w == long || short == Some(*w) {
            return words.get(i + 1)?.parse().ok();
        }
    }
    None
}

/// `--ping-interval 25000`, `pingInterval=25000`, `--heartbeat 30s`: (setting, seconds).
/// Socket.IO's camel-case settings are milliseconds; a bare number of 1000 or more is
/// read as milliseconds, a smaller one as seconds; `ms`/`s` suffixes are honoured.
fn heartbeat_flags(cmdline: &str) -> Vec<(String, f64)> {
    const NAMES: &[&str] = &[
        "pinginterval",
        "ping-interval",
        "ping_interval",
        "heartbeat",
        "heartbeat-interval",
        "heartbeat_interval",
        "heartbeatinterval",
        "keepalive-interval",
        "ping",
        "pingtimeout",
        "ping-timeout",
        "ping_timeout",
    ];
    let words: Vec<&str> = cmdline.split_whitespace().collect();
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let bare = w.trim_start_matches('-');
        let (name, value) = match bare.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (bare, words.get(i + 1).copied()),
        };
        if !w.starts_with("--") && !w.contains('=') {
            continue;
        }
        let lname = name.to_ascii_lowercase();
        if !NAMES.contains(&lname.as_str()) {
            continue;
        }
        let Some(v) = value.map(|v| v.trim_matches(|c| c == '"' || c == '\'' || c == ',')) else {
            continue;
        };
        let secs = if let Some(n) = v.strip_suffix("ms") {
            n.parse::<f64>().ok().map(|n| n / 1000.0)
        } else if let Some(n) = v.strip_suffix('s') {
            n.parse::<f64>().ok()
        } else {
            v.parse::<f64>().ok().map(|n| {
                if lname == "pinginterval" || lname == "pingtimeout" || n >= 1000.0 {
                    n / 1000.0
                } else {
                    n
                }
            })
        };
        if let Some(s) = secs.filter(|s| *s > 0.0) {
            out.push((name.to_string(), s));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeat_flags_are_read() {
        assert_eq!(
            heartbeat_flags("node server.js --pingInterval=25000"),
            vec![("pingInterval".to_string(), 25.0)]
        );
        assert_eq!(
            heartbeat_flags("app --heartbeat 30"),
            vec![("heartbeat".to_string(), 30.0)]
        );
        assert_eq!(
            heartbeat_flags("app --ping-interval 90s --port 3"),
            vec![("ping-interval".to_string(), 90.0)]
        );
        assert!(heartbeat_flags("app --port 3000").is_empty());
        assert_eq!(
            heartbeat_flags("node chat.js --pingInterval=25000 --pingTimeout=20000"),
            vec![
                ("pingInterval".to_string(), 25.0),
                ("pingTimeout".to_string(), 20.0)
            ]
        );
    }

    #[test]
    fn gunicorn_and_uvicorn_flags() {
        let a = app_args("python3", "gunicorn app:app -t 20 --keep-alive=7");
        assert_eq!(a.kind, Some(AppKind::Gunicorn));
        assert_eq!(a.timeout_s, Some(20.0));
        assert_eq!(a.keep_alive_s, Some(7.0));
        let u = app_args("uvicorn", "uvicorn main:app --timeout-keep-alive 4");
        assert_eq!(u.kind, Some(AppKind::Uvicorn));
        assert_eq!(app_args("node", "server.js").kind, Some(AppKind::Node));
        assert_eq!(app_args("python3", "python3 app.py").kind, None);
        assert_eq!(
            app_args("php-fpm8.2", "php-fpm: pool www").kind,
            Some(AppKind::PhpFpm)
        );
        assert_eq!(u.timeout_keep_alive_s, Some(4.0));
        assert_eq!(u.timeout_s, None);
    }

    #[test]
    fn listen_flags() {
        let a = app_args(
            "node",
            "node app.js --port 3000 --PORT=3001 --port=x --portal 9",
        );
        assert_eq!(a.ports, vec![3000, 3001]);
        assert!(a.names_listen);
        assert!(app_args("python3", "gunicorn -b 127.0.0.1:8000 app:app").names_listen);
        assert!(app_args("python3", "gunicorn --bind=unix:/run/g.sock app:app").names_listen);
        let plain = app_args("node", "node server.js -bx");
        assert!(plain.ports.is_empty() && !plain.names_listen);
        let env = ["PORT=3000", "HOST=0.0.0.0", "API_PORT=30001", "BIND=:80"].map(String::from);
        assert_eq!(env_port_numbers(&env), vec![3000, 30001]);
    }

    /// The kernel's OOM report gives only the comm, truncated to 15 bytes or retitled.
    #[test]
    fn oom_comm_kinds() {
        for comm in ["node", "nodejs", "node /srv/app/s"] {
            assert_eq!(kind_of_comm(comm), Some(AppKind::Node), "{comm}");
        }
        assert_eq!(kind_of_comm("gunicorn: worke"), Some(AppKind::Gunicorn));
        assert_eq!(kind_of_comm("uvicorn"), Some(AppKind::Uvicorn));
        assert_eq!(kind_of_comm("php-fpm7.4"), Some(AppKind::PhpFpm));
        assert_eq!(kind_of_comm("php-fpm"), Some(AppKind::PhpFpm));
        for comm in ["python3", "php", "nginx", "", "java-worker"] {
            assert_eq!(kind_of_comm(comm), None, "{comm}");
        }
    }

    #[test]
    fn exec_start_kinds() {
        let k = kind_of_command;
        assert_eq!(k("/usr/bin/node /srv/app/server.js"), Some(AppKind::Node));
        assert_eq!(
            k("/home/u/.nvm/versions/node/v20/bin/npm start"),
            Some(AppKind::Node)
        );
        assert_eq!(
            k("/srv/venv/bin/gunicorn app:app -b 127.0.0.1:8000"),
            Some(AppKind::Gunicorn)
        );
        assert_eq!(
            k("/usr/bin/python3 -m uvicorn main:app"),
            Some(AppKind::Uvicorn)
        );
        assert_eq!(k("/usr/bin/python3 /srv/app.py"), None);
        assert_eq!(k(""), None);
    }

    /// A snapshot recorded before OOM kills and units had a kind gets one when read.
    #[test]
    fn old_snapshots_get_oom_and_unit_kinds() {
        let mut facts = Facts::default();
        facts.kernel_log = crate::facts::Fact::collected(crate::facts::KernelLog {
            oom_kills: vec![crate::facts::OomKill {
                comm: "node".into(),
                ..Default::default()
            }],
            ..Default::default()
        });
        facts.systemd = crate::facts::Fact::collected(vec![crate::facts::UnitFacts {
            status: crate::facts::UnitStatus {
                exec_start: Some("/usr/bin/node server.js".into()),
                ..Default::default()
            },
            ..Default::default()
        }]);
        fill_missing(&mut facts);
        let kill = &facts.kernel_log.value().unwrap().oom_kills[0];
        assert_eq!(kill.kind, Some(AppKind::Node));
        let unit = &facts.systemd.value().unwrap()[0];
        assert_eq!(unit.status.exec_kind, Some(AppKind::Node));
    }
}
