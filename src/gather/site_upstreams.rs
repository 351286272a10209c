//! Site-wide mode's gathering around the pure grouping of `site.rs`: the site-wide pick of
//! the route (stage 1), the error-log slice of each site upstream (a stage 2 collector),
//! and, once the logs are in, which upstreams fail on which paths and which one the report
//! leads with.

use super::runner::Context;
use super::{log_window, nginx_config, site};
use crate::facts::{ErrorLogWindow, Fact, Facts, NginxFacts, Route, SiteUpstream};
use crate::nginx;

/// Each site upstream's own slice of the error log: the events that name it.
pub fn error_log_slices(ctx: &Context) -> Vec<Option<ErrorLogWindow>> {
    let mut opts = (*ctx.opts).clone();
    opts.request.site.clear();
    let fs = ctx.target.nginx_fs();
    ctx.target
        .site_upstreams
        .iter()
        .map(|u| {
            let (w, _) = log_window::error_log_window(&opts, Some(&site::slice_route(u)), &fs);
            w.value().cloned()
        })
        .collect()
}

/// Into `facts.nginx.site_upstreams`, in order (left without slices when late).
pub fn store_slices(facts: &mut Facts, windows: Vec<Option<ErrorLogWindow>>) {
    if let Fact::Collected { value: n } = &mut facts.nginx {
        for (u, w) in n.site_upstreams.iter_mut().zip(windows) {
            u.error_log = w;
        }
    }
}

/// Once the logs are in: the paths failing behind each site upstream (routed by nginx's
/// rules, as nginx's resolver and files see them) and, site-wide, the upstream the report
/// leads with.
pub fn attach_failing(ctx: &Context, facts: &mut Facts) {
    let Fact::Collected { value: n } = &mut facts.nginx else {
        return;
    };
    if n.site_upstreams.is_empty() {
        return;
    }
    let mut ups = std::mem::take(&mut n.site_upstreams);
    let master = ctx.target.master_pid();
    let resolver = nginx_config::resolver_of(ctx, master);
    let resolve = |h: &str, p: u16| resolver.resolve(h, p);
    let files = nginx_config::files_of(ctx, master);
    let route_of = |path: &str| -> Option<Route> {
        let c = ctx.target.config.as_ref()?;
        let mut req = ctx.opts.request.clone();
        req.path = path.to_string();
        nginx::route_with(c, &req, &resolve, &files).ok()
    };
    let mut windows: Vec<&ErrorLogWindow> =
        ups.iter().filter_map(|u| u.error_log.as_ref()).collect();
    windows.extend(facts.error_log.value());
    let failing = site::failing_paths(&windows, facts.access_log.value());
    site::attach_failing(&mut ups, &failing, facts.access_log.value(), &route_of);
    let Fact::Collected { value: n } = &mut facts.nginx else {
        return;
    };
    if ctx.opts.whole_site {
        lead_site_upstream(n, &mut ups);
    }
    n.site_upstreams = ups;
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

/// Site-wide mode: when `/` does not reach an upstream, the site is diagnosed through the
/// first location that does (config order), and the route says so; `--path` never
/// comes here (site_routes is empty then).
pub fn site_wide_pick(root: Route, site: &[Route]) -> Route {
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
