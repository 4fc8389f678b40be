//! fed-core: the pure heart of kubectl-fed.
//!
//! API types, annotation keys and parsers, placement resolution, overrides, member-object
//! rendering, the federated object an annotated source asks for, the sync plan and the status
//! it leads to, CRD generation and admission decisions. No network, no I/O: everything here is
//! a function of its inputs and is unit-tested exhaustively, except [`certs`] (behind the
//! `certs` feature), which draws random keys and reads the clock for a certificate's validity.

pub mod admission;
pub mod annotations;
pub mod api;
pub mod capacity;
#[cfg(feature = "certs")]
pub mod certs;
pub mod contents;
pub mod crd;
pub mod guard;
pub mod health;
pub mod keys;
pub mod names;
pub mod orphans;
pub mod overrides;
pub mod ownership;
pub mod placement;
pub mod plan;
pub mod render;
pub mod replicas;
pub mod selector;
pub mod source;
pub mod status;
pub mod suggest;
pub mod webhook_config;
pub mod workload;
