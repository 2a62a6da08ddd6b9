//! The space-separated versioned list: Standard Webhooks' `v1,<b64> v1,<b64>`.
#![no_main]

use hookwarden_core::presets;
use hookwarden_fuzz::{check_signature, split, variants, ENCODINGS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let schemes = variants(presets::standard_webhooks(), ENCODINGS);
    if let Some((pick, value)) = split(data, &schemes) {
        let (scheme, encoding) = &schemes[pick];
        check_signature(scheme, *encoding, value, |sig| format!("v1,{sig}"));
    }
});
