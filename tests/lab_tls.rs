//! The upstream's certificate, read over a direct TLS connection, in upstream-tls-verify
//! findings — against real nginx proxying with `proxy_ssl_verify on` to real TLS upstreams
//! (second server blocks with `ssl`) whose certificates this test makes with the openssl
//! CLI: one whose name is not the one nginx verifies, one that expired (issued with
//! backdated dates by `openssl ca`), and a self-signed one missing from the trusted file.
//! Requests through nginx put nginx's own verify errors in its error log; `diagnose` must
//! lead with upstream-tls-verify, name the certificate's names and expiry, and give the
//! exact fix. An expired certificate no request met yet is found from the certificate
//! alone; with `proxy_ssl_verify` off (nginx's default) it is no finding at all.

mod lab;

use std::path::Path;

use lab::tls::openssl;
use lab::{free_port, Lab};

/// A key and a signing request for `name` (CN and DNS subjectAltName).
fn request(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
        ],
    );
    std::fs::write(
        dir.join(format!("{name}.ext")),
        format!("subjectAltName=DNS:{name}\n"),
    )
    .unwrap();
}

/// ca.pem; web.local and api.internal signed by it (valid); app.internal signed by it, valid 2020-01-01 to
/// 2021-01-01 (expired); self.internal self-signed (valid, not in ca.pem).
fn make_certs(dir: &Path) {
    lab::tls::self_signed(dir, "ca", "/CN=badgw lab tls ca", None);
    request(dir, "web.local");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "web.local.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "web.local.ext",
            "-out",
            "web.local.pem",
        ],
    );
    // api.internal, valid, for the upstream that picks its certificate by SNI.
    request(dir, "api.internal");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "api.internal.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "api.internal.ext",
            "-out",
            "api.internal.pem",
        ],
    );
    // `openssl ca` takes explicit dates: an already expired certificate of the same CA.
    request(dir, "app.internal");
    std::fs::write(
        dir.join("ca.cnf"),
        "[ca]\ndefault_ca=lab\n[lab]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\n\
         default_md=sha256\npolicy=any\nunique_subject=no\n[any]\ncommonName=supplied\n",
    )
    .unwrap();
    std::fs::write(dir.join("index.txt"), "").unwrap();
    std::fs::write(dir.join("serial"), "1000\n").unwrap();
    openssl(
        dir,
        &[
            "ca",
            "-batch",
            "-notext",
            "-config",
            "ca.cnf",
            "-cert",
            "ca.pem",
            "-keyfile",
            "ca.key",
            "-in",
            "app.internal.csr",
            "-extfile",
            "app.internal.ext",
            "-startdate",
            "20200101000000Z",
            "-enddate",
            "20210101000000Z",
            "-out",
            "app.internal.pem",
        ],
    );
    lab::tls::self_signed(
        dir,
        "self.internal",
        "/CN=self.internal",
        Some("DNS:self.internal"),
    );
}

/// A TLS upstream answering 200 on `ports` with the certificate `name`.
fn tls_server(dir: &Path, name: &str, ports: &[u16]) -> String {
    let listens: String = ports
        .iter()
        .map(|p| format!("        listen 127.0.0.1:{p} ssl;\n"))
        .collect();
    let d = dir.display();
    format!(
        "    server {{\n{listens}\
         \x20       ssl_certificate {d}/{name}.pem;\n\
         \x20       ssl_certificate_key {d}/{name}.key;\n\
         \x20       return 200 \"{name} ok\\n\";\n\
         \x20   }}\n"
    )
}

fn site(p: u16) -> String {
    format!("tls-{p}.example.test")
}

/// The findings of `diagnose --json` for the site, and the first one.
fn diagnose(port: u16) -> (i32, serde_json::Value) {
    lab::diagnose_json(&["--site", &site(port)])
}

fn texts(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|e| e.to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn certificate_names_expiry_and_trust_in_the_diagnosis() {
    let lab = Lab::new("tlscert");
    let dir = lab.path("");
    make_certs(&dir);
    let (mism, expired, selfs, quiet, off) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    // One TLS port per scenario: nginx keeps TLS sessions per upstream address.
    let web = free_port();
    let app = [free_port(), free_port(), free_port()];
    let me = free_port();
    let d = dir.display();
    let trusted = format!("proxy_ssl_verify on; proxy_ssl_trusted_certificate {d}/ca.pem;");
    let body = [
        tls_server(&dir, "web.local", &[web]),
        tls_server(&dir, "app.internal", &app),
        tls_server(&dir, "self.internal", &[me]),
        // The name nginx verifies is the IP of proxy_pass: not on the certificate.
        lab::proxy_server(
            mism,
            &site(mism),
            &format!("https://127.0.0.1:{web}"),
            &trusted,
        ),
        lab::proxy_server(
            expired,
            &site(expired),
            &format!("https://127.0.0.1:{}", app[0]),
            &format!("{trusted} proxy_ssl_name app.internal; proxy_ssl_server_name on;"),
        ),
        lab::proxy_server(
            selfs,
            &site(selfs),
            &format!("https://127.0.0.1:{me}"),
            &format!("{trusted} proxy_ssl_name self.internal;"),
        ),
        // Never requested: only the certificate can tell.
        lab::proxy_server(
            quiet,
            &site(quiet),
            &format!("https://127.0.0.1:{}", app[1]),
            &format!("{trusted} proxy_ssl_name app.internal;"),
        ),
        // nginx's default: no verification, the expired certificate is accepted.
        lab::proxy_server(
            off,
            &site(off),
            &format!("https://127.0.0.1:{}", app[2]),
            "",
        ),
    ]
    .concat();
    let nginx = lab.nginx(&body);
    assert_eq!(lab.get(mism, &site(mism), "/").0, 502);
    nginx.wait_log("upstream SSL certificate does not match \"127.0.0.1\"");
    assert_eq!(lab.get(expired, &site(expired), "/").0, 502);
    nginx.wait_log("certificate has expired");
    assert_eq!(lab.get(selfs, &site(selfs), "/").0, 502);
    nginx.wait_log("self-signed certificate");
    assert_eq!(
        lab.get(off, &site(off), "/"),
        (200, "app.internal ok\n".into())
    );

    // Name mismatch: both names in the evidence; the fix verifies the certificate's name.
    let (code, report) = diagnose(mism);
    assert_eq!(code, 1, "{report:#}");
    let f = &report["findings"][0];
    assert_eq!(f["cause"], "upstream-tls-verify", "{report:#}");
    let ev = texts(&f["evidence"]);
    assert!(
        ev.iter()
            .any(|e| e.contains("upstream SSL certificate does not match")),
        "{ev:#?}"
    );
    assert!(
        ev.iter()
            .any(|e| e.contains("names web.local, nginx verifies 127.0.0.1")),
        "{ev:#?}"
    );
    let fixes = f["fixes"].to_string();
    assert!(
        fixes.contains("proxy_ssl_name web.local;") && fixes.contains("proxy_ssl_server_name on;"),
        "{fixes}"
    );

    // The fix as `diagnose --fix` carries it out (edit, nginx -t, reload): the request
    // through nginx then verifies and succeeds.
    let mut cmd = lab::badgw();
    cmd.args(["diagnose", "--site", &site(mism), "--fix", "--yes"])
        .env("NO_COLOR", "1")
        .env("BADGW_BACKUP_DIR", lab.path("backups"));
    let out = lab::run_with_timeout(cmd, std::time::Duration::from_secs(60));
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut got = lab.get(mism, &site(mism), "/");
    while got.0 != 200 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
        got = lab.get(mism, &site(mism), "/");
    }
    assert_eq!(got, (200, "web.local ok\n".into()), "{text}");

    // Expired: the names and the date it expired; the fix is to renew it.
    let (_, report) = diagnose(expired);
    let f = &report["findings"][0];
    assert_eq!(f["cause"], "upstream-tls-verify", "{report:#}");
    let ev = texts(&f["evidence"]);
    assert!(
        ev.iter()
            .any(|e| e.contains("certificate for app.internal, expired 2021-01-01 00:00 UTC")),
        "{ev:#?}"
    );
    assert!(f["fixes"].to_string().contains("renew"), "{f:#}");
    assert!(
        !f["fixes"].to_string().contains("proxy_ssl_name"),
        "the name matches: {f:#}"
    );

    // Self-signed, not in the trusted file: trust exactly it.
    let (_, report) = diagnose(selfs);
    let f = &report["findings"][0];
    assert_eq!(f["cause"], "upstream-tls-verify", "{report:#}");
    let ev = texts(&f["evidence"]);
    assert!(
        ev.iter().any(|e| e.contains("self-signed and not trusted")
            && e.contains(&format!("{d}/ca.pem does not lead to it"))),
        "{ev:#?}"
    );
    let fixes = f["fixes"].to_string();
    assert!(
        fixes.contains("proxy_ssl_trusted_certificate") && fixes.contains("upstream-127.0.0.1-"),
        "{fixes}"
    );

    // No request yet: the certificate alone shows what nginx will reject.
    let (code, report) = diagnose(quiet);
    assert_eq!(code, 1, "{report:#}");
    let f = &report["findings"][0];
    assert_eq!(f["cause"], "upstream-tls-verify", "{report:#}");
    assert_eq!(f["check"], "upstream-tls-certificate", "{report:#}");
    assert!(
        texts(&f["evidence"])
            .iter()
            .any(|e| e.contains("expired 2021-01-01")),
        "{f:#}"
    );

    // Verification off: nginx accepts it, so it is no finding.
    let (_, report) = diagnose(off);
    let causes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["cause"].as_str())
        .collect();
    assert!(!causes.contains(&"upstream-tls-verify"), "{report:#}");
    let row = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "upstream-tls-certificate")
        .cloned()
        .unwrap();
    assert_eq!(row["status"], "pass", "{row:#}");
    assert!(
        row["detail"]
            .as_str()
            .unwrap()
            .contains("proxy_ssl_verify is off"),
        "{row:#}"
    );
}

/// root → i1 → i2 → deep.internal, the upstream sending the leaf with both intermediates.
fn make_deep_chain(dir: &Path) {
    lab::tls::self_signed(dir, "root", "/CN=badgw lab root", None);
    std::fs::write(
        dir.join("ca.ext"),
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
    )
    .unwrap();
    for (name, issuer) in [("i1", "root"), ("i2", "i1")] {
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                &format!("/CN=badgw lab {name}"),
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                &format!("{issuer}.pem"),
                "-CAkey",
                &format!("{issuer}.key"),
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "ca.ext",
                "-out",
                &format!("{name}.pem"),
            ],
        );
    }
    request(dir, "deep.internal");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "deep.internal.csr",
            "-CA",
            "i2.pem",
            "-CAkey",
            "i2.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "deep.internal.ext",
            "-out",
            "leaf.pem",
        ],
    );
    let chain: String = ["leaf.pem", "i2.pem", "i1.pem"]
        .iter()
        .map(|f| std::fs::read_to_string(dir.join(f)).unwrap())
        .collect();
    std::fs::write(dir.join("deep.internal.pem"), chain).unwrap();
}

/// Two intermediates under nginx's default `proxy_ssl_verify_depth 1`, and a trusted file
/// that holds an intermediate but not the root: both are rejected by nginx's OpenSSL
/// though every signature is fine (the first with "unable to get local issuer
/// certificate", as if the CA were missing); the diagnosis must say which, and the depth
/// fix must work when `diagnose --fix` carries it out.
#[test]
fn chain_depth_and_a_rootless_trusted_file() {
    let lab = Lab::new("tlsdepth");
    let dir = lab.path("");
    make_deep_chain(&dir);
    let (deep, rootless) = (free_port(), free_port());
    let tls = [free_port(), free_port()];
    let d = dir.display();
    let body = [
        tls_server(&dir, "deep.internal", &tls),
        lab::proxy_server(
            deep,
            &site(deep),
            &format!("https://127.0.0.1:{}", tls[0]),
            &format!(
                "proxy_ssl_verify on; proxy_ssl_trusted_certificate {d}/root.pem; proxy_ssl_name deep.internal;"
            ),
        ),
        lab::proxy_server(
            rootless,
            &site(rootless),
            &format!("https://127.0.0.1:{}", tls[1]),
            &format!(
                "proxy_ssl_verify on; proxy_ssl_verify_depth 4; proxy_ssl_trusted_certificate {d}/i1.pem; proxy_ssl_name deep.internal;"
            ),
        ),
    ]
    .concat();
    let nginx = lab.nginx(&body);
    assert_eq!(lab.get(deep, &site(deep), "/").0, 502);
    // What nginx 1.22's OpenSSL logs when the depth stops the chain short of the root: the
    // same words as a missing CA, which is why the diagnosis has to count the chain.
    nginx.wait_log("(20:unable to get local issuer certificate)");
    assert_eq!(lab.get(rootless, &site(rootless), "/").0, 502);
    nginx.wait_log("unable to get issuer certificate");

    let (_, report) = diagnose(deep);
    let f = &report["findings"][0];
    assert_eq!(f["cause"], "upstream-tls-verify", "{report:#}");
    assert!(
        texts(&f["evidence"])
            .iter()
            .any(|e| e.contains("its chain has 2 CA certificate(s)")),
        "{f:#}"
    );
    assert!(
        f["fixes"].to_string().contains("proxy_ssl_verify_depth 2;"),
        "{f:#}"
    );

    let (_, report) = diagnose(rootless);
    let f = &report["findings"][0];
    assert_eq!(f["cause"], "upstream-tls-verify", "{report:#}");
    assert!(
        texts(&f["evidence"])
            .iter()
            .any(|e| e.contains("not the root cn=badgw lab root")),
        "{f:#}"
    );

    // The depth fix, carried out: the same request then succeeds.
    let mut cmd = lab::badgw();
    cmd.args(["diagnose", "--site", &site(deep), "--fix", "--yes"])
        .env("NO_COLOR", "1")
        .env("BADGW_BACKUP_DIR", lab.path("backups"));
    let out = lab::run_with_timeout(cmd, std::time::Duration::from_secs(60));
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut got = lab.get(deep, &site(deep), "/");
    while got.0 != 200 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
        got = lab.get(deep, &site(deep), "/");
    }
    assert_eq!(got, (200, "deep.internal ok\n".into()), "{text}");
}

/// An upstream that picks its certificate by SNI (two server blocks on one port): without
/// `proxy_ssl_server_name on` nginx gets the default one, named otherwise. The fix is only
/// to send the name — not to verify the default certificate's name instead.
#[test]
fn a_certificate_chosen_by_sni_needs_only_the_name_sent() {
    let lab = Lab::new("tlssni");
    let dir = lab.path("");
    make_certs(&dir);
    let (front, tls) = (free_port(), free_port());
    let d = dir.display();
    let body = [
        tls_server(&dir, "web.local", &[tls]),
        format!(
            "    server {{\n\
             \x20       listen 127.0.0.1:{tls} ssl;\n\
             \x20       server_name api.internal;\n\
             \x20       ssl_certificate {d}/api.internal.pem;\n\
             \x20       ssl_certificate_key {d}/api.internal.key;\n\
             \x20       return 200 \"api.internal ok\\n\";\n\
             \x20   }}\n"
        ),
        lab::proxy_server(
            front,
            &site(front),
            &format!("https://127.0.0.1:{tls}"),
            &format!(
                "proxy_ssl_verify on; proxy_ssl_trusted_certificate {d}/ca.pem; proxy_ssl_name api.internal;"
            ),
        ),
    ]
    .concat();
    let nginx = lab.nginx(&body);
    assert_eq!(lab.get(front, &site(front), "/").0, 502);
    nginx.wait_log("upstream SSL certificate does not match \"api.internal\"");

    let (_, report) = diagnose(front);
    let f = &report["findings"][0];
    assert_eq!(f["cause"], "upstream-tls-verify", "{report:#}");
    assert!(
        texts(&f["evidence"]).iter().any(|e| e
            .contains("names web.local, nginx verifies api.internal")
            && e.contains(
                "asked for api.internal by SNI, the upstream presents a matching certificate"
            )),
        "{f:#}"
    );
    let fixes = f["fixes"].to_string();
    assert!(fixes.contains("proxy_ssl_server_name on;"), "{fixes}");
    assert!(!fixes.contains("proxy_ssl_name web.local"), "{fixes}");

    let mut cmd = lab::badgw();
    cmd.args(["diagnose", "--site", &site(front), "--fix", "--yes"])
        .env("NO_COLOR", "1")
        .env("BADGW_BACKUP_DIR", lab.path("backups"));
    let out = lab::run_with_timeout(cmd, std::time::Duration::from_secs(60));
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut got = lab.get(front, &site(front), "/");
    while got.0 != 200 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
        got = lab.get(front, &site(front), "/");
    }
    // The handshake now verifies (SNI picks the certificate; the Host header, the site,
    // still picks the upstream's default server for the request itself).
    assert_eq!(got.0, 200, "{got:?}\n{text}");
}
