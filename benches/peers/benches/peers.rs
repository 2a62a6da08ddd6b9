//! hookwarden's `Verifier::verify` beside the peers, on byte-identical
//! deliveries, at bodies of 64 B, 1 KiB, 64 KiB and 1 MiB.
//!
//! Per body size, one criterion group `peers/<size>`:
//! - Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`):
//!   `floor/standard-webhooks` (pre-keyed RustCrypto HMAC over id.ts.body),
//!   `hookwarden/standard-webhooks`, `svix/standard-webhooks` (the `svix`
//!   crate's `Webhook::verify`, which reads the unbranded headers too),
//!   `standardwebhooks/standard-webhooks`, `webhook-verify/standard-webhooks`;
//! - GitHub and Stripe: `floor/…`, `hookwarden/…`, `webhook-verify/…`.
//!
//! Every delivery is signed by hookwarden's `Signer` just before its group
//! runs, and every verifier is checked to accept it before it is timed.

use std::hint::black_box;
use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hmac::{Hmac, KeyInit, Mac};
use hookwarden_core::{presets, SignOptions, Signer, Verifier};
use http::HeaderMap;
use sha2::Sha256;

const SIZES: [(usize, &str); 4] = [
    (64, "64B"),
    (1024, "1KiB"),
    (64 * 1024, "64KiB"),
    (1024 * 1024, "1MiB"),
];

/// A Standard Webhooks secret: `whsec_` + base64 of the key.
const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// Raw secrets for GitHub and Stripe (Stripe's own start with `whsec_` too,
/// and are used as they are).
const GITHUB_SECRET: &str = "It's a Secret to Everybody";
const STRIPE_SECRET: &str = "whsec_stripe_bench_0123456789";

/// A JSON body of exactly `len` bytes with a top-level `id` (Stripe's
/// delivery ID), ASCII only: svix and standardwebhooks refuse non-UTF-8.
fn body(len: usize) -> Vec<u8> {
    let mut out = br#"{"id":"evt_1","data":""#.to_vec();
    out.resize(len - 2, b'x');
    out.extend_from_slice(br#""}"#);
    out
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no header {name}"))
}

fn hex_decode(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The bare MAC: pre-keyed, cloned, fed the signed parts, compared.
fn floor(mac: &Hmac<Sha256>, prefix: &[u8], body: &[u8], tag: &[u8]) -> bool {
    let mut mac = mac.clone();
    mac.update(prefix);
    mac.update(body);
    mac.verify_slice(tag).is_ok()
}

fn sign(name: &str, secret: &str, body: &[u8]) -> HeaderMap {
    let mut options = SignOptions::new().with_timestamp(SystemTime::now());
    // Stripe's delivery ID is the body's `id`; the others take a header.
    if name != "stripe" {
        options = options.with_id("msg_2YH5bSGv9pHiKQUjcRyN1W3sUNk");
    }
    Signer::new(presets::by_name(name).expect("preset"), secret)
        .expect("signer")
        .sign(body, &options)
        .expect("signed")
}

fn peers(c: &mut Criterion) {
    let sw_key = STANDARD
        .decode(SW_SECRET.trim_start_matches("whsec_"))
        .expect("base64");
    let sw_mac = Hmac::<Sha256>::new_from_slice(&sw_key).expect("key");
    let github_mac = Hmac::<Sha256>::new_from_slice(GITHUB_SECRET.as_bytes()).expect("key");
    let stripe_mac = Hmac::<Sha256>::new_from_slice(STRIPE_SECRET.as_bytes()).expect("key");

    let sw = Verifier::new(presets::standard_webhooks(), SW_SECRET).expect("verifier");
    let github = Verifier::new(presets::github(), GITHUB_SECRET).expect("verifier");
    let stripe = Verifier::new(presets::stripe(), STRIPE_SECRET).expect("verifier");
    let svix = svix::webhooks::Webhook::new(SW_SECRET).expect("svix");
    let standard = standardwebhooks::Webhook::new(SW_SECRET).expect("standardwebhooks");
    let wv_sw = webhook_verify::Secret::new(SW_SECRET);
    let wv_github = webhook_verify::Secret::new(GITHUB_SECRET);
    let wv_stripe = webhook_verify::Secret::new(STRIPE_SECRET);
    let wv = |provider, headers: &HeaderMap, body: &[u8], secret| {
        webhook_verify::verify(provider, headers, body, secret, Default::default())
    };

    for (len, label) in SIZES {
        let body = body(len);
        let mut group = c.benchmark_group(format!("peers/{label}"));
        group.throughput(Throughput::Bytes(len as u64));

        // Standard Webhooks: one delivery for all five.
        let headers = sign("standard-webhooks", SW_SECRET, &body);
        let prefix = format!(
            "{}.{}.",
            header(&headers, "webhook-id"),
            header(&headers, "webhook-timestamp")
        );
        let tag = STANDARD
            .decode(header(&headers, "webhook-signature").trim_start_matches("v1,"))
            .expect("base64");
        assert!(floor(&sw_mac, prefix.as_bytes(), &body, &tag));
        sw.verify(&headers, &body).expect("hookwarden accepts");
        svix.verify(&body, &headers).expect("svix accepts");
        standard
            .verify(&body, &headers)
            .expect("standardwebhooks accepts");
        wv(
            webhook_verify::Provider::StandardWebhooks,
            &headers,
            &body,
            &wv_sw,
        )
        .expect("webhook-verify accepts");
        let id = "standard-webhooks";
        group.bench_function(BenchmarkId::new("floor", id), |b| {
            b.iter(|| {
                floor(
                    &sw_mac,
                    black_box(prefix.as_bytes()),
                    black_box(&body),
                    &tag,
                )
            })
        });
        group.bench_function(BenchmarkId::new("hookwarden", id), |b| {
            b.iter(|| sw.verify(black_box(&headers), black_box(&body)))
        });
        group.bench_function(BenchmarkId::new("svix", id), |b| {
            b.iter(|| svix.verify(black_box(&body), black_box(&headers)))
        });
        group.bench_function(BenchmarkId::new("standardwebhooks", id), |b| {
            b.iter(|| standard.verify(black_box(&body), black_box(&headers)))
        });
        group.bench_function(BenchmarkId::new("webhook-verify", id), |b| {
            b.iter(|| {
                wv(
                    webhook_verify::Provider::StandardWebhooks,
                    black_box(&headers),
                    black_box(&body),
                    &wv_sw,
                )
            })
        });

        // GitHub.
        let headers = sign("github", GITHUB_SECRET, &body);
        let tag = hex_decode(header(&headers, "x-hub-signature-256").trim_start_matches("sha256="));
        assert!(floor(&github_mac, b"", &body, &tag));
        github.verify(&headers, &body).expect("hookwarden accepts");
        wv(
            webhook_verify::Provider::GitHub,
            &headers,
            &body,
            &wv_github,
        )
        .expect("webhook-verify accepts");
        group.bench_function(BenchmarkId::new("floor", "github"), |b| {
            b.iter(|| floor(&github_mac, b"", black_box(&body), &tag))
        });
        group.bench_function(BenchmarkId::new("hookwarden", "github"), |b| {
            b.iter(|| github.verify(black_box(&headers), black_box(&body)))
        });
        group.bench_function(BenchmarkId::new("webhook-verify", "github"), |b| {
            b.iter(|| {
                wv(
                    webhook_verify::Provider::GitHub,
                    black_box(&headers),
                    black_box(&body),
                    &wv_github,
                )
            })
        });

        // Stripe.
        let headers = sign("stripe", STRIPE_SECRET, &body);
        let value = header(&headers, "stripe-signature");
        let t = value
            .split(',')
            .find_map(|item| item.strip_prefix("t="))
            .expect("t=");
        let prefix = format!("{t}.");
        let tag = hex_decode(value.rsplit_once("v1=").expect("v1=").1);
        assert!(floor(&stripe_mac, prefix.as_bytes(), &body, &tag));
        stripe.verify(&headers, &body).expect("hookwarden accepts");
        wv(
            webhook_verify::Provider::Stripe,
            &headers,
            &body,
            &wv_stripe,
        )
        .expect("webhook-verify accepts");
        group.bench_function(BenchmarkId::new("floor", "stripe"), |b| {
            b.iter(|| {
                floor(
                    &stripe_mac,
                    black_box(prefix.as_bytes()),
                    black_box(&body),
                    &tag,
                )
            })
        });
        group.bench_function(BenchmarkId::new("hookwarden", "stripe"), |b| {
            b.iter(|| stripe.verify(black_box(&headers), black_box(&body)))
        });
        group.bench_function(BenchmarkId::new("webhook-verify", "stripe"), |b| {
            b.iter(|| {
                wv(
                    webhook_verify::Provider::Stripe,
                    black_box(&headers),
                    black_box(&body),
                    &wv_stripe,
                )
            })
        });
        group.finish();
    }
}

criterion_group!(benches, peers);
criterion_main!(benches);
