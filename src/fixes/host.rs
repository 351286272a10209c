//! Commands as they run on the host the facts describe. `sudo` is printed only where it
//! helps: not when badgw ran as root (the user already is) and not where sudo is not
//! installed (then the commands are to be run as root). Builders write `sudo` through
//! [`super::Cmd`] for every command that needs root; this pass drops it when the host says
//! so, for the printed command and the plan `--fix` shows alike.

use super::Fix;
use crate::facts::Facts;

/// Whether printed commands carry `sudo` on this host (a snapshot without host facts: yes).
pub fn wants_sudo(facts: &Facts) -> bool {
    facts.host.as_ref().is_none_or(|h| h.euid != 0 && h.sudo)
}

/// `cmd` with every `sudo ` that starts a command removed (at the start, after `&&`, `||`,
/// `;`, `|`, `$(`, or after a word such as `then:` in advice).
pub fn without_sudo(cmd: &str) -> String {
    let mut out = String::with_capacity(cmd.len());
    let mut rest = cmd;
    while let Some(i) = rest.find("sudo ") {
        let starts_word = rest[..i]
            .chars()
            .last()
            .is_none_or(|c| c.is_whitespace() || ";&|(".contains(c));
        let (before, after) = rest.split_at(i);
        out.push_str(before);
        if !starts_word {
            out.push_str("sudo ");
        }
        rest = &after["sudo ".len()..];
    }
    out.push_str(rest);
    out
}

/// Adapts `fixes` to the host in `facts`.
pub fn adapt(facts: &Facts, fixes: &mut [Fix]) {
    if wants_sudo(facts) {
        return;
    }
    for f in fixes {
        f.command = without_sudo(&f.command);
        if let Some(p) = &mut f.plan {
            p.test.iter_mut().for_each(|c| c.root = false);
            p.activate.iter_mut().for_each(|c| c.root = false);
            p.without_sudo = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sudo_is_dropped_only_where_a_command_starts() {
        assert_eq!(
            without_sudo("sudo nginx -t && sudo kill -HUP 812; ls | sudo tee x"),
            "nginx -t && kill -HUP 812; ls | tee x"
        );
        assert_eq!(
            without_sudo("# edit it, then: sudo systemctl restart a.service"),
            "# edit it, then: systemctl restart a.service"
        );
        assert_eq!(without_sudo("grep pseudo x"), "grep pseudo x");
        assert_eq!(without_sudo("echo $(sudo id -u)"), "echo $(id -u)");
    }

    #[test]
    fn root_or_no_sudo_prints_no_sudo() {
        let mut facts = Facts::default();
        assert!(wants_sudo(&facts), "an old snapshot keeps sudo");
        facts.host = Some(crate::facts::HostFacts {
            euid: 1000,
            sudo: true,
            ..Default::default()
        });
        assert!(wants_sudo(&facts));
        facts.host.as_mut().unwrap().euid = 0;
        let mut fixes = vec![Fix::safe("x", "sudo ss -ltnp")];
        adapt(&facts, &mut fixes);
        assert_eq!(fixes[0].command, "ss -ltnp");
        facts.host = Some(crate::facts::HostFacts {
            euid: 1000,
            sudo: false,
            ..Default::default()
        });
        assert!(!wants_sudo(&facts));
    }
}
