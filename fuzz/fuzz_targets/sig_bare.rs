//! The bare signature header (NTX Pay, 4pay, Shopify, terminals): the whole
//! value is one signature, in hex or base64, for each MAC length.
#![no_main]

use hookwarden_core::presets;
use hookwarden_fuzz::{check_signature, split, variants, ENCODINGS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let schemes = variants(presets::ntxpay(), ENCODINGS);
    if let Some((pick, value)) = split(data, &schemes) {
        let (scheme, encoding) = &schemes[pick];
        check_signature(scheme, *encoding, value, str::to_owned);
    }
});
