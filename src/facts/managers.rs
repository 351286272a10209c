//! Facts about the process managers that may run the upstream: systemd units and their
//! journal, PM2 apps, PHP-FPM pools, masters and log events — and [`Origin`], where a fact
//! was read.
//!
//! Plain data only: produced by `gather::{systemd,pm2,php_fpm}` through the pure parsers in
//! `crate::parse`, consumed by checks. Nothing here touches the host, and nothing here
//! records secrets: environment values are kept only for PORT-like variables.

use serde::{Deserialize, Serialize};

use super::WallTime;

/// Where a fact came from: a file and 1-based line, a command, or a /proc path.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Origin {
    /// `/var/log/kern.log`, `journalctl -k`, `/etc/php/8.2/fpm/pool.d/www.conf`.
    pub source: String,
    /// 1-based line in `source`, when it is a text file or command output.
    #[serde(default)]
    pub line: Option<u64>,
}

impl Origin {
    pub fn new(source: impl Into<String>, line: Option<u64>) -> Self {
        Origin {
            source: source.into(),
            line,
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}", self.source, l),
            None => f.write_str(&self.source),
        }
    }
}

/// `systemctl show UNIT`, the properties badgw uses.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct UnitStatus {
    /// `Id=`, e.g. "myapp.service".
    pub id: String,
    #[serde(default)]
    pub description: Option<String>,
    /// active, activating, deactivating, failed, inactive.
    #[serde(default)]
    pub active_state: Option<String>,
    /// running, auto-restart, exited, dead, failed, start…
    #[serde(default)]
    pub sub_state: Option<String>,
    /// success, exit-code, signal, core-dump, oom-kill, start-limit-hit, timeout, …
    #[serde(default)]
    pub result: Option<String>,
    #[serde(default)]
    pub n_restarts: Option<u32>,
    /// `MainPID`: the running main process (None when 0: not running).
    #[serde(default)]
    pub main_pid: Option<u32>,
    /// `ExecMainPID`: the last main process started, running or not.
    #[serde(default)]
    pub exec_main_pid: Option<u32>,
    #[serde(default)]
    pub exec_main_status: Option<i32>,
    /// `ExecMainCode`: 1 exited, 2 killed, 3 dumped.
    #[serde(default)]
    pub exec_main_code: Option<i32>,
    #[serde(default)]
    pub exec_main_start: Option<String>,
    #[serde(default)]
    pub exec_main_exit: Option<String>,
    /// no, on-failure, always, …
    #[serde(default)]
    pub restart: Option<String>,
    #[serde(default)]
    pub restart_usec: Option<u64>,
    /// Bytes; None when "infinity" or not set.
    #[serde(default)]
    pub memory_max: Option<u64>,
    #[serde(default)]
    pub memory_current: Option<u64>,
    #[serde(default)]
    pub memory_peak: Option<u64>,
    /// LimitNOFILE soft value.
    #[serde(default)]
    pub limit_nofile: Option<u64>,
    /// The command line from `ExecStart={ path=… ; argv[]=… ; … }`.
    #[serde(default)]
    pub exec_start: Option<String>,
    /// The app server `exec_start` runs, decided when it is parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_kind: Option<super::AppKind>,
    /// `FragmentPath=`, the unit file.
    #[serde(default)]
    pub fragment_path: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    /// PORT-like `Environment=` assignments only (`PORT=3000`, `LISTEN_ADDR=…`).
    #[serde(default)]
    pub environment: Vec<String>,
    /// `ControlGroup=`, e.g. "/system.slice/myapp.service".
    #[serde(default)]
    pub control_group: Option<String>,
}

/// A recognized event of `journalctl -u UNIT`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum JournalEventKind {
    /// "Start request repeated too quickly."
    StartLimitHit,
    /// "Main process exited, code=exited, status=1/FAILURE".
    MainProcessExited,
    /// "Failed with result 'oom-kill'." (or any other result)
    FailedWithResult,
    /// "Scheduled restart job, restart counter is at 5."
    ScheduledRestart,
    /// "A process of this unit has been killed by the OOM killer."
    OomKilled,
    /// "Started …" / "Starting …"
    Started,
    /// Anything else systemd itself printed about the unit ("Stopped …", "Consumed …").
    Manager,
    /// Anything else the app itself printed.
    Other,
}

/// One line of `journalctl -u UNIT`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JournalEntry {
    /// Time as printed (short: "Nov 22 03:12:01", whose year is settled against
    /// `collected_at`; short-iso: "2026-11-22T03:12:01+0000").
    pub time: WallTime,
    #[serde(default)]
    pub host: Option<String>,
    /// "systemd", "node", …
    pub process: String,
    #[serde(default)]
    pub pid: Option<u32>,
    pub message: String,
    pub kind: JournalEventKind,
    /// "code=exited, status=1/FAILURE" details, or the result, or the restart counter.
    #[serde(default)]
    pub detail: Option<String>,
    pub line: u64,
}

/// A systemd unit that may run the upstream, with why badgw looked at it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct UnitFacts {
    pub status: UnitStatus,
    /// "owns pid 812 listening on 127.0.0.1:3000", "ExecStart names port 3000", "failed unit".
    pub why: String,
    /// Source of the journal lines (`journalctl -u myapp.service -n 200`, or --journal FILE).
    #[serde(default)]
    pub journal_source: Option<String>,
    #[serde(default)]
    pub journal: Vec<JournalEntry>,
}

/// One app of `pm2 jlist`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Pm2App {
    pub name: String,
    pub pm_id: u32,
    /// 0 when stopped or errored.
    #[serde(default)]
    pub pid: Option<u32>,
    /// online, stopping, stopped, launching, errored, one-launch-status.
    pub status: String,
    pub restart_time: u32,
    pub unstable_restarts: u32,
    /// Milliseconds since the epoch of the last (re)start.
    #[serde(default)]
    pub pm_uptime_ms: Option<i64>,
    #[serde(default)]
    pub exec_mode: Option<String>,
    #[serde(default)]
    pub script: Option<String>,
    #[serde(default)]
    pub err_log: Option<String>,
    #[serde(default)]
    pub out_log: Option<String>,
    /// PORT-like env values (`PORT=3000`).
    #[serde(default)]
    pub env_ports: Vec<String>,
    /// `max_memory_restart` in bytes, when set.
    #[serde(default)]
    pub max_memory_restart: Option<u64>,
    /// `--max-old-space-size=` from node_args, in MB.
    #[serde(default)]
    pub max_old_space_mb: Option<u64>,
    #[serde(default)]
    pub memory_bytes: Option<u64>,
    #[serde(default)]
    pub cpu_percent: Option<f64>,
    /// The pm2 user's home, to name `~/.pm2/logs` paths in fixes.
    #[serde(default)]
    pub pm2_home: Option<String>,
}

/// A value in a PHP-FPM configuration file, with where it is written.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct FpmSetting {
    pub value: String,
    pub file: String,
    pub line: u32,
}

/// One `[pool]` section of a PHP-FPM configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct FpmPool {
    pub name: String,
    pub file: String,
    pub line: u32,
    #[serde(default)]
    pub listen: Option<FpmSetting>,
    #[serde(default)]
    pub listen_owner: Option<FpmSetting>,
    #[serde(default)]
    pub listen_group: Option<FpmSetting>,
    #[serde(default)]
    pub listen_mode: Option<FpmSetting>,
    #[serde(default)]
    pub listen_acl_users: Option<FpmSetting>,
    #[serde(default)]
    pub listen_acl_groups: Option<FpmSetting>,
    #[serde(default)]
    pub listen_backlog: Option<FpmSetting>,
    #[serde(default)]
    pub user: Option<FpmSetting>,
    #[serde(default)]
    pub group: Option<FpmSetting>,
    #[serde(default)]
    pub pm: Option<FpmSetting>,
    #[serde(default)]
    pub max_children: Option<FpmSetting>,
    #[serde(default)]
    pub start_servers: Option<FpmSetting>,
    #[serde(default)]
    pub min_spare_servers: Option<FpmSetting>,
    #[serde(default)]
    pub max_spare_servers: Option<FpmSetting>,
    #[serde(default)]
    pub request_terminate_timeout: Option<FpmSetting>,
    /// `php_admin_value[memory_limit]`, when set in the pool.
    #[serde(default)]
    pub memory_limit: Option<FpmSetting>,
}

impl FpmPool {
    pub fn max_children_value(&self) -> Option<u32> {
        self.max_children.as_ref()?.value.trim().parse().ok()
    }
}

/// A recognized line of the PHP-FPM log.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum FpmEventKind {
    /// "server reached pm.max_children setting (N), consider raising it"
    MaxChildrenReached,
    /// "seems busy (you may need to increase pm.start_servers, or pm.min/max_spare_servers)"
    SeemsBusy,
    /// "child N exited on signal 9 (SIGKILL) after S seconds from start"
    ChildKilled,
    /// "child N exited with code C after S seconds from start"
    ChildExited,
    /// "execution timed out (S sec), terminating"
    ExecutionTimedOut,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FpmLogEvent {
    /// `YYYY-MM-DDTHH:MM:SS`, the pool log's local time (from "[22-Nov-2026 03:12:01]").
    #[serde(default)]
    pub time: Option<WallTime>,
    pub pool: String,
    pub kind: FpmEventKind,
    /// The max_children value, the signal number, the exit code, or the timeout seconds.
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub child_pid: Option<u32>,
    #[serde(default)]
    pub script: Option<String>,
    pub line: u64,
    pub text: String,
}

/// Memory of one running FPM child, to size pm.max_children.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct FpmChildMemory {
    pub pool: String,
    pub pid: u32,
    pub rss_kb: u64,
    /// Peak resident size of the child so far (`VmHWM`): what it needed under load.
    #[serde(default)]
    pub hwm_kb: Option<u64>,
}

/// The running PHP-FPM master: how to test its configuration and reload it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct FpmMaster {
    pub pid: u32,
    /// `/proc/<pid>/exe`, e.g. /usr/sbin/php-fpm8.2.
    #[serde(default)]
    pub binary: Option<String>,
    /// Its main configuration file (`php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)`).
    #[serde(default)]
    pub config: Option<String>,
    /// Its systemd unit (from its cgroup), only when systemd is the init system here.
    #[serde(default)]
    pub unit: Option<String>,
}

/// What badgw learned about PHP-FPM.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct PhpFpmFacts {
    /// Main configuration files read (php-fpm.conf and its includes).
    pub files: Vec<String>,
    pub pools: Vec<FpmPool>,
    #[serde(default)]
    pub log_file: Option<String>,
    #[serde(default)]
    pub log_events: Vec<FpmLogEvent>,
    /// RSS of running children, per pool.
    #[serde(default)]
    pub children: Vec<FpmChildMemory>,
    /// MemAvailable + memory the FPM children already use, in kB (/proc/meminfo).
    #[serde(default)]
    pub mem_available_kb: Option<u64>,
    #[serde(default)]
    pub mem_total_kb: Option<u64>,
    /// The `php-fpm8.2.service`-style unit that runs it, when known.
    #[serde(default)]
    pub unit: Option<String>,
    /// The running master processes (one per configuration).
    #[serde(default)]
    pub masters: Vec<FpmMaster>,
}

#[cfg(test)]
mod tests {
    use crate::facts::*;
    use crate::test_support::*;

    /// New sources survive a snapshot round trip, and snapshots written before them still load.
    #[test]
    fn snapshot_round_trip_and_old_snapshots() {
        let mut f = FactsBuilder::route_only("unix:/run/php/php8.2-fpm.sock", "fastcgi").build();
        f.kernel_log = Fact::collected(crate::parse::kernel::parse_kernel_log(
            "dmesg",
            include_bytes!("../../fixtures/host/kernel/real-6.18-memcg-dmesg.txt"),
            &Default::default(),
        ));
        f.pm2 = Fact::collected(
            crate::parse::pm2::parse_pm2_jlist(include_bytes!(
                "../../fixtures/host/pm2-jlist.json"
            ))
            .expect("fixture parses"),
        );
        f.selinux = Fact::unavailable("getenforce", "not installed");
        let json = serde_json::to_string(&f).expect("serializes");
        let back: Facts = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back.kernel_log, f.kernel_log);
        assert_eq!(back.pm2, f.pm2);
        assert_eq!(back.selinux, f.selinux);
        let old: Facts =
            serde_json::from_str(r#"{"schema_version":1,"request":{"site":"a","path":"/"}}"#)
                .expect("old snapshot loads");
        assert!(old.kernel_log.value().is_none());
        assert!(old.systemd.value().is_none());
    }

    #[test]
    fn names_upstream_and_listener_owners() {
        let mut f = FactsBuilder::route_only("127.0.0.1:3000", "http").build();
        assert!(f.names_upstream("PORT=3000"));
        assert!(f.names_upstream("BIND=0.0.0.0:3000"));
        assert!(!f.names_upstream("PORT=30000"));
        f.listeners = Fact::collected(vec![Listener {
            kind: SocketKind::Tcp,
            address: "0.0.0.0:3000".into(),
            port: Some(3000),
            inode: 1,
            pid: Some(48390),
            process: Some("node".into()),
            role: None,
            accept_queue: None,
        }]);
        assert_eq!(
            f.upstream_listener_owners(),
            vec![(48390, "node".to_string())]
        );
    }
}
