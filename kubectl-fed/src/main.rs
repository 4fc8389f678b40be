//! kubectl-fed: the kubectl plugin.

fn main() {}
