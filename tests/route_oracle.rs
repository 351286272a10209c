//! nginx is the oracle: generated configurations (many server blocks with exact, wildcard,
//! `.domain`, trailing-wildcard and regex names, `default_server`, two listen ports,
//! shuffled; locations with prefix, `=`, `^~`, `~`, `~*` and nesting) are served by real
//! nginx, where every server block answers with its id (`X-S` header) and every location
//! with its own (`l=<id>` body). For every (host, port, path) combination, badgw's route
//! must name the same server block and location as nginx did.

mod lab;

use std::collections::HashMap;
use std::net::SocketAddr;

use badgw::facts::RequestSpec;
use badgw::nginx;
use lab::{free_port, Lab};

/// A small deterministic generator (xorshift), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

const NAMES: &[&str] = &[
    "shop.example.org",
    "*.example.org",
    ".example.net",
    "www.*",
    r"~^api(\d+)\.example\.org$",
    "_",
    "a.test b.test",
    "*.shop.example.org",
    r"~^(?<sub>[a-z]+)\.regex\.test$",
    "static.example.org",
];

/// (text, whether it nests) — `{id}` is replaced by the location's id.
const LOCATIONS: &[&str] = &[
    "location / { return 200 \"l={id}\\n\"; }",
    "location /api/ { return 200 \"l={id}\\n\"; }",
    "location = /exact { return 200 \"l={id}\\n\"; }",
    "location ^~ /static/ { return 200 \"l={id}\\n\"; }",
    "location ~ \\.php$ { return 200 \"l={id}\\n\"; }",
    "location ~* \\.(jpg|png)$ { return 200 \"l={id}\\n\"; }",
    "location /images/ {\n        location ~ \\.png$ { return 200 \"l={id}n\\n\"; }\n        return 200 \"l={id}\\n\";\n    }",
    "location ~ ^/api/v[0-9]+/ { return 200 \"l={id}\\n\"; }",
    "location /api/v1/ { return 200 \"l={id}\\n\"; }",
    "location = / { return 200 \"l={id}\\n\"; }",
];

const HOSTS: &[&str] = &[
    "shop.example.org",
    "x.example.org",
    "a.shop.example.org",
    "example.net",
    "y.example.net",
    "www.foo.com",
    "api7.example.org",
    "a.test",
    "b.test",
    "unknown.host",
    "SHOP.Example.ORG",
    "abc.regex.test",
    "static.example.org",
];

const PATHS: &[&str] = &[
    "/",
    "/api/x",
    "/api/v1/x",
    "/api/v2/x",
    "/exact",
    "/exact/x",
    "/static/a.png",
    "/images/a.png",
    "/images/a.jpg",
    "/x.php",
    "/X.JPG",
    "/other",
    "/images/",
    "/static/x.php",
];

/// Generated config text, with server ids → line and location ids → line.
struct Generated {
    body: String,
    server_lines: HashMap<String, usize>,
    location_lines: HashMap<String, usize>,
}

/// Builds the http body; `offset` is the line the body starts at in nginx.conf.
fn generate(seed: u64, ports: &[u16], offset: usize) -> Generated {
    let mut rng = Rng(seed);
    let mut names: Vec<&str> = NAMES.to_vec();
    rng.shuffle(&mut names);
    let mut lines: Vec<String> = Vec::new();
    let mut server_lines = HashMap::new();
    let mut location_lines = HashMap::new();
    let mut default_taken: Vec<u16> = Vec::new();
    for (si, name) in names.iter().enumerate() {
        let sid = format!("s{si}");
        server_lines.insert(sid.clone(), offset + lines.len());
        lines.push("server {".into());
        let mut my_ports: Vec<u16> = ports.iter().copied().filter(|_| rng.chance(70)).collect();
        if my_ports.is_empty() {
            my_ports.push(ports[rng.below(ports.len())]);
        }
        for p in my_ports {
            let default = if !default_taken.contains(&p) && rng.chance(20) {
                default_taken.push(p);
                " default_server"
            } else {
                ""
            };
            lines.push(format!("    listen 127.0.0.1:{p}{default};"));
        }
        lines.push(format!("    server_name {name};"));
        lines.push(format!("    add_header X-S {sid} always;"));
        let mut locs: Vec<usize> = (0..LOCATIONS.len()).filter(|_| rng.chance(60)).collect();
        rng.shuffle(&mut locs);
        for (li, &l) in locs.iter().enumerate() {
            let lid = format!("{sid}l{li}");
            let text = LOCATIONS[l].replace("{id}", &lid);
            for (k, t) in text.lines().enumerate() {
                let line_no = offset + lines.len();
                if k == 0 {
                    location_lines.insert(lid.clone(), line_no);
                } else if t.trim_start().starts_with("location") {
                    location_lines.insert(format!("{lid}n"), line_no);
                }
                lines.push(format!("    {t}"));
            }
        }
        lines.push("}".into());
    }
    Generated {
        body: lines.join("\n") + "\n",
        server_lines,
        location_lines,
    }
}

/// Asks nginx: which server (X-S) and location (l=…) answered.
fn ask_nginx(port: u16, host: &str, path: &str) -> (String, Option<String>) {
    let raw = lab::http_get_raw(port, host, path)
        .unwrap_or_else(|e| panic!("GET {host}{path} on {port}: {e}"));
    let text = String::from_utf8_lossy(&raw);
    let server = text
        .lines()
        .find_map(|l| l.strip_prefix("X-S: "))
        .unwrap_or_else(|| panic!("no X-S header for {host}:{port}{path}: {text}"))
        .trim()
        .to_string();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    let location = body.strip_prefix("l=").map(|b| b.trim().to_string());
    (server, location)
}

#[test]
fn badgw_routes_like_nginx() {
    let mut cases = 0;
    let mut mismatches = Vec::new();
    for seed in [
        0x9E37_79B9_7F4A_7C15u64,
        0xD1B5_4A32_D192_ED03,
        0x94D0_49BB_1331_11EB,
    ] {
        let lab = Lab::new("oracle");
        let ports = [free_port(), free_port()];
        // The harness writes the body into its nginx.conf: find the line it starts at.
        let probe = lab::nginx_conf(&lab.dir, "#BODY#");
        let offset = probe
            .lines()
            .position(|l| l.contains("#BODY#"))
            .expect("body marker")
            + 1;
        let g = generate(seed, &ports, offset);
        let nginx = lab.nginx(&g.body);
        let conf = nginx.conf_path.clone();
        let config = nginx::load(
            &nginx::LoadOptions {
                conf_path: conf.clone(),
                prefix: Some(nginx.prefix.clone()),
                dump: None,
            },
            badgw::gather::files::CONFIG,
        )
        .unwrap();
        assert!(config.issues().is_empty(), "{:?}", config.issues());
        let no_dns = |_: &str, _: u16| -> Vec<SocketAddr> { Vec::new() };
        let line_of_server: HashMap<usize, &String> =
            g.server_lines.iter().map(|(k, v)| (*v, k)).collect();
        let line_of_location: HashMap<usize, &String> =
            g.location_lines.iter().map(|(k, v)| (*v, k)).collect();
        for &port in &ports {
            for host in HOSTS {
                for path in PATHS {
                    cases += 1;
                    let (want_server, want_location) = ask_nginx(port, host, path);
                    let req = RequestSpec {
                        site: host.to_ascii_lowercase(),
                        path: path.to_string(),
                        port: Some(port),
                        scheme: None,
                    };
                    let got = nginx::route(&config, &req, &no_dns)
                        .unwrap_or_else(|e| panic!("route {host}:{port}{path}: {e}"));
                    let got_server = line_of_server
                        .get(&(got.server.line as usize))
                        .map(|s| s.to_string())
                        .unwrap_or_default();
                    let got_location = got
                        .location
                        .as_ref()
                        .and_then(|l| line_of_location.get(&(l.line as usize)))
                        .map(|s| s.to_string());
                    if (got_server.as_str(), got_location.as_deref())
                        != (want_server.as_str(), want_location.as_deref())
                    {
                        mismatches.push(format!(
                            "seed {seed:x} {host}:{port}{path}: nginx {want_server}/{want_location:?}, badgw {got_server}/{got_location:?}"
                        ));
                    }
                }
            }
        }
        if !mismatches.is_empty() {
            let text = std::fs::read_to_string(&conf).unwrap();
            panic!(
                "{} of {cases} cases differ:\n{}\n--- config ---\n{text}",
                mismatches.len(),
                mismatches.join("\n")
            );
        }
    }
    assert!(cases >= 300, "only {cases} cases");
    eprintln!("{cases} (host, port, path) cases: badgw and nginx agree on every one");
}

#[test]
fn route_command_json_matches_the_library() {
    let lab = Lab::new("routecmd");
    let ports = [free_port(), free_port()];
    let probe = lab::nginx_conf(&lab.dir, "#BODY#");
    let offset = probe.lines().position(|l| l.contains("#BODY#")).unwrap() + 1;
    let g = generate(42, &ports, offset);
    let nginx = lab.nginx(&g.body);
    let (want_server, want_location) = ask_nginx(ports[0], "shop.example.org", "/api/v2/x");
    let (code, doc) = lab::badgw_json(&[
        "route",
        "--json",
        "--site",
        "shop.example.org",
        "--path",
        "/api/v2/x",
        "--port",
        &ports[0].to_string(),
        "--nginx-conf",
        nginx.conf_path.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["tool"]["name"], "badgw");
    assert_eq!(doc["site"], "shop.example.org");
    assert_eq!(
        doc["route"]["server"]["line"].as_u64().unwrap() as usize,
        g.server_lines[&want_server]
    );
    match want_location {
        Some(l) => assert_eq!(
            doc["route"]["location"]["line"].as_u64().unwrap() as usize,
            g.location_lines[&l]
        ),
        None => assert!(doc["route"]["location"].is_null()),
    }
}

// ---------------------------------------------------------------------------------------
// Internal redirects: index, try_files, error_page, rewrite, return, if, internal, alias,
// access rules, auto 301, map/set variables. Every terminal location passes to its own
// upstream address (nothing listens there: nginx still tries it and logs the address in
// `$upstream_addr`); files are present or absent under the lab's root. For every
// (server, path, method) badgw must name the upstream nginx contacted first, or none.

/// The servers; `@ROOT@` is the document root, `@Un@` upstream ports.
const REDIRECT_SERVERS: &str = r#"
map $uri $mport { default @U19@; ~^/m2/ @U20@; }
map $host $docroot { default @ROOT@; }
server { listen 127.0.0.1:@PORT@; server_name tf;
    root @ROOT@; index index.php index.html;
    location / { try_files $uri $uri/ /index.php?$query_string; }
    location ~ \.php$ { proxy_pass http://127.0.0.1:@U1@; }
    location /api/ { proxy_pass http://127.0.0.1:@U2@; }
    location = /named { try_files /nonexistent @back; }
    location @back { proxy_pass http://127.0.0.1:@U3@; }
    location /codes/ { try_files $uri =418; }
    location /both/ { try_files $uri =404; proxy_pass http://127.0.0.1:@U4@; }
    location /int/ { internal; proxy_pass http://127.0.0.1:@U5@; }
    location /toint { try_files /nofile /int/x; }
    location /dir/ { }
    location /empty/ { }
}
server { listen 127.0.0.1:@PORT@; server_name rw;
    root @ROOT@;
    rewrite ^/old/(.*)$ /new/$1 last;
    rewrite ^/perm/(.*)$ /new/$1 permanent;
    location /new/ { proxy_pass http://127.0.0.1:@U6@; }
    location /loc/ { rewrite ^/loc/(.*)$ /new/$1 break; proxy_pass http://127.0.0.1:@U7@; }
    location /last/ { rewrite ^/last/(.*)$ /new/$1 last; proxy_pass http://127.0.0.1:@U8@; }
    location /ret { return 403; }
    location /cycle/ { rewrite ^ /cycle/again last; }
    location /redir { return 302 /new/x; }
    location /args/ { rewrite ^/args/(\w+)$ /new/$1?from=args last; }
}
server { listen 127.0.0.1:@PORT@; server_name ep;
    root @ROOT@;
    error_page 404 /e404;
    location = /e404 { proxy_pass http://127.0.0.1:@U9@; }
    location /deny/ { deny all; error_page 403 = @denied; }
    location @denied { proxy_pass http://127.0.0.1:@U10@; }
    location /files/ { try_files $uri =404; }
    location /own/ { error_page 418 /x; try_files $uri =404; }
    location /app/ { proxy_pass http://127.0.0.1:@U11@; error_page 502 = @m; }
    location @m { proxy_pass http://127.0.0.1:@U12@; }
    location /r404 { return 404; }
    location /r404text { return 404 "gone"; }
    location /cyc/ { error_page 404 /cyc/x; try_files $uri =404; }
}
server { listen 127.0.0.1:@PORT@; server_name if;
    root @ROOT@;
    if ($request_method = POST) { return 405; }
    location / {
        if (-f $request_filename) { proxy_pass http://127.0.0.1:@U13@; }
        try_files $uri /fallback;
    }
    location = /fallback { proxy_pass http://127.0.0.1:@U14@; }
    location /ifd/ { if (!-d $request_filename) { rewrite ^ /fallback last; } proxy_pass http://127.0.0.1:@U15@; }
    location /ife/ { set $x 1; if ($x) { set $y 2; } try_files $uri =404; proxy_pass http://127.0.0.1:@U16@; }
    location /ifarg/ { if ($arg_go = yes) { return 404; } proxy_pass http://127.0.0.1:@U24@; }
}
server { listen 127.0.0.1:@PORT@; server_name al;
    root @ROOT@;
    location /al/ { alias @ROOT@/aliased/; try_files $uri @miss; }
    location @miss { proxy_pass http://127.0.0.1:@U17@; }
    location ~ ^/ra/(.+)$ { alias @ROOT@/aliased/$1; error_page 404 = @miss2; }
    location @miss2 { proxy_pass http://127.0.0.1:@U18@; }
    location /n/ {
        location ~ \.php$ { proxy_pass http://127.0.0.1:@U25@; }
        location /n/deep/ { proxy_pass http://127.0.0.1:@U26@; }
        try_files $uri /n/x.php;
    }
}
server { listen 127.0.0.1:@PORT@; server_name mp;
    root $docroot;
    location /m/ { proxy_pass http://127.0.0.1:$mport; }
    location /m2/ { proxy_pass http://127.0.0.1:$mport; }
    location /s/ { set $p @U27@; proxy_pass http://127.0.0.1:$p; }
    location /rv/ { try_files $uri /m/fromrv; }
    location /acl/ { allow 10.0.0.0/8; deny all; proxy_pass http://127.0.0.1:@U21@; }
    location /acl2/ { allow 127.0.0.1; deny all; proxy_pass http://127.0.0.1:@U22@; }
    location /le/ { limit_except POST { deny all; } proxy_pass http://127.0.0.1:@U23@; }
}
server { listen 127.0.0.1:@PORT@; server_name au;
    root @ROOT@;
    location /ok/ { auth_request /auth-ok; proxy_pass http://127.0.0.1:@U28@; }
    location /no/ { auth_request /auth-no; proxy_pass http://127.0.0.1:@U29@; }
    location /err/ { auth_request /auth-err; proxy_pass http://127.0.0.1:@U30@; }
    location /off/ {
        auth_request /auth-no;
        location /off/in/ { auth_request off; proxy_pass http://127.0.0.1:@U31@; }
    }
    location /nope/ { auth_request /auth-no; error_page 401 = @login; }
    location @login { proxy_pass http://127.0.0.1:@U32@; }
    location = /auth-ok { internal; return 204; }
    location = /auth-no { internal; return 401; }
    location = /auth-err { internal; return 404; }
}
"#;

/// (server, path, method).
const REDIRECT_CASES: &[(&str, &str, &str)] = &[
    ("tf", "/", "GET"),
    ("tf", "/static/app.js", "GET"),
    ("tf", "/missing", "GET"),
    ("tf", "/missing?a=1", "GET"),
    ("tf", "/api/x", "GET"),
    ("tf", "/api", "GET"),
    ("tf", "/named", "GET"),
    ("tf", "/codes/a", "GET"),
    ("tf", "/both/exists.txt", "GET"),
    ("tf", "/both/missing", "GET"),
    ("tf", "/int/x", "GET"),
    ("tf", "/toint", "GET"),
    ("tf", "/dir/", "GET"),
    ("tf", "/empty/", "GET"),
    ("tf", "/dir", "GET"),
    ("tf", "/x.php", "GET"),
    ("tf", "/static/", "GET"),
    ("rw", "/old/a", "GET"),
    ("rw", "/perm/a", "GET"),
    ("rw", "/loc/a", "GET"),
    ("rw", "/last/a", "GET"),
    ("rw", "/ret", "GET"),
    ("rw", "/cycle/x", "GET"),
    ("rw", "/redir", "GET"),
    ("rw", "/args/abc?x=1", "GET"),
    ("rw", "/new/q", "GET"),
    ("ep", "/nothing", "GET"),
    ("ep", "/deny/x", "GET"),
    ("ep", "/files/present.txt", "GET"),
    ("ep", "/files/absent.txt", "GET"),
    ("ep", "/own/absent", "GET"),
    ("ep", "/app/x", "GET"),
    ("ep", "/r404", "GET"),
    ("ep", "/r404text", "GET"),
    ("ep", "/cyc/a", "GET"),
    ("if", "/page.html", "GET"),
    ("if", "/nope.html", "GET"),
    ("if", "/page.html", "POST"),
    ("if", "/ifd/", "GET"),
    ("if", "/ifd/none/", "GET"),
    ("if", "/ife/missing", "GET"),
    ("if", "/ifarg/x?go=yes", "GET"),
    ("if", "/ifarg/x?go=no", "GET"),
    ("al", "/al/present.txt", "GET"),
    ("al", "/al/absent.txt", "GET"),
    ("al", "/ra/present.txt", "GET"),
    ("al", "/ra/absent.txt", "GET"),
    ("al", "/n/a", "GET"),
    ("al", "/n/b.php", "GET"),
    ("al", "/n/deep/x", "GET"),
    ("mp", "/m/x", "GET"),
    ("mp", "/m2/x", "GET"),
    ("mp", "/s/x", "GET"),
    ("mp", "/rv/none", "GET"),
    ("mp", "/rv/../page.html", "GET"),
    ("mp", "/acl/x", "GET"),
    ("mp", "/acl2/x", "GET"),
    ("mp", "/le/x", "GET"),
    ("mp", "/le/x", "POST"),
    ("mp", "/page.html", "GET"),
    ("au", "/ok/x", "GET"),
    ("au", "/no/x", "GET"),
    ("au", "/err/x", "GET"),
    ("au", "/off/in/x", "GET"),
    ("au", "/off/x", "GET"),
    ("au", "/nope/x", "GET"),
    ("au", "/auth-ok", "GET"),
];

/// The document root's files and directories.
fn make_root(root: &std::path::Path) {
    for d in [
        "static", "both", "aliased", "files", "dir", "empty", "ifd", "n", "e",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    for f in [
        "index.php",
        "static/app.js",
        "both/exists.txt",
        "aliased/present.txt",
        "files/present.txt",
        "dir/index.html",
        "page.html",
    ] {
        std::fs::write(root.join(f), "x\n").unwrap();
    }
}

/// badgw's upstream for the comparison: none when the route does not end at an upstream;
/// else the address nginx contacted when it is one of the route's (a group's servers are
/// tried in turn), or the group's name when nginx logged that (no live upstreams), else the
/// route's first address.
fn agreeing_upstream(r: &badgw::facts::Route, nginx_said: &Option<String>) -> Option<String> {
    if r.ends.as_deref() != Some("upstream") {
        return None;
    }
    if let Some(w) = nginx_said {
        if r.upstreams.iter().any(|u| &u.address == w) || r.group.as_ref() == Some(w) {
            return Some(w.clone());
        }
    }
    r.upstreams.first().map(|u| u.address.clone())
}

/// One request with a case id header; nginx's access log line for it carries the id.
fn send(port: u16, host: &str, method: &str, path: &str, id: usize) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to nginx");
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let body = if method == "POST" {
        "Content-Length: 0\r\n"
    } else {
        ""
    };
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nX-Case: {id}\r\n{body}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Runs every redirect case against nginx and badgw; returns the mismatches and the count.
fn redirect_cases(mutate: Option<&dyn Fn(&str) -> String>) -> (Vec<String>, usize) {
    let lab = Lab::new("oracle-redirects");
    let root = lab.path("www");
    make_root(&root);
    let port = free_port();
    let mut ports: HashMap<String, u16> = HashMap::new();
    let mut body = REDIRECT_SERVERS
        .replace("@ROOT@", root.to_str().unwrap())
        .replace("@PORT@", &port.to_string());
    for n in (1..=32).rev() {
        let p = free_port();
        ports.insert(format!("127.0.0.1:{p}"), n);
        body = body.replace(&format!("@U{n}@"), &p.to_string());
    }
    let log = lab.path("upstream.log");
    let http = format!(
        "log_format oracle '$http_x_case $status $upstream_addr';\n\
         access_log {} oracle;\n\
         proxy_connect_timeout 2s;\n{body}",
        log.display()
    );
    let nginx = lab.nginx(&http);
    let badgw_conf = match mutate {
        Some(f) => {
            let text = std::fs::read_to_string(&nginx.conf_path).unwrap();
            let p = lab.path("mutated.conf");
            std::fs::write(&p, f(&text)).unwrap();
            p
        }
        None => nginx.conf_path.clone(),
    };
    let config = nginx::load(
        &nginx::LoadOptions {
            conf_path: badgw_conf,
            prefix: Some(nginx.prefix.clone()),
            dump: None,
        },
        badgw::gather::files::CONFIG,
    )
    .unwrap();
    assert!(config.issues().is_empty(), "{:?}", config.issues());
    let files = badgw::gather::files::HostFiles::new();
    let no_dns = |_: &str, _: u16| -> Vec<SocketAddr> { Vec::new() };
    let mut mismatches = Vec::new();
    for (id, (host, path, method)) in REDIRECT_CASES.iter().enumerate() {
        let status = send(port, host, method, path, id);
        let line = lab::wait_for_line(&log, &format!("{id} {status} "));
        let want = line
            .split_whitespace()
            .nth(2)
            .filter(|a| *a != "-")
            .map(|a| a.trim_end_matches(',').to_string());
        let req = RequestSpec {
            site: host.to_string(),
            path: path.to_string(),
            port: Some(port),
            scheme: None,
        };
        let r = nginx::route_request(
            &config,
            &req,
            &no_dns,
            &files,
            method,
            Some("127.0.0.1".parse().unwrap()),
        )
        .unwrap_or_else(|e| panic!("route {host}{path}: {e}"));
        let got = agreeing_upstream(&r, &want);
        let name = |a: &Option<String>| match a {
            Some(a) => format!("U{}", ports.get(a).copied().unwrap_or(0)),
            None => "none".into(),
        };
        if want != got {
            mismatches.push(format!(
                "{method} {host}{path}: nginx {} (status {status}), badgw {} via {}",
                name(&want),
                name(&got),
                r.hops
                    .iter()
                    .map(|h| h.text.clone())
                    .collect::<Vec<_>>()
                    .join(" → ")
            ));
        }
    }
    (mismatches, REDIRECT_CASES.len())
}

#[test]
fn internal_redirects_like_nginx() {
    let (mismatches, cases) = redirect_cases(None);
    assert!(
        mismatches.is_empty(),
        "{} of {cases} cases differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert!(cases >= 60, "only {cases} cases");
    eprintln!(
        "{cases} internal-redirect cases: badgw names the upstream nginx contacted in every one"
    );
}

/// The test can fail: badgw reading a configuration whose `try_files` fallback differs
/// from nginx's must disagree with nginx.
#[test]
fn internal_redirects_mutation_is_caught() {
    let mutate = |t: &str| {
        t.replace(
            "try_files $uri $uri/ /index.php?$query_string;",
            "try_files $uri $uri/ =404;",
        )
        .replace("error_page 404 /e404;", "error_page 404 /nowhere;")
    };
    let (mismatches, cases) = redirect_cases(Some(&mutate));
    assert!(
        mismatches.len() >= 2,
        "a mutated configuration went unnoticed: {mismatches:?}"
    );
    eprintln!(
        "mutation: {} of {cases} cases disagree with nginx, as they must",
        mismatches.len()
    );
}

// ---------------------------------------------------------------------------------------
// Published configurations of well-known applications (fixtures/configs/apps/, each citing
// its source and adapted to loopback only in ports, addresses, certificates and paths),
// served by real nginx one at a time: for every path its header lists, badgw must name the
// upstream nginx contacted first, or none.

/// The files and directories the apps' roots hold (an installed app's usual files).
fn make_app_root(root: &std::path::Path) {
    for d in [
        "war/css",
        "home/userContent",
        "moodledata",
        "share/phpmyadmin/themes",
        "share/phpmyadmin/doc/html",
        "html",
        "public/javascripts",
        "public/assets",
        "public/css",
        "images",
        "administrator",
        "wp-content/uploads",
        "wp-admin",
        "login",
        "theme",
        "themes",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    for f in [
        "index.php",
        "index.html",
        "war/css/style.css",
        "home/userContent/readme.txt",
        "login/index.php",
        "pluginfile.php",
        "theme/styles.php",
        "share/phpmyadmin/index.php",
        "share/phpmyadmin/themes/x.css",
        "share/phpmyadmin/doc/html/index.html",
        "html/index.html",
        "public/index.php",
        "public/favicon.ico",
        "public/javascripts/application.js",
        "public/assets/app.css",
        "public/robots.txt",
        "public/css/app.css",
        "images/photo.jpg",
        "images/evil.php",
        "administrator/index.php",
        "robots.txt",
        "favicon.ico",
        "wp-login.php",
        "xmlrpc.php",
        "wp-content/uploads/a.png",
        "wp-admin/index.php",
        "composer.json",
    ] {
        std::fs::write(root.join(f), "x\n").unwrap();
    }
}

/// GET with Host; (status, the X-Upstream header when present).
fn send_for_header(port: u16, host: &str, path: &str) -> (u16, Option<String>) {
    let raw = lab::http_get_raw(port, host, path)
        .unwrap_or_else(|e| panic!("GET {host}{path} on {port}: {e}"));
    let text = String::from_utf8_lossy(&raw);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let up = head
        .lines()
        .find_map(|l| l.strip_prefix("X-Upstream: "))
        .map(|v| v.trim().to_string());
    (status, up)
}

#[test]
fn published_app_configs_route_like_nginx() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/configs/apps");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "only {} app configs", files.len());
    let mut cases = 0;
    let mut mismatches = Vec::new();
    let server_open = regex::Regex::new(r"(?m)^server \{\n").unwrap();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(
            text.lines().next().is_some_and(|l| l.starts_with('#')) && text.contains("https://"),
            "{} must start with a comment citing its source",
            file.display()
        );
        let paths: Vec<String> = text
            .lines()
            .find_map(|l| l.strip_prefix("# paths:"))
            .unwrap_or_else(|| panic!("{} lists no `# paths:`", file.display()))
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let server_name = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("server_name "))
            .and_then(|l| l.trim_end_matches(';').split_whitespace().next())
            .unwrap()
            .to_string();
        let lab = Lab::new("oracle-apps");
        let root = lab.path("app");
        make_app_root(&root);
        let port = free_port();
        let mut ports: HashMap<String, String> = HashMap::new();
        let sock = lab.path("app.sock");
        let mut body = text
            .replace("@LISTEN@", &format!("127.0.0.1:{port}"))
            .replace("@ROOT@", root.to_str().unwrap())
            .replace(
                "@LOGS@",
                lab.path("").to_str().unwrap().trim_end_matches('/'),
            )
            .replace("@SOCK1@", sock.to_str().unwrap());
        ports.insert(format!("unix:{}", sock.display()), "SOCK1".into());
        for n in 1..=3 {
            let p = free_port();
            ports.insert(format!("127.0.0.1:{p}"), format!("U{n}"));
            body = body.replace(&format!("@U{n}@"), &p.to_string());
        }
        // Every server says which upstream it contacted (an add_header at the server level is
        // inherited by locations that set none; these configs' locations set none).
        let http = server_open
            .replace_all(
                &body,
                "server {\n    add_header X-Upstream $$upstream_addr always;\n",
            )
            .into_owned();
        let nginx = lab.nginx(&http);
        let config = nginx::load(
            &nginx::LoadOptions {
                conf_path: nginx.conf_path.clone(),
                prefix: Some(nginx.prefix.clone()),
                dump: None,
            },
            badgw::gather::files::CONFIG,
        )
        .unwrap();
        assert!(config.issues().is_empty(), "{:?}", config.issues());
        let files_view = badgw::gather::files::HostFiles::new();
        let no_dns = |_: &str, _: u16| -> Vec<SocketAddr> { Vec::new() };
        let app = file.file_stem().unwrap().to_string_lossy().to_string();
        for (id, path) in paths.iter().enumerate() {
            cases += 1;
            let (status, upstream) = send_for_header(port, &server_name, path);
            let want = upstream
                .filter(|a| a != "-" && !a.is_empty())
                .map(|a| a.split([',', ' ']).next().unwrap_or("").to_string());
            let _ = id;
            let req = RequestSpec {
                site: server_name.clone(),
                path: path.clone(),
                port: Some(port),
                scheme: None,
            };
            let r = nginx::route_request(
                &config,
                &req,
                &no_dns,
                &files_view,
                "GET",
                Some("127.0.0.1".parse().unwrap()),
            )
            .unwrap_or_else(|e| panic!("{app} {path}: {e}"));
            let got = agreeing_upstream(&r, &want);
            let name = |a: &Option<String>| match a {
                Some(a) => ports.get(a).cloned().unwrap_or_else(|| a.clone()),
                None => "none".into(),
            };
            if want != got {
                mismatches.push(format!(
                    "{app} {path}: nginx {} (status {status}), badgw {} via {}",
                    name(&want),
                    name(&got),
                    r.hops
                        .iter()
                        .map(|h| h.text.clone())
                        .collect::<Vec<_>>()
                        .join(" → ")
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {cases} cases differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    eprintln!(
        "{} published app configs, {cases} paths: badgw names the upstream nginx contacted in every one",
        files.len()
    );
}
