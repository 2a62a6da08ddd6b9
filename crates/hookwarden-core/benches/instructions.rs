//! Instruction counts of `Verifier::verify` beside the bare MAC, for runs
//! under `valgrind --tool=callgrind`, which counts instructions exactly and
//! is immune to the noise of a shared machine (`scripts/instructions.sh`
//! drives it).
//!
//! `valgrind --tool=callgrind <binary> <mode> <preset> <body bytes> <iterations>`
//! with mode `setup` (sign and build only), `floor` (setup, then the bare
//! MAC `iterations` times) or `verify` (setup, then `verify` `iterations`
//! times): `(verify - setup) / (floor - setup)` is the ratio. Run by
//! `cargo bench` without arguments, it does nothing.
#![allow(missing_docs)]

mod common;

use common::Case;
use hookwarden_core::presets;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, mode, name, len, iterations] = &args[..] else {
        eprintln!("usage: instructions setup|floor|verify <preset> <body bytes> <iterations>");
        return;
    };
    let name = presets::NAMES
        .iter()
        .copied()
        .find(|known| known == name)
        .expect("a preset name");
    let case = Case::new(name, len.parse().expect("body bytes"));
    let iterations: usize = iterations.parse().expect("iterations");
    let run: fn(&Case) -> bool = match mode.as_str() {
        "setup" => return,
        "floor" => Case::run_floor,
        "verify" => Case::run_verify,
        other => panic!("unknown mode {other}"),
    };
    let passed = (0..iterations).filter(|_| run(&case)).count();
    assert_eq!(passed, iterations);
}
