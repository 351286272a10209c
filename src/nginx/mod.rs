//! nginx configuration: parsing (with includes and `nginx -T` dumps), server and location
//! selection by nginx's own rules, upstream resolution and effective settings. Pure except
//! for reading the configuration files themselves; host name resolution is injected.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::facts::{ConfigIssue, OtherTarget, RequestSpec, Route};

/// Where to read the configuration from.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Main configuration file (`-c`).
    pub conf_path: PathBuf,
    /// Prefix (`-p`), against which relative include paths resolve.
    pub prefix: Option<PathBuf>,
    /// Text of `nginx -T`, used instead of the files when given.
    pub dump: Option<String>,
}

/// Resolves a host name the way the OS resolver does (`localhost` → ::1 and 127.0.0.1).
pub type Resolver<'a> = &'a dyn Fn(&str, u16) -> Vec<SocketAddr>;

/// A loaded configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    files: Vec<String>,
    issues: Vec<ConfigIssue>,
}

impl Config {
    /// Every file read, in the order nginx reads them.
    pub fn files(&self) -> Vec<String> {
        self.files.clone()
    }
    /// Syntax errors and unresolved includes, each with file:line.
    pub fn issues(&self) -> Vec<ConfigIssue> {
        self.issues.clone()
    }
    /// The `user` directive's arguments joined by a space, when present.
    pub fn user(&self) -> Option<String> {
        None
    }
    /// Every address nginx listens on, e.g. "0.0.0.0:80", "[::]:443".
    pub fn listens(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Reads and parses the configuration; an unreadable main file is an error, anything
/// else (syntax errors, missing includes) is recorded in `Config::issues`.
pub fn load(opts: &LoadOptions) -> anyhow::Result<Config> {
    anyhow::bail!(
        "reading {}: the configuration parser is not built yet",
        opts.conf_path.display()
    )
}

/// Selects the server block, location and upstream for a request.
pub fn route(_config: &Config, _req: &RequestSpec, _resolve: Resolver) -> Result<Route, String> {
    Err("the configuration parser is not built yet".into())
}

/// Upstream addresses that other server blocks target.
pub fn other_targets(_config: &Config, _selected: &Route, _resolve: Resolver) -> Vec<OtherTarget> {
    Vec::new()
}
