//! Check `pool-exhausted`: the app's worker pool or its listen backlog is full.
//!
//! Detects: PHP-FPM's "server reached pm.max_children setting (N)" for the pool nginx
//! targets, and nginx's connect() failed (11: Resource temporarily unavailable) — a unix
//! socket whose accept backlog is full (error-log category `backlog-full`).
//!
//! Why nginx returns 502: when every child is busy, new connections wait in the listen
//! backlog; once that is full the kernel refuses them at once (EAGAIN on unix sockets) and
//! nginx answers 502 (or 504 when they wait past fastcgi_read_timeout).
//!
//! Evidence used: `facts.php_fpm` (pools with file:line, FPM log events, children's RSS,
//! MemAvailable), `facts.error_log` (`backlog-full`), the route's upstream addresses.
//!
//! False positives avoided: max_children warnings of pools that do not serve the route are
//! ignored when the route's pool is known; the suggested pm.max_children is computed from
//! measured memory per child and never exceeds what memory allows.
//!
//! See: docs/causes/pool-exhausted.md.

use super::{Check, Finding, Fix, Severity, Strength, Verdict};
use crate::cause::Cause;
use crate::facts::{Facts, FpmEventKind, FpmPool, PhpFpmFacts};

pub struct PoolExhausted;

impl Check for PoolExhausted {
    fn id(&self) -> &'static str {
        "pool-exhausted"
    }

    fn causes(&self) -> &'static [Cause] {
        &[Cause::PoolExhausted]
    }

    fn run(&self, facts: &Facts) -> Verdict {
        let fpm = facts.php_fpm.value();
        if fpm.is_none() && facts.error_log.value().is_none() {
            return Verdict::skipped(format!(
                "neither PHP-FPM facts ({}) nor an error log ({})",
                facts.php_fpm.get().err().unwrap_or_default(),
                facts.error_log.get().err().unwrap_or_default()
            ));
        }
        let mut found = Vec::new();
        if let Some(fpm) = fpm {
            found.extend(max_children_findings(facts, fpm));
        }
        if let Some(c) = facts.error_category("backlog-full") {
            let pool = fpm.and_then(|f| facts.route_pools(f).into_iter().next());
            let mut f = Finding::new(
                Cause::PoolExhausted,
                Severity::Critical,
                Strength::Direct,
                format!(
                    "the upstream's listen backlog is full ({} refused connections)",
                    c.count
                ),
            );
            for s in &c.samples {
                let file = facts
                    .error_log
                    .value()
                    .map(|w| w.file.as_str())
                    .unwrap_or("error log");
                f = f.evidence(format!("{file}:{}", s.line), s.text.clone());
            }
            if let Some(p) = pool {
                // A full backlog means every child was busy long enough for the queue to
                // fill: the pool's size is the usual culprit, the backlog only the buffer.
                if let Some(mc) = &p.max_children {
                    f = f.evidence(
                        format!("{}:{}", mc.file, mc.line),
                        format!(
                            "pool [{}] has pm.max_children = {}{}",
                            p.name,
                            mc.value,
                            p.pm.as_ref()
                                .map_or(String::new(), |pm| format!(" (pm = {})", pm.value))
                        ),
                    );
                }
                if let Some(b) = &p.listen_backlog {
                    f = f.evidence(
                        format!("{}:{}", b.file, b.line),
                        format!("listen.backlog = {}", b.value),
                    );
                }
                if let Some(fpm) = fpm {
                    f = sizing_fix(f, fpm, p);
                }
                // After the pool's size: its own queue (the pool's own line), then the
                // kernel's cap on it.
                if let Some(fpm) = fpm {
                    f = f.fix(crate::fixes::fpm::backlog_fix(fpm, p, 4096));
                }
            } else {
                f = f.fix(crate::fixes::kernel::somaxconn_fix(4096));
            }
            found.push(f);
        }
        if found.is_empty() {
            let n = fpm.map_or(0, |f| f.log_events.len());
            return Verdict::pass(format!(
                "no pool-full warning ({n} PHP-FPM log events) and no backlog-full error"
            ));
        }
        Verdict::Found(found)
    }
}

fn max_children_findings(facts: &Facts, fpm: &PhpFpmFacts) -> Vec<Finding> {
    let on_route = facts.route_pools(fpm);
    let mut out = Vec::new();
    let pools: Vec<&FpmPool> = if on_route.is_empty() {
        fpm.pools.iter().collect()
    } else {
        on_route.clone()
    };
    let mut names: Vec<&str> = fpm
        .log_events
        .iter()
        .filter(|e| e.kind == FpmEventKind::MaxChildrenReached)
        .map(|e| e.pool.as_str())
        .collect();
    names.dedup();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let pool = pools.iter().find(|p| p.name == name).copied();
        if pool.is_none() && !on_route.is_empty() {
            continue; // another site's pool
        }
        let events: Vec<_> = fpm
            .log_events
            .iter()
            .filter(|e| e.kind == FpmEventKind::MaxChildrenReached && e.pool == name)
            .collect();
        let Some(last) = events.last() else { continue };
        let (severity, strength) = if pool.is_some_and(|p| on_route.contains(&p)) {
            (Severity::Critical, Strength::Direct)
        } else {
            (Severity::Warning, Strength::Strong)
        };
        let limit = last.value.clone().unwrap_or_else(|| "?".into());
        let mut f = Finding::new(
            Cause::PoolExhausted,
            severity,
            strength,
            format!(
                "PHP-FPM pool [{name}] ran out of workers (pm.max_children = {limit}) {} times",
                events.len()
            ),
        );
        let log = fpm.log_file.as_deref().unwrap_or("php-fpm log");
        if let Some(first) = events.first().filter(|e| e.line != last.line) {
            f = f.evidence(format!("{log}:{}", first.line), first.text.clone());
        }
        f = f.evidence(format!("{log}:{}", last.line), last.text.clone());
        if let Some(p) = pool {
            if let Some(mc) = &p.max_children {
                f = f.evidence(
                    format!("{}:{}", mc.file, mc.line),
                    format!("pm.max_children = {}", mc.value),
                );
            }
            f = sizing_fix(f, fpm, p);
        }
        if let Some(t) = fpm
            .log_events
            .iter()
            .find(|e| e.kind == FpmEventKind::ExecutionTimedOut && e.pool == name)
        {
            f = f.evidence(
                format!("{log}:{}", t.line),
                format!("slow requests hold workers: {}", t.text),
            );
        }
        out.push(f);
    }
    out
}

/// Adds the pm.max_children fix, sized from the children's peak memory (src/fixes/sizing.rs).
fn sizing_fix(f: Finding, fpm: &PhpFpmFacts, p: &FpmPool) -> Finding {
    let Some(mc) = &p.max_children else { return f };
    let current = p.max_children_value().unwrap_or(0);
    let children: Vec<_> = fpm.children.iter().filter(|c| c.pool == p.name).collect();
    let rss: Vec<u64> = children.iter().map(|c| c.rss_kb).collect();
    let hwm: Vec<u64> = children.iter().filter_map(|c| c.hwm_kb).collect();
    let sized = fpm.mem_available_kb.and_then(|avail| {
        crate::fixes::sizing::max_children(current, &rss, &hwm, avail, fpm.mem_total_kb)
    });
    let Some(sized) = sized else {
        return f.fix(crate::fixes::fpm::measure_children_fix(p, mc));
    };
    let f = f.evidence("/proc/meminfo, /proc/<pid>/status", sized.formula.clone());
    if sized.value > current {
        let ctl = crate::fixes::fpm::control(fpm, p);
        f.fix(Fix::planned(
            format!(
                "raise pm.max_children of pool [{}] from {current} to {} ({}:{}): {}",
                p.name, sized.value, mc.file, mc.line, sized.formula
            ),
            crate::fixes::fpm::setting_plan(
                &ctl,
                p,
                "pm.max_children",
                Some(mc),
                &sized.value.to_string(),
            ),
        ))
    } else {
        f.fix(crate::fixes::fpm::slow_requests_fix(fpm, p, current))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::*;
    use crate::parse::fpm::{parse_fpm_conf, parse_fpm_log};
    use crate::test_support::*;

    fn fpm_facts() -> PhpFpmFacts {
        let pool = parse_fpm_conf(
            "/etc/php/8.2/fpm/pool.d/www.conf",
            include_bytes!("../../fixtures/host/php-fpm/debian-8.2/pool.d/www.conf"),
        );
        PhpFpmFacts {
            files: vec!["/etc/php/8.2/fpm/php-fpm.conf".into()],
            pools: pool.pools,
            log_file: Some("/var/log/php8.2-fpm.log".into()),
            log_events: parse_fpm_log(include_bytes!("../../fixtures/host/php-fpm/php8.2-fpm.log")),
            children: [61440, 58368, 65536, 62464, 59392]
                .iter()
                .enumerate()
                .map(|(i, &rss_kb)| FpmChildMemory {
                    pool: "www".into(),
                    pid: 23100 + i as u32,
                    rss_kb,
                    hwm_kb: None,
                })
                .collect(),
            mem_available_kb: Some(912_340),
            mem_total_kb: Some(4_014_252),
            unit: None,
            masters: Vec::new(),
        }
    }

    #[test]
    fn max_children_on_route_pool_with_computed_value() {
        let mut f = FactsBuilder::route_only("unix:/run/php/php8.2-fpm.sock", "fastcgi").build();
        f.php_fpm = Fact::collected(fpm_facts());
        let Verdict::Found(found) = PoolExhausted.run(&f) else {
            panic!("expected a finding");
        };
        // The [app] pool's warning is another site's: only [www] is reported.
        assert_eq!(found.len(), 1);
        let x = &found[0];
        assert_eq!(x.severity, Severity::Critical);
        assert_eq!(
            x.title,
            "PHP-FPM pool [www] ran out of workers (pm.max_children = 5) 2 times"
        );
        assert_eq!(x.evidence[0].source, "/var/log/php8.2-fpm.log:4");
        assert_eq!(x.evidence[1].source, "/var/log/php8.2-fpm.log:7");
        assert_eq!(x.evidence[2].source, "/etc/php/8.2/fpm/pool.d/www.conf:113");
        assert!(
            x.evidence[3]
                .text
                .starts_with("(MemAvailable 890 MiB + pool's 5 children 300 MiB − headroom 392 MiB) ÷ largest child now (VmRSS; no peak known) 64 MiB = 12"),
            "{:?}",
            x.evidence[3]
        );
        assert_eq!(
            x.fixes[0].command,
            "sudo sed -i '113s#^\\([[:space:]]*\\).*#\\1pm.max_children = 12#' /etc/php/8.2/fpm/pool.d/www.conf && sudo php-fpm8.2 -t && sudo systemctl reload php8.2-fpm.service"
        );
    }

    #[test]
    fn backlog_full_from_error_log() {
        let mut f = FactsBuilder::route_only("unix:/run/php/php8.2-fpm.sock", "fastcgi").build();
        f.error_log = error_log_with(
            "backlog-full",
            12,
            "2026/11/22 03:12:02",
            "connect() to unix:/run/php/php8.2-fpm.sock failed (11: Resource temporarily unavailable) while connecting to upstream",
        );
        let Verdict::Found(found) = PoolExhausted.run(&f) else {
            panic!("expected a finding");
        };
        assert_eq!(
            found[0].title,
            "the upstream's listen backlog is full (12 refused connections)"
        );
        assert_eq!(found[0].evidence[0].source, "/var/log/nginx/error.log:1832");
    }

    #[test]
    fn pass_and_skip() {
        let mut f = FactsBuilder::route_only("unix:/run/php/php8.2-fpm.sock", "fastcgi").build();
        assert!(matches!(PoolExhausted.run(&f), Verdict::Skipped { .. }));
        let mut quiet = fpm_facts();
        quiet
            .log_events
            .retain(|e| e.kind != FpmEventKind::MaxChildrenReached);
        f.php_fpm = Fact::collected(quiet);
        assert_eq!(
            PoolExhausted.run(&f),
            Verdict::pass("no pool-full warning (4 PHP-FPM log events) and no backlog-full error")
        );
    }
}
