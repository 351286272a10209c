//! Evidence text the checks share: a probe result, a process, where an upstream address is
//! written. Plain text only — escaping for a terminal happens in `render/`.

use crate::facts::*;

/// A probe result as one line of evidence.
pub fn describe_probe(p: &ProbeResult) -> String {
    if let Some(e) = &p.error {
        let errno = e.errno.map(|n| format!("{n}: ")).unwrap_or_default();
        let phase = match p.phase {
            ProbePhase::Connect => "connect()",
            ProbePhase::Send => "send()",
            ProbePhase::ReadHeader => "reading the response header",
            ProbePhase::Done => "probe",
        };
        return format!("{phase} to {} failed ({errno}{})", p.address, e.message);
    }
    match (&p.status_line, &p.note) {
        (Some(s), None) => format!(
            "{} answered `{s}` in {} ms",
            p.address,
            p.ttfb_ms
                .map(|t| format!("{t:.0}"))
                .unwrap_or_else(|| "?".into())
        ),
        (_, Some(n)) => format!("{}: {n}", p.address),
        (None, None) => format!("{}: connected", p.address),
    }
}

/// Where the address is written in the config, as evidence text.
pub fn written_at(u: &UpstreamAddr) -> String {
    format!("{}:{}", u.file, u.line)
}

/// The address as written in the config (`localhost:3000`), for `sed` fixes.
pub fn as_written(u: &UpstreamAddr) -> String {
    match (&u.host, u.socket_addr()) {
        (Some(h), Some(a)) => format!("{h}:{}", a.port()),
        _ => u.address.clone(),
    }
}

/// A process line for evidence: `node (pid 4242, user app): node server.js --port 3001`.
pub fn describe_process(p: &ProcInfo) -> String {
    let user = p
        .user
        .as_deref()
        .map(|u| format!(", user {u}"))
        .unwrap_or_default();
    let cmd = if p.cmdline.is_empty() {
        &p.comm
    } else {
        &p.cmdline
    };
    let cmd: String = cmd.chars().take(160).collect();
    format!("{} (pid {}{user}): {cmd}", p.comm, p.pid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::upstream;

    #[test]
    fn address_as_written_keeps_the_host_name() {
        let mut u = upstream("127.0.0.1:3000", 6);
        assert_eq!(as_written(&u), "127.0.0.1:3000");
        u.host = Some("localhost".into());
        assert_eq!(as_written(&u), "localhost:3000");
        assert_eq!(written_at(&u), "/etc/nginx/sites-enabled/shop:6");
    }
}
