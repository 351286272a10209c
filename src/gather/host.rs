//! Gathers [`HostFacts`]: badgw's uid, `sudo`, systemd as init, and which tools the fixes
//! may name are installed (a PATH lookup each; nothing is run).

use crate::facts::HostFacts;

/// The tools a printed command may start with.
pub const TOOLS: &[&str] = &[
    "sudo",
    "systemctl",
    "journalctl",
    "curl",
    "ss",
    "namei",
    "ps",
    "pgrep",
    "dmesg",
    "getenforce",
    "ausearch",
    "semanage",
    "setsebool",
    "openssl",
    "getent",
    "nsenter",
    "supervisorctl",
    "pm2",
    "docker",
    "podman",
    "kubectl",
    "sysctl",
    "prlimit",
];

pub fn gather() -> HostFacts {
    let tools: Vec<String> = TOOLS
        .iter()
        .filter(|t| which::which(t).is_ok() || std::path::Path::new("/usr/sbin").join(t).is_file())
        .map(|t| t.to_string())
        .collect();
    HostFacts {
        euid: nix::unistd::geteuid().as_raw(),
        sudo: tools.iter().any(|t| t == "sudo"),
        systemd_init: super::systemd::systemd_is_init(),
        tools,
    }
}
