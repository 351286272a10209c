//! Gathers process-manager facts: systemd units and journals, PM2 apps, PHP-FPM pools and
//! log, open-file limits, unix-socket access, the upstream process looked at twice, and
//! the SELinux mode. Parsing is `crate::parse`'s; this module only reads the host.
//!
//! Must not hang or change the host: every external command runs with a timeout and its
//! stderr is drained concurrently; `pm2` is only asked when its daemon already runs (asking
//! otherwise would start one); nothing is ever restarted, written or killed except a
//! command that overran its timeout.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use std::time::Duration;

use crate::facts::{
    Fact, FpmChildMemory, PathStat, PhpFpmFacts, Pm2App, ProcLimits, ProcLook, ProcRole,
    SelinuxState, SocketAccess, UnitFacts, UpstreamLiveness, UserIdent,
};
use crate::parse;

pub use super::command::{run_command, run_command_env, CmdOutput};

/// Whether systemd is PID 1 here (systemctl answers only then).
pub fn systemd_is_pid1() -> bool {
    Path::new("/run/systemd/system").is_dir()
        || std::fs::read_to_string("/proc/1/comm").is_ok_and(|c| c.trim() == "systemd")
}

/// The systemd unit a process runs in, from /proc/<pid>/cgroup.
/// True when systemd is the init system here (`sd_booted()`: /run/systemd/system exists),
/// so `systemctl` can act on a unit found in a process's cgroup.
pub fn systemd_is_init() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

pub fn unit_of_pid(pid: u32) -> Option<String> {
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
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
    pub timeout: Duration,
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

/// Gathers the units that may run the upstream, with their status and journal.
pub fn gather_systemd(inputs: &SystemdInputs) -> Fact<Vec<UnitFacts>> {
    if let Some(file) = &inputs.unit_status_file {
        let bytes = match super::files::read_all(file, 16 << 20) {
            Ok(b) => b,
            Err(e) => return Fact::unavailable(file.display().to_string(), e.reason()),
        };
        let journal = inputs
            .journal_file
            .as_ref()
            .and_then(|j| super::kernel_log::read_tail(j).ok());
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
    if !systemd_is_pid1() {
        return Fact::unavailable("systemctl", "systemd is not PID 1 on this host");
    }
    let t = inputs.timeout;
    let mut candidates: Vec<(String, String)> = Vec::new();
    let add = |id: String, why: String, c: &mut Vec<(String, String)>| {
        if !c.iter().any(|(i, _)| *i == id) {
            c.push((id, why));
        }
    };
    for pid in &inputs.upstream_pids {
        if let Some(u) = unit_of_pid(*pid).filter(|u| u.ends_with(".service")) {
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

/// PM2 daemons running on this host: (PM2_HOME, user name).
fn pm2_daemons() -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        // "PM2 v7.0.4: God Daemon (/home/deploy/.pm2)"
        if let Some(home) = cmd
            .split_once("God Daemon (")
            .and_then(|(_, r)| r.split(')').next())
        {
            let user = std::fs::metadata(format!("/proc/{pid}"))
                .ok()
                .and_then(|m| nix::unistd::User::from_uid(m.uid().into()).ok().flatten())
                .map(|u| u.name);
            if !out.iter().any(|(h, _)| h == home) {
                out.push((home.to_string(), user));
            }
        }
    }
    out
}

/// Gathers `pm2 jlist` from every running PM2 daemon (never starts one).
pub fn gather_pm2(timeout: Duration) -> Fact<Vec<Pm2App>> {
    let daemons = pm2_daemons();
    if daemons.is_empty() {
        return Fact::unavailable("pm2", "no PM2 daemon is running");
    }
    let mut apps = Vec::new();
    let mut errors = Vec::new();
    for (home, _user) in &daemons {
        match run_command_env("pm2", &["jlist"], &[("PM2_HOME", home)], timeout) {
            Ok(o) if o.success => match parse::pm2::parse_pm2_jlist(&o.stdout) {
                Ok(mut a) => {
                    for app in &mut a {
                        app.pm2_home.get_or_insert_with(|| home.clone());
                    }
                    apps.extend(a)
                }
                Err(e) => errors.push(e),
            },
            Ok(o) => errors.push(format!("pm2 jlist ({home}): {}", o.stderr_text())),
            Err(e) => errors.push(e),
        }
    }
    if apps.is_empty() && !errors.is_empty() {
        return Fact::unavailable("pm2 jlist", errors.join("; "));
    }
    Fact::collected(apps)
}

/// Gathers PHP-FPM configuration, log and children's memory. `conf` overrides discovery.
pub fn gather_php_fpm(conf: Option<&Path>) -> Fact<PhpFpmFacts> {
    let mut mains: Vec<PathBuf> = conf.map(|c| vec![c.to_path_buf()]).unwrap_or_default();
    let mut masters = Vec::new();
    let mut children = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                continue;
            };
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            let cmd = cmd.trim();
            if let Some(r) = cmd.strip_prefix("php-fpm: master process (") {
                masters.push(pid);
                if conf.is_none() {
                    if let Some(p) = r.strip_suffix(')') {
                        mains.push(PathBuf::from(p));
                    }
                }
            } else if let Some(pool) = cmd.strip_prefix("php-fpm: pool ") {
                let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok();
                let kb = |key: &str| {
                    status.as_deref().and_then(|s| {
                        s.lines()
                            .find_map(|l| l.strip_prefix(key))
                            .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
                    })
                };
                if let Some(rss_kb) = kb("VmRSS:") {
                    children.push(FpmChildMemory {
                        pool: pool.trim().to_string(),
                        pid,
                        rss_kb,
                        hwm_kb: kb("VmHWM:"),
                    });
                }
            }
        }
    }
    if mains.is_empty() {
        for pat in [
            "/etc/php/*/fpm/php-fpm.conf",
            "/etc/php-fpm.conf",
            "/usr/local/etc/php-fpm.conf",
        ] {
            mains.extend(glob::glob(pat).into_iter().flatten().flatten());
        }
    }
    if mains.is_empty() {
        return Fact::unavailable(
            "php-fpm",
            "no PHP-FPM configuration found and no master running",
        );
    }
    mains.sort();
    mains.dedup();
    let mut facts = PhpFpmFacts {
        children,
        ..Default::default()
    };
    let mut queue: Vec<PathBuf> = mains;
    let mut seen = Vec::new();
    while let Some(file) = queue.pop() {
        if seen.contains(&file) || seen.len() > 200 {
            continue;
        }
        seen.push(file.clone());
        let Ok(bytes) = super::files::read_all(&file, 4 << 20) else {
            continue;
        };
        let name = file.display().to_string();
        let parsed = parse::fpm::parse_fpm_conf(&name, &bytes);
        for (inc, _) in &parsed.includes {
            let base = file.parent().unwrap_or(Path::new("/"));
            let pattern = if inc.starts_with('/') {
                inc.clone()
            } else {
                base.join(inc).display().to_string()
            };
            let mut found: Vec<PathBuf> = glob::glob(&pattern)
                .into_iter()
                .flatten()
                .flatten()
                .collect();
            found.sort();
            queue.extend(found.into_iter().rev());
        }
        if facts.log_file.is_none() {
            facts.log_file = parsed.error_log.map(|s| s.value);
        }
        facts.pools.extend(parsed.pools);
        facts.files.push(name);
    }
    let log = facts.log_file.clone().or_else(|| {
        glob::glob("/var/log/php*-fpm.log")
            .ok()?
            .flatten()
            .next()
            .map(|p| p.display().to_string())
    });
    if let Some(l) = &log {
        if let Ok(b) = super::kernel_log::read_tail(Path::new(l)) {
            facts.log_events = parse::fpm::parse_fpm_log(&b);
        }
        facts.log_file = Some(l.clone());
    }
    if let Ok(mi) = std::fs::read_to_string("/proc/meminfo") {
        let (total, avail) = parse::proc::parse_meminfo(&mi);
        facts.mem_total_kb = total;
        facts.mem_available_kb = avail;
    }
    facts.unit = masters.first().and_then(|p| unit_of_pid(*p));
    facts.masters = masters
        .iter()
        .map(|&pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            crate::facts::FpmMaster {
                pid,
                binary: std::fs::read_link(format!("/proc/{pid}/exe"))
                    .ok()
                    .map(|p| p.display().to_string()),
                config: cmd
                    .trim()
                    .strip_prefix("php-fpm: master process (")
                    .and_then(|r| r.strip_suffix(')'))
                    .map(str::to_string),
                unit: unit_of_pid(pid).filter(|_| systemd_is_init()),
            }
        })
        .collect();
    Fact::collected(facts)
}

/// Open-file limits and descriptor counts of the given processes.
pub fn gather_process_limits(procs: &[(u32, ProcRole)]) -> Fact<Vec<ProcLimits>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for &(pid, role) in procs {
        let limits = match std::fs::read_to_string(format!("/proc/{pid}/limits")) {
            Ok(l) => l,
            Err(e) => {
                errors.push(format!("/proc/{pid}/limits: {e}"));
                continue;
            }
        };
        let Some((soft, hard)) = parse::proc::parse_limits_nofile(&limits) else {
            continue;
        };
        let open_fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .ok()
            .map(|d| d.count() as u64);
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .unwrap_or_default()
            .trim()
            .to_string();
        out.push(ProcLimits {
            pid,
            comm,
            role,
            nofile_soft: soft,
            nofile_hard: hard,
            open_fds,
            unit: unit_of_pid(pid),
        });
    }
    if out.is_empty() && !errors.is_empty() {
        return Fact::unavailable(
            "/proc/<pid>/limits",
            format!("{} (run as root)", errors.join("; ")),
        );
    }
    Fact::collected(out)
}

/// The identity (uid, gid, groups) of a user name, as initgroups(3) would set it.
pub fn user_ident(name: &str) -> Option<UserIdent> {
    use nix::unistd::{getgrouplist, Group, User};
    let u = User::from_name(name).ok().flatten()?;
    let cname = std::ffi::CString::new(name).ok()?;
    let groups: Vec<u32> = getgrouplist(&cname, u.gid)
        .map(|g| g.into_iter().map(|g| g.as_raw()).collect())
        .unwrap_or_else(|_| vec![u.gid.as_raw()]);
    let group_names = groups
        .iter()
        .map(|g| {
            Group::from_gid((*g).into())
                .ok()
                .flatten()
                .map_or(g.to_string(), |g| g.name)
        })
        .collect();
    Some(UserIdent {
        name: name.to_string(),
        uid: u.uid.as_raw(),
        gid: u.gid.as_raw(),
        groups,
        group_names,
    })
}

/// Stats `/`, every directory down to `socket`, and the socket, for `worker_user`.
pub fn socket_access(socket: &str, user: UserIdent) -> SocketAccess {
    use nix::unistd::{Group, User};
    let mut acc = SocketAccess {
        socket: socket.to_string(),
        user,
        components: Vec::new(),
        error: None,
    };
    let mut path = PathBuf::from("/");
    let mut parts = vec![path.clone()];
    for c in Path::new(socket).components().skip(1) {
        path.push(c);
        parts.push(path.clone());
    }
    for p in parts {
        match std::fs::metadata(&p) {
            Ok(m) => acc.components.push(PathStat {
                path: p.display().to_string(),
                uid: m.uid(),
                gid: m.gid(),
                mode: m.mode(),
                owner: User::from_uid(m.uid().into())
                    .ok()
                    .flatten()
                    .map(|u| u.name),
                group: Group::from_gid(m.gid().into())
                    .ok()
                    .flatten()
                    .map(|g| g.name),
            }),
            Err(e) => {
                acc.error = Some(format!("{}: {e}", p.display()));
                break;
            }
        }
    }
    acc
}

/// Socket access for every targeted socket path, for the nginx worker user.
pub fn gather_socket_access(sockets: &[String], worker_user: &str) -> Fact<Vec<SocketAccess>> {
    let Some(user) = user_ident(worker_user) else {
        return Fact::unavailable("/etc/passwd", format!("user {worker_user} not found"));
    };
    Fact::collected(
        sockets
            .iter()
            .map(|s| socket_access(s, user.clone()))
            .collect(),
    )
}

/// Supervisor recognized from a parent's comm.
fn supervisor_of(parent_comm: &str, parent_cmdline: &str) -> Option<String> {
    let c = parent_comm;
    let s = if c == "systemd" {
        "systemd"
    } else if c.starts_with("PM2") || parent_cmdline.contains("God Daemon") {
        "pm2"
    } else if c == "supervisord" || parent_cmdline.contains("supervisord") {
        "supervisord"
    } else if c == "runsv" {
        "runit"
    } else if c.starts_with("s6-supervise") {
        "s6"
    } else if matches!(c, "sh" | "bash" | "dash" | "zsh" | "ash")
        && (parent_cmdline.contains("while ") || parent_cmdline.contains("until "))
    {
        // `sh -c 'while true; do app; done'`: the hand-made supervisor of containers,
        // screen sessions and start scripts.
        "a shell loop"
    } else if matches!(c, "tini" | "dumb-init") {
        "container init"
    } else if c.starts_with("php-fpm") {
        "php-fpm"
    } else if c == "gunicorn" || c == "uwsgi" || c == "node" && parent_cmdline.contains("cluster") {
        return Some(c.to_string());
    } else {
        return None;
    };
    Some(s.to_string())
}

/// One look at a process: comm, age, parent, supervisor, unit.
pub fn look_at(pid: u32) -> Option<ProcLook> {
    let stat =
        parse::proc::parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)?;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as f64 } else { 100.0 };
    let age = (uptime - stat.starttime_ticks as f64 / hz).max(0.0);
    let parent = std::fs::read_to_string(format!("/proc/{}/stat", stat.ppid))
        .ok()
        .and_then(|s| parse::proc::parse_stat(&s));
    let pcmd = std::fs::read(format!("/proc/{}/cmdline", stat.ppid))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default();
    let parent_comm = parent.map(|p| p.comm);
    Some(ProcLook {
        pid,
        comm: stat.comm,
        age_secs: Some((age * 10.0).round() / 10.0),
        ppid: Some(stat.ppid),
        supervisor: parent_comm.as_deref().and_then(|c| supervisor_of(c, &pcmd)),
        parent_comm,
        unit: unit_of_pid(pid),
    })
}

/// Looks at the process behind each address repeatedly for `interval` (at least twice):
/// a restart loop shows as a pid that changes or a listener that comes and goes, and a
/// loop whose lives are shorter than the interval would slip between two looks only.
/// `owner` finds the pid listening at an address now (a fresh listener scan).
pub fn gather_liveness(
    addresses: &[String],
    owner: &dyn Fn(&str) -> Option<u32>,
    interval: Duration,
) -> Fact<Vec<UpstreamLiveness>> {
    const LOOKS: u32 = 6;
    let start = std::time::Instant::now();
    let mut samples: Vec<Vec<Option<u32>>> = vec![Vec::new(); addresses.len()];
    let mut first: Vec<Option<ProcLook>> = vec![None; addresses.len()];
    let mut last: Vec<Option<ProcLook>> = vec![None; addresses.len()];
    let mut round = 0;
    loop {
        for (i, a) in addresses.iter().enumerate() {
            let pid = owner(a);
            let look = pid.and_then(look_at);
            // The first life seen, so the report can name its program and parent.
            if first[i].is_none() {
                first[i] = look.clone();
            }
            last[i] = look;
            samples[i].push(pid);
        }
        round += 1;
        let elapsed = start.elapsed();
        if round >= 2 && elapsed >= interval {
            break;
        }
        let left = interval.saturating_sub(elapsed);
        std::thread::sleep((interval / LOOKS).min(left).max(Duration::from_millis(1)));
    }
    let interval_ms = start.elapsed().as_millis() as u64;
    let out = addresses
        .iter()
        .zip(first.into_iter().zip(last))
        .zip(samples)
        .map(|((a, (first, second)), samples)| UpstreamLiveness {
            address: a.clone(),
            interval_ms,
            first,
            second,
            samples,
        })
        .collect();
    Fact::collected(out)
}

/// SELinux mode from /sys/fs/selinux (or `getenforce`), and httpd_can_network_connect.
pub fn gather_selinux(timeout: Duration) -> Fact<SelinuxState> {
    let boolean = std::fs::read_to_string("/sys/fs/selinux/booleans/httpd_can_network_connect")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(|v| v == "1"));
    match std::fs::read_to_string("/sys/fs/selinux/enforce") {
        Ok(v) => Fact::collected(SelinuxState {
            mode: if v.trim() == "1" {
                "enforcing"
            } else {
                "permissive"
            }
            .into(),
            source: "/sys/fs/selinux/enforce".into(),
            httpd_can_network_connect: boolean,
        }),
        Err(_) if which::which("getenforce").is_ok() => {
            match run_command("getenforce", &[], timeout) {
                Ok(o) if o.success => Fact::collected(SelinuxState {
                    mode: String::from_utf8_lossy(&o.stdout)
                        .trim()
                        .to_ascii_lowercase(),
                    source: "getenforce".into(),
                    httpd_can_network_connect: boolean,
                }),
                Ok(o) => Fact::unavailable("getenforce", o.stderr_text()),
                Err(e) => Fact::unavailable("getenforce", e),
            }
        }
        Err(_) => Fact::collected(SelinuxState {
            mode: "disabled".into(),
            source: "/sys/fs/selinux (not mounted)".into(),
            httpd_can_network_connect: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_at_self_and_liveness() {
        let me = std::process::id();
        let l = look_at(me).expect("own /proc readable");
        assert_eq!(l.pid, me);
        assert!(l.age_secs.is_some());
        let f = gather_liveness(
            &["127.0.0.1:1".to_string()],
            &|_| Some(me),
            Duration::from_millis(20),
        );
        let v = f.value().expect("collected");
        assert_eq!(v[0].first.as_ref().map(|p| p.pid), Some(me));
        assert_eq!(v[0].second.as_ref().map(|p| p.pid), Some(me));
    }

    #[test]
    fn socket_access_of_a_real_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("app.sock");
        let _l = std::os::unix::net::UnixListener::bind(&sock).expect("bind");
        let a = socket_access(
            &sock.display().to_string(),
            UserIdent {
                name: "root".into(),
                ..Default::default()
            },
        );
        assert_eq!(a.error, None);
        assert_eq!(a.components.first().map(|c| c.path.as_str()), Some("/"));
        assert_eq!(
            a.components.last().map(|c| c.mode & libc::S_IFMT),
            Some(libc::S_IFSOCK)
        );
        assert_eq!(parse::proc::can_connect(&a), Ok(()));
        let missing = socket_access("/nonexistent/x.sock", UserIdent::default());
        assert!(missing.error.is_some());
    }

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
        let f = gather_systemd(&SystemdInputs {
            unit_status_file: Some(base.join("show-shop-api-auto-restart.txt")),
            journal_file: Some(base.join("journal-shop-api-short.txt")),
            timeout: Duration::from_secs(1),
            ..Default::default()
        });
        let u = f.value().expect("collected");
        assert_eq!(u[0].status.id, "shop-api.service");
        assert_eq!(u[0].journal.len(), 15);
    }
}
