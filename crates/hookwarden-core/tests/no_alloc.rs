//! `Verifier::verify_at` does not allocate when a delivery passes, for every
//! preset. A counting global allocator counts this thread's allocations while
//! the verification runs; signing and building the verifier may allocate.
//!
//! The allocator needs `unsafe impl GlobalAlloc`, allowed for this file only
//! (the workspace denies unsafe code; every crate root forbids it).
#![allow(unsafe_code)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

use common::{body_digest, now_plus, other_secret_for, preset, secret_for, sign};
use hookwarden_core::{presets, DeliveryIdSource, Verifier};

/// `System`, counting the allocations of threads that switched counting on.
struct Counting;

thread_local! {
    // Const-initialised without a destructor: reading them never allocates.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn record() {
    // `try_with`: the allocator also runs while thread-locals are torn down.
    let on = COUNTING.try_with(Cell::get).unwrap_or(false);
    if on {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    }
}

// SAFETY: every method forwards its arguments unchanged to `System`, which
// upholds the `GlobalAlloc` contract; counting touches only `Cell`s.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record();
        // SAFETY: the caller upholds `alloc`'s contract, passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record();
        // SAFETY: as `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record();
        // SAFETY: the caller upholds `realloc`'s contract, passed on as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `dealloc`'s contract, passed on as is.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and counts the allocations this thread makes meanwhile.
/// Other test threads are not counted.
fn allocations<T>(f: impl FnOnce() -> T) -> (T, usize) {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|on| on.set(true));
    let out = f();
    COUNTING.with(|on| on.set(false));
    (out, ALLOCATIONS.with(Cell::get))
}

/// A JSON body with a plain top-level `id`, for the presets that read it.
const BODY: &[u8] = br#"{"id":"evt_1","type":"payment.completed","amount":1000}"#;
/// A delivery ID at the inline limit (64 bytes).
const ID: &str = "msg_2YH5bSGv9pHiKQUjcRyN1W3sUNkRnV0bdWx0dexJ3VDrwGxwJnXUjKhLzmTg";

#[test]
fn the_counter_counts() {
    let (_, n) = allocations(|| black_box(Box::new(black_box(7u64))));
    assert!(n >= 1, "the counting allocator saw no allocation");
    let (_, n) = allocations(|| black_box(String::with_capacity(black_box(100))));
    assert!(n >= 1);
    let (_, n) = allocations(|| black_box(1 + black_box(1)));
    assert_eq!(n, 0);
}

#[test]
fn verify_at_does_not_allocate_on_success() {
    assert_eq!(ID.len(), 64);
    for &name in presets::NAMES {
        let scheme = preset(name);
        let secret = secret_for(name);
        let headers = sign(&scheme, secret, BODY, now_plus(-5), ID);
        let verifier = Verifier::new(scheme.clone(), secret).unwrap();

        // The first call, and a later one (no one-time set-up hides in either).
        for round in 0..2 {
            let (result, n) = allocations(|| verifier.verify_at(&headers, BODY, now_plus(0)));
            let verified = result.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                n, 0,
                "{name}: verify_at allocated {n} times (round {round})"
            );

            // The call did the whole job: right scheme, ID and timestamp.
            assert_eq!(verified.scheme(), name);
            let expected_id = match scheme.delivery_id() {
                DeliveryIdSource::Header(_) => Some(ID.to_owned()),
                DeliveryIdSource::JsonPointer(_) => Some("evt_1".to_owned()),
                DeliveryIdSource::BodyDigest => Some(body_digest(BODY)),
                _ => None,
            };
            assert_eq!(
                verified.delivery_id().map(|id| id.to_string()),
                expected_id,
                "{name}"
            );
            let expected_ts = scheme.timestamp().map(|_| now_plus(-5));
            assert_eq!(verified.timestamp(), expected_ts, "{name}");
        }
    }
}

#[test]
fn verify_at_does_not_allocate_when_a_later_secret_matches() {
    for &name in presets::NAMES {
        let scheme = preset(name);
        let secret = secret_for(name);
        let headers = sign(&scheme, secret, BODY, now_plus(0), ID);
        let verifier = Verifier::new(scheme, other_secret_for(name))
            .unwrap()
            .with_secret(secret)
            .unwrap();
        let (result, n) = allocations(|| verifier.verify_at(&headers, BODY, now_plus(0)));
        let verified = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(verified.secret_index(), 1, "{name}");
        assert_eq!(n, 0, "{name}: verify_at allocated {n} times");
    }
}
