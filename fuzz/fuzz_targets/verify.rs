//! `Verifier::verify_at` on arbitrary headers and body, for every preset.
//!
//! Input, as text: `<preset> <unix seconds>`, a newline, header lines
//! `name: value`, an empty line, then the body. Checks: never a panic; the
//! same answer twice; a rejection is 400 or 401 with a code, and its text
//! names no secret; an acceptance names the preset.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use hookwarden_core::http::{HeaderMap, HeaderName, HeaderValue};
use hookwarden_core::Verifier;
use hookwarden_fuzz::{preset, secrets};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (first, rest) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let first = String::from_utf8_lossy(first);
    let (name, secs) = first.split_once(' ').unwrap_or((&first, "0"));
    let (name, scheme) = preset(name);
    let now = UNIX_EPOCH + Duration::from_secs(secs.trim().parse::<u64>().unwrap_or(0) % (1 << 40));

    let mut headers = HeaderMap::new();
    let mut rest = rest;
    while let Some(at) = rest.iter().position(|&b| b == b'\n') {
        let line = &rest[..at];
        rest = &rest[at + 1..];
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let value = line[colon + 1..]
            .strip_prefix(b" ")
            .unwrap_or(&line[colon + 1..]);
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }
    let body = rest;

    let mut verifier = Verifier::new(scheme.clone(), "whsec_fuzzing_plain_secret")
        .or_else(|_| Verifier::new(scheme.clone(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
        .expect("a verifier");
    for secret in secrets(name) {
        if let Ok(with) = verifier.clone().with_secret(secret) {
            verifier = with;
        }
    }
    let result = verifier.verify_at(&headers, body, now);
    assert_eq!(
        result,
        verifier.verify_at(&headers, body, now),
        "not deterministic"
    );
    match result {
        Ok(verified) => assert_eq!(verified.scheme(), name),
        Err(err) => {
            let status = err.status().as_u16();
            assert!(status == 400 || status == 401, "{err:?} is {status}");
            assert!(!err.code().is_empty());
            let text = format!("{err} {err:?}");
            for secret in secrets(name) {
                assert!(!text.contains(secret), "{text}");
            }
        }
    }
});
