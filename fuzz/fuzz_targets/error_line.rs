//! The error-log line parser and classifier, one line at a time.
#![no_main]

use badgw::logs::line;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for l in data.split(|&b| b == b'\n') {
        let r = line::parse(l);
        let _ = line::classify(&r);
        let _ = line::classify_full(&r);
        let _ = line::upstream_key(&r);
        let _ = line::errno_kind(&r);
        let _ = line::strip_query(l);
    }
});
