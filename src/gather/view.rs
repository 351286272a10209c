//! nginx's view of the host, as `facts.view` records it: its namespaces and container
//! ([`locate`], before stage 2), the other namespaces of this host that hold a remote
//! upstream address ([`add_peers`]), and the containers meant to serve the upstreams
//! ([`add_containers`]). The upstream names and nginx's own connections are collectors of
//! their own (`upstream_names.rs`, `worker_connections.rs`) whose results land here too.

use std::net::IpAddr;
use std::path::Path;

use super::runner::Context;
use super::target::Placement;
use super::{containers, ns};
use crate::facts::{Locality, Ns, View};

/// Where nginx's master (`master`, None when none runs) is seen from badgw.
pub fn locate(ctx: &Context, master: Option<u32>) -> Placement {
    let view = ns::detect(&ctx.proc_root, master);
    let root = match view.mnt {
        Ns::Pid(_) => ns::mount_root(&ctx.proc_root, master),
        Ns::Host => None,
    };
    Placement {
        net_dir: ns::net_dir(&ctx.proc_root, master),
        container: master.and_then(|p| containers::identify(&ctx.proc_root, p, ctx.timeout)),
        root,
        view,
    }
}

/// Upstream addresses that are not nginx's own: which namespace of this host has them?
pub fn add_peers(ctx: &Context, view: &mut View) {
    let remote: Vec<IpAddr> = ctx
        .target
        .upstream_addrs()
        .iter()
        .filter_map(|u| u.socket_addr())
        .map(|a| a.ip())
        .filter(|ip| view.locality(*ip) == Locality::Remote)
        .collect();
    if remote.is_empty() {
        return;
    }
    let proc_root = &ctx.proc_root;
    let own = ns::ns_inode(proc_root, ctx.target.master_pid(), "net")
        .or_else(|_| ns::ns_inode(proc_root, None, "net"))
        .ok();
    let (peers, note) = ns::peers(proc_root, own, &remote);
    view.peers = peers;
    view.limits.extend(note);
}

/// Containers: nginx's own, and the ones meant to serve an upstream (the container of the
/// process listening in a peer namespace, or a Compose service named like the upstream).
pub fn add_containers(ctx: &Context, view: &mut View) {
    view.nginx_container = ctx.target.placement.container.clone();
    for p in view.peers.iter().filter(|p| p.pid != 0) {
        if let Some(c) = containers::identify(&ctx.proc_root, p.pid, ctx.timeout) {
            for a in &p.addresses {
                view.upstream_containers.push((a.clone(), c.clone()));
            }
        }
    }
    let project = view
        .nginx_container
        .as_ref()
        .and_then(|c| c.compose_project.clone());
    for n in &view.names {
        let known = view
            .upstream_containers
            .iter()
            .any(|(k, _)| *k == n.name || n.addresses.iter().any(|a| a == k));
        if !known {
            let root = Path::new(containers::DOCKER_ROOT);
            if let Some(c) = containers::by_name(root, &n.name, project.as_deref()) {
                view.upstream_containers.push((n.name.clone(), c));
            }
        }
    }
}
