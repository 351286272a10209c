//! Gather: the only layer that touches the host. It is staged — the configuration decides
//! the targets, the targets decide what to probe — and every source is bounded: external
//! commands and probes have timeouts, slow sources run in parallel, and a source that fails
//! becomes `Fact::Unavailable` with the reason, never an abort.

pub mod balancer;
pub mod clock;
pub mod command;
pub mod containers;
pub mod discovery;
pub mod dns;
pub mod files;
pub mod host;
pub mod kernel_log;
pub mod limits;
pub mod listeners;
pub mod liveness;
pub mod log_input;
pub mod log_window;
pub mod ns;
pub mod php_fpm;
pub mod plain_log;
pub mod pm2;
pub mod probe;
pub mod processes;
pub mod runner;
pub mod selinux;
pub mod site;
pub mod sock_diag;
pub mod socket_access;
pub mod supervisord;
pub mod systemd;
pub mod unix_sockets;
pub mod verify;
pub mod websocket;

use std::collections::BTreeSet;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::anyhow;

use crate::exit::{fail, ExitStatus};
use crate::facts::*;
use crate::nginx;

/// What to gather, resolved from the command line.
#[derive(Debug, Clone)]
pub struct GatherOptions {
    pub request: RequestSpec,
    pub nginx_conf: Option<PathBuf>,
    pub nginx_dump: Option<PathBuf>,
    pub error_log: Option<PathBuf>,
    pub access_log: Option<PathBuf>,
    pub kernel_log: Option<PathBuf>,
    pub journal: Option<PathBuf>,
    pub unit_status: Option<PathBuf>,
    pub since: Duration,
    pub timeout: Duration,
    /// Normally /proc; tests may point elsewhere.
    pub proc_root: PathBuf,
    /// No `--path` was given: route every location of the site (site-wide mode).
    pub whole_site: bool,
    /// `--lb-idle-timeout`: the balancer's idle timeout, as the user states it.
    pub lb_idle_timeout: Option<Duration>,
    /// Global deadline of the run (`--deadline`); None: [`default_deadline`] of the timeout.
    pub deadline: Option<Duration>,
}

/// Largest `nginx -T` dump read (`--nginx-dump`).
const MAX_DUMP: u64 = 256 << 20;

/// Resolves a host name as the OS resolver does (what nginx does at start-up).
pub fn os_resolve(host: &str, port: u16) -> Vec<SocketAddr> {
    (host, port)
        .to_socket_addrs()
        .map(|it| {
            let mut v: Vec<SocketAddr> = Vec::new();
            for a in it {
                if !v.contains(&a) {
                    v.push(a);
                }
            }
            v
        })
        .unwrap_or_default()
}

/// Refuses, before anything else, an input named on the command line that cannot be
/// read: missing, unreadable, or not a regular file (exit 2, naming the file and why).
pub fn check_explicit_inputs(opts: &GatherOptions) -> anyhow::Result<()> {
    let named = [
        ("--error-log", &opts.error_log),
        ("--access-log", &opts.access_log),
        ("--kernel-log", &opts.kernel_log),
        ("--journal", &opts.journal),
        ("--unit-status", &opts.unit_status),
        ("--nginx-dump", &opts.nginx_dump),
    ];
    for (flag, path) in named {
        if let Some(p) = path {
            // `--error-log -`: standard input (a runtime's log output piped in).
            if flag == "--error-log" && p == Path::new("-") {
                continue;
            }
            files::open_regular(p).map_err(|e| fail(ExitStatus::Usage, anyhow!("{flag}: {e}")))?;
        }
    }
    Ok(())
}

/// What the listener scan found, applied to the facts once it is back.
struct ListenerStage {
    listeners: Fact<Vec<Listener>>,
    processes: Fact<Vec<ProcInfo>>,
    notes: Vec<String>,
    worker_users: Option<Vec<String>>,
}

fn scan_listeners(
    proc_root: &Path,
    net_dir: &Path,
    diag: listeners::Diag,
    master: Option<&NginxMaster>,
    now: u64,
) -> ListenerStage {
    let boot = processes::boot_time(proc_root);
    match listeners::scan_with(proc_root, net_dir, diag) {
        Ok(scan) => {
            let pids: BTreeSet<u32> = scan.listeners.iter().filter_map(|l| l.pid).collect();
            let mut infos: Vec<ProcInfo> = pids
                .iter()
                .filter_map(|&pid| processes::read(proc_root, pid, &scan.owners, boot, now))
                .collect();
            let mut worker_users_found = None;
            if let Some(m) = master {
                worker_users_found =
                    Some(worker_users(proc_root, &m.workers, &scan.owners, boot, now));
                for &pid in std::iter::once(&m.pid).chain(m.workers.iter()) {
                    if !pids.contains(&pid) {
                        infos.extend(processes::read(proc_root, pid, &scan.owners, boot, now));
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

/// The global deadline of a run when `--deadline` is not given: above the slowest stage,
/// a probe of a keep-alive upstream (connect and response, then the keep-alive request,
/// then up to twice --timeout idle: 5 × --timeout), plus 2 s for everything else.
pub fn default_deadline(timeout: Duration) -> Duration {
    timeout * 5 + Duration::from_secs(2)
}

/// Gathers every fact for one request. Errors only when nothing can be diagnosed at all
/// (no nginx configuration found, an unreadable main configuration file, or an input
/// named on the command line that cannot be read). Every collector runs on its own
/// thread and is waited for only until the deadline; what it did not deliver in time is
/// `unavailable: deadline` and listed in `facts.gather`.
pub fn collect(opts: &GatherOptions) -> anyhow::Result<Facts> {
    check_explicit_inputs(opts)?;
    let budget = opts
        .deadline
        .unwrap_or_else(|| default_deadline(opts.timeout));
    let deadline = Instant::now() + budget;
    let late = || runner::deadline_reason(budget);
    let mut stages: Vec<GatherStage> = Vec::new();
    let mut facts = Facts::new(opts.request.clone());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // Whole seconds, as snapshots have always recorded it.
    facts.collected_at = chrono::Timelike::with_nanosecond(&chrono::Local::now().fixed_offset(), 0);
    facts.hostname = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok());
    facts.host = Some(host::gather());

    // Stage 1: the configuration decides the targets.
    crate::progress::stage("finding nginx and its configuration");
    let o = opts.clone();
    let nginx_stage = runner::spawn("nginx configuration", move || {
        let procs = processes::all_cmdlines(&o.proc_root);
        nginx_facts(&o, &procs)
    });
    let nginx_found = match nginx_stage.wait(deadline, &mut stages) {
        Some(r) => Some(r?),
        None => None,
    };
    let (nginx_found, config) = match nginx_found {
        Some((n, c)) => (Some(n), c),
        None => (None, None),
    };
    let route = nginx_found.as_ref().and_then(|n| n.route.clone());
    let master = nginx_found.as_ref().and_then(|n| n.master.clone());
    // Site-wide mode: every distinct upstream behind the server is gathered for, and the
    // sources that look at all of them see the union of their addresses.
    let mut site_ups: Vec<SiteUpstream> = nginx_found
        .as_ref()
        .map(|n| site::group(&n.site_routes))
        .unwrap_or_default();
    if site_ups.len() > site::MAX_UPSTREAMS {
        let rest: Vec<String> = site_ups[site::MAX_UPSTREAMS..]
            .iter()
            .filter_map(|u| u.route.target.clone())
            .collect();
        facts.notes.push(format!(
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
    let gather_route = route.as_ref().map(|r| site::union_route(r, &site_ups));
    // nginx's namespaces: where listeners are read, probes run from, paths are looked up.
    let master_pid = master.as_ref().map(|m| m.pid);
    let mut view = ns::detect(&opts.proc_root, master_pid);
    let net_dir = ns::net_dir(&opts.proc_root, master_pid);
    let root = match view.mnt {
        Ns::Pid(_) => ns::mount_root(&opts.proc_root, master_pid),
        Ns::Host => None,
    };
    let nginx_container =
        master_pid.and_then(|p| containers::identify(&opts.proc_root, p, opts.timeout));
    // Listening TCP sockets over sock_diag in nginx's namespace where badgw can enter it.
    let diag = match view.net {
        Ns::Host => listeners::Diag::Here,
        Ns::Pid(pid) if view.probes_in_nginx_netns => listeners::Diag::Netns(pid),
        Ns::Pid(_) => listeners::Diag::No,
    };
    let probe_ns = match view.net {
        Ns::Pid(pid) if view.probes_in_nginx_netns => Some(pid),
        _ => None,
    };
    facts.nginx = match nginx_found {
        Some(n) => Fact::collected(n),
        None => Fact::unavailable("nginx configuration", late()),
    };

    // Stage 2: the targets decide what to probe; the slow sources run in parallel.
    crate::progress::stage("probing upstreams, reading logs and /proc");
    let probes: Vec<runner::Pending<ProbeResult>> = match &route {
        Some(r) if !site_ups.is_empty() => site_probes(r, &site_ups, opts, probe_ns),
        Some(r) => spawn_probes(r, opts, probe_ns),
        None => Vec::new(),
    };
    let (o, r) = (opts.clone(), gather_route.clone());
    let nginx_fs = log_window::NginxFs {
        root: root.clone(),
        container: nginx_container.clone(),
    };
    let slices_fs = nginx_fs.clone();
    let error_log = runner::spawn("error log", move || {
        log_window::error_log_window(&o, r.as_ref(), &nginx_fs)
    });
    // Each upstream's own slice of the error log: the events that name it.
    let (o, ups) = (opts.clone(), site_ups.clone());
    let slices = runner::spawn("error log per upstream", move || {
        let mut o = o;
        o.request.site.clear();
        ups.iter()
            .map(|u| {
                let (w, _) =
                    log_window::error_log_window(&o, Some(&site::slice_route(u)), &slices_fs);
                w.value().cloned()
            })
            .collect::<Vec<_>>()
    });
    let site_config = config.clone();
    let (o, r) = (opts.clone(), route.clone());
    let nginx_fs = log_window::NginxFs {
        root: root.clone(),
        container: nginx_container.clone(),
    };
    let access_log = runner::spawn("access log", move || {
        log_window::access_log_window(&o, r.as_ref(), &nginx_fs)
    });
    let (o, r, c) = (opts.clone(), route.clone(), config.clone());
    let ws = runner::spawn("websocket", move || {
        websocket::gather(&o, r.as_ref(), c.as_ref(), master_pid)
    });
    let (o, r) = (opts.clone(), route.clone());
    let lb = runner::spawn("load balancer", move || {
        balancer::gather(&o, r.as_ref(), config.as_ref(), master_pid)
    });
    let (proc_root, nd, m) = (opts.proc_root.clone(), net_dir.clone(), master.clone());
    let listener_stage = runner::spawn("listeners", move || {
        scan_listeners(&proc_root, &nd, diag, m.as_ref(), now)
    });

    match listener_stage.wait(deadline, &mut stages) {
        Some(st) => {
            facts.notes.extend(st.notes);
            facts.listeners = st.listeners;
            facts.processes = st.processes;
            if let (Some(users), Fact::Collected { value: n }) = (st.worker_users, &mut facts.nginx)
            {
                if let Some(m) = &mut n.master {
                    m.worker_users = users;
                }
            }
        }
        None => {
            facts.listeners = Fact::unavailable("/proc/net", late());
            facts.processes = Fact::unavailable("/proc", late());
        }
    }
    if let Some(r) = &gather_route {
        let socks: Vec<UnixSocketFile> = r
            .upstreams
            .iter()
            .filter(|u| u.kind == SocketKind::Unix)
            .map(|u| {
                let path = u.address.strip_prefix("unix:").unwrap_or(&u.address);
                unix_sockets::stat_at(path, &ns::under_root(root.as_deref(), path))
            })
            .collect();
        facts.unix_sockets = Fact::collected(socks);
    } else {
        facts.unix_sockets = Fact::unavailable("nginx route", "no route was selected");
    }
    // Upstream addresses that are not nginx's own: which namespace of this host has them?
    let remote: Vec<std::net::IpAddr> = gather_route
        .iter()
        .flat_map(|r| r.upstreams.iter())
        .filter_map(|u| u.address.parse::<SocketAddr>().ok())
        .map(|a| a.ip())
        .filter(|ip| view.locality(*ip) == Locality::Remote)
        .collect();
    if !remote.is_empty() {
        let own = ns::ns_inode(&opts.proc_root, master_pid, "net")
            .or_else(|_| ns::ns_inode(&opts.proc_root, None, "net"))
            .ok();
        let (peers, note) = ns::peers(&opts.proc_root, own, &remote);
        view.peers = peers;
        view.limits.extend(note);
    }
    // What the route's upstream names resolve to now, through nginx's resolver (a DNS
    // query can hang: its own thread, awaited until the deadline).
    let mut names: Vec<(String, u16)> = Vec::new();
    for u in gather_route.iter().flat_map(|r| r.upstreams.iter()) {
        let (Some(h), Ok(a)) = (u.host.as_deref(), u.address.parse::<SocketAddr>()) else {
            continue;
        };
        let name = upstream_name(h);
        if name.parse::<std::net::IpAddr>().is_err() && !names.iter().any(|(n, _)| *n == name) {
            names.push((name, a.port()));
        }
    }
    let ns_root = root.clone();
    let (proc_root, timeout) = (opts.proc_root.clone(), opts.timeout);
    let lookups = runner::spawn("upstream names", move || {
        let resolver = ns::NginxResolver::for_master(&proc_root, master_pid, timeout);
        let found: Vec<NameResolution> = names
            .into_iter()
            .map(|(name, port)| {
                let (ips, source) = resolver.lookup(&name, port);
                NameResolution {
                    name,
                    addresses: ips.iter().map(|ip| ip.to_string()).collect(),
                    source,
                }
            })
            .collect();
        let resolv = ns::under_root(ns_root.as_deref(), "/etc/resolv.conf");
        let nameservers = files::read_all(&resolv, 1 << 20)
            .map(|b| ns::nameservers(&String::from_utf8_lossy(&b)))
            .unwrap_or_default();
        (found, nameservers)
    });
    // nginx workers' connections to the named upstreams' ports: the addresses nginx uses
    // now (a stale one shows as SYN-SENT before the error log says anything).
    let named_ports: Vec<u16> = route
        .iter()
        .flat_map(|r| r.upstreams.iter())
        .filter(|u| u.host.is_some())
        .filter_map(|u| u.address.parse::<SocketAddr>().ok().map(|a| a.port()))
        .collect::<BTreeSet<u16>>()
        .into_iter()
        .collect();
    let conn_ns = match view.net {
        Ns::Host => Some(None),
        Ns::Pid(pid) if view.probes_in_nginx_netns => Some(Some(pid)),
        Ns::Pid(_) => None,
    };
    let workers: Vec<u32> = master.iter().flat_map(|m| m.workers.clone()).collect();
    let conns = match (conn_ns, named_ports.is_empty() || workers.is_empty()) {
        (Some(netns), false) => {
            let proc_root = opts.proc_root.clone();
            Some(runner::spawn("nginx's upstream connections", move || {
                worker_connections(&proc_root, netns, &workers, &named_ports)
            }))
        }
        _ => None,
    };
    if let Some((found, nameservers)) = lookups.wait(deadline, &mut stages) {
        view.names = found;
        view.nameservers = nameservers;
    }
    if let Some(c) = conns {
        if let Some(found) = c.wait(deadline, &mut stages) {
            view.upstream_connections = found;
        }
    }
    // Containers: nginx's own, and the ones meant to serve an upstream.
    view.nginx_container = nginx_container.clone();
    for p in view.peers.iter().filter(|p| p.pid != 0) {
        if let Some(c) = containers::identify(&opts.proc_root, p.pid, opts.timeout) {
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
    facts.notes.extend(view.limits.iter().cloned());
    facts.view = Fact::collected(view.clone());
    crate::progress::stage("process managers, kernel log, limits");
    let why_gone = match (&gather_route, &mut facts.nginx) {
        (Some(g), Fact::Collected { value: n }) if !site_ups.is_empty() => {
            // The managers, limits and socket modes of every upstream, not only the lead's.
            let primary = n.route.replace(g.clone());
            let w = spawn_why_gone(opts, &facts, &net_dir, diag);
            if let Fact::Collected { value: n } = &mut facts.nginx {
                n.route = primary;
            }
            w
        }
        _ => spawn_why_gone(opts, &facts, &net_dir, diag),
    };
    crate::progress::stage("waiting for probes and logs");
    facts.probes = probes
        .into_iter()
        .filter_map(|p| p.wait(deadline, &mut stages))
        .collect();
    match error_log.wait(deadline, &mut stages) {
        Some((fact, notes)) => {
            facts.error_log = fact;
            facts.notes.extend(notes);
        }
        None => facts.error_log = Fact::unavailable("error log", late()),
    }
    match access_log.wait(deadline, &mut stages) {
        Some((fact, notes)) => {
            facts.access_log = fact;
            facts.notes.extend(notes);
        }
        None => facts.access_log = Fact::unavailable("access log", late()),
    }
    facts.websocket = ws
        .wait(deadline, &mut stages)
        .unwrap_or_else(|| Fact::unavailable("websocket locations", late()));
    facts.balancer = lb
        .wait(deadline, &mut stages)
        .unwrap_or_else(|| Fact::unavailable("load balancer", late()));
    why_gone.collect(deadline, &late(), &mut facts, &mut stages);
    if !site_ups.is_empty() {
        let windows = slices.wait(deadline, &mut stages).unwrap_or_default();
        for (u, w) in site_ups.iter_mut().zip(windows) {
            u.error_log = w;
        }
        let master_pid = master.as_ref().map(|m| m.pid);
        let resolver = ns::NginxResolver::for_master(&opts.proc_root, master_pid, opts.timeout);
        let resolve = |h: &str, p: u16| resolver.resolve(h, p);
        let files = match ns::mount_root(&opts.proc_root, master_pid) {
            Some(root) => files::HostFiles { root },
            None => files::HostFiles::new(),
        };
        let route_of = |path: &str| -> Option<Route> {
            let c = site_config.as_ref()?;
            let mut req = opts.request.clone();
            req.path = path.to_string();
            nginx::route_with(c, &req, &resolve, &files).ok()
        };
        let mut windows: Vec<&ErrorLogWindow> = site_ups
            .iter()
            .filter_map(|u| u.error_log.as_ref())
            .collect();
        windows.extend(facts.error_log.value());
        let failing = site::failing_paths(&windows, facts.access_log.value());
        site::attach_failing(&mut site_ups, &failing, facts.access_log.value(), &route_of);
        if let Fact::Collected { value: n } = &mut facts.nginx {
            if opts.whole_site {
                lead_site_upstream(n, &mut site_ups);
            }
            n.site_upstreams = site_ups;
        }
    }
    facts.gather = stages;
    Ok(facts)
}

/// Puts first the upstream the report leads with: the one the logs show failing most,
/// else the one the site-wide route already picked; that route becomes the report's.
fn lead_site_upstream(n: &mut NginxFacts, ups: &mut [SiteUpstream]) {
    let Some(primary) = n.route.as_ref() else {
        return;
    };
    if ups.first().is_some_and(|u| u.failures > 0) {
        let lead = &ups[0];
        let mut r = lead.route.clone();
        if SiteUpstream::key_of(&r) == SiteUpstream::key_of(primary) {
            // Same upstream: keep the route's own notes, with the failing request's path.
            let mut p = primary.clone();
            if !lead.failing_paths.is_empty() {
                p = r.clone();
                p.notes.extend(primary.notes.iter().cloned());
            }
            r = p;
        }
        n.route = Some(r);
        return;
    }
    let key = SiteUpstream::key_of(primary);
    if let Some(i) = ups
        .iter()
        .position(|u| SiteUpstream::key_of(&u.route) == key)
    {
        ups[..=i].rotate_right(1);
        ups[0].route = primary.clone();
    } else if primary.ends.as_deref() != Some("upstream") {
        // Only a subrequest (auth_request) reaches an upstream: that is the one to check.
        if let Some(u) = ups.first() {
            let mut r = u.route.clone();
            r.notes.extend(primary.notes.iter().cloned());
            r.notes.push(format!(
                "the request itself ends without an upstream; it depends on the subrequest to {}",
                u.route.path.as_deref().unwrap_or("?")
            ));
            n.route = Some(r);
        }
    }
}

/// Probes of every site upstream, each address once, with its own route's scheme and URI.
fn site_probes(
    primary: &Route,
    ups: &[SiteUpstream],
    opts: &GatherOptions,
    netns_of: Option<u32>,
) -> Vec<runner::Pending<ProbeResult>> {
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for r in std::iter::once(primary).chain(ups.iter().map(|u| &u.route)) {
        let mut r = r.clone();
        r.upstreams.retain(|u| !seen.contains(&u.address));
        seen.extend(r.upstreams.iter().map(|u| u.address.clone()));
        if r.upstreams.is_empty() || seen.len() > 64 {
            continue;
        }
        out.extend(spawn_probes(&r, opts, netns_of));
    }
    out
}

/// The collectors of "who should serve the upstream and why it is gone", started.
struct WhyGone {
    kernel: runner::Pending<Fact<KernelLog>>,
    systemd: runner::Pending<Fact<Vec<UnitFacts>>>,
    pm2: runner::Pending<Fact<Vec<Pm2App>>>,
    fpm: runner::Pending<Fact<PhpFpmFacts>>,
    supervisord: runner::Pending<Fact<SupervisordFacts>>,
    selinux: runner::Pending<Fact<SelinuxState>>,
    liveness: runner::Pending<Fact<Vec<UpstreamLiveness>>>,
    limits: runner::Pending<Fact<Vec<ProcLimits>>>,
    socket_access: runner::Pending<Fact<Vec<SocketAccess>>>,
}

impl WhyGone {
    fn collect(
        self,
        deadline: Instant,
        late: &str,
        facts: &mut Facts,
        stages: &mut Vec<GatherStage>,
    ) {
        fn or_late<T>(v: Option<Fact<T>>, source: &str, late: &str) -> Fact<T> {
            v.unwrap_or_else(|| Fact::unavailable(source, late))
        }
        facts.kernel_log = or_late(self.kernel.wait(deadline, stages), "kernel log", late);
        facts.systemd = or_late(self.systemd.wait(deadline, stages), "systemd", late);
        facts.pm2 = or_late(self.pm2.wait(deadline, stages), "pm2", late);
        facts.php_fpm = or_late(self.fpm.wait(deadline, stages), "php-fpm", late);
        facts.supervisord = or_late(self.supervisord.wait(deadline, stages), "supervisord", late);
        facts.selinux = or_late(self.selinux.wait(deadline, stages), "selinux", late);
        facts.liveness = or_late(self.liveness.wait(deadline, stages), "liveness", late);
        facts.process_limits = or_late(self.limits.wait(deadline, stages), "/proc limits", late);
        facts.socket_access = or_late(
            self.socket_access.wait(deadline, stages),
            "socket permissions",
            late,
        );
    }
}

/// Who should serve the upstream and why it is gone: process managers, the kernel's OOM
/// killer, limits, socket permissions, SELinux. Each source runs on its own thread.
fn spawn_why_gone(
    opts: &GatherOptions,
    facts: &Facts,
    net_dir: &Path,
    diag: listeners::Diag,
) -> WhyGone {
    let owners: Vec<(u32, String)> = facts.upstream_listener_owners();
    let upstream_pids: Vec<u32> = owners.iter().map(|(pid, _)| *pid).collect();
    let addresses: Vec<String> = facts
        .route_upstreams()
        .iter()
        .map(|u| u.address.clone())
        .collect();
    let sockets: Vec<String> = facts
        .route_upstreams()
        .iter()
        .filter_map(|u| u.address.strip_prefix("unix:").map(str::to_string))
        .collect();
    let systemd_inputs = systemd::SystemdInputs {
        upstream_pids: upstream_pids.clone(),
        ports: facts.upstream_ports(),
        sockets: sockets.clone(),
        unit_status_file: opts.unit_status.clone(),
        journal_file: opts.journal.clone(),
    };
    let supervisord_inputs = supervisord::SupervisordInputs {
        upstream_pids: upstream_pids.clone(),
        ports: facts.upstream_ports(),
        sockets: sockets.clone(),
    };
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
    roles.extend(upstream_pids.iter().map(|&p| (p, ProcRole::Upstream)));
    let proc_root = opts.proc_root.clone();
    let net_dir = net_dir.to_path_buf();
    // Each look reads the listening sockets only (sock_diag); the owner of a socket seen
    // before is remembered by inode, and /proc/*/fd is walked only for a new one.
    let known: std::sync::Mutex<std::collections::HashMap<u64, u32>> = std::sync::Mutex::new(
        facts
            .listeners
            .value()
            .into_iter()
            .flatten()
            .filter_map(|l| Some((l.inode, l.pid?)))
            .collect(),
    );
    let owner = move |address: &str| -> Option<u32> {
        let (ls, _) = listeners::tables(&proc_root, &net_dir, diag).ok()?;
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
        let wanted = std::collections::HashSet::from([l.inode]);
        let pid = *listeners::socket_owners(&proc_root, &wanted)
            .0
            .get(&l.inode)?;
        known.lock().ok()?.insert(l.inode, pid);
        Some(pid)
    };
    let kernel_file = opts.kernel_log.clone();
    let ctx = runner::Context {
        proc_root: opts.proc_root.clone(),
        timeout: opts.timeout,
    };
    let c = ctx.clone();
    let kernel = runner::spawn("kernel log", move || {
        kernel_log::gather_kernel_log(&c, kernel_file.as_deref())
    });
    let c = ctx.clone();
    let systemd = runner::spawn("systemd", move || {
        systemd::gather_systemd(&c, &systemd_inputs)
    });
    let c = ctx.clone();
    let pm2 = runner::spawn("pm2", move || pm2::gather_pm2(&c));
    let c = ctx.clone();
    let fpm = runner::spawn("php-fpm", move || php_fpm::gather_php_fpm(&c, None));
    let c = ctx.clone();
    let selinux = runner::spawn("selinux", move || selinux::gather_selinux(&c));
    let c = ctx.clone();
    let liveness = runner::spawn("liveness", move || {
        liveness::gather_liveness(&c, &addresses, &owner, Duration::from_millis(150))
    });
    let c = ctx.clone();
    let limits = runner::spawn("process limits", move || {
        limits::gather_process_limits(&c, &roles)
    });
    WhyGone {
        kernel,
        systemd,
        pm2,
        fpm,
        supervisord: {
            let proc_root = opts.proc_root.clone();
            runner::spawn("supervisord", move || {
                supervisord::gather(&proc_root, &supervisord_inputs)
            })
        },
        selinux,
        liveness,
        limits,
        socket_access: runner::spawn("socket permissions", move || {
            socket_access::gather_socket_access(&sockets, &worker_user)
        }),
    }
}

/// Only the nginx part: discovery, configuration and route (for `badgw route`).
pub fn nginx_only(opts: &GatherOptions) -> anyhow::Result<NginxFacts> {
    let procs = processes::all_cmdlines(&opts.proc_root);
    Ok(nginx_facts(opts, &procs)?.0)
}

fn worker_users(
    proc_root: &Path,
    workers: &[u32],
    owners: &std::collections::HashMap<u64, u32>,
    boot: Option<u64>,
    now: u64,
) -> Vec<String> {
    let mut users: Vec<String> = workers
        .iter()
        .filter_map(|&w| processes::read(proc_root, w, owners, boot, now).and_then(|p| p.user))
        .collect();
    users.sort();
    users.dedup();
    users
}

/// Finds the instance, loads its configuration and selects the route.
fn nginx_facts(
    opts: &GatherOptions,
    procs: &[(u32, String, Option<u32>)],
) -> anyhow::Result<(NginxFacts, Option<nginx::Config>)> {
    let dump = match &opts.nginx_dump {
        Some(p) => Some(
            files::read_all(p, MAX_DUMP)
                .map_err(|e| fail(ExitStatus::Usage, anyhow!("--nginx-dump: {e}")))?,
        ),
        None => None,
    };
    let found = discovery::discover(procs, opts.timeout);
    let instances: Vec<discovery::Instance> = match &opts.nginx_conf {
        Some(conf) => {
            // Attach the running master that uses this file, if any.
            let master = found
                .instances
                .iter()
                .find(|i| same_file(&i.conf_path, conf))
                .and_then(|i| i.master.clone());
            vec![discovery::Instance {
                conf_path: conf.clone(),
                prefix: found
                    .instances
                    .iter()
                    .find(|i| same_file(&i.conf_path, conf))
                    .and_then(|i| i.prefix.clone()),
                master,
                found_by: format!("--nginx-conf {}", conf.display()),
            }]
        }
        None if dump.is_some() && found.instances.is_empty() => vec![discovery::Instance {
            conf_path: PathBuf::from("nginx.conf"),
            prefix: None,
            master: None,
            found_by: "--nginx-dump".into(),
        }],
        None => found.instances,
    };
    if instances.is_empty() {
        return Err(fail(
            ExitStatus::Incomplete,
            anyhow!(
                "no nginx found on this host; tried: {}. Pass --nginx-conf FILE (or --nginx-dump FILE with the output of `nginx -T`)",
                found.tried.join("; ")
            ),
        ));
    }

    let dump_text = dump.map(|d| String::from_utf8_lossy(&d).into_owned());
    let mut candidates = Vec::new();
    let mut load_errors = Vec::new();
    for inst in instances {
        let load = nginx::LoadOptions {
            conf_path: inst.conf_path.clone(),
            prefix: inst.prefix.clone(),
            dump: dump_text.clone(),
        };
        // Files this user cannot open may still be dumped by the nginx binary (`nginx -T`);
        // not a FIFO, device or oversized file: nginx itself would hang on it or read it all.
        // nginx in a mount namespace of its own: its files by its paths, under its root.
        let root = ns::mount_root(&opts.proc_root, inst.master.as_ref().map(|m| m.pid));
        let first = match &root {
            Some(r) => nginx::load_in(&load, r, files::CONFIG_IN),
            None => nginx::load(&load, files::CONFIG),
        };
        let loaded = first.or_else(|e| {
            let text = format!("{e:#}");
            let refused = text.contains("not a regular file") || text.contains("badgw reads of");
            if load.dump.is_some() || refused {
                return Err(e);
            }
            match dump_with_binary(&inst, opts.timeout) {
                Some(dump) => nginx::load(
                    &nginx::LoadOptions {
                        dump: Some(dump),
                        ..load.clone()
                    },
                    files::CONFIG,
                )
                .map_err(|e2| anyhow!("{e:#}; `nginx -T` did not help either: {e2:#}")),
                None => Err(e),
            }
        });
        match loaded {
            Ok(config) => {
                let route = {
                    let resolver = instance_resolver(opts, &inst);
                    let resolve = |h: &str, p: u16| resolver.resolve(h, p);
                    nginx::route_with(
                        &config,
                        &opts.request,
                        &resolve,
                        &instance_files(opts, &inst),
                    )
                };
                candidates.push((inst, config, route));
            }
            Err(e) => load_errors.push((inst, format!("{e:#}"))),
        }
    }
    if candidates.is_empty() {
        let (inst, err) = load_errors.remove(0);
        let status = if inst.found_by.starts_with("--nginx-conf") {
            ExitStatus::Usage
        } else {
            ExitStatus::Incomplete
        };
        return Err(fail(status, anyhow!("{err} (found by {})", inst.found_by)));
    }
    // Prefer the instance whose configuration names the site.
    let names_site = |r: &Result<Route, String>| {
        r.as_ref()
            .map(|r| {
                r.server
                    .server_name
                    .iter()
                    .any(|n| name_matches(n, &opts.request.site))
            })
            .unwrap_or(false)
    };
    let naming: Vec<usize> = (0..candidates.len())
        .filter(|&i| names_site(&candidates[i].2))
        .collect();
    // The instance that serves the site may be one this user cannot read: another
    // instance's answer (a catch-all default server) would then be a wrong all-clear.
    if naming.is_empty() && !load_errors.is_empty() {
        let unread: Vec<String> = load_errors
            .iter()
            .map(|(i, e)| format!("{} ({e})", i.found_by))
            .collect();
        return Err(fail(
            ExitStatus::Incomplete,
            anyhow!(
                "no readable nginx configuration names {}, and {} nginx instance(s) could not be read: {}. \
                 One of them may serve the site: run badgw as root (or pass --nginx-conf or --nginx-dump); \
                 another instance's answer is not given instead",
                opts.request.site,
                unread.len(),
                unread.join("; ")
            ),
        ));
    }
    let pick = naming
        .first()
        .copied()
        .or_else(|| candidates.iter().position(|c| c.2.is_ok()))
        .unwrap_or(0);
    let ambiguous = (naming.len() > 1).then(|| {
        format!(
            "{} running nginx instances serve {}: using {}",
            naming.len(),
            opts.request.site,
            candidates[pick].0.found_by
        )
    });
    let (inst, config, route) = candidates.swap_remove(pick);
    let mut issues = config.issues();
    for (i, e) in &load_errors {
        issues.push(ConfigIssue {
            file: i.conf_path.display().to_string(),
            line: 0,
            message: e.clone(),
        });
    }
    let (route, route_error) = match route {
        Ok(mut r) => {
            if let Some(a) = ambiguous {
                r.notes.push(a);
            }
            (Some(r), None)
        }
        Err(e) => (None, Some(e)),
    };
    let resolver = instance_resolver(opts, &inst);
    let resolve = |h: &str, p: u16| resolver.resolve(h, p);
    let site_routes = match (&route, opts.whole_site) {
        (Some(_), true) => nginx::site_routes(
            &config,
            &opts.request,
            &resolve,
            &instance_files(opts, &inst),
        )
        .unwrap_or_default(),
        _ => Vec::new(),
    };
    let route = route.map(|r| site_wide_pick(r, &site_routes));
    let other_targets = route
        .as_ref()
        .map(|r| nginx::other_targets(&config, r, &resolve))
        .unwrap_or_default();
    let mut master = inst.master.clone();
    if let Some(m) = &mut master {
        m.unit = systemd::unit_of_pid(
            &runner::Context {
                proc_root: opts.proc_root.clone(),
                timeout: opts.timeout,
            },
            m.pid,
        )
        .filter(|_| systemd::systemd_is_init());
        let pid_path = config
            .tree()
            .root
            .iter()
            .find(|d| d.name == "pid")
            .and_then(|d| d.arg(0))
            .map(|p| match (Path::new(p).is_absolute(), &inst.prefix) {
                (false, Some(prefix)) => prefix.join(p),
                _ => PathBuf::from(p),
            });
        // nginx's pid file, in its own mount namespace when it has one.
        let pid_root = ns::mount_root(&opts.proc_root, Some(m.pid));
        m.pid_file_pid = pid_path
            .as_ref()
            .map(|p| ns::under_root(pid_root.as_deref(), &p.to_string_lossy()))
            .and_then(|p| files::read_all(&p, 4096).ok())
            .and_then(|t| String::from_utf8_lossy(&t).trim().parse().ok());
        m.pid_file = pid_path.map(|p| p.display().to_string());
    }
    let facts = NginxFacts {
        site_routes,
        site_upstreams: Vec::new(),
        master,
        conf_path: inst.conf_path.display().to_string(),
        prefix: inst.prefix.as_ref().map(|p| p.display().to_string()),
        discovered_by: inst.found_by.clone(),
        files: config.files(),
        issues,
        user: config.user(),
        route,
        route_error,
        other_targets,
        listens: config.listens(),
    };
    Ok((facts, Some(config)))
}

/// The SYN-SENT and ESTABLISHED connections of nginx's `workers` to `ports`, read with
/// sock_diag (filtered by state and port in the kernel) from nginx's network namespace
/// (`netns`: joined on this thread, which is a collector's own), kept when a worker holds
/// the socket (its inode among the worker's `/proc/PID/fd` links).
fn worker_connections(
    proc_root: &Path,
    netns: Option<u32>,
    workers: &[u32],
    ports: &[u16],
) -> Vec<UpstreamConnection> {
    if let Some(pid) = netns {
        if ns::enter_net(proc_root, pid).is_err() {
            return Vec::new();
        }
    }
    let mut owner: std::collections::HashMap<u64, u32> = Default::default();
    for &w in workers {
        let Ok(fds) = std::fs::read_dir(proc_root.join(w.to_string()).join("fd")) else {
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
    for &port in ports {
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

/// `app:3000`, `http://app:3000/x`, `[::1]:80` → the host part (`app`).
pub fn upstream_name(written: &str) -> String {
    let s = written.split("://").last().unwrap_or(written);
    let s = s.split('/').next().unwrap_or(s);
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest).to_string();
    }
    match s.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h.to_string(),
        _ => s.to_string(),
    }
}

/// Names resolve as the instance resolved them: through its own /etc/hosts and DNS servers
/// when it has namespaces of its own, else through the OS resolver.
fn instance_resolver(opts: &GatherOptions, inst: &discovery::Instance) -> ns::NginxResolver {
    let pid = inst.master.as_ref().map(|m| m.pid);
    ns::NginxResolver::for_master(&opts.proc_root, pid, opts.timeout)
}

/// The files nginx serves, as its master sees them (through /proc/PID/root when it runs
/// in another mount namespace).
fn instance_files(opts: &GatherOptions, inst: &discovery::Instance) -> files::HostFiles {
    let pid = inst.master.as_ref().map(|m| m.pid);
    match ns::mount_root(&opts.proc_root, pid) {
        Some(root) => files::HostFiles { root },
        None => files::HostFiles::new(),
    }
}

/// Site-wide mode: when `/` does not reach an upstream, the site is diagnosed through the
/// first location that does (config order), and the route says so; `--path` never
/// comes here (site_routes is empty then).
fn site_wide_pick(root: Route, site: &[Route]) -> Route {
    if site.is_empty() || root.ends.as_deref() == Some("upstream") {
        return root;
    }
    let Some(pick) = site.iter().find(|r| r.ends.as_deref() == Some("upstream")) else {
        return root;
    };
    let mut r = pick.clone();
    let root_end = match (root.ends.as_deref(), root.status) {
        (Some("status"), Some(c)) if c != 0 => format!("nginx answers {c} itself"),
        (Some("static"), _) => "nginx serves files itself".to_string(),
        _ => "no upstream is reached".to_string(),
    };
    let loc = r
        .location
        .as_ref()
        .map(|l| {
            format!(
                " (location {}{}{} {}:{})",
                l.modifier,
                if l.modifier.is_empty() { "" } else { " " },
                l.pattern,
                l.file,
                l.line
            )
        })
        .unwrap_or_default();
    let others: Vec<String> = site
        .iter()
        .filter(|o| o.ends.as_deref() == Some("upstream") && o.path != r.path)
        .filter_map(|o| Some(format!("{} → {}", o.path.as_deref()?, o.target.as_deref()?)))
        .collect();
    r.notes.push(format!(
        "site-wide: a request for / ends without an upstream ({root_end}); diagnosing {}{loc}, the first location that reaches one{}",
        r.path.as_deref().unwrap_or("?"),
        if others.is_empty() { String::new() } else { format!("; other locations with an upstream: {}", others.join(", ")) }
    ));
    r
}

/// `nginx -T` output of the instance's own binary, when it runs and dumps a configuration.
fn dump_with_binary(inst: &discovery::Instance, timeout: Duration) -> Option<String> {
    let bin = discovery::nginx_binary(inst.master.as_ref().and_then(|m| m.binary.as_deref()))?;
    let conf = inst.conf_path.to_str()?;
    let mut args = vec!["-T", "-c", conf];
    let prefix = inst
        .prefix
        .as_ref()
        .and_then(|p| p.to_str().map(str::to_string));
    if let Some(p) = &prefix {
        args.extend(["-p", p.as_str()]);
    }
    let out = command::run_command(bin.to_str()?, &args, timeout).ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.contains("# configuration file ").then_some(text)
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

/// server_name match, loosely: exact, `*.x`/`.x` suffix, `x.*` prefix (case-insensitive).
fn name_matches(pattern: &str, site: &str) -> bool {
    let p = pattern.to_ascii_lowercase();
    let s = site.trim_end_matches('.').to_ascii_lowercase();
    if let Some(suffix) = p.strip_prefix("*.") {
        s.ends_with(&format!(".{suffix}"))
    } else if let Some(suffix) = p.strip_prefix('.') {
        s == suffix || s.ends_with(&format!(".{suffix}"))
    } else if let Some(prefix) = p.strip_suffix(".*") {
        s.starts_with(&format!("{prefix}."))
    } else {
        p == s
    }
}

/// Starts a probe of every upstream address of the route (at most 16), each on its own
/// thread and bounded by the timeout.
fn spawn_probes(
    route: &Route,
    opts: &GatherOptions,
    netns_of: Option<u32>,
) -> Vec<runner::Pending<ProbeResult>> {
    let scheme = route.scheme.clone().unwrap_or_else(|| "http".into());
    let host = route
        .settings
        .host_header
        .clone()
        .unwrap_or_else(|| opts.request.site.clone());
    let uri = route
        .upstream_uri
        .clone()
        .unwrap_or_else(|| opts.request.path.clone());
    route
        .upstreams
        .iter()
        .take(16)
        .map(|u| {
            let req = probe::ProbeRequest {
                address: u.address.clone(),
                kind: u.kind,
                scheme: scheme.clone(),
                host_header: host.clone(),
                uri: uri.clone(),
                timeout: opts.timeout,
                // Hold an idle keep-alive connection only where nginx keeps them, and
                // no longer than 10 s (twice --timeout by default: 6 s).
                keepalive_budget: route
                    .settings
                    .keepalive
                    .map(|_| (opts.timeout * 2).min(Duration::from_secs(10))),
            };
            let proc_root = opts.proc_root.clone();
            runner::spawn(format!("probe {}", u.address), move || {
                // A thread of its own, so joining nginx's network namespace is safe.
                if let Some(pid) = netns_of {
                    if let Err(e) = ns::enter_net(&proc_root, pid) {
                        let mut r = probe::probe(&req);
                        r.note.get_or_insert(format!(
                            "run from badgw's network namespace, not nginx's ({e})"
                        ));
                        return r;
                    }
                }
                probe::probe(&req)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_name_loose_matching() {
        assert!(name_matches("shop.example.test", "SHOP.example.test."));
        assert!(name_matches("*.example.test", "shop.example.test"));
        assert!(!name_matches("*.example.test", "example.test"));
        assert!(name_matches(".example.test", "example.test"));
        assert!(name_matches("www.*", "www.example.test"));
        assert!(!name_matches("shop.example.test", "api.example.test"));
    }

    #[test]
    fn localhost_resolves_to_loopback() {
        let addrs = os_resolve("localhost", 3000);
        assert!(!addrs.is_empty());
        assert!(addrs
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 3000));
    }
}
