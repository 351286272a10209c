//! systemd units that may run the upstream: `systemctl show` of each candidate (the unit
//! of a pid listening at the upstream, units whose ExecStart or Environment names its port
//! or socket, failed units) and its journal; or `--unit-status`/`--journal` files.
//! Parsing is `crate::parse::systemd`'s. Every command runs with a timeout.

use std::path::{Path, PathBuf};

use super::command::run_command;
use super::runner::Context;
use crate::facts::{Fact, UnitFacts};
use crate::parse;

/// Whether systemd is PID 1 here (systemctl answers only then).
pub fn systemd_is_pid1(ctx: &Context) -> bool {
    Path::new("/run/systemd/system").is_dir()
        || std::fs::read_to_string(ctx.proc_file(1, "comm")).is_ok_and(|c| c.trim() == "systemd")
}

/// True when systemd is the init system here (`sd_booted()`: /run/systemd/system exists),
/// so `systemctl` can act on a unit found in a process's cgroup.
pub fn systemd_is_init() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// The systemd unit a process runs in, from /proc/<pid>/cgroup.
pub fn unit_of_pid(ctx: &Context, pid: u32) -> Option<String> {
    let cg = std::fs::read_to_string(ctx.proc_file(pid, "cgroup")).ok()?;
    parse::systemd::unit_from_proc_cgroup(&cg)
}

/// What to look for in systemd.
#[derive(Debug, Clone, Default)]
pub struct SystemdInputs {
    /// Pids behind the route's upstream listeners (their units are the app's).
    pub upstream_pids: Vec<u32>,
    /// The route's upstream TCP ports and unix socket paths (units naming them are candidates).
    pub ports: Vec<u16>,
    pub sockets: Vec<String>,
    /// `--unit-status FILE` (`systemctl show` output) and `--journal FILE`.
    pub unit_status_file: Option<PathBuf>,
    pub journal_file: Option<PathBuf>,
}

fn names_target(text: &str, inputs: &SystemdInputs) -> bool {
    inputs.ports.iter().any(|p| {
        let p = p.to_string();
        // The port as a whole token: "PORT=3000", ":3000", "--port 3000", "-p3000".
        text.match_indices(&p).any(|(i, _)| {
            let before = text[..i].chars().last();
            let after = text[i + p.len()..].chars().next();
            !before.is_some_and(|c| c.is_ascii_digit())
                && !after.is_some_and(|c| c.is_ascii_digit())
        })
    }) || inputs.sockets.iter().any(|s| text.contains(s.as_str()))
}

/// The collector: the units that may run the run's upstreams (or `--unit-status` and
/// `--journal`).
pub fn collect(ctx: &Context) -> Fact<Vec<UnitFacts>> {
    let ups = &ctx.upstreams;
    let inputs = SystemdInputs {
        upstream_pids: ups.pids(),
        ports: ups.ports.clone(),
        sockets: ups.sockets.clone(),
        unit_status_file: ctx.opts.unit_status.clone(),
        journal_file: ctx.opts.journal.clone(),
    };
    gather_systemd(ctx, &inputs)
}

/// Gathers the units that may run the upstream, with their status and journal.
fn gather_systemd(ctx: &Context, inputs: &SystemdInputs) -> Fact<Vec<UnitFacts>> {
    if let Some(file) = &inputs.unit_status_file {
        let bytes = match super::files::read_all(file, 16 << 20) {
            Ok(b) => b,
            Err(e) => return Fact::unavailable(file.display().to_string(), e.reason()),
        };
        let journal = inputs
            .journal_file
            .as_ref()
            .and_then(|j| super::files::read_log_tail(j).ok());
        let units = parse::systemd::parse_systemctl_show(&bytes)
            .into_iter()
            .map(|status| UnitFacts {
                status,
                why: format!("given with --unit-status {}", file.display()),
                journal_source: inputs
                    .journal_file
                    .as_ref()
                    .map(|j| j.display().to_string()),
                journal: journal
                    .as_deref()
                    .map(parse::systemd::parse_journal)
                    .unwrap_or_default(),
            })
            .collect();
        return Fact::collected(units);
    }
    if !systemd_is_pid1(ctx) {
        return Fact::unavailable("systemctl", "systemd is not PID 1 on this host");
    }
    let t = ctx.timeout;
    let mut candidates: Vec<(String, String)> = Vec::new();
    let add = |id: String, why: String, c: &mut Vec<(String, String)>| {
        if !c.iter().any(|(i, _)| *i == id) {
            c.push((id, why));
        }
    };
    for pid in &inputs.upstream_pids {
        if let Some(u) = unit_of_pid(ctx, *pid).filter(|u| u.ends_with(".service")) {
            add(
                u,
                format!("runs pid {pid}, which listens at the upstream"),
                &mut candidates,
            );
        }
    }
    // Every service whose command line or environment names the port or socket.
    if let Ok(out) = run_command(
        "systemctl",
        &[
            "list-units",
            "--type=service",
            "--all",
            "--no-legend",
            "--plain",
            "--no-pager",
        ],
        t,
    ) {
        let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|u| u.ends_with(".service"))
            .map(str::to_string)
            .collect();
        for chunk in ids.chunks(200) {
            let mut args = vec!["show", "-p", "Id,ExecStart,Environment,ActiveState,Result"];
            args.extend(chunk.iter().map(String::as_str));
            let Ok(o) = run_command("systemctl", &args, t) else {
                continue;
            };
            let text = String::from_utf8_lossy(&o.stdout);
            for block in text.split("\n\n") {
                let id = block
                    .lines()
                    .find_map(|l| l.strip_prefix("Id="))
                    .unwrap_or("");
                let interesting = block
                    .lines()
                    .filter(|l| l.starts_with("ExecStart=") || l.starts_with("Environment="))
                    .any(|l| names_target(l, inputs));
                if !id.is_empty() && interesting {
                    add(
                        id.to_string(),
                        "its ExecStart or Environment names the upstream port or socket".into(),
                        &mut candidates,
                    );
                }
            }
        }
    }
    if let Ok(out) = run_command(
        "systemctl",
        &[
            "list-units",
            "--failed",
            "--type=service",
            "--no-legend",
            "--plain",
            "--no-pager",
        ],
        t,
    ) {
        for l in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some(id) = l
                .split_whitespace()
                .next()
                .filter(|u| u.ends_with(".service"))
            {
                // Failed units are candidates only when nothing better is known.
                if candidates.is_empty() {
                    add(id.to_string(), "failed unit".into(), &mut candidates);
                }
            }
        }
    }
    let mut units = Vec::new();
    for (id, why) in candidates.into_iter().take(8) {
        let Ok(out) = run_command("systemctl", &["show", "--no-pager", &id], t) else {
            continue;
        };
        let Some(status) = parse::systemd::parse_systemctl_show(&out.stdout)
            .into_iter()
            .next()
        else {
            continue;
        };
        let (journal_source, journal) = match run_command(
            "journalctl",
            &[
                "-u",
                &id,
                "-n",
                "200",
                "--no-pager",
                "-o",
                "short-iso",
                "-q",
            ],
            t,
        ) {
            Ok(o) => (
                Some(format!("journalctl -u {id}")),
                parse::systemd::parse_journal(&o.stdout),
            ),
            Err(_) => (None, Vec::new()),
        };
        units.push(UnitFacts {
            status,
            why,
            journal_source,
            journal,
        });
    }
    Fact::collected(units)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn names_target_matches_whole_port_tokens() {
        let i = SystemdInputs {
            ports: vec![3000],
            sockets: vec!["/run/app.sock".into()],
            ..Default::default()
        };
        assert!(names_target(
            "Environment=PORT=3000 NODE_ENV=production",
            &i
        ));
        assert!(names_target(
            "ExecStart={ argv[]=/usr/bin/app --listen 127.0.0.1:3000 }",
            &i
        ));
        assert!(!names_target("Environment=PORT=30001", &i));
        assert!(names_target(
            "argv[]=gunicorn --bind unix:/run/app.sock",
            &i
        ));
    }

    #[test]
    fn unit_status_file_is_parsed() {
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/host/systemd");
        let ctx = Context::at("/proc", Duration::from_secs(1));
        let f = gather_systemd(
            &ctx,
            &SystemdInputs {
                unit_status_file: Some(base.join("show-shop-api-auto-restart.txt")),
                journal_file: Some(base.join("journal-shop-api-short.txt")),
                ..Default::default()
            },
        );
        let u = f.value().expect("collected");
        assert_eq!(u[0].status.id, "shop-api.service");
        assert_eq!(u[0].journal.len(), 15);
    }
}
