//! Workload health of a member copy: the few numbers sync keeps of a Deployment, ReplicaSet,
//! StatefulSet, DaemonSet or Job (not the object) and whether its rollout is complete, the way
//! `kubectl rollout status` and `kubectl get deploy` read them.

use serde_json::Value;

use crate::api::{ApiResourceRef, Federated, WorkloadStatus};

/// True for the kinds whose member copies report a [`WorkloadStatus`].
pub fn is_workload(target: &ApiResourceRef) -> bool {
    match target.group.as_str() {
        "apps" => ["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"].contains(&target.kind.as_str()),
        "batch" => target.kind == "Job",
        _ => false,
    }
}

/// True when the object's controller has reported on its current spec: its
/// `status.observedGeneration` has reached its generation (or it has no generation).
pub fn observed(obj: &Value) -> bool {
    let int = |path: &str| obj.pointer(path).and_then(Value::as_i64);
    int("/metadata/generation").is_none_or(|g| int("/status/observedGeneration").is_some_and(|o| o >= g))
}

/// The health of a member copy of kind `kind` (`None` for other kinds).
pub fn of(kind: &str, obj: &Value) -> Option<WorkloadStatus> {
    let int = |path: &str| obj.pointer(path).and_then(Value::as_i64);
    let status = |field: &str| int(&format!("/status/{field}")).unwrap_or(0);
    let observed = observed(obj);
    let replicas = int("/spec/replicas").unwrap_or(1);
    let w = match kind {
        "Deployment" => {
            let (updated, available) = (status("updatedReplicas"), status("availableReplicas"));
            WorkloadStatus {
                desired: replicas,
                ready: status("readyReplicas"),
                available,
                updated,
                rolled_out: observed && updated >= replicas && status("replicas") <= updated && available >= updated,
            }
        }
        "ReplicaSet" => {
            let (current, ready) = (status("replicas"), status("readyReplicas"));
            WorkloadStatus {
                desired: replicas,
                ready,
                available: status("availableReplicas"),
                updated: current,
                rolled_out: observed && current == replicas && ready >= replicas,
            }
        }
        "StatefulSet" => {
            let (updated, ready) = (status("updatedReplicas"), status("readyReplicas"));
            let revisions = obj.pointer("/status/currentRevision") == obj.pointer("/status/updateRevision");
            WorkloadStatus {
                desired: replicas,
                ready,
                available: status("availableReplicas"),
                updated,
                rolled_out: observed && updated >= replicas && ready >= replicas && revisions,
            }
        }
        "DaemonSet" => {
            let desired = status("desiredNumberScheduled");
            let (updated, available) = (status("updatedNumberScheduled"), status("numberAvailable"));
            WorkloadStatus {
                desired,
                ready: status("numberReady"),
                available,
                updated,
                rolled_out: observed && updated >= desired && available >= desired,
            }
        }
        "Job" => {
            let desired = int("/spec/completions").unwrap_or(1);
            let succeeded = status("succeeded");
            WorkloadStatus {
                desired,
                ready: status("ready"),
                available: succeeded,
                updated: succeeded,
                rolled_out: succeeded >= desired,
            }
        }
        _ => return None,
    };
    Some(w)
}

/// Where a federated workload's rollout stands: `Ok` once the status describes the current
/// generation and every cluster in it has rolled out; otherwise one line per lagging cluster
/// (`vulcan: 2 of 3 updated, 1 available`), or why the status says nothing yet.
pub fn rollout(fed: &Federated) -> Result<(), Vec<String>> {
    let Some(status) = fed.status.as_ref() else { return Err(vec!["not yet processed by the sync controller".into()]) };
    if status.observed_generation != fed.metadata.generation {
        return Err(vec!["the sync controller has not propagated the latest change yet".into()]);
    }
    if status.clusters.is_empty() {
        return Err(vec!["placed on no cluster".into()]);
    }
    let lagging: Vec<String> = status
        .clusters
        .iter()
        .filter_map(|c| match (c.status.as_deref().filter(|s| !s.is_empty()), c.workload) {
            (Some(word), _) => Some(format!("{}: {word}", c.name)),
            (None, None) => Some(format!("{}: no workload status yet", c.name)),
            (None, Some(w)) if !w.rolled_out => {
                Some(format!("{}: {} of {} updated, {} available", c.name, w.updated, w.desired, w.available))
            }
            (None, Some(_)) => None,
        })
        .collect();
    if lagging.is_empty() { Ok(()) } else { Err(lagging) }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::Scope;

    #[test]
    fn a_deployment_is_rolled_out_when_every_pod_is_new_and_available() {
        let deploy = |generation: i64, observed: i64, replicas: i64, updated: i64, available: i64| {
            json!({"metadata": {"generation": generation}, "spec": {"replicas": 3},
                "status": {"observedGeneration": observed, "replicas": replicas, "updatedReplicas": updated,
                    "readyReplicas": available, "availableReplicas": available}})
        };
        let done = of("Deployment", &deploy(2, 2, 3, 3, 3)).unwrap();
        assert_eq!(done, WorkloadStatus { desired: 3, ready: 3, available: 3, updated: 3, rolled_out: true });
        let cases = [
            (deploy(3, 2, 3, 3, 3), "the controller has not seen the new spec"),
            (deploy(2, 2, 4, 3, 3), "an old pod is still there"),
            (deploy(2, 2, 3, 2, 3), "not every pod is of the new template"),
            (deploy(2, 2, 3, 3, 2), "a new pod is not available yet"),
        ];
        for (obj, why) in cases {
            assert!(!of("Deployment", &obj).unwrap().rolled_out, "{why}");
        }
    }

    #[test]
    fn other_workloads_and_other_kinds() {
        let rs = json!({"metadata": {"generation": 1}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 1, "replicas": 2, "readyReplicas": 2, "availableReplicas": 2}});
        assert!(of("ReplicaSet", &rs).unwrap().rolled_out);
        let sts = json!({"metadata": {"generation": 1}, "spec": {"replicas": 2}, "status": {"observedGeneration": 1,
            "replicas": 2, "readyReplicas": 2, "updatedReplicas": 2, "currentRevision": "a", "updateRevision": "b"}});
        assert!(!of("StatefulSet", &sts).unwrap().rolled_out, "revisions differ");
        let ds = json!({"metadata": {"generation": 1}, "status": {"observedGeneration": 1,
            "desiredNumberScheduled": 2, "numberReady": 2, "numberAvailable": 2, "updatedNumberScheduled": 2}});
        assert_eq!(of("DaemonSet", &ds).unwrap().desired, 2);
        let job = json!({"spec": {"completions": 3}, "status": {"succeeded": 2}});
        assert!(!of("Job", &job).unwrap().rolled_out);
        assert_eq!(of("ConfigMap", &json!({})), None);
        let target = |group: &str, kind: &str| ApiResourceRef::v1(group, kind, "x", Scope::Namespaced);
        assert!(is_workload(&target("apps", "Deployment")) && is_workload(&target("batch", "Job")));
        assert!(!is_workload(&target("", "ConfigMap")) && !is_workload(&target("apps", "ControllerRevision")));
    }

    #[test]
    fn a_rollout_is_done_when_every_cluster_has_rolled_out_the_current_generation() {
        let ar = kube::core::ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&());
        let done = WorkloadStatus { desired: 3, ready: 3, available: 3, updated: 3, rolled_out: true };
        let lagging = WorkloadStatus { updated: 1, available: 2, rolled_out: false, ..done };
        let fed = |observed: i64, clusters: Vec<(&str, Option<&str>, Option<WorkloadStatus>)>| {
            let mut f = Federated::new("web", &ar, Default::default());
            f.metadata.generation = Some(2);
            f.status = Some(crate::api::FederatedStatus {
                observed_generation: Some(observed),
                clusters: clusters
                    .into_iter()
                    .map(|(name, word, workload)| crate::api::ClusterStatus {
                        name: name.into(),
                        status: word.map(Into::into),
                        workload,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            });
            f
        };
        assert_eq!(rollout(&fed(2, vec![("kronos", None, Some(done)), ("vulcan", Some(""), Some(done))])), Ok(()));
        assert_eq!(
            rollout(&fed(2, vec![("kronos", None, Some(lagging)), ("vulcan", Some("ClusterNotReady"), None)])),
            Err(vec!["kronos: 1 of 3 updated, 2 available".into(), "vulcan: ClusterNotReady".into()])
        );
        assert!(rollout(&fed(1, vec![("kronos", None, Some(done))])).is_err(), "an older generation");
        assert!(rollout(&fed(2, vec![])).is_err());
        assert!(rollout(&fed(2, vec![("kronos", None, None)])).is_err());
    }
}
