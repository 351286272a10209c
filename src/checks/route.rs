//! The first step of every diagnosis: which server block, location and upstream serve the
//! request. It reports no cause of its own; it passes with the route, or says why no
//! route could be chosen (the other checks are then skipped for the same reason), and
//! surfaces configuration problems that make the answer uncertain.

use super::{Check, Verdict};
use crate::cause::Cause;
use crate::facts::Facts;

pub struct Route;

impl Check for Route {
    fn id(&self) -> &'static str {
        "route"
    }

    fn causes(&self) -> &'static [Cause] {
        &[]
    }

    fn run(&self, facts: &Facts) -> Verdict {
        let nginx = match facts.nginx.get() {
            Ok(n) => n,
            Err(reason) => return Verdict::skipped(reason),
        };
        let issues = match nginx.issues.len() {
            0 => String::new(),
            n => format!(
                " ({n} configuration problem(s), first: {})",
                nginx.issues[0]
            ),
        };
        let Some(r) = &nginx.route else {
            return Verdict::skipped(format!(
                "{}{issues}",
                nginx.route_error.as_deref().unwrap_or("no route")
            ));
        };
        let location = r
            .location
            .as_ref()
            .map(|l| {
                format!(
                    " → location {}{}{} ({}:{})",
                    l.modifier,
                    if l.modifier.is_empty() { "" } else { " " },
                    l.pattern,
                    l.file,
                    l.line
                )
            })
            .unwrap_or_else(|| " → no location matches".into());
        let target = match (&r.directive, &r.target) {
            (Some(d), Some(t)) => format!(" → {d} {t}"),
            _ => " → served by nginx itself".into(),
        };
        Verdict::pass(format!(
            "server {}:{}{location}{target}{issues}",
            r.server.file, r.server.line
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;

    #[test]
    fn route_detail_and_missing_route() {
        let Verdict::Pass { detail } = Route.run(&FactsBuilder::proxy("127.0.0.1:3000").build())
        else {
            panic!()
        };
        assert_eq!(detail, "server /etc/nginx/sites-enabled/shop:1 → no location matches → proxy_pass 127.0.0.1:3000");
        let Verdict::Skipped { reason } =
            Route.run(&FactsBuilder::no_route("no server for x").build())
        else {
            panic!()
        };
        assert_eq!(reason, "no server for x");
    }
}
