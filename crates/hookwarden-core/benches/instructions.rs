//! Instruction counts of `Verifier::verify` beside the bare MAC, for runs
//! under `valgrind --tool=callgrind`, which counts instructions exactly and
//! is immune to the noise of a shared machine (`scripts/instructions.sh`
//! drives it).
//!
//! `valgrind --tool=callgrind <binary> <mode> <preset> <body bytes> <iterations>`
//! with mode `setup` (sign and build only), `floor` (setup, then the bare
//! MAC `iterations` times), `minimum` (the floor plus what no verifier can
//! skip), `verify` (setup, then `verify` `iterations` times) or `tuned`
//! (GitHub only: the hand-written bound of the benches' `TunedGithub`):
//! `(verify - setup) / (floor - setup)` is the ratio. Run by
//! `cargo bench` without arguments, it does nothing.
#![allow(missing_docs)]

mod common;

use common::{Case, TunedGithub};
use hookwarden_core::presets;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, mode, name, len, iterations] = &args[..] else {
        eprintln!("usage: instructions setup|floor|minimum|verify|tuned <preset> <body bytes> <iterations>");
        return;
    };
    let name = presets::NAMES
        .iter()
        .copied()
        .find(|known| known == name)
        .expect("a preset name");
    let case = Case::new(name, len.parse().expect("body bytes"));
    let iterations: usize = iterations.parse().expect("iterations");
    let tuned = TunedGithub::new();
    let run = |case: &Case| match mode.as_str() {
        "floor" => case.run_floor(),
        "minimum" => case.run_minimum(),
        "verify" => case.run_verify(),
        "tuned" => {
            assert_eq!(name, "github", "the tuned verifier is GitHub's alone");
            let headers = std::hint::black_box(&case.headers);
            std::hint::black_box(tuned.verify(headers, std::hint::black_box(&case.body))).is_some()
        }
        other => panic!("unknown mode {other}"),
    };
    if mode == "setup" {
        return;
    }
    let passed = (0..iterations).filter(|_| run(&case)).count();
    assert_eq!(passed, iterations);
}
