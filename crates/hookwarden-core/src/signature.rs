//! The signature header: its syntaxes, and the signatures' encodings.

use base64::engine::general_purpose::{GeneralPurpose, STANDARD};
use base64::Engine;

use crate::mac::{Tag, MAX_TAG};
use crate::{Encoding, Scheme, SignatureSyntax, TimestampSource, VerifyError};

/// One entry of a signature header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry<'a> {
    /// A signature of the checked version, still encoded.
    Signature(&'a [u8]),
    /// The timestamp, for Stripe-style `t=` lists.
    Timestamp(&'a [u8]),
    /// An entry the scheme does not check (another version).
    Other,
}

/// Calls `f` with each entry of the signature header `value`, in order.
///
/// The value is bytes, as the header arrived: the syntax is ASCII, and the
/// scheme's tokens are compared as bytes.
///
/// # Errors
/// [`VerifyError::MalformedSignature`] when the value breaks the syntax, and
/// whatever `f` returns.
pub(crate) fn visit<'a>(
    scheme: &'a Scheme,
    value: &'a [u8],
    mut f: impl FnMut(Entry<'a>) -> Result<(), VerifyError>,
) -> Result<(), VerifyError> {
    const MALFORMED: VerifyError = VerifyError::MalformedSignature;
    match &scheme.syntax {
        SignatureSyntax::Bare => f(Entry::Signature(value)),
        SignatureSyntax::Prefixed(prefix) => f(Entry::Signature(
            value.strip_prefix(prefix.as_bytes()).ok_or(MALFORMED)?,
        )),
        SignatureSyntax::KeyValueList { signature_key } => {
            let timestamp_key = match &scheme.timestamp {
                Some((TimestampSource::SignatureParam(key), _)) => Some(key.as_bytes()),
                _ => None,
            };
            for item in pieces(value, b',') {
                let (key, val) = split_once(item, b'=').ok_or(MALFORMED)?;
                f(if key == signature_key.as_bytes() {
                    Entry::Signature(val)
                } else if Some(key) == timestamp_key {
                    Entry::Timestamp(val)
                } else {
                    Entry::Other
                })?;
            }
            Ok(())
        }
        SignatureSyntax::VersionedList { version } => {
            for item in pieces(value, b' ') {
                let (ver, sig) = split_once(item, b',').ok_or(MALFORMED)?;
                f(if ver == version.as_bytes() {
                    Entry::Signature(sig)
                } else {
                    Entry::Other
                })?;
            }
            Ok(())
        }
    }
}

/// `value.split(sep)` by a plain byte search ([`find`]): the same pieces
/// (empty ones included), without the general pattern machinery that costs
/// more than these short values.
fn pieces(value: &[u8], sep: u8) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(value);
    std::iter::from_fn(move || {
        let text = rest?;
        match find(text, sep) {
            Some(at) => {
                rest = Some(&text[at + 1..]);
                Some(&text[..at])
            }
            None => {
                rest = None;
                Some(text)
            }
        }
    })
}

/// `text.split_once(sep)` for bytes, as [`pieces`].
fn split_once(text: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let at = find(text, sep)?;
    Some((&text[..at], &text[at + 1..]))
}

/// The position of the first `byte` in `text`, eight bytes at a time: a
/// signature between two separators is 27 to 88 characters long, which
/// byte by byte is most of the cost of splitting the header.
fn find(text: &[u8], byte: u8) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut rest = text;
    while let Some((word, tail)) = rest.split_first_chunk::<8>() {
        // The bytes equal to `byte` become zero; the lowest high bit of
        // `(x - ONES) & !x & HIGHS` marks the first zero byte (a borrow can
        // mark only bytes after it).
        let x = u64::from_le_bytes(*word) ^ (ONES * u64::from(byte));
        let zeros = x.wrapping_sub(ONES) & !x & HIGHS;
        if zeros != 0 {
            return Some(text.len() - rest.len() + zeros.trailing_zeros() as usize / 8);
        }
        rest = tail;
    }
    let at = rest.iter().position(|&b| b == byte)?;
    Some(text.len() - rest.len() + at)
}

/// What [`scan`] learned from a well-formed signature header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scanned<'a> {
    /// The `t=` entry, where the scheme keeps its timestamp in the header.
    pub(crate) timestamp: Option<&'a [u8]>,
    /// How many signatures of the checked version the header holds.
    signatures: usize,
    /// The first of them, decoded, so that the usual header with a single
    /// signature is decoded once, not once more per secret tried.
    first: [u8; DECODE_BUF],
}

/// Checks the whole header before any MAC runs: the syntax, and that every
/// signature of the checked version decodes canonically to the MAC's length.
/// One malformed signature makes the whole header malformed.
///
/// # Errors
/// [`VerifyError::MalformedSignature`], or
/// [`VerifyError::UnsupportedSignatureVersion`] when no entry is of the checked version.
pub(crate) fn scan<'a>(scheme: &'a Scheme, value: &'a [u8]) -> Result<Scanned<'a>, VerifyError> {
    let mut signatures = 0usize;
    let mut timestamp = None;
    let mut first = [0; DECODE_BUF];
    visit(scheme, value, |entry| {
        match entry {
            Entry::Signature(text) => {
                let mut buf = [0; DECODE_BUF];
                let into = if signatures == 0 {
                    &mut first
                } else {
                    &mut buf
                };
                decode(scheme, text, into)?;
                signatures += 1;
            }
            Entry::Timestamp(text) => {
                if timestamp.replace(text).is_some() {
                    return Err(VerifyError::MalformedSignature);
                }
            }
            Entry::Other => {}
        }
        Ok(())
    })?;
    if signatures == 0 {
        return Err(VerifyError::UnsupportedSignatureVersion);
    }
    Ok(Scanned {
        timestamp,
        signatures,
        first,
    })
}

/// Whether any signature in the header `value`, which [`scan`] accepted as
/// `scanned`, equals `tag`, in constant time.
///
/// Inline, so that the usual single signature is compared where the MAC's
/// length is a constant and the byte loop unrolls.
#[inline]
pub(crate) fn any_matches(scheme: &Scheme, value: &[u8], scanned: &Scanned<'_>, tag: &Tag) -> bool {
    if scanned.signatures == 1 {
        return tag.matches(&scanned.first[..tag.as_bytes().len()]);
    }
    any_of_several_matches(scheme, value, tag)
}

/// [`any_matches`] for a header with several signatures of the checked version.
fn any_of_several_matches(scheme: &Scheme, value: &[u8], tag: &Tag) -> bool {
    let mut matched = false;
    // `scan` already accepted this value, so `visit` and `decode` succeed here.
    let _ = visit(scheme, value, |entry| {
        if let Entry::Signature(text) = entry {
            let mut buf = [0; DECODE_BUF];
            if let Ok(candidate) = decode(scheme, text, &mut buf) {
                matched |= tag.matches(candidate);
            }
        }
        Ok(())
    });
    matched
}

/// Room for the longest MAC in base64, whose decoder wants a little slack.
pub(crate) const DECODE_BUF: usize = MAX_TAG + 8;

/// Standard alphabet, padding written (as the signer writes signatures).
const BASE64: GeneralPurpose = STANDARD;

/// Decodes one signature into `buf`, accepting only text of the exact length
/// the MAC needs, in canonical form (hex may be either case).
pub(crate) fn decode<'b>(
    scheme: &Scheme,
    bytes: &[u8],
    buf: &'b mut [u8; DECODE_BUF],
) -> Result<&'b [u8], VerifyError> {
    const MALFORMED: VerifyError = VerifyError::MalformedSignature;
    let len = scheme.algorithm.output_len();
    match scheme.encoding {
        Encoding::Hex => {
            let valid = match len {
                20 => hex::<20>(bytes, buf),
                32 => hex::<32>(bytes, buf),
                _ => hex::<64>(bytes, buf),
            };
            if !valid {
                return Err(MALFORMED);
            }
        }
        Encoding::Base64 | Encoding::Base64Url => {
            let (table, padding) = match scheme.encoding {
                Encoding::Base64Url => (&BASE64_URL_VALUES, Padding::Optional),
                _ => (&BASE64_VALUES, Padding::Required),
            };
            let valid = match len {
                20 => base64::<20>(bytes, table, padding, buf),
                32 => base64::<32>(bytes, table, padding, buf),
                _ => base64::<64>(bytes, table, padding, buf),
            };
            if !valid {
                return Err(MALFORMED);
            }
        }
    }
    Ok(&buf[..len])
}

/// Decodes `text`, exactly `2 * N` hex digits (either case), into the
/// first `N` bytes of `buf`. Every digit is decoded, then one check: no
/// branch per digit. The digits' values are worked out in a pass of their
/// own with arithmetic, not a table, which the compiler turns into vector
/// instructions: a SHA-256 signature decodes in about a third of the time
/// that table lookups took.
fn hex<const N: usize>(text: &[u8], buf: &mut [u8; DECODE_BUF]) -> bool {
    let Some(out) = buf.first_chunk_mut::<N>() else {
        return false;
    };
    if text.len() != 2 * N {
        return false;
    }
    let mut values = [[0u8; 2]; N];
    let mut invalid = false;
    for (value, &digit) in values.as_flattened_mut().iter_mut().zip(text) {
        let decimal = digit.wrapping_sub(b'0');
        let letter = (digit | 0x20).wrapping_sub(b'a'); // either case
        invalid |= (decimal >= 10) & (letter >= 6);
        *value = if decimal < 10 {
            decimal
        } else {
            letter.wrapping_add(10)
        };
    }
    for (out, [high, low]) in out.iter_mut().zip(values) {
        *out = high << 4 | low;
    }
    !invalid
}

/// Whether base64 text ends in its `=` padding.
#[derive(Debug, Clone, Copy)]
enum Padding {
    /// The padding must be there (standard base64, canonical form).
    Required,
    /// With the padding or without it, not with part of it (URL-safe base64).
    Optional,
}

/// Decodes `text`, the base64 of exactly `N` bytes in canonical form, into
/// the first `N` bytes of `buf`: the `=` padding as `padding` says, every
/// other character in `table`'s alphabet, and the bits past the last byte
/// zero. Accepts exactly what the `base64` crate's `decode_slice` accepts
/// for that length (a test compares them), in about half the instructions:
/// `N` is a constant here, so the loop unrolls. Every character is decoded,
/// then one check: no branch per character.
fn base64<const N: usize>(
    text: &[u8],
    table: &[u32; 256],
    padding: Padding,
    buf: &mut [u8; DECODE_BUF],
) -> bool {
    let Some(out) = buf.first_chunk_mut::<N>() else {
        return false;
    };
    // The characters that carry the bytes, then up to two `=`.
    let Some((data, pad)) = text.split_at_checked((N * 4).div_ceil(3)) else {
        return false;
    };
    let full_pad = N.div_ceil(3) * 4 - data.len();
    let pad_ok = (pad.len() == full_pad || matches!(padding, Padding::Optional) && pad.is_empty())
        && pad.iter().all(|&b| b == b'=');

    // A character outside the alphabet is `u32::MAX` in the table: shifted
    // into place, it still sets bits above the 24 that three bytes use.
    let mut seen = 0u32;
    let mut quads = data.chunks_exact(4);
    let mut triples = out.chunks_exact_mut(3);
    for (triple, quad) in (&mut triples).zip(&mut quads) {
        let bits = table[usize::from(quad[0])] << 18
            | table[usize::from(quad[1])] << 12
            | table[usize::from(quad[2])] << 6
            | table[usize::from(quad[3])];
        seen |= bits;
        triple.copy_from_slice(&bits.to_be_bytes()[1..]);
    }
    // The last one or two bytes, from two or three characters.
    let (rest, last) = (quads.remainder(), triples.into_remainder());
    let mut bits = 0u32;
    for (i, &c) in rest.iter().enumerate() {
        bits |= table[usize::from(c)] << (18 - 6 * i);
    }
    seen |= bits;
    last.copy_from_slice(&bits.to_be_bytes()[1..=last.len()]);
    // Canonical form: the bits below the last byte are zero.
    let unused = bits & (0xff_ffff >> (8 * last.len()));
    pad_ok && seen >> 24 == 0 && unused == 0
}

/// Each byte's value in the standard base64 alphabet, `u32::MAX` for other bytes.
const BASE64_VALUES: [u32; 256] = base64_table(b"+/");

/// Each byte's value in the URL-safe base64 alphabet, `u32::MAX` for other bytes.
const BASE64_URL_VALUES: [u32; 256] = base64_table(b"-_");

/// The table of an alphabet of `A`–`Z`, `a`–`z`, `0`–`9` and then `last_two`.
const fn base64_table(last_two: &[u8; 2]) -> [u32; 256] {
    let mut table = [u32::MAX; 256];
    let mut i = 0;
    while i < 26 {
        table[b'A' as usize + i] = i as u32;
        table[b'a' as usize + i] = 26 + i as u32;
        i += 1;
    }
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = 52 + i as u32;
        i += 1;
    }
    table[last_two[0] as usize] = 62;
    table[last_two[1] as usize] = 63;
    table
}

/// Encodes a MAC as the scheme writes it: hex lowercase, base64 padded,
/// URL-safe base64 unpadded.
pub(crate) fn encode(encoding: Encoding, tag: &[u8]) -> String {
    match encoding {
        Encoding::Hex => tag.iter().map(|b| format!("{b:02x}")).collect(),
        Encoding::Base64 => BASE64.encode(tag),
        Encoding::Base64Url => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{presets, Algorithm};

    fn decoded(scheme: &Scheme, text: &str) -> Result<Vec<u8>, VerifyError> {
        let mut buf = [0; DECODE_BUF];
        decode(scheme, text.as_bytes(), &mut buf).map(<[u8]>::to_vec)
    }

    #[test]
    fn hex_needs_the_exact_length_and_accepts_either_case() {
        let scheme = presets::fourpay();
        let lower = "ab".repeat(32);
        assert_eq!(decoded(&scheme, &lower).unwrap(), vec![0xab; 32]);
        assert_eq!(
            decoded(&scheme, &lower.to_uppercase()).unwrap(),
            vec![0xab; 32]
        );
        for bad in [
            String::new(),
            "ab".repeat(31),
            "ab".repeat(33),
            format!("{}a", "ab".repeat(31)),
            format!("{}zz", "ab".repeat(31)),
            format!(" {}", "ab".repeat(32)),
            format!("{}+a", "ab".repeat(31)),
        ] {
            assert_eq!(
                decoded(&scheme, &bad),
                Err(VerifyError::MalformedSignature),
                "{bad}"
            );
        }
    }

    #[test]
    fn every_byte_decodes_as_its_hex_value_or_not_at_all() {
        // Every byte at every position of every MAC length: the decoder
        // works on blocks of digits, so a position's place in its block
        // must not matter.
        for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
            let scheme = presets::fourpay().with_algorithm(algorithm);
            let len = 2 * algorithm.output_len();
            let valid: Vec<u8> = b"0123456789abcdefABCDEF"
                .iter()
                .cycle()
                .take(len)
                .copied()
                .collect();
            for position in 0..len {
                for byte in 0..=255u8 {
                    let mut text = valid.clone();
                    text[position] = byte;
                    let expected = text
                        .iter()
                        .map(|&b| (b as char).to_digit(16).map(|d| d as u8))
                        .collect::<Option<Vec<u8>>>()
                        .map(|digits| digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect());
                    let mut buf = [0; DECODE_BUF];
                    let got = decode(&scheme, &text, &mut buf).ok().map(<[u8]>::to_vec);
                    assert_eq!(got, expected, "{algorithm:?}: {byte:#x} at {position}");
                }
            }
        }
    }

    #[test]
    fn find_finds_the_first_byte_as_position_does() {
        for len in 0..40 {
            for at in 0..len {
                for other in [0usize, at / 2, len - 1] {
                    for (byte, filler) in [(b',', b'a'), (b' ', 0x80), (0x00, 0xff), (0xff, 0x00)] {
                        let mut text = vec![filler; len];
                        text[at] = byte;
                        text[other] = byte;
                        let expected = text.iter().position(|&b| b == byte);
                        assert_eq!(find(&text, byte), expected, "{text:?} {byte}");
                        // Bytes one off the sought one do not match.
                        for near in [byte.wrapping_add(1), byte.wrapping_sub(1), byte ^ 0x80] {
                            let expected = text.iter().position(|&b| b == near);
                            assert_eq!(find(&text, near), expected, "{text:?} {near}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn pieces_and_split_once_cut_as_str_does() {
        for value in [
            "",
            ",",
            "a",
            "a,b",
            ",a,,b,",
            "é,ü,",
            "v1,x v1a,y  z",
            "t=1,v1=a=b",
        ] {
            for sep in [b',', b' ', b'='] {
                let expected: Vec<&[u8]> =
                    value.split(char::from(sep)).map(str::as_bytes).collect();
                assert_eq!(
                    pieces(value.as_bytes(), sep).collect::<Vec<_>>(),
                    expected,
                    "{value:?}"
                );
                assert_eq!(
                    split_once(value.as_bytes(), sep),
                    value
                        .split_once(char::from(sep))
                        .map(|(a, b)| (a.as_bytes(), b.as_bytes())),
                    "{value:?}"
                );
            }
        }
    }

    #[test]
    fn base64_must_be_canonical() {
        let scheme = presets::shopify();
        let good = BASE64.encode([7u8; 32]);
        assert_eq!(decoded(&scheme, &good).unwrap(), vec![7; 32]);
        // 32 bytes end in one `=`; the last data char carries two zero bits: set one.
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut trailing = good.clone().into_bytes();
        let index = ALPHABET.iter().position(|&c| c == trailing[42]).unwrap();
        assert_eq!(index & 3, 0);
        trailing[42] = ALPHABET[index | 1];
        let trailing = String::from_utf8(trailing).unwrap();
        for bad in [
            trailing,
            good.trim_end_matches('=').to_owned(),
            format!("{good}="),
            BASE64.encode([7u8; 31]),
            good.replace('H', "-"),
        ] {
            assert_eq!(
                decoded(&scheme, &bad),
                Err(VerifyError::MalformedSignature),
                "{bad}"
            );
        }
    }

    /// The `base64` crate's verdict on `text` as the signature of a MAC of
    /// `len` bytes: how `decode` checked base64 before it had its own decoder.
    fn crate_decoded(encoding: Encoding, len: usize, text: &[u8]) -> Option<Vec<u8>> {
        use base64::engine::{DecodePaddingMode, GeneralPurposeConfig};
        let url = GeneralPurpose::new(
            &base64::alphabet::URL_SAFE,
            GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
        );
        let padded = len.div_ceil(3) * 4;
        let unpadded = (len * 4).div_ceil(3);
        let (engine, length_ok) = match encoding {
            Encoding::Base64Url => (&url, text.len() == padded || text.len() == unpadded),
            _ => (&BASE64, text.len() == padded),
        };
        let mut buf = [0; DECODE_BUF];
        (length_ok && engine.decode_slice(text, &mut buf[..]).ok() == Some(len))
            .then(|| buf[..len].to_vec())
    }

    #[test]
    fn base64_agrees_with_the_base64_crate() {
        for encoding in [Encoding::Base64, Encoding::Base64Url] {
            for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
                let scheme = presets::shopify()
                    .with_encoding(encoding)
                    .with_algorithm(algorithm);
                let len = algorithm.output_len();
                let check = |text: &[u8]| {
                    let mut buf = [0; DECODE_BUF];
                    let ours = decode(&scheme, text, &mut buf).ok().map(<[u8]>::to_vec);
                    assert_eq!(
                        ours,
                        crate_decoded(encoding, len, text),
                        "{encoding:?} {algorithm:?} {:?}",
                        String::from_utf8_lossy(text)
                    );
                };
                for bytes in [
                    vec![0u8; len],
                    vec![0xffu8; len],
                    (0..len).map(|i| (i * 37 + 11) as u8).collect(),
                ] {
                    let padded = BASE64.encode(&bytes);
                    let url = base64::engine::general_purpose::URL_SAFE.encode(&bytes);
                    for good in [padded.clone(), url.clone(), encode(encoding, &bytes)] {
                        let good = good.into_bytes();
                        check(&good);
                        for cut in 0..good.len() {
                            check(&good[..cut]);
                        }
                        for extra in [&b"="[..], b"==", b"A", b"=A"] {
                            check(&[&good[..], extra].concat());
                        }
                        // Every byte value at every position.
                        for at in 0..good.len() {
                            for byte in 0..=255u8 {
                                let mut text = good.clone();
                                text[at] = byte;
                                check(&text);
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn base64_url_accepts_padding_either_way() {
        let scheme = presets::shopify().with_encoding(Encoding::Base64Url);
        let bytes = [0xfbu8; 32];
        let unpadded = encode(Encoding::Base64Url, &bytes);
        assert!(unpadded.contains('-') || unpadded.contains('_'));
        assert_eq!(decoded(&scheme, &unpadded).unwrap(), bytes);
        assert_eq!(decoded(&scheme, &format!("{unpadded}=")).unwrap(), bytes);
        assert!(decoded(&scheme, &BASE64.encode(bytes)).is_err());
    }

    #[test]
    fn sha512_base64_fits() {
        let scheme = presets::shopify().with_algorithm(Algorithm::Sha512);
        let bytes = [0x5au8; 64];
        assert_eq!(decoded(&scheme, &BASE64.encode(bytes)).unwrap(), bytes);
    }

    #[test]
    fn list_syntaxes() {
        let stripe = presets::stripe();
        let sig = "a".repeat(64);
        let ok = format!("t=1,v1={sig},v0={sig},v1={sig}");
        assert_eq!(
            scan(&stripe, ok.as_bytes()).unwrap().timestamp,
            Some(&b"1"[..])
        );
        for bad in [
            format!("t=1,t=2,v1={sig}"),
            format!("t=1,v1={sig},junk"),
            "t=1,v1=".to_owned(),
            String::new(),
        ] {
            assert_eq!(
                scan(&stripe, bad.as_bytes()).unwrap_err(),
                VerifyError::MalformedSignature,
                "{bad}"
            );
        }
        assert_eq!(
            scan(&stripe, format!("t=1,v0={sig}").as_bytes()).unwrap_err(),
            VerifyError::UnsupportedSignatureVersion
        );

        let sw = presets::standard_webhooks();
        let b64 = BASE64.encode([1u8; 32]);
        assert!(scan(&sw, format!("v1,{b64} v1a,xyz v2,{b64}").as_bytes()).is_ok());
        for bad in [
            "v1,".to_owned(),
            format!("v1,{b64}  v1,{b64}"),
            format!("v1 {b64}"),
        ] {
            assert_eq!(
                scan(&sw, bad.as_bytes()).unwrap_err(),
                VerifyError::MalformedSignature,
                "{bad}"
            );
        }
        assert_eq!(
            scan(&sw, format!("v0,{b64} v2,{b64}").as_bytes()).unwrap_err(),
            VerifyError::UnsupportedSignatureVersion
        );
    }
}
