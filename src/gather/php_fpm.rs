//! PHP-FPM: the running masters and their configuration files (pools, includes), the
//! FPM log's events, the children's memory and the host's, to size pm.max_children.

use std::path::{Path, PathBuf};

use super::runner::Context;
use super::systemd::{systemd_is_init, unit_of_pid};
use crate::facts::{Fact, FpmChildMemory, PhpFpmFacts};
use crate::parse;

/// The collector: the PHP-FPM masters running here and their configuration.
pub fn collect(ctx: &Context) -> Fact<PhpFpmFacts> {
    gather_php_fpm(ctx, None)
}

/// Gathers PHP-FPM configuration, log and children's memory. `conf` overrides discovery.
fn gather_php_fpm(ctx: &Context, conf: Option<&Path>) -> Fact<PhpFpmFacts> {
    let mut mains: Vec<PathBuf> = conf.map(|c| vec![c.to_path_buf()]).unwrap_or_default();
    let mut masters = Vec::new();
    let mut children = Vec::new();
    if let Ok(dir) = std::fs::read_dir(ctx.proc_root()) {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(cmd) = std::fs::read(ctx.proc_file(pid, "cmdline")) else {
                continue;
            };
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            let cmd = cmd.trim();
            if let Some(r) = cmd.strip_prefix("php-fpm: master process (") {
                masters.push(pid);
                if conf.is_none() {
                    if let Some(p) = r.strip_suffix(')') {
                        mains.push(PathBuf::from(p));
                    }
                }
            } else if let Some(pool) = cmd.strip_prefix("php-fpm: pool ") {
                let status = std::fs::read_to_string(ctx.proc_file(pid, "status")).ok();
                if let Some((rss_kb, hwm_kb)) =
                    status.as_deref().and_then(parse::proc::parse_status_memory)
                {
                    children.push(FpmChildMemory {
                        pool: pool.trim().to_string(),
                        pid,
                        rss_kb,
                        hwm_kb,
                    });
                }
            }
        }
    }
    if mains.is_empty() {
        for pat in [
            "/etc/php/*/fpm/php-fpm.conf",
            "/etc/php-fpm.conf",
            "/usr/local/etc/php-fpm.conf",
        ] {
            mains.extend(glob::glob(pat).into_iter().flatten().flatten());
        }
    }
    if mains.is_empty() {
        return Fact::unavailable(
            "php-fpm",
            "no PHP-FPM configuration found and no master running",
        );
    }
    mains.sort();
    mains.dedup();
    let mut facts = PhpFpmFacts {
        children,
        ..Default::default()
    };
    let mut queue: Vec<PathBuf> = mains;
    let mut seen = Vec::new();
    while let Some(file) = queue.pop() {
        if seen.contains(&file) || seen.len() > 200 {
            continue;
        }
        seen.push(file.clone());
        let Ok(bytes) = super::files::read_all(&file, 4 << 20) else {
            continue;
        };
        let name = file.display().to_string();
        let parsed = parse::fpm::parse_fpm_conf(&name, &bytes);
        for (inc, _) in &parsed.includes {
            let base = file.parent().unwrap_or(Path::new("/"));
            let pattern = if inc.starts_with('/') {
                inc.clone()
            } else {
                base.join(inc).display().to_string()
            };
            let mut found: Vec<PathBuf> = glob::glob(&pattern)
                .into_iter()
                .flatten()
                .flatten()
                .collect();
            found.sort();
            queue.extend(found.into_iter().rev());
        }
        if facts.log_file.is_none() {
            facts.log_file = parsed.error_log.map(|s| s.value);
        }
        facts.pools.extend(parsed.pools);
        facts.files.push(name);
    }
    let log = facts.log_file.clone().or_else(|| {
        glob::glob("/var/log/php*-fpm.log")
            .ok()?
            .flatten()
            .next()
            .map(|p| p.display().to_string())
    });
    if let Some(l) = &log {
        if let Ok(b) = super::files::read_log_tail(Path::new(l)) {
            facts.log_events = parse::fpm::parse_fpm_log(&b);
        }
        facts.log_file = Some(l.clone());
    }
    if let Ok(mi) = std::fs::read_to_string(ctx.proc_path("meminfo")) {
        let (total, avail) = parse::proc::parse_meminfo(&mi);
        facts.mem_total_kb = total;
        facts.mem_available_kb = avail;
    }
    facts.unit = masters.first().and_then(|p| unit_of_pid(ctx, *p));
    facts.masters = masters
        .iter()
        .map(|&pid| {
            let cmd = std::fs::read(ctx.proc_file(pid, "cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            crate::facts::FpmMaster {
                pid,
                binary: std::fs::read_link(ctx.proc_file(pid, "exe"))
                    .ok()
                    .map(|p| p.display().to_string()),
                config: cmd
                    .trim()
                    .strip_prefix("php-fpm: master process (")
                    .and_then(|r| r.strip_suffix(')'))
                    .map(str::to_string),
                unit: unit_of_pid(ctx, pid).filter(|_| systemd_is_init()),
            }
        })
        .collect();
    Fact::collected(facts)
}
