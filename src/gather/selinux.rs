//! SELinux mode (/sys/fs/selinux/enforce, else `getenforce`) and the
//! httpd_can_network_connect boolean.

use super::command::run_command;
use super::runner::Context;
use crate::facts::{Fact, SelinuxState};

/// SELinux mode from /sys/fs/selinux (or `getenforce`), and httpd_can_network_connect.
pub fn collect(ctx: &Context) -> Fact<SelinuxState> {
    let boolean = std::fs::read_to_string("/sys/fs/selinux/booleans/httpd_can_network_connect")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(|v| v == "1"));
    match std::fs::read_to_string("/sys/fs/selinux/enforce") {
        Ok(v) => Fact::collected(SelinuxState {
            mode: if v.trim() == "1" {
                "enforcing"
            } else {
                "permissive"
            }
            .into(),
            source: "/sys/fs/selinux/enforce".into(),
            httpd_can_network_connect: boolean,
        }),
        Err(_) if which::which("getenforce").is_ok() => {
            match run_command("getenforce", &[], ctx.timeout) {
                Ok(o) if o.success => Fact::collected(SelinuxState {
                    mode: String::from_utf8_lossy(&o.stdout)
                        .trim()
                        .to_ascii_lowercase(),
                    source: "getenforce".into(),
                    httpd_can_network_connect: boolean,
                }),
                Ok(o) => Fact::unavailable("getenforce", o.stderr_text()),
                Err(e) => Fact::unavailable("getenforce", e),
            }
        }
        Err(_) => Fact::collected(SelinuxState {
            mode: "disabled".into(),
            source: "/sys/fs/selinux (not mounted)".into(),
            httpd_can_network_connect: None,
        }),
    }
}
