//! Detects: `socket-missing`.
//!
//! Why nginx returns 502: `fastcgi_pass`/`proxy_pass unix:/path` names a socket file that
//! does not exist (the app or PHP-FPM is stopped, or was upgraded and now creates another
//! path, e.g. php8.1-fpm.sock → php8.2-fpm.sock). nginx logs `connect() to unix:/path
//! failed (2: No such file or directory)`.
//!
//! Evidence used: the route's unix upstreams (file:line), a stat of each path, the listening
//! unix sockets of /proc/net/unix (to suggest the path that does exist), and the probe.
//!
//! False positives avoided: a path that exists as a socket passes; one that exists but is
//! not a socket (a stale regular file) is reported as such, not as missing.

use super::evidence::{self, describe_probe};
use super::{Check, Finding, Fix, Severity, Strength, Verdict};
use crate::cause::Cause;
use crate::facts::{Facts, SocketKind};

pub struct SocketExists;

impl Check for SocketExists {
    fn id(&self) -> &'static str {
        "socket-exists"
    }

    fn causes(&self) -> &'static [Cause] {
        &[Cause::SocketMissing]
    }

    fn run(&self, facts: &Facts) -> Verdict {
        let upstreams = match facts.active_upstreams() {
            Ok(u) => u,
            Err(reason) => return Verdict::skipped(reason),
        };
        let unix: Vec<_> = upstreams
            .into_iter()
            .filter(|u| u.kind == SocketKind::Unix)
            .collect();
        if unix.is_empty() {
            return Verdict::skipped("the route has no unix-socket upstream");
        }
        let files = facts.unix_sockets.value();
        let listening: Vec<&str> = facts
            .listeners
            .value()
            .map(|l| {
                l.iter()
                    .filter(|l| l.kind == SocketKind::Unix)
                    .map(|l| l.address.as_str())
                    .collect()
            })
            .unwrap_or_default();
        let mut findings = Vec::new();
        for u in &unix {
            let path = u.address.strip_prefix("unix:").unwrap_or(&u.address);
            let stat = files.and_then(|f| f.iter().find(|s| s.path == path));
            let probe = facts.probe_of(&u.address);
            let enoent =
                probe.and_then(|p| p.error.as_ref()).and_then(|e| e.errno) == Some(libc::ENOENT);
            let (missing, not_socket) = match stat {
                Some(s) => (
                    !s.exists && s.error.is_none(),
                    s.exists && s.file_type.as_deref() != Some("socket"),
                ),
                None => (enoent, false),
            };
            if !missing && !not_socket {
                continue;
            }
            let title = if not_socket {
                format!(
                    "{path} is not a socket (a stale {}): nothing can accept connections there",
                    stat.and_then(|s| s.file_type.clone()).unwrap_or_default()
                )
            } else {
                format!("the socket {path} does not exist: the app behind it is not running")
            };
            let mut f = Finding::new(
                Cause::SocketMissing,
                Severity::Critical,
                if enoent {
                    Strength::Direct
                } else {
                    Strength::Strong
                },
                title,
            )
            .evidence(
                evidence::written_at(u),
                format!("nginx connects to {}", u.address),
            )
            .evidence(
                "file system",
                if not_socket {
                    format!("{path} exists but is not a socket")
                } else {
                    format!("{path}: No such file or directory")
                },
            );
            if let Some(p) = probe {
                f = f.evidence("probe", describe_probe(p));
            }
            let similar = similar_socket(path, &listening);
            if let Some(s) = similar {
                f = f.evidence("/proc/net/unix", format!("a socket does listen at {s}"));
                f = f.fix(Fix::planned(
                    format!("point nginx at {s} (edit {}:{}) and reload", u.file, u.line),
                    crate::fixes::nginx::control(facts).edit_plan(vec![
                        crate::fixes::LineEdit::replace(&u.file, u.line, path, s),
                    ]),
                ));
            }
            let dir = std::path::Path::new(path)
                .parent()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|| "/".into());
            f = f.fix(Fix::safe(
                "see which sockets exist there",
                crate::fixes::inspect::list_dir(&dir),
            ));
            if let Some(version) = &u.php_fpm_version {
                f = f
                    .fix(Fix::safe(
                        "check PHP-FPM and where its pools listen",
                        crate::fixes::inspect::fpm_state(facts, version),
                    ))
                    .fix(Fix::review(
                        "start PHP-FPM, which creates the socket",
                        crate::fixes::app::owner(facts).start_shown_or_fpm(version),
                    ));
            } else {
                f = f.fix(Fix::review(
                    "start the app that creates this socket, then check it answers",
                    format!(
                        "{} && {}",
                        crate::fixes::app::owner(facts).start_shown(),
                        crate::fixes::inspect::curl_command(facts, &u.address)
                    ),
                ));
            }
            findings.push(f);
        }
        if findings.is_empty() {
            Verdict::pass(format!(
                "every unix socket upstream exists ({})",
                unix.len()
            ))
        } else {
            Verdict::Found(findings)
        }
    }
}

/// A listening socket in the same directory whose name shares the missing one's stem
/// (php8.1-fpm.sock → php8.2-fpm.sock), or the only one there.
fn similar_socket<'a>(missing: &str, listening: &[&'a str]) -> Option<&'a str> {
    let p = std::path::Path::new(missing);
    let dir = p.parent()?;
    let stem: String = p
        .file_name()?
        .to_str()?
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    let same_dir: Vec<&str> = listening
        .iter()
        .copied()
        .filter(|l| std::path::Path::new(l).parent() == Some(dir))
        .collect();
    same_dir
        .iter()
        .copied()
        .find(|l| {
            !stem.is_empty()
                && std::path::Path::new(l)
                    .file_name()
                    .and_then(|f| f.to_str())
                    .is_some_and(|f| f.starts_with(&stem))
        })
        .or_else(|| (same_dir.len() == 1).then(|| same_dir[0]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;

    #[test]
    fn missing_php_socket_with_a_newer_version_listening() {
        let mut b = FactsBuilder::proxy("unix:/run/php/php8.1-fpm.sock")
            .socket_file("/run/php/php8.1-fpm.sock", false)
            .listen(SocketKind::Unix, "/run/php/php8.2-fpm.sock", "php-fpm8.2");
        b = b.probe_refused("unix:/run/php/php8.1-fpm.sock");
        let Verdict::Found(f) = SocketExists.run(&b.build()) else {
            panic!("expected a finding")
        };
        assert_eq!(f[0].strength, Strength::Direct);
        assert!(f[0]
            .evidence
            .iter()
            .any(|e| e.text == "a socket does listen at /run/php/php8.2-fpm.sock"));
        assert!(
            f[0].fixes[0]
                .command
                .contains("6s#/run/php/php8\\.1-fpm\\.sock#/run/php/php8.2-fpm.sock#"),
            "{}",
            f[0].fixes[0].command
        );
        assert!(f[0]
            .fixes
            .iter()
            .any(|x| x.command == "sudo systemctl restart php8.1-fpm.service"));
    }

    #[test]
    fn existing_socket_passes_and_tcp_only_routes_skip() {
        let facts = FactsBuilder::proxy("unix:/run/app.sock")
            .socket_file("/run/app.sock", true)
            .build();
        assert!(matches!(SocketExists.run(&facts), Verdict::Pass { .. }));
        let tcp = FactsBuilder::proxy("127.0.0.1:3000").build();
        assert!(matches!(SocketExists.run(&tcp), Verdict::Skipped { .. }));
    }
}
