//! Replica division: KubeFed's ReplicaSchedulingPreference semantics as pure functions.
//!
//! [`divide`] splits a total over the Ready, eligible clusters; [`parse_annotation`] reads
//! `kubefed.io/replica-scheduling`; [`for_rsp`] / [`for_annotation`] turn a division into the
//! federated object's `/spec/replicas` overrides, within the capacities [`overflow`] estimates
//! (a full cluster's replicas go to the others) and handed over make-before-break ([`handover`]); [`validate`] / [`validate_spec`] are what admission checks.
//! The API type is [`crate::api::ReplicaSchedulingPreference`].

mod annotation;
mod divide;
mod handover;
pub mod overflow;
mod schedule;
mod validate;

pub use annotation::{
    REPLICA_SCHEDULING, SPILL_OVER, Scheduling, SchedulingAnnotationError, format_annotation, parse_annotation,
};
pub use divide::{Division, divide, divide_within, spill};
pub use handover::handover;
pub use schedule::{
    Observed, Preferences, REPLICAS_PATH, Scheduled, division, first_division, for_annotation, for_rsp, schedule,
    template_replicas, with_division,
};
pub use validate::{
    PreferenceError, PreferenceWarning, Validation, validate, validate_order, validate_scheduling, validate_spec,
};

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;
