//! The process behind each upstream address, looked at repeatedly a short interval apart:
//! a restart loop shows as a pid that changes or a listener that comes and goes.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use super::listeners;
use super::runner::Context;
use super::systemd::unit_of_pid;
use crate::facts::{Fact, ProcLook, SocketKind, UpstreamLiveness};
use crate::parse;

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
pub fn look_at(ctx: &Context, pid: u32) -> Option<ProcLook> {
    let stat = parse::proc::parse_stat(&std::fs::read_to_string(ctx.proc_file(pid, "stat")).ok()?)?;
    let uptime: f64 = std::fs::read_to_string(ctx.proc_path("uptime"))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as f64 } else { 100.0 };
    let age = (uptime - stat.starttime_ticks as f64 / hz).max(0.0);
    let parent = std::fs::read_to_string(ctx.proc_file(stat.ppid, "stat"))
        .ok()
        .and_then(|s| parse::proc::parse_stat(&s));
    let pcmd = std::fs::read(ctx.proc_file(stat.ppid, "cmdline"))
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
        unit: unit_of_pid(ctx, pid),
    })
}

/// The collector: the process behind each of the run's upstream addresses, looked at for
/// 150 ms.
pub fn collect(ctx: &Context) -> Fact<Vec<UpstreamLiveness>> {
    let owner = owner_finder(ctx);
    gather_liveness(
        ctx,
        &ctx.upstreams.addresses,
        &owner,
        Duration::from_millis(150),
    )
}

/// The pid listening at an address now. Each look reads the listening sockets only
/// (sock_diag); the owner of a socket seen before is remembered by inode, and /proc/*/fd
/// is walked only for a new one.
fn owner_finder(ctx: &Context) -> impl Fn(&str) -> Option<u32> + '_ {
    let known: Mutex<HashMap<u64, u32>> = Mutex::new(ctx.upstreams.socket_owners.clone());
    move |address: &str| -> Option<u32> {
        let net_dir = &ctx.target.placement.net_dir;
        let (ls, _) = listeners::tables(ctx.proc_root(), net_dir, ctx.target.diag()).ok()?;
        let l = match address.strip_prefix("unix:") {
            Some(path) => ls
                .iter()
                .find(|l| l.kind == SocketKind::Unix && l.address == path)?,
            None => {
                let a: SocketAddr = address.parse().ok()?;
                ls.iter()
                    .find(|l| l.kind != SocketKind::Unix && l.accepts(&a))?
            }
        };
        if let Some(&pid) = known.lock().ok()?.get(&l.inode) {
            return Some(pid);
        }
        let wanted = HashSet::from([l.inode]);
        let pid = *listeners::socket_owners(ctx.proc_root(), &wanted)
            .0
            .get(&l.inode)?;
        known.lock().ok()?.insert(l.inode, pid);
        Some(pid)
    }
}

/// Looks at the process behind each address repeatedly for `interval` (at least twice):
/// a restart loop shows as a pid that changes or a listener that comes and goes, and a
/// loop whose lives are shorter than the interval would slip between two looks only.
/// `owner` finds the pid listening at an address now (a fresh listener scan).
fn gather_liveness(
    ctx: &Context,
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
            let look = pid.and_then(|p| look_at(ctx, p));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_at_self_and_liveness() {
        let me = std::process::id();
        let ctx = Context::at("/proc", Duration::from_secs(1));
        let l = look_at(&ctx, me).expect("own /proc readable");
        assert_eq!(l.pid, me);
        assert!(l.age_secs.is_some());
        let f = gather_liveness(
            &ctx,
            &["127.0.0.1:1".to_string()],
            &|_| Some(me),
            Duration::from_millis(20),
        );
        let v = f.value().expect("collected");
        assert_eq!(v[0].first.as_ref().map(|p| p.pid), Some(me));
        assert_eq!(v[0].second.as_ref().map(|p| p.pid), Some(me));
    }
}
