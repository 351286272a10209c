//! Facts: the one serializable snapshot of everything gathered from the host.
//!
//! `gather` is the only producer; checks are its only consumers. A snapshot can be written
//! with `badgw collect` and analyzed later with `badgw diagnose --from`. Every source is
//! wrapped in [`Fact`], so "could not be collected, and why" is itself a fact that a check
//! turns into a `skipped` verdict. A snapshot never carries secrets: no header values, no
//! passwords, no query strings, no raw configuration text.

pub mod access;
pub mod balancer;
pub mod host;
pub mod kernel;
pub mod limits;
pub mod liveness;
pub mod logs;
pub mod managers;
pub mod net;
pub mod nginx;
pub mod ns;
pub mod permissions;
pub mod probe;
pub mod process;
pub mod queries;
pub mod supervisord;
pub mod time;
pub mod tls;
pub mod websocket;

use serde::{Deserialize, Serialize};

pub use access::*;
pub use balancer::*;
pub use host::*;
pub use kernel::*;
pub use limits::*;
pub use liveness::*;
pub use logs::*;
pub use managers::*;
pub use net::*;
pub use nginx::*;
pub use ns::*;
pub use permissions::*;
pub use probe::*;
pub use process::*;
pub use queries::*;
pub use supervisord::*;
pub use time::WallTime;
pub use tls::*;
pub use websocket::*;

/// Version of the snapshot format; bumped only on incompatible changes.
pub const SNAPSHOT_SCHEMA_VERSION: u32 = 1;

/// One gathered source: its value, or why it could not be had.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Fact<T> {
    Collected {
        value: T,
    },
    /// e.g. source "/dev/kmsg", reason "permission denied (run as root)".
    Unavailable {
        source: String,
        reason: String,
    },
}

impl<T> Default for Fact<T> {
    fn default() -> Self {
        Fact::Unavailable {
            source: "not collected".into(),
            reason: "this snapshot predates the source".into(),
        }
    }
}

impl<T> Fact<T> {
    pub fn collected(value: T) -> Self {
        Fact::Collected { value }
    }
    pub fn unavailable(source: impl Into<String>, reason: impl Into<String>) -> Self {
        Fact::Unavailable {
            source: source.into(),
            reason: reason.into(),
        }
    }
    pub fn value(&self) -> Option<&T> {
        match self {
            Fact::Collected { value } => Some(value),
            Fact::Unavailable { .. } => None,
        }
    }
    /// The value, or a skip reason of the form "SOURCE: REASON".
    pub fn get(&self) -> Result<&T, String> {
        match self {
            Fact::Collected { value } => Ok(value),
            Fact::Unavailable { source, reason } => Err(format!("{source}: {reason}")),
        }
    }
}

/// What the user asked about.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RequestSpec {
    pub site: String,
    pub path: String,
    /// The port the client connects to nginx on, when given (`--port`, `--url`).
    #[serde(default)]
    pub port: Option<u16>,
    /// "http" or "https" (from `--url`); decides 80 vs 443 when a site is served on both.
    #[serde(default)]
    pub scheme: Option<String>,
}

/// Everything badgw knows about the host, as plain data.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Facts {
    pub schema_version: u32,
    /// When the snapshot was taken, in badgw's zone (checks use it as "now", never the
    /// clock). Written as RFC 3339 (`2026-11-23T00:22:17+00:00`), as it always was.
    #[serde(default, with = "time::rfc3339_opt")]
    pub collected_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Host name the snapshot was taken on, for the report header.
    #[serde(default)]
    pub hostname: Option<String>,
    /// Who badgw ran as and which tools the printed commands may use on this host; None in
    /// a snapshot that predates it (commands are then printed for a usual systemd host
    /// with sudo).
    #[serde(default)]
    pub host: Option<HostFacts>,
    pub request: RequestSpec,
    #[serde(default)]
    pub nginx: Fact<NginxFacts>,
    /// Listening TCP/TCP6 sockets and unix sockets, with their owners where visible.
    #[serde(default)]
    pub listeners: Fact<Vec<Listener>>,
    /// Processes that own listeners or could be the upstream application.
    #[serde(default)]
    pub processes: Fact<Vec<ProcInfo>>,
    /// The unix socket paths the route targets, as seen on the file system.
    #[serde(default)]
    pub unix_sockets: Fact<Vec<UnixSocketFile>>,
    /// Direct probes of every upstream address of the selected route.
    #[serde(default)]
    pub probes: Vec<ProbeResult>,
    /// Recent error-log window for the selected site, classified.
    #[serde(default)]
    pub error_log: Fact<ErrorLogWindow>,
    /// Recent access-log window of the selected server: 502/504 per minute and their origin.
    #[serde(default)]
    pub access_log: Fact<AccessLogWindow>,
    /// What gathering could not see or had to guess, shown in the report.
    #[serde(default)]
    pub notes: Vec<String>,
    /// OOM kills and SELinux denials from the kernel log.
    #[serde(default)]
    pub kernel_log: Fact<KernelLog>,
    /// systemd units that may run the upstream (`systemctl show`, `journalctl -u`).
    #[serde(default)]
    pub systemd: Fact<Vec<UnitFacts>>,
    /// PM2 apps (`pm2 jlist`).
    #[serde(default)]
    pub pm2: Fact<Vec<Pm2App>>,
    /// PHP-FPM pools and log events.
    #[serde(default)]
    pub php_fpm: Fact<PhpFpmFacts>,
    /// Running supervisord instances, their configuration and programs.
    #[serde(default)]
    pub supervisord: Fact<SupervisordFacts>,
    /// Open-file limits and usage of the nginx workers and the upstream processes.
    #[serde(default)]
    pub process_limits: Fact<Vec<ProcLimits>>,
    /// Ownership and modes along each targeted unix socket path, with the worker's identity.
    #[serde(default)]
    pub socket_access: Fact<Vec<SocketAccess>>,
    /// The process behind each upstream address, looked at twice.
    #[serde(default)]
    pub liveness: Fact<Vec<UpstreamLiveness>>,
    /// SELinux mode.
    #[serde(default)]
    pub selinux: Fact<SelinuxState>,
    /// WebSocket locations of the selected server and how they pass the upgrade.
    #[serde(default)]
    pub websocket: Fact<WebSocketFacts>,
    /// Whose namespaces the listeners, probes and paths were read in (nginx's or badgw's).
    #[serde(default)]
    pub view: Fact<View>,
    /// A load balancer in front of nginx: its idle timeout (stated), health checkers and
    /// forwarded requests seen in the access log, nginx's real_ip settings.
    #[serde(default)]
    pub balancer: Fact<BalancerFacts>,
    /// The certificate of each `https://`/`grpcs://` upstream of the route, read over a
    /// direct TLS connection with the SNI nginx sends.
    #[serde(default)]
    pub upstream_tls: Fact<Vec<UpstreamCertificate>>,
    /// Each collector's outcome and duration, in the order they were awaited; a status
    /// `deadline` means the global deadline cut it off (its fact says `deadline: …`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gather: Vec<GatherStage>,
}

/// How one collector ended.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum GatherStatus {
    /// It returned (its fact may still be `unavailable` for its own reason).
    Done,
    /// It had not returned when the global deadline passed.
    Deadline,
    /// Its thread died (a bug in badgw).
    Failed,
}

/// One collector of a run: e.g. `{"name": "error log", "status": "done", "duration_ms": 3.1}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GatherStage {
    pub name: String,
    pub status: GatherStatus,
    /// How long it ran, when it returned.
    #[serde(default)]
    pub duration_ms: Option<f64>,
}

impl Facts {
    /// The collectors the deadline cut off.
    pub fn missed_deadline(&self) -> Vec<&str> {
        self.gather
            .iter()
            .filter(|g| g.status == GatherStatus::Deadline)
            .map(|g| g.name.as_str())
            .collect()
    }
}

impl Facts {
    pub fn new(request: RequestSpec) -> Self {
        Facts {
            schema_version: SNAPSHOT_SCHEMA_VERSION,
            request,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `collected_at` is typed now; snapshots still write it as the RFC 3339 text they
    /// always had, and old snapshots load.
    #[test]
    fn collected_at_keeps_its_json_form() {
        let old = r#"{"schema_version":1,"collected_at":"2026-11-23T00:22:17-05:00","request":{"site":"a","path":"/"}}"#;
        let f: Facts = serde_json::from_str(old).expect("old snapshot loads");
        let at = f.collected_at.expect("parsed");
        assert_eq!(at.offset().local_minus_utc(), -5 * 3600);
        let json = serde_json::to_value(&f).expect("serializes");
        assert_eq!(json["collected_at"], "2026-11-23T00:22:17-05:00");
        let utc = r#"{"schema_version":1,"collected_at":"2026-11-23T00:22:17+00:00","request":{"site":"a","path":"/"}}"#;
        let f: Facts = serde_json::from_str(utc).expect("loads");
        let json = serde_json::to_value(&f).expect("serializes");
        assert_eq!(json["collected_at"], "2026-11-23T00:22:17+00:00");
    }
}
