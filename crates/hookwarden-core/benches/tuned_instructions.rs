//! Instruction counts of `TunedGithub`, a GitHub verifier written by hand
//! (see `benches/common`), beside `verify`, the floor and the minimum on the
//! same GitHub delivery, for runs under `valgrind --tool=callgrind`.
//!
//! `valgrind --tool=callgrind <binary> <mode> <body bytes> <iterations>`
//! with mode `setup`, `floor`, `minimum`, `verify` or `tuned`; as in the
//! `instructions` bench, `(mode - setup) / iterations` is one call. A
//! binary of its own: sharing one with the `instructions` bench changed how
//! the compiler inlined the code both use, and so that bench's counts.
#![allow(missing_docs)]

mod common;

use std::hint::black_box;

use common::{Case, TunedGithub};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, mode, len, iterations] = &args[..] else {
        eprintln!(
            "usage: tuned_instructions setup|floor|minimum|verify|tuned <body bytes> <iterations>"
        );
        return;
    };
    let case = Case::new("github", len.parse().expect("body bytes"));
    let iterations: usize = iterations.parse().expect("iterations");
    let tuned = TunedGithub::new();
    // Chosen once, before the calls.
    let run: fn(&Case, &TunedGithub) -> bool = match mode.as_str() {
        "setup" => return,
        "floor" => |case, _| case.run_floor(),
        "minimum" => |case, _| case.run_minimum(),
        "verify" => |case, _| case.run_verify(),
        "tuned" => |case, tuned| {
            black_box(tuned.verify(black_box(&case.headers), black_box(&case.body))).is_some()
        },
        other => panic!("unknown mode {other}"),
    };
    let passed = (0..iterations).filter(|_| run(&case, &tuned)).count();
    assert_eq!(passed, iterations);
}
