//! The placement and override rules that `Federated<Kind>` objects and annotated sources share,
//! with the namespace policy (placement within the namespace's FederatedNamespace).

use std::collections::BTreeSet;

use super::view::FederationView;
use crate::api::{ClusterOverrides, Placement};
use crate::placement::{self, JoinedCluster, PlacementError};
use crate::{keys, overrides};

/// Where the pieces of an intent come from, for messages.
pub(super) struct Fields {
    clusters: &'static str,
    selector: &'static str,
    overrides: &'static str,
}

pub(super) const SPEC_FIELDS: Fields = Fields {
    clusters: "spec.placement.clusters",
    selector: "spec.placement.clusterSelector",
    overrides: "spec.overrides",
};

pub(super) const ANNOTATION_FIELDS: Fields =
    Fields { clusters: keys::PLACEMENT, selector: keys::CLUSTER_SELECTOR, overrides: keys::OVERRIDES };

/// A placement with its overrides, from a `Federated<Kind>` spec or a source's annotations.
pub(super) struct Intent<'a> {
    pub(super) placement: &'a Placement,
    pub(super) overrides: &'a [ClusterOverrides],
    /// Both an explicit cluster list and a selector were given.
    pub(super) both: bool,
    pub(super) fields: &'a Fields,
}

/// The placement and override rules; returns the warnings. The namespace policy (placement
/// within the namespace's FederatedNamespace) applies when `policy_namespace` is given.
pub(super) fn check_intent(
    view: &dyn FederationView,
    intent: &Intent,
    policy_namespace: Option<&str>,
) -> Result<Vec<String>, String> {
    let fields = intent.fields;
    let clusters = view.clusters();
    let placed = placement::check(intent.placement, &clusters).map_err(|e| match e {
        PlacementError::NotJoined { .. } => format!("{}: {e}", fields.clusters),
        PlacementError::Selector { source } => format!("{}: {source}", fields.selector),
    })?;
    let mut seen = BTreeSet::new();
    for entry in intent.overrides {
        let at = format!("{}: cluster {:?}", fields.overrides, entry.cluster_name);
        if !seen.insert(&entry.cluster_name) {
            return Err(format!("{at} appears more than once; merge its operations into one entry"));
        }
        overrides::validate(&entry.cluster_overrides).map_err(|e| format!("{at}: {e}"))?;
        if !placed.contains(&entry.cluster_name) {
            return Err(format!(
                "{at} is not in the placement (placed: {}); add it to the placement or remove its overrides",
                placement::name_list(&placed)
            ));
        }
    }
    if let Some(namespace) = policy_namespace.filter(|ns| !ns.is_empty()) {
        check_namespace_policy(view, namespace, &placed, &clusters)?;
    }
    let mut warnings: Vec<String> = clusters
        .iter()
        .filter(|c| c.offline && placed.contains(&c.name))
        .map(|c| format!("cluster {:?} is Offline; the object reaches it once it is back", c.name))
        .collect();
    if intent.both {
        warnings.push(format!(
            "both {} and {} are set; {} wins and {} is ignored",
            fields.clusters, fields.selector, fields.clusters, fields.selector
        ));
    }
    Ok(warnings)
}

fn check_namespace_policy(
    view: &dyn FederationView,
    namespace: &str,
    placed: &BTreeSet<String>,
    clusters: &[JoinedCluster],
) -> Result<(), String> {
    let Some(policy) = view.namespace_placement(namespace) else { return Ok(()) };
    let held = placement::contain(placed.clone(), Some(&policy.spec.placement), clusters);
    let (outside, allowed) = (held.outside, held.allowed.unwrap_or_default());
    if outside.is_empty() {
        return Ok(());
    }
    let quoted: Vec<String> = outside.iter().map(|c| format!("{c:?}")).collect();
    let (noun, verb) = if outside.len() == 1 { ("cluster", "is") } else { ("clusters", "are") };
    Err(format!(
        "{noun} {} {verb} outside the placement of FederatedNamespace \"{namespace}/{}\" (allowed: {}); place within it or widen the FederatedNamespace",
        quoted.join(", "),
        policy.metadata.name.as_deref().unwrap_or_default(),
        placement::name_list(&allowed)
    ))
}
