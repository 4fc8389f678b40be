//! The follow webhook's decision (`/follow`): a new object in a followed namespace takes its
//! namespace's placement and becomes an ordinary annotated source.
//!
//! The API server sends only CREATEs of namespaced objects in namespaces labelled
//! `kubefed.io/follow=true`, and only objects no controller owns
//! ([`crate::webhook_config`]). Here, per object:
//!
//! - what is not one of its namespace's own contents ([`crate::contents::skip_reason`], the
//!   rule `federate --contents` uses: controller-made objects, the `default` ServiceAccount,
//!   `kube-root-ca.crt`, token Secrets, federation copies, objects with their own
//!   `kubefed.io/` placement) and objects annotated `kubefed.io/follow: "false"` are admitted
//!   unchanged;
//! - an object of a type that is not enabled is admitted unchanged with a warning naming
//!   `kubectl fed enable`;
//! - any other object gets the placement of the namespace's FederatedNamespace (its clusters,
//!   or its selector), or without one what `kubectl fed follow` recorded on the namespace
//!   (`kubefed.io/follow-placement` / `-cluster-selector`, default every joined cluster), and
//!   then what `/mutate` does to a source ([`super::mutate_source`]: federated label, host
//!   replica pinning), so the result does not depend on the order the webhooks run in.
//!
//! A FederatedNamespace annotated `kubefed.io/follow: "false"` switches its namespace off even
//! while the label is still there.

use std::collections::BTreeMap;

use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, Operation};

use super::mutate::{map_patch, mutate_source};
use super::subject::{Decision, Subject, Verdict};
use super::view::FederationView;
use crate::api::Placement;
use crate::{contents, keys, selector};

/// The follow decision for one request (see the module documentation). Never denies but for a
/// namespace the webhook has not seen follow yet (its caches lag behind the label).
pub(super) fn decide(view: &dyn FederationView, req: &AdmissionRequest<DynamicObject>) -> Verdict {
    let Some(object) = req.object.as_ref() else { return Ok(Decision::default()) };
    if req.operation != Operation::Create || req.sub_resource.is_some() {
        return Ok(Decision::default());
    }
    let namespace = object.metadata.namespace.as_deref().or(req.namespace.as_deref()).unwrap_or_default();
    if namespace.is_empty() {
        return Ok(Decision::default());
    }
    let (group, kind) = (req.kind.group.as_str(), req.kind.kind.as_str());
    let secret_type = object.data.get("type").and_then(|t| t.as_str());
    if contents::skip_reason(group, kind, &object.metadata, secret_type).is_some() {
        return Ok(Decision::default());
    }
    let annotations = object.metadata.annotations.clone().unwrap_or_default();
    if annotations.get(keys::FOLLOW).is_some_and(|v| v == "false") {
        return Ok(Decision::default());
    }
    let qualified = if req.resource.group.is_empty() {
        req.resource.resource.clone()
    } else {
        format!("{}.{}", req.resource.resource, req.resource.group)
    };
    let name = object.metadata.name.as_deref().unwrap_or(&req.name);
    let stays = |why: String| {
        Ok(Decision {
            warnings: vec![format!("{kind} \"{namespace}/{name}\" stays on the host only: {why}")],
            patch: vec![],
        })
    };
    if !view.type_config(group, kind).is_some_and(|c| c.is_enabled()) {
        return stays(format!(
            "namespace {namespace} follows, but {qualified} is not enabled for federation; run: kubectl fed enable {qualified}"
        ));
    }
    let placed = match namespace_placement(view, namespace) {
        Placed::Off => return Ok(Decision::default()),
        Placed::Unseen => {
            return Err(format!(
                "{kind} \"{namespace}/{name}\": namespace {namespace} is labelled {}=true but fed-webhook has not seen it follow yet; retry in a few seconds",
                keys::FOLLOW
            ));
        }
        Placed::Nowhere(fns) => {
            return stays(format!("FederatedNamespace \"{namespace}/{fns}\" places its namespace on no cluster"));
        }
        Placed::On(placement) => placement,
    };
    let mut followed = annotations.clone();
    followed.extend(placed);
    let mut patch = map_patch("annotations", object.metadata.annotations.as_ref(), &followed);
    let mut placed_object = object.clone();
    placed_object.metadata.annotations = Some(followed);
    let source = mutate_source(view, &Subject::new(req, &placed_object));
    patch.extend(source.patch);
    Ok(Decision { warnings: source.warnings, patch })
}

/// Where a followed namespace places its new objects.
#[derive(Debug, PartialEq)]
enum Placed {
    /// The annotations that place them (`kubefed.io/placement` or `kubefed.io/cluster-selector`).
    On(BTreeMap<String, String>),
    /// Its FederatedNamespace (named) places it on no cluster.
    Nowhere(String),
    /// Its FederatedNamespace turned follow off.
    Off,
    /// Neither a FederatedNamespace nor the namespace's follow label is in the view yet.
    Unseen,
}

/// The placement of new objects in `namespace`: its FederatedNamespace's, else the one
/// recorded on the followed namespace, else every joined cluster.
fn namespace_placement(view: &dyn FederationView, namespace: &str) -> Placed {
    if let Some(fns) = view.namespace_placement(namespace) {
        if fns.metadata.annotations.as_ref().and_then(|a| a.get(keys::FOLLOW)).is_some_and(|v| v == "false") {
            return Placed::Off;
        }
        let name = fns.metadata.name.clone().unwrap_or_default();
        return match placement_annotations(&fns.spec.placement) {
            Some(placed) => Placed::On(placed),
            None => Placed::Nowhere(name),
        };
    }
    let Some(recorded) = view.followed_namespace(namespace) else { return Placed::Unseen };
    let mut placed: BTreeMap<String, String> =
        [(keys::FOLLOW_PLACEMENT, keys::PLACEMENT), (keys::FOLLOW_CLUSTER_SELECTOR, keys::CLUSTER_SELECTOR)]
            .into_iter()
            .filter_map(|(from, to)| recorded.get(from).map(|v| (to.to_string(), v.clone())))
            .collect();
    if placed.is_empty() {
        placed.insert(keys::PLACEMENT.to_string(), "*".to_string());
    }
    Placed::On(placed)
}

/// A placement as the source annotations that ask for it; `None` when it places nowhere.
/// Clusters win over a selector (as in every placement); an empty selector is `*`.
pub fn placement_annotations(placement: &Placement) -> Option<BTreeMap<String, String>> {
    let (key, value) = match (&placement.clusters, &placement.cluster_selector) {
        (Some(clusters), _) if clusters.is_empty() => return None,
        (Some(clusters), _) => {
            (keys::PLACEMENT, clusters.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(","))
        }
        (None, Some(sel)) if sel.match_labels.is_empty() && sel.match_expressions.is_empty() => {
            (keys::PLACEMENT, "*".to_string())
        }
        (None, Some(sel)) => (keys::CLUSTER_SELECTOR, selector::to_string(sel)),
        (None, None) => return None,
    };
    Some(BTreeMap::from([(key.to_string(), value)]))
}

/// What a FederatedNamespace with these annotations asks of its host namespace's follow
/// label: `Some(true)` to set it (`kubefed.io/follow: "true"`), `Some(false)` to remove it
/// (`"false"`), `None` to leave it as `kubectl fed follow` set it (no annotation, or another
/// value).
pub fn label_wanted(annotations: &BTreeMap<String, String>) -> Option<bool> {
    match annotations.get(keys::FOLLOW).map(String::as_str) {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
