//! The "listeners" collector: the listening sockets in nginx's network namespace with
//! their owners (`listeners.rs`), the processes that own them and nginx's own master and
//! workers (`processes.rs`), and the users nginx's workers run as.

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use super::runner::Context;
use super::{listeners, processes};
use crate::facts::{Fact, Facts, Listener, ProcInfo};

/// What the listener scan found, applied to the facts once it is back.
pub struct ListenerStage {
    listeners: Fact<Vec<Listener>>,
    processes: Fact<Vec<ProcInfo>>,
    notes: Vec<String>,
    worker_users: Option<Vec<String>>,
}

pub fn collect(ctx: &Context) -> ListenerStage {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let proc_root = ctx.proc_root();
    let target = &ctx.target;
    let boot = processes::boot_time(proc_root);
    match listeners::scan_with(proc_root, &target.placement.net_dir, target.diag()) {
        Ok(scan) => {
            let pids: BTreeSet<u32> = scan.listeners.iter().filter_map(|l| l.pid).collect();
            let read = |pid| processes::read(proc_root, pid, &scan.owners, boot, now);
            let mut infos: Vec<ProcInfo> = pids.iter().filter_map(|&pid| read(pid)).collect();
            let mut worker_users_found = None;
            if let Some(m) = &target.master {
                let mut users: Vec<String> =
                    m.workers.iter().filter_map(|&w| read(w)?.user).collect();
                users.sort();
                users.dedup();
                worker_users_found = Some(users);
                for &pid in std::iter::once(&m.pid).chain(m.workers.iter()) {
                    if !pids.contains(&pid) {
                        infos.extend(read(pid));
                    }
                }
            }
            ListenerStage {
                notes: scan.notes.clone(),
                listeners: Fact::collected(scan.listeners),
                processes: Fact::collected(infos),
                worker_users: worker_users_found,
            }
        }
        Err(reason) => ListenerStage {
            listeners: Fact::unavailable("/proc/net", reason.clone()),
            processes: Fact::unavailable("/proc", reason),
            notes: Vec::new(),
            worker_users: None,
        },
    }
}

pub fn store(facts: &mut Facts, st: ListenerStage) {
    facts.notes.extend(st.notes);
    facts.listeners = st.listeners;
    facts.processes = st.processes;
    if let (Some(users), Fact::Collected { value: n }) = (st.worker_users, &mut facts.nginx) {
        if let Some(m) = &mut n.master {
            m.worker_users = users;
        }
    }
}

pub fn late(facts: &mut Facts, why: &str) {
    facts.listeners = Fact::unavailable("/proc/net", why);
    facts.processes = Fact::unavailable("/proc", why);
}
