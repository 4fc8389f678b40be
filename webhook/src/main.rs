//! fed-webhook: the host component.

fn main() {}
