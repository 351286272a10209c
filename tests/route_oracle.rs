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
        let config = nginx::load(&nginx::LoadOptions {
            conf_path: conf.clone(),
            prefix: Some(nginx.prefix.clone()),
            dump: None,
        })
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
