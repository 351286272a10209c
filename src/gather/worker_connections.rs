//! nginx workers' connections to the named upstreams' ports: the addresses nginx uses now
//! (a stale one shows as SYN-SENT before the error log says anything).

use std::collections::{BTreeSet, HashMap};

use super::runner::Context;
use super::{ns, sock_diag};
use crate::facts::{Fact, Facts, UpstreamConnection};

/// Whether there is anything to look at: a namespace badgw can read nginx's sockets in,
/// workers, and upstreams written with a host name.
pub fn wanted(ctx: &Context) -> bool {
    ctx.target.sockets_netns().is_some()
        && !ctx.target.workers().is_empty()
        && !named_ports(ctx).is_empty()
}

/// The ports of the route's upstreams that were written with a host name.
fn named_ports(ctx: &Context) -> Vec<u16> {
    ctx.target
        .route
        .iter()
        .flat_map(|r| r.upstreams.iter())
        .filter(|u| u.host.is_some())
        .filter_map(|u| u.socket_addr().map(|a| a.port()))
        .collect::<BTreeSet<u16>>()
        .into_iter()
        .collect()
}

/// The SYN-SENT and ESTABLISHED connections of nginx's workers to the named ports, read
/// with sock_diag (filtered by state and port in the kernel) from nginx's network
/// namespace (joined on this thread, which is a collector's own), kept when a worker holds
/// the socket (its inode among the worker's `/proc/PID/fd` links).
pub fn collect(ctx: &Context) -> Vec<UpstreamConnection> {
    let Some(netns) = ctx.target.sockets_netns() else {
        return Vec::new();
    };
    if let Some(pid) = netns {
        if ns::enter_net(&ctx.proc_root, pid).is_err() {
            return Vec::new();
        }
    }
    let mut owner: HashMap<u64, u32> = HashMap::new();
    for w in ctx.target.workers() {
        let Ok(fds) = std::fs::read_dir(ctx.proc_file(w, "fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(t) = std::fs::read_link(fd.path()) {
                let t = t.to_string_lossy();
                if let Some(n) = t.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
                    if let Ok(inode) = n.parse() {
                        owner.insert(inode, w);
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    for port in named_ports(ctx) {
        for c in sock_diag::connections_to_port(port).unwrap_or_default() {
            if let Some(&pid) = owner.get(&c.inode) {
                out.push(UpstreamConnection {
                    state: c.state.to_string(),
                    remote: c.remote,
                    pid,
                });
            }
        }
    }
    out
}

/// Into `facts.view` (left empty when the look is late).
pub fn store(facts: &mut Facts, found: Vec<UpstreamConnection>) {
    if let Fact::Collected { value: view } = &mut facts.view {
        view.upstream_connections = found;
    }
}
