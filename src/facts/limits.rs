//! Open-file limits and usage of nginx's processes and the upstream's, from
//! /proc/<pid>/limits and /proc/<pid>/fd (`gather::limits`).

use serde::{Deserialize, Serialize};

/// Who a process is in `/proc/<pid>/limits` terms: nginx worker or upstream app.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ProcRole {
    NginxMaster,
    NginxWorker,
    Upstream,
}

/// Open-file limit and usage of one process.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProcLimits {
    pub pid: u32,
    pub comm: String,
    pub role: ProcRole,
    /// "Max open files" soft limit; None = unlimited.
    #[serde(default)]
    pub nofile_soft: Option<u64>,
    #[serde(default)]
    pub nofile_hard: Option<u64>,
    /// Entries in /proc/<pid>/fd, when readable.
    #[serde(default)]
    pub open_fds: Option<u64>,
    /// nginx `worker_rlimit_nofile` / `worker_connections` context, when known.
    #[serde(default)]
    pub unit: Option<String>,
}
