//! A load balancer in front of nginx (AWS ALB/ELB, a GCP or Azure balancer, Cloudflare,
//! a Kubernetes ingress path): what shows it, and the settings of the hop "load balancer →
//! nginx". The balancer answers its own 502/504 when nginx closes an idle keep-alive
//! connection it is about to reuse; nginx's logs then show nothing.

use serde::{Deserialize, Serialize};

use super::SourceRef;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct BalancerFacts {
    /// `--lb-idle-timeout`, seconds, when the user stated it.
    #[serde(default)]
    pub stated_idle_timeout_s: Option<f64>,
    /// The access log read, and the requests of the window in it.
    #[serde(default)]
    pub access_file: Option<String>,
    pub requests: u64,
    /// Health checkers recognised by their user agent.
    pub health_checkers: Vec<HealthChecker>,
    /// Whether the format logs `$http_x_forwarded_for`, and requests that carry one
    /// (longest chain: how many addresses).
    pub logs_forwarded_for: bool,
    pub forwarded_requests: u64,
    #[serde(default)]
    pub longest_chain: u64,
    /// `set_real_ip_from`, `real_ip_header`, `real_ip_recursive` of the http/server levels.
    pub real_ip: Vec<RealIpSetting>,
    /// nginx's `client_header_timeout` for the server (60 s by default), and where set.
    pub client_header_timeout_s: f64,
    #[serde(default)]
    pub client_header_timeout_at: Option<SourceRef>,
    /// The failing health-check path, routed and probed like a request.
    #[serde(default)]
    pub health_probe: Option<HealthProbe>,
    #[serde(default)]
    pub notes: Vec<String>,
}

/// One kind of health checker seen in the access log.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct HealthChecker {
    /// As logged, e.g. "ELB-HealthChecker/2.0".
    pub agent: String,
    /// "aws", "gcp", "kubernetes", "azure", "cloudflare".
    pub balancer: String,
    pub requests: u64,
    /// Requests answered 4xx/5xx.
    pub failures: u64,
    /// The path it checks (most frequent), query removed.
    #[serde(default)]
    pub path: Option<String>,
    /// Statuses answered, most frequent first.
    pub statuses: Vec<(u16, u64)>,
    /// First failing line: (1-based line number, status, request).
    #[serde(default)]
    pub failing_sample: Option<(u64, u16, String)>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RealIpSetting {
    pub directive: String,
    pub value: String,
    pub at: SourceRef,
}

/// The health-check path, routed by nginx's rules and probed like the request would be.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct HealthProbe {
    pub path: String,
    /// `location` that serves it (`file:line`), or why none.
    pub location: String,
    /// `proxy_pass`/`fastcgi_pass` target, when it goes upstream.
    #[serde(default)]
    pub target: Option<String>,
    /// Direct probes of its upstream addresses.
    pub probes: Vec<super::ProbeResult>,
}
