//! What the printed commands may rely on, on the host the facts were gathered on: who
//! badgw ran as, whether `sudo` exists, whether systemd is the init system (`systemctl`
//! and `journalctl -u` only work then), and which of the tools the fixes name are
//! installed. `fixes` builds commands from this, so each runs as printed there.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct HostFacts {
    /// badgw's effective uid when it gathered (0: root, so commands need no `sudo`).
    pub euid: u32,
    /// `sudo` is on PATH.
    pub sudo: bool,
    /// systemd is PID 1 (`/run/systemd/system` exists).
    pub systemd_init: bool,
    /// Tools the fixes may name that are on PATH (`curl`, `ss`, `supervisorctl`, …).
    pub tools: Vec<String>,
}

impl HostFacts {
    pub fn has(&self, tool: &str) -> bool {
        self.tools.iter().any(|t| t == tool)
    }
}
