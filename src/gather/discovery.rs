//! Finds the nginx instance(s) on this host: running masters from /proc (their `-c`, `-p`
//! arguments), else the binary's compiled-in paths (`nginx -V`), else the usual paths.
//! Records every place it tried, so "nginx not found" can say exactly what was looked at.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::command;
use crate::facts::NginxMaster;

/// One candidate configuration, and how it was found.
#[derive(Debug, Clone)]
pub struct Instance {
    pub conf_path: PathBuf,
    pub prefix: Option<PathBuf>,
    pub master: Option<NginxMaster>,
    pub found_by: String,
}

/// Paths package managers install nginx.conf to, most common first.
pub const USUAL_CONF_PATHS: &[&str] = &[
    "/etc/nginx/nginx.conf",
    "/usr/local/nginx/conf/nginx.conf",
    "/usr/local/etc/nginx/nginx.conf",
    "/opt/homebrew/etc/nginx/nginx.conf",
    "/opt/nginx/conf/nginx.conf",
];

/// Arguments of a master's command line (`nginx: master process BIN -p P -c C -g …`).
#[derive(Debug, Default, PartialEq)]
pub struct MasterArgs {
    pub binary: Option<String>,
    pub conf: Option<String>,
    pub prefix: Option<String>,
}

/// Parses a master's rewritten argv. The `-g` value may contain spaces ("daemon off;"),
/// so only `-c` and `-p` (and their glued forms `-cFILE`) are taken.
pub fn parse_master_cmdline(cmdline: &str) -> Option<MasterArgs> {
    let rest = cmdline.strip_prefix("nginx: master process")?.trim();
    let words: Vec<&str> = rest.split_whitespace().collect();
    let mut args = MasterArgs {
        binary: words
            .first()
            .filter(|w| !w.starts_with('-'))
            .map(|w| w.to_string()),
        ..Default::default()
    };
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let mut take = |flag: &str| -> Option<String> {
            if w == flag {
                i += 1;
                words.get(i).map(|s| s.to_string())
            } else {
                w.strip_prefix(flag)
                    .filter(|v| !v.is_empty())
                    .map(str::to_string)
            }
        };
        if let Some(v) = take("-c") {
            args.conf = Some(v);
        } else if let Some(v) = take("-p") {
            args.prefix = Some(v);
        }
        i += 1;
    }
    Some(args)
}

/// Compiled-in `--conf-path` and `--prefix` from `nginx -V` output.
pub fn parse_nginx_v(output: &str) -> (Option<String>, Option<String>) {
    let find = |key: &str| {
        output
            .split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .map(|v| v.trim_matches('\'').to_string())
    };
    (find("--conf-path="), find("--prefix="))
}

/// Resolves a master's config path as nginx does: relative `-c` is relative to the prefix.
fn resolve_conf(
    args: &MasterArgs,
    default_conf: Option<&str>,
    default_prefix: Option<&str>,
) -> (PathBuf, Option<PathBuf>) {
    let prefix = args.prefix.as_deref().or(default_prefix).map(PathBuf::from);
    let conf = args
        .conf
        .as_deref()
        .or(default_conf)
        .unwrap_or("/etc/nginx/nginx.conf");
    let conf = match (&prefix, Path::new(conf).is_relative()) {
        (Some(p), true) => p.join(conf),
        _ => PathBuf::from(conf),
    };
    (conf, prefix)
}

/// Everything discovery found, and everything it tried.
pub struct Discovery {
    pub instances: Vec<Instance>,
    pub tried: Vec<String>,
}

/// Finds running masters first, then compiled-in and usual paths.
pub fn discover(procs: &[(u32, String, Option<u32>)], timeout: Duration) -> Discovery {
    let mut tried = Vec::new();
    let mut instances = Vec::new();
    let nginx_v = nginx_v_output(None, timeout);
    let (v_conf, v_prefix) = nginx_v
        .as_deref()
        .map(parse_nginx_v)
        .unwrap_or((None, None));

    let masters: Vec<_> = procs
        .iter()
        .filter_map(|(pid, cmd, _)| parse_master_cmdline(cmd).map(|a| (*pid, cmd, a)))
        .collect();
    tried.push(format!(
        "running nginx masters in /proc: {} found",
        masters.len()
    ));
    for (pid, cmd, args) in masters {
        // Another build may be running: ask that binary for its own defaults.
        let own_v = args
            .binary
            .as_deref()
            .filter(|b| Path::new(b).is_absolute())
            .and_then(|b| nginx_v_output(Some(b), timeout));
        let (d_conf, d_prefix) = own_v
            .as_deref()
            .map(parse_nginx_v)
            .unwrap_or_else(|| (v_conf.clone(), v_prefix.clone()));
        let (conf_path, prefix) = resolve_conf(&args, d_conf.as_deref(), d_prefix.as_deref());
        let workers = procs
            .iter()
            .filter(|(_, c, ppid)| *ppid == Some(pid) && c.starts_with("nginx: worker process"))
            .map(|(p, _, _)| *p)
            .collect();
        instances.push(Instance {
            found_by: format!("running master pid {pid}: {}", conf_path.display()),
            conf_path,
            prefix,
            master: Some(NginxMaster {
                pid,
                cmdline: cmd.clone(),
                binary: args.binary.clone(),
                workers,
                ..Default::default()
            }),
        });
    }
    if instances.is_empty() {
        match (&nginx_v, &v_conf) {
            (Some(_), Some(conf)) => {
                tried.push(format!("`nginx -V` --conf-path: {conf}"));
                if Path::new(conf).is_file() {
                    instances.push(Instance {
                        conf_path: conf.into(),
                        prefix: v_prefix.clone().map(PathBuf::from),
                        master: None,
                        found_by: format!("`nginx -V` --conf-path={conf} (no running master)"),
                    });
                }
            }
            (Some(_), None) => tried.push("`nginx -V`: no --conf-path".into()),
            (None, _) => tried.push(
                "`nginx -V`: no nginx binary in PATH, /usr/sbin or /usr/local/nginx/sbin".into(),
            ),
        }
    }
    if instances.is_empty() {
        for p in USUAL_CONF_PATHS {
            tried.push(format!(
                "{p}: {}",
                if Path::new(p).is_file() {
                    "found"
                } else {
                    "not found"
                }
            ));
            if Path::new(p).is_file() {
                instances.push(Instance {
                    conf_path: p.into(),
                    prefix: v_prefix.clone().map(PathBuf::from),
                    master: None,
                    found_by: format!("usual path {p} (no running master)"),
                });
                break;
            }
        }
    }
    Discovery { instances, tried }
}

/// The nginx binary: the given one, else PATH, else the usual locations.
pub fn nginx_binary(explicit: Option<&str>) -> Option<PathBuf> {
    if let Some(b) = explicit {
        return Some(PathBuf::from(b));
    }
    which::which("nginx").ok().or_else(|| {
        [
            "/usr/sbin/nginx",
            "/usr/local/nginx/sbin/nginx",
            "/usr/local/sbin/nginx",
        ]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
    })
}

/// `nginx -V` prints to stderr.
fn nginx_v_output(binary: Option<&str>, timeout: Duration) -> Option<String> {
    let bin = nginx_binary(binary)?;
    let out = command::run_command(bin.to_str()?, &["-V"], timeout).ok()?;
    Some(format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_cmdline_with_prefix_conf_and_spaced_g() {
        let a = parse_master_cmdline(
            "nginx: master process /usr/sbin/nginx -p /tmp/lab -c conf/nginx.conf -g daemon off;",
        )
        .unwrap();
        assert_eq!(a.binary.as_deref(), Some("/usr/sbin/nginx"));
        assert_eq!(a.prefix.as_deref(), Some("/tmp/lab"));
        assert_eq!(a.conf.as_deref(), Some("conf/nginx.conf"));
        let (conf, prefix) = resolve_conf(&a, None, None);
        assert_eq!(conf, PathBuf::from("/tmp/lab/conf/nginx.conf"));
        assert_eq!(prefix, Some(PathBuf::from("/tmp/lab")));
    }

    #[test]
    fn bare_master_uses_compiled_defaults() {
        let a = parse_master_cmdline("nginx: master process /usr/sbin/nginx").unwrap();
        let (conf, _) = resolve_conf(&a, Some("/etc/nginx/nginx.conf"), Some("/usr/share/nginx"));
        assert_eq!(conf, PathBuf::from("/etc/nginx/nginx.conf"));
        assert!(parse_master_cmdline("nginx: worker process").is_none());
        assert!(parse_master_cmdline("/usr/bin/node server.js").is_none());
    }

    #[test]
    fn glued_flags() {
        let a = parse_master_cmdline("nginx: master process nginx -c/etc/x.conf").unwrap();
        assert_eq!(a.conf.as_deref(), Some("/etc/x.conf"));
    }

    #[test]
    fn nginx_v_paths() {
        let v = "nginx version: nginx/1.22.1\nconfigure arguments: --with-cc-opt='-g -O2' --prefix=/usr/share/nginx --conf-path=/etc/nginx/nginx.conf --http-log-path=/var/log/nginx/access.log";
        assert_eq!(
            parse_nginx_v(v),
            (
                Some("/etc/nginx/nginx.conf".into()),
                Some("/usr/share/nginx".into())
            )
        );
    }
}
