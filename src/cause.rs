//! Root causes of a 502/504: the stable ids users type and scripts match on.
//!
//! Ids are never renamed (design §2). Each cause has a doc page in `docs/causes/<id>.md`,
//! printed by `badgw explain <id>`, and says which other causes it explains, so ranking can
//! lead with the root and list the symptoms under it.

use serde::{Serialize, Serializer};

macro_rules! causes {
    ($($variant:ident => $id:literal, $title:literal;)*) => {
        /// A root cause of a 502/504 (design §2).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Cause { $($variant),* }

        impl Cause {
            /// Every cause, in the order of the design table.
            pub const ALL: &'static [Cause] = &[$(Cause::$variant),*];

            /// The stable kebab-case id, e.g. "port-mismatch".
            pub fn id(self) -> &'static str {
                match self { $(Cause::$variant => $id),* }
            }

            /// One-line meaning, as in the design table.
            pub fn meaning(self) -> &'static str {
                match self { $(Cause::$variant => $title),* }
            }

            /// The doc page shown by `badgw explain <id>`.
            pub fn doc(self) -> &'static str {
                match self { $(Cause::$variant => include_str!(concat!("../docs/causes/", $id, ".md"))),* }
            }
        }
    };
}

causes! {
    UpstreamDown => "upstream-down", "nothing listens at the address nginx targets; the app is not running";
    PortMismatch => "port-mismatch", "the app runs but listens on another port or interface than nginx targets";
    AddressFamilyMismatch => "address-family-mismatch", "IPv4 vs IPv6: the app and nginx use different address families";
    SocketMissing => "socket-missing", "the unix socket nginx targets does not exist";
    SocketPermission => "socket-permission", "the socket exists but the nginx worker user cannot connect to it";
    SelinuxDenied => "selinux-denied", "SELinux denies nginx's TCP connection to the upstream";
    UpstreamTimeout => "upstream-timeout", "the upstream is slower than nginx's proxy timeouts";
    KeepaliveRace => "keepalive-race", "the upstream closes idle keep-alive connections before nginx stops reusing them";
    PrematureClose => "premature-close", "the upstream closed the connection or crashed mid-request";
    HeaderTooBig => "header-too-big", "the upstream's response headers exceed proxy_buffer_size";
    ProtocolMismatch => "protocol-mismatch", "nginx and the upstream speak different protocols (http/https, HTTP/FastCGI)";
    NoLiveUpstreams => "no-live-upstreams", "every server of the upstream group is marked failed";
    Upstream502 => "upstream-502", "the 502 came from the upstream itself; nginx passed it through";
    OomKilled => "oom-killed", "the kernel's OOM killer killed the upstream process";
    CrashLoop => "crash-loop", "the process manager keeps restarting a failing app";
    PoolExhausted => "pool-exhausted", "the app's worker pool or listen backlog is full";
    FdExhaustion => "fd-exhaustion", "nginx or the app ran out of file descriptors";
    EphemeralPorts => "ephemeral-ports", "no local ports left for new upstream connections";
    DnsResolution => "dns-resolution", "the upstream host name cannot be resolved";
    StaleResolution => "stale-resolution", "nginx still connects to the address an upstream name had when it loaded its configuration; the name now resolves elsewhere";
    WebsocketUpgrade => "websocket-upgrade", "a WebSocket location does not pass the upgrade (headers, HTTP/1.1) or cuts idle sockets at proxy_read_timeout";
    LbKeepaliveRace => "lb-keepalive-race", "a load balancer in front reuses idle connections that nginx has already closed";
    UpstreamTlsVerify => "upstream-tls-verify", "nginx cannot verify the upstream's TLS certificate (proxy_ssl_verify on)";
}

impl Cause {
    /// Looks a cause up by its id.
    pub fn from_id(id: &str) -> Option<Cause> {
        Cause::ALL.iter().copied().find(|c| c.id() == id)
    }

    /// Causes that are symptoms of this one: when both are found, this one is the root.
    /// An OOM kill or a crash loop explains why nothing listens and why every server of a
    /// group is marked failed; a missing listener explains "no live upstreams".
    pub fn explains(self) -> &'static [Cause] {
        use Cause::*;
        match self {
            OomKilled | CrashLoop => {
                &[UpstreamDown, NoLiveUpstreams, PrematureClose, SocketMissing]
            }
            PortMismatch | AddressFamilyMismatch => &[UpstreamDown, NoLiveUpstreams],
            UpstreamDown | SocketMissing | SocketPermission | SelinuxDenied | DnsResolution
            | FdExhaustion | EphemeralPorts | ProtocolMismatch | UpstreamTlsVerify => {
                &[NoLiveUpstreams]
            }
            // Every worker busy: new connections wait in the listen backlog until nginx's
            // connect (TCP) or read timeout fires — the timeouts are its symptom.
            PoolExhausted => &[NoLiveUpstreams, UpstreamTimeout],
            UpstreamTimeout | PrematureClose | HeaderTooBig | KeepaliveRace => &[NoLiveUpstreams],
            // The old address refuses, times out or is unreachable: those are its symptoms.
            StaleResolution => &[UpstreamDown, UpstreamTimeout, NoLiveUpstreams],
            NoLiveUpstreams | Upstream502 | WebsocketUpgrade | LbKeepaliveRace => &[],
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Cause {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for &c in Cause::ALL {
            assert!(seen.insert(c.id()), "duplicate id {}", c.id());
            assert!(
                c.id()
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-'),
                "{} is not kebab-case",
                c.id()
            );
            assert_eq!(Cause::from_id(c.id()), Some(c));
        }
    }

    #[test]
    fn every_doc_page_starts_with_its_id() {
        for &c in Cause::ALL {
            assert!(
                c.doc().starts_with(&format!("# {}", c.id())),
                "docs/causes/{}.md must start with '# {}'",
                c.id(),
                c.id()
            );
        }
    }

    #[test]
    fn no_cause_explains_itself() {
        for &c in Cause::ALL {
            assert!(!c.explains().contains(&c), "{c} explains itself");
        }
    }
}
