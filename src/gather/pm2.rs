//! PM2 apps: `pm2 jlist` of every running PM2 daemon. `pm2` is only asked when its daemon
//! already runs (asking otherwise would start one).

use std::os::unix::fs::MetadataExt;

use super::command::run_command_env;
use super::runner::Context;
use crate::facts::{Fact, Pm2App};
use crate::parse;

/// PM2 daemons running on this host: (PM2_HOME, user name).
fn pm2_daemons(ctx: &Context) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir(ctx.proc_root()) else {
        return out;
    };
    for e in dir.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(cmd) = std::fs::read(ctx.proc_file(pid, "cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        // "PM2 v7.0.4: God Daemon (/home/deploy/.pm2)"
        if let Some(home) = cmd
            .split_once("God Daemon (")
            .and_then(|(_, r)| r.split(')').next())
        {
            let user = std::fs::metadata(ctx.proc_root().join(pid.to_string()))
                .ok()
                .and_then(|m| nix::unistd::User::from_uid(m.uid().into()).ok().flatten())
                .map(|u| u.name);
            if !out.iter().any(|(h, _)| h == home) {
                out.push((home.to_string(), user));
            }
        }
    }
    out
}

/// Gathers `pm2 jlist` from every running PM2 daemon (never starts one).
pub fn collect(ctx: &Context) -> Fact<Vec<Pm2App>> {
    let daemons = pm2_daemons(ctx);
    if daemons.is_empty() {
        return Fact::unavailable("pm2", "no PM2 daemon is running");
    }
    let mut apps = Vec::new();
    let mut errors = Vec::new();
    for (home, _user) in &daemons {
        match run_command_env("pm2", &["jlist"], &[("PM2_HOME", home)], ctx.timeout) {
            Ok(o) if o.success => match parse::pm2::parse_pm2_jlist(&o.stdout) {
                Ok(mut a) => {
                    for app in &mut a {
                        app.pm2_home.get_or_insert_with(|| home.clone());
                    }
                    apps.extend(a)
                }
                Err(e) => errors.push(e),
            },
            Ok(o) => errors.push(format!("pm2 jlist ({home}): {}", o.stderr_text())),
            Err(e) => errors.push(e),
        }
    }
    if apps.is_empty() && !errors.is_empty() {
        return Fact::unavailable("pm2 jlist", errors.join("; "));
    }
    Fact::collected(apps)
}
