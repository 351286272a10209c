//! Human output of `diagnose` and `route`: the route, the most likely cause first with its
//! evidence and fix commands, then the table of checks. Colors only when asked for.

use std::io::{self, Write};

use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, ContentArrangement, Table};
use owo_colors::OwoColorize;

use super::sanitize::escape_for_terminal as esc;
use crate::checks::{CheckStatus, Safety, Severity};
use crate::facts::Route;
use crate::report::Report;

/// Applies a style only when color is on.
struct Paint {
    on: bool,
}

impl Paint {
    fn bold(&self, s: &str) -> String {
        if self.on {
            s.bold().to_string()
        } else {
            s.to_string()
        }
    }
    fn dim(&self, s: &str) -> String {
        if self.on {
            s.dimmed().to_string()
        } else {
            s.to_string()
        }
    }
    fn red(&self, s: &str) -> String {
        if self.on {
            s.red().bold().to_string()
        } else {
            s.to_string()
        }
    }
    fn yellow(&self, s: &str) -> String {
        if self.on {
            s.yellow().bold().to_string()
        } else {
            s.to_string()
        }
    }
    fn green(&self, s: &str) -> String {
        if self.on {
            s.green().to_string()
        } else {
            s.to_string()
        }
    }
    fn cyan(&self, s: &str) -> String {
        if self.on {
            s.cyan().to_string()
        } else {
            s.to_string()
        }
    }
}

pub fn diagnose(report: &Report, color: bool, out: &mut dyn Write) -> io::Result<()> {
    let p = Paint { on: color };
    let host = report
        .hostname
        .as_deref()
        .map(|h| format!(" on {h}"))
        .unwrap_or_default();
    writeln!(
        out,
        "{}",
        p.bold(&format!(
            "badgw: why {}{} answers 502/504{host}",
            esc(&report.site),
            esc(&report.path)
        ))
    )?;
    if let Some(n) = &report.nginx {
        let pid = n
            .master_pid
            .map(|p| format!("master pid {p}, "))
            .unwrap_or_default();
        writeln!(
            out,
            "{}",
            p.dim(&format!(
                "nginx: {pid}{} ({} file(s); {})",
                n.conf_path,
                n.files,
                esc(&n.discovered_by)
            ))
        )?;
        for i in &n.issues {
            writeln!(
                out,
                "{} {}",
                p.yellow("config problem:"),
                esc(&i.to_string())
            )?;
        }
    }
    writeln!(out)?;
    if let Some(r) = &report.route {
        route_lines(r, &p, out)?;
        for u in &report.upstream_states {
            let mark = if u.ok { p.green("ok") } else { p.red("FAIL") };
            let listener = u.listener.as_deref().unwrap_or("listeners not visible");
            let probe = u
                .probe
                .as_deref()
                .map(|x| format!("; {}", esc(x)))
                .unwrap_or_default();
            writeln!(
                out,
                "    → {} [{mark}] {}{probe}",
                p.bold(&u.address),
                esc(listener)
            )?;
        }
        writeln!(out)?;
    }
    if report.findings.is_empty() {
        let msg = if report.route.is_some() {
            "No problem found: nginx's upstream for this request is up and answers."
        } else {
            "Diagnosis incomplete: no route could be determined (see the notes below)."
        };
        writeln!(out, "{}", p.green(msg))?;
    }
    for (i, f) in report.findings.iter().enumerate() {
        let heading = if i == 0 {
            "Most likely cause"
        } else if f.explained_by.is_some() {
            "Symptom"
        } else {
            "Also found"
        };
        let sev = match f.finding.severity {
            Severity::Critical => p.red("critical"),
            Severity::Warning => p.yellow("warning"),
            Severity::Info => p.dim("info"),
        };
        writeln!(
            out,
            "{} {} — {} ({sev}, {:.0}% sure)",
            p.bold(&format!("{}. {heading}:", i + 1)),
            p.cyan(f.finding.cause.id()),
            esc(&f.finding.title),
            f.confidence_score * 100.0
        )?;
        if let Some(root) = f.explained_by {
            writeln!(out, "   {}", p.dim(&format!("explained by {root} above")))?;
        }
        for e in &f.finding.evidence {
            writeln!(
                out,
                "   {} {}",
                p.dim(&format!("{}:", esc(&e.source))),
                esc(&e.text)
            )?;
        }
        if !f.finding.fixes.is_empty() && f.explained_by.is_none() {
            writeln!(out, "   {}", p.bold("fix:"))?;
            for x in &f.finding.fixes {
                let tag = match x.safety {
                    Safety::Safe => "",
                    Safety::ReviewFirst => " (changes the host: review first)",
                };
                writeln!(out, "   - {}{}", esc(&x.summary), p.dim(tag))?;
                writeln!(out, "       {}", p.bold(&esc(&x.command)))?;
            }
        }
        writeln!(
            out,
            "   {}",
            p.dim(&format!("more: badgw explain {}", f.finding.cause.id()))
        )?;
        writeln!(out)?;
    }
    if !report.timeouts.is_empty() {
        let mut table = new_table(color);
        table.set_header(vec!["hop", "setting", "seconds", "set at"]);
        for t in &report.timeouts {
            table.add_row(vec![
                Cell::new(t.hop),
                Cell::new(esc(&t.setting)),
                Cell::new(t.seconds.map_or("off".to_string(), |s| format!("{s}"))),
                Cell::new(esc(&t.source)),
            ]);
        }
        writeln!(out, "{}", p.bold("Timeouts"))?;
        writeln!(out, "{table}")?;
    }
    let mut table = new_table(color);
    table.set_header(vec!["check", "status", "detail", "ms"]);
    for c in &report.checks {
        let status = match c.status {
            CheckStatus::Pass => p.green("pass"),
            CheckStatus::Fail => p.red("fail"),
            CheckStatus::Warn => p.yellow("warn"),
            CheckStatus::Skipped => p.dim("skipped"),
            CheckStatus::Error => p.red("error"),
        };
        table.add_row(vec![
            Cell::new(c.id),
            Cell::new(status),
            Cell::new(esc(&c.detail)),
            Cell::new(format!("{:.1}", c.duration_ms)),
        ]);
    }
    writeln!(out, "{}", p.bold("Checks"))?;
    writeln!(out, "{table}")?;
    for n in &report.notes {
        writeln!(out, "{} {}", p.dim("note:"), esc(n))?;
    }
    Ok(())
}

fn new_table(color: bool) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if !color {
        table.force_no_tty();
    }
    // Off a terminal the width is unknown: wrap long details at a readable width.
    if table.width().is_none() {
        table.set_width(110);
    }
    table
}

/// The route as `site → server → location → directive target`.
pub fn route_lines(r: &Route, p_on: &impl RoutePaint, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{}", p_on.heading("Route"))?;
    writeln!(
        out,
        "  server   {}:{}  server_name {}  listen {}",
        esc(&r.server.file),
        r.server.line,
        esc(&r.server.server_name.join(" ")),
        esc(&r.server.listen.join(", "))
    )?;
    match &r.location {
        Some(l) => writeln!(
            out,
            "  location {}{}{}  {}:{}",
            l.modifier,
            if l.modifier.is_empty() { "" } else { " " },
            esc(&l.pattern),
            esc(&l.file),
            l.line
        )?,
        None => writeln!(out, "  location (none matches)")?,
    }
    if let (Some(d), Some(t)) = (&r.directive, &r.target) {
        let at = r
            .directive_at
            .as_ref()
            .map(|a| format!("  {}", esc(&a.to_string())))
            .unwrap_or_default();
        writeln!(out, "  {d} {}{at}", esc(t))?;
    } else {
        writeln!(out, "  (served by nginx itself: no *_pass directive)")?;
    }
    if let (Some(g), Some(at)) = (&r.group, &r.group_at) {
        writeln!(out, "  upstream {} {}", esc(g), esc(&at.to_string()))?;
    }
    if let Some(d) = &r.dynamic {
        writeln!(out, "  dynamic target: {}", esc(d))?;
    }
    Ok(())
}

/// Lets `route_lines` be shared by the diagnose and route renderers.
pub trait RoutePaint {
    fn heading(&self, s: &str) -> String;
}

impl RoutePaint for Paint {
    fn heading(&self, s: &str) -> String {
        self.bold(s)
    }
}

/// Human output of `badgw route`.
pub fn route(r: &Route, color: bool, out: &mut dyn Write) -> io::Result<()> {
    let p = Paint { on: color };
    route_lines(r, &p, out)?;
    for u in &r.upstreams {
        let params = if u.params.is_empty() {
            String::new()
        } else {
            format!(" {}", u.params.join(" "))
        };
        let host = u
            .host
            .as_deref()
            .map(|h| format!(" (from {h})"))
            .unwrap_or_default();
        writeln!(
            out,
            "    → {} {}{host}{params}  {}:{}",
            u.kind.as_str(),
            esc(&u.address),
            esc(&u.file),
            u.line
        )?;
    }
    let s = &r.settings;
    let secs = |v: Option<f64>| v.map(|v| format!("{v}s")).unwrap_or_else(|| "-".into());
    writeln!(
        out,
        "  timeouts connect {} · send {} · read {}",
        secs(s.connect_timeout_s),
        secs(s.send_timeout_s),
        secs(s.read_timeout_s)
    )?;
    if let Some(b) = s.buffer_size {
        writeln!(out, "  buffer_size {b} bytes")?;
    }
    if let Some(k) = s.keepalive {
        writeln!(
            out,
            "  upstream keepalive {k} (timeout {})",
            secs(s.keepalive_timeout_s)
        )?;
    }
    for (k, v) in &s.other {
        writeln!(out, "  {k} {}", esc(v))?;
    }
    if let Some(e) = &r.error_log {
        writeln!(out, "  error_log {}", esc(e))?;
    }
    if let Some(a) = &r.access_log {
        match &r.access_log_format {
            Some(f) => writeln!(out, "  access_log {} {}", esc(a), esc(&f.name))?,
            None => writeln!(out, "  access_log {}", esc(a))?,
        }
    }
    for n in &r.notes {
        writeln!(out, "  {} {}", p.dim("note:"), esc(n))?;
    }
    Ok(())
}
