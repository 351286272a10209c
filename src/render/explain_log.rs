//! The human `explain-log` report: header, category table, per-category explanation and
//! fixes, the failures-per-minute chart, and with `--events` one line per event. Every
//! value was decided by `report::explain_log`; this only formats, and escapes each text
//! that came from the log (clients choose request lines, hosts, referrers).

use std::io::{self, Write};

use owo_colors::OwoColorize;

use super::sanitize::escape_for_terminal as esc;
use crate::logs::explain::LogFix;
use crate::report::explain_log::{AddressCount, Chart};
use crate::report::{LbLogReport, LogReport};

fn paint(s: &str, color: bool, f: impl Fn(&str) -> String) -> String {
    if color {
        f(s)
    } else {
        s.to_string()
    }
}

fn counted(a: &AddressCount) -> String {
    format!("{} ({})", esc(&a.address), a.count)
}

fn table(top_header: &str) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(vec![
        "category",
        "count",
        "status",
        "first seen",
        "last seen",
        top_header,
    ]);
    table
}

fn fix(f: &LogFix, color: bool, out: &mut dyn Write) -> io::Result<()> {
    // Advice is not a command: do not dress it as one.
    let mark = if f.is_command() { "$" } else { "→" };
    writeln!(
        out,
        "  {} {}",
        paint(mark, color, |m| m.dimmed().to_string()),
        f.text()
    )
}

/// An nginx error log's report.
pub fn error_log(rep: &LogReport, color: bool, out: &mut dyn Write) -> io::Result<()> {
    let names: Vec<String> = rep
        .files
        .iter()
        .map(|f| esc(&f.path).into_owned())
        .collect();
    writeln!(
        out,
        "{}: {} line(s) read, {} unparsed",
        names.join(", "),
        rep.lines_total,
        rep.lines_unparsed
    )?;
    if let Some(r) = &rep.time_range {
        if let (Some(a), Some(b)) = (&r.first, &r.last) {
            writeln!(out, "time range: {a} .. {b}")?;
        }
    }
    if !rep.input_formats.is_empty() {
        let list: Vec<String> = rep
            .input_formats
            .iter()
            .map(|f| format!("{} ({} line(s))", f.format, f.lines))
            .collect();
        writeln!(out, "collector prefixes stripped: {}", list.join(", "))?;
    }
    if rep.fragments > 0 {
        writeln!(
            out,
            "{} failure(s) read from lines without nginx's timestamp (pasted or cut)",
            rep.fragments
        )?;
    }
    let w = &rep.window;
    if w.since.is_some() || w.until.is_some() {
        writeln!(
            out,
            "window: {} .. {}",
            w.since.as_deref().unwrap_or("start"),
            w.until.as_deref().unwrap_or("end")
        )?;
    }
    if rep.lines_failures == 0 {
        let msg = "no upstream failures: nginx logged nothing that explains a 502/504";
        writeln!(out, "{}", paint(msg, color, |m| m.green().to_string()))?;
        return Ok(());
    }
    let n = rep.summary.len();
    let head = format!(
        "{} upstream failure(s) in {n} categor{}",
        rep.lines_failures,
        if n == 1 { "y" } else { "ies" }
    );
    writeln!(
        out,
        "{}\n",
        paint(&head, color, |m| m.bold().red().to_string())
    )?;
    let mut t = table("top upstream");
    for c in &rep.summary {
        t.add_row(vec![
            c.category.to_string(),
            c.count.to_string(),
            c.status.to_string(),
            c.first_seen.clone().unwrap_or_default(),
            c.last_seen.clone().unwrap_or_default(),
            c.top_upstream.as_ref().map(counted).unwrap_or_default(),
        ]);
    }
    writeln!(out, "{t}\n")?;
    for c in &rep.summary {
        let cut = if c.truncated > 0 {
            format!(", {} cut short: lower confidence", c.truncated)
        } else {
            String::new()
        };
        let title = format!("{} ×{} ({}{cut})", c.category, c.count, c.status);
        writeln!(out, "{}", paint(&title, color, |m| m.bold().to_string()))?;
        writeln!(out, "  {}", c.explanation)?;
        if !c.upstreams.is_empty() {
            let list: Vec<String> = c.upstreams.iter().map(counted).collect();
            writeln!(out, "  upstreams: {}", list.join(", "))?;
        }
        if !c.servers.is_empty() {
            let list: Vec<String> = c
                .servers
                .iter()
                .map(|s| format!("{} ({})", esc(&s.name), s.count))
                .collect();
            writeln!(out, "  servers: {}", list.join(", "))?;
        }
        for f in c.fixes {
            fix(f, color, out)?;
        }
        writeln!(out)?;
    }
    if rep.upstream_disabled > 0 {
        writeln!(
            out,
            "note: {} \"upstream server temporarily disabled\" line(s): max_fails tripped after the failures above\n",
            rep.upstream_disabled
        )?;
    }
    if let Some(chart) = &rep.chart {
        timeline(chart, color, out)?;
    }
    if let Some(events) = &rep.events {
        writeln!(out, "\nevents:")?;
        for e in events {
            writeln!(
                out,
                "{}:{} {} {}{} {} {}",
                esc(&e.file),
                e.line,
                e.time.as_deref().unwrap_or("-"),
                e.category,
                if e.truncated { " (cut short)" } else { "" },
                esc(e.upstream.as_deref().unwrap_or("-")),
                esc(e.request.as_deref().unwrap_or("-")),
            )?;
        }
    }
    Ok(())
}

/// The failures-per-minute bar chart.
fn timeline(chart: &Chart, color: bool, out: &mut dyn Write) -> io::Result<()> {
    let unit = if chart.minutes == 1 {
        "minute".to_string()
    } else {
        format!("{} minutes", chart.minutes)
    };
    writeln!(out, "failures per {unit}:")?;
    for r in &chart.rows {
        let bar = "█".repeat(r.bar);
        writeln!(
            out,
            "  {} {} {}",
            r.label,
            paint(&bar, color, |m| m.red().to_string()),
            r.count
        )?;
    }
    Ok(())
}

/// A load balancer log's report.
pub fn balancer_log(rep: &LbLogReport, color: bool, out: &mut dyn Write) -> io::Result<()> {
    let names: Vec<String> = rep.files.iter().map(|f| esc(f).into_owned()).collect();
    writeln!(
        out,
        "{} ({}): {} record(s) read, {} unparsed",
        names.join(", "),
        rep.format_name,
        rep.lines_total,
        rep.lines_unparsed
    )?;
    if let Some(r) = &rep.time_range {
        if let (Some(a), Some(b)) = (&r.first, &r.last) {
            writeln!(out, "time range: {a} .. {b} (UTC)")?;
        }
    }
    if rep.summary.is_empty() {
        let msg = "no balancer-side failure: every request got an answer from a target";
        writeln!(out, "{}", paint(msg, color, |m| m.green().to_string()))?;
        return Ok(());
    }
    let head = format!("{} balancer-side failure(s), by cause", rep.lines_failures);
    writeln!(
        out,
        "{}\n",
        paint(&head, color, |m| m.bold().red().to_string())
    )?;
    let mut t = table("top target");
    for c in &rep.summary {
        t.add_row(vec![
            c.category.to_string(),
            c.count.to_string(),
            c.status.to_string(),
            c.first_seen.clone().unwrap_or_default(),
            c.last_seen.clone().unwrap_or_default(),
            c.top_upstream.as_ref().map(counted).unwrap_or_default(),
        ]);
    }
    writeln!(out, "{t}\n")?;
    for c in &rep.summary {
        let title = format!("{} ×{} ({})", c.category, c.count, c.status);
        writeln!(out, "{}", paint(&title, color, |m| m.bold().to_string()))?;
        writeln!(out, "  {}", c.explanation)?;
        let ts: Vec<String> = c.upstreams.iter().map(counted).collect();
        writeln!(out, "  targets: {}", ts.join(", "))?;
        if let Some(e) = rep.samples.iter().find(|e| e.category == c.category) {
            writeln!(
                out,
                "  e.g. {}:{} {} {}",
                esc(&e.file),
                e.line,
                esc(&e.detail),
                esc(e.request.as_deref().unwrap_or("-"))
            )?;
        }
        for f in c.fixes {
            fix(f, color, out)?;
        }
        writeln!(out)?;
    }
    if let Some(events) = &rep.events {
        writeln!(out, "events:")?;
        for e in events {
            writeln!(
                out,
                "{}:{} {} {} {} {}",
                esc(&e.file),
                e.line,
                e.time.as_deref().unwrap_or_default(),
                e.category,
                esc(e.upstream.as_deref().unwrap_or("-")),
                esc(e.request.as_deref().unwrap_or("-"))
            )?;
        }
    }
    Ok(())
}
