//! Config parsing speed: a generated 50,000-line configuration (1,000 server blocks in
//! 1,000 included files) is parsed and routed by badgw, and checked by `nginx -t` on the
//! same files as the baseline. Run: `cargo bench --bench config`.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use badgw::facts::RequestSpec;
use badgw::nginx;

const SERVERS: usize = 1000;

/// Writes the config; returns (main file, total lines).
fn generate(dir: &Path) -> (std::path::PathBuf, usize) {
    let sites = dir.join("sites");
    std::fs::create_dir_all(&sites).unwrap();
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    let p = dir.display();
    let main = format!(
        "worker_processes 1;\npid {p}/nginx.pid;\nerror_log {p}/logs/error.log;\nevents {{ worker_connections 64; }}\n\
         http {{\n    access_log off;\n    client_body_temp_path {p}/cb; proxy_temp_path {p}/px; fastcgi_temp_path {p}/fc;\n    uwsgi_temp_path {p}/uw; scgi_temp_path {p}/sc;\n    include sites/*.conf;\n}}\n"
    );
    std::fs::create_dir_all(dir.join("www")).unwrap();
    std::fs::write(dir.join("www/index.php"), "<?php\n").unwrap();
    let mut lines = main.lines().count();
    std::fs::write(dir.join("nginx.conf"), main).unwrap();
    for i in 0..SERVERS {
        let mut s = String::new();
        s.push_str(&format!(
            "upstream app{i} {{\n    server 127.0.0.1:{} max_fails=3;\n    keepalive 8;\n}}\n",
            10000 + i
        ));
        s.push_str(&format!("server {{\n    listen 127.0.0.1:{};\n    server_name site{i}.example.com *.site{i}.example.org;\n", 20000 + i % 50));
        s.push_str(
            "    proxy_read_timeout 30s;\n    proxy_set_header Host $host;\n    # a comment line\n",
        );
        // A PHP front controller: `/` reaches the FPM pool only through try_files and index.
        s.push_str(&format!(
            "    root {p}/www;\n    index index.php;\n    location / {{ try_files $uri $uri/ /index.php?$query_string; }}\n"
        ));
        for l in 0..8 {
            s.push_str(&format!("    location /p{l}/ {{\n        proxy_http_version 1.1;\n        proxy_set_header Connection \"\";\n        proxy_pass http://app{i};\n    }}\n"));
        }
        s.push_str(&format!(
            "    location ~ \\.php$ {{ fastcgi_pass unix:/run/php/site{i}.sock; }}\n"
        ));
        s.push_str("    location = /health { return 200; }\n}\n");
        lines += s.lines().count();
        std::fs::write(sites.join(format!("site{i:04}.conf")), s).unwrap();
    }
    (dir.join("nginx.conf"), lines)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let (conf, lines) = generate(dir.path());
    let no_dns = |_: &str, _: u16| -> Vec<SocketAddr> { Vec::new() };
    let req = RequestSpec {
        site: "site777.example.com".into(),
        path: "/p5/orders".into(),
        port: None,
        scheme: None,
    };
    let runs = 20;
    let mut ours = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let c = nginx::load(
            &nginx::LoadOptions {
                conf_path: conf.clone(),
                prefix: Some(dir.path().to_path_buf()),
                dump: None,
            },
            badgw::gather::files::CONFIG,
        )
        .unwrap();
        let r = nginx::route(&c, &req, &no_dns).unwrap();
        ours.push(t.elapsed());
        assert_eq!(r.group.as_deref(), Some("app777"));
        assert!(c.issues().is_empty());
    }
    // The same load, then the request for `/` through try_files → index → \.php$, with
    // the host's file system answering the stat()s.
    let files = badgw::gather::files::HostFiles::new();
    let root_req = RequestSpec {
        site: "site777.example.com".into(),
        path: "/".into(),
        port: None,
        scheme: None,
    };
    let mut redirects = Vec::new();
    let mut site_wide = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let c = nginx::load(
            &nginx::LoadOptions {
                conf_path: conf.clone(),
                prefix: Some(dir.path().to_path_buf()),
                dump: None,
            },
            badgw::gather::files::CONFIG,
        )
        .unwrap();
        let r = nginx::route_with(&c, &root_req, &no_dns, &files).unwrap();
        redirects.push(t.elapsed());
        assert_eq!(r.directive.as_deref(), Some("fastcgi_pass"), "{:?}", r.hops);
        let t = Instant::now();
        let c = nginx::load(
            &nginx::LoadOptions {
                conf_path: conf.clone(),
                prefix: Some(dir.path().to_path_buf()),
                dump: None,
            },
            badgw::gather::files::CONFIG,
        )
        .unwrap();
        let r = nginx::route_with(&c, &root_req, &no_dns, &files).unwrap();
        let all = nginx::site_routes(&c, &root_req, &no_dns, &files).unwrap();
        // The distinct upstreams each checked once (issue 11): grouping is part of it.
        let ups = badgw::gather::site::group(&all);
        site_wide.push(t.elapsed());
        assert!(!ups.is_empty());
        assert!(r.ends.is_some());
        assert!(all.len() >= 10, "{} locations routed", all.len());
    }
    let nginx_bin = which::which("nginx").unwrap_or_else(|_| "/usr/sbin/nginx".into());
    let mut theirs = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let out = Command::new(&nginx_bin)
            .args(["-t", "-q", "-p"])
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.path().join("logs/error.log"))
            .output()
            .unwrap();
        theirs.push(t.elapsed());
        assert!(
            out.status.success(),
            "nginx -t: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (o, n) = (median(ours.clone()), median(theirs.clone()));
    println!("config: {lines} lines, {SERVERS} server blocks in {SERVERS} included files");
    println!(
        "badgw load + route      median {:>8.2} ms  (min {:.2} ms, {runs} runs)",
        o.as_secs_f64() * 1e3,
        ours.iter().min().unwrap().as_secs_f64() * 1e3
    );
    println!(
        "nginx -t (same files)   median {:>8.2} ms  (min {:.2} ms, {runs} runs)",
        n.as_secs_f64() * 1e3,
        theirs.iter().min().unwrap().as_secs_f64() * 1e3
    );
    println!(
        "badgw load + route / (try_files → index → php)  median {:>8.2} ms  (min {:.2} ms)",
        median(redirects.clone()).as_secs_f64() * 1e3,
        redirects.iter().min().unwrap().as_secs_f64() * 1e3
    );
    println!(
        "badgw load + site-wide (every location routed)  median {:>8.2} ms  (min {:.2} ms)",
        median(site_wide.clone()).as_secs_f64() * 1e3,
        site_wide.iter().min().unwrap().as_secs_f64() * 1e3
    );
    println!(
        "ratio badgw / nginx -t: {:.2}",
        o.as_secs_f64() / n.as_secs_f64()
    );
}
