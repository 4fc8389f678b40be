//! Replica division: KubeFed's ReplicaSchedulingPreference semantics as pure functions.
//!
//! [`divide`] splits a total over the Ready, eligible clusters; [`parse_annotation`] reads
//! `kubefed.io/replica-scheduling`; [`for_rsp`] / [`for_source`] turn a division into the
//! federated object's `/spec/replicas` overrides; [`validate`] / [`validate_spec`] are what admission checks.
//! The API type is [`crate::api::ReplicaSchedulingPreference`].

mod annotation;
mod divide;
mod schedule;
mod validate;

pub use annotation::{REPLICA_SCHEDULING, SchedulingAnnotationError, format_annotation, parse_annotation};
pub use divide::{Plan, divide};
pub use schedule::{
    Preferences, REPLICAS_PATH, Scheduled, division, for_rsp, for_source, schedule, template_replicas, with_division,
};
pub use validate::{PreferenceError, PreferenceWarning, Validation, validate, validate_spec};

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;
