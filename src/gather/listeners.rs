//! Reads the listening sockets from /proc/net/{tcp,tcp6,unix} and joins each to the
//! process that holds it through the `socket:[inode]` links in /proc/<pid>/fd.
//!
//! Without root, other users' /proc/<pid>/fd are unreadable: those listeners are kept
//! with an unknown owner and the count is reported, never silently dropped.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::Path;

use crate::facts::{Listener, SocketKind};
use crate::parse::proc_net;
use crate::parse::process_role::role_of_comm;

/// Listeners plus what could not be seen.
pub struct ListenerScan {
    pub listeners: Vec<Listener>,
    /// Inode → owning pid, for every socket whose owner was visible.
    pub owners: HashMap<u64, u32>,
    pub notes: Vec<String>,
}

/// Reads every table under `proc_root` (normally /proc). Fails only when no table at all
/// can be read.
pub fn scan(proc_root: &Path) -> Result<ListenerScan, String> {
    scan_net(proc_root, &proc_root.join("net"))
}

/// Reads the tables of one network namespace, `net_dir` (`/proc/net`, or `/proc/PID/net`
/// for the namespace of PID), and joins them to owners from every process's fds (socket
/// inodes are unique across namespaces).
pub fn scan_net(proc_root: &Path, net_dir: &Path) -> Result<ListenerScan, String> {
    scan_with(proc_root, net_dir, Diag::No)
}

/// Where to ask the kernel for listening TCP sockets over NETLINK_SOCK_DIAG.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Diag {
    /// In badgw's own network namespace.
    Here,
    /// In the network namespace of this pid (joined on a thread of its own; root).
    Netns(u32),
    /// Not at all: read /proc/…/net/tcp and tcp6.
    No,
}

/// Listening TCP sockets over sock_diag (filtered to LISTEN in the kernel), or None when
/// netlink is not usable (then /proc is read).
fn diag_listeners(proc_root: &Path, diag: Diag) -> Option<Vec<Listener>> {
    match diag {
        Diag::Here => super::sock_diag::tcp_listeners().ok(),
        Diag::Netns(pid) => {
            let root = proc_root.to_path_buf();
            std::thread::spawn(move || {
                super::ns::enter_net(&root, pid).ok()?;
                super::sock_diag::tcp_listeners().ok()
            })
            .join()
            .ok()
            .flatten()
        }
        Diag::No => None,
    }
}

/// Like [`scan_net`], with TCP listeners from sock_diag where `diag` allows, and owners
/// resolved only for the listening sockets' inodes.
pub fn scan_with(proc_root: &Path, net_dir: &Path, diag: Diag) -> Result<ListenerScan, String> {
    let (mut listeners, mut notes) = tables(proc_root, net_dir, diag)?;
    let wanted: HashSet<u64> = listeners.iter().map(|l| l.inode).collect();
    let (owners, comms, hidden) = socket_owners(proc_root, &wanted);
    let mut unknown = 0;
    for l in &mut listeners {
        match owners.get(&l.inode) {
            Some(&pid) => {
                l.pid = Some(pid);
                l.process = comms.get(&pid).cloned();
                l.role = l.process.as_deref().and_then(role_of_comm);
            }
            None => unknown += 1,
        }
    }
    if unknown > 0 && hidden > 0 {
        notes.push(format!(
            "the owner of {unknown} listening socket(s) is not visible: {hidden} process(es) \
             do not let this user read /proc/<pid>/fd (run as root to see them)"
        ));
    }
    Ok(ListenerScan {
        listeners,
        owners,
        notes,
    })
}

/// The listening sockets of one namespace without their owners, and notes on what could
/// not be read. Fails only when no table at all can be read.
pub fn tables(
    proc_root: &Path,
    net_dir: &Path,
    diag: Diag,
) -> Result<(Vec<Listener>, Vec<String>), String> {
    let mut listeners = Vec::new();
    let mut notes = Vec::new();
    let mut read_any = false;
    let from_diag = diag_listeners(proc_root, diag);
    let tables: &[(&str, SocketKind)] = match from_diag {
        Some(mut l) => {
            read_any = true;
            listeners.append(&mut l);
            &[]
        }
        None => &[("tcp", SocketKind::Tcp), ("tcp6", SocketKind::Tcp6)],
    };
    for &(name, kind) in tables {
        let path = net_dir.join(name);
        match fs::read(&path) {
            Ok(text) => match proc_net::tcp_listeners(&text, kind) {
                Ok(mut l) => {
                    read_any = true;
                    listeners.append(&mut l);
                }
                Err(e) => notes.push(format!("{}: unparsable: {e}", path.display())),
            },
            // No tcp6 table means IPv6 is disabled: not a problem worth a note.
            Err(_) if name == "tcp6" => {}
            Err(e) => notes.push(format!("{}: {e}", path.display())),
        }
    }
    let unix_path = net_dir.join("unix");
    match fs::read(&unix_path) {
        Ok(text) => {
            read_any = true;
            listeners.extend(proc_net::unix_listeners(&text));
        }
        Err(e) => notes.push(format!("{}: {e}", unix_path.display())),
    }
    if !read_any {
        return Err(notes.join("; "));
    }
    Ok((listeners, notes))
}

/// Maps socket inodes to pids; also returns each pid's comm and how many processes'
/// fd tables could not be read.
pub fn socket_owners(
    proc_root: &Path,
    wanted: &HashSet<u64>,
) -> (HashMap<u64, u32>, HashMap<u32, String>, usize) {
    let mut owners = HashMap::new();
    let mut comms = HashMap::new();
    let mut hidden = 0;
    let Ok(entries) = fs::read_dir(proc_root) else {
        return (owners, comms, hidden);
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            hidden += 1;
            continue;
        };
        let mut holds_socket = false;
        for fd in fds.flatten() {
            let Ok(target) = fs::read_link(fd.path()) else {
                continue;
            };
            if let Some(inode) = socket_inode(&target).filter(|i| wanted.contains(i)) {
                // The first holder wins: a listening socket inherited by workers stays
                // attributed to the lowest pid, usually the parent that opened it.
                owners.entry(inode).or_insert(pid);
                holds_socket = true;
            }
        }
        if holds_socket {
            if let Ok(comm) = fs::read_to_string(entry.path().join("comm")) {
                comms.insert(pid, comm.trim_end().to_string());
            }
            // Every wanted socket has its (lowest-pid) owner: the rest cannot change that.
            if owners.len() == wanted.len() {
                break;
            }
        }
    }
    (owners, comms, hidden)
}

/// `socket:[12345]` → 12345.
fn socket_inode(link: &Path) -> Option<u64> {
    let s = link.to_str()?;
    s.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_links_give_their_inode() {
        assert_eq!(socket_inode(Path::new("socket:[4140283]")), Some(4_140_283));
        assert_eq!(socket_inode(Path::new("pipe:[12]")), None);
        assert_eq!(socket_inode(Path::new("/dev/null")), None);
    }

    #[test]
    fn live_scan_finds_a_listener_of_this_process() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let scan = scan(Path::new("/proc")).unwrap();
        let mine = scan
            .listeners
            .iter()
            .find(|x| x.port == Some(port) && x.kind == SocketKind::Tcp)
            .expect("own listener is in /proc/net/tcp");
        assert_eq!(mine.address, format!("127.0.0.1:{port}"));
        assert_eq!(mine.pid, Some(std::process::id()));
    }
}
