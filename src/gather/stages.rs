//! The stage tables: which collectors run in each stage of `gather::collect`, under which
//! name (`gather[].name` in the JSON), and where each result goes in [`Facts`] — with the
//! `Fact::unavailable` source recorded when the deadline cuts a collector off. Every
//! collector is a function of the [`Context`] in the file of its source; the runner
//! (`runner.rs`) starts a table's collectors in parallel and waits for them in table order.

use super::runner::{Collector, Context};
use super::{
    balancer, kernel_log, limits, liveness, log_window, php_fpm, pm2, probe_targets, proc_scan,
    selinux, site_upstreams, socket_access, supervisord, systemd, tls_cert, upstream_names,
    websocket, worker_connections,
};
use crate::facts::{Fact, Facts};

/// `"name" => collector => field, "source";` — a collector whose result is the `Fact` in
/// `facts.field`; late, `facts.field` is `Fact::unavailable(source, the deadline's reason)`.
/// `=> field + notes` takes a `(Fact, notes)` pair and appends the notes to `facts.notes`.
macro_rules! collectors {
    (@one $name:expr => $run:expr => $field:ident + notes, $source:expr) => {
        Collector::new(
            $name,
            $run,
            |f: &mut Facts, (v, notes)| {
                f.$field = v;
                f.notes.extend(notes);
            },
            |f: &mut Facts, why: &str| f.$field = Fact::unavailable($source, why),
        )
    };
    (@one $name:expr => $run:expr => $field:ident, $source:expr) => {
        Collector::new(
            $name,
            $run,
            |f: &mut Facts, v| f.$field = v,
            |f: &mut Facts, why: &str| f.$field = Fact::unavailable($source, why),
        )
    };
    ($( $name:expr => $run:expr => $field:ident $(+ $notes:ident)?, $source:expr; )*) => {
        vec![$( collectors!(@one $name => $run => $field $(+ $notes)?, $source) ),*]
    };
}

/// A collector whose result only refines what is already in the facts: late, nothing is
/// recorded but its `gather[]` status.
fn refining<T: Send + 'static>(
    name: &str,
    run: fn(&Context) -> T,
    store: fn(&mut Facts, T),
) -> Collector {
    Collector::new(name, run, store, |_: &mut Facts, _: &str| {})
}

/// Stage 2, first: the listening sockets and their processes (the "why is it gone"
/// collectors need their owners).
pub fn listeners() -> Vec<Collector> {
    vec![Collector::new(
        "listeners",
        proc_scan::collect,
        proc_scan::store,
        proc_scan::late,
    )]
}

/// Stage 2, the slow reads: a probe of every upstream address, the logs, the WebSocket
/// locations, the balancer in front.
pub fn reads(ctx: &Context) -> Vec<Collector> {
    let mut v = probe_targets::collectors(ctx);
    v.extend(collectors! {
        "error log" => log_window::error_log => error_log + notes, "error log";
        "access log" => log_window::access_log => access_log + notes, "access log";
        "websocket" => websocket::collect => websocket, "websocket locations";
        "load balancer" => balancer::collect => balancer, "load balancer";
        "upstream certificates" => tls_cert::collect => upstream_tls, "upstream certificates";
    });
    v
}

/// Stage 2, nginx's names and sockets (into `facts.view`): what its resolver answers for
/// the upstream names now, and its workers' connections to them.
pub fn names(ctx: &Context) -> Vec<Collector> {
    let mut v = vec![refining(
        "upstream names",
        upstream_names::collect,
        upstream_names::store,
    )];
    if worker_connections::wanted(ctx) {
        v.push(refining(
            "nginx's upstream connections",
            worker_connections::collect,
            worker_connections::store,
        ));
    }
    v
}

/// Stage 2, site-wide: each site upstream's own slice of the error log.
pub fn site_slices(ctx: &Context) -> Vec<Collector> {
    if ctx.target.site_upstreams.is_empty() {
        return Vec::new();
    }
    vec![refining(
        "error log per upstream",
        site_upstreams::error_log_slices,
        site_upstreams::store_slices,
    )]
}

/// Stage 3: who should serve the upstreams and why they are gone — process managers, the
/// kernel's OOM killer, limits, socket permissions, SELinux.
pub fn why_gone() -> Vec<Collector> {
    collectors! {
        "kernel log" => kernel_log::collect => kernel_log, "kernel log";
        "systemd" => systemd::collect => systemd, "systemd";
        "pm2" => pm2::collect => pm2, "pm2";
        "php-fpm" => php_fpm::collect => php_fpm, "php-fpm";
        "supervisord" => supervisord::collect => supervisord, "supervisord";
        "selinux" => selinux::collect => selinux, "selinux";
        "liveness" => liveness::collect => liveness, "liveness";
        "process limits" => limits::collect => process_limits, "/proc limits";
        "socket permissions" => socket_access::collect => socket_access, "socket permissions";
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn names(list: Vec<Collector>) -> Vec<String> {
        list.iter().map(|c| c.name().to_string()).collect()
    }

    /// Whether `had` appear in `now`, in the same order (new collectors may join).
    fn keeps(now: &[String], had: &[&str]) -> bool {
        let mut it = now.iter();
        had.iter().all(|h| it.any(|n| n == h))
    }

    /// `gather[].name` is part of the JSON: the tables keep the names (and the order) it
    /// always had; a new collector only adds its own (additive).
    #[test]
    fn tables_keep_the_gather_names() {
        let ctx = Context::at("/proc", Duration::from_secs(1));
        assert_eq!(names(listeners()), ["listeners"]);
        let reads = names(reads(&ctx));
        let had = ["error log", "access log", "websocket", "load balancer"];
        assert!(keeps(&reads, &had), "{reads:?}");
        assert_eq!(names(super::names(&ctx)), ["upstream names"]);
        assert!(site_slices(&ctx).is_empty());
        let why = names(why_gone());
        let had = [
            "kernel log",
            "systemd",
            "pm2",
            "php-fpm",
            "supervisord",
            "selinux",
            "liveness",
            "process limits",
            "socket permissions",
        ];
        assert!(keeps(&why, &had), "{why:?}");
        assert!(!keeps(&why, &["systemd", "kernel log"]), "order is checked");
    }

    /// A late collector leaves its fact unavailable with the deadline's reason, under the
    /// source the table names.
    #[test]
    fn late_collectors_are_recorded_with_their_source() {
        let mut facts = Facts::new(Default::default());
        let mut clock = super::super::runner::Clock::new(Duration::ZERO);
        let slow = |_: &Context| -> Fact<crate::facts::SelinuxState> {
            std::thread::sleep(Duration::from_secs(5));
            Fact::unavailable("x", "never")
        };
        let table = collectors! { "selinux" => slow => selinux, "selinux"; };
        let ctx = Context::at("/proc", Duration::from_secs(1));
        super::super::runner::start(&ctx, table).finish(&mut clock, &mut facts);
        match &facts.selinux {
            Fact::Unavailable { source, reason } => {
                assert_eq!(source, "selinux");
                assert!(reason.starts_with("deadline"), "{reason}");
            }
            other => panic!("expected unavailable, got {other:?}"),
        }
        assert_eq!(clock.log[0].name, "selinux");
        assert_eq!(clock.log[0].status, crate::facts::GatherStatus::Deadline);
    }
}
