//! Shared pieces of the fuzz targets: the schemes each signature-syntax
//! target checks, and the checks every signature target makes.

use hookwarden_core::fuzzing::{encode_signature, scan_signature};
use hookwarden_core::{presets, Algorithm, Encoding, Scheme, VerifyError};

/// Picks one of `schemes` by the input's first byte; the rest is the header
/// value. `None` for an empty input or a value that is not UTF-8 (the
/// verifier only ever reads visible ASCII).
pub fn split<'a>(data: &'a [u8], schemes: &[(Scheme, Encoding)]) -> Option<(usize, &'a str)> {
    let (&first, rest) = data.split_first()?;
    let value = std::str::from_utf8(rest).ok()?;
    Some((usize::from(first) % schemes.len(), value))
}

/// The checks of every signature-syntax target: scanning never panics, a
/// failure is one of the two syntax errors, every signature found decodes
/// to the MAC's length, and each one re-encoded and put back in the
/// syntax by `wrap` is read back as the same bytes.
pub fn check_signature(
    scheme: &Scheme,
    encoding: Encoding,
    value: &str,
    wrap: impl Fn(&str) -> String,
) {
    match scan_signature(scheme, value) {
        Ok((signatures, _timestamp)) => {
            assert!(
                !signatures.is_empty(),
                "accepted with no signature: {value:?}"
            );
            for signature in signatures {
                assert_eq!(
                    signature.len(),
                    scheme.algorithm().output_len(),
                    "{value:?}"
                );
                let again = wrap(&encode_signature(encoding, &signature));
                let (decoded, _) = scan_signature(scheme, &again)
                    .unwrap_or_else(|err| panic!("{again:?} re-encoded from {value:?}: {err}"));
                assert_eq!(decoded, vec![signature], "{again:?}");
            }
        }
        Err(VerifyError::MalformedSignature | VerifyError::UnsupportedSignatureVersion) => {}
        Err(other) => panic!("unexpected error {other:?} for {value:?}"),
    }
}

/// `scheme` with every algorithm and the given encodings, paired with the
/// encoding each uses.
pub fn variants(scheme: Scheme, encodings: &[Encoding]) -> Vec<(Scheme, Encoding)> {
    let mut out = Vec::new();
    for &encoding in encodings {
        for algorithm in [Algorithm::Sha256, Algorithm::Sha512, Algorithm::Sha1] {
            out.push((
                scheme
                    .clone()
                    .with_encoding(encoding)
                    .with_algorithm(algorithm),
                encoding,
            ));
        }
    }
    out
}

/// Every encoding.
pub const ENCODINGS: &[Encoding] = &[Encoding::Hex, Encoding::Base64, Encoding::Base64Url];

/// A secret each preset accepts (the published vectors' secret where the
/// preset has one, so that seeds from the vectors verify).
pub fn secrets(name: &str) -> &'static [&'static str] {
    match name {
        "github" => &["It's a Secret to Everybody", "mysecret"],
        "standard-webhooks" | "svix" => &["whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"],
        "stripe" => &["secret"],
        "shopify" => &["test_secret_key"],
        "slack" => &["8f742231b10e8888abcd99yyyzzz85a5"],
        "4pay" => &["test_secret"],
        "4pay-sha512" => &["Jefe"],
        _ => &["whsec_fuzzing_plain_secret"],
    }
}

/// The preset named `name`, or one picked by its bytes.
pub fn preset(name: &str) -> (&'static str, Scheme) {
    let name = presets::NAMES
        .iter()
        .copied()
        .find(|known| *known == name)
        .unwrap_or_else(|| {
            let pick = name
                .bytes()
                .fold(0usize, |acc, b| acc.wrapping_add(usize::from(b)));
            presets::NAMES[pick % presets::NAMES.len()]
        });
    (name, presets::by_name(name).expect("a preset name"))
}
