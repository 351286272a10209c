//! Check `selinux-denied`: SELinux denies nginx's TCP connection to the upstream.
//!
//! Detects: SELinux in enforcing mode together with nginx's "(13: Permission denied)" on a
//! TCP upstream (error-log category `permission-denied-tcp`) or an AVC denial of
//! `name_connect` for nginx in the kernel/audit log.
//!
//! Why nginx returns 502: the default policy lets httpd_t connect only to http ports; with
//! `httpd_can_network_connect` off, connect() to e.g. port 3000 fails with EACCES and nginx
//! answers 502 even though the app is up and curl from a shell works.
//!
//! Evidence used: `facts.selinux` (getenforce or /sys/fs/selinux/enforce, the boolean),
//! `facts.error_log`, `facts.kernel_log.avc_denials`.
//!
//! False positives avoided: permissive or disabled SELinux never denies; a (13) on a unix
//! socket belongs to `socket-permission`; enforcing mode alone is not a finding.
//!
//! See: docs/causes/selinux-denied.md.

use super::{Check, Finding, Fix, Severity, Strength, Verdict};
use crate::cause::Cause;
use crate::facts::{Facts, ProcessRole};

pub struct SelinuxDenied;

impl Check for SelinuxDenied {
    fn id(&self) -> &'static str {
        "selinux-denied"
    }

    fn causes(&self) -> &'static [Cause] {
        &[Cause::SelinuxDenied]
    }

    fn run(&self, facts: &Facts) -> Verdict {
        let se = match facts.selinux.get() {
            Ok(s) => s,
            Err(why) => return Verdict::skipped(format!("SELinux state unknown ({why})")),
        };
        if se.mode != "enforcing" {
            return Verdict::pass(format!("SELinux is {} ({})", se.mode, se.source));
        }
        let log_hit = facts.error_category("permission-denied-tcp");
        let ports = facts.upstream_ports();
        let avcs: Vec<_> = facts
            .kernel_log
            .value()
            .map(|k| {
                k.avc_denials
                    .iter()
                    .filter(|a| {
                        a.permissions.iter().any(|p| p == "name_connect")
                            && (a.comm.is_none() || a.role == Some(ProcessRole::Nginx))
                            && (ports.is_empty() || a.dest_port.is_none_or(|p| ports.contains(&p)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if log_hit.is_none() && avcs.is_empty() {
            return Verdict::pass(format!(
                "SELinux is enforcing{}; no denial of nginx's upstream connection seen",
                match se.httpd_can_network_connect {
                    Some(true) => ", httpd_can_network_connect is on",
                    Some(false) => ", httpd_can_network_connect is off",
                    None => "",
                }
            ));
        }
        let strength = if avcs.is_empty() {
            Strength::Strong
        } else {
            Strength::Direct
        };
        let mut f = Finding::new(
            Cause::SelinuxDenied,
            Severity::Critical,
            strength,
            "SELinux (enforcing) denies nginx's connection to the upstream",
        )
        .evidence(se.source.clone(), "Enforcing");
        if se.httpd_can_network_connect == Some(false) {
            f = f.evidence(
                "getsebool httpd_can_network_connect",
                "httpd_can_network_connect --> off",
            );
        }
        if let Some(c) = log_hit {
            let file = facts
                .error_log
                .value()
                .map(|w| w.file.as_str())
                .unwrap_or("error log");
            for s in c.samples.iter().take(2) {
                f = f.evidence(format!("{file}:{}", s.line), s.text.clone());
            }
        }
        for a in avcs.iter().take(2) {
            f = f.evidence(a.origin.to_string(), a.text.clone());
        }
        let f = f
            .fix(Fix::review(
                "allow httpd (nginx) to open network connections, persistently",
                crate::fixes::selinux::allow_network_connect(),
            ))
            .fix(Fix::safe(
                "confirm the denials (audit log)",
                crate::fixes::selinux::denials(),
            ));
        let f = match ports.first() {
            Some(p) => f.fix(Fix::review(
                format!("or, narrower: label port {p} as an http port"),
                crate::fixes::selinux::label_port(*p),
            )),
            None => f,
        };
        Verdict::Found(vec![f])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::*;
    use crate::parse::kernel::{parse_kernel_log, TimeContext};
    use crate::test_support::*;

    fn enforcing() -> Fact<SelinuxState> {
        Fact::collected(SelinuxState {
            mode: "enforcing".into(),
            source: "getenforce".into(),
            httpd_can_network_connect: Some(false),
        })
    }

    #[test]
    fn avc_denial_for_the_upstream_port() {
        let mut f = FactsBuilder::route_only("127.0.0.1:3000", "http").build();
        f.selinux = enforcing();
        f.kernel_log = Fact::collected(parse_kernel_log(
            "/var/log/messages",
            include_bytes!("../../fixtures/host/kernel/messages-4.18-memcg-avc.txt"),
            &TimeContext {
                boot_time: None,
                year: 2026,
                utc_offset_secs: 0,
                now: None,
            },
        ));
        let Verdict::Found(found) = SelinuxDenied.run(&f) else {
            panic!("expected a finding")
        };
        assert_eq!(found[0].strength, Strength::Direct);
        assert!(found[0]
            .evidence
            .iter()
            .any(|e| e.source == "/var/log/messages:10"));
        assert_eq!(
            found[0].fixes[0].command,
            "sudo setsebool -P httpd_can_network_connect 1"
        );
        assert_eq!(
            found[0].fixes[2].command,
            "sudo semanage port -a -t http_port_t -p tcp 3000"
        );
        // The same denial does not concern a route to port 8000.
        let mut g = FactsBuilder::route_only("127.0.0.1:8000", "http").build();
        g.selinux = enforcing();
        g.kernel_log = f.kernel_log.clone();
        assert!(matches!(SelinuxDenied.run(&g), Verdict::Pass { .. }));
    }

    #[test]
    fn error_log_permission_denied_tcp() {
        let mut f = FactsBuilder::route_only("127.0.0.1:3000", "http").build();
        f.selinux = enforcing();
        f.error_log = error_log_with("permission-denied-tcp", 4, "2026/11/22 03:12:02",
            "connect() to 127.0.0.1:3000 failed (13: Permission denied) while connecting to upstream");
        let Verdict::Found(found) = SelinuxDenied.run(&f) else {
            panic!("expected a finding")
        };
        assert_eq!(found[0].strength, Strength::Strong);
    }

    #[test]
    fn pass_and_skip() {
        let mut f = FactsBuilder::route_only("127.0.0.1:3000", "http").build();
        assert!(matches!(SelinuxDenied.run(&f), Verdict::Skipped { .. }));
        f.selinux = Fact::collected(SelinuxState {
            mode: "disabled".into(),
            source: "/sys/fs/selinux".into(),
            httpd_can_network_connect: None,
        });
        assert_eq!(
            SelinuxDenied.run(&f),
            Verdict::pass("SELinux is disabled (/sys/fs/selinux)")
        );
    }
}
