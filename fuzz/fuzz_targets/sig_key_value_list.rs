//! The `key=value` list signature header: Stripe's `t=…,v1=…,v1=…`. Besides
//! the shared checks: a `t=` entry is reported only when there is exactly one.
#![no_main]

use hookwarden_core::fuzzing::scan_signature;
use hookwarden_core::presets;
use hookwarden_fuzz::{check_signature, split, variants, ENCODINGS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let schemes = variants(presets::stripe(), ENCODINGS);
    if let Some((pick, value)) = split(data, &schemes) {
        let (scheme, encoding) = &schemes[pick];
        check_signature(scheme, *encoding, value, |sig| format!("v1={sig}"));
        if let Ok((_, timestamp)) = scan_signature(scheme, value) {
            let entries = value
                .split(',')
                .filter(|item| item.starts_with("t="))
                .count();
            assert_eq!(timestamp.is_some(), entries == 1, "{value:?}");
        }
    }
});
