//! The hub as a state machine: no message leaves a room, state consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    peercall_signal::server::fuzzing::hub(data);
});
