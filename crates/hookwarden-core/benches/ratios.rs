//! `cargo bench -p hookwarden-core --bench ratios`: the ratios of issue 8,
//! measured side by side so that a busy machine does not skew them.
//!
//! Each pair (`verify` and the bare MAC on the same delivery; RustCrypto and
//! `ring` on the same body) runs in alternating batches of about a quarter
//! of a millisecond each, the order swapped every round, for 201 rounds. A
//! batch of one and the neighbouring batch of the other see the same
//! machine. Other processes only ever add time, so the fastest batch of each
//! side is its cleanest figure: the ratio of the two fastest batches is the
//! headline ratio; the median and quartiles of the per-round ratios show
//! how much the machine's load spread them.
//!
//! `minimum/floor` pairs bound `verify/floor` from below: the bare MAC plus
//! only what every verifier of that preset must also do (look up each of
//! its headers, read the clock, hash the body for a digest ID).
//! `tuned/floor github` sits between the two: a verifier written by hand
//! for GitHub alone, with every check `verify` makes for it; the
//! `tuned-lookups` and `tuned-decode` pairs are its first stages alone
//! (the headers looked up, then the signature decoded) before the floor.
//! `hmac compress/rustcrypto sha256` asks how much of the floor is the
//! `Hmac` type's own bookkeeping: HMAC (RFC 2104) written directly on
//! SHA-256's compression function, beside the pre-keyed `Hmac` clone.
//!
//! `HOOKWARDEN_ROUNDS` changes the number of rounds.
#![allow(missing_docs)]

mod common;

use std::hint::black_box;
use std::time::Instant;

use common::{key_bytes, Case, TunedGithub, SIZES};
use hmac::{Hmac, KeyInit, Mac};
use hookwarden_core::http::HeaderMap;
use hookwarden_core::{presets, HeaderLookup, Lookup};
use sha2::{Sha256, Sha512};

/// One side of a pair: a call that must succeed.
type Run<'a> = dyn Fn() -> bool + 'a;

/// One side of a preset's pair, on a prepared delivery.
type Side = fn(&Case) -> bool;

/// The same, for a side that holds a verifier of its own.
type Stage<'a> = dyn Fn(&Case) -> bool + 'a;

/// What one pair measured.
struct Pair {
    /// Quartiles of the per-round ratio `a / b`.
    ratio: [f64; 3],
    /// The fastest batch of each side, in ns per call.
    best: [f64; 2],
}

/// Runs `a` and `b` in alternating batches and compares them.
fn paired(a: impl Fn() -> bool, b: impl Fn() -> bool, rounds: usize) -> Pair {
    // A batch: as many calls of `b` as take about 250 µs.
    // Both sides must succeed: a failing side would time a quick refusal.
    assert!(a(), "side a failed");
    let start = Instant::now();
    let mut batch = 0usize;
    while start.elapsed().as_micros() < 250 {
        assert!(b());
        batch += 1;
    }
    let time = |f: &dyn Fn() -> bool| {
        let start = Instant::now();
        for _ in 0..batch {
            black_box(f());
        }
        start.elapsed().as_nanos() as f64 / batch as f64
    };
    let (mut ratios, mut best) = (Vec::with_capacity(rounds), [f64::MAX; 2]);
    for round in 0..rounds {
        let (ta, tb) = if round % 2 == 0 {
            let ta = time(&a);
            (ta, time(&b))
        } else {
            let tb = time(&b);
            (time(&a), tb)
        };
        ratios.push(ta / tb);
        best = [best[0].min(ta), best[1].min(tb)];
    }
    ratios.sort_by(f64::total_cmp);
    let q = |p: f64| ratios[((ratios.len() - 1) as f64 * p).round() as usize];
    Pair {
        ratio: [q(0.25), q(0.5), q(0.75)],
        best,
    }
}

fn print(what: &str, size: &str, pair: &Pair) {
    println!(
        "{what:<40} {size:>6} {:>7.3} {:>7.3} [{:.3} {:.3}] {:>11.1} {:>11.1}",
        pair.best[0] / pair.best[1],
        pair.ratio[1],
        pair.ratio[0],
        pair.ratio[2],
        pair.best[0],
        pair.best[1]
    );
}

/// Whether one walk over a request's headers could read a scheme's
/// headers for less than `HeaderMap`'s hashed lookups, which `minimum`
/// counts as work no verifier can skip: Standard Webhooks' three headers,
/// alone and among the seven others a delivery typically arrives with.
fn header_reads(filter: &str, rounds: usize) {
    let case = Case::new("standard-webhooks", 1024);
    let mut typical = case.headers.clone();
    for (name, value) in [
        ("host", "127.0.0.1:3000"),
        ("user-agent", "Svix-Webhooks/1.24"),
        ("content-type", "application/json"),
        ("content-length", "1024"),
        ("accept", "*/*"),
        ("accept-encoding", "gzip"),
        ("x-forwarded-for", "10.0.0.1"),
    ] {
        typical.insert(name, value.parse().expect("a header value"));
    }
    let names = &case.names;
    assert_eq!(names.len(), 3, "webhook-id, -timestamp and -signature");
    // What the verifier does: `HeaderLookup`, one value per name.
    let lookups = |headers: &HeaderMap| {
        names
            .iter()
            .all(|name| matches!(black_box(headers.lookup(name)), Lookup::One(_)))
    };
    let walk = |headers: &HeaderMap| {
        let mut found = [(0usize, None); 3];
        for (name, value) in headers {
            for (wanted, found) in names.iter().zip(&mut found) {
                if name == wanted {
                    *found = (found.0 + 1, Some(value));
                }
            }
        }
        black_box(found).iter().all(|&(count, _)| count == 1)
    };
    for (what, headers) in [
        ("headers walk/lookup 3 of 3", &case.headers),
        ("headers walk/lookup 3 of 10", &typical),
    ] {
        if what.contains(filter) {
            let headers = black_box(headers);
            print(
                what,
                "-",
                &paired(|| walk(headers), || lookups(headers), rounds),
            );
        }
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").unwrap_or_default()
}

fn main() {
    // `cargo bench -- <filter>` passes a filter: run only pairs containing it.
    let filter = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with("--"))
        .unwrap_or_default();
    let rounds = std::env::var("HOOKWARDEN_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(201);
    println!("load average before: {}", loadavg().trim());
    println!(
        "{:<40} {:>6} {:>7} {:>7} {:>15} {:>11} {:>11}",
        "pair (a / b)", "body", "best", "median", "[q1 q3]", "best a ns", "best b ns"
    );
    // `verify`, then the work no verifier can skip, each beside the floor.
    let sides: [(&str, Side); 2] = [
        ("verify/floor", Case::run_verify),
        ("minimum/floor", Case::run_minimum),
    ];
    for (len, label) in SIZES {
        for (kind, run) in sides {
            for &name in presets::NAMES {
                let what = format!("{kind} {name}");
                if !what.contains(&filter) {
                    continue;
                }
                let case = Case::new(name, len);
                let pair = paired(|| run(&case), || case.run_floor(), rounds);
                print(&what, label, &pair);
            }
        }
    }
    // The hand-written GitHub verifier, and its first stages before the
    // floor's MAC: how much of the budget the lookups and the decoding take.
    let tuned = TunedGithub::new();
    let stages: [(&str, &Stage); 3] = [
        ("tuned-lookups/floor github", &|case| {
            tuned.lookups(black_box(&case.headers)).is_some() && case.run_floor()
        }),
        ("tuned-decode/floor github", &|case| {
            let lookups = tuned.lookups(black_box(&case.headers));
            let tag = lookups.and_then(|(signature, _)| TunedGithub::decode(signature));
            black_box(tag).is_some() && case.run_floor()
        }),
        ("tuned/floor github", &|case| {
            let verified = tuned.verify(black_box(&case.headers), black_box(&case.body));
            black_box(verified).is_some()
        }),
    ];
    for (what, stage) in stages {
        if !what.contains(&filter) {
            continue;
        }
        for (len, label) in SIZES {
            let case = Case::new("github", len);
            assert!(tuned.verify(&case.headers, b"another body").is_none());
            let pair = paired(|| stage(&case), || case.run_floor(), rounds);
            print(what, label, &pair);
        }
    }
    header_reads(&filter, rounds);
    let key = key_bytes("ntxpay");
    // The compression-level HMAC agrees with `Hmac` on every tail length.
    let compress = CompressHmac::new(&key);
    for len in 0..=130 {
        let message: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let tag = Hmac::<Sha256>::new_from_slice(&key)
            .expect("any key length")
            .chain_update(&message)
            .finalize()
            .into_bytes();
        assert_eq!(compress.mac(&message)[..], tag[..], "{len} bytes");
    }
    for (len, label) in SIZES {
        let body = common::body(len);
        let ring256 = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
        let ring512 = ring::hmac::Key::new(ring::hmac::HMAC_SHA512, &key);
        let rc256 = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
        let rc512 = Hmac::<Sha512>::new_from_slice(&key).expect("any key length");
        let ring_tag256 = ring::hmac::sign(&ring256, &body);
        let ring_tag512 = ring::hmac::sign(&ring512, &body);
        assert_eq!(compress.mac(&body)[..], ring_tag256.as_ref()[..]);
        // The floor's MAC: a pre-keyed `Hmac` cloned, fed and checked.
        let rustcrypto256 = || {
            rc256
                .clone()
                .chain_update(black_box(&body))
                .verify_slice(ring_tag256.as_ref())
                .is_ok()
        };
        let pairs: [(&str, &Run, &Run); 4] = [
            ("hmac rustcrypto/ring sha256", &rustcrypto256, &|| {
                ring::hmac::verify(&ring256, black_box(&body), ring_tag256.as_ref()).is_ok()
            }),
            (
                "hmac rustcrypto/ring sha512",
                &|| {
                    rc512
                        .clone()
                        .chain_update(black_box(&body))
                        .verify_slice(ring_tag512.as_ref())
                        .is_ok()
                },
                &|| ring::hmac::verify(&ring512, black_box(&body), ring_tag512.as_ref()).is_ok(),
            ),
            (
                "hmac rekeyed-per-call/pre-keyed sha256",
                &|| {
                    Hmac::<Sha256>::new_from_slice(black_box(&key))
                        .expect("any key length")
                        .chain_update(black_box(&body))
                        .verify_slice(ring_tag256.as_ref())
                        .is_ok()
                },
                &rustcrypto256,
            ),
            (
                "hmac compress/rustcrypto sha256",
                &|| compress.verify(black_box(&body), ring_tag256.as_ref()),
                &rustcrypto256,
            ),
        ];
        for (what, a, b) in pairs {
            if what.contains(&filter) {
                print(what, label, &paired(a, b, rounds));
            }
        }
    }
    println!("load average after: {}", loadavg().trim());
}

/// HMAC-SHA256 on `compress256` alone: the keyed inner and outer states
/// are two words of eight, the message's whole blocks are compressed in
/// place, and only the last one or two blocks are built on the stack.
/// For measuring what the `Hmac` type adds, not for use.
struct CompressHmac {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl CompressHmac {
    /// SHA-256's initial state (FIPS 180-4, 5.3.3).
    const IV: [u32; 8] = [
        0x6a09_e667,
        0xbb67_ae85,
        0x3c6e_f372,
        0xa54f_f53a,
        0x510e_527f,
        0x9b05_688c,
        0x1f83_d9ab,
        0x5be0_cd19,
    ];

    fn new(key: &[u8]) -> Self {
        assert!(key.len() <= 64, "a key longer than a block is hashed first");
        let pad = |byte: u8| {
            let mut block = [byte; 64];
            block.iter_mut().zip(key).for_each(|(b, k)| *b ^= k);
            let mut state = Self::IV;
            sha2::block_api::compress256(&mut state, &[block]);
            state
        };
        Self {
            inner: pad(0x36),
            outer: pad(0x5c),
        }
    }

    fn mac(&self, message: &[u8]) -> [u8; 32] {
        type Block = sha2::digest::array::Array<u8, sha2::digest::typenum::U64>;
        let (blocks, tail) = Block::slice_as_chunks(message);
        let mut state = self.inner;
        sha2::block_api::compress256(&mut state, Block::cast_slice_to_core(blocks));
        // Padding: 0x80, zeros, and the bit length of key block + message.
        let mut last = [[0u8; 64]; 2];
        let used = if tail.len() < 56 { 1 } else { 2 };
        let flat = last.as_flattened_mut();
        flat[..tail.len()].copy_from_slice(tail);
        flat[tail.len()] = 0x80;
        let bits = (64 + message.len() as u64) * 8;
        flat[used * 64 - 8..used * 64].copy_from_slice(&bits.to_be_bytes());
        sha2::block_api::compress256(&mut state, &last[..used]);
        // The outer hash: one block, the inner digest padded to 64 + 32 bytes.
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&digest(state));
        block[32] = 0x80;
        block[56..].copy_from_slice(&((64u64 + 32) * 8).to_be_bytes());
        let mut state = self.outer;
        sha2::block_api::compress256(&mut state, &[block]);
        digest(state)
    }

    fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        common::words_equal(&self.mac(message), tag)
    }
}

fn digest(state: [u32; 8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (bytes, word) in out.chunks_exact_mut(4).zip(state) {
        bytes.copy_from_slice(&word.to_be_bytes());
    }
    out
}
