//! Turns command-line options into resolved settings: durations, the request (from
//! `--site/--port/--path` or `--url`), and gather options. Validation happens here, so
//! a usage error is reported before anything touches the host.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail};

use crate::cli::when::parse_duration;
use crate::cli::{SourceArgs, TargetArgs};
use crate::facts::RequestSpec;
use crate::gather::GatherOptions;

/// The request to diagnose, from `--url` or `--site`/`--port`/`--path`.
pub fn request(t: &TargetArgs) -> anyhow::Result<RequestSpec> {
    if let Some(url) = &t.url {
        return parse_url(url);
    }
    let site = t
        .site
        .clone()
        .ok_or_else(|| anyhow!("--site HOST (or --url URL) is required"))?;
    if site.is_empty() || site.contains('/') || site.chars().any(char::is_whitespace) {
        bail!("--site takes a host name like shop.example.com, not {site:?} (use --url for a full URL)");
    }
    let path = t.path.clone().unwrap_or_else(|| "/".into());
    if !path.starts_with('/') {
        bail!("--path must start with '/': {path:?}");
    }
    Ok(RequestSpec {
        site: site.to_ascii_lowercase(),
        path,
        port: t.port,
        scheme: None,
    })
}

/// `https://shop.example.com:8443/api/x?q=1` → site, port, path (the query is dropped:
/// it may hold secrets and nginx does not route on it).
pub fn parse_url(url: &str) -> anyhow::Result<RequestSpec> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| anyhow!("--url needs a scheme, e.g. https://{url}"))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        bail!("--url scheme must be http or https, not {scheme:?}");
    }
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| anyhow!("invalid IPv6 host in {url:?}"))?;
        (h.to_string(), after.strip_prefix(':').map(str::to_string))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p.to_string())),
            None => (authority.to_string(), None),
        }
    };
    if host.is_empty() {
        bail!("--url has no host: {url:?}");
    }
    let port = match port {
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| anyhow!("invalid port {p:?} in {url:?}"))?,
        ),
        None => None,
    };
    let path = path
        .split(['?', '#'])
        .next()
        .filter(|p| !p.is_empty())
        .unwrap_or("/");
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        "/".to_string()
    };
    Ok(RequestSpec {
        site: host.to_ascii_lowercase(),
        path,
        port,
        scheme: Some(scheme),
    })
}

pub fn gather_options(t: &TargetArgs, s: Option<&SourceArgs>) -> anyhow::Result<GatherOptions> {
    let (since, timeout) = match s {
        Some(s) => (parse_duration(&s.since)?, parse_duration(&s.timeout)?),
        None => (Duration::from_secs(900), Duration::from_secs(3)),
    };
    let source = |f: fn(&SourceArgs) -> &Option<PathBuf>| s.and_then(|s| f(s).clone());
    if timeout.is_zero() {
        bail!("--timeout must be more than 0");
    }
    let lb_idle_timeout = match s.and_then(|s| s.lb_idle_timeout.as_deref()) {
        Some(v) => Some(parse_duration(v).map_err(|e| anyhow!("--lb-idle-timeout: {e}"))?),
        None => None,
    };
    let deadline = match s.and_then(|s| s.deadline.as_deref()) {
        Some(d) => {
            let d = parse_duration(d)?;
            if d.is_zero() {
                bail!("--deadline must be more than 0");
            }
            Some(d)
        }
        None => None,
    };
    Ok(GatherOptions {
        lb_idle_timeout,
        request: request(t)?,
        whole_site: t.path.is_none() && t.url.is_none(),
        nginx_conf: t.nginx_conf.clone(),
        nginx_dump: t.nginx_dump.clone(),
        error_log: source(|s| &s.error_log),
        access_log: source(|s| &s.access_log),
        kernel_log: source(|s| &s.kernel_log),
        journal: source(|s| &s.journal),
        unit_status: source(|s| &s.unit_status),
        since,
        timeout,
        proc_root: PathBuf::from("/proc"),
        deadline,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let r = parse_url("https://Shop.Example.com:8443/api/x?token=secret").unwrap();
        assert_eq!(
            (
                r.site.as_str(),
                r.port,
                r.path.as_str(),
                r.scheme.as_deref()
            ),
            ("shop.example.com", Some(8443), "/api/x", Some("https"))
        );
        let r = parse_url("http://[::1]:8080").unwrap();
        assert_eq!(
            (r.site.as_str(), r.port, r.path.as_str()),
            ("::1", Some(8080), "/")
        );
        assert!(parse_url("shop.example.com/x").is_err());
        assert!(parse_url("ftp://x/").is_err());
        assert!(parse_url("http://x:99999/").is_err());
    }
}
