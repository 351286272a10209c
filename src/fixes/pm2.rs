//! PM2 commands for an app badgw found in `pm2 jlist` (by its name).

use super::shell_quote;

/// Its last output.
pub fn logs(name: &str) -> String {
    format!("pm2 logs {} --lines 100 --nostream", shell_quote(name))
}

/// Every app's last output (the app is not known by name).
pub fn logs_all() -> String {
    "pm2 logs --lines 100 --nostream".into()
}

pub fn restart(name: &str) -> String {
    format!("pm2 restart {}", shell_quote(name))
}

/// Cap node's heap at `heap_mb` and restart on `restart_mb` instead of being OOM-killed,
/// saved so a reboot keeps it.
pub fn cap_memory(name: &str, heap_mb: u64, restart_mb: u64) -> String {
    format!(
        "pm2 restart {} --node-args=\"--max-old-space-size={heap_mb}\" --max-memory-restart {restart_mb}M && pm2 save",
        shell_quote(name)
    )
}
