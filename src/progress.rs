//! Progress while gathering: which stage and how long it has run, on stderr, only when the
//! user sees it (stderr is a terminal and the output is not JSON). Off by default, so tests,
//! pipes and `--json` get nothing. The line is erased when gathering ends.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

static ON: AtomicBool = AtomicBool::new(false);
static START: Mutex<Option<Instant>> = Mutex::new(None);

/// Turns progress on (the caller decided stderr is a terminal and output is for humans).
pub fn enable() {
    if let Ok(mut s) = START.lock() {
        *s = Some(Instant::now());
    }
    ON.store(true, Ordering::SeqCst);
}

/// Shows the current stage, e.g. "probing upstreams", with the time since `enable`.
pub fn stage(what: &str) {
    if !ON.load(Ordering::SeqCst) {
        return;
    }
    let elapsed = START
        .lock()
        .ok()
        .and_then(|s| *s)
        .map(|t| t.elapsed().as_secs_f64())
        .unwrap_or(0.0);
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[2Kbadgw: {what}… {elapsed:.1}s");
    let _ = err.flush();
}

/// Erases the progress line (nothing when progress is off).
pub fn done() {
    if ON.swap(false, Ordering::SeqCst) {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}
