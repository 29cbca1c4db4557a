//! The HTTP head parser on any bytes: no panic, no path outside the root.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    peercall_signal::server::fuzzing::http_head(data);
});
