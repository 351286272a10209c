//! What the collectors of stage 2 look at, decided once: [`Target`] after stage 1 (the
//! route, its site upstreams, nginx's master, configuration and namespaces) and
//! [`Upstreams`] after the listener scan (who serves the upstream addresses). Both are
//! built by pure functions of what was gathered before and reach every collector through
//! its [`Context`](super::runner::Context), never as extra arguments.

use std::collections::HashMap;
use std::path::PathBuf;

use super::listeners::Diag;
use super::log_window::NginxFs;
use super::site;
use crate::facts::{
    listener_owners, ports_of, ContainerInfo, Facts, NginxFacts, NginxMaster, Ns, ProcRole, Route,
    SiteUpstream, UpstreamAddr, View,
};
use crate::nginx;

/// Where nginx's master is, seen from badgw: its namespaces, the directory its network
/// tables are read from, its root when it has a mount namespace of its own, its container.
/// Read from the host by [`super::view::locate`].
#[derive(Debug, Clone, Default)]
pub struct Placement {
    pub view: View,
    pub net_dir: PathBuf,
    pub root: Option<PathBuf>,
    pub container: Option<ContainerInfo>,
}

/// What stage 1 decided: the targets of every later collector.
#[derive(Debug, Default)]
pub struct Target {
    /// The selected route (after the site-wide pick), as `facts.nginx.route` has it.
    pub route: Option<Route>,
    /// The route with every site upstream's addresses added: what the sources that look
    /// at all of them see (sockets, names, process managers, the error-log filter). The
    /// route itself when there are no site upstreams.
    pub all_upstreams: Option<Route>,
    /// Site-wide mode (or an `auth_request` subrequest): each distinct upstream.
    pub site_upstreams: Vec<SiteUpstream>,
    pub config: Option<nginx::Config>,
    pub master: Option<NginxMaster>,
    pub placement: Placement,
    /// What building the target left out, in words (for `facts.notes`).
    pub notes: Vec<String>,
}

impl Target {
    /// The targets of `nginx` (stage 1's result, None when it found nothing in time).
    pub fn build(
        nginx: Option<&NginxFacts>,
        config: Option<nginx::Config>,
        placement: Placement,
    ) -> Target {
        let route = nginx.and_then(|n| n.route.clone());
        let mut notes = Vec::new();
        // Site-wide mode: every distinct upstream behind the server is gathered for.
        let mut site_ups: Vec<SiteUpstream> = nginx
            .map(|n| site::group(&n.site_routes))
            .unwrap_or_default();
        if site_ups.len() > site::MAX_UPSTREAMS {
            let rest: Vec<String> = site_ups[site::MAX_UPSTREAMS..]
                .iter()
                .filter_map(|u| u.route.target.clone())
                .collect();
            notes.push(format!(
                "site-wide: {} more upstream(s) not checked (at most {} are): {}",
                rest.len(),
                site::MAX_UPSTREAMS,
                rest.join(", ")
            ));
            site_ups.truncate(site::MAX_UPSTREAMS);
        }
        // With --path too, an auth_request subrequest's upstream is a second one to check.
        if let Some(r) = route
            .as_ref()
            .filter(|r| site_ups.is_empty() && !r.auth_requests.is_empty())
        {
            site_ups = site::group(std::slice::from_ref(r));
        }
        Target {
            all_upstreams: route.as_ref().map(|r| site::union_route(r, &site_ups)),
            route,
            site_upstreams: site_ups,
            config,
            master: nginx.and_then(|n| n.master.clone()),
            placement,
            notes,
        }
    }

    pub fn master_pid(&self) -> Option<u32> {
        self.master.as_ref().map(|m| m.pid)
    }

    pub fn workers(&self) -> Vec<u32> {
        self.master.iter().flat_map(|m| m.workers.clone()).collect()
    }

    /// The upstream addresses of [`Self::all_upstreams`].
    pub fn upstream_addrs(&self) -> Vec<&UpstreamAddr> {
        self.all_upstreams
            .iter()
            .flat_map(|r| r.upstreams.iter())
            .collect()
    }

    /// nginx's network namespace when it is not badgw's and badgw can join it.
    fn joinable_netns(&self) -> Option<u32> {
        let view = &self.placement.view;
        match view.net {
            Ns::Pid(pid) if view.probes_in_nginx_netns => Some(pid),
            _ => None,
        }
    }

    /// Where listening TCP sockets are asked for over sock_diag: in nginx's namespace
    /// where badgw can enter it.
    pub fn diag(&self) -> Diag {
        match (self.placement.view.net, self.joinable_netns()) {
            (Ns::Host, _) => Diag::Here,
            (Ns::Pid(_), Some(pid)) => Diag::Netns(pid),
            (Ns::Pid(_), None) => Diag::No,
        }
    }

    /// The network namespace the probes join (None: badgw's own).
    pub fn probe_netns(&self) -> Option<u32> {
        self.joinable_netns()
    }

    /// The namespace nginx's own sockets are read in: Some(None) for badgw's, None when
    /// nginx's cannot be joined.
    pub fn sockets_netns(&self) -> Option<Option<u32>> {
        match self.placement.view.net {
            Ns::Host => Some(None),
            Ns::Pid(_) => self.joinable_netns().map(Some),
        }
    }

    /// How nginx's own files are reached.
    pub fn nginx_fs(&self) -> NginxFs {
        NginxFs {
            root: self.placement.root.clone(),
            container: self.placement.container.clone(),
        }
    }
}

/// Who serves the upstream addresses, from the listener scan: what the "why is it gone"
/// collectors look for.
#[derive(Debug, Clone, Default)]
pub struct Upstreams {
    /// Every upstream address of the route (of every site upstream in site-wide mode).
    pub addresses: Vec<String>,
    /// Their unix socket paths and TCP ports.
    pub sockets: Vec<String>,
    pub ports: Vec<u16>,
    /// Processes (pid, comm) listening at them.
    pub owners: Vec<(u32, String)>,
    /// The owner of every listening socket the scan saw (inode → pid), so a later look
    /// at the listeners walks `/proc/*/fd` only for a socket it has not seen.
    pub socket_owners: HashMap<u64, u32>,
    /// The user nginx's workers connect to unix sockets as.
    pub worker_user: String,
    /// nginx's master and workers and the upstreams' processes, by role.
    pub roles: Vec<(u32, ProcRole)>,
}

impl Upstreams {
    /// Read off `facts` once the listener scan is in.
    pub fn of(facts: &Facts, target: &Target) -> Upstreams {
        let ups = target.upstream_addrs();
        let listeners = facts.listeners.value().map(Vec::as_slice).unwrap_or(&[]);
        let owners = listener_owners(&ups, listeners);
        let nginx = facts.nginx.value();
        let worker_user = nginx
            .and_then(|n| n.master.as_ref())
            .and_then(|m| m.worker_users.first().cloned())
            .or_else(|| {
                nginx
                    .and_then(|n| n.user.as_ref())
                    .and_then(|u| u.split_whitespace().next().map(str::to_string))
            })
            .unwrap_or_else(|| "nobody".into());
        let mut roles: Vec<(u32, ProcRole)> = Vec::new();
        if let Some(m) = nginx.and_then(|n| n.master.as_ref()) {
            roles.push((m.pid, ProcRole::NginxMaster));
            roles.extend(m.workers.iter().map(|&w| (w, ProcRole::NginxWorker)));
        }
        roles.extend(owners.iter().map(|&(p, _)| (p, ProcRole::Upstream)));
        Upstreams {
            addresses: ups.iter().map(|u| u.address.clone()).collect(),
            sockets: ups
                .iter()
                .filter_map(|u| u.address.strip_prefix("unix:").map(str::to_string))
                .collect(),
            ports: ports_of(&ups),
            socket_owners: listeners
                .iter()
                .filter_map(|l| Some((l.inode, l.pid?)))
                .collect(),
            owners,
            worker_user,
            roles,
        }
    }

    /// The pids listening at the upstream addresses.
    pub fn pids(&self) -> Vec<u32> {
        self.owners.iter().map(|(pid, _)| *pid).collect()
    }
}
