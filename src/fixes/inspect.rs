//! Read-only commands that look at the host (the `safe` fixes): what listens, what runs,
//! recent errors, the app's answer. Each is built for the host the facts describe, so it
//! runs as printed there: `systemctl`/`journalctl` only where systemd is the init system,
//! `supervisorctl` for a running supervisord, and otherwise the tools every Linux host has
//! (`ps`, `dmesg`, `ss`).

use super::{shell_quote, Cmd};
use crate::facts::Facts;

/// Whether systemd runs this host (a snapshot without host facts: assumed, as before).
pub fn systemd_here(facts: &Facts) -> bool {
    facts.host.as_ref().is_none_or(|h| h.systemd_init)
}

/// The system's recent error messages matching `pattern` (an extended regex, or all):
/// the journal where systemd runs, else the kernel's ring buffer (crashes and kills are
/// there), last `lines`.
pub fn recent_errors(facts: &Facts, pattern: Option<&str>, lines: u32) -> String {
    let filter = pattern
        .map(|p| format!(" | grep -iE {}", shell_quote(p)))
        .unwrap_or_default();
    if systemd_here(facts) {
        let prio = if pattern.is_none() { " -p err" } else { "" };
        format!("sudo journalctl{prio} --since -1h --no-pager{filter} | tail -n {lines}")
    } else {
        let filter = if filter.is_empty() {
            " | grep -iE 'error|killed|segfault|oom'".to_string()
        } else {
            filter
        };
        format!("sudo dmesg -T{filter} | tail -n {lines}")
    }
}

/// What could have run the app and why it stopped: failed units where systemd runs; the
/// programs of each running supervisord; else the newest processes and the kernel's kills.
pub fn find_app(facts: &Facts) -> String {
    if systemd_here(facts) {
        return format!(
            "systemctl list-units --type=service --state=failed --no-pager; {}",
            recent_errors(facts, None, 50)
        );
    }
    let sups: Vec<String> = facts
        .supervisord
        .value()
        .into_iter()
        .flat_map(|s| &s.instances)
        .filter(|s| !s.config.is_empty())
        .map(|s| Cmd::root(["supervisorctl", "-c", s.config.as_str(), "status"]).shown())
        .collect();
    if !sups.is_empty() {
        return sups.join("; ");
    }
    format!(
        "ps -eo pid,ppid,user,lstart,args --sort=-start_time | head -n 20; {}",
        recent_errors(facts, Some("killed process|segfault|oom"), 20)
    )
}

/// `ss` listing TCP listeners on `port`, then all, as root (`enter`: an `nsenter` prefix
/// for another network namespace, with its own `sudo`).
pub fn listeners_on_port(enter: Option<u32>, port: &str) -> String {
    let pre = match enter {
        Some(pid) => format!("sudo nsenter -t {pid} -n "),
        None => "sudo ".to_string(),
    };
    format!("{pre}ss -ltnp 'sport = :{port}'; {pre}ss -ltnp")
}

/// [`listeners_on_port`] inside a named network namespace (`ip netns add NAME`).
pub fn listeners_in_named_netns(name: &str, port: &str) -> String {
    let pre = format!("sudo ip netns exec {} ", shell_quote(name));
    format!("{pre}ss -ltnp 'sport = :{port}'; {pre}ss -ltnp")
}

/// Every TCP listener with its process.
pub fn listeners() -> String {
    "sudo ss -ltnp".into()
}

/// The unix sockets in `dir`.
pub fn list_dir(dir: &str) -> String {
    format!("ls -l {}", shell_quote(dir))
}

/// PHP-FPM `version`'s state and where its pools listen: its unit where systemd runs, else
/// its processes; the pool files of the facts when known, else Debian's directory.
pub fn fpm_state(facts: &Facts, version: &str) -> String {
    let state = if systemd_here(facts) {
        format!("systemctl status php{version}-fpm --no-pager")
    } else {
        "pgrep -a php-fpm".to_string()
    };
    // The pools that serve the route (other masters' pools are not this site's).
    let mut files: Vec<String> = facts
        .php_fpm
        .value()
        .map(|f| facts.route_pools(f))
        .into_iter()
        .flatten()
        .map(|p| p.file.clone())
        .collect();
    files.sort();
    files.dedup();
    let files = if files.is_empty() {
        format!("/etc/php/{version}/fpm/pool.d/")
    } else {
        files
            .iter()
            .map(|f| shell_quote(f))
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!("{state}; grep -rn '^listen' {files}")
}

/// A request to `address` (host:port or `unix:PATH`) as nginx sends it: `Host` and URI.
pub fn curl_status(address: &str, host: &str, uri: &str) -> String {
    match address.strip_prefix("unix:") {
        Some(path) => format!(
            "curl -sS -o /dev/null -w '%{{http_code}}\\n' --unix-socket {} -H {} {}",
            shell_quote(path),
            shell_quote(&format!("Host: {host}")),
            shell_quote(&format!("http://localhost{uri}"))
        ),
        None => format!(
            "curl -sS -o /dev/null -w '%{{http_code}}\\n' -H {} {}",
            shell_quote(&format!("Host: {host}")),
            shell_quote(&format!("http://{address}{uri}"))
        ),
    }
}

/// The `curl` that shows what the upstream answers, the way nginx asks it.
pub fn curl_command(facts: &crate::facts::Facts, address: &str) -> String {
    let r = facts.route().ok();
    let host = r
        .and_then(|r| r.settings.host_header.clone())
        .unwrap_or_else(|| facts.request.site.clone());
    let uri = r
        .and_then(|r| r.upstream_uri.clone())
        .unwrap_or_else(|| facts.request.path.clone());
    curl_status(address, &host, &uri)
}

/// TCP listeners on `port`, with their processes.
pub fn listener_on_port(port: u16) -> String {
    format!("sudo ss -ltnp 'sport = :{port}'")
}

/// Lines of the logs under /var/log that carry request id `id`.
pub fn grep_logs_for(id: &str) -> String {
    format!("grep -r {} /var/log/ 2>/dev/null | head", shell_quote(id))
}

/// The last 5xx answers of an access log (`combined`: the status is field 9).
pub fn access_log_5xx(file: &str, combined: bool) -> String {
    if combined {
        format!(
            "awk '$9 ~ /^50[234]$/' {} | tail -20  # then the app's log at those times",
            shell_quote(file)
        )
    } else {
        format!(
            "grep -n ' 50[234] ' {} | tail -20  # then the app's log at those times",
            shell_quote(file)
        )
    }
}

/// The app's answer to the request, asked directly the way nginx does (status and headers).
pub fn ask_app(address: &str, host: &str, path: &str) -> String {
    format!(
        "curl -sS -i -H {} {} | head -20",
        shell_quote(&format!("Host: {host}")),
        shell_quote(&format!("http://{address}{path}"))
    )
}

/// Time to the first byte of the app's answer (bounded at 120 s).
pub fn ttfb(address: &str, host: &str, path: &str) -> String {
    format!(
        "curl -sS -o /dev/null -w 'ttfb %{{time_starttransfer}}s\\n' -m 120 -H {} {}",
        shell_quote(&format!("Host: {host}")),
        shell_quote(&format!("http://{address}{path}"))
    )
}

/// Firewall rules and connections stuck in SYN-SENT to `port` (a black hole).
pub fn syn_sent(port: u16) -> String {
    format!("sudo iptables -S | head -30; sudo ss -tn state syn-sent '( dport = :{port} )'")
}

/// What a process's threads are doing (kernel stacks) and how many there are.
pub fn threads_of(pid: u32) -> String {
    format!("sudo cat /proc/{pid}/stack; sudo ls -l /proc/{pid}/task | wc -l")
}

/// The kinds of a process's open descriptors, most frequent first (a leak shows).
pub fn fd_kinds(pid: u32) -> String {
    format!("sudo ls -l /proc/{pid}/fd | awk '{{print $NF}}' | sed 's/[0-9]*]$//' | sort | uniq -c | sort -rn | head")
}

/// The processes using the most memory now.
pub fn top_memory() -> String {
    "ps -eo pid,user,rss,comm --sort=-rss | head -15".into()
}

/// The newest processes (a process manager restarting an app shows as its parent).
pub fn newest_processes() -> String {
    "ps -eo pid,ppid,etimes,cmd --sort=etimes | head -20".into()
}

/// The children of `ppid`.
pub fn children_of(ppid: u32) -> String {
    format!("ps -o pid,ppid,etimes,cmd --ppid {ppid}")
}

/// Each running supervisord's programs (its own configuration), or supervisord's default.
pub fn supervisor_status(facts: &Facts) -> String {
    let sups: Vec<String> = facts
        .supervisord
        .value()
        .into_iter()
        .flat_map(|s| &s.instances)
        .filter(|s| !s.config.is_empty())
        .map(|s| Cmd::root(["supervisorctl", "-c", s.config.as_str(), "status"]).shown())
        .collect();
    if sups.is_empty() {
        "sudo supervisorctl status".into()
    } else {
        sups.join("; ")
    }
}

/// The ownership and mode of every directory on the way to `path`.
pub fn path_modes(path: &str) -> String {
    format!("namei -l {}", shell_quote(path))
}

/// A file's last `n` lines.
pub fn tail(file: &str, n: u32) -> String {
    format!("tail -n {n} {}", shell_quote(file))
}

/// Where PHP-FPM pools listen (Debian's and Red Hat's pool directories) and its sockets.
pub fn fpm_listens() -> String {
    "grep -rn '^listen' /etc/php/*/fpm/pool.d/ 2>/dev/null; ss -lxp | grep -i fpm".into()
}

/// PHP-FPM's children limits and PHP's memory_limit in the usual pool files.
pub fn fpm_memory_settings() -> String {
    "sudo grep -Hn 'pm.max_children\\|memory_limit' /etc/php/*/fpm/pool.d/*.conf /etc/php-fpm.d/*.conf".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_over_unix_socket() {
        let mut f = crate::facts::Facts::new(crate::facts::RequestSpec {
            site: "shop.test".into(),
            path: "/x".into(),
            ..Default::default()
        });
        f.nginx = crate::facts::Fact::unavailable("n", "r");
        assert_eq!(
            curl_command(&f, "unix:/run/app.sock"),
            "curl -sS -o /dev/null -w '%{http_code}\\n' --unix-socket /run/app.sock -H 'Host: shop.test' http://localhost/x"
        );
    }
    use crate::facts::HostFacts;

    #[test]
    fn no_systemctl_where_systemd_is_not_init() {
        let mut facts = Facts::default();
        assert!(find_app(&facts).starts_with("systemctl list-units"));
        facts.host = Some(HostFacts::default());
        let cmd = find_app(&facts);
        assert!(
            !cmd.contains("systemctl") && !cmd.contains("journalctl"),
            "{cmd}"
        );
        assert!(cmd.starts_with("ps -eo"), "{cmd}");
        assert_eq!(
            fpm_state(&facts, "8.2"),
            "pgrep -a php-fpm; grep -rn '^listen' /etc/php/8.2/fpm/pool.d/"
        );
    }
}
