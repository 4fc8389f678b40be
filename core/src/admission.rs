//! Admission decisions: a pure function from an AdmissionRequest and a read-only view of the
//! federation to an AdmissionResponse. The webhook server (transport) is in fed-webhook.
//!
//! The view is backed by reflector caches in the webhook and by plain structs in tests, so
//! no decision ever makes an API call.

use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, Operation};

use crate::api::{CORE_GROUP, SCHEDULING_GROUP, TYPES_GROUP};

pub mod follow;
mod intent;
#[cfg(any(test, feature = "fixtures"))]
pub mod memory;
mod mutate;
mod subject;
mod validate;
mod view;
pub mod wire;

use subject::{Decision, Subject, Verdict};
pub use view::FederationView;

use mutate::mutate_source;
pub use validate::DIVISIBLE_KINDS;
use validate::{validate_core, validate_federated, validate_rsp, validate_source};

/// Which webhook endpoint is deciding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `/mutate`: normalise annotations, label sources, pin host replicas.
    Mutate,
    /// `/validate`: deny what breaks the rules, warn about what is risky.
    Validate,
    /// `/follow`: give a new object in a followed namespace its namespace's placement.
    Follow,
}

/// Decide one admission request. Never panics; identical under `dryRun`.
///
/// `/validate` denies what breaks the rules (with one actionable line) and warns about what is
/// risky; `/mutate` never denies a rule violation, it only normalises sources (placement
/// annotation, `kubefed.io/federated` label, host replica pinning) with a JSON patch.
/// Deletions, subresources and objects that are neither ours nor annotated are allowed as is.
pub fn review(
    view: &dyn FederationView,
    endpoint: Endpoint,
    request: &AdmissionRequest<DynamicObject>,
) -> AdmissionResponse {
    let response = AdmissionResponse::from(request);
    match decide(view, endpoint, request) {
        Err(message) => response.deny(single_line(&message)),
        Ok(Decision { warnings, patch }) => {
            let mut response = if patch.is_empty() {
                response
            } else {
                match response.clone().with_patch(json_patch::Patch(patch)) {
                    Ok(patched) => patched,
                    Err(e) => response.deny(format!("internal error: cannot encode the patch: {e}")),
                }
            };
            if !warnings.is_empty() {
                response.warnings = Some(warnings.iter().map(|w| single_line(w)).collect());
            }
            response
        }
    }
}

/// `message` with control characters (newlines from names or values in the request) turned
/// into spaces: users see deny messages and warnings as one line.
pub(crate) fn single_line(message: &str) -> String {
    message.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

fn decide(view: &dyn FederationView, endpoint: Endpoint, req: &AdmissionRequest<DynamicObject>) -> Verdict {
    if endpoint == Endpoint::Follow {
        return follow::decide(view, req);
    }
    let Some(object) = req.object.as_ref() else { return Ok(Decision::default()) };
    if matches!(req.operation, Operation::Delete | Operation::Connect) || req.sub_resource.is_some() {
        return Ok(Decision::default());
    }
    // An object on its way out is admitted as it is: its finalizers (sync's, the garbage
    // collector's) must come off whatever became of the clusters it names, e.g. one unjoined
    // with --force while it was being deleted.
    if req.operation == Operation::Update && object.metadata.deletion_timestamp.is_some() {
        return Ok(Decision::default());
    }
    let ours = matches!(req.kind.group.as_str(), CORE_GROUP | TYPES_GROUP | SCHEDULING_GROUP);
    if !ours && controlled(object) {
        return Ok(Decision::default());
    }
    let subject = Subject::new(req, object);
    match (req.kind.group.as_str(), endpoint) {
        (CORE_GROUP, Endpoint::Validate) => validate_core(&subject),
        (TYPES_GROUP, Endpoint::Validate) => validate_federated(view, &subject),
        (SCHEDULING_GROUP, Endpoint::Validate) => validate_rsp(view, &subject),
        (CORE_GROUP | TYPES_GROUP | SCHEDULING_GROUP, Endpoint::Mutate | Endpoint::Follow) => Ok(Decision::default()),
        (_, Endpoint::Validate) => validate_source(view, &subject),
        (_, Endpoint::Mutate | Endpoint::Follow) => Ok(mutate_source(view, &subject)),
    }
    .map_err(|e| format!("{}: {e}", subject.display()))
}

/// True when another object controls this one (an ownerReference with `controller: true`).
///
/// Such an object is never a source: its controller writes it, and any `kubefed.io/`
/// annotations it has were inherited (a Deployment's ReplicaSets copy the Deployment's
/// annotations). Reviewing it as a source would deny the controller's own writes, e.g. the
/// ReplicaSets of an annotated Deployment on the host.
pub fn controlled(object: &DynamicObject) -> bool {
    object.metadata.owner_references.iter().flatten().any(|o| o.controller == Some(true))
}

#[cfg(test)]
mod tests;
