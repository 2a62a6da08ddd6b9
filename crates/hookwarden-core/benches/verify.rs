//! `cargo bench -p hookwarden-core --bench verify`: criterion's figures for
//! `Verifier::verify` for every preset beside the bare MAC, at bodies of
//! 64 B, 1 KiB, 64 KiB and 1 MiB, and for the HMAC implementations.
//!
//! Per body size, one group `verify/<size>` holds, for each preset,
//! `floor/<preset>` (a pre-keyed RustCrypto `Hmac` cloned, fed the bytes the
//! preset signs, part by part, finalized and compared with `verify_slice`)
//! and `hookwarden/<preset>` (`Verifier::verify` on the same signed
//! delivery, reading the system clock). One group `hmac/<size>` times HMAC
//! over the body with `ring` (the limit anchor), RustCrypto pre-keyed and
//! cloned (what hookwarden does), and RustCrypto keyed anew per call (the
//! naive anchor).
//!
//! On a busy machine these absolute times wander; the `ratios` bench measures
//! the same pairs interleaved, which is what BENCHMARKS.md's ratios use.
#![allow(missing_docs)]

mod common;

use std::hint::black_box;

use common::{key_bytes, Case, SIZES};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hmac::{Hmac, KeyInit, Mac};
use hookwarden_core::presets;
use sha2::{Sha256, Sha512};

fn verify(c: &mut Criterion) {
    for (len, label) in SIZES {
        let mut group = c.benchmark_group(format!("verify/{label}"));
        group.throughput(Throughput::Bytes(len as u64));
        for &name in presets::NAMES {
            // Signed afresh per preset: a whole run outlasts the timestamped
            // presets' five-minute window.
            let case = Case::new(name, len);
            group.bench_function(BenchmarkId::new("floor", name), |b| {
                b.iter(|| case.run_floor())
            });
            group.bench_function(BenchmarkId::new("hookwarden", name), |b| {
                b.iter(|| case.run_verify())
            });
        }
        group.finish();
    }
}

fn hmac_backends(c: &mut Criterion) {
    let key = key_bytes("ntxpay");
    for (len, label) in SIZES {
        let body = common::body(len);
        let mut group = c.benchmark_group(format!("hmac/{label}"));
        group.throughput(Throughput::Bytes(len as u64));

        let ring256 = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
        let ring512 = ring::hmac::Key::new(ring::hmac::HMAC_SHA512, &key);
        let rc256 = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
        let rc512 = Hmac::<Sha512>::new_from_slice(&key).expect("any key length");
        // The implementations agree before they race.
        assert_eq!(
            ring::hmac::sign(&ring256, &body).as_ref(),
            &rc256.clone().chain_update(&body).finalize().into_bytes()[..]
        );
        assert_eq!(
            ring::hmac::sign(&ring512, &body).as_ref(),
            &rc512.clone().chain_update(&body).finalize().into_bytes()[..]
        );

        group.bench_function("ring/sha256", |b| {
            b.iter(|| ring::hmac::sign(&ring256, black_box(&body)))
        });
        group.bench_function("rustcrypto/sha256", |b| {
            b.iter(|| rc256.clone().chain_update(black_box(&body)).finalize())
        });
        group.bench_function("rustcrypto-rekeyed/sha256", |b| {
            b.iter(|| {
                Hmac::<Sha256>::new_from_slice(black_box(&key))
                    .expect("any key length")
                    .chain_update(black_box(&body))
                    .finalize()
            })
        });
        group.bench_function("ring/sha512", |b| {
            b.iter(|| ring::hmac::sign(&ring512, black_box(&body)))
        });
        group.bench_function("rustcrypto/sha512", |b| {
            b.iter(|| rc512.clone().chain_update(black_box(&body)).finalize())
        });
        group.finish();
    }
}

criterion_group!(benches, verify, hmac_backends);
criterion_main!(benches);
