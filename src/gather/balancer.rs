//! Gathers [`BalancerFacts`]: health checkers (by user agent) and `X-Forwarded-For` chains
//! in the access log's window, nginx's `real_ip` settings and `client_header_timeout`, the
//! balancer's idle timeout when the user states it (`--lb-idle-timeout`), and — when a
//! health checker's requests fail — its path routed by nginx's rules and probed like a
//! request. Bounded like the WebSocket reader: the last 16 MiB of the log, the `--since`
//! window, the probe timeout.

use std::collections::HashMap;
use std::path::Path;

use super::runner::Context;
use super::websocket::{read_tail, request_path};
use super::{ns, probe, GatherOptions};
use crate::facts::{BalancerFacts, Fact, HealthChecker, HealthProbe, RequestSpec, Route};
use crate::logs::access::{parse_line, LogFormat};
use crate::nginx;

/// User-agent prefixes of load-balancer health checkers, and whose they are.
pub const HEALTH_CHECKERS: &[(&str, &str)] = &[
    ("ELB-HealthChecker/", "aws"),
    ("GoogleHC/", "gcp"),
    ("kube-probe/", "kubernetes"),
    ("Load Balancer Agent", "azure"),
    ("Azure Traffic Manager Endpoint Monitor", "azure"),
    ("Cloudflare-Traffic-Manager/", "cloudflare"),
];

/// The collector: what the access log and the configuration say of a balancer in front.
pub fn collect(ctx: &Context) -> Fact<BalancerFacts> {
    let t = &ctx.target;
    gather(
        &ctx.opts,
        t.route.as_ref(),
        t.config.as_ref(),
        t.master_pid(),
        t.placement.root.as_deref(),
    )
}

fn gather(
    opts: &GatherOptions,
    route: Option<&Route>,
    config: Option<&nginx::Config>,
    master: Option<u32>,
    root: Option<&Path>,
) -> Fact<BalancerFacts> {
    let (Some(route), Some(config)) = (route, config) else {
        return Fact::unavailable("nginx configuration", "no route was selected");
    };
    let (cht, cht_at) = nginx::balancer::client_header_timeout(config, route);
    let mut facts = BalancerFacts {
        stated_idle_timeout_s: opts.lb_idle_timeout.map(|d| d.as_secs_f64()),
        real_ip: nginx::balancer::real_ip(config, route),
        client_header_timeout_s: cht,
        client_header_timeout_at: cht_at,
        ..Default::default()
    };
    let path = opts
        .access_log
        .clone()
        .or_else(|| route.access_log.as_deref().map(|p| ns::nginx_file(root, p)));
    match path {
        Some(path) => match read_tail(&path) {
            Ok((data, first_line)) => {
                facts.access_file = Some(path.display().to_string());
                scan(opts, route, &data, first_line, &mut facts);
            }
            Err(e) => facts
                .notes
                .push(format!("access log {}: {e}", path.display())),
        },
        None => facts
            .notes
            .push("no access log for this server: health checkers cannot be seen".into()),
    }
    if let Some(hc) = facts.health_checkers.iter().find(|h| h.failures > 0) {
        if let Some(p) = hc.path.clone() {
            facts.health_probe = Some(probe_path(opts, config, &p, master));
        }
    }
    Fact::collected(facts)
}

fn scan(
    opts: &GatherOptions,
    route: &Route,
    data: &[u8],
    first_line: u64,
    facts: &mut BalancerFacts,
) {
    let (template, escape) = match &route.access_log_format {
        Some(f) => (f.template.as_str(), f.escape.as_str()),
        None => (nginx::COMBINED_FORMAT, "default"),
    };
    let fmt = LogFormat::compile(template, escape);
    facts.logs_forwarded_for = template.contains("x_forwarded_for");
    let now = super::clock::now_log_time();
    let since = now - i64::try_from(opts.since.as_secs()).unwrap_or(i64::MAX / 4);
    let mut paths: HashMap<String, HashMap<String, u64>> = HashMap::new();
    let mut statuses: HashMap<String, HashMap<u16, u64>> = HashMap::new();
    for (i, line) in data.split(|&b| b == b'\n').enumerate() {
        let Some(e) = parse_line(&fmt, line) else {
            continue;
        };
        if e.time.is_some_and(|t| t < since) {
            continue;
        }
        facts.requests += 1;
        if let Some(x) = &e.forwarded_for {
            facts.forwarded_requests += 1;
            facts.longest_chain = facts.longest_chain.max(x.split(',').count() as u64);
        }
        let Some(ua) = e.user_agent.as_deref() else {
            continue;
        };
        let Some((_, who)) = HEALTH_CHECKERS.iter().find(|(p, _)| ua.starts_with(p)) else {
            continue;
        };
        let agent: String = ua.chars().take(60).collect();
        let idx = match facts.health_checkers.iter().position(|h| h.agent == agent) {
            Some(i) => i,
            None => {
                facts.health_checkers.push(HealthChecker {
                    agent: agent.clone(),
                    balancer: who.to_string(),
                    ..Default::default()
                });
                facts.health_checkers.len() - 1
            }
        };
        let h = &mut facts.health_checkers[idx];
        h.requests += 1;
        let status = e.status.unwrap_or(0);
        *statuses
            .entry(agent.clone())
            .or_default()
            .entry(status)
            .or_default() += 1;
        if let Some(p) = e.request.as_deref().and_then(request_path) {
            if paths.len() < 64 {
                *paths
                    .entry(agent.clone())
                    .or_default()
                    .entry(p.to_string())
                    .or_default() += 1;
            }
        }
        if status >= 400 {
            h.failures += 1;
            if h.failing_sample.is_none() {
                h.failing_sample = Some((
                    first_line + i as u64,
                    status,
                    e.request.clone().unwrap_or_default(),
                ));
            }
        }
    }
    for h in &mut facts.health_checkers {
        if let Some(p) = paths.get(&h.agent) {
            h.path = p
                .iter()
                .max_by_key(|(p, n)| (**n, std::cmp::Reverse((*p).clone())))
                .map(|(p, _)| p.clone());
        }
        if let Some(s) = statuses.get(&h.agent) {
            let mut v: Vec<(u16, u64)> = s.iter().map(|(a, b)| (*a, *b)).collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            h.statuses = v;
        }
    }
}

/// Routes the health-check path as nginx would and probes its upstreams.
fn probe_path(
    opts: &GatherOptions,
    config: &nginx::Config,
    path: &str,
    master: Option<u32>,
) -> HealthProbe {
    let req = RequestSpec {
        path: path.to_string(),
        ..opts.request.clone()
    };
    // Names as nginx resolved them, never badgw's resolver in their place.
    let resolver = ns::NginxResolver::for_master(&opts.proc_root, master, opts.timeout);
    let resolve = |h: &str, p: u16| resolver.resolve(h, p);
    match nginx::route(config, &req, &resolve) {
        Err(e) => HealthProbe {
            path: path.to_string(),
            location: format!("no route: {e}"),
            ..Default::default()
        },
        Ok(r) => {
            let location = r
                .location
                .as_ref()
                .map_or("no location matches".to_string(), |l| {
                    format!(
                        "location {}{}{} at {}:{}",
                        l.modifier,
                        if l.modifier.is_empty() { "" } else { " " },
                        l.pattern,
                        l.file,
                        l.line
                    )
                });
            let probes = r
                .upstreams
                .iter()
                .take(4)
                .map(|u| {
                    probe::probe(&probe::ProbeRequest::as_nginx_sends(
                        &r,
                        u,
                        &opts.request.site,
                        path,
                        opts.timeout,
                    ))
                })
                .collect();
            HealthProbe {
                path: path.to_string(),
                location,
                target: r.target.clone(),
                probes,
            }
        }
    }
}
