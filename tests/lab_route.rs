//! Real-nginx scenarios where the request reaches its upstream only through internal
//! redirects, diagnosed with no `--path` (site-wide mode): Debian's default site with its
//! PHP block enabled and PHP-FPM stopped, and an SPA whose `/` is static and whose `/api/`
//! is proxied to a dead app (the same root cause with and without `--path`).

mod lab;

use std::time::Duration;

use lab::{free_port, Lab};
use serde_json::Value;

fn top_cause(report: &Value) -> String {
    report["findings"][0]["cause"]
        .as_str()
        .unwrap_or_else(|| panic!("no finding in {report:#}"))
        .to_string()
}

/// Debian's /etc/nginx/sites-available/default with the PHP block uncommented, and its
/// snippets/fastcgi-php.conf, rooted in the lab. PHP-FPM is not running: its socket is
/// absent. nginx itself sends `/` to the PHP location (index → index.php).
#[test]
fn debian_default_site_with_php_fpm_stopped_is_socket_missing() {
    let lab = Lab::new("debian-php");
    let root = lab.path("www");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("index.php"), "<?php phpinfo();\n").unwrap();
    std::fs::write(root.join("index.nginx-debian.html"), "welcome\n").unwrap();
    let run = lab.path("run/php");
    std::fs::create_dir_all(&run).unwrap();
    let sock = run.join("php8.2-fpm.sock");
    let snippet = lab.path("fastcgi-php.conf");
    std::fs::write(
        &snippet,
        "fastcgi_split_path_info ^(.+?\\.php)(/.*)$;\n\
         try_files $fastcgi_script_name =404;\n\
         set $path_info $fastcgi_path_info;\n\
         fastcgi_param PATH_INFO $path_info;\n\
         fastcgi_index index.php;\n",
    )
    .unwrap();
    let port = free_port();
    let body = format!(
        "server {{
    listen 127.0.0.1:{port} default_server;
    root {root};
    index index.php index.html index.htm index.nginx-debian.html;
    server_name _;
    location / {{
        try_files $uri $uri/ =404;
    }}
    location ~ \\.php$ {{
        include {snippet};
        fastcgi_pass unix:{sock};
    }}
}}",
        root = root.display(),
        snippet = snippet.display(),
        sock = sock.display()
    );
    let nginx = lab.nginx(&body);
    assert_eq!(
        lab.get(port, "localhost", "/").0,
        502,
        "nginx must fail on /"
    );
    let conf = nginx.conf_path.to_str().unwrap().to_string();
    let (code, report) = lab::diagnose_json(&["--site", "localhost", "--nginx-conf", &conf]);
    assert_eq!(top_cause(&report), "socket-missing", "{report:#}");
    assert_eq!(code, 1, "{report:#}");
    let fixes = report["findings"][0]["fixes"].to_string();
    // Its unit where systemd runs the host, else Debian's binary.
    assert!(
        fixes.contains("php8.2-fpm") || fixes.contains("php-fpm8.2"),
        "{fixes}"
    );
    let hops = report["route"]["hops"].to_string();
    assert!(hops.contains("index.php"), "{hops}");
    // The human chain names each hop with its line.
    let out = lab::badgw()
        .args(["route", "--site", "localhost", "--nginx-conf", &conf])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("try_files")
            && text.contains("location ~ \\.php$")
            && text.contains("fastcgi_pass unix:"),
        "{text}"
    );
}

/// `/` serves files, `/api/` proxies to an app that is not running: without `--path` the
/// diagnosis is the same as for a request to /api/.
#[test]
fn spa_with_proxied_api_ranks_the_same_with_and_without_path() {
    let lab = Lab::new("spa");
    let root = lab.path("dist");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("index.html"), "<div id=app></div>\n").unwrap();
    let (front, back) = (free_port(), free_port());
    let body = format!(
        "server {{
    listen 127.0.0.1:{front};
    server_name spa.example.test;
    root {root};
    location / {{ try_files $uri $uri/ /index.html; }}
    location /api/ {{ proxy_pass http://127.0.0.1:{back}; }}
}}",
        root = root.display()
    );
    let nginx = lab.nginx(&body);
    assert_eq!(lab.get(front, "spa.example.test", "/").0, 200);
    assert_eq!(lab.get(front, "spa.example.test", "/api/users").0, 502);
    let conf = nginx.conf_path.to_str().unwrap().to_string();
    let (code_site, site) =
        lab::diagnose_json(&["--site", "spa.example.test", "--nginx-conf", &conf]);
    let (code_path, path) = lab::diagnose_json(&[
        "--site",
        "spa.example.test",
        "--path",
        "/api/users",
        "--nginx-conf",
        &conf,
    ]);
    assert_eq!(top_cause(&path), "upstream-down", "{path:#}");
    assert_eq!(top_cause(&site), top_cause(&path), "{site:#}");
    assert_eq!((code_site, code_path), (1, 1));
}

/// A Laravel-style front controller (`try_files $uri $uri/ /index.php?$query_string`) on a
/// PHP-FPM pool over TCP with one worker: slow requests fill it, PHP-FPM logs "server
/// reached max_children", nginx times out connecting. Without `--path`, the route reaches
/// the pool through try_files, and pool-exhausted leads with the timeouts explained by it.
#[test]
fn front_controller_on_a_full_tcp_pool_is_pool_exhausted() {
    let lab = Lab::new("fpm-tcp");
    let (front, fport) = (free_port(), free_port());
    let site = format!("laravel-{front}.test");
    let fpm = lab::fpm::start(
        &lab,
        &[("index.php", "<?php usleep(4000000); echo \"done\\n\";\n")],
        &format!(
            "listen = 127.0.0.1:{fport}\nlisten.backlog = 0\npm = ondemand\npm.max_children = 1\nrequest_terminate_timeout = 10s"
        ),
    );
    let nginx = lab.nginx(&format!(
        "server {{ listen 127.0.0.1:{front}; server_name {site}; root {www}; index index.php;
           location / {{ try_files $uri $uri/ /index.php?$query_string; }}
           location ~ \\.php$ {{
               fastcgi_pass 127.0.0.1:{fport};
               fastcgi_connect_timeout 1s;
               fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
               fastcgi_param REQUEST_METHOD $request_method;
           }}
         }}",
        www = fpm.www.display()
    ));
    let mut inflight = Vec::new();
    for i in 0..8 {
        let s = std::net::TcpStream::connect(("127.0.0.1", front)).unwrap();
        use std::io::Write;
        let mut s = s;
        write!(s, "GET /users/{i} HTTP/1.0\r\nHost: {site}\r\n\r\n").unwrap();
        inflight.push(s);
        std::thread::sleep(Duration::from_millis(50));
    }
    nginx.wait_log("while connecting to upstream");
    let log = nginx.error_log_text();
    assert!(log.contains("upstream timed out (110"), "{log}");
    let (code, report) = lab::diagnose_json(&[
        "--site",
        &site,
        "--nginx-conf",
        nginx.conf_path.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(top_cause(&report), "pool-exhausted", "{report:#}");
    let findings = report["findings"].as_array().unwrap();
    let t = findings
        .iter()
        .find(|f| f["cause"] == "upstream-timeout")
        .unwrap_or_else(|| panic!("the connect timeouts are reported: {report:#}"));
    assert_eq!(t["explained_by"], "pool-exhausted", "{report:#}");
    drop(inflight);
}

/// `error_page 502 = @maintenance` masks the dead app: clients get the maintenance page
/// (503), not a 502. badgw still names the dead upstream as the root cause, and the route
/// says which error_page takes over.
#[test]
fn maintenance_error_page_masking_a_dead_app() {
    let lab = Lab::new("maint");
    let (front, back) = (free_port(), free_port());
    let site = "maint.example.test";
    let body = format!(
        "server {{
    listen 127.0.0.1:{front};
    server_name {site};
    location / {{
        proxy_pass http://127.0.0.1:{back};
        error_page 502 = @maintenance;
    }}
    location @maintenance {{
        return 503 \"down for maintenance\\n\";
    }}
}}"
    );
    let nginx = lab.nginx(&body);
    let (status, text) = lab.get(front, site, "/");
    assert_eq!((status, text.trim()), (503, "down for maintenance"));
    nginx.wait_log("connect() failed (111: Connection refused)");
    let conf = nginx.conf_path.to_str().unwrap().to_string();
    let (code, report) = lab::diagnose_json(&["--site", site, "--nginx-conf", &conf]);
    assert_eq!(top_cause(&report), "upstream-down", "{report:#}");
    assert_eq!(code, 1);
    let masking = report["route"]["on_upstream_error"]
        .as_str()
        .unwrap_or_default();
    assert!(
        masking.contains("502 → error_page @maintenance"),
        "{report:#}"
    );
    let out = lab::badgw()
        .args([
            "route",
            "--site",
            site,
            "--path",
            "/",
            "--nginx-conf",
            &conf,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("when the upstream fails: 502 → error_page @maintenance"),
        "{text}"
    );
}
