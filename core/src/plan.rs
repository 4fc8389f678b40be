//! The sync plan: what each member cluster must hold for one federated object, and what to
//! delete where.
//!
//! The sync controller gathers what it knows (the federated object, the joined clusters with
//! their health, what its member watches saw, the namespace policy), asks [`propagate`] (or,
//! when the object is being deleted, [`clean_up`]) for a [`Plan`], sends the requests the plan
//! asks for, and hands the per-cluster [`Outcome`]s to [`crate::status::desired_status`].
//!
//! The cluster choice is placement ∩ namespace policy ([`crate::placement::contain`], the rule
//! admission denies by) ∩ health (an Offline or unreachable cluster gets an outcome, not a
//! request).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use crate::annotations;
use crate::api::{ApiResourceRef, ClusterStatus, Federated, Placement};
use crate::placement::{self, JoinedCluster};
use crate::render::{self, RenderError};
use crate::source::owned_by_source;
use crate::status::{
    APPLY_OVERRIDES_FAILED, CLUSTER_NOT_READY, CREATION_FAILED, DELETION_FAILED, Outcome, UPDATE_FAILED,
};

/// What a member watch knows about one member copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CopyState {
    /// No (ready) watch on that cluster: ask the member.
    Unknown,
    /// The watch has listed the cluster and there is no managed copy.
    Absent,
    /// A managed copy exists, with this origin annotation.
    Present(Option<String>),
}

/// One joined member cluster as the plan sees it.
#[derive(Clone, Debug)]
pub struct MemberCluster {
    /// Name, labels, health, host flag.
    pub joined: JoinedCluster,
    /// Why no request can be sent to it (no client could be built), if so.
    pub unusable: Option<String>,
    /// What the member watch knows about the object's copy there.
    pub copy: CopyState,
}

/// What sync knows when it plans for one federated object.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    /// The federated object.
    pub fed: &'a Federated,
    /// Its target (member-side) type.
    pub target: &'a ApiResourceRef,
    /// Every joined member cluster.
    pub members: &'a [MemberCluster],
    /// The placement of the FederatedNamespace governing the object's namespace, if any.
    pub namespace_policy: Option<&'a Placement>,
}

/// What to do on one member cluster.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Server-side apply `object`; if the member refuses, the cluster's status word is `failure`.
    Apply {
        /// The rendered member copy.
        object: Value,
        /// `CreationFailed` when no copy is known to exist there, else `UpdateFailed`.
        failure: &'static str,
    },
    /// Delete the copy there, if it is ours (its origin annotation matches).
    Delete,
    /// Send nothing: this is the cluster's outcome already.
    Settled(Outcome),
}

/// The plan for one federated object.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The `kubefed.io/origin` its copies carry.
    pub origin: String,
    /// Namespace of its member copies (`None` when cluster-scoped).
    pub namespace: Option<String>,
    /// Name of its member copies.
    pub name: String,
    /// What to do on each cluster, by name.
    pub steps: BTreeMap<String, Step>,
}

impl Plan {
    fn new(input: &Input) -> Self {
        let (namespace, name) = render::member_key(input.fed, input.target);
        Plan { origin: render::origin_of(input.fed, input.target), namespace, name, steps: BTreeMap::new() }
    }

    /// The plan with every write to a cluster `skip` names replaced by `outcome` (a member
    /// that stopped answering: nothing could be sent there, and deciding to write would cost
    /// the host a read of the object on every retry).
    pub fn settled_where(mut self, skip: impl Fn(&str) -> bool, outcome: &Outcome) -> Plan {
        for (cluster, step) in &mut self.steps {
            if !matches!(step, Step::Settled(_)) && skip(cluster) {
                *step = Step::Settled(outcome.clone());
            }
        }
        self
    }
}

/// True when the host's copy of `fed` is the source itself (an annotated source owns it) or,
/// for a FederatedNamespace, the namespace holding it: sync never writes or deletes it.
pub fn host_is_source(fed: &Federated, target: &ApiResourceRef) -> bool {
    target.is_namespace() || owned_by_source(fed)
}

/// The clusters `fed` goes to: its placement, within the namespace policy when one applies (a
/// FederatedNamespace is the policy, so it is never held against one).
pub fn placed(input: &Input) -> BTreeSet<String> {
    let joined: Vec<JoinedCluster> = input.members.iter().map(|m| m.joined.clone()).collect();
    let placed = placement::resolve(&input.fed.spec.placement, &joined);
    if input.target.is_namespace() || input.fed.metadata.namespace.is_none() {
        return placed;
    }
    placement::contain(placed, input.namespace_policy, &joined).within
}

/// The plan that brings `fed`'s copies to its placement: an apply on every placed cluster, a
/// delete on every other cluster that holds (or, by the status, held) a copy.
pub fn propagate(input: &Input) -> Plan {
    let mut plan = Plan::new(input);
    let host_is_source = host_is_source(input.fed, input.target);
    let placed = placed(input);
    let present: BTreeSet<String> = input
        .members
        .iter()
        .filter(|m| matches!(&m.copy, CopyState::Present(Some(o)) if *o == plan.origin))
        .map(|m| m.joined.name.clone())
        .collect();
    let recorded = input.fed.status.as_ref().map(|s| s.clusters.as_slice()).unwrap_or_default();
    for cluster in clusters_to_clean(&placed, &present, recorded) {
        let step = match input.members.iter().find(|m| m.joined.name == cluster) {
            None => Step::Settled(Outcome::Removed),
            Some(m) => delete_step(m, host_is_source),
        };
        plan.steps.insert(cluster, step);
    }
    for m in input.members.iter().filter(|m| placed.contains(&m.joined.name)) {
        let step = apply_step(input, m, host_is_source);
        plan.steps.insert(m.joined.name.clone(), step);
    }
    plan
}

/// The plan that removes `fed`'s copies before its finalizer is released: a delete on every
/// cluster that holds (or may hold, or was placed or recorded to hold) a copy; `None` when the
/// object is orphaned (`kubefed.io/orphan: "true"`), so its copies stay.
pub fn clean_up(input: &Input) -> Option<Plan> {
    if input.fed.metadata.annotations.as_ref().is_some_and(annotations::orphaned) {
        return None;
    }
    let mut plan = Plan::new(input);
    let host_is_source = host_is_source(input.fed, input.target);
    let joined: Vec<JoinedCluster> = input.members.iter().map(|m| m.joined.clone()).collect();
    let placed = placement::resolve(&input.fed.spec.placement, &joined);
    let recorded: BTreeSet<&str> =
        input.fed.status.iter().flat_map(|s| s.clusters.iter().map(|c| c.name.as_str())).collect();
    for m in input.members {
        let name = &m.joined.name;
        let holds = match &m.copy {
            CopyState::Present(o) => o.as_deref() == Some(plan.origin.as_str()),
            CopyState::Unknown => true,
            CopyState::Absent => placed.contains(name) || recorded.contains(name.as_str()),
        };
        if holds {
            plan.steps.insert(name.clone(), delete_step(m, host_is_source));
        }
    }
    Some(plan)
}

fn delete_step(m: &MemberCluster, host_is_source: bool) -> Step {
    if m.joined.is_host && host_is_source {
        Step::Settled(Outcome::Removed)
    } else if m.joined.offline {
        Step::Settled(Outcome::failed(DELETION_FAILED, "cluster is Offline"))
    } else if let Some(e) = &m.unusable {
        Step::Settled(Outcome::failed(DELETION_FAILED, format!("no client: {e}")))
    } else {
        Step::Delete
    }
}

fn apply_step(input: &Input, m: &MemberCluster, host_is_source: bool) -> Step {
    if m.joined.is_host && host_is_source {
        return Step::Settled(Outcome::Propagated);
    }
    if m.joined.offline {
        return Step::Settled(Outcome::failed(CLUSTER_NOT_READY, "cluster is Offline"));
    }
    if let Some(e) = &m.unusable {
        return Step::Settled(Outcome::failed(CLUSTER_NOT_READY, e.clone()));
    }
    match render::member_object(input.fed, input.target, &m.joined.name) {
        Ok(object) => {
            let failure = if matches!(m.copy, CopyState::Present(_)) { UPDATE_FAILED } else { CREATION_FAILED };
            Step::Apply { object, failure }
        }
        Err(e @ RenderError::Override { .. }) => Step::Settled(Outcome::failed(APPLY_OVERRIDES_FAILED, e.to_string())),
        Err(e) => Step::Settled(Outcome::failed(CREATION_FAILED, e.to_string())),
    }
}

/// True when a host namespace, as the API server has it now (`None`: not found), is gone or
/// being deleted (deletionTimestamp set, or phase Terminating): sync then creates nothing on
/// the members for the federated objects in it, whose deletion is coming.
pub fn namespace_ending(namespace: Option<&Namespace>) -> bool {
    namespace.is_none_or(|ns| {
        ns.metadata.deletion_timestamp.is_some()
            || ns.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating")
    })
}

/// Whether sync may create a missing member namespace for a copy of the federated object
/// `fed`, given it and its host namespace as the API server has them now: only while both
/// exist and neither is being deleted. A namespace created for an object on its way out would
/// outlive it: nothing deletes it again.
pub fn may_create_member_namespace(fed: Option<&ObjectMeta>, host_namespace: Option<&Namespace>) -> bool {
    fed.is_some_and(|f| f.deletion_timestamp.is_none()) && !namespace_ending(host_namespace)
}

/// Clusters that may still hold a copy but are no longer placed: those where a copy was seen
/// plus those the previous status recorded, minus the placed ones.
pub fn clusters_to_clean(
    placed: &BTreeSet<String>,
    present: &BTreeSet<String>,
    recorded: &[ClusterStatus],
) -> BTreeSet<String> {
    present.iter().cloned().chain(recorded.iter().map(|c| c.name.clone())).filter(|c| !placed.contains(c)).collect()
}

#[cfg(test)]
mod tests;
