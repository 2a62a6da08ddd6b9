//! Secret parsing, raw and `whsec_` + base64, and each preset's own rules:
//! never a panic, no empty secret, a redacted `Debug`, and only errors that
//! carry no text at all (so none can show the secret: a length at most).
#![no_main]

use hookwarden_core::{presets, BuildError, Secret, SecretEncoding};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let textless = |err: &BuildError| {
        matches!(
            err,
            BuildError::EmptySecret | BuildError::SecretEncoding | BuildError::SecretLength { .. }
        )
    };
    for encoding in [SecretEncoding::Raw, SecretEncoding::WhsecBase64] {
        match Secret::parse(text, encoding) {
            Ok(secret) => {
                assert!(!secret.is_empty());
                assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
                if encoding == SecretEncoding::Raw {
                    assert_eq!(secret.len(), text.len());
                }
            }
            Err(err) => assert!(textless(&err), "{err:?}"),
        }
    }
    for name in presets::NAMES {
        let scheme = presets::by_name(name).expect("a preset");
        if let Err(err) = scheme.parse_secret(text) {
            assert!(textless(&err), "{name}: {err:?}");
        }
    }
});
