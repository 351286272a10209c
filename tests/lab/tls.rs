//! Certificates for the TLS labs, made by the `openssl` CLI in a lab's directory.

use std::path::Path;
use std::process::Command;

/// Runs `openssl ARGS` in `dir`; panics with its stderr when it fails, and with an install
/// hint when openssl is missing (never a silent pass).
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl is needed for this test: apt-get install openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed certificate `STEM.pem` with its key `STEM.key` in `dir`, valid two days,
/// for `subject` (`/CN=…`) with an optional subjectAltName (`DNS:pod.internal`).
pub fn self_signed(dir: &Path, stem: &str, subject: &str, san: Option<&str>) {
    let (key, pem) = (format!("{stem}.key"), format!("{stem}.pem"));
    let mut args = vec![
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", subject,
    ];
    let ext = san.map(|s| format!("subjectAltName={s}"));
    if let Some(e) = &ext {
        args.extend(["-addext", e.as_str()]);
    }
    args.extend(["-keyout", key.as_str(), "-out", pem.as_str()]);
    openssl(dir, &args);
}
