//! The access-log format compiler and line parser: the first line is a `log_format`
//! template, every other line is parsed with it and with nginx's `combined` format.
#![no_main]

use badgw::logs::access::{parse_line, LogFormat};
use libfuzzer_sys::fuzz_target;

const COMBINED: &str = "$remote_addr - $remote_user [$time_local] \"$request\" $status \
     $body_bytes_sent \"$http_referer\" \"$http_user_agent\" urt=\"$upstream_response_time\" \
     us=$upstream_status ua=$upstream_addr";

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|&b| b == b'\n');
    let template = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let custom = LogFormat::compile(&template, "default");
    let json = LogFormat::compile(&template, "json");
    let combined = LogFormat::compile(COMBINED, "default");
    for l in lines {
        let _ = parse_line(&custom, l);
        let _ = parse_line(&json, l);
        let _ = parse_line(&combined, l);
    }
});
