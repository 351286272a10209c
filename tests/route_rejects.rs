//! `badgw route` on configurations nginx rejects: exit 1 with the problems listed, each at
//! the file:line `nginx -t` names. The real `nginx -t` is the oracle.

mod lab;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

/// `nginx -t`'s first `[emerg]` as (file, line).
fn nginx_t(conf: &Path, prefix: &Path) -> (String, u64) {
    let out = Command::new(lab::nginx_binary())
        .arg("-t")
        .arg("-c")
        .arg(conf)
        .arg("-p")
        .arg(prefix)
        .args(["-e", "stderr", "-g", "pid nginx-t.pid;"])
        .output()
        .expect("run nginx -t");
    assert!(
        !out.status.success(),
        "nginx -t accepted {}",
        conf.display()
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let emerg = err
        .lines()
        .find(|l| l.contains("[emerg]"))
        .unwrap_or_else(|| panic!("no [emerg] from nginx -t: {err}"));
    let (file, line) = emerg
        .rsplit_once(" in ")
        .and_then(|(_, at)| at.rsplit_once(':'))
        .unwrap_or_else(|| panic!("no file:line in {emerg}"));
    (file.to_string(), line.trim().parse().unwrap())
}

const SERVER_HEAD: &str =
    "events {}\nhttp {\n  server {\n    listen 127.0.0.1:8080;\n    server_name x.test;\n";

/// (name, main file text, optional included file `inc.conf` text)
fn cases() -> Vec<(&'static str, String, Option<String>)> {
    vec![
        (
            "missing closing brace",
            format!("{SERVER_HEAD}    location / {{\n      proxy_pass http://127.0.0.1:9;\n  }}\n}}\n"),
            None,
        ),
        (
            "extra closing brace",
            format!("{SERVER_HEAD}    location / {{ proxy_pass http://127.0.0.1:9; }}\n  }}\n}}\n}}\n"),
            None,
        ),
        (
            "unterminated double quote",
            format!("{SERVER_HEAD}    add_header X \"open;\n    location / {{ proxy_pass http://127.0.0.1:9; }}\n  }}\n}}\n"),
            None,
        ),
        (
            "unterminated single quote",
            "events {}\nhttp {\n  server {\n    server_name 'x.test;\n\n\n".to_string(),
            None,
        ),
        (
            "missing ; before the next directive",
            "events {}\nhttp {\n  server {\n    listen 127.0.0.1:8080\n    server_name x.test;\n    location / { proxy_pass http://127.0.0.1:9; }\n  }\n}\n".to_string(),
            None,
        ),
        (
            "missing ; before a block",
            "events {}\nhttp {\n  server {\n    listen 127.0.0.1:8080\n    location / {\n      proxy_pass http://127.0.0.1:9;\n    }\n  }\n}\n".to_string(),
            None,
        ),
        (
            "missing ; before a closing brace",
            format!("{SERVER_HEAD}    location / {{\n      proxy_pass http://127.0.0.1:9\n    }}\n  }}\n}}\n"),
            None,
        ),
        (
            "missing ; across two proxy directives",
            format!("{SERVER_HEAD}    location / {{\n      proxy_pass http://127.0.0.1:9\n      proxy_set_header Host $host;\n    }}\n  }}\n}}\n"),
            None,
        ),
        (
            "stray semicolon",
            format!("{SERVER_HEAD}    ;\n    location / {{ proxy_pass http://127.0.0.1:9; }}\n  }}\n}}\n"),
            None,
        ),
        (
            "error inside an included file",
            format!("{SERVER_HEAD}    include inc.conf;\n  }}\n}}\n"),
            Some("location / {\n  proxy_pass http://127.0.0.1:9\n  root /srv;\n}\n".to_string()),
        ),
    ]
}

#[test]
fn route_exits_1_on_configs_nginx_rejects_naming_nginx_t_s_line() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (name, main, inc)) in cases().into_iter().enumerate() {
        let case_dir = dir.path().join(format!("case{i}"));
        std::fs::create_dir_all(&case_dir).unwrap();
        let conf = case_dir.join("nginx.conf");
        std::fs::write(&conf, &main).unwrap();
        if let Some(inc) = &inc {
            std::fs::write(case_dir.join("inc.conf"), inc).unwrap();
        }
        let (file, line) = nginx_t(&conf, &case_dir);

        let mut cmd = lab::badgw();
        cmd.args(["route", "--json", "--site", "x.test", "--port", "8080"])
            .arg("--nginx-conf")
            .arg(&conf);
        let out = lab::run_with_timeout(cmd, Duration::from_secs(20));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{name}: nginx -t rejects it ({file}:{line}), route must exit 1\n{stdout}{stderr}"
        );
        let issues: Vec<(String, u64)> = serde_json::from_str::<Value>(&stdout)
            .ok()
            .and_then(|v| v["config_issues"].as_array().cloned())
            .map(|a| {
                a.iter()
                    .map(|i| {
                        (
                            i["file"].as_str().unwrap_or("").to_string(),
                            i["line"].as_u64().unwrap_or(0),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let named = issues.first() == Some(&(file.clone(), line))
            || (issues.is_empty() && stderr.contains(&format!("{file}:{line}")));
        assert!(
            named,
            "{name}: nginx -t names {file}:{line}; badgw said {issues:?}\n{stdout}{stderr}"
        );

        // The human output lists the problem too, and exits 1.
        let mut cmd = lab::badgw();
        cmd.args([
            "route", "--site", "x.test", "--port", "8080", "--color", "never",
        ])
        .arg("--nginx-conf")
        .arg(&conf);
        let out = lab::run_with_timeout(cmd, Duration::from_secs(20));
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(1), "{name}: {all}");
        assert!(all.contains(&format!("{file}:{line}")), "{name}: {all}");
    }
}

#[test]
fn route_exits_0_on_a_config_nginx_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("nginx.conf");
    std::fs::write(
        &conf,
        format!("{SERVER_HEAD}    location / {{\n      proxy_pass http://127.0.0.1:9;\n      proxy_set_header Host\n        $host;\n    }}\n  }}\n}}\n"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    let ok = Command::new(lab::nginx_binary())
        .arg("-t")
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(dir.path())
        .args(["-e", "stderr", "-g", "pid nginx-t.pid;"])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let mut cmd = lab::badgw();
    cmd.args(["route", "--site", "x.test", "--port", "8080"])
        .arg("--nginx-conf")
        .arg(&conf);
    let out = lab::run_with_timeout(cmd, Duration::from_secs(20));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
