//! The "load balancer → nginx" side of the selected server: `real_ip` settings and
//! `client_header_timeout` (http and server levels only, where nginx allows them).

use super::{values, Config};
use crate::facts::{RealIpSetting, Route, SourceRef};

/// (http, server) directives of the route's server.
fn levels<'a>(config: &'a Config, route: &Route) -> Vec<&'a super::tree::Directive> {
    for http in config.tree.root.iter().filter(|d| d.name == "http") {
        for s in http.children().iter().filter(|d| d.name == "server") {
            if config.tree.file(s.file) == route.server.file && s.line == route.server.line {
                return vec![http, s];
            }
        }
    }
    Vec::new()
}

pub fn real_ip(config: &Config, route: &Route) -> Vec<RealIpSetting> {
    levels(config, route)
        .iter()
        .flat_map(|l| l.children())
        .filter(|d| {
            matches!(
                d.name.as_str(),
                "set_real_ip_from" | "real_ip_header" | "real_ip_recursive"
            )
        })
        .map(|d| RealIpSetting {
            directive: d.name.clone(),
            value: d.args.join(" "),
            at: SourceRef {
                file: config.tree.file(d.file).to_string(),
                line: d.line,
            },
        })
        .collect()
}

/// Effective `client_header_timeout` (default 60 s) and where it is set.
pub fn client_header_timeout(config: &Config, route: &Route) -> (f64, Option<SourceRef>) {
    levels(config, route)
        .iter()
        .rev()
        .find_map(|l| {
            let d = l
                .children()
                .iter()
                .rev()
                .find(|d| d.name == "client_header_timeout")?;
            let v = values::parse_time(d.arg(0)?)?;
            Some((
                v,
                Some(SourceRef {
                    file: config.tree.file(d.file).to_string(),
                    line: d.line,
                }),
            ))
        })
        .unwrap_or((60.0, None))
}
