//! `ClientMessage::parse` on any text: no panic, and a round trip holds.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        peercall_signal::server::fuzzing::parse(text);
    }
});
