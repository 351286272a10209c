//! `ephemeral-ports` produced for real: nginx runs out of local ports for new upstream
//! connections and logs `connect() to … failed (99: Cannot assign requested address)`.
//!
//! The port range is a per-network-namespace sysctl, so the scenario runs in a network
//! namespace of its own (root, as CI runs): a test thread unshares its network namespace,
//! brings its loopback up and narrows `net.ipv4.ip_local_port_range` to two ports. Every
//! process it spawns (the app, nginx, badgw) inherits that namespace; the host's range is
//! never touched, and the namespace disappears with its last process. Two slow requests hold
//! both ports towards the app, the third gets nginx's 502 with errno 99.

mod lab;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::FromRawFd;
use std::process::Command;
use std::thread;
use std::time::Duration;

use lab::{diagnose_json, Lab};

/// Ports inside the private namespace: fixed, since nothing else lives there (and a port
/// picked by the kernel would come from the two-port range this test narrows).
const FRONT: u16 = 8080;
const BACK: u16 = 3000;
const RANGE: &str = "40000 40001";

/// A loopback connection from an explicit source port outside the narrowed range, so the
/// test's own clients never take one of the two ephemeral ports nginx needs.
fn connect_from(source_port: u16, port: u16) -> TcpStream {
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    let stream = unsafe { TcpStream::from_raw_fd(fd) };
    let addr = |p: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: p.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    let one: libc::c_int = 1;
    let src = addr(source_port);
    let dst = addr(port);
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            &one as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        assert_eq!(
            libc::bind(fd, &src as *const _ as *const libc::sockaddr, len),
            0,
            "bind 127.0.0.1:{source_port}: {}",
            std::io::Error::last_os_error()
        );
        assert_eq!(
            libc::connect(fd, &dst as *const _ as *const libc::sockaddr, len),
            0,
            "connect 127.0.0.1:{port}: {}",
            std::io::Error::last_os_error()
        );
    }
    stream
}

fn get_from(source_port: u16, host: &str) -> u16 {
    let mut s = connect_from(source_port, FRONT);
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "GET / HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status from nginx: {answer:?}"))
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn nginx_out_of_local_ports_is_ephemeral_ports() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this scenario needs root: it narrows ip_local_port_range inside a network namespace \
         of its own (run the tests as root, as CI does)"
    );
    // Everything happens on one thread: its network namespace is what its children inherit,
    // and the children die with it (die_with_parent), so nothing outlives the test.
    let scenario = thread::spawn(|| {
        assert_eq!(
            unsafe { libc::unshare(libc::CLONE_NEWNET) },
            0,
            "unshare(CLONE_NEWNET): {}",
            std::io::Error::last_os_error()
        );
        run(Command::new("ip").args(["link", "set", "lo", "up"]));
        // /proc/sys/net is the namespace of the thread that opens it: this one's.
        std::fs::write("/proc/sys/net/ipv4/ip_local_port_range", RANGE)
            .expect("narrow ip_local_port_range in the private namespace");

        let lab = Lab::new("ephemeral");
        let site = "ports.ephemeral.test";
        lab.app("shop", &[&format!("127.0.0.1:{BACK}")], "slow=4000");
        let nginx = lab.nginx(&format!(
            "server {{ listen 127.0.0.1:{FRONT}; server_name {site};\n\
             location / {{ proxy_pass http://127.0.0.1:{BACK}; proxy_read_timeout 30s; }} }}"
        ));
        // Two slow requests in flight hold both ports of the range towards the app.
        let slow: Vec<_> = [50001, 50002]
            .into_iter()
            .map(|src| thread::spawn(move || get_from(src, site)))
            .collect();
        thread::sleep(Duration::from_millis(500));
        assert_eq!(
            get_from(50003, site),
            502,
            "the third request must find no port"
        );
        let line = nginx.wait_log("(99: Cannot assign requested address)");
        assert!(line.contains(&format!("127.0.0.1:{BACK}")), "{line}");
        for s in slow {
            assert_eq!(s.join().unwrap(), 200);
        }
        let conf = nginx.conf_path.display().to_string();
        diagnose_json(&["--site", site, "--nginx-conf", &conf, "--since", "10m"])
    });
    let (code, report) = scenario.join().expect("scenario thread");
    assert_eq!(
        report["findings"][0]["cause"], "ephemeral-ports",
        "{report:#}"
    );
    assert_eq!(code, 1, "{report:#}");
    let evidence = report["findings"][0]["evidence"].to_string();
    assert!(
        evidence.contains("99: Cannot assign requested address"),
        "{evidence}"
    );
}
