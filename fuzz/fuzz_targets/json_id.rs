//! The JSON delivery-ID reader (Stripe's and PayNetworx's `/id`), which the
//! verifier runs on the body once the signature passed: never a panic, and
//! an ID found is never empty. Input: a JSON pointer, a newline, the body.
#![no_main]

use hookwarden_core::fuzzing::read_json_id;
use hookwarden_core::JsonPointer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (pointer, body) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (&b"/id"[..], data),
    };
    let pointer = std::str::from_utf8(pointer)
        .ok()
        .and_then(|text| JsonPointer::parse(text).ok())
        .unwrap_or_else(|| JsonPointer::from_segments(["id"]));
    if let Some(id) = read_json_id(body, &pointer) {
        assert!(!id.as_str().is_empty(), "{body:?}");
    }
});
