//! Entry points for the fuzz targets in the repository's `fuzz/` folder:
//! the parsers the verifier runs privately, reachable one by one. Behind the
//! `fuzzing` feature and hidden from the docs; not part of the API.

use crate::signature::{self, Entry, DECODE_BUF};
use crate::VerifyError;
use crate::{json, timestamp, DeliveryId, Encoding, JsonPointer, Scheme, TimestampFormat};

/// Checks a signature header as the verifier does before any MAC (syntax,
/// and every signature of the checked version decoding canonically) and
/// returns the decoded signatures and the `t=` entry, if any.
///
/// # Errors
/// As the verifier: [`VerifyError::MalformedSignature`] or
/// [`VerifyError::UnsupportedSignatureVersion`].
pub fn scan_signature<'a>(
    scheme: &'a Scheme,
    value: &'a str,
) -> Result<(Vec<Vec<u8>>, Option<&'a str>), VerifyError> {
    let scanned = signature::scan(scheme, value.as_bytes())?;
    let mut decoded = Vec::new();
    signature::visit(scheme, value.as_bytes(), |entry| {
        if let Entry::Signature(text) = entry {
            let mut buf = [0; DECODE_BUF];
            decoded.push(signature::decode(scheme, text, &mut buf)?.to_vec());
        }
        Ok(())
    })?;
    // Cut from `value` at ASCII separators, so still text.
    let timestamp = scanned
        .timestamp
        .map(|t| std::str::from_utf8(t).unwrap_or_default());
    Ok((decoded, timestamp))
}

/// A MAC written as a scheme with `encoding` writes it.
pub fn encode_signature(encoding: Encoding, tag: &[u8]) -> String {
    signature::encode(encoding, tag)
}

/// Milliseconds since the epoch, parsed from a timestamp header's text.
///
/// # Errors
/// [`VerifyError::MalformedTimestamp`].
pub fn parse_timestamp(text: &str, format: TimestampFormat) -> Result<i128, VerifyError> {
    timestamp::parse(text.as_bytes(), format)
}

/// A timestamp written as the signer writes it; `None` when the format cannot hold it.
pub fn format_timestamp(millis: i128, format: TimestampFormat) -> Option<String> {
    timestamp::format(millis, format)
}

/// The delivery ID at `pointer` in a JSON body, as the verifier reads it
/// after the signature passed.
pub fn read_json_id(body: &[u8], pointer: &JsonPointer) -> Option<DeliveryId> {
    json::read_id(body, pointer.segments())
}
