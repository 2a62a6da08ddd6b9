//! Helpers shared by the integration tests. Each test crate uses a subset.
#![allow(dead_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hookwarden_core::http::{HeaderMap, HeaderName, HeaderValue};
use hookwarden_core::{presets, DeliveryIdSource, Scheme, SignOptions, Signer};
use sha2::{Digest, Sha256};

/// The fixed "now" of the tests: 2023-11-14T22:13:20Z.
pub(crate) const NOW: u64 = 1_700_000_000;

/// `secs` seconds since the Unix epoch (negative before it).
pub(crate) fn epoch(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

/// `NOW + offset` seconds.
pub(crate) fn now_plus(offset: i64) -> SystemTime {
    epoch(NOW as i64 + offset)
}

/// The preset called `name`.
pub(crate) fn preset(name: &str) -> Scheme {
    presets::by_name(name).unwrap_or_else(|| panic!("no preset {name}"))
}

/// Whether the preset's secrets are `whsec_` + base64 (Standard Webhooks, Svix).
pub(crate) fn is_whsec_base64(name: &str) -> bool {
    matches!(name, "standard-webhooks" | "svix")
}

/// A valid secret for the preset (8–128 characters fits NTX Pay too).
pub(crate) fn secret_for(name: &str) -> &'static str {
    if is_whsec_base64(name) {
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    } else {
        "test-secret-1234"
    }
}

/// Another valid secret for the preset, different from [`secret_for`].
pub(crate) fn other_secret_for(name: &str) -> &'static str {
    if is_whsec_base64(name) {
        "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
    } else {
        "another-secret-5678"
    }
}

/// Whether the scheme takes its delivery ID from a header (so `SignOptions::with_id` applies).
pub(crate) fn takes_header_id(scheme: &Scheme) -> bool {
    matches!(scheme.delivery_id(), DeliveryIdSource::Header(_))
}

/// Whether the scheme reads a timestamp.
pub(crate) fn has_timestamp(scheme: &Scheme) -> bool {
    scheme.timestamp().is_some()
}

/// The signed ID header of a preset whose signed content includes its ID header.
pub(crate) fn signed_id_header(name: &str) -> Option<&'static str> {
    match name {
        "standard-webhooks" => Some("webhook-id"),
        "svix" => Some("svix-id"),
        _ => None,
    }
}

/// Signs `body` with the preset's signer at `ts`, with `id` where the scheme takes a header ID.
pub(crate) fn sign(
    scheme: &Scheme,
    secret: &str,
    body: &[u8],
    ts: SystemTime,
    id: &str,
) -> HeaderMap {
    let mut options = SignOptions::new().with_timestamp(ts);
    if takes_header_id(scheme) {
        options = options.with_id(id);
    }
    Signer::new(scheme.clone(), secret)
        .unwrap_or_else(|e| panic!("{}: signer: {e}", scheme.name()))
        .sign(body, &options)
        .unwrap_or_else(|e| panic!("{}: sign: {e}", scheme.name()))
}

/// The value of a header as text.
pub(crate) fn get(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no header {name}"))
        .to_str()
        .unwrap_or_else(|_| panic!("header {name} is not ASCII"))
        .to_owned()
}

/// Replaces a header with one text value.
pub(crate) fn set(headers: &mut HeaderMap, name: &str, value: &str) {
    set_bytes(headers, name, value.as_bytes());
}

/// Replaces a header with one raw value (which may hold non-ASCII bytes).
pub(crate) fn set_bytes(headers: &mut HeaderMap, name: &str, value: &[u8]) {
    let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
    let value = HeaderValue::from_bytes(value).unwrap();
    headers.insert(name, value);
}

/// How a preset writes the signature bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SigEncoding {
    /// Lowercase hex (either case is accepted).
    Hex,
    /// Standard base64, padded.
    Base64,
}

/// Where the signature sits in a preset's signature header: the text right
/// before it, and its encoding. The signature runs to the end of the value in
/// headers the signer writes.
pub(crate) fn signature_layout(name: &str) -> (&'static str, SigEncoding) {
    match name {
        "ntxpay" | "paynetworx" | "4pay" | "4pay-sha512" => ("", SigEncoding::Hex),
        "terminal" | "shopify" => ("", SigEncoding::Base64),
        "standard-webhooks" | "svix" => ("v1,", SigEncoding::Base64),
        "stripe" => (",v1=", SigEncoding::Hex),
        "github" => ("sha256=", SigEncoding::Hex),
        "slack" => ("v0=", SigEncoding::Hex),
        other => panic!("unknown preset {other}"),
    }
}

/// Splits a signer-written signature header into (everything before the
/// signature, the encoded signature).
pub(crate) fn split_signature<'a>(name: &str, value: &'a str) -> (&'a str, &'a str) {
    let (marker, _) = signature_layout(name);
    let at = value
        .find(marker)
        .unwrap_or_else(|| panic!("{name}: no {marker:?} in {value:?}"))
        + marker.len();
    value.split_at(at)
}

pub(crate) fn decode_sig(encoding: SigEncoding, text: &str) -> Vec<u8> {
    match encoding {
        SigEncoding::Hex => (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect(),
        SigEncoding::Base64 => STANDARD.decode(text).unwrap(),
    }
}

pub(crate) fn encode_sig(encoding: SigEncoding, bytes: &[u8]) -> String {
    match encoding {
        SigEncoding::Hex => hex(bytes),
        SigEncoding::Base64 => STANDARD.encode(bytes),
    }
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Standard padded base64.
pub(crate) fn base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Lowercase hex SHA-256 of `body`: what `DeliveryIdSource::BodyDigest` reports.
pub(crate) fn body_digest(body: &[u8]) -> String {
    hex(&Sha256::digest(body))
}

/// Independent HMAC-SHA256 of the concatenated parts.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}
