//! Gather: the only layer that touches the host. It is staged — the configuration decides
//! the targets, the targets decide what to probe — and every source is bounded: external
//! commands and probes have timeouts, slow sources run in parallel, and a source that fails
//! becomes `Fact::Unavailable` with the reason, never an abort.

pub mod balancer;
pub mod command;
pub mod containers;
pub mod discovery;
pub mod files;
pub mod kernel_log;
pub mod listeners;
pub mod managers;
pub mod ns;
pub mod probe;
pub mod processes;
pub mod sock_diag;
pub mod unix_sockets;
pub mod verify;
pub mod websocket;

use std::collections::BTreeSet;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
}

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

/// Gathers every fact for one request. Errors only when nothing can be diagnosed at all
/// (no nginx configuration found, or an unreadable main configuration file).
pub fn collect(opts: &GatherOptions) -> anyhow::Result<Facts> {
    let mut facts = Facts::new(opts.request.clone());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    facts.collected_at =
        Some(chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false));
    facts.hostname = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok());

    crate::progress::stage("finding nginx and its configuration");
    let procs = processes::all_cmdlines(&opts.proc_root);
    let (nginx_facts, config) = nginx_facts(opts, &procs)?;
    let route = nginx_facts.route.clone();
    crate::progress::stage("probing upstreams, reading logs and /proc");
    // nginx's namespaces: where listeners are read, probes run from, paths are looked up.
    let master_pid = nginx_facts.master.as_ref().map(|m| m.pid);
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
    facts.nginx = Fact::collected(nginx_facts);

    // The slow sources (probes, the error log) run while /proc is read.
    std::thread::scope(|scope| {
        let probes = scope.spawn(|| {
            route
                .as_ref()
                .map(|r| probe_all(r, opts, probe_ns))
                .unwrap_or_default()
        });
        let error_log = scope.spawn(|| {
            let nginx_fs = NginxFs {
                root: root.as_deref(),
                container: nginx_container.as_ref(),
            };
            error_log_window(opts, route.as_ref(), config.as_ref(), &nginx_fs)
        });
        let access_log = scope.spawn(|| access_log_window(opts, route.as_ref()));
        let ws = scope.spawn(|| websocket::gather(opts, route.as_ref(), config.as_ref()));
        let lb = scope.spawn(|| balancer::gather(opts, route.as_ref(), config.as_ref()));

        let boot = processes::boot_time(&opts.proc_root);
        match listeners::scan_with(&opts.proc_root, &net_dir, diag) {
            Ok(scan) => {
                facts.notes.extend(scan.notes.iter().cloned());
                let pids: BTreeSet<u32> = scan.listeners.iter().filter_map(|l| l.pid).collect();
                let mut infos: Vec<ProcInfo> = pids
                    .iter()
                    .filter_map(|&pid| {
                        processes::read(&opts.proc_root, pid, &scan.owners, boot, now)
                    })
                    .collect();
                if let Fact::Collected { value: n } = &mut facts.nginx {
                    if let Some(m) = &mut n.master {
                        m.worker_users =
                            worker_users(&opts.proc_root, &m.workers, &scan.owners, boot, now);
                        for &pid in std::iter::once(&m.pid).chain(m.workers.iter()) {
                            if !pids.contains(&pid) {
                                infos.extend(processes::read(
                                    &opts.proc_root,
                                    pid,
                                    &scan.owners,
                                    boot,
                                    now,
                                ));
                            }
                        }
                    }
                }
                facts.listeners = Fact::collected(scan.listeners);
                facts.processes = Fact::collected(infos);
            }
            Err(reason) => {
                facts.listeners = Fact::unavailable("/proc/net", reason.clone());
                facts.processes = Fact::unavailable("/proc", reason);
            }
        }
        if let Some(r) = &route {
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
        let remote: Vec<std::net::IpAddr> = route
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
        // What the route's upstream names resolve to now, through nginx's resolver.
        let resolver = ns::NginxResolver::new(root.clone());
        let mut names: Vec<(String, u16)> = Vec::new();
        for u in route.iter().flat_map(|r| r.upstreams.iter()) {
            let (Some(h), Ok(a)) = (u.host.as_deref(), u.address.parse::<SocketAddr>()) else {
                continue;
            };
            let name = upstream_name(h);
            if name.parse::<std::net::IpAddr>().is_err() && !names.iter().any(|(n, _)| *n == name) {
                names.push((name, a.port()));
            }
        }
        for (name, port) in names {
            let (ips, source) = resolver.lookup(&name, port);
            view.names.push(NameResolution {
                name,
                addresses: ips.iter().map(|ip| ip.to_string()).collect(),
                source,
            });
        }
        if let Ok(text) =
            std::fs::read_to_string(ns::under_root(root.as_deref(), "/etc/resolv.conf"))
        {
            view.nameservers = ns::nameservers(&text);
        }
        // Containers: nginx's own, and the ones meant to serve an upstream.
        view.nginx_container = nginx_container.clone();
        for p in &view.peers {
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
        gather_why_gone(opts, &mut facts, &net_dir, diag);
        crate::progress::stage("waiting for probes and logs");
        facts.probes = probes.join().unwrap_or_default();
        facts.error_log = error_log
            .join()
            .unwrap_or_else(|_| Fact::unavailable("error log", "reader failed"));
        facts.access_log = access_log
            .join()
            .unwrap_or_else(|_| Fact::unavailable("access log", "reader failed"));
        facts.websocket = ws.join().unwrap_or_else(|_| lost_thread("websocket"));
        facts.balancer = lb.join().unwrap_or_else(|_| lost_thread("load balancer"));
    });
    Ok(facts)
}

fn lost_thread<T>(what: &str) -> Fact<T> {
    Fact::unavailable(what, "the reader thread failed (a bug in badgw)")
}

/// Who should serve the upstream and why it is gone: process managers, the kernel's OOM
/// killer, limits, socket permissions, SELinux. The slow sources run in parallel.
fn gather_why_gone(opts: &GatherOptions, facts: &mut Facts, net_dir: &Path, diag: listeners::Diag) {
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
    let systemd_inputs = managers::SystemdInputs {
        upstream_pids: upstream_pids.clone(),
        ports: facts.upstream_ports(),
        sockets: sockets.clone(),
        unit_status_file: opts.unit_status.clone(),
        journal_file: opts.journal.clone(),
        timeout: opts.timeout,
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
    std::thread::scope(|s| {
        let kernel =
            s.spawn(|| kernel_log::gather_kernel_log(opts.kernel_log.as_deref(), opts.timeout));
        let systemd = s.spawn(|| managers::gather_systemd(&systemd_inputs));
        let pm2 = s.spawn(|| managers::gather_pm2(opts.timeout));
        let fpm = s.spawn(|| managers::gather_php_fpm(None));
        let selinux = s.spawn(|| managers::gather_selinux(opts.timeout));
        let liveness =
            s.spawn(|| managers::gather_liveness(&addresses, &owner, Duration::from_millis(150)));
        facts.process_limits = managers::gather_process_limits(&roles);
        facts.socket_access = managers::gather_socket_access(&sockets, &worker_user);
        facts.kernel_log = kernel.join().unwrap_or_else(|_| lost_thread("kernel log"));
        facts.systemd = systemd.join().unwrap_or_else(|_| lost_thread("systemd"));
        facts.pm2 = pm2.join().unwrap_or_else(|_| lost_thread("pm2"));
        facts.php_fpm = fpm.join().unwrap_or_else(|_| lost_thread("php-fpm"));
        facts.selinux = selinux.join().unwrap_or_else(|_| lost_thread("selinux"));
        facts.liveness = liveness.join().unwrap_or_else(|_| lost_thread("liveness"));
    });
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
            std::fs::read(p)
                .map_err(|e| fail(ExitStatus::Usage, anyhow!("reading {}: {e}", p.display())))?,
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
        // Files this user cannot read may still be dumped by the nginx binary (`nginx -T`).
        let loaded = nginx::load(&load).or_else(|e| {
            match (&load.dump, dump_with_binary(&inst, opts.timeout)) {
                (None, Some(dump)) => nginx::load(&nginx::LoadOptions {
                    dump: Some(dump),
                    ..load.clone()
                })
                .map_err(|e2| anyhow!("{e:#}; `nginx -T` did not help either: {e2:#}")),
                _ => Err(e),
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
        m.unit = managers::unit_of_pid(m.pid).filter(|_| managers::systemd_is_init());
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
        m.pid_file_pid = pid_path
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|t| t.trim().parse().ok());
        m.pid_file = pid_path.map(|p| p.display().to_string());
    }
    let facts = NginxFacts {
        site_routes,
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

/// Names resolve as the instance resolves them: through its own /etc/hosts when it has a
/// mount namespace of its own, else through the OS resolver.
fn instance_resolver(opts: &GatherOptions, inst: &discovery::Instance) -> ns::NginxResolver {
    let pid = inst.master.as_ref().map(|m| m.pid);
    ns::NginxResolver::new(ns::mount_root(&opts.proc_root, pid))
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

/// Probes every upstream address of the route in parallel, each bounded by the timeout.
fn probe_all(route: &Route, opts: &GatherOptions, netns_of: Option<u32>) -> Vec<ProbeResult> {
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
    std::thread::scope(|s| {
        let handles: Vec<_> = route
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
                let proc_root = &opts.proc_root;
                s.spawn(move || {
                    // A thread of its own, so joining nginx's network namespace is safe.
                    if let Some(pid) = netns_of {
                        if let Err(e) = ns::enter_net(proc_root, pid) {
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
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    })
}

/// The recent error-log window that serves the route.
/// How nginx's own files are reached: its root when it has a mount namespace of its own,
/// and its container.
struct NginxFs<'a> {
    root: Option<&'a Path>,
    container: Option<&'a ContainerInfo>,
}

fn error_log_window(
    opts: &GatherOptions,
    route: Option<&Route>,
    _config: Option<&nginx::Config>,
    nginx_fs: &NginxFs,
) -> Fact<ErrorLogWindow> {
    let path = match (&opts.error_log, route.and_then(|r| r.error_log.as_ref())) {
        (Some(p), _) => p.clone(),
        (None, Some(p)) => match ns::resolve_in_root(nginx_fs.root, p) {
            ns::Resolved::File(f) => f,
            ns::Resolved::Stream(target) => {
                let how = match nginx_fs.container {
                    Some(c) => {
                        let name = c
                            .name
                            .clone()
                            .unwrap_or_else(|| c.id[..c.id.len().min(12)].to_string());
                        match c.runtime.as_str() {
                                "podman" => format!("podman logs --since 15m {name} 2>&1 | badgw explain-log -"),
                                "kubernetes" => "kubectl logs -n NAMESPACE POD -c CONTAINER --since=15m | badgw explain-log -".to_string(),
                                _ => format!("docker logs --since 15m {name} 2>&1 | badgw explain-log -"),
                            }
                    }
                    None => "journalctl -u nginx --since -15min --no-pager | badgw explain-log -"
                        .to_string(),
                };
                return Fact::unavailable(
                        p.clone(),
                        format!("nginx writes its error log to {target}: the container runtime (or service manager) holds it, not a file; read it with `{how}`, or pass --error-log FILE"),
                    );
            }
        },
        (None, None) => {
            return Fact::unavailable(
                "error log",
                "the configuration names no error_log file for this site (pass --error-log FILE)",
            )
        }
    };
    let filter = crate::logs::WindowFilter {
        site: opts.request.site.clone(),
        server_names: route
            .map(|r| r.server.server_name.clone())
            .unwrap_or_default(),
        upstreams: route
            .map(|r| r.upstreams.iter().map(|u| u.address.clone()).collect())
            .unwrap_or_default(),
    };
    let now = chrono::Local::now().naive_local();
    match crate::logs::read_window(&path, opts.since.as_secs(), now, &filter) {
        Ok(w) => Fact::collected(w),
        Err(e) => {
            let mut reason = format!("{e:#}");
            if reason.contains("ermission denied") {
                reason.push_str(" (run as root, or pass a readable copy with --error-log)");
            }
            Fact::unavailable(path.display().to_string(), reason)
        }
    }
}

/// The recent access-log window of the selected server, read with its own log_format
/// (`combined` when none is named, or when --access-log overrides the file).
fn access_log_window(opts: &GatherOptions, route: Option<&Route>) -> Fact<AccessLogWindow> {
    let path = match (&opts.access_log, route.and_then(|r| r.access_log.as_ref())) {
        (Some(p), _) => p.clone(),
        (None, Some(p)) => PathBuf::from(p),
        (None, None) => {
            return Fact::unavailable(
                "access log",
                "the server logs no access (access_log off, or a syslog: target); pass --access-log FILE",
            )
        }
    };
    let (name, template, escape) = match route.and_then(|r| r.access_log_format.as_ref()) {
        Some(f) => (f.name.as_str(), f.template.as_str(), f.escape.as_str()),
        None => ("combined", nginx::COMBINED_FORMAT, "default"),
    };
    let format = crate::logs::access::LogFormat::compile(template, escape);
    let server_names = route
        .map(|r| r.server.server_name.clone())
        .unwrap_or_default();
    let now = chrono::Local::now().naive_local();
    match crate::logs::access::read_window(
        &path,
        name,
        &format,
        opts.since.as_secs(),
        now,
        &opts.request.site,
        &server_names,
    ) {
        Ok(w) => Fact::collected(w),
        Err(e) => {
            let mut reason = format!("{e:#}");
            if reason.contains("ermission denied") {
                reason.push_str(" (run as root, or pass a readable copy with --access-log)");
            }
            Fact::unavailable(path.display().to_string(), reason)
        }
    }
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
