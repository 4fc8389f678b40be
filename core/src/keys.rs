//! Annotation and label keys that make up the user-facing contract on ordinary objects.

/// Annotation: comma list of joined cluster names, or `*` for every joined cluster.
pub const PLACEMENT: &str = "kubefed.io/placement";
/// Annotation: label selector over KubeFedCluster labels, e.g. `region=eu,tier!=edge`.
pub const CLUSTER_SELECTOR: &str = "kubefed.io/cluster-selector";
/// Annotation: JSON map of cluster name to a list of override operations.
pub const OVERRIDES: &str = "kubefed.io/overrides";
/// Annotation: `"true"` keeps member copies when the source or federated object is deleted.
pub const ORPHAN: &str = "kubefed.io/orphan";
/// Annotation: JSON map of cluster name (or `*`) to `{minReplicas, maxReplicas, weight}`, the
/// replica division of KubeFed's ReplicaSchedulingPreference for an ordinary workload; the
/// object's own `spec.replicas` is the total.
pub const REPLICA_SCHEDULING: &str = "kubefed.io/replica-scheduling";
/// Annotation on a divided workload (an ordinary object, its federated object or an RSP): how
/// long a pod stays Unschedulable before its cluster counts as full and the replicas it cannot
/// run go to the other clusters, e.g. `30s` (default 60s, as KubeFed).
pub const OVERFLOW_AFTER: &str = "kubefed.io/overflow-after";
/// Annotation the replicas controller keeps on a divided federated object: each full cluster's
/// estimated capacity and when it was set, as JSON (`{"vulcan":{"capacity":2,"since":…}}`).
pub const OVERFLOW_ESTIMATES: &str = "kubefed.io/overflow-estimates";
/// Annotation set by the mutating webhook: the replica count the user asked for, when the host
/// copy is pinned to zero because the host is not in the placement (or the replicas are
/// divided by `kubefed.io/replica-scheduling`, which gives the host's copy none).
pub const FEDERATED_REPLICAS: &str = "kubefed.io/federated-replicas";
/// Annotation on member copies naming the federated object they come from (`namespace/name` of kind).
pub const ORIGIN: &str = "kubefed.io/origin";

/// Label set on sources (annotated ordinary objects) by the mutating webhook.
pub const FEDERATED_LABEL: &str = "kubefed.io/federated";
/// Label set on every object the federation writes to a member cluster.
pub const MANAGED_LABEL: &str = "kubefed.io/managed";
/// Label on the KubeFedCluster of the host cluster when it joined itself.
pub const HOST_LABEL: &str = "kubefed.io/host";

/// Follow: label `"true"` on a host Namespace whose new objects take the namespace's placement
/// (the follow webhook selects these namespaces); annotation `"true"`/`"false"` on a
/// FederatedNamespace turning follow on or off for its namespace; annotation `"false"` on an
/// object created in a followed namespace, keeping it on the host only.
pub const FOLLOW: &str = "kubefed.io/follow";
/// Annotation on a followed Namespace: the placement (`kubefed.io/placement` syntax) its new
/// objects get when no FederatedNamespace governs it, as `kubectl fed follow --clusters` recorded.
pub const FOLLOW_PLACEMENT: &str = "kubefed.io/follow-placement";
/// Annotation on a followed Namespace: like [`FOLLOW_PLACEMENT`], a cluster selector.
pub const FOLLOW_CLUSTER_SELECTOR: &str = "kubefed.io/follow-cluster-selector";

/// Prefix shared by every key above; the webhook's match conditions look for it.
pub const PREFIX: &str = "kubefed.io/";

/// The annotations a user sets to federate an ordinary object.
pub const USER_ANNOTATIONS: [&str; 6] =
    [PLACEMENT, CLUSTER_SELECTOR, OVERRIDES, ORPHAN, REPLICA_SCHEDULING, OVERFLOW_AFTER];

/// Field manager used for server-side apply on member clusters.
pub const FIELD_MANAGER: &str = "kubectl-fed";
/// Finalizer on federated objects so deletion cascades to member clusters.
pub const FINALIZER: &str = "kubefed.io/sync-controller";
/// Default namespace of the federation control plane.
pub const FEDERATION_NAMESPACE: &str = "kube-federation-system";
