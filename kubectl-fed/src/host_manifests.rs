//! The host component's manifests (`manifests/host/`, compiled in) as `kubectl fed install`
//! writes them: moved into the federation namespace, and the in-cluster Deployment shaped by the
//! install flags (image, replicas, port, `--host-network`, `--host-apiserver`).

use anyhow::{Context as _, Result, anyhow};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::core::ApiResource;
use serde::Deserialize as _;
use serde_json::{Value, json};

use crate::apply::Obj;
use crate::fedapi::MANAGED_BY;

/// Port the webhook listens on in the shipped Deployment.
pub const DEFAULT_PORT: u16 = 9443;

/// `HOST:PORT` split, with a clear error (`[v6]:port` accepted).
pub fn host_port(addr: &str) -> Result<(String, u16)> {
    let bad = || anyhow!("--host-apiserver {addr:?}: expected HOST:PORT, e.g. 10.0.0.1:6443");
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

/// The in-cluster Deployment's settings that `install` flags change.
#[derive(Clone, Debug)]
pub struct PodShape {
    /// Container image (`--image`).
    pub image: String,
    /// Replicas (`--replicas`; `None`: the manifest's).
    pub replicas: Option<i32>,
    /// Webhook port (`--port`).
    pub port: u16,
    /// Pods in the node's network namespace (`--host-network`).
    pub host_network: bool,
    /// Where the pods reach the host apiserver (`--host-apiserver`).
    pub host_apiserver: Option<(String, u16)>,
}

impl PodShape {
    /// The shipped manifest's settings with `image`.
    #[cfg(test)]
    pub fn shipped(image: &str) -> PodShape {
        PodShape { image: image.into(), replicas: None, port: DEFAULT_PORT, host_network: false, host_apiserver: None }
    }

    /// Rewrites the host component's Deployment (as parsed from the manifest) to this shape.
    pub fn apply_to(&self, deployment: &mut Value) {
        if let Some(r) = self.replicas {
            deployment["spec"]["replicas"] = json!(r);
        }
        let pod = &mut deployment["spec"]["template"]["spec"];
        if self.host_network {
            pod["hostNetwork"] = json!(true);
            pod["dnsPolicy"] = json!("ClusterFirstWithHostNet");
        }
        let listen_host = if self.host_network { "$(POD_IP)" } else { "0.0.0.0" };
        for c in pod["containers"].as_array_mut().into_iter().flatten() {
            let current = c["image"].as_str().unwrap_or_default();
            if current == MANIFEST_IMAGE || current.starts_with(&format!("{MANIFEST_IMAGE}:")) {
                c["image"] = json!(self.image);
            }
            for arg in c["args"].as_array_mut().into_iter().flatten() {
                if arg.as_str().is_some_and(|a| a.starts_with("--listen=")) {
                    *arg = json!(format!("--listen={listen_host}:{}", self.port));
                }
            }
            for p in c["ports"].as_array_mut().into_iter().flatten() {
                p["containerPort"] = json!(self.port);
            }
            let env = c["env"].as_array_mut();
            if let Some(env) = env {
                if self.host_network {
                    env.push(json!({"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}));
                }
                if let Some((host, port)) = &self.host_apiserver {
                    env.push(json!({"name": "KUBERNETES_SERVICE_HOST", "value": host}));
                    env.push(json!({"name": "KUBERNETES_SERVICE_PORT", "value": port.to_string()}));
                }
            }
        }
        if self.host_network {
            // Each pod holds the port on its node, so a surge pod could never be scheduled
            // while every node runs one: replace pods one at a time instead.
            deployment["spec"]["strategy"]["rollingUpdate"] = json!({"maxUnavailable": 1, "maxSurge": 0});
        }
    }
}

/// The host component's manifests (`manifests/host/`, owned with the webhook), compiled in so
/// the installer and `kubectl apply -k manifests/host` can never disagree.
const HOST_MANIFESTS: [(&str, &str); 6] = [
    ("namespace.yaml", include_str!("../../manifests/host/namespace.yaml")),
    ("rbac.yaml", include_str!("../../manifests/host/rbac.yaml")),
    ("source-roles.yaml", include_str!("../../manifests/host/source-roles.yaml")),
    ("service.yaml", include_str!("../../manifests/host/service.yaml")),
    ("deployment.yaml", include_str!("../../manifests/host/deployment.yaml")),
    ("pdb.yaml", include_str!("../../manifests/host/pdb.yaml")),
];
/// Files that only the in-cluster form needs.
const IN_CLUSTER_ONLY: [&str; 3] = ["service.yaml", "deployment.yaml", "pdb.yaml"];
/// The image name the manifests use (kustomize's `images:` replaces it; so does `--image`).
const MANIFEST_IMAGE: &str = "kubectl-fed/fed-webhook";

/// The resource of a kind the host manifests use.
fn known_resource(kind: &str) -> Option<ApiResource> {
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;
    Some(match kind {
        "Namespace" => ApiResource::erase::<Namespace>(&()),
        "ServiceAccount" => ApiResource::erase::<ServiceAccount>(&()),
        "ClusterRole" => ApiResource::erase::<ClusterRole>(&()),
        "ClusterRoleBinding" => ApiResource::erase::<ClusterRoleBinding>(&()),
        "Role" => ApiResource::erase::<Role>(&()),
        "RoleBinding" => ApiResource::erase::<RoleBinding>(&()),
        "Service" => ApiResource::erase::<Service>(&()),
        "Deployment" => ApiResource::erase::<Deployment>(&()),
        "PodDisruptionBudget" => ApiResource::erase::<PodDisruptionBudget>(&()),
        _ => return None,
    })
}

/// The host manifests for `fed_ns`: the namespace renamed, namespaced objects and RBAC subjects
/// moved into it. `in_cluster` adds Service, Deployment (shaped by it) and PDB.
pub fn host_objects(fed_ns: &str, in_cluster: Option<&PodShape>) -> Result<Vec<Obj>> {
    let mut out = Vec::new();
    for (file, text) in HOST_MANIFESTS {
        if in_cluster.is_none() && IN_CLUSTER_ONLY.contains(&file) {
            continue;
        }
        for doc in serde_yaml::Deserializer::from_str(text) {
            let mut v = Value::deserialize(doc).with_context(|| format!("manifests/host/{file}"))?;
            if v.is_null() {
                continue;
            }
            let kind = v["kind"].as_str().unwrap_or_default().to_string();
            let ar = known_resource(&kind).ok_or_else(|| anyhow!("manifests/host/{file}: unexpected kind {kind:?}"))?;
            let namespaced = v["metadata"].get("namespace").is_some();
            if kind == "Namespace" {
                v["metadata"]["name"] = json!(fed_ns);
            }
            if namespaced {
                v["metadata"]["namespace"] = json!(fed_ns);
            }
            if let Some(subjects) = v.get_mut("subjects").and_then(Value::as_array_mut) {
                for s in subjects.iter_mut().filter(|s| s.get("namespace").is_some()) {
                    s["namespace"] = json!(fed_ns);
                }
            }
            v["metadata"]["labels"]["app.kubernetes.io/managed-by"] = json!(MANAGED_BY);
            if let (Some(shape), "Deployment") = (in_cluster, kind.as_str()) {
                shape.apply_to(&mut v);
            }
            out.push(Obj::dynamic(ar, namespaced, v)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_manifests_move_into_the_federation_namespace() {
        let shape = PodShape { replicas: Some(3), ..PodShape::shipped("img:1") };
        let objs = host_objects("fed", Some(&shape)).unwrap();
        let names: Vec<String> = objs.iter().map(Obj::display).collect();
        assert_eq!(names[0], "namespace/fed");
        for want in [
            "serviceaccount/kubectl-fed-webhook",
            "clusterrole.rbac.authorization.k8s.io/kubectl-fed-webhook-sources",
            "deployment.apps/kubectl-fed-webhook",
            "service/kubectl-fed-webhook",
            "poddisruptionbudget.policy/kubectl-fed-webhook",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} missing from {names:?}");
        }
        for o in &objs {
            let v = o.to_value();
            if o.namespaced {
                assert_eq!(o.namespace(), Some("fed"), "{}", o.display());
            }
            for s in v["subjects"].as_array().into_iter().flatten() {
                assert_eq!(s["namespace"], "fed", "{}", o.display());
            }
            assert_eq!(v["metadata"]["labels"]["app.kubernetes.io/managed-by"], "kubectl-fed");
        }
        let d = objs.iter().find(|o| o.ar.kind == "Deployment").unwrap().to_value();
        assert_eq!(d["spec"]["replicas"], 3);
        let container = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["image"], "img:1");
        assert!(container["args"].as_array().unwrap().contains(&json!("--listen=0.0.0.0:9443")));
        assert_eq!(d["spec"]["template"]["spec"].get("hostNetwork"), None);
        let local = host_objects("fed", None).unwrap();
        assert!(!local.iter().any(|o| o.ar.kind == "Deployment" || o.ar.kind == "Service"));
    }

    fn deployment(shape: &PodShape) -> Value {
        let objs = host_objects("fed", Some(shape)).unwrap();
        objs.iter().find(|o| o.ar.kind == "Deployment").unwrap().to_value()
    }

    #[test]
    fn host_network_pods_listen_on_their_node_and_replace_one_at_a_time() {
        let shape = PodShape {
            port: 16490,
            host_network: true,
            host_apiserver: Some(("127.0.0.1".into(), 16443)),
            ..PodShape::shipped("img:2")
        };
        let d = deployment(&shape);
        let pod = &d["spec"]["template"]["spec"];
        assert_eq!(pod["hostNetwork"], true);
        assert_eq!(pod["dnsPolicy"], "ClusterFirstWithHostNet");
        let c = &pod["containers"][0];
        assert!(c["args"].as_array().unwrap().contains(&json!("--listen=$(POD_IP):16490")), "{}", c["args"]);
        assert_eq!(c["ports"][0]["containerPort"], 16490);
        let env = c["env"].as_array().unwrap();
        let value = |name: &str| env.iter().find(|e| e["name"] == name).map(|e| e["value"].clone());
        assert_eq!(value("KUBERNETES_SERVICE_HOST"), Some(json!("127.0.0.1")));
        assert_eq!(value("KUBERNETES_SERVICE_PORT"), Some(json!("16443")));
        let pod_ip = env.iter().find(|e| e["name"] == "POD_IP").expect("POD_IP from the downward API");
        assert_eq!(pod_ip["valueFrom"]["fieldRef"]["fieldPath"], "status.podIP");
        assert_eq!(d["spec"]["strategy"]["rollingUpdate"], json!({"maxUnavailable": 1, "maxSurge": 0}));
    }

    #[test]
    fn host_apiserver_takes_host_and_port() {
        assert_eq!(host_port("10.0.0.1:6443").unwrap(), ("10.0.0.1".into(), 6443));
        assert_eq!(host_port("[::1]:6443").unwrap(), ("::1".into(), 6443));
        for bad in ["10.0.0.1", ":6443", "h:0", "h:x"] {
            let e = host_port(bad).unwrap_err().to_string();
            assert!(e.contains("expected HOST:PORT"), "{bad}: {e}");
        }
    }
}
