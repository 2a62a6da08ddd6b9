//! Nothing here: the crate exists for `benches/peers.rs`.
