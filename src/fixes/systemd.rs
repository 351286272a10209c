//! systemd unit commands for a unit badgw found (its id from `systemctl show`).

use super::Cmd;

/// Its recent journal.
pub fn journal(unit: &str) -> String {
    format!(
        "sudo journalctl -u {} -n 100 --no-pager",
        super::shell_quote(unit)
    )
}

/// Its unit file (with drop-ins); `path` names the fragment for the reader.
pub fn cat(unit: &str, path: &str) -> String {
    format!("systemctl cat {}  # {path}", super::shell_quote(unit))
}

/// Raise its open-file limit (at runtime where `set-property` allows it, else a drop-in),
/// then restart.
pub fn raise_nofile(unit: &str, n: u32) -> String {
    let u = super::shell_quote(unit);
    format!("sudo systemctl set-property {u} LimitNOFILE={n} 2>/dev/null || sudo systemctl edit {u}  # [Service] LimitNOFILE={n}; then: sudo systemctl restart {u}")
}

pub fn restart(unit: &str) -> String {
    Cmd::root(["systemctl", "restart", unit]).shown()
}

/// After "start request repeated too quickly": clear the limit, then restart.
pub fn reset_failed_restart(unit: &str) -> String {
    format!(
        "{} && {}",
        Cmd::root(["systemctl", "reset-failed", unit]).shown(),
        restart(unit)
    )
}

/// Raise the unit's memory limit at runtime and persistently (`set-property`), then restart.
pub fn memory_max_restart(unit: &str, mib: u64) -> String {
    format!(
        "{} && {}",
        Cmd::root([
            "systemctl".to_string(),
            "set-property".into(),
            unit.to_string(),
            format!("MemoryMax={mib}M")
        ])
        .shown(),
        restart(unit)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn commands() {
        assert_eq!(
            super::reset_failed_restart("billing.service"),
            "sudo systemctl reset-failed billing.service && sudo systemctl restart billing.service"
        );
        assert_eq!(
            super::memory_max_restart("shop-api.service", 768),
            "sudo systemctl set-property shop-api.service MemoryMax=768M && sudo systemctl restart shop-api.service"
        );
    }
}
