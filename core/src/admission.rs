//! Admission decisions: a pure function from an AdmissionRequest and a read-only view of the
//! federation to an AdmissionResponse. The webhook server (transport) is in fed-webhook.
//!
//! The view is backed by reflector caches in the webhook and by plain structs in tests, so
//! no decision ever makes an API call.

use std::collections::{BTreeMap, BTreeSet};

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, PatchOperation, RemoveOperation, ReplaceOperation};
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, Operation};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::annotations::{self, FederationAnnotations};
use crate::api::{
    ApiResourceRef, CORE_GROUP, ClusterOverrides, ClusterPreferencesMap, Federated, FederatedTypeConfig,
    FederatedTypeConfigSpec, KubeFedClusterSpec, Placement, ReplicaSchedulingPreferenceSpec, SCHEDULING_GROUP, Scope,
    TYPES_GROUP,
};
use crate::placement::{self, JoinedCluster, PlacementError};
use crate::replicas::{self, Validation};
use crate::{keys, names, overrides};

pub mod follow;
#[cfg(any(test, feature = "fixtures"))]
pub mod memory;
pub mod wire;

/// Read-only view of the federation's state that admission decides against.
pub trait FederationView {
    /// Every joined cluster.
    fn clusters(&self) -> Vec<JoinedCluster>;
    /// The type config whose target type has this API group and kind, if any.
    fn type_config(&self, group: &str, kind: &str) -> Option<FederatedTypeConfig>;
    /// The FederatedNamespace that governs `namespace`, if one exists.
    fn namespace_placement(&self, namespace: &str) -> Option<Federated>;
    /// The federated object of type `federated` with this namespace and name, if one exists.
    /// Only its metadata (identity and owner references) is needed; a view may leave the rest
    /// out.
    fn federated_object(&self, federated: &ApiResourceRef, namespace: &str, name: &str) -> Option<Federated>;
    /// The annotations of host namespace `namespace` when it follows (labelled
    /// `kubefed.io/follow=true`), else `None`. Read by the follow webhook ([`follow`]).
    fn followed_namespace(&self, namespace: &str) -> Option<BTreeMap<String, String>>;
}

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

/// What an allowed request gets: warnings for the user and a patch for the object.
#[derive(Debug, Default)]
struct Decision {
    warnings: Vec<String>,
    patch: Vec<PatchOperation>,
}

/// `Err` is the deny message.
type Outcome = Result<Decision, String>;

fn decide(view: &dyn FederationView, endpoint: Endpoint, req: &AdmissionRequest<DynamicObject>) -> Outcome {
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

/// The object under review with what every rule needs to know about it.
struct Subject<'a> {
    req: &'a AdmissionRequest<DynamicObject>,
    object: &'a DynamicObject,
    kind: &'a str,
    name: &'a str,
    namespace: &'a str,
    annotations: BTreeMap<String, String>,
}

impl<'a> Subject<'a> {
    fn new(req: &'a AdmissionRequest<DynamicObject>, object: &'a DynamicObject) -> Self {
        let meta = &object.metadata;
        Subject {
            req,
            object,
            kind: &req.kind.kind,
            name: meta.name.as_deref().unwrap_or(&req.name),
            namespace: meta.namespace.as_deref().or(req.namespace.as_deref()).unwrap_or_default(),
            annotations: meta.annotations.clone().unwrap_or_default(),
        }
    }

    /// `Kind "namespace/name"` (or `Kind "name"`) for messages.
    fn display(&self) -> String {
        if self.namespace.is_empty() {
            format!("{} {:?}", self.kind, self.name)
        } else {
            format!("{} \"{}/{}\"", self.kind, self.namespace, self.name)
        }
    }

    /// The object field at `path` (e.g. `["spec", "placement"]`); `None` when absent or null.
    fn field<T: DeserializeOwned>(&self, path: &[&str]) -> Result<Option<T>, String> {
        let value = path.iter().try_fold(&self.object.data, |v, key| v.get(key));
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(v) => T::deserialize(v).map(Some).map_err(|e| format!("{}: {e}", path.join("."))),
        }
    }

    fn required<T: DeserializeOwned>(&self, path: &[&str]) -> Result<T, String> {
        self.field(path)?.ok_or_else(|| format!("{} is missing", path.join(".")))
    }

    fn replicas(&self) -> Option<i64> {
        self.object.data.pointer("/spec/replicas").and_then(Value::as_i64)
    }
}

// ---- core.kubefed.io ----

fn validate_core(subject: &Subject) -> Outcome {
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

fn validate_federated(view: &dyn FederationView, subject: &Subject) -> Outcome {
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

fn validate_source(view: &dyn FederationView, subject: &Subject) -> Outcome {
    let Some(intent) = annotations::from_annotations(&subject.annotations).map_err(|e| e.to_string())? else {
        return Ok(Decision::default());
    };
    let target = enabled_target(view, subject)?;
    let FederationAnnotations { placement, overrides, .. } = &intent;
    let both = [keys::PLACEMENT, keys::CLUSTER_SELECTOR].iter().all(|k| subject.annotations.contains_key(*k));
    let checked = Intent { placement, overrides, both, fields: &ANNOTATION_FIELDS };
    let policy_namespace = (!target.is_namespace()).then_some(subject.namespace);
    let mut warnings = check_intent(view, &checked, policy_namespace)?;
    if let Some(prefs) = &intent.replica_scheduling {
        warnings.extend(check_replica_scheduling(view, subject, &target, placement, prefs)?);
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
    prefs: &ClusterPreferencesMap,
) -> Result<Vec<String>, String> {
    let key = keys::REPLICA_SCHEDULING;
    if target.group != "apps" || !DIVISIBLE_KINDS.contains(&target.kind.as_str()) {
        return Err(format!(
            "{key}: {} has no replicas to divide; it applies to Deployments, ReplicaSets and StatefulSets",
            target.kind
        ));
    }
    let recorded = subject.annotations.get(keys::FEDERATED_REPLICAS).and_then(|r| r.parse::<i64>().ok());
    let total = recorded.filter(|_| subject.replicas() == Some(0)).or(subject.replicas()).unwrap_or(1);
    let clusters = view.clusters();
    let joined: BTreeSet<String> = clusters.iter().map(|c| c.name.clone()).collect();
    let placed = placement::resolve(placement, &clusters);
    preference_outcome(key, replicas::validate(total, prefs, &joined, Some(&placed)))
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
fn validate_rsp(view: &dyn FederationView, subject: &Subject) -> Outcome {
    let spec: ReplicaSchedulingPreferenceSpec = subject.required(&["spec"])?;
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

/// Normalises a source: canonical placement value, the federated label, and host replica
/// pinning (when the host is not placed, or `kubefed.io/replica-scheduling` divides the
/// replicas over the members). An object that is no longer a source gets its replicas back and loses the label.
/// Anything unparsable is left for `/validate` to deny.
fn mutate_source(view: &dyn FederationView, subject: &Subject) -> Decision {
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
fn map_patch(
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

// ---- rules shared by Federated<Kind> objects and sources ----

/// Where the pieces of an intent come from, for messages.
struct Fields {
    clusters: &'static str,
    selector: &'static str,
    overrides: &'static str,
}

const SPEC_FIELDS: Fields = Fields {
    clusters: "spec.placement.clusters",
    selector: "spec.placement.clusterSelector",
    overrides: "spec.overrides",
};

const ANNOTATION_FIELDS: Fields =
    Fields { clusters: keys::PLACEMENT, selector: keys::CLUSTER_SELECTOR, overrides: keys::OVERRIDES };

/// A placement with its overrides, from a `Federated<Kind>` spec or a source's annotations.
struct Intent<'a> {
    placement: &'a Placement,
    overrides: &'a [ClusterOverrides],
    /// Both an explicit cluster list and a selector were given.
    both: bool,
    fields: &'a Fields,
}

/// The placement and override rules; returns the warnings. The namespace policy (placement
/// within the namespace's FederatedNamespace) applies when `policy_namespace` is given.
fn check_intent(
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

#[cfg(test)]
mod tests;
