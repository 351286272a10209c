//! Facts from the kernel: OOM kills and SELinux AVC denials read from the kernel log,
//! and the SELinux mode. Produced by `gather::kernel_log` and `gather::selinux` through the
//! pure parsers in `crate::parse::kernel`.

use serde::{Deserialize, Serialize};

use super::Origin;

/// One OOM kill, assembled from the lines the kernel printed for it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct OomKill {
    /// Time of the kill, when the log's prefix allowed computing one (written as RFC 3339).
    #[serde(default, with = "super::time::rfc3339_opt")]
    pub time: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Seconds since boot, when the log carried the raw kernel timestamp.
    #[serde(default)]
    pub uptime_secs: Option<f64>,
    pub pid: u32,
    /// The victim's comm, e.g. "node".
    pub comm: String,
    /// The app server the victim was, read from its comm when the OOM record is parsed
    /// (the kernel prints no command line), so checks never match process names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<super::AppKind>,
    /// What else the victim was (nginx itself, a non-HTTP daemon), from its comm when parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<super::ProcessRole>,
    #[serde(default)]
    pub uid: Option<u32>,
    /// CONSTRAINT_NONE (system-wide), CONSTRAINT_MEMCG (a cgroup limit such as systemd's
    /// MemoryMax or a container limit), CONSTRAINT_CPUSET, CONSTRAINT_MEMORY_POLICY.
    #[serde(default)]
    pub constraint: Option<String>,
    /// The cgroup whose limit was hit (`oom_memcg=`), e.g. "/system.slice/app.service".
    #[serde(default)]
    pub oom_memcg: Option<String>,
    /// The victim's cgroup (`task_memcg=`).
    #[serde(default)]
    pub task_memcg: Option<String>,
    #[serde(default)]
    pub total_vm_kb: Option<u64>,
    #[serde(default)]
    pub anon_rss_kb: Option<u64>,
    #[serde(default)]
    pub file_rss_kb: Option<u64>,
    #[serde(default)]
    pub oom_score_adj: Option<i32>,
    /// The task whose allocation invoked the OOM killer ("comm invoked oom-killer").
    #[serde(default)]
    pub invoked_by: Option<String>,
    /// Whether the kernel said "Memory cgroup out of memory".
    #[serde(default)]
    pub memcg_oom: bool,
    /// The line that names the victim, for evidence.
    pub origin: Origin,
    pub text: String,
    /// The systemd unit of the victim (from `task_memcg`, else `oom_memcg`), set by the parser.
    #[serde(default)]
    pub unit: Option<String>,
}

impl OomKill {
    /// The systemd unit the victim ran in, read from `task_memcg`/`oom_memcg` when parsed.
    pub fn unit(&self) -> Option<&str> {
        self.unit.as_deref()
    }
}

/// An SELinux AVC denial printed in the kernel/audit log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct AvcDenial {
    /// When the denial was logged (written as RFC 3339).
    #[serde(default, with = "super::time::rfc3339_opt")]
    pub time: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Denied permissions, e.g. ["name_connect"].
    pub permissions: Vec<String>,
    #[serde(default)]
    pub pid: Option<u32>,
    #[serde(default)]
    pub comm: Option<String>,
    /// What the denied process is (nginx itself, …), from `comm` when parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<super::ProcessRole>,
    /// Destination port for network denials (`dest=`).
    #[serde(default)]
    pub dest_port: Option<u16>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub scontext: Option<String>,
    #[serde(default)]
    pub tcontext: Option<String>,
    #[serde(default)]
    pub tclass: Option<String>,
    pub origin: Origin,
    pub text: String,
}

/// What the kernel log said that matters here.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct KernelLog {
    /// `/dev/kmsg`, `dmesg`, `journalctl -k`, `/var/log/kern.log`, or the --kernel-log file.
    pub source: String,
    pub lines_read: u64,
    pub oom_kills: Vec<OomKill>,
    #[serde(default)]
    pub avc_denials: Vec<AvcDenial>,
}

/// SELinux mode and the booleans that matter to nginx.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SelinuxState {
    /// "enforcing", "permissive" or "disabled".
    pub mode: String,
    /// `getenforce`, `/sys/fs/selinux/enforce`.
    pub source: String,
    /// `httpd_can_network_connect`, when readable.
    #[serde(default)]
    pub httpd_can_network_connect: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kill times are typed; a recorded snapshot's text (microseconds, offset) survives.
    #[test]
    fn oom_time_keeps_its_json_form() {
        let text = r#"{"pid":1,"comm":"node","origin":{"source":"dmesg"},"text":"x","time":"2026-11-22T23:57:06.778039+00:00"}"#;
        let k: OomKill = serde_json::from_str(text).expect("loads");
        assert!(k.time.is_some());
        let back = serde_json::to_value(&k).expect("serializes");
        assert_eq!(back["time"], "2026-11-22T23:57:06.778039+00:00");
    }
}
