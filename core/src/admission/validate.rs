//! `/validate` on our own objects and on annotated sources: KubeFedClusters and type configs
//! (`core.kubefed.io`), `Federated<Kind>` objects (`types.kubefed.io`), ReplicaSchedulingPreferences
//! (`scheduling.kubefed.io`) and objects carrying `kubefed.io/` annotations.

use std::collections::BTreeSet;

use kube::core::admission::Operation;
use serde_json::Value;

use super::intent::{ANNOTATION_FIELDS, Intent, SPEC_FIELDS, check_intent};
use super::subject::{Decision, Subject, Verdict};
use super::view::FederationView;
use crate::annotations::{self, FederationAnnotations};
use crate::api::{
    ApiResourceRef, ClusterOverrides, FederatedTypeConfigSpec, KubeFedClusterSpec, Placement,
    ReplicaSchedulingPreferenceSpec, Scope,
};
use crate::placement;
use crate::replicas::{self, Scheduling, Validation};
use crate::{keys, names};

// ---- core.kubefed.io ----

pub(super) fn validate_core(subject: &Subject) -> Verdict {
    match subject.kind {
        "KubeFedCluster" => check_cluster(subject)?,
        "FederatedTypeConfig" => check_type_config(subject)?,
        _ => {}
    }
    Ok(Decision::default())
}

fn check_cluster(subject: &Subject) -> Result<(), String> {
    names::dns1123_label(subject.name).map_err(|e| format!("the name must be a DNS-1123 label: it {e}"))?;
    let spec: KubeFedClusterSpec = subject.required(&["spec"])?;
    check_https_url(&spec.api_endpoint).map_err(|e| format!("spec.apiEndpoint {:?} {e}", spec.api_endpoint))?;
    names::dns1123_subdomain(&spec.secret_ref.name).map_err(|e| {
        format!("spec.secretRef.name {:?} {e}; name the Secret that holds the member's token", spec.secret_ref.name)
    })
}

/// An `https://host[:port][/path]` URL.
fn check_https_url(url: &str) -> Result<(), String> {
    let usage = "must be an https URL such as https://10.0.0.1:6443";
    let rest = url.strip_prefix("https://").ok_or(usage)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (authority, None),
    };
    let host_ok = !host.is_empty() && !host.contains(|c: char| c.is_whitespace() || c == '@');
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    if host_ok && port_ok { Ok(()) } else { Err(usage.to_string()) }
}

fn check_type_config(subject: &Subject) -> Result<(), String> {
    let spec: FederatedTypeConfigSpec = subject.required(&["spec"])?;
    let target = &spec.target_type;
    let empty = [("version", &target.version), ("kind", &target.kind), ("pluralName", &target.plural_name)]
        .into_iter()
        .find(|(_, v)| v.is_empty());
    if let Some((field, _)) = empty {
        return Err(format!("spec.targetType.{field} must not be empty"));
    }
    let expected_name = target.qualified_plural();
    if subject.name != expected_name {
        return Err(format!("the name must be {expected_name:?} (<pluralName>.<group> of spec.targetType)"));
    }
    let expected = target.federated();
    if spec.federated_type != expected {
        return Err(format!(
            "spec.federatedType must be group {}, version {}, kind {}, pluralName {}, scope {:?} to match spec.targetType",
            expected.group, expected.version, expected.kind, expected.plural_name, expected.scope
        ));
    }
    Ok(())
}

// ---- types.kubefed.io ----

pub(super) fn validate_federated(view: &dyn FederationView, subject: &Subject) -> Verdict {
    if subject.field::<Value>(&["spec", "template"])?.is_some_and(|t| !t.is_object()) {
        return Err("spec.template must be an object".to_string());
    }
    let placement: Placement = subject.field(&["spec", "placement"])?.unwrap_or_default();
    let overrides: Vec<ClusterOverrides> = subject.field(&["spec", "overrides"])?.unwrap_or_default();
    let is_namespace = subject.kind == FEDERATED_NAMESPACE;
    let mut warnings = Vec::new();
    if is_namespace {
        check_one_per_namespace(view, subject)?;
        if subject.name != subject.namespace {
            warnings.push(format!(
                "FederatedNamespace {:?} is named differently from its namespace; it still governs namespace {:?} (name it {:?} to avoid confusion)",
                subject.name, subject.namespace, subject.namespace
            ));
        }
    }
    let both = placement.clusters.is_some() && placement.cluster_selector.is_some();
    let intent = Intent { placement: &placement, overrides: &overrides, both, fields: &SPEC_FIELDS };
    let policy_namespace = (!is_namespace).then_some(subject.namespace);
    warnings.extend(check_intent(view, &intent, policy_namespace)?);
    warnings.extend(check_federated_scheduling(view, subject, &placement)?);
    Ok(Decision { warnings, patch: Vec::new() })
}

/// Kind of the federated Namespace type, which also sets the namespace's placement policy.
const FEDERATED_NAMESPACE: &str = "FederatedNamespace";

fn check_one_per_namespace(view: &dyn FederationView, subject: &Subject) -> Result<(), String> {
    let existing = view.namespace_placement(subject.namespace);
    match existing.as_ref().and_then(|f| f.metadata.name.as_deref()) {
        Some(other) if other != subject.name => Err(format!(
            "namespace {:?} already has FederatedNamespace {other:?}; only one per namespace, change that one instead",
            subject.namespace
        )),
        _ => Ok(()),
    }
}

// ---- annotated sources ----

pub(super) fn validate_source(view: &dyn FederationView, subject: &Subject) -> Verdict {
    let Some(intent) = annotations::from_annotations(&subject.annotations).map_err(|e| e.to_string())? else {
        return Ok(Decision::default());
    };
    let target = enabled_target(view, subject)?;
    let FederationAnnotations { placement, overrides, .. } = &intent;
    let both = [keys::PLACEMENT, keys::CLUSTER_SELECTOR].iter().all(|k| subject.annotations.contains_key(*k));
    let checked = Intent { placement, overrides, both, fields: &ANNOTATION_FIELDS };
    let policy_namespace = (!target.is_namespace()).then_some(subject.namespace);
    let mut warnings = check_intent(view, &checked, policy_namespace)?;
    if let Some(scheduling) = &intent.replica_scheduling {
        warnings.extend(check_replica_scheduling(view, subject, &target, placement, scheduling)?);
    }
    check_name_clash(view, subject, &target)?;
    Ok(Decision { warnings, patch: Vec::new() })
}

/// Kinds whose replicas `kubefed.io/replica-scheduling` can divide (group `apps`).
pub const DIVISIBLE_KINDS: [&str; 3] = ["Deployment", "ReplicaSet", "StatefulSet"];

/// `kubefed.io/replica-scheduling` on a source: a workload with `spec.replicas`, every named
/// cluster joined and placed, numbers sound ([`replicas::validate`]); the total is the
/// source's replica count (as recorded when the host copy is pinned).
fn check_replica_scheduling(
    view: &dyn FederationView,
    subject: &Subject,
    target: &ApiResourceRef,
    placement: &Placement,
    scheduling: &Scheduling,
) -> Result<Vec<String>, String> {
    let key = keys::REPLICA_SCHEDULING;
    check_divisible(&target.group, &target.kind)?;
    let recorded = subject.annotations.get(keys::FEDERATED_REPLICAS).and_then(|r| r.parse::<i64>().ok());
    let total = recorded.filter(|_| subject.replicas() == Some(0)).or(subject.replicas()).unwrap_or(1);
    let clusters = view.clusters();
    let joined: BTreeSet<String> = clusters.iter().map(|c| c.name.clone()).collect();
    let placed = placement::resolve(placement, &clusters);
    preference_outcome(key, replicas::validate_scheduling(total, scheduling, &joined, Some(&placed)))
}

/// Refuses `kubefed.io/replica-scheduling` on a kind without replicas to divide.
fn check_divisible(group: &str, kind: &str) -> Result<(), String> {
    if group == "apps" && DIVISIBLE_KINDS.contains(&kind) {
        return Ok(());
    }
    Err(format!(
        "{}: {kind} has no replicas to divide; it applies to Deployments, ReplicaSets and StatefulSets",
        keys::REPLICA_SCHEDULING
    ))
}

/// `kubefed.io/overflow-after`, when set, is a duration.
fn check_overflow_after(subject: &Subject) -> Result<(), String> {
    match subject.annotations.get(keys::OVERFLOW_AFTER) {
        Some(value) => replicas::overflow::parse_after(value).map(drop),
        None => Ok(()),
    }
}

/// `kubefed.io/replica-scheduling` on a `Federated<Kind>` (not one an annotated source owns,
/// whose source was checked): a divisible kind, a value that parses and, when it is new or
/// changed, every named cluster joined and placed. The total is the template's replicas.
fn check_federated_scheduling(
    view: &dyn FederationView,
    subject: &Subject,
    placement: &Placement,
) -> Result<Vec<String>, String> {
    check_overflow_after(subject)?;
    let key = keys::REPLICA_SCHEDULING;
    let Some(value) = subject.annotations.get(key) else { return Ok(Vec::new()) };
    if crate::source::owned_by_source_meta(&subject.object.metadata) {
        return Ok(Vec::new());
    }
    match subject.kind.strip_prefix("Federated") {
        Some(target) if DIVISIBLE_KINDS.contains(&target) => {}
        _ => check_divisible("", subject.kind)?,
    }
    let scheduling = replicas::parse_annotation(value).map_err(|e| e.to_string())?;
    let before = subject.req.old_object.as_ref().and_then(|o| o.metadata.annotations.as_ref()?.get(key));
    if before == Some(value) {
        return Ok(Vec::new());
    }
    let total = subject.field::<i64>(&["spec", "template", "spec", "replicas"])?.unwrap_or(1);
    let clusters = view.clusters();
    let joined: BTreeSet<String> = clusters.iter().map(|c| c.name.clone()).collect();
    let placed = placement::resolve(placement, &clusters);
    preference_outcome(key, replicas::validate_scheduling(total, &scheduling, &joined, Some(&placed)))
}

/// The errors of a [`Validation`] as one deny message, or its warnings, each prefixed `at`.
fn preference_outcome(at: &str, v: Validation) -> Result<Vec<String>, String> {
    if !v.errors.is_empty() {
        let errors: Vec<String> = v.errors.iter().map(ToString::to_string).collect();
        return Err(format!("{at}: {}", errors.join("; ")));
    }
    Ok(v.warnings.iter().map(|w| format!("{at}: {w}")).collect())
}

// ---- scheduling.kubefed.io ----

/// A ReplicaSchedulingPreference: a known target kind, every named cluster joined, numbers
/// sound ([`replicas::validate_spec`]).
pub(super) fn validate_rsp(view: &dyn FederationView, subject: &Subject) -> Verdict {
    let spec: ReplicaSchedulingPreferenceSpec = subject.required(&["spec"])?;
    check_overflow_after(subject)?;
    let joined: BTreeSet<String> = view.clusters().into_iter().map(|c| c.name).collect();
    let warnings = preference_outcome("spec", replicas::validate_spec(&spec, &joined))?;
    Ok(Decision { warnings, patch: Vec::new() })
}

/// The target type of the source, when its type is enabled for federation.
fn enabled_target(view: &dyn FederationView, subject: &Subject) -> Result<ApiResourceRef, String> {
    let resource = &subject.req.resource;
    let qualified = if resource.group.is_empty() {
        resource.resource.clone()
    } else {
        format!("{}.{}", resource.resource, resource.group)
    };
    match view.type_config(&subject.req.kind.group, subject.kind) {
        Some(config) if config.is_enabled() => Ok(config.spec.target_type),
        Some(_) => Err(format!(
            "federation of {qualified} is disabled (spec.propagation: Disabled); run: kubectl fed enable {qualified}"
        )),
        None => Err(format!("{qualified} is not enabled for federation; run: kubectl fed enable {qualified}")),
    }
}

/// Refuses a source whose `Federated<Kind>` name is taken by an object it does not own. On
/// CREATE the source has no identity yet, so ownership by an object of the same kind and name
/// counts; afterwards the owner's uid must match.
fn check_name_clash(view: &dyn FederationView, subject: &Subject, target: &ApiResourceRef) -> Result<(), String> {
    let federated = target.federated();
    let namespace = match (target.is_namespace(), federated.scope) {
        (true, _) => subject.name,
        (false, Scope::Namespaced) => subject.namespace,
        (false, Scope::Cluster) => "",
    };
    let Some(existing) = view.federated_object(&federated, namespace, subject.name) else { return Ok(()) };
    let uid =
        subject.object.metadata.uid.as_deref().filter(|u| !u.is_empty() && subject.req.operation != Operation::Create);
    let owned = existing.metadata.owner_references.iter().flatten().any(|o| match uid {
        Some(uid) => o.uid == uid,
        None => o.kind == subject.kind && o.name == subject.name,
    });
    if owned {
        return Ok(());
    }
    let path = if namespace.is_empty() { subject.name.to_string() } else { format!("{namespace}/{}", subject.name) };
    Err(format!(
        "{} {path:?} already exists and is not owned by this {}; rename one of them or delete the {}",
        federated.kind, subject.kind, federated.kind
    ))
}
