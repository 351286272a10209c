//! Processes behind listeners, and the nginx master and workers.

use serde::{Deserialize, Serialize};

/// One process, as read from /proc/<pid>/{stat,cmdline,status}.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ProcInfo {
    pub pid: u32,
    #[serde(default)]
    pub ppid: Option<u32>,
    /// Short name (`comm`).
    pub comm: String,
    /// Full command line, arguments joined by spaces.
    #[serde(default)]
    pub cmdline: String,
    #[serde(default)]
    pub user: Option<String>,
    /// Seconds since the process started, at collection time.
    #[serde(default)]
    pub age_secs: Option<u64>,
    /// `PORT=…`-style variables from its environment, when readable (values of other
    /// variables are never recorded: they may hold secrets).
    #[serde(default)]
    pub env_ports: Vec<String>,
    /// Inodes of the listening sockets it holds.
    #[serde(default)]
    pub listen_inodes: Vec<u64>,
}
