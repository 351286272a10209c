//! What the route's upstream host names resolve to now, through nginx's resolver (its own
//! `/etc/hosts`, nsswitch and DNS servers when it has namespaces of its own), and the
//! `nameserver` lines of its resolv.conf. A DNS query can hang: this is a collector on its
//! own thread, awaited until the deadline.

use std::net::IpAddr;

use super::runner::Context;
use super::{files, ns};
use crate::facts::{Fact, Facts, NameResolution};

/// The names looked up and nginx's name servers.
pub type Names = (Vec<NameResolution>, Vec<String>);

/// Looks up every host name (not address) among the upstreams, once each.
pub fn collect(ctx: &Context) -> Names {
    let target = &ctx.target;
    let mut names: Vec<(String, u16)> = Vec::new();
    for u in target.upstream_addrs() {
        let (Some(h), Some(a)) = (u.host.as_deref(), u.socket_addr()) else {
            continue;
        };
        let name = upstream_name(h);
        if name.parse::<IpAddr>().is_err() && !names.iter().any(|(n, _)| *n == name) {
            names.push((name, a.port()));
        }
    }
    let resolver = ns::NginxResolver::for_master(&ctx.proc_root, target.master_pid(), ctx.timeout);
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
    let resolv = ns::under_root(target.placement.root.as_deref(), "/etc/resolv.conf");
    let nameservers = files::read_all(&resolv, 1 << 20)
        .map(|b| ns::nameservers(&String::from_utf8_lossy(&b)))
        .unwrap_or_default();
    (found, nameservers)
}

/// Into `facts.view` (left as it was when the lookups are late).
pub fn store(facts: &mut Facts, (names, nameservers): Names) {
    if let Fact::Collected { value: view } = &mut facts.view {
        view.names = names;
        view.nameservers = nameservers;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_part_of_written_upstreams() {
        assert_eq!(upstream_name("app:3000"), "app");
        assert_eq!(upstream_name("http://app:3000/x"), "app");
        assert_eq!(upstream_name("[::1]:80"), "::1");
        assert_eq!(upstream_name("backend"), "backend");
    }
}
