//! Gathers supervisord: every running supervisord (from /proc), the configuration it was
//! started with (`-c`, made absolute against its working directory, else supervisord's own
//! default search paths), its included files, and which of its programs run now (its
//! children whose command line is the program's command) and which one serves the route's
//! upstream (it runs a listener owner, or its command or environment names the target).
//!
//! Read-only: /proc and the configuration files; supervisorctl is never asked (it would
//! need the daemon's socket and says nothing /proc does not).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::runner::Context;
use crate::facts::{Fact, Supervisord, SupervisordFacts};
use crate::parse::supervisord as parse;

/// Largest configuration file read.
const MAX_CONF: u64 = 4 << 20;

/// What ties a program to the route.
#[derive(Debug, Clone, Default)]
pub struct SupervisordInputs {
    /// Pids that own the upstream's listeners.
    pub upstream_pids: Vec<u32>,
    /// The upstream's TCP ports and unix socket paths.
    pub ports: Vec<u16>,
    pub sockets: Vec<String>,
}

struct Proc {
    ppid: u32,
    argv: Vec<String>,
}

fn processes(proc_root: &Path) -> HashMap<u32, Proc> {
    let Ok(entries) = std::fs::read_dir(proc_root) else {
        return HashMap::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let ppid = crate::parse::proc::parse_stat(&stat)?.ppid;
            let raw = std::fs::read(e.path().join("cmdline")).ok()?;
            let argv = raw
                .split(|&b| b == 0)
                .filter(|w| !w.is_empty())
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect();
            Some((pid, Proc { ppid, argv }))
        })
        .collect()
}

/// `port` as a whole number in `text` (`:8000`, `PORT=8000`, `--port 8000`), not `18000`.
fn names_port(text: &str, port: u16) -> bool {
    let p = port.to_string();
    text.match_indices(&p).any(|(i, _)| {
        !text[..i].ends_with(|c: char| c.is_ascii_digit())
            && !text[i + p.len()..].starts_with(|c: char| c.is_ascii_digit())
    })
}

/// The configuration a supervisord uses: `-c` (relative to its cwd), else the first of
/// its default paths that exists (supervisord's `options.py` search order).
fn config_of(proc_root: &Path, pid: u32, args: &[&str], exe: &str) -> Option<(PathBuf, String)> {
    let cwd = std::fs::read_link(proc_root.join(pid.to_string()).join("cwd")).ok();
    if let Some(c) = parse::config_arg(args) {
        let p = PathBuf::from(&c);
        let p = match (&cwd, p.is_absolute()) {
            (Some(cwd), false) => cwd.join(p),
            _ => p,
        };
        return Some((p, "-c argument".into()));
    }
    let exe_dir = Path::new(exe).parent().and_then(Path::parent);
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(d) = exe_dir {
        candidates.push(d.join("etc/supervisord.conf"));
        candidates.push(d.join("supervisord.conf"));
    }
    if let Some(cwd) = &cwd {
        candidates.push(cwd.join("supervisord.conf"));
        candidates.push(cwd.join("etc/supervisord.conf"));
    }
    candidates.push("/etc/supervisord.conf".into());
    candidates.push("/etc/supervisor/supervisord.conf".into());
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .map(|p| (p, "default path".into()))
}

/// Reads the main file and the files its `[include]` names (supervisord follows includes
/// of the main file only), in supervisord's order: sorted within each pattern.
fn read_config(main: &Path, problems: &mut Vec<String>) -> Vec<parse::IniSection> {
    let read = |p: &Path, problems: &mut Vec<String>| -> Vec<parse::IniSection> {
        match super::files::read_all(p, MAX_CONF) {
            Ok(bytes) => {
                let (s, mut errs) =
                    parse::parse_ini(&String::from_utf8_lossy(&bytes), &p.display().to_string());
                problems.append(&mut errs);
                s
            }
            Err(e) => {
                problems.push(format!("{}: {}", p.display(), e.reason()));
                Vec::new()
            }
        }
    };
    let mut sections = read(main, problems);
    for pattern in parse::include_patterns(&sections) {
        let mut files: Vec<PathBuf> = glob::glob(&pattern)
            .map(|g| g.flatten().collect())
            .unwrap_or_default();
        files.sort();
        for f in files {
            sections.extend(read(&f, problems));
        }
    }
    sections
}

/// The collector: every supervisord, and which of its programs serves the run's upstreams.
pub fn collect(ctx: &Context) -> Fact<SupervisordFacts> {
    let ups = &ctx.upstreams;
    let inputs = SupervisordInputs {
        upstream_pids: ups.pids(),
        ports: ups.ports.clone(),
        sockets: ups.sockets.clone(),
    };
    gather(ctx.proc_root(), &inputs)
}

/// Every running supervisord with its programs; collected (maybe empty) unless /proc
/// cannot be read.
fn gather(proc_root: &Path, inputs: &SupervisordInputs) -> Fact<SupervisordFacts> {
    let procs = processes(proc_root);
    if procs.is_empty() {
        return Fact::unavailable(proc_root.display().to_string(), "no process readable");
    }
    let mut pids: Vec<&u32> = procs.keys().collect();
    pids.sort();
    let mut instances = Vec::new();
    for &pid in pids {
        let argv: Vec<&str> = procs[&pid].argv.iter().map(String::as_str).collect();
        let Some(args) = parse::supervisord_args(&argv) else {
            continue;
        };
        // A supervisord's own children that are supervisord (a restart in progress) are
        // the same instance.
        if procs.get(&procs[&pid].ppid).is_some_and(|p| {
            parse::supervisord_args(&p.argv.iter().map(String::as_str).collect::<Vec<_>>())
                .is_some()
        }) {
            continue;
        }
        let exe = argv
            .iter()
            .find(|w| w.ends_with("supervisord"))
            .copied()
            .unwrap_or("supervisord");
        let mut problems = Vec::new();
        let Some((config, config_from)) = config_of(proc_root, pid, args, exe) else {
            instances.push(Supervisord {
                pid,
                config: String::new(),
                config_from: "none found".into(),
                programs: Vec::new(),
                problems: vec![
                    "no -c argument and no supervisord.conf at the default paths".into(),
                ],
            });
            continue;
        };
        let sections = read_config(&config, &mut problems);
        let mut programs = parse::programs(&sections);
        let children: Vec<(u32, &Proc)> = procs
            .iter()
            .filter(|(_, p)| p.ppid == pid)
            .map(|(c, p)| (*c, p))
            .collect();
        for prog in &mut programs {
            let mut running: Vec<u32> = children
                .iter()
                .filter(|(_, p)| {
                    let a: Vec<&str> = p.argv.iter().map(String::as_str).collect();
                    parse::runs_command(&a, &prog.command)
                })
                .map(|(c, _)| *c)
                .collect();
            running.sort();
            prog.pids = running;
        }
        // A listener owner, or one of its ancestors, that is a child of this supervisord.
        for &owner in &inputs.upstream_pids {
            let mut at = owner;
            for _ in 0..16 {
                let Some(p) = procs.get(&at) else { break };
                if p.ppid == pid {
                    if let Some(prog) = programs.iter_mut().find(|g| g.pids.contains(&at)) {
                        prog.serves_upstream =
                            Some(format!("runs pid {owner}, which listens at the upstream"));
                    }
                    break;
                }
                at = p.ppid;
            }
        }
        for prog in &mut programs {
            if prog.serves_upstream.is_some() {
                continue;
            }
            let text = format!("{} {}", prog.command, prog.env_ports.join(" "));
            if let Some(port) = inputs.ports.iter().find(|&&p| names_port(&text, p)) {
                prog.serves_upstream = Some(format!("its command names port {port}"));
            } else if let Some(s) = inputs.sockets.iter().find(|s| text.contains(s.as_str())) {
                prog.serves_upstream = Some(format!("its command names {s}"));
            }
        }
        instances.push(Supervisord {
            pid,
            config: config.display().to_string(),
            config_from,
            programs,
            problems,
        });
    }
    Fact::collected(SupervisordFacts { instances })
}

#[cfg(test)]
mod tests {
    #[test]
    fn ports_are_matched_as_whole_numbers() {
        assert!(super::names_port(
            "python3 -m http.server 8000 --bind 127.0.0.1",
            8000
        ));
        assert!(super::names_port("gunicorn -b 127.0.0.1:8000 app", 8000));
        assert!(!super::names_port("gunicorn -b 127.0.0.1:18000 app", 8000));
        assert!(!super::names_port("app --port 80001", 8000));
    }
}
