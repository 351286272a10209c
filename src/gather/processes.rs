//! Reads what badgw needs to know about a process from /proc/<pid>: name, command line,
//! parent, user, age, PORT-like environment variables and listening sockets.
//!
//! Only variable names that look like ports are kept from the environment, with their
//! values: other values may be secrets and never enter a snapshot.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use crate::facts::ProcInfo;

/// Reads one process; None when it has gone or /proc/<pid> is unreadable.
pub fn read(
    proc_root: &Path,
    pid: u32,
    owners: &HashMap<u64, u32>,
    boot_time: Option<u64>,
    now: u64,
) -> Option<ProcInfo> {
    let dir = proc_root.join(pid.to_string());
    let stat = fs::read_to_string(dir.join("stat")).ok()?;
    let parsed = crate::parse::proc::parse_stat(&stat)?;
    let cmdline = fs::read(dir.join("cmdline"))
        .map(|b| cmdline_to_string(&b))
        .unwrap_or_default();
    let uid = fs::read_to_string(dir.join("status"))
        .ok()
        .and_then(|s| crate::parse::proc::parse_status_ids(&s))
        .map(|(uid, _, _)| uid);
    let user = uid.map(|uid| {
        nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
            .ok()
            .flatten()
            .map(|u| u.name)
            .unwrap_or_else(|| uid.to_string())
    });
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|&t| t > 0)
        .unwrap_or(100) as u64;
    let age_secs = boot_time.map(|b| now.saturating_sub(b + parsed.starttime_ticks / ticks));
    let env_ports = fs::read(dir.join("environ"))
        .map(|b| port_variables(&b))
        .unwrap_or_default();
    let mut listen_inodes: Vec<u64> = owners
        .iter()
        .filter(|(_, &p)| p == pid)
        .map(|(&inode, _)| inode)
        .collect();
    listen_inodes.sort_unstable();
    let env_port_numbers = crate::parse::app_args::env_port_numbers(&env_ports);
    Some(ProcInfo {
        pid,
        ppid: Some(parsed.ppid),
        user,
        age_secs,
        env_ports,
        listen_inodes,
        args: crate::parse::app_args::app_args(&parsed.comm, &cmdline),
        cmdline,
        role: crate::parse::process_role::role_of_comm(&parsed.comm),
        env_port_numbers,
        comm: parsed.comm,
    })
}

/// NUL-separated argv → one line. nginx rewrites its argv into one string with spaces
/// ("nginx: master process /usr/sbin/nginx -c …"), which this keeps as is. Values of
/// arguments that look like secrets (`--password=…`, `--token …`) are replaced by `…`:
/// command lines go into snapshots and reports.
pub fn cmdline_to_string(raw: &[u8]) -> String {
    let parts: Vec<String> = raw
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    let mut out: Vec<String> = Vec::with_capacity(parts.len());
    let mut hide_next = false;
    for p in parts {
        if hide_next {
            out.push("…".into());
            hide_next = false;
            continue;
        }
        let (name, value) = p
            .split_once('=')
            .map(|(n, v)| (n, Some(v)))
            .unwrap_or((p.as_str(), None));
        let secret = is_secret_name(name);
        match value {
            Some(_) if secret => out.push(format!("{name}=…")),
            None if secret && name.starts_with('-') => {
                hide_next = true;
                out.push(p.clone());
            }
            _ => out.push(p.clone()),
        }
    }
    out.join(" ")
}

fn is_secret_name(name: &str) -> bool {
    let n = name.trim_start_matches('-').to_ascii_lowercase();
    [
        "pass",
        "secret",
        "token",
        "apikey",
        "api-key",
        "api_key",
        "auth",
        "credential",
        "private",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// `PORT=3000`, `APP_PORT=8080`, `LISTEN=…`, `BIND=…`, `HOST=…` from an environ block.
fn port_variables(environ: &[u8]) -> Vec<String> {
    environ
        .split(|&b| b == 0)
        .filter_map(|kv| std::str::from_utf8(kv).ok())
        .filter(|kv| {
            let name = kv.split('=').next().unwrap_or("").to_ascii_uppercase();
            name == "PORT"
                || name.ends_with("_PORT")
                || name == "LISTEN"
                || name.ends_with("_LISTEN")
                || name == "BIND"
                || name == "HOST"
                || name.ends_with("_BIND")
        })
        .map(str::to_string)
        .collect()
}

/// Boot time (seconds since the epoch) from /proc/stat's `btime`.
pub fn boot_time(proc_root: &Path) -> Option<u64> {
    fs::read_to_string(proc_root.join("stat"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

/// Every pid with its command line, for finding nginx masters.
pub fn all_cmdlines(proc_root: &Path) -> Vec<(u32, String, Option<u32>)> {
    let Ok(entries) = fs::read_dir(proc_root) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let raw = fs::read(e.path().join("cmdline")).ok()?;
            let ppid = fs::read_to_string(e.path().join("stat"))
                .ok()
                .and_then(|s| crate::parse::proc::parse_stat(&s))
                .map(|s| s.ppid);
            Some((pid, cmdline_to_string(&raw), ppid))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_port_like_variables_are_kept() {
        let env = b"PATH=/usr/bin\0PORT=3000\0SECRET_KEY=hunter2\0APP_PORT=8080\0HOST=127.0.0.1\0";
        assert_eq!(
            port_variables(env),
            ["PORT=3000", "APP_PORT=8080", "HOST=127.0.0.1"]
        );
    }

    #[test]
    fn secret_looking_arguments_are_hidden() {
        assert_eq!(
            cmdline_to_string(b"app\0--db-password=hunter2\0--token\0abc\0--port\x003000\0"),
            "app --db-password=… --token … --port 3000"
        );
    }

    #[test]
    fn cmdline_joins_argv_and_keeps_nginx_titles() {
        assert_eq!(
            cmdline_to_string(b"node\0server.js\0--port\x003001\0"),
            "node server.js --port 3001"
        );
        assert_eq!(
            cmdline_to_string(
                b"nginx: master process /usr/sbin/nginx -c /etc/nginx/nginx.conf\0\0\0"
            ),
            "nginx: master process /usr/sbin/nginx -c /etc/nginx/nginx.conf"
        );
    }

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        let p = read(
            Path::new("/proc"),
            me,
            &HashMap::new(),
            boot_time(Path::new("/proc")),
            now_secs(),
        )
        .unwrap();
        assert_eq!(p.pid, me);
        assert!(p.age_secs.is_some());
        assert!(!p.cmdline.is_empty());
    }

    fn now_secs() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }
}
