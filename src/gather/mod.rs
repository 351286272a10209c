//! Gather: the only layer that touches the host. It is staged — the configuration decides
//! the targets, the targets decide what to probe — and every source is bounded: external
//! commands and probes have timeouts, slow sources run in parallel, and a source that fails
//! becomes `Fact::Unavailable` with the reason, never an abort.
//!
//! This file holds the stages only. Each source is a named collector, a function of the
//! [`runner::Context`] in the file of its source; `stages.rs` lists them per stage,
//! `runner.rs` runs a list in parallel until the deadline and records `gather[]`, and
//! `target.rs` builds, once, what later collectors look at.

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
pub mod nginx_config;
pub mod ns;
pub mod php_fpm;
pub mod plain_log;
pub mod pm2;
pub mod probe;
pub mod probe_targets;
pub mod proc_scan;
pub mod processes;
pub mod runner;
pub mod selinux;
pub mod site;
pub mod site_upstreams;
pub mod sock_diag;
pub mod socket_access;
pub mod stages;
pub mod supervisord;
pub mod systemd;
pub mod target;
pub mod tls_cert;
pub mod unix_sockets;
pub mod upstream_names;
pub mod verify;
pub mod view;
pub mod websocket;
pub mod worker_connections;

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::anyhow;

use crate::exit::{fail, ExitStatus};
use crate::facts::*;

pub use nginx_config::nginx_only;
use runner::{Clock, Context};
use target::{Target, Upstreams};

/// What to gather, resolved from the command line.
#[derive(Debug, Clone, Default)]
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
    let mut clock = Clock::new(
        opts.deadline
            .unwrap_or_else(|| default_deadline(opts.timeout)),
    );
    let mut facts = Facts::new(opts.request.clone());
    // Whole seconds, as snapshots have always recorded it.
    facts.collected_at = chrono::Timelike::with_nanosecond(&chrono::Local::now().fixed_offset(), 0);
    facts.hostname = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok());
    facts.host = Some(host::gather());

    // Stage 1: the configuration decides the targets.
    crate::progress::stage("finding nginx and its configuration");
    let ctx = Context::new(opts);
    let found = clock
        .run_one(&ctx, "nginx configuration", nginx_config::collect)
        .transpose()?;
    let ctx = ctx.with_target(targets(&ctx, &mut facts, found, &clock.late));

    // Stage 2: the targets decide what to probe; the slow sources run in parallel.
    crate::progress::stage("probing upstreams, reading logs and /proc");
    let scan = runner::start(&ctx, stages::listeners());
    let reads = runner::start(&ctx, stages::reads(&ctx));
    let slices = runner::start(&ctx, stages::site_slices(&ctx));
    scan.finish(&mut clock, &mut facts);
    facts.unix_sockets = unix_sockets::of_target(&ctx);
    let mut view = ctx.target.placement.view.clone();
    view::add_peers(&ctx, &mut view);
    facts.view = Fact::collected(view);
    runner::start(&ctx, stages::names(&ctx)).finish(&mut clock, &mut facts);
    if let Fact::Collected { value: view } = &mut facts.view {
        view::add_containers(&ctx, view);
        facts.notes.extend(view.limits.iter().cloned());
    }

    // Stage 3: who should serve the upstreams, now that the listeners say who does.
    crate::progress::stage("process managers, kernel log, limits");
    let ctx = ctx.with_upstreams(Upstreams::of(&facts, &ctx.target));
    let why_gone = runner::start(&ctx, stages::why_gone());
    crate::progress::stage("waiting for probes and logs");
    reads.finish(&mut clock, &mut facts);
    why_gone.finish(&mut clock, &mut facts);
    slices.finish(&mut clock, &mut facts);
    site_upstreams::attach_failing(&ctx, &mut facts);
    // A `--journal` file in journalctl's short form has no year: the collection's.
    facts.settle_years();
    facts.gather = clock.log;
    Ok(facts)
}

/// Stage 1's result into the facts, and the targets of the later stages built from it.
fn targets(
    ctx: &Context,
    facts: &mut Facts,
    found: Option<nginx_config::Found>,
    late: &str,
) -> Target {
    let (nginx, config) = match found {
        Some((n, c)) => (Some(n), c),
        None => (None, None),
    };
    let master = nginx
        .as_ref()
        .and_then(|n| n.master.as_ref())
        .map(|m| m.pid);
    let target = Target::build(nginx.as_ref(), config, view::locate(ctx, master));
    facts.notes.extend(target.notes.iter().cloned());
    facts.nginx = match nginx {
        Some(mut n) => {
            // The site upstreams' slices and failing paths are attached as they come in.
            n.site_upstreams = target.site_upstreams.clone();
            Fact::collected(n)
        }
        None => Fact::unavailable("nginx configuration", late),
    };
    target
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_resolves_to_loopback() {
        let addrs = os_resolve("localhost", 3000);
        assert!(!addrs.is_empty());
        assert!(addrs
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 3000));
    }
}
