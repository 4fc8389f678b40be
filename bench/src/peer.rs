//! `peer`: KubeFed's own workload, for running KubeFed and kubectl-fed side by side.
//!
//! A FederatedNamespace named like the namespace, then N `types.kubefed.io/v1beta1`
//! Federated<Kind> objects written as KubeFed's documentation writes them (template, placement by
//! cluster list), created on the host by one client with C requests in flight. Timed until a
//! watch on every placed cluster has seen every member object. Both systems serve this API, so
//! the same command measures either; `--pid` names the controller process whose CPU and memory
//! are reported.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ApiResource, DynamicObject};
use serde_json::{Value, json};

use crate::PeerArgs;
use crate::create::{client, create_all, ensure_namespace, names, secs};
use crate::objects::{configmap, deployment};
use crate::procfs::{mib, proc_report, proc_sample, round, rss_sampler};
use crate::throughput::{counts, per_cluster_last};
use crate::watches::{Seen, start_watch, wait_all};

/// The member kinds the workload can federate.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum PeerKind {
    Deployment,
    ConfigMap,
}

impl PeerKind {
    fn kind(self) -> &'static str {
        match self {
            PeerKind::Deployment => "Deployment",
            PeerKind::ConfigMap => "ConfigMap",
        }
    }
    fn prefix(self) -> &'static str {
        match self {
            PeerKind::Deployment => "d",
            PeerKind::ConfigMap => "m",
        }
    }
    /// The template: the plain object the other benchmarks create, without its identity.
    fn template(self, name: &str, namespace: &str) -> Value {
        let mut t = match self {
            PeerKind::Deployment => deployment(name, namespace, None),
            PeerKind::ConfigMap => configmap(name, namespace, ""),
        };
        let labels = t["metadata"]["labels"].take();
        let map = t.as_object_mut().expect("an object");
        map.remove("apiVersion");
        map.remove("kind");
        t["metadata"] = if labels.is_null() { json!({}) } else { json!({ "labels": labels }) };
        t
    }
}

/// `types.kubefed.io/v1beta1` Federated<kind>.
fn federated_resource(kind: &str) -> ApiResource {
    ApiResource {
        group: "types.kubefed.io".into(),
        version: "v1beta1".into(),
        api_version: "types.kubefed.io/v1beta1".into(),
        kind: format!("Federated{kind}"),
        plural: format!("federated{}s", kind.to_lowercase()),
    }
}

/// A Federated<kind> placed on `clusters` by name.
fn federated(kind: &str, name: &str, namespace: &str, template: Value, clusters: &[String]) -> Result<DynamicObject> {
    let clusters: Vec<Value> = clusters.iter().map(|c| json!({ "name": c })).collect();
    Ok(serde_json::from_value(json!({
        "apiVersion": "types.kubefed.io/v1beta1",
        "kind": format!("Federated{kind}"),
        "metadata": { "name": name, "namespace": namespace },
        "spec": { "template": template, "placement": { "clusters": clusters } }
    }))?)
}

/// `peer`: the FederatedNamespace, then N Federated<Kind>, timed until every member copy is seen.
pub async fn peer(a: PeerArgs) -> Result<Value> {
    let c = &a.common;
    let seen = Arc::new(Seen::default());
    let host = client(&c.kubeconfig, &a.host).await?;
    ensure_namespace(&host, &c.namespace).await?;
    for cl in &a.clusters {
        let client = if *cl == a.host { host.clone() } else { client(&c.kubeconfig, cl).await? };
        let prefix = a.kind.prefix();
        match a.kind {
            PeerKind::Deployment => start_watch::<Deployment>(client, cl, &c.namespace, prefix, seen.clone()).await?,
            PeerKind::ConfigMap => start_watch::<ConfigMap>(client, cl, &c.namespace, prefix, seen.clone()).await?,
        };
    }
    let retries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let fed_ns = federated("Namespace", &c.namespace, &c.namespace, json!({}), &a.clusters)?;
    let ns_api: Api<DynamicObject> = Api::namespaced_with(host.clone(), &c.namespace, &federated_resource("Namespace"));
    create_all(ns_api, vec![fed_ns], 1, retries.clone()).await?;

    let kind = a.kind.kind();
    let objs: Vec<DynamicObject> = names(a.kind.prefix(), a.count)
        .iter()
        .map(|n| federated(kind, n, &c.namespace, a.kind.template(n, &c.namespace), &a.clusters))
        .collect::<Result<_>>()?;
    let (max_rss, sampler) = rss_sampler(c.pid);
    let before = c.pid.and_then(proc_sample);
    let t0 = Instant::now();
    let api: Api<DynamicObject> = Api::namespaced_with(host.clone(), &c.namespace, &federated_resource(kind));
    let creates_done = create_all(api, objs, a.concurrency, retries.clone()).await?;
    let ok = wait_all(&seen, &a.clusters, a.count, t0 + Duration::from_secs(c.timeout)).await;
    let converged = a.clusters.iter().filter_map(|cl| seen.last(cl)).max().unwrap_or(t0) - t0;
    let wall = t0.elapsed();
    let at_convergence = c.pid.and_then(proc_sample);
    if !ok {
        sampler.abort();
        bail!("peer: not every member {kind} seen within {}s ({})", c.timeout, counts(&seen, &a.clusters));
    }
    if a.settle > 0 {
        tokio::time::sleep(Duration::from_secs(a.settle)).await;
    }
    let settled = c.pid.and_then(proc_sample);
    sampler.abort();
    let total = a.count * a.clusters.len();
    eprintln!(
        "peer: {} Federated{kind} on {} placed on {} (concurrency {}): host creates {:.2}s, every member {kind} seen {:.2}s",
        a.count,
        a.host,
        a.clusters.join(","),
        a.concurrency,
        (creates_done - t0).as_secs_f64(),
        converged.as_secs_f64(),
    );
    Ok(json!({
        "benchmark": "peer",
        "kind": format!("Federated{kind}"), "host": a.host, "clusters": a.clusters,
        "federated_objects": a.count, "member_objects": total, "concurrency": a.concurrency,
        "creates_done_s": secs(creates_done - t0), "converged_s": secs(converged),
        "objects_per_s": round(total as f64 / converged.as_secs_f64(), 1),
        "per_cluster_converged_s": per_cluster_last(&seen, &a.clusters, t0),
        "create_retries": retries.load(std::sync::atomic::Ordering::Relaxed),
        "controller": proc_report(before, at_convergence, wall, max_rss.load(std::sync::atomic::Ordering::Relaxed)),
        "controller_rss_mib_after_settle": settled.map(|s| mib(s.rss_kib)), "settle_s": a.settle,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_federated_deployment_is_kubefed_yaml() {
        let o = federated(
            "Deployment",
            "d00001",
            "bench",
            PeerKind::Deployment.template("d00001", "bench"),
            &["earth".into(), "vulcan".into()],
        )
        .unwrap();
        let v = serde_json::to_value(&o).unwrap();
        assert_eq!(v["apiVersion"], "types.kubefed.io/v1beta1");
        assert_eq!(v["kind"], "FederatedDeployment");
        assert_eq!(v["spec"]["placement"]["clusters"], json!([{ "name": "earth" }, { "name": "vulcan" }]));
        let t = &v["spec"]["template"];
        assert!(t.get("apiVersion").is_none() && t.get("kind").is_none());
        assert!(t["metadata"].get("name").is_none() && t["metadata"].get("namespace").is_none());
        assert_eq!(t["spec"]["replicas"], 0);
        assert_eq!(t["metadata"]["labels"]["app"], "bench");
    }

    #[test]
    fn a_configmap_template_carries_no_placement_annotation() {
        let t = PeerKind::ConfigMap.template("m00000", "bench");
        assert_eq!(t["metadata"], json!({}));
        assert!(t["data"]["app.properties"].as_str().unwrap().contains("name=m00000"));
        assert_eq!(federated_resource("ConfigMap").plural, "federatedconfigmaps");
    }
}
