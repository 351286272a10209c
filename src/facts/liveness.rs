//! The process behind an upstream address, looked at twice a short interval apart: is it
//! the same process, and who supervises it (`gather::liveness`).

use serde::{Deserialize, Serialize};

/// A snapshot of one process at one look.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ProcLook {
    pub pid: u32,
    pub comm: String,
    /// Seconds since the process started, at that look.
    #[serde(default)]
    pub age_secs: Option<f64>,
    #[serde(default)]
    pub ppid: Option<u32>,
    #[serde(default)]
    pub parent_comm: Option<String>,
    /// Supervisor recognized from the parent: systemd, pm2, supervisord, runit, s6, php-fpm.
    #[serde(default)]
    pub supervisor: Option<String>,
    /// The systemd unit from /proc/<pid>/cgroup.
    #[serde(default)]
    pub unit: Option<String>,
}

/// The upstream address looked at twice, a short interval apart.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct UpstreamLiveness {
    /// `127.0.0.1:3000` or `unix:/run/app.sock`.
    pub address: String,
    /// Milliseconds between the looks.
    pub interval_ms: u64,
    /// The first process seen behind the listener (None: no listener at any look).
    #[serde(default)]
    pub first: Option<ProcLook>,
    /// The last look.
    #[serde(default)]
    pub second: Option<ProcLook>,
    /// The listener's pid at every look in between, in order (None: no listener then).
    #[serde(default)]
    pub samples: Vec<Option<u32>>,
}
