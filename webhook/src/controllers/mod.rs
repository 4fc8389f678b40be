//! The controller half of fed-webhook: the controllers that turn admitted intent into objects
//! on member clusters, run only by the replica holding the Lease.
//!
//! Entry point: [`wiring::run_until`]. Wiring ([`wiring`]): the member registry ([`member_registry`]), each
//! member's [`capacity`] (node and pod watches), the cluster health prober ([`health`]) and the
//! type config [`supervisor`], under leader election ([`leader`]). For every enabled
//! FederatedTypeConfig the supervisor starts one [`handle::TypeHandle`] (registered in
//! [`type_registry`]) with its controllers:
//! - [`materialize`]: annotated source → `Federated<Kind>` (records in [`source_record`]);
//! - [`sync`]: `Federated<Kind>` → member clusters, executing the plan from
//!   [`fed_core::plan`] ([`member_write`] sends the requests);
//! - [`replicas`]: the replica division (RSP or `kubefed.io/replica-scheduling`) →
//!   per-cluster `/spec/replicas` overrides on the federated object;
//! - [`triggers`]: the watches that decide when those run (federated objects, member copies in
//!   [`copies`], cluster changes).
//!
//! A disabled type keeps a [`release`] controller so its federated objects can still be
//! deleted. [`follow_label`] labels the host namespace of a FederatedNamespace annotated
//! `kubefed.io/follow`. Shared pieces: [`options`], [`shared`], [`tasks`], [`runtime`] (the one controller runtime, with [`error`] and [`retry`]: one error type, one retry policy), [`recent_status`],
//! [`host_namespaces`], [`member_tasks`] (one task per member, such as a watch), [`adopt`] (POST when absent, then field adoption before the first apply); [`stalls`]: members that stopped answering, skipped so they cannot hold up the
//! others.

pub mod adopt;
pub mod capacity;
pub mod copies;
pub mod error;
pub mod events;
pub mod follow_label;
pub mod handle;
pub mod health;
pub mod host_namespaces;
pub mod leader;
pub mod materialize;
pub mod member_registry;
pub mod member_tasks;
pub mod member_write;
pub mod options;
pub mod recent_status;
pub mod release;
pub mod replicas;
pub mod retry;
pub mod runtime;
pub mod shared;
pub mod source_record;
pub mod stalls;
pub mod supervisor;
pub mod sync;
pub mod tasks;
pub mod triggers;
pub mod type_registry;
pub mod wiring;
