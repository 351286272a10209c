//! The recent window of the error log that serves the selected site, classified.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::WallTime;

/// One classified upstream failure from the error log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LogEvidence {
    /// 1-based line number in `file`.
    pub line: u64,
    /// Category id from the explain-log vocabulary (design §3), e.g. "upstream-refused".
    pub category: String,
    #[serde(default)]
    pub time: Option<WallTime>,
    #[serde(default)]
    pub upstream: Option<String>,
    /// `upstream` without its scheme, as nginx named the peer: `172.18.0.4:3000`,
    /// `[::1]:9000`, `unix:/run/php.sock` (a DNS failure's host name as logged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_peer: Option<String>,
    /// `upstream_peer` as a socket address, when it is one (TCP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_addr: Option<SocketAddr>,
    #[serde(default)]
    pub server: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    /// The log line as logged (query strings removed), for evidence.
    pub text: String,
}

impl LogEvidence {
    /// Whether this record names `u` as the upstream it failed on: the same TCP address
    /// (typed, so `127.0.0.1:30` is not `127.0.0.1:3000`), or the same unix socket (nginx
    /// writes `unix:PATH:` and then the URI).
    pub fn names_upstream(&self, u: &super::UpstreamAddr) -> bool {
        match (self.upstream_addr, u.socket_addr()) {
            (Some(logged), Some(route)) => logged == route,
            (None, None) => self
                .upstream_peer
                .as_deref()
                .and_then(|p| p.strip_prefix(u.address.as_str()))
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(':')),
            _ => false,
        }
    }
}

/// Per-category count in the window.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LogCategoryCount {
    pub category: String,
    pub count: u64,
    #[serde(default)]
    pub first_seen: Option<WallTime>,
    #[serde(default)]
    pub last_seen: Option<WallTime>,
    /// The first and the last matching lines (at most a few), for evidence.
    pub samples: Vec<LogEvidence>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ErrorLogWindow {
    pub file: String,
    /// Start of the window, in the log's local time (`YYYY-MM-DDTHH:MM:SS`).
    #[serde(default)]
    pub since: Option<WallTime>,
    pub lines_read: u64,
    /// Events that concern the selected site or its upstream addresses.
    pub categories: Vec<LogCategoryCount>,
    /// Upstream failures in the window that belong to other sites (not evidence here).
    #[serde(default)]
    pub other_sites_events: u64,
    /// `upstream server temporarily disabled` notes of the site, per server: where
    /// max_fails tripped, the step before "no live upstreams".
    #[serde(default)]
    pub disabled: Vec<DisabledServer>,
    /// The site's failure lines per minute and category, in time order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub minutes: Vec<ErrorMinute>,
    /// nginx's own starts, reloads and stops, from its `[notice]` lines (present when
    /// the error log's level is `notice` or lower).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nginx_events: Vec<NginxLogEvent>,
}

/// Failure lines of one category in one minute (`minute`: `YYYY-MM-DDTHH:MM`, the log's
/// local time).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ErrorMinute {
    pub minute: String,
    pub category: String,
    pub count: u64,
}

/// One lifecycle notice of nginx: `signal-sent` (`nginx -s …` ran), `reconfiguring` (the
/// master got SIGHUP), `workers-started`, `shutting-down`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct NginxLogEvent {
    pub line: u64,
    #[serde(default)]
    pub time: Option<WallTime>,
    pub kind: String,
}

/// One upstream server nginx marked failed (max_fails reached within fail_timeout).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DisabledServer {
    /// The server as nginx names it in the line's `upstream:` field.
    pub upstream: String,
    pub count: u64,
    /// 1-based line of the first note.
    pub first_line: u64,
    #[serde(default)]
    pub first_seen: Option<WallTime>,
    #[serde(default)]
    pub last_seen: Option<WallTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logged(key: &str) -> LogEvidence {
        LogEvidence {
            line: 1,
            category: "upstream-refused".into(),
            time: None,
            upstream: Some(key.into()),
            upstream_peer: Some(crate::logs::upstream_peer(key).into()),
            upstream_addr: crate::logs::upstream_addr(key),
            server: None,
            host: None,
            text: String::new(),
        }
    }

    fn route(address: &str) -> super::super::UpstreamAddr {
        crate::test_support::upstream(address, 1)
    }

    /// A record names its upstream exactly: a port that only starts the same (`:30` vs
    /// `:3000`) is another upstream; a unix socket is named up to its `:` before the URI.
    #[test]
    fn a_record_names_its_upstream_exactly() {
        let e = logged("http://127.0.0.1:3000/api/x");
        assert!(e.names_upstream(&route("127.0.0.1:3000")));
        assert!(!e.names_upstream(&route("127.0.0.1:30")));
        assert!(!logged("http://127.0.0.1:30/").names_upstream(&route("127.0.0.1:3000")));
        assert!(logged("fastcgi://[::1]:9000").names_upstream(&route("[::1]:9000")));
        let fpm = logged("fastcgi://unix:/run/php/php8.2-fpm.sock:");
        assert!(fpm.names_upstream(&route("unix:/run/php/php8.2-fpm.sock")));
        assert!(!fpm.names_upstream(&route("unix:/run/php/php8.2-fpm.so")));
        assert!(logged("http://unix:/tmp/app.sock:/health")
            .names_upstream(&route("unix:/tmp/app.sock")));
        assert!(!logged("http://api.internal:3000/").names_upstream(&route("127.0.0.1:3000")));
    }
}
