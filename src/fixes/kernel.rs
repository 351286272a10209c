//! Kernel settings (sysctl): shown with the reasoning, never the first fix when the
//! application's own limit is the cause.

use super::Cmd;
use super::Fix;

/// `sysctl -w net.core.somaxconn=N`: the cap on every listen backlog.
pub fn somaxconn(n: u32) -> Cmd {
    Cmd::root([
        "sysctl".to_string(),
        "-w".into(),
        format!("net.core.somaxconn={n}"),
    ])
}

pub fn somaxconn_fix(n: u32) -> Fix {
    Fix::review(
        "raise the kernel's accept-queue cap, then the app's own listen backlog (the queue only buys time: the app's workers are busy)",
        somaxconn(n).shown(),
    )
}
