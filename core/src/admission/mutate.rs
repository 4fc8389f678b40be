//! `/mutate` on annotated sources: canonical placement, the federated label, host replica
//! pinning, as a JSON patch (the follow webhook ends with the same).

use std::collections::BTreeMap;

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, PatchOperation, RemoveOperation, ReplaceOperation};

use super::subject::{Decision, Subject};
use super::view::FederationView;
use crate::annotations;
use crate::{keys, placement};

/// Normalises a source: canonical placement value, the federated label, and host replica
/// pinning (when the host is not placed, or `kubefed.io/replica-scheduling` divides the
/// replicas over the members). An object that is no longer a source gets its replicas back and loses the label.
/// Anything unparsable is left for `/validate` to deny.
pub(super) fn mutate_source(view: &dyn FederationView, subject: &Subject) -> Decision {
    let Ok(intent) = annotations::from_annotations(&subject.annotations) else { return Decision::default() };
    let mut annotations = subject.annotations.clone();
    let mut labels = subject.object.metadata.labels.clone().unwrap_or_default();
    let pin = match &intent {
        Some(intent) => {
            if let Some(normalized) =
                annotations.get(keys::PLACEMENT).and_then(|p| annotations::normalized_placement(p).ok())
            {
                annotations.insert(keys::PLACEMENT.to_string(), normalized);
            }
            labels.insert(keys::FEDERATED_LABEL.to_string(), "true".to_string());
            let clusters = view.clusters();
            let host = clusters.iter().find(|c| c.is_host).map(|c| c.name.as_str());
            // Divided replicas give the host's copy (the source) none: the division is over
            // the members' copies.
            intent.replica_scheduling.is_some()
                || host.is_none_or(|h| !placement::resolve(&intent.placement, &clusters).contains(h))
        }
        None => {
            labels.remove(keys::FEDERATED_LABEL);
            false
        }
    };
    let mut patch = Vec::new();
    if let Some(current) = subject.replicas() {
        let recorded = annotations.get(keys::FEDERATED_REPLICAS).and_then(|r| r.parse::<i64>().ok());
        // The pinned copy runs 0, so any other count is a new desired count from the user.
        let desired = if current != 0 { current } else { recorded.unwrap_or(current) };
        let replicas = if pin {
            annotations.insert(keys::FEDERATED_REPLICAS.to_string(), desired.to_string());
            0
        } else {
            annotations.remove(keys::FEDERATED_REPLICAS).map_or(current, |_| desired)
        };
        if replicas != current {
            let path = PointerBuf::from_tokens(["spec", "replicas"]);
            patch.push(PatchOperation::Replace(ReplaceOperation { path, value: replicas.into() }));
        }
    }
    patch.extend(map_patch("labels", subject.object.metadata.labels.as_ref(), &labels));
    patch.extend(map_patch("annotations", subject.object.metadata.annotations.as_ref(), &annotations));
    Decision { warnings: Vec::new(), patch }
}

/// JSON-patch operations turning `metadata.<field>` from `current` into `desired`.
pub(super) fn map_patch(
    field: &str,
    current: Option<&BTreeMap<String, String>>,
    desired: &BTreeMap<String, String>,
) -> Vec<PatchOperation> {
    let Some(current) = current else {
        return if desired.is_empty() {
            Vec::new()
        } else {
            let value = serde_json::to_value(desired).unwrap_or_default();
            vec![PatchOperation::Add(AddOperation { path: PointerBuf::from_tokens(["metadata", field]), value })]
        };
    };
    let path = |key: &str| PointerBuf::from_tokens(["metadata", field, key]);
    let removed = current
        .keys()
        .filter(|k| !desired.contains_key(*k))
        .map(|k| PatchOperation::Remove(RemoveOperation { path: path(k) }));
    let set = desired
        .iter()
        .filter(|(k, v)| current.get(*k) != Some(*v))
        .map(|(k, v)| PatchOperation::Add(AddOperation { path: path(k), value: v.clone().into() }));
    removed.chain(set).collect()
}
