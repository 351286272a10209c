//! The snapshot loader (`diagnose --from`): a snapshot that loads is run through every
//! check, ranked, and rendered as text and JSON.
#![no_main]

use badgw::facts::Facts;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(facts) = serde_json::from_slice::<Facts>(data) else {
        return;
    };
    let runs = badgw::checks::run_all(&facts);
    let report = badgw::report::build(&facts, &runs);
    let mut out = Vec::new();
    let _ = badgw::render::human::diagnose(&report, false, true, &mut out);
    let _ = badgw::render::json(&report, &mut out);
});
