//! Stage 1, "nginx configuration": finds the running nginx instances (or the one named by
//! `--nginx-conf` / `--nginx-dump`), loads each configuration as its master sees it (its
//! files through `/proc/PID/root` when it has a mount namespace of its own; `nginx -T`
//! when the files cannot be read), picks the instance whose configuration names the site
//! (by nginx's own `server_name` rules, regexes included) and selects the route.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::anyhow;

use super::runner::Context;
use super::{command, discovery, files, ns, processes, site_upstreams, systemd, GatherOptions};
use crate::exit::{fail, ExitStatus};
use crate::facts::{ConfigIssue, NginxFacts, NginxMaster, Route};
use crate::nginx;

/// Largest `nginx -T` dump read (`--nginx-dump`).
const MAX_DUMP: u64 = 256 << 20;

/// What stage 1 hands on: nginx's facts and its parsed configuration.
pub type Found = (NginxFacts, Option<nginx::Config>);

/// The collector: discovery, configuration and route.
pub fn collect(ctx: &Context) -> anyhow::Result<Found> {
    let procs = processes::all_cmdlines(&ctx.proc_root);
    let dump = read_dump(&ctx.opts)?;
    let instances = instances(&ctx.opts, &procs, dump.is_some())?;
    let (candidates, load_errors) = load_all(ctx, instances, dump);
    let picked = pick(ctx, candidates, load_errors)?;
    Ok(describe(ctx, picked))
}

/// Only the nginx part: discovery, configuration and route (for `badgw route`).
pub fn nginx_only(opts: &GatherOptions) -> anyhow::Result<NginxFacts> {
    Ok(collect(&Context::new(opts))?.0)
}

/// Names resolve as the instance of `master` resolved them: through its own /etc/hosts
/// and DNS servers when it has namespaces of its own, else through the OS resolver.
pub fn resolver_of(ctx: &Context, master: Option<u32>) -> ns::NginxResolver {
    ns::NginxResolver::for_master(&ctx.proc_root, master, ctx.timeout)
}

/// The files nginx serves, as its master sees them (through /proc/PID/root when it runs
/// in another mount namespace).
pub fn files_of(ctx: &Context, master: Option<u32>) -> files::HostFiles {
    match ns::mount_root(&ctx.proc_root, master) {
        Some(root) => files::HostFiles { root },
        None => files::HostFiles::new(),
    }
}

fn read_dump(opts: &GatherOptions) -> anyhow::Result<Option<String>> {
    let Some(p) = &opts.nginx_dump else {
        return Ok(None);
    };
    let d = files::read_all(p, MAX_DUMP)
        .map_err(|e| fail(ExitStatus::Usage, anyhow!("--nginx-dump: {e}")))?;
    Ok(Some(String::from_utf8_lossy(&d).into_owned()))
}

/// The instances to consider: the one of `--nginx-conf` (with the running master that
/// uses the file, if any), the dump's, or every one discovery found.
fn instances(
    opts: &GatherOptions,
    procs: &[(u32, String, Option<u32>)],
    has_dump: bool,
) -> anyhow::Result<Vec<discovery::Instance>> {
    let found = discovery::discover(procs, opts.timeout);
    let instances = match &opts.nginx_conf {
        Some(conf) => {
            let running = found
                .instances
                .iter()
                .find(|i| same_file(&i.conf_path, conf));
            vec![discovery::Instance {
                conf_path: conf.clone(),
                prefix: running.and_then(|i| i.prefix.clone()),
                master: running.and_then(|i| i.master.clone()),
                found_by: format!("--nginx-conf {}", conf.display()),
            }]
        }
        None if has_dump && found.instances.is_empty() => vec![discovery::Instance {
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
    Ok(instances)
}

/// An instance whose configuration loaded, with the route it selects (or why none).
type Candidate = (discovery::Instance, nginx::Config, Result<Route, String>);
/// An instance whose configuration could not be loaded, and why.
type LoadError = (discovery::Instance, String);

fn load_all(
    ctx: &Context,
    instances: Vec<discovery::Instance>,
    dump: Option<String>,
) -> (Vec<Candidate>, Vec<LoadError>) {
    let mut candidates = Vec::new();
    let mut load_errors = Vec::new();
    for inst in instances {
        match load(ctx, &inst, dump.clone()) {
            Ok(config) => {
                let master = inst.master.as_ref().map(|m| m.pid);
                let resolver = resolver_of(ctx, master);
                let resolve = |h: &str, p: u16| resolver.resolve(h, p);
                let route =
                    nginx::route_with(&config, &ctx.opts.request, &resolve, &files_of(ctx, master));
                candidates.push((inst, config, route));
            }
            Err(e) => load_errors.push((inst, format!("{e:#}"))),
        }
    }
    (candidates, load_errors)
}

/// One instance's configuration. Files this user cannot open may still be dumped by the
/// nginx binary (`nginx -T`); not a FIFO, device or oversized file: nginx itself would
/// hang on it or read it all. nginx in a mount namespace of its own: its files by its
/// paths, under its root.
fn load(
    ctx: &Context,
    inst: &discovery::Instance,
    dump: Option<String>,
) -> anyhow::Result<nginx::Config> {
    let load = nginx::LoadOptions {
        conf_path: inst.conf_path.clone(),
        prefix: inst.prefix.clone(),
        dump,
    };
    let root = ns::mount_root(&ctx.proc_root, inst.master.as_ref().map(|m| m.pid));
    let first = match &root {
        Some(r) => nginx::load_in(&load, r, files::CONFIG_IN),
        None => nginx::load(&load, files::CONFIG),
    };
    first.or_else(|e| {
        let text = format!("{e:#}");
        let refused = text.contains("not a regular file") || text.contains("badgw reads of");
        if load.dump.is_some() || refused {
            return Err(e);
        }
        match dump_with_binary(inst, ctx.timeout) {
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
    })
}

/// The instance picked, its configuration's issues (with the instances that failed to
/// load), and the route it selects (with a note when several instances serve the site).
struct Picked {
    inst: discovery::Instance,
    config: nginx::Config,
    route: Result<Route, String>,
    issues: Vec<ConfigIssue>,
}

/// Prefers the instance whose configuration names the site; refuses to answer from
/// another one when an unreadable instance may be the one that serves it.
fn pick(
    ctx: &Context,
    mut candidates: Vec<Candidate>,
    mut load_errors: Vec<LoadError>,
) -> anyhow::Result<Picked> {
    let site = &ctx.opts.request.site;
    if candidates.is_empty() {
        let (inst, err) = load_errors.remove(0);
        let status = if inst.found_by.starts_with("--nginx-conf") {
            ExitStatus::Usage
        } else {
            ExitStatus::Incomplete
        };
        return Err(fail(status, anyhow!("{err} (found by {})", inst.found_by)));
    }
    let naming: Vec<usize> = (0..candidates.len())
        .filter(|&i| names_site(&candidates[i].2, site))
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
                "no readable nginx configuration names {site}, and {} nginx instance(s) could not be read: {}. \
                 One of them may serve the site: run badgw as root (or pass --nginx-conf or --nginx-dump); \
                 another instance's answer is not given instead",
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
            "{} running nginx instances serve {site}: using {}",
            naming.len(),
            candidates[pick].0.found_by
        )
    });
    let (inst, config, mut route) = candidates.swap_remove(pick);
    let mut issues = config.issues();
    for (i, e) in &load_errors {
        issues.push(ConfigIssue {
            file: i.conf_path.display().to_string(),
            line: 0,
            message: e.clone(),
        });
    }
    if let (Ok(r), Some(a)) = (&mut route, ambiguous) {
        r.notes.push(a);
    }
    Ok(Picked {
        inst,
        config,
        route,
        issues,
    })
}

/// Whether the server the route selected names `site` by one of its `server_name`s, as
/// nginx matches them (exact, wildcards, regexes; case-insensitive, trailing dot ignored).
fn names_site(route: &Result<Route, String>, site: &str) -> bool {
    let host = site.trim_end_matches('.').to_ascii_lowercase();
    let Ok(r) = route else {
        return false;
    };
    r.server
        .server_name
        .iter()
        .any(|n| nginx::select::name_match(n, &host, &mut Vec::new()).is_some())
}

/// nginx's facts of the picked instance: the route (site-wide: through the first location
/// that reaches an upstream), the other targets, its master.
fn describe(ctx: &Context, p: Picked) -> Found {
    let Picked {
        inst,
        config,
        route,
        issues,
    } = p;
    let (route, route_error) = match route {
        Ok(r) => (Some(r), None),
        Err(e) => (None, Some(e)),
    };
    let pid = inst.master.as_ref().map(|m| m.pid);
    let resolver = resolver_of(ctx, pid);
    let resolve = |h: &str, p: u16| resolver.resolve(h, p);
    let site_routes = match (&route, ctx.opts.whole_site) {
        (Some(_), true) => {
            nginx::site_routes(&config, &ctx.opts.request, &resolve, &files_of(ctx, pid))
                .unwrap_or_default()
        }
        _ => Vec::new(),
    };
    let route = route.map(|r| site_upstreams::site_wide_pick(r, &site_routes));
    let other_targets = route
        .as_ref()
        .map(|r| nginx::other_targets(&config, r, &resolve))
        .unwrap_or_default();
    let master = inst
        .master
        .clone()
        .map(|m| master_facts(ctx, m, &inst, &config));
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
        listen_ports: config.listen_ports(),
    };
    (facts, Some(config))
}

/// The master's systemd unit and its pid file (read in its own mount namespace when it
/// has one): `nginx -s reload` signals the pid written there.
fn master_facts(
    ctx: &Context,
    mut m: NginxMaster,
    inst: &discovery::Instance,
    config: &nginx::Config,
) -> NginxMaster {
    m.unit = systemd::unit_of_pid(ctx, m.pid).filter(|_| systemd::systemd_is_init());
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
    let pid_root = ns::mount_root(&ctx.proc_root, Some(m.pid));
    m.pid_file_pid = pid_path
        .as_ref()
        .map(|p| ns::under_root(pid_root.as_deref(), &p.to_string_lossy()))
        .and_then(|p| files::read_all(&p, 4096).ok())
        .and_then(|t| String::from_utf8_lossy(&t).trim().parse().ok());
    m.pid_file = pid_path.map(|p| p.display().to_string());
    m
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::RouteServer;

    fn serving(names: &[&str]) -> Result<Route, String> {
        Ok(Route {
            server: RouteServer {
                server_name: names.iter().map(|n| n.to_string()).collect(),
                ..Default::default()
            },
            ..Default::default()
        })
    }

    #[test]
    fn server_names_match_by_nginx_rules() {
        assert!(names_site(
            &serving(&["shop.example.test"]),
            "SHOP.example.test."
        ));
        assert!(names_site(
            &serving(&["*.example.test"]),
            "shop.example.test"
        ));
        assert!(!names_site(&serving(&["*.example.test"]), "example.test"));
        assert!(names_site(&serving(&[".example.test"]), "example.test"));
        assert!(names_site(&serving(&["www.*"]), "www.example.test"));
        assert!(!names_site(
            &serving(&["shop.example.test"]),
            "api.example.test"
        ));
        // A regex server_name: the loose copy this replaced never matched one.
        assert!(names_site(
            &serving(&["~^(?<tenant>[a-z]+)\\.shop\\.test$"]),
            "acme.shop.test"
        ));
        assert!(!names_site(&serving(&["~^api\\."]), "shop.test"));
        assert!(!names_site(&Err("no server".into()), "shop.test"));
    }
}
