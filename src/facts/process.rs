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
    /// The values of `env_ports` that are a bare port number (`PORT=3000` → 3000), read at
    /// gather time (or when an older snapshot is loaded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_port_numbers: Vec<u16>,
    /// Inodes of the listening sockets it holds.
    #[serde(default)]
    pub listen_inodes: Vec<u64>,
    /// Settings read from its command line once, at gather time (or when an older
    /// snapshot without them is loaded), so checks never parse `cmdline`.
    #[serde(default, skip_serializing_if = "AppArgs::is_empty")]
    pub args: AppArgs,
    /// What it is besides an app server (nginx itself, a non-HTTP daemon), from its name
    /// at gather time (or when an older snapshot is loaded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<ProcessRole>,
}

/// Timeouts an app server takes on its command line, in seconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct AppArgs {
    /// `--timeout N` / `-t N`: gunicorn's worker timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<f64>,
    /// `--keep-alive N`: gunicorn's keep-alive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_alive_s: Option<f64>,
    /// `--timeout-keep-alive N`: uvicorn's keep-alive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_keep_alive_s: Option<f64>,
    /// WebSocket heartbeat settings (`--pingInterval=25000`, `--heartbeat 30`), as named.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub heartbeats: Vec<Heartbeat>,
    /// Ports named by `--port N` / `--port=N`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u16>,
    /// Whether the command line says where to listen at all (`--port…`, `--bind…`, `-b`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub names_listen: bool,
    /// Which app server this is, when badgw recognises it (from the executable name and
    /// command line, decided at gather time so checks never match process names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<AppKind>,
}

/// App servers whose documented defaults badgw knows.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AppKind {
    Node,
    Gunicorn,
    Uvicorn,
    /// A PHP-FPM master or child (`php-fpm8.2`, `php-fpm: pool www`).
    #[serde(rename = "php-fpm")]
    PhpFpm,
}

/// What a process is to badgw when it is not (only) an app server: decided from its name
/// once, where the record naming it is gathered or parsed (process, listener owner, OOM
/// victim, AVC subject), so checks match this type and never process names.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ProcessRole {
    /// nginx itself, master or worker: never the upstream it proxies to.
    Nginx,
    /// A well-known daemon that never is the HTTP app behind nginx: sshd, databases,
    /// caches, mail, DNS, time, container runtimes, logging.
    NotHttp,
}

impl AppArgs {
    pub fn is_empty(&self) -> bool {
        *self == AppArgs::default()
    }
}

/// One heartbeat or ping setting of a WebSocket app.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Heartbeat {
    /// The flag as written, without dashes (`pingInterval`).
    pub name: String,
    pub seconds: f64,
}
