//! The `hookwarden` command (work in progress).
fn main() {}
