//! Deliveries and the bare-MAC floor shared by the benches of this crate.
#![allow(dead_code)] // each bench uses a part

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use hookwarden_core::http::{HeaderMap, HeaderName};
use hookwarden_core::{
    presets, DeliveryIdSource, HeaderLookup, Lookup, SignOptions, Signer, Verifier,
};
use sha2::{Digest, Sha256, Sha512};

/// The body sizes of issue 8.
pub(crate) const SIZES: [(usize, &str); 4] = [
    (64, "64B"),
    (1024, "1KiB"),
    (64 * 1024, "64KiB"),
    (1024 * 1024, "1MiB"),
];

/// A JSON body of exactly `len` bytes (at least 24) with a top-level `id`,
/// ASCII only so that every peer accepts it.
pub(crate) fn body(len: usize) -> Vec<u8> {
    let mut out = br#"{"id":"evt_1","data":""#.to_vec();
    out.resize(len - 2, b'x');
    out.extend_from_slice(br#""}"#);
    assert_eq!(out.len(), len);
    out
}

/// The secret each preset is benchmarked with, as the provider writes it.
pub(crate) fn secret_text(name: &str) -> &'static str {
    match name {
        "standard-webhooks" | "svix" => "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        _ => "bench-secret-0123456789abcdef",
    }
}

/// The key bytes the MAC is keyed with.
pub(crate) fn key_bytes(name: &str) -> Vec<u8> {
    let text = secret_text(name);
    match text.strip_prefix("whsec_") {
        Some(b64) => STANDARD.decode(b64).expect("a base64 secret"),
        None => text.as_bytes().to_vec(),
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no header {name}"))
}

/// What the preset signs before the body (every preset ends with the
/// body), read from the headers its signer wrote.
pub(crate) fn signed_prefix(name: &str, headers: &HeaderMap) -> Vec<u8> {
    match name {
        "terminal" => header(headers, "x-timestamp").into(),
        "standard-webhooks" | "svix" => {
            let p = if name == "svix" { "svix" } else { "webhook" };
            format!(
                "{}.{}.",
                header(headers, &format!("{p}-id")),
                header(headers, &format!("{p}-timestamp"))
            )
            .into()
        }
        "stripe" => {
            let value = header(headers, "stripe-signature");
            let t = value
                .split(',')
                .find_map(|item| item.strip_prefix("t="))
                .expect("t=");
            format!("{t}.").into()
        }
        "slack" => format!("v0:{}:", header(headers, "x-slack-request-timestamp")).into(),
        _ => Vec::new(),
    }
}

/// The signature the preset's signer wrote, decoded.
pub(crate) fn expected_tag(name: &str, headers: &HeaderMap) -> Vec<u8> {
    let (header_name, marker, base64) = match name {
        "ntxpay" => ("x-ntxpay-signature", "", false),
        "paynetworx" | "4pay" => ("x-webhook-signature", "", false),
        "4pay-sha512" => ("api-notification-sign", "", false),
        "terminal" => ("x-signature", "", true),
        "standard-webhooks" => ("webhook-signature", "v1,", true),
        "svix" => ("svix-signature", "v1,", true),
        "stripe" => ("stripe-signature", "v1=", false),
        "github" => ("x-hub-signature-256", "sha256=", false),
        "shopify" => ("x-shopify-hmac-sha256", "", true),
        "slack" => ("x-slack-signature", "v0=", false),
        other => panic!("no layout for preset {other}"),
    };
    let value = header(headers, header_name);
    let text = match marker {
        "" => value,
        marker => value.rsplit_once(marker).expect("the marker").1,
    };
    if base64 {
        STANDARD.decode(text).expect("base64 signature")
    } else {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex signature"))
            .collect()
    }
}

/// The bare MAC: pre-keyed, cloned per delivery, fed the signed parts,
/// compared in constant time (`verify_slice`). What any verifier must pay.
#[derive(Clone)]
pub(crate) enum Floor {
    Sha256(Hmac<Sha256>),
    Sha512(Hmac<Sha512>),
}

impl Floor {
    pub(crate) fn new(name: &str) -> Self {
        let key = key_bytes(name);
        match name {
            "4pay-sha512" => Self::Sha512(Hmac::new_from_slice(&key).expect("any key length")),
            _ => Self::Sha256(Hmac::new_from_slice(&key).expect("any key length")),
        }
    }

    pub(crate) fn check(&self, prefix: &[u8], body: &[u8], tag: &[u8]) -> bool {
        match self {
            Self::Sha256(mac) => {
                let mut mac = mac.clone();
                mac.update(prefix);
                mac.update(body);
                mac.verify_slice(tag).is_ok()
            }
            Self::Sha512(mac) => {
                let mut mac = mac.clone();
                mac.update(prefix);
                mac.update(body);
                mac.verify_slice(tag).is_ok()
            }
        }
    }
}

/// One preset's delivery of one body, signed now, with what both the
/// verifier and the floor need; both are checked to accept it.
pub(crate) struct Case {
    pub(crate) name: &'static str,
    pub(crate) body: Vec<u8>,
    pub(crate) headers: HeaderMap,
    pub(crate) verifier: Verifier,
    pub(crate) floor: Floor,
    pub(crate) prefix: Vec<u8>,
    pub(crate) tag: Vec<u8>,
    /// The headers the preset's signer wrote: every one the verifier reads.
    pub(crate) names: Vec<HeaderName>,
    /// Whether the preset checks a timestamp, and so reads the clock.
    pub(crate) timestamped: bool,
    /// Whether the preset's delivery ID is the body's SHA-256.
    pub(crate) digest: bool,
}

impl Case {
    pub(crate) fn new(name: &'static str, len: usize) -> Self {
        let body = body(len);
        let scheme = presets::by_name(name).expect("a preset");
        let mut options = SignOptions::new().with_timestamp(SystemTime::now());
        if matches!(scheme.delivery_id(), DeliveryIdSource::Header(_)) {
            options = options.with_id("msg_2YH5bSGv9pHiKQUjcRyN1W3sUNk");
        }
        let headers = Signer::new(scheme.clone(), secret_text(name))
            .expect("a signer")
            .sign(&body, &options)
            .expect("signed");
        let names = headers.keys().cloned().collect();
        let timestamped = scheme.timestamp().is_some();
        let digest = matches!(scheme.delivery_id(), DeliveryIdSource::BodyDigest);
        let verifier = Verifier::new(scheme, secret_text(name)).expect("a verifier");
        let floor = Floor::new(name);
        let prefix = signed_prefix(name, &headers);
        let tag = expected_tag(name, &headers);
        assert!(
            floor.check(&prefix, &body, &tag),
            "{name}: the floor rejects"
        );
        verifier
            .verify(&headers, &body)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        Self {
            name,
            body,
            headers,
            verifier,
            floor,
            prefix,
            tag,
            names,
            timestamped,
            digest,
        }
    }

    pub(crate) fn run_floor(&self) -> bool {
        self.floor.check(
            std::hint::black_box(&self.prefix),
            std::hint::black_box(&self.body),
            &self.tag,
        )
    }

    /// The floor plus what any verifier of this preset must also do: look
    /// up each of its headers once, read the clock if it has a timestamp,
    /// and hash the body if its delivery ID is the body's digest. A lower
    /// bound on `verify`: no parsing, no decoding, no checks.
    pub(crate) fn run_minimum(&self) -> bool {
        let headers = std::hint::black_box(&self.headers);
        for name in &self.names {
            std::hint::black_box(headers.get(name));
        }
        if self.timestamped {
            std::hint::black_box(SystemTime::now());
        }
        if self.digest {
            std::hint::black_box(Sha256::digest(std::hint::black_box(&self.body)));
        }
        self.run_floor()
    }

    pub(crate) fn run_verify(&self) -> bool {
        self.verifier
            .verify(
                std::hint::black_box(&self.headers),
                std::hint::black_box(&self.body),
            )
            .is_ok()
    }
}

/// A GitHub verifier written by hand for GitHub alone: one lookup per
/// header, each checked single; `sha256=` and 64 hex digits of either case
/// decoded branch-free (the compiler vectorizes it); the MAC compared in
/// constant time; the ID checked visible ASCII and copied. No scheme to
/// interpret, no error values, no `Verified`; a missing or long ID is
/// refused where `verify` accepts it. What `verify` could cost on GitHub's
/// deliveries if its generality were free.
pub(crate) struct TunedGithub {
    mac: Hmac<Sha256>,
    signature: HeaderName,
    delivery: HeaderName,
}

impl TunedGithub {
    pub(crate) fn new() -> Self {
        Self {
            mac: Hmac::new_from_slice(&key_bytes("github")).expect("any key length"),
            signature: HeaderName::from_static("x-hub-signature-256"),
            delivery: HeaderName::from_static("x-github-delivery"),
        }
    }

    /// The delivery ID and its length, if the delivery verifies.
    pub(crate) fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Option<([u8; 64], usize)> {
        let (signature, id) = self.lookups(headers)?;
        let tag = Self::decode(signature)?;
        if id.len() > 64 {
            return None;
        }
        // Visible ASCII or tab, as the verifier checks a header.
        let invisible = id.iter().fold(0u8, |bad, &b| {
            bad | (u8::from(b.wrapping_sub(0x20) >= 0x5f) & u8::from(b != b'\t'))
        });
        if invisible != 0 {
            return None;
        }
        let mac = self.mac.clone().chain_update(body).finalize().into_bytes();
        if !words_equal(&mac, &tag) {
            return None;
        }
        let mut copy = [0u8; 64];
        copy[..id.len()].copy_from_slice(id);
        Some((copy, id.len()))
    }

    /// The first stage of [`TunedGithub::verify`]: the signature and ID
    /// headers, each there exactly once.
    pub(crate) fn lookups<'h>(&self, headers: &'h HeaderMap) -> Option<(&'h [u8], &'h [u8])> {
        match (
            headers.lookup(&self.signature),
            headers.lookup(&self.delivery),
        ) {
            (Lookup::One(signature), Lookup::One(id)) => Some((signature, id)),
            _ => None,
        }
    }

    /// The second stage: `sha256=` and 64 hex digits of either case,
    /// decoded branch-free.
    pub(crate) fn decode(signature: &[u8]) -> Option<[u8; 32]> {
        let hex = signature.strip_prefix(b"sha256=")?.first_chunk::<64>()?;
        if signature.len() != 71 {
            return None;
        }
        let (mut values, mut invalid) = ([0u8; 64], false);
        for (value, &digit) in values.iter_mut().zip(hex) {
            let decimal = digit.wrapping_sub(b'0');
            let letter = (digit | 0x20).wrapping_sub(b'a');
            invalid |= (decimal >= 10) & (letter >= 6);
            *value = if decimal < 10 {
                decimal
            } else {
                letter.wrapping_add(10)
            };
        }
        let mut tag = [0u8; 32];
        for (out, pair) in tag.iter_mut().zip(values.chunks_exact(2)) {
            *out = pair[0] << 4 | pair[1];
        }
        (!invalid).then_some(tag)
    }
}

/// Two MACs of one length compared in constant time, eight bytes at a
/// time, as the library's `Tag::matches` compares.
#[inline]
pub(crate) fn words_equal(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let word = |bytes: &[u8]| u64::from_ne_bytes(bytes.try_into().expect("eight bytes"));
    let equal = a
        .chunks_exact(8)
        .zip(b.chunks_exact(8))
        .fold(1u8, |equal, (a, b)| {
            equal & subtle::ConstantTimeEq::ct_eq(&word(a), &word(b)).unwrap_u8()
        });
    equal == 1
}

/// `MemoryStore`'s futures are ready at once: one poll finishes them.
pub(crate) fn ready<T>(future: impl Future<Output = T>) -> T {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("MemoryStore never waits"),
    }
}
