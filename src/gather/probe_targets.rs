//! The direct probes of stage 2, one collector per upstream address (`probe ADDRESS`):
//! every address of the route (at most 16), and in site-wide mode of every site upstream
//! too, each address once with its own route's scheme and URI (at most 64 in all). Each
//! probe runs on its own thread, bounded by the timeout, from nginx's network namespace
//! when badgw can join it.

use std::time::Duration;

use super::runner::{Collector, Context};
use super::{ns, probe};
use crate::facts::{Facts, Route};

/// The probe collectors of the run's target.
pub fn collectors(ctx: &Context) -> Vec<Collector> {
    let target = &ctx.target;
    let Some(primary) = &target.route else {
        return Vec::new();
    };
    if target.site_upstreams.is_empty() {
        return of_route(primary, ctx);
    }
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let site = target.site_upstreams.iter().map(|u| &u.route);
    for r in std::iter::once(primary).chain(site) {
        let mut r = r.clone();
        r.upstreams.retain(|u| !seen.contains(&u.address));
        seen.extend(r.upstreams.iter().map(|u| u.address.clone()));
        if r.upstreams.is_empty() || seen.len() > 64 {
            continue;
        }
        out.extend(of_route(&r, ctx));
    }
    out
}

/// A probe of every upstream address of `route` (at most 16).
fn of_route(route: &Route, ctx: &Context) -> Vec<Collector> {
    let opts = &ctx.opts;
    route
        .upstreams
        .iter()
        .take(16)
        .map(|u| {
            let mut req = probe::ProbeRequest::as_nginx_sends(
                route,
                u,
                &opts.request.site,
                &opts.request.path,
                opts.timeout,
            );
            // Hold an idle keep-alive connection only where nginx keeps them, and no
            // longer than 10 s (twice --timeout by default: 6 s).
            req.keepalive_budget = route
                .settings
                .keepalive
                .map(|_| (opts.timeout * 2).min(Duration::from_secs(10)));
            Collector::new(
                format!("probe {}", u.address),
                move |ctx: &Context| run(ctx, &req),
                |f: &mut Facts, r| f.probes.push(r),
                // A late probe is only missing from `probes`; `gather[]` says why.
                |_: &mut Facts, _: &str| {},
            )
        })
        .collect()
}

/// One probe, from nginx's network namespace when badgw can join it (this thread is the
/// probe's own, so joining is safe).
fn run(ctx: &Context, req: &probe::ProbeRequest) -> crate::facts::ProbeResult {
    if let Some(pid) = ctx.target.probe_netns() {
        if let Err(e) = ns::enter_net(&ctx.proc_root, pid) {
            let mut r = probe::probe(req);
            r.note.get_or_insert(format!(
                "run from badgw's network namespace, not nginx's ({e})"
            ));
            return r;
        }
    }
    probe::probe(req)
}
