//! supervisord's configuration: the INI dialect of `supervisord.conf` (sections, `key =
//! value` or `key: value`, `;`/`#` comment lines, ` ;` inline comments, indented
//! continuation lines), its `[include] files =` globs, and the `[program:…]` and `[group:…]`
//! sections turned into typed programs.
//!
//! Pure: text in, typed values with file:line out; a damaged line is reported, never a
//! panic. Following includes (globbing, reading) is `gather::supervisord`'s.

use crate::facts::SupervisorProgram;

/// One `[section]` with its `key = value` pairs (keys lower-cased, values trimmed).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IniSection {
    pub name: String,
    pub file: String,
    pub line: u32,
    /// The directory of `file`: supervisord's `%(here)s`.
    pub here: String,
    pub values: Vec<(String, String)>,
}

impl IniSection {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Drops an inline comment: `;` or `#` preceded by whitespace (how supervisor 4 reads them).
fn strip_inline_comment(v: &str) -> &str {
    let b = v.as_bytes();
    for i in 1..b.len() {
        if (b[i] == b';' || b[i] == b'#') && b[i - 1].is_ascii_whitespace() {
            return &v[..i];
        }
    }
    v
}

/// Parses one file; problems come back as `file:line: why`.
pub fn parse_ini(text: &str, file: &str) -> (Vec<IniSection>, Vec<String>) {
    let here = std::path::Path::new(file)
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| ".".into());
    let mut sections: Vec<IniSection> = Vec::new();
    let mut problems = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i as u32 + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with(';') || trimmed.starts_with('#') {
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix('[') {
            match rest.find(']') {
                Some(end) => sections.push(IniSection {
                    name: rest[..end].trim().to_string(),
                    file: file.to_string(),
                    line: n,
                    here: here.clone(),
                    values: Vec::new(),
                }),
                None => problems.push(format!("{file}:{n}: a section header without `]`")),
            }
            continue;
        }
        let Some(section) = sections.last_mut() else {
            problems.push(format!("{file}:{n}: a value before any [section]"));
            continue;
        };
        // An indented line continues the previous value.
        if raw.starts_with([' ', '\t']) {
            if let Some((_, v)) = section.values.last_mut() {
                let more = strip_inline_comment(trimmed).trim();
                if !more.is_empty() {
                    v.push('\n');
                    v.push_str(more);
                }
                continue;
            }
        }
        let split = trimmed.find(['=', ':']);
        match split {
            Some(at) if at > 0 => {
                let key = trimmed[..at].trim().to_ascii_lowercase();
                let value = strip_inline_comment(trimmed[at + 1..].trim())
                    .trim()
                    .to_string();
                section.values.push((key, value));
            }
            _ => problems.push(format!("{file}:{n}: not `key = value`: {trimmed:?}")),
        }
    }
    (sections, problems)
}

/// The `[include] files =` patterns of `sections`, made absolute against each file's
/// directory (supervisord resolves them relative to the file that includes them).
pub fn include_patterns(sections: &[IniSection]) -> Vec<String> {
    sections
        .iter()
        .filter(|s| s.name == "include")
        .filter_map(|s| s.get("files").map(|f| (s, f)))
        .flat_map(|(s, files)| {
            files
                .split_whitespace()
                .map(|p| {
                    if p.starts_with('/') {
                        p.to_string()
                    } else {
                        format!("{}/{p}", s.here)
                    }
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// supervisord's string expansions for one program: `%(here)s`, `%(program_name)s`,
/// `%(group_name)s`, `%(process_num)s`/`%(process_num)02d`. `%(ENV_…)s` is left as
/// written (the daemon's environment is not read).
fn expand(v: &str, s: &IniSection, program: &str, group: &str) -> String {
    let mut out = v
        .replace("%(here)s", &s.here)
        .replace("%(program_name)s", program)
        .replace("%(group_name)s", group);
    for pat in ["%(process_num)s", "%(process_num)d", "%(process_num)02d"] {
        let num = if pat.contains("02") { "00" } else { "0" };
        out = out.replace(pat, num);
    }
    out.replace("%%", "%")
}

/// PORT-like `KEY=value` assignments of `environment=KEY="val",KEY2=val2`.
fn env_ports(env: &str) -> Vec<String> {
    env.split([',', '\n'])
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            let k = k.trim();
            let u = k.to_ascii_uppercase();
            (u.contains("PORT") || u.contains("BIND") || u.contains("LISTEN") || u == "HOST")
                .then(|| format!("{k}={}", v.trim().trim_matches(['"', '\''])))
        })
        .collect()
}

/// The programs of a configuration (all its files' sections, in order), with the names
/// supervisorctl knows them by.
pub fn programs(sections: &[IniSection]) -> Vec<SupervisorProgram> {
    // `[group:g] programs = a,b` renames a and b to g:a and g:b.
    let mut group_of: Vec<(String, String)> = Vec::new();
    for s in sections {
        if let (Some(g), Some(list)) = (s.name.strip_prefix("group:"), s.get("programs")) {
            for p in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                group_of.push((p.to_string(), g.trim().to_string()));
            }
        }
    }
    sections
        .iter()
        .filter_map(|s| {
            let name = s.name.strip_prefix("program:")?.trim().to_string();
            let group = group_of
                .iter()
                .find(|(p, _)| *p == name)
                .map(|(_, g)| g.clone());
            let numprocs: u32 = s.get("numprocs").and_then(|n| n.parse().ok()).unwrap_or(1);
            let ctl_name = match (&group, numprocs > 1) {
                (Some(g), _) => format!("{g}:{name}"),
                (None, true) => format!("{name}:*"),
                (None, false) => name.clone(),
            };
            let group_name = group.clone().unwrap_or_else(|| name.clone());
            let command = expand(s.get("command").unwrap_or(""), s, &name, &group_name);
            Some(SupervisorProgram {
                ctl_name,
                command: command.replace('\n', " "),
                file: s.file.clone(),
                line: s.line,
                numprocs,
                autorestart: s.get("autorestart").map(str::to_string),
                user: s.get("user").map(str::to_string),
                env_ports: s.get("environment").map(env_ports).unwrap_or_default(),
                name,
                pids: Vec::new(),
                serves_upstream: None,
            })
        })
        .collect()
}

/// The configuration file of a supervisord command line: `-c FILE`, `-cFILE`,
/// `--configuration FILE` or `--configuration=FILE`; None when it has none (then
/// supervisord searches its default paths).
pub fn config_arg(argv: &[&str]) -> Option<String> {
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        if *a == "-c" || *a == "--configuration" {
            return it.next().map(|s| s.to_string());
        }
        if let Some(v) = a.strip_prefix("--configuration=") {
            return Some(v.to_string());
        }
        if let Some(v) = a
            .strip_prefix("-c")
            .filter(|v| !v.is_empty() && !a.starts_with("--"))
        {
            return Some(v.to_string());
        }
    }
    None
}

/// Whether a command line is supervisord's (`supervisord …` or `python3 /usr/bin/supervisord
/// …`); the arguments after the program word when it is.
pub fn supervisord_args<'a>(argv: &'a [&'a str]) -> Option<&'a [&'a str]> {
    let base = |w: &str| w.rsplit('/').next().unwrap_or(w).to_string();
    let at = argv.iter().take(3).position(|w| {
        let b = base(w);
        b == "supervisord" || b == "supervisord.py"
    })?;
    // A python interpreter may only precede it (with its own flags).
    if argv[..at]
        .iter()
        .any(|w| !(base(w).starts_with("python") || w.starts_with('-')))
    {
        return None;
    }
    Some(&argv[at + 1..])
}

/// Whether `cmdline` (a process's argv) runs `command` (a program's `command=`): the same
/// words, the first compared by its base name (supervisord resolves it on PATH).
pub fn runs_command(cmdline: &[&str], command: &str) -> bool {
    let words: Vec<&str> = command.split_whitespace().collect();
    let (Some(first), Some(cmd0)) = (words.first(), cmdline.first()) else {
        return false;
    };
    let base = |w: &str| w.rsplit('/').next().unwrap_or(w).to_string();
    base(first) == base(cmd0)
        && words.len() == cmdline.len()
        && words[1..]
            .iter()
            .zip(&cmdline[1..])
            .all(|(a, b)| a.trim_matches(['"', '\'']) == *b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = "\
; supervisor config file
[unix_http_server]
file=/var/run/supervisor.sock   ; (the path to the socket file)

[supervisord]
logfile=/var/log/supervisor/supervisord.log

[program:web]
command=/srv/shop/venv/bin/gunicorn -b 127.0.0.1:8000 shop.wsgi  ; the app
directory=%(here)s/app
autorestart = false
user: shop
environment=PORT=\"8000\",SECRET_KEY=\"hunter2\"

[program:worker]
command = celery -A shop worker
  --concurrency 2
numprocs=2
process_name=%(program_name)s_%(process_num)02d

[program:api]
command=node server.js
[group:backend]
programs=api

[include]
files = conf.d/*.conf /etc/extra.conf
broken line
";

    #[test]
    fn sections_values_comments_and_continuations() {
        let (s, problems) = parse_ini(CONF, "/etc/supervisor/supervisord.conf");
        assert_eq!(s[0].name, "unix_http_server");
        assert_eq!(s[0].get("file"), Some("/var/run/supervisor.sock"));
        assert_eq!(s[2].line, 8);
        assert_eq!(s[2].get("user"), Some("shop"));
        assert_eq!(
            problems,
            vec!["/etc/supervisor/supervisord.conf:28: not `key = value`: \"broken line\""]
        );
        assert_eq!(
            include_patterns(&s),
            vec!["/etc/supervisor/conf.d/*.conf", "/etc/extra.conf"]
        );
    }

    #[test]
    fn programs_with_their_supervisorctl_names() {
        let (s, _) = parse_ini(CONF, "/etc/supervisor/supervisord.conf");
        let p = programs(&s);
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].name, "web");
        assert_eq!(p[0].ctl_name, "web");
        assert_eq!(
            p[0].command,
            "/srv/shop/venv/bin/gunicorn -b 127.0.0.1:8000 shop.wsgi"
        );
        assert_eq!(p[0].autorestart.as_deref(), Some("false"));
        assert_eq!(p[0].env_ports, vec!["PORT=8000"], "never the secret");
        assert_eq!(
            (p[0].file.as_str(), p[0].line),
            ("/etc/supervisor/supervisord.conf", 8)
        );
        assert_eq!(p[1].ctl_name, "worker:*");
        assert_eq!(p[1].command, "celery -A shop worker --concurrency 2");
        assert_eq!(p[2].ctl_name, "backend:api");
    }

    #[test]
    fn command_lines() {
        let argv = [
            "/usr/bin/python3",
            "/usr/bin/supervisord",
            "-n",
            "-c",
            "/x/s.conf",
        ];
        let args = supervisord_args(&argv).unwrap();
        assert_eq!(config_arg(args).as_deref(), Some("/x/s.conf"));
        assert_eq!(config_arg(&["-c/y.conf"]).as_deref(), Some("/y.conf"));
        assert_eq!(
            config_arg(&["--configuration=/z.conf"]).as_deref(),
            Some("/z.conf")
        );
        assert_eq!(config_arg(&["-n"]), None);
        assert!(supervisord_args(&["/usr/bin/supervisord"]).is_some());
        assert!(supervisord_args(&["vim", "/etc/supervisord.conf"]).is_none());
        assert!(supervisord_args(&["tail", "-f", "supervisord"]).is_none());
        assert!(runs_command(
            &["/usr/bin/python3", "-m", "http.server", "8000"],
            "python3 -m http.server 8000"
        ));
        assert!(!runs_command(
            &["/usr/bin/python3", "-m", "http.server", "8001"],
            "python3 -m http.server 8000"
        ));
    }
}
