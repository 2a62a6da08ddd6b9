//! Timestamp parsing in each format: never a panic, only
//! `malformed_timestamp` as an error, and what parses writes back and
//! parses again to the same instant (RFC 3339 is written to the second).
#![no_main]

use hookwarden_core::fuzzing::{format_timestamp, parse_timestamp};
use hookwarden_core::{TimestampFormat, VerifyError};
use libfuzzer_sys::fuzz_target;

const FORMATS: [TimestampFormat; 3] = [
    TimestampFormat::UnixSeconds,
    TimestampFormat::UnixMillis,
    TimestampFormat::Rfc3339,
];

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let format = FORMATS[usize::from(first) % FORMATS.len()];
    match parse_timestamp(text, format) {
        Ok(millis) => {
            if format != TimestampFormat::Rfc3339 {
                assert!(text.bytes().all(|b| b.is_ascii_digit()), "{text:?}");
            }
            if let Some(written) = format_timestamp(millis, format) {
                let again = parse_timestamp(&written, format)
                    .unwrap_or_else(|err| panic!("{written:?} from {text:?}: {err}"));
                let expected = match format {
                    TimestampFormat::Rfc3339 => millis.div_euclid(1000) * 1000,
                    _ => millis,
                };
                assert_eq!(again, expected, "{text:?} -> {written:?}");
            }
        }
        Err(VerifyError::MalformedTimestamp) => {}
        Err(other) => panic!("unexpected error {other:?} for {text:?}"),
    }
});
