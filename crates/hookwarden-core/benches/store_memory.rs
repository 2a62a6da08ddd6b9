//! `cargo bench -p hookwarden-core --bench store_memory`: the memory a
//! `MemoryStore` takes per entry, as the process's resident set grows while
//! a million handled deliveries are recorded (reserve, then complete).
//!
//! Prints the RSS delta per entry, and that less the key's own bytes (the
//! figure issue 8 bounds at 128 B).
#![allow(missing_docs)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use hookwarden_core::{DedupeStore, MemoryStore, Reservation};

const ENTRIES: usize = 1_000_000;

fn ready<T>(future: impl Future<Output = T>) -> T {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("MemoryStore never waits"),
    }
}

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
}
