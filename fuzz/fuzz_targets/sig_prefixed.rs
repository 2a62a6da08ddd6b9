//! The prefixed signature header: GitHub's `sha256=<hex>`, Slack's `v0=<hex>`.
#![no_main]

use hookwarden_core::presets;
use hookwarden_fuzz::{check_signature, split, variants, ENCODINGS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut schemes = variants(presets::github(), ENCODINGS);
    let github = schemes.len();
    schemes.extend(variants(presets::slack(), ENCODINGS));
    if let Some((pick, value)) = split(data, &schemes) {
        let (scheme, encoding) = &schemes[pick];
        let prefix = if pick < github { "sha256=" } else { "v0=" };
        check_signature(scheme, *encoding, value, |sig| format!("{prefix}{sig}"));
    }
});
