//! upstream-tls-verify against real nginx: an `https://` upstream (a second nginx server
//! block with a certificate this test makes with openssl) behind `proxy_ssl_verify on;`.
//! A certificate nginx cannot verify (signed by another CA) and one whose name does not
//! match `proxy_ssl_name` (left at its default, the IP in proxy_pass) both give 502; the
//! diagnosis must lead with upstream-tls-verify, and the fix it names (proxy_ssl_name on
//! the certificate's name, the right CA) must make the same request succeed.

mod lab;

use std::path::Path;

use lab::tls::openssl;
use lab::{free_port, Lab};

/// A CA, a second unrelated CA, and a leaf for `backend.internal` signed by the first.
fn make_certs(dir: &Path) {
    for ca in ["ca", "other-ca"] {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN=badgw lab {ca}"),
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.pem"),
            ],
        );
    }
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=backend.internal",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
        ],
    );
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=DNS:backend.internal\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
            "-out",
            "leaf.pem",
        ],
    );
}

fn top_cause(report: &serde_json::Value) -> String {
    report["findings"][0]["cause"]
        .as_str()
        .unwrap_or_else(|| panic!("no finding in {report:#}"))
        .to_string()
}

#[test]
fn certificate_nginx_cannot_verify_is_upstream_tls_verify() {
    let lab = Lab::new("tlsverify");
    let dir = lab.path("");
    make_certs(&dir);
    let (mism, untrusted, fixed) = (free_port(), free_port(), free_port());
    // One TLS port per scenario: nginx keeps TLS sessions per upstream address, and a
    // session resumed from another location carries that location's verify result.
    let tls = [free_port(), free_port(), free_port()];
    let d = dir.display();
    let site = |p: u16| format!("tls-{p}.example.test");
    let body = format!(
        "    server {{\n\
         \x20       listen 127.0.0.1:{} ssl;\n\
         \x20       listen 127.0.0.1:{} ssl;\n\
         \x20       listen 127.0.0.1:{} ssl;\n\
         \x20       ssl_certificate {d}/leaf.pem;\n\
         \x20       ssl_certificate_key {d}/leaf.key;\n\
         \x20       return 200 \"backend ok\\n\";\n\
         \x20   }}\n{}{}{}",
        tls[0],
        tls[1],
        tls[2],
        lab::proxy_server(
            mism,
            &site(mism),
            &format!("https://127.0.0.1:{}", tls[0]),
            &format!("proxy_ssl_verify on; proxy_ssl_trusted_certificate {d}/ca.pem;"),
        ),
        lab::proxy_server(
            untrusted,
            &site(untrusted),
            &format!("https://127.0.0.1:{}", tls[1]),
            &format!(
                "proxy_ssl_verify on; proxy_ssl_trusted_certificate {d}/other-ca.pem; proxy_ssl_name backend.internal;"
            ),
        ),
        lab::proxy_server(
            fixed,
            &site(fixed),
            &format!("https://127.0.0.1:{}", tls[2]),
            &format!(
                "proxy_ssl_verify on; proxy_ssl_trusted_certificate {d}/ca.pem; proxy_ssl_name backend.internal; proxy_ssl_server_name on;"
            ),
        ),
    );
    let nginx = lab.nginx(&body);
    assert_eq!(lab.get(mism, &site(mism), "/").0, 502);
    nginx.wait_log("upstream SSL certificate does not match \"127.0.0.1\"");
    assert_eq!(lab.get(untrusted, &site(untrusted), "/").0, 502);
    nginx.wait_log("upstream SSL certificate verify error: (");
    // The fix the cause page gives: the certificate's name and its CA.
    assert_eq!(
        lab.get(fixed, &site(fixed), "/"),
        (200, "backend ok\n".into())
    );

    for port in [mism, untrusted] {
        let (code, report) = lab::diagnose_json(&["--site", &site(port)]);
        assert_eq!(top_cause(&report), "upstream-tls-verify", "{report:#}");
        assert_eq!(code, 1);
        let f = &report["findings"][0];
        let ev = f["evidence"].to_string();
        assert!(ev.contains("upstream SSL certificate"), "{ev}");
        // The fix for what is wrong with this certificate (read over a direct connection):
        // the name on it where the name differs, the CA where it does not chain.
        let fixes = f["fixes"].to_string();
        let want = if port == mism {
            "proxy_ssl_name backend.internal;"
        } else {
            "proxy_ssl_trusted_certificate"
        };
        assert!(fixes.contains(want), "{want} in {fixes}");
    }

    // explain-log on the same log: its own category, not ssl-handshake.
    let log = nginx.error_log_text();
    let (_, doc) = lab::badgw_json(&["explain-log", nginx.error_log.to_str().unwrap(), "--json"]);
    let cats: Vec<&str> = doc["summary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["category"].as_str().unwrap())
        .collect();
    assert_eq!(cats, ["ssl-verify"], "{log}");
    assert_eq!(doc["summary"][0]["count"], 2, "{log}");
}
