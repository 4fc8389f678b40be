//! fed-core: the pure heart of kubectl-fed.
//!
//! API types, annotation keys and parsers, placement resolution, overrides, member-object
//! rendering, CRD generation and admission decisions. No network, no I/O: everything here is
//! a function of its inputs and is unit-tested exhaustively.

pub mod admission;
pub mod annotations;
pub mod api;
pub mod crd;
pub mod keys;
pub mod names;
pub mod overrides;
pub mod placement;
pub mod render;
pub mod replicas;
pub mod selector;
pub mod suggest;
pub mod webhook_config;
