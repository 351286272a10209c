//! nginx's namespaces: every collector looks at the host the way the nginx master does.
//!
//! - Network: listeners come from `/proc/MASTER/net/{tcp,tcp6,unix}` (the tables of the
//!   master's network namespace, readable by any user), the addresses local to it from
//!   `/proc/MASTER/net/fib_trie` and `if_inet6`, and the direct probes run in a dedicated
//!   thread that first joins the master's network namespace (`setns(CLONE_NEWNET)`, root
//!   only; otherwise they run from badgw's own namespace and the report says so).
//! - Mount: paths (unix sockets, `/etc/hosts`) are read through `/proc/MASTER/root` when the
//!   master's mount namespace is not badgw's (root only).
//! - Other namespaces of this host that own an upstream address (containers) are found by
//!   walking `/proc/*/ns/net` (root), deduplicated by inode.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use crate::facts::{LocalNet, Ns, PeerNamespace, View};

use super::listeners;

/// The inode of `/proc/PID/ns/KIND` (`pid` None: badgw itself).
pub fn ns_inode(proc_root: &Path, pid: Option<u32>, kind: &str) -> Result<u64, String> {
    let who = pid.map_or("self".to_string(), |p| p.to_string());
    let path = proc_root.join(who).join("ns").join(kind);
    fs::metadata(&path)
        .map(|m| m.ino())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Where to read the network tables of the view: `/proc/PID/net` or `/proc/net`.
pub fn net_dir(proc_root: &Path, master: Option<u32>) -> PathBuf {
    match master {
        Some(pid) if proc_root.join(pid.to_string()).join("net/tcp").exists() => {
            proc_root.join(pid.to_string()).join("net")
        }
        _ => proc_root.join("net"),
    }
}

/// `/proc/PID/root` when nginx's mount namespace is not badgw's and its root can be
/// entered; None when paths are the same as badgw's (or cannot be told apart).
pub fn mount_root(proc_root: &Path, master: Option<u32>) -> Option<PathBuf> {
    let pid = master?;
    let theirs = ns_inode(proc_root, Some(pid), "mnt").ok()?;
    let ours = ns_inode(proc_root, None, "mnt").ok()?;
    let root = proc_root.join(pid.to_string()).join("root");
    (theirs != ours && fs::read_dir(&root).is_ok()).then_some(root)
}

/// `path` as nginx sees it: under `root` when there is one.
pub fn under_root(root: Option<&Path>, path: &str) -> PathBuf {
    match root {
        Some(r) => r.join(path.trim_start_matches('/')),
        None => PathBuf::from(path),
    }
}

/// Where badgw reads nginx's file `path` (a log named in its configuration): inside nginx's
/// `root` when it has one, links followed there; a standard stream stays as written (its
/// read then says what it is).
pub fn nginx_file(root: Option<&Path>, path: &str) -> PathBuf {
    match resolve_in_root(root, path) {
        Resolved::File(f) => f,
        Resolved::Stream(_) => PathBuf::from(path),
    }
}

/// A path of nginx's, as reachable from badgw.
#[derive(Debug, PartialEq)]
pub enum Resolved {
    /// Read it here (under nginx's root when it has one).
    File(PathBuf),
    /// It is (a link to) a standard stream or a /proc fd: `/dev/stderr`, `/proc/self/fd/2`.
    Stream(String),
}

/// Follows `path`'s symbolic links inside nginx's root (an absolute link target is taken
/// relative to that root, as nginx's own lookups do, never to badgw's), and tells a
/// standard stream apart from a file. Without a root, only the final component is checked.
pub fn resolve_in_root(root: Option<&Path>, path: &str) -> Resolved {
    let is_stream = |p: &str| {
        matches!(p, "/dev/stderr" | "/dev/stdout" | "/dev/console")
            || p.starts_with("/proc/self/fd/")
            || p.starts_with("/dev/fd/")
            || p.starts_with("/dev/pts/")
    };
    let mut current = PathBuf::from(path);
    for _ in 0..40 {
        let text = current.display().to_string();
        if is_stream(&text) {
            return Resolved::Stream(text);
        }
        let on_disk = under_root(root, &text);
        let Some(root) = root else {
            // Badgw's own file system: just check where a final link points.
            return match fs::read_link(&on_disk) {
                Ok(t) if is_stream(&t.display().to_string()) => {
                    Resolved::Stream(t.display().to_string())
                }
                _ => Resolved::File(on_disk),
            };
        };
        // Resolve component by component, so that no link escapes nginx's root.
        let mut resolved = PathBuf::from("/");
        let mut relinked = None;
        let comps: Vec<_> = current.components().collect();
        for (i, c) in comps.iter().enumerate() {
            use std::path::Component;
            match c {
                Component::RootDir | Component::CurDir | Component::Prefix(_) => continue,
                Component::ParentDir => {
                    resolved.pop();
                    continue;
                }
                Component::Normal(n) => resolved.push(n),
            }
            let here = root.join(resolved.strip_prefix("/").unwrap_or(&resolved));
            if let Ok(t) = fs::read_link(&here) {
                let mut next = if t.is_absolute() {
                    t
                } else {
                    resolved.parent().unwrap_or(Path::new("/")).join(t)
                };
                for rest in &comps[i + 1..] {
                    next.push(rest);
                }
                relinked = Some(next);
                break;
            }
        }
        match relinked {
            Some(next) => current = next,
            None => {
                return Resolved::File(root.join(resolved.strip_prefix("/").unwrap_or(&resolved)))
            }
        }
    }
    Resolved::File(under_root(root, path))
}

/// Joins the network namespace of `pid` on the calling thread. Call it only on a thread
/// made for that purpose: the thread stays in that namespace until it ends.
pub fn enter_net(proc_root: &Path, pid: u32) -> Result<(), String> {
    let path = proc_root.join(pid.to_string()).join("ns/net");
    let f = fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    // SAFETY: setns on a valid, open namespace file descriptor; it changes only the
    // calling thread's network namespace.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(format!(
            "setns({}): {}",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Whether this process may join the network namespace of `pid` (tried on a throwaway
/// thread).
fn can_enter_net(proc_root: &Path, pid: u32) -> Result<(), String> {
    let root = proc_root.to_path_buf();
    std::thread::spawn(move || enter_net(&root, pid))
        .join()
        .unwrap_or_else(|_| Err("the namespace thread failed".into()))
}

/// The view of the master `master` (None: no running master, badgw's own view), with the
/// addresses local to its network namespace.
pub fn detect(proc_root: &Path, master: Option<u32>) -> View {
    let mut view = View {
        probes_in_nginx_netns: true,
        ..Default::default()
    };
    let dir = net_dir(proc_root, master);
    match local_addresses(&dir) {
        Ok(a) => {
            view.local_addresses = a;
            view.local_addresses_known = true;
        }
        Err(e) => view.limits.push(format!(
            "the addresses of nginx's network namespace are unknown ({e}): only loopback \
             upstreams are taken as local"
        )),
    }
    let Some(pid) = master else {
        return view;
    };
    match (
        ns_inode(proc_root, Some(pid), "net"),
        ns_inode(proc_root, None, "net"),
    ) {
        (Ok(theirs), Ok(ours)) if theirs != ours => {
            view.net = Ns::Pid(pid);
            if let Err(e) = can_enter_net(proc_root, pid) {
                view.probes_in_nginx_netns = false;
                view.limits.push(format!(
                    "nginx (pid {pid}) runs in its own network namespace, which badgw could \
                     not enter ({e}; run as root): its listeners were read from /proc/{pid}/net, \
                     but the probes ran from badgw's own namespace and prove less"
                ));
            }
        }
        (Ok(_), Ok(_)) => {}
        (Err(e), _) | (_, Err(e)) => {
            // Without root the namespace cannot be compared; the tables of /proc/PID/net
            // still are nginx's. Differing tables mean a namespace of its own.
            let same_tables = fs::read(dir.join("fib_trie")).ok()
                == fs::read(proc_root.join("self/net/fib_trie")).ok();
            if !same_tables {
                view.net = Ns::Pid(pid);
                view.probes_in_nginx_netns = false;
                view.limits.push(format!(
                    "nginx (pid {pid}) runs in another network namespace that badgw cannot \
                     enter ({e}; run as root): its listeners were read from /proc/{pid}/net, \
                     the probes ran from badgw's own namespace and prove less"
                ));
            }
        }
    }
    match (
        ns_inode(proc_root, Some(pid), "mnt"),
        ns_inode(proc_root, None, "mnt"),
    ) {
        (Ok(theirs), Ok(ours)) if theirs != ours => {
            view.mnt = Ns::Pid(pid);
            if mount_root(proc_root, Some(pid)).is_none() {
                view.mnt = Ns::Host;
                view.limits.push(format!(
                    "nginx (pid {pid}) has its own mount namespace but /proc/{pid}/root cannot \
                     be read: paths were looked up in badgw's own file system"
                ));
            }
        }
        (Ok(_), Ok(_)) => {}
        (Err(e), _) | (_, Err(e)) if view.net != Ns::Host => view.limits.push(format!(
            "cannot tell whether nginx (pid {pid}) sees the same files as badgw ({e}; run as \
             root): paths were looked up in badgw's own file system"
        )),
        _ => {}
    }
    view
}

/// Addresses assigned in the network namespace whose tables are in `net_dir`.
pub fn local_addresses(net_dir: &Path) -> Result<Vec<LocalNet>, String> {
    let fib = net_dir.join("fib_trie");
    let text = fs::read_to_string(&fib).map_err(|e| format!("{}: {e}", fib.display()))?;
    let mut out = parse_fib_trie(&text);
    if let Ok(v6) = fs::read_to_string(net_dir.join("if_inet6")) {
        out.extend(parse_if_inet6(&v6));
    }
    Ok(out)
}

/// The `host LOCAL` entries of /proc/net/fib_trie: the IPv4 addresses (and ranges, like
/// 127.0.0.0/8) assigned to the namespace's interfaces.
pub fn parse_fib_trie(text: &str) -> Vec<LocalNet> {
    let mut out: Vec<LocalNet> = Vec::new();
    let mut leaf: Option<Ipv4Addr> = None;
    for line in text.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("|--") {
            leaf = rest.trim().parse().ok();
        } else if t.starts_with("+--") || !line.starts_with(' ') {
            leaf = None;
        } else if let (Some(ip), Some(rest)) = (leaf, t.strip_prefix('/')) {
            let mut words = rest.split_whitespace();
            let prefix = words.next().and_then(|p| p.parse::<u8>().ok());
            let scope = words.next();
            let kind = words.next();
            if let (Some(prefix), Some("host"), Some("LOCAL")) = (prefix, scope, kind) {
                let n = LocalNet {
                    address: IpAddr::V4(ip),
                    prefix,
                };
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
    }
    out
}

/// The addresses of /proc/net/if_inet6 (`00000000000000000000000000000001 01 80 10 80 lo`).
pub fn parse_if_inet6(text: &str) -> Vec<LocalNet> {
    text.lines()
        .filter_map(|l| {
            let hex = l.split_whitespace().next()?;
            let v = u128::from_str_radix(hex, 16).ok()?;
            (hex.len() == 32).then(|| LocalNet {
                address: IpAddr::V6(Ipv6Addr::from(v)),
                prefix: 128,
            })
        })
        .collect()
}

/// The other network namespaces of this host (by inode; `skip` is nginx's) in which one of
/// `targets` is a local address, with their listeners. Needs root to see other users'
/// namespaces; what could not be looked at is returned as a note.
pub fn peers(
    proc_root: &Path,
    skip: Option<u64>,
    targets: &[IpAddr],
) -> (Vec<PeerNamespace>, Option<String>) {
    if targets.is_empty() {
        return (Vec::new(), None);
    }
    // Lowest pid per namespace inode.
    let mut by_inode: BTreeMap<u64, u32> = BTreeMap::new();
    let mut hidden = 0usize;
    let Ok(entries) = fs::read_dir(proc_root) else {
        return (
            Vec::new(),
            Some(format!("{}: unreadable", proc_root.display())),
        );
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        match ns_inode(proc_root, Some(pid), "net") {
            Ok(ino) if Some(ino) != skip => {
                let slot = by_inode.entry(ino).or_insert(pid);
                *slot = (*slot).min(pid);
            }
            Ok(_) => {}
            Err(_) => hidden += 1,
        }
    }
    let mut found = Vec::new();
    for (&inode, &pid) in &by_inode {
        let dir = proc_root.join(pid.to_string()).join("net");
        let Ok(local) = local_addresses(&dir) else {
            continue;
        };
        let owned: Vec<String> = targets
            .iter()
            .filter(|ip| !ip.is_loopback() && local.iter().any(|n| n.contains(**ip)))
            .map(|ip| ip.to_string())
            .collect();
        if owned.is_empty() {
            continue;
        }
        let listeners = listeners::scan_net(proc_root, &dir)
            .map(|s| s.listeners)
            .unwrap_or_default();
        found.push(PeerNamespace {
            inode,
            pid,
            process: fs::read_to_string(proc_root.join(pid.to_string()).join("comm"))
                .ok()
                .map(|c| c.trim_end().to_string()),
            addresses: owned,
            listeners,
            netns_name: None,
        });
    }
    // Named namespaces (`ip netns add`) with no process in them: only their bind-mounted
    // file under /run/netns holds them.
    let known: Vec<u64> = by_inode.keys().copied().chain(skip).collect();
    found.extend(named_peers(
        proc_root,
        Path::new(NAMED_NETNS),
        &known,
        targets,
    ));
    let note = (hidden > 0 && found.is_empty()).then(|| {
        format!(
            "the network namespaces of {hidden} process(es) could not be read (run as root): \
             an upstream address that is not local to nginx may belong to one of them"
        )
    });
    (found, note)
}

/// Where `ip netns add` bind-mounts named network namespaces.
pub const NAMED_NETNS: &str = "/run/netns";

/// The named namespaces under `dir` that no process is in (`known`: inodes already seen,
/// and nginx's) in which one of `targets` is local, read from a thread that joins each
/// (root): `thread-self/net` under `proc_root` is then that namespace's.
fn named_peers(
    proc_root: &Path,
    dir: &Path,
    known: &[u64],
    targets: &[IpAddr],
) -> Vec<PeerNamespace> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        let Ok(meta) = fs::metadata(&path) else {
            continue;
        };
        if known.contains(&meta.ino()) || out.iter().any(|p: &PeerNamespace| p.inode == meta.ino())
        {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        let targets = targets.to_vec();
        let proc_root = proc_root.to_path_buf();
        let read = std::thread::spawn(move || -> Option<PeerNamespace> {
            let f = fs::File::open(&path).ok()?;
            // SAFETY: setns on an open namespace file; only this dedicated thread moves.
            if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return None;
            }
            let dir = proc_root.join("thread-self/net");
            let local = local_addresses(&dir).ok()?;
            let owned: Vec<String> = targets
                .iter()
                .filter(|ip| !ip.is_loopback() && local.iter().any(|n| n.contains(**ip)))
                .map(|ip| ip.to_string())
                .collect();
            if owned.is_empty() {
                return None;
            }
            let listeners = listeners::scan_net(&proc_root, &dir)
                .map(|s| s.listeners)
                .unwrap_or_default();
            Some(PeerNamespace {
                inode: meta.ino(),
                pid: 0,
                process: None,
                addresses: owned,
                listeners,
                netns_name: Some(name),
            })
        });
        if let Ok(Some(p)) = read.join() {
            out.push(p);
        }
    }
    out
}

/// Looks `name` up in a hosts file's text, as glibc's `files` source does: every line whose
/// canonical name or alias matches (case-insensitively), in file order.
pub fn hosts_lookup(text: &str, name: &str) -> Vec<IpAddr> {
    let name = name.trim_end_matches('.');
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let Some(ip) = words.next().and_then(|w| w.parse::<IpAddr>().ok()) else {
            continue;
        };
        if words.any(|w| w.eq_ignore_ascii_case(name)) && !out.contains(&ip) {
            out.push(ip);
        }
    }
    out
}

/// How nginx's getaddrinfo() looked names up, when its view differs from badgw's: its own
/// files (`/etc/hosts`, `resolv.conf`, `nsswitch.conf` through `/proc/MASTER/root`) and its
/// DNS servers asked from inside its network namespace.
struct OwnLookup {
    hosts: Option<String>,
    hosts_path: String,
    resolv: super::dns::ResolvConf,
    resolv_path: String,
    order: Vec<&'static str>,
    /// (proc root, master pid) when the DNS questions must be asked from nginx's network
    /// namespace.
    netns: Option<(PathBuf, u32)>,
    timeout: std::time::Duration,
}

/// A resolver that looks names up as nginx did when it loaded its configuration. In
/// badgw's own namespaces that is the OS resolver (getaddrinfo, exactly nginx's); when
/// nginx has a mount or network namespace of its own, its `/etc/hosts` and then the DNS
/// servers of its `resolv.conf` (in its `nsswitch.conf` order, `files` and `dns` only),
/// asked from inside its network namespace — never badgw's resolver.
pub struct NginxResolver {
    pub root: Option<PathBuf>,
    own: Option<OwnLookup>,
    cache: std::sync::Mutex<HashMap<String, (Vec<IpAddr>, String)>>,
}

impl NginxResolver {
    /// The resolver of the nginx master `master` (None: badgw's own, the OS resolver).
    pub fn for_master(proc_root: &Path, master: Option<u32>, timeout: std::time::Duration) -> Self {
        let root = mount_root(proc_root, master);
        let other_net = master.and_then(|pid| {
            let theirs = ns_inode(proc_root, Some(pid), "net").ok()?;
            let ours = ns_inode(proc_root, None, "net").ok()?;
            (theirs != ours).then(|| (proc_root.to_path_buf(), pid))
        });
        if root.is_none() && other_net.is_none() {
            return NginxResolver {
                root,
                own: None,
                cache: Default::default(),
            };
        }
        let read = |p: &str| {
            let path = under_root(root.as_deref(), p);
            let text = super::files::read_all(&path, 16 << 20)
                .ok()
                .map(|b| String::from_utf8_lossy(&b).into_owned());
            (text, path.display().to_string())
        };
        let (hosts, hosts_path) = read("/etc/hosts");
        let (resolv, resolv_path) = read("/etc/resolv.conf");
        let (nsswitch, _) = read("/etc/nsswitch.conf");
        let mut resolv = super::dns::parse_resolv_conf(resolv.as_deref().unwrap_or(""));
        if resolv.nameservers.is_empty() {
            // glibc's default without a nameserver line.
            resolv.nameservers.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        NginxResolver {
            root,
            own: Some(OwnLookup {
                hosts,
                hosts_path,
                resolv,
                resolv_path,
                order: super::dns::hosts_order(nsswitch.as_deref()),
                netns: other_net,
                timeout,
            }),
            cache: Default::default(),
        }
    }

    pub fn resolve(&self, host: &str, port: u16) -> Vec<SocketAddr> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return vec![SocketAddr::new(ip, port)];
        }
        self.lookup(host, port)
            .0
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect()
    }

    /// The addresses of `host` and where they came from, in words.
    pub fn lookup(&self, host: &str, port: u16) -> (Vec<IpAddr>, String) {
        if let Some(hit) = self.cache.lock().ok().and_then(|c| c.get(host).cloned()) {
            return hit;
        }
        let found = match &self.own {
            Some(own) => own.lookup(host),
            None => {
                let ips = super::os_resolve(host, port)
                    .into_iter()
                    .map(|a| a.ip())
                    .fold(Vec::new(), |mut v, ip| {
                        if !v.contains(&ip) {
                            v.push(ip);
                        }
                        v
                    });
                (
                    ips,
                    "the system resolver (getaddrinfo), as nginx at start-up".to_string(),
                )
            }
        };
        if let Ok(mut c) = self.cache.lock() {
            c.insert(host.to_string(), found.clone());
        }
        found
    }
}

impl OwnLookup {
    fn lookup(&self, host: &str) -> (Vec<IpAddr>, String) {
        let mut tried = Vec::new();
        for source in &self.order {
            match *source {
                "files" => {
                    let ips = self
                        .hosts
                        .as_deref()
                        .map(|t| hosts_lookup(t, host))
                        .unwrap_or_default();
                    if !ips.is_empty() {
                        return (ips, format!("nginx's /etc/hosts ({})", self.hosts_path));
                    }
                    tried.push(format!("not in {}", self.hosts_path));
                }
                _ => match self.ask_dns(host) {
                    Ok((ips, said)) if !ips.is_empty() => return (ips, said),
                    Ok((_, said)) | Err(said) => tried.push(said),
                },
            }
        }
        (
            Vec::new(),
            format!("nginx's resolver: {}", tried.join("; ")),
        )
    }

    /// The DNS answer for `host`, glibc's way: each search candidate in turn, each asked
    /// of the servers in order until one answers; within twice the timeout in all.
    fn ask_dns(&self, host: &str) -> Result<(Vec<IpAddr>, String), String> {
        let candidates = super::dns::candidates(&self.resolv, host);
        let servers = self.resolv.nameservers.clone();
        let (netns, timeout) = (self.netns.clone(), self.timeout);
        let where_from = match &self.netns {
            Some((_, pid)) => format!("asked from nginx's network namespace (pid {pid})"),
            None => "asked from badgw's network namespace, which is nginx's".to_string(),
        };
        let resolv_path = self.resolv_path.clone();
        // A thread of its own, so that joining nginx's network namespace is safe.
        let asked = std::thread::spawn(move || {
            let mut note = String::new();
            if let Some((proc_root, pid)) = &netns {
                if let Err(e) = enter_net(proc_root, *pid) {
                    note = format!(" (from badgw's network namespace, not nginx's: {e})");
                }
            }
            let end = std::time::Instant::now() + timeout * 2;
            let mut errors = Vec::new();
            for name in &candidates {
                for server in &servers {
                    let left = end.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        errors.push("out of time".to_string());
                        return Err((errors, note));
                    }
                    let addr = SocketAddr::new(*server, 53);
                    match super::dns::ask(addr, name, left.min(timeout)) {
                        Ok(super::dns::Answer::Addresses(ips)) if !ips.is_empty() => {
                            return Ok((ips, *server, name.clone(), note));
                        }
                        // NODATA or NXDOMAIN: the next candidate, as glibc.
                        Ok(_) => break,
                        Err(e) => errors.push(e),
                    }
                }
            }
            Err((errors, note))
        })
        .join()
        .unwrap_or_else(|_| Err((vec!["the DNS thread failed".into()], String::new())));
        match asked {
            Ok((ips, server, name, note)) => Ok((
                ips,
                format!(
                    "nginx's DNS server {server} (nameserver in {resolv_path}), {where_from}{note}: {name}"
                ),
            )),
            Err((errors, note)) if errors.is_empty() => Ok((
                Vec::new(),
                format!("no such name at nginx's DNS servers (from {resolv_path}), {where_from}{note}"),
            )),
            Err((errors, note)) => Err(format!(
                "nginx's DNS servers (from {resolv_path}) did not answer{note}: {}",
                errors.join("; ")
            )),
        }
    }
}

/// The `nameserver` addresses of a resolv.conf.
pub fn nameservers(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("nameserver"))
                .then(|| w.next())
                .flatten()
                .map(str::to_string)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fib_trie_local_entries() {
        let text = fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/host/ns/fib_trie"
        ))
        .unwrap();
        let local = parse_fib_trie(&text);
        let shown: Vec<String> = local
            .iter()
            .map(|n| format!("{}/{}", n.address, n.prefix))
            .collect();
        assert_eq!(
            shown,
            ["127.0.0.0/8", "127.0.0.1/32", "172.18.0.4/32"],
            "{text}"
        );
    }

    #[test]
    fn if_inet6_addresses() {
        let text = "00000000000000000000000000000001 01 80 10 80       lo\n\
                    fe80000000000000004200fffeac1204 0b 40 20 80     eth0\n";
        let a = parse_if_inet6(text);
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].address, "::1".parse::<IpAddr>().unwrap());
        assert_eq!(
            a[1].address,
            "fe80::42:ff:feac:1204".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn hosts_file_lookup_by_name_and_alias() {
        let text = "127.0.0.1 localhost\n# 10.0.0.9 app\n172.18.0.7\tapp app.internal # compose\n\
                    172.18.0.8 other\nbad line\n";
        assert_eq!(
            hosts_lookup(text, "APP"),
            ["172.18.0.7".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            hosts_lookup(text, "app.internal."),
            ["172.18.0.7".parse::<IpAddr>().unwrap()]
        );
        assert!(hosts_lookup(text, "nope").is_empty());
    }

    #[test]
    fn links_resolve_inside_the_root_and_streams_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("var/log/nginx")).unwrap();
        fs::create_dir_all(root.join("data/logs")).unwrap();
        fs::write(root.join("data/logs/error.log"), "x").unwrap();
        // The official nginx image: error.log -> /dev/stderr.
        std::os::unix::fs::symlink("/dev/stderr", root.join("var/log/nginx/error.log")).unwrap();
        // An absolute link into the container's own tree, and a relative one.
        std::os::unix::fs::symlink("/data/logs", root.join("var/log/app")).unwrap();
        std::os::unix::fs::symlink("../../data/logs/error.log", root.join("var/log/rel.log"))
            .unwrap();
        assert_eq!(
            resolve_in_root(Some(root), "/var/log/nginx/error.log"),
            Resolved::Stream("/dev/stderr".into())
        );
        assert_eq!(
            resolve_in_root(Some(root), "/var/log/app/error.log"),
            Resolved::File(root.join("data/logs/error.log"))
        );
        assert_eq!(
            resolve_in_root(Some(root), "/var/log/rel.log"),
            Resolved::File(root.join("data/logs/error.log"))
        );
        assert_eq!(
            resolve_in_root(None, "/dev/stderr"),
            Resolved::Stream("/dev/stderr".into())
        );
    }

    #[test]
    fn resolv_conf_nameservers() {
        let text =
            "# Docker\nnameserver 127.0.0.11\nsearch corp\noptions ndots:0\nnameserver ::1\n";
        assert_eq!(nameservers(text), ["127.0.0.11", "::1"]);
    }

    #[test]
    fn own_view_is_the_host_and_knows_loopback() {
        let view = detect(Path::new("/proc"), Some(std::process::id()));
        assert_eq!(view.net, Ns::Host);
        assert_eq!(view.mnt, Ns::Host);
        assert!(view.local_addresses_known);
        assert!(view
            .local_addresses
            .iter()
            .any(|n| n.contains("127.0.0.1".parse().unwrap())));
    }
}
