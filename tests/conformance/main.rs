//! Conformance harness (being written).
fn main() {}
