//! `cargo bench -p hookwarden-core --bench store_memory`: the memory a
//! `MemoryStore` takes per entry, as the process's resident set grows while
//! a million handled deliveries are recorded (reserve, then complete).
//!
//! Prints the RSS delta per entry, and that less the key's own bytes (the
//! figure issue 8 bounds at 128 B). Then reserve+complete pairs per second
//! on one thread, in a full store of the default capacity (every insertion
//! evicts the oldest entry): timed in batches of 1,000 pairs, 2,000
//! batches; other processes only ever add time, so on a busy machine the
//! fastest batch is the figure to read (the median is printed beside it).
#![allow(missing_docs)]

mod common;

use std::time::{Duration, Instant};

use common::ready;
use hookwarden_core::{DedupeStore, MemoryStore, Reservation, DEFAULT_CAPACITY};

const ENTRIES: usize = 1_000_000;

/// Resident set size in bytes, from `/proc/self/statm` (Linux).
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .expect("the resident field");
    pages * 4096
}

fn main() {
    // A delivery ID like Svix's, under a namespace: 36 bytes.
    let key_len = "svix:msg_2YH5bSGv9pHiKQU".len() + 12;
    let mut buf = String::with_capacity(64);
    // Room to spare: the capacity is split over shards that fill unevenly,
    // and no entry may be evicted. Nothing is allocated up front.
    let store = MemoryStore::with_capacity(2 * ENTRIES);
    let before = rss();
    for i in 0..ENTRIES {
        use std::fmt::Write;
        buf.clear();
        write!(buf, "svix:msg_2YH5bSGv9pHiKQU{i:012}").expect("a String takes any text");
        let Ok(Reservation::Acquired(token)) = ready(store.reserve(&buf, Duration::from_secs(60)))
        else {
            panic!("a new key is free");
        };
        let Ok(()) = ready(store.complete(&buf, token, Duration::from_secs(3600)));
    }
    let after = rss();
    assert_eq!(store.len(), ENTRIES);
    assert_eq!(store.evictions(), 0);
    let per_entry = (after - before) as f64 / ENTRIES as f64;
    println!("MemoryStore, {ENTRIES} entries of {key_len}-byte keys:");
    println!("  RSS delta per entry:            {per_entry:>7.1} B");
    println!(
        "  beyond the key's {key_len} bytes:      {:>7.1} B   (target <= 128 B)",
        per_entry - key_len as f64
    );
    drop(store);
    rate(&mut buf);
}

/// Reserve+complete of new keys in a full default store, in batches.
fn rate(buf: &mut String) {
    use std::fmt::Write;
    const BATCH: usize = 1_000;
    const BATCHES: usize = 2_000;
    let store = MemoryStore::new();
    let mut next = 0usize;
    // Each batch's keys are written before its clock starts.
    let mut keys = |buf: &mut String| -> Vec<String> {
        (0..BATCH)
            .map(|_| {
                buf.clear();
                write!(buf, "svix:msg_2YH5bSGv9pHiKQU{next:012}").expect("a String takes any text");
                next += 1;
                buf.clone()
            })
            .collect()
    };
    let pair = |key: &str| {
        let Ok(Reservation::Acquired(token)) = ready(store.reserve(key, Duration::from_secs(60)))
        else {
            panic!("a new key is free");
        };
        let Ok(()) = ready(store.complete(key, token, Duration::from_secs(3600)));
    };
    for _ in 0..2 * DEFAULT_CAPACITY / BATCH {
        keys(buf).iter().for_each(|key| pair(key));
    }
    let mut per_pair: Vec<f64> = (0..BATCHES)
        .map(|_| {
            let batch = keys(buf);
            let start = Instant::now();
            for key in &batch {
                pair(key);
            }
            start.elapsed().as_nanos() as f64 / BATCH as f64
        })
        .collect();
    per_pair.sort_by(f64::total_cmp);
    let (best, median) = (per_pair[0], per_pair[BATCHES / 2]);
    println!(
        "MemoryStore reserve+complete, full store of {DEFAULT_CAPACITY} (evicting), one thread:"
    );
    println!(
        "  fastest batch: {best:>6.0} ns per pair = {:>5.2} M pairs/s   (target >= 2 M/s)",
        1e3 / best
    );
    println!(
        "  median batch:  {median:>6.0} ns per pair = {:>5.2} M pairs/s",
        1e3 / median
    );
}
