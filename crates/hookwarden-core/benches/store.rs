//! `cargo bench -p hookwarden-core --bench store`: `MemoryStore` reserve +
//! complete on one core, for new delivery IDs (the happy path of every
//! delivery), in a store filling up to a million entries and in a full
//! store that evicts its oldest entry on every insertion.
//!
//! The key is written into a fixed buffer per operation (a few ns, counted
//! in the figure, so the figure errs on the slow side).
#![allow(missing_docs)]

mod common;

use std::time::{Duration, Instant};

use common::ready;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hookwarden_core::{DedupeStore, MemoryStore, Reservation};

const LEASE: Duration = Duration::from_secs(60);
const RETENTION: Duration = Duration::from_secs(72 * 3600);

/// `ntxpay:evt_` and 16 hex digits of `n`: 27 bytes, one key per `n`.
struct Key([u8; 27]);

impl Key {
    fn new() -> Self {
        Self(*b"ntxpay:evt_0000000000000000")
    }

    fn set(&mut self, n: u64) -> &str {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        for (i, out) in self.0[11..].iter_mut().enumerate() {
            *out = DIGITS[((n >> (60 - 4 * i)) & 0xf) as usize];
        }
        std::str::from_utf8(&self.0).expect("ASCII")
    }
}

/// One delivery's store traffic: reserve a new key, then complete it.
fn reserve_complete(store: &MemoryStore, key: &str) {
    let Ok(Reservation::Acquired(token)) = ready(store.reserve(key, LEASE)) else {
        panic!("a new key is free");
    };
    let Ok(()) = ready(store.complete(key, token, RETENTION));
}

fn store(c: &mut Criterion) {
    let mut group = c.benchmark_group("memory_store");
    group.throughput(Throughput::Elements(1));

    // New keys into stores that grow to a million entries.
    group.bench_function("reserve+complete/filling", |b| {
        b.iter_custom(|iters| {
            let (mut total, mut done, mut key) = (Duration::ZERO, 0, Key::new());
            while done < iters {
                let store = MemoryStore::with_capacity(1 << 20);
                let n = (iters - done).min(1 << 20);
                let start = Instant::now();
                for i in 0..n {
                    reserve_complete(&store, key.set(done + i));
                }
                total += start.elapsed();
                done += n;
            }
            total
        })
    });

    // New keys into a full store of the default capacity: every insertion
    // evicts the oldest entry (the steady state of a busy server).
    let full = MemoryStore::new();
    let mut key = Key::new();
    let mut next = 0u64;
    for _ in 0..2 * hookwarden_core::DEFAULT_CAPACITY {
        reserve_complete(&full, key.set(next));
        next += 1;
    }
    group.bench_function("reserve+complete/full", |b| {
        b.iter(|| {
            next += 1;
            reserve_complete(&full, key.set(next));
        })
    });
    group.finish();
}

criterion_group!(benches, store);
criterion_main!(benches);
