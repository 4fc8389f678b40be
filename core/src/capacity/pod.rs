//! What the capacity ledger reads of a pod: what the scheduler reserves for it, the workload
//! that owns it and whether (since when) the scheduler found no node for it.

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::resources::Resources;

/// Label the Deployment controller puts on its ReplicaSets and their pods; a ReplicaSet of a
/// Deployment is named `<deployment>-<hash>`.
const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// What the scheduler reserves on a node for a pod of this spec (its fit check, the
/// `NodeResourcesFit` plugin): per resource the larger of the sum over the containers and the
/// largest init container (a sidecar, an init container with `restartPolicy: Always`, keeps
/// running: it counts with the containers and with every init container after it), replaced by
/// the pod-level `resources.requests` where those are set, plus the runtime's `overhead`;
/// `pods` is 1.
///
/// Requests only: limits without requests have already been copied into requests by the API
/// server's defaulting, and the scheduler's non-zero defaults serve scoring, not the fit.
pub fn pod_requests(spec: &PodSpec) -> Resources {
    let mut containers = spec.containers.iter().map(container_requests).fold(Resources::default(), |a, b| a + b);
    let mut sidecars = Resources::default();
    let mut init = Resources::default();
    for c in spec.init_containers.iter().flatten() {
        let own = container_requests(c);
        let running = if c.restart_policy.as_deref() == Some("Always") {
            containers = containers + own;
            sidecars = sidecars + own;
            sidecars
        } else {
            sidecars + own
        };
        init = init.max_each(running);
    }
    let mut effective = containers.max_each(init);
    if let Some(pod_level) = spec.resources.as_ref().and_then(|r| r.requests.as_ref()) {
        let requested = Resources::of_list(pod_level);
        if pod_level.contains_key("cpu") {
            effective.cpu_millis = requested.cpu_millis;
        }
        if pod_level.contains_key("memory") {
            effective.memory_bytes = requested.memory_bytes;
        }
    }
    let overhead = spec.overhead.as_ref().map(Resources::of_list).unwrap_or_default();
    Resources { pods: 1, ..effective + overhead }
}

fn container_requests(c: &Container) -> Resources {
    c.resources.as_ref().and_then(|r| r.requests.as_ref()).map(Resources::of_list).unwrap_or_default()
}

/// A workload in one member cluster, as its pods name it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkloadKey {
    /// The pods' namespace.
    pub namespace: String,
    /// `Deployment`, `ReplicaSet` or `StatefulSet`.
    pub kind: String,
    /// The workload's name.
    pub name: String,
}

/// The workload that owns `pod` through its controller ownerReference: a ReplicaSet named
/// `<x>-<pod-template-hash>` (the pod's `pod-template-hash` label) is Deployment `x`, any other
/// ReplicaSet is itself; a StatefulSet is itself. `None` for other owners (Jobs, DaemonSets, …)
/// and bare pods.
pub fn owner_workload(pod: &Pod) -> Option<WorkloadKey> {
    let meta = &pod.metadata;
    let owner = meta.owner_references.iter().flatten().find(|o| o.controller == Some(true))?;
    if owner.api_version.split('/').next() != Some("apps") {
        return None;
    }
    let hash = meta.labels.as_ref().and_then(|l| l.get(POD_TEMPLATE_HASH));
    let (kind, name) = match owner.kind.as_str() {
        "ReplicaSet" => match hash.and_then(|h| owner.name.strip_suffix(h.as_str())?.strip_suffix('-')) {
            Some(deployment) if !deployment.is_empty() => ("Deployment", deployment),
            _ => ("ReplicaSet", owner.name.as_str()),
        },
        "StatefulSet" => ("StatefulSet", owner.name.as_str()),
        _ => return None,
    };
    Some(WorkloadKey { namespace: meta.namespace.clone().unwrap_or_default(), kind: kind.into(), name: name.into() })
}

/// Since when the scheduler has found no node for `pod`: a pod not yet running (phase
/// `Pending`, or none yet) whose `PodScheduled` condition is `False` with reason
/// `Unschedulable` (how KubeFed's podanalyzer reads it too) → that condition's
/// `lastTransitionTime`.
///
/// A condition without a `lastTransitionTime` gives `None`, as if the pod were not
/// unschedulable: the scheduler always sets the time, and a pure function has no "now" to
/// substitute, which would also make the pod look newly unschedulable on every re-list.
pub fn unschedulable_since(pod: &Pod) -> Option<Time> {
    let status = pod.status.as_ref()?;
    if status.phase.as_deref().is_some_and(|p| p != "Pending") {
        return None;
    }
    let scheduled = status.conditions.iter().flatten().find(|c| c.type_ == "PodScheduled")?;
    (scheduled.status == "False" && scheduled.reason.as_deref() == Some("Unschedulable"))
        .then(|| scheduled.last_transition_time.clone())
        .flatten()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{PodCondition, PodStatus, ResourceRequirements};
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use k8s_openapi::jiff::Timestamp;

    use super::*;

    fn list(cpu: &str, memory: &str) -> Option<BTreeMap<String, Quantity>> {
        let mut l = BTreeMap::new();
        for (k, v) in [("cpu", cpu), ("memory", memory)] {
            if !v.is_empty() {
                l.insert(k.to_string(), Quantity(v.to_string()));
            }
        }
        Some(l)
    }

    fn container(cpu: &str, memory: &str, sidecar: bool) -> Container {
        Container {
            resources: Some(ResourceRequirements { requests: list(cpu, memory), ..Default::default() }),
            restart_policy: sidecar.then(|| "Always".to_string()),
            ..Default::default()
        }
    }

    fn r(cpu_millis: i64, mebibytes: i64) -> Resources {
        Resources { cpu_millis, memory_bytes: mebibytes << 20, pods: 1 }
    }

    #[test]
    fn requests_like_the_scheduler() {
        type Spec = (
            Vec<Container>,
            Vec<Container>,
            Option<(&'static str, &'static str)>,
            Option<(&'static str, &'static str)>,
        );
        let table: Vec<(&str, Spec, Resources)> = vec![
            ("no requests: one pod, nothing else", (vec![Container::default()], vec![], None, None), r(0, 0)),
            (
                "containers add up",
                (vec![container("100m", "64Mi", false), container("0.25", "1Gi", false)], vec![], None, None),
                r(350, 1088),
            ),
            (
                "the largest init container wins per resource",
                (
                    vec![container("500m", "64Mi", false)],
                    vec![container("1", "32Mi", false), container("100m", "128Mi", false)],
                    None,
                    None,
                ),
                r(1000, 128),
            ),
            (
                "a sidecar runs beside the containers and the init containers after it",
                (
                    vec![container("500m", "100Mi", false)],
                    vec![container("200m", "10Mi", true), container("400m", "200Mi", false)],
                    None,
                    None,
                ),
                r(700, 210),
            ),
            (
                "pod-level requests replace what they name; overhead is added",
                (vec![container("2", "1Gi", false)], vec![], Some(("1", "")), Some(("250m", "100Mi"))),
                r(1250, 1124),
            ),
        ];
        for (what, (containers, init, pod_level, overhead), want) in table {
            let spec = PodSpec {
                containers,
                init_containers: Some(init),
                resources: pod_level.map(|(c, m)| ResourceRequirements { requests: list(c, m), ..Default::default() }),
                overhead: overhead.and_then(|(c, m)| list(c, m)),
                ..Default::default()
            };
            assert_eq!(pod_requests(&spec), want, "{what}");
        }
    }

    fn pod(owner: Option<(&str, &str, &str, bool)>, hash: Option<&str>) -> Pod {
        let mut p = Pod::default();
        p.metadata.namespace = Some("shop".into());
        p.metadata.labels = hash.map(|h| BTreeMap::from([(POD_TEMPLATE_HASH.to_string(), h.to_string())]));
        p.metadata.owner_references = owner.map(|(api_version, kind, name, controller)| {
            vec![OwnerReference {
                api_version: api_version.into(),
                kind: kind.into(),
                name: name.into(),
                controller: Some(controller),
                ..Default::default()
            }]
        });
        p
    }

    #[test]
    fn owners() {
        let key = |kind: &str, name: &str| {
            Some(WorkloadKey { namespace: "shop".into(), kind: kind.into(), name: name.into() })
        };
        let table = [
            (
                "a Deployment's ReplicaSet",
                pod(Some(("apps/v1", "ReplicaSet", "web-7d4b9c", true)), Some("7d4b9c")),
                key("Deployment", "web"),
            ),
            (
                "a dashed Deployment name",
                pod(Some(("apps/v1", "ReplicaSet", "my-web-7d4b9c", true)), Some("7d4b9c")),
                key("Deployment", "my-web"),
            ),
            (
                "a ReplicaSet of its own",
                pod(Some(("apps/v1", "ReplicaSet", "web", true)), None),
                key("ReplicaSet", "web"),
            ),
            (
                "a hash the name does not end in",
                pod(Some(("apps/v1", "ReplicaSet", "web-1", true)), Some("2")),
                key("ReplicaSet", "web-1"),
            ),
            (
                "a name that is only the hash",
                pod(Some(("apps/v1", "ReplicaSet", "-abc", true)), Some("abc")),
                key("ReplicaSet", "-abc"),
            ),
            ("a StatefulSet", pod(Some(("apps/v1", "StatefulSet", "db", true)), None), key("StatefulSet", "db")),
            ("a Job", pod(Some(("batch/v1", "Job", "once", true)), None), None),
            ("a DaemonSet", pod(Some(("apps/v1", "DaemonSet", "agent", true)), None), None),
            ("an owner that is not the controller", pod(Some(("apps/v1", "ReplicaSet", "web", false)), None), None),
            ("a ReplicaSet of another group", pod(Some(("example.com/v1", "ReplicaSet", "web", true)), None), None),
            ("a bare pod", pod(None, None), None),
        ];
        for (what, p, want) in table {
            assert_eq!(owner_workload(&p), want, "{what}");
        }
    }

    #[test]
    fn unschedulable() {
        let t = Time(Timestamp::from_second(1_700_000_000).unwrap());
        let with = |phase: Option<&str>, status: &str, reason: Option<&str>, time: Option<Time>| Pod {
            status: Some(PodStatus {
                phase: phase.map(String::from),
                conditions: Some(vec![PodCondition {
                    type_: "PodScheduled".into(),
                    status: status.into(),
                    reason: reason.map(String::from),
                    last_transition_time: time,
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let table = [
            (
                "pending, unschedulable",
                with(Some("Pending"), "False", Some("Unschedulable"), Some(t.clone())),
                Some(t.clone()),
            ),
            ("no phase yet", with(None, "False", Some("Unschedulable"), Some(t.clone())), Some(t.clone())),
            ("no transition time", with(Some("Pending"), "False", Some("Unschedulable"), None), None),
            ("scheduled", with(Some("Pending"), "True", None, Some(t.clone())), None),
            (
                "held by a scheduling gate",
                with(Some("Pending"), "False", Some("SchedulingGated"), Some(t.clone())),
                None,
            ),
            ("running", with(Some("Running"), "False", Some("Unschedulable"), Some(t.clone())), None),
            ("no status", Pod::default(), None),
        ];
        for (what, p, want) in table {
            assert_eq!(unschedulable_since(&p), want, "{what}");
        }
    }
}
