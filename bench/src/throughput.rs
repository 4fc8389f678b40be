//! `floor` and `federated`: N objects created, timed until every cluster has seen them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;
use serde_json::{Value, json};

use crate::create::{client, create_all, ensure_namespace, names, secs};
use crate::objects::{PLACEMENT, deployment};
use crate::procfs::{proc_report, proc_sample, round, rss_sampler};
use crate::watches::{Seen, start_watch, wait_all};
use crate::{FederatedArgs, FloorArgs};

/// `floor`: plain Deployments created on every cluster directly.
pub async fn floor(a: FloorArgs) -> Result<Value> {
    let c = &a.common;
    let seen = Arc::new(Seen::default());
    let mut clients = BTreeMap::new();
    for cl in &a.clusters {
        let client = client(&c.kubeconfig, cl).await?;
        ensure_namespace(&client, &c.namespace).await?;
        start_watch::<Deployment>(client.clone(), cl, &c.namespace, "d", seen.clone()).await?;
        clients.insert(cl.clone(), client);
    }
    let retries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (max_rss, sampler) = rss_sampler(c.pid);
    let before = c.pid.and_then(proc_sample);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for (cl, client) in &clients {
        let objs: Vec<Deployment> = names("d", a.count)
            .iter()
            .map(|n| serde_json::from_value(deployment(n, &c.namespace, None)))
            .collect::<Result<_, _>>()?;
        let api: Api<Deployment> = Api::namespaced(client.clone(), &c.namespace);
        let cl = cl.clone();
        let retries = retries.clone();
        tasks.push(async move { create_all(api, objs, a.concurrency, retries).await.map(|t| (cl, t)) });
    }
    let done = futures::future::try_join_all(tasks).await?;
    let creates_done = done.iter().map(|(_, t)| *t).max().unwrap_or(t0);
    let ok = wait_all(&seen, &a.clusters, a.count, t0 + Duration::from_secs(c.timeout)).await;
    let wall = t0.elapsed();
    let after = c.pid.and_then(proc_sample);
    sampler.abort();
    if !ok {
        bail!("floor: not every object seen within {}s ({})", c.timeout, counts(&seen, &a.clusters));
    }
    let converged = a.clusters.iter().filter_map(|cl| seen.last(cl)).max().unwrap_or(t0) - t0;
    let total = a.count * a.clusters.len();
    eprintln!(
        "floor: {total} Deployments on {} (concurrency {} per cluster): all created {:.2}s, all seen {:.2}s ({:.0} objects/s)",
        a.clusters.join(","),
        a.concurrency,
        (creates_done - t0).as_secs_f64(),
        converged.as_secs_f64(),
        total as f64 / converged.as_secs_f64()
    );
    Ok(json!({
        "benchmark": "floor",
        "clusters": a.clusters, "per_cluster": a.count, "objects": total,
        "concurrency_per_cluster": a.concurrency,
        "creates_done_s": secs(creates_done - t0), "converged_s": secs(converged),
        "objects_per_s": round(total as f64 / converged.as_secs_f64(), 1),
        "per_cluster_converged_s": per_cluster_last(&seen, &a.clusters, t0),
        "create_retries": retries.load(std::sync::atomic::Ordering::Relaxed),
        "fed_webhook": proc_report(before, after, wall, max_rss.load(std::sync::atomic::Ordering::Relaxed)),
    }))
}

/// `cluster=count …` of what each cluster has seen, for messages.
pub fn counts(seen: &Seen, clusters: &[String]) -> String {
    clusters.iter().map(|c| format!("{c}={}", seen.count(c))).collect::<Vec<_>>().join(" ")
}

/// Per cluster, seconds from `t0` to the last object seen.
pub fn per_cluster_last(seen: &Seen, clusters: &[String], t0: Instant) -> Value {
    let m: serde_json::Map<String, Value> =
        clusters.iter().map(|c| (c.clone(), json!(seen.last(c).map(|t| secs(t - t0))))).collect();
    Value::Object(m)
}

/// `federated`: annotated Deployments on the host, timed until every placed copy exists.
pub async fn federated(a: FederatedArgs) -> Result<Value> {
    let c = &a.common;
    let seen = Arc::new(Seen::default());
    let host = client(&c.kubeconfig, &a.host).await?;
    ensure_namespace(&host, &c.namespace).await?;
    for cl in &a.placement {
        let client = if *cl == a.host { host.clone() } else { client(&c.kubeconfig, cl).await? };
        start_watch::<Deployment>(client, cl, &c.namespace, "d", seen.clone()).await?;
    }
    let placement = a.placement.join(",");
    let objs: Vec<Deployment> = names("d", a.count)
        .iter()
        .map(|n| serde_json::from_value(deployment(n, &c.namespace, Some(json!({ PLACEMENT: placement })))))
        .collect::<Result<_, _>>()?;
    let retries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (max_rss, sampler) = rss_sampler(c.pid);
    let before = c.pid.and_then(proc_sample);
    let t0 = Instant::now();
    let api: Api<Deployment> = Api::namespaced(host.clone(), &c.namespace);
    let creates_done = create_all(api, objs, a.concurrency, retries.clone()).await?;
    let ok = wait_all(&seen, &a.placement, a.count, t0 + Duration::from_secs(c.timeout)).await;
    let wall = t0.elapsed();
    let after = c.pid.and_then(proc_sample);
    sampler.abort();
    if !ok {
        bail!("federated: not every copy seen within {}s ({})", c.timeout, counts(&seen, &a.placement));
    }
    let converged = a.placement.iter().filter_map(|cl| seen.last(cl)).max().unwrap_or(t0) - t0;
    let total = a.count * a.placement.len();
    eprintln!(
        "federated: {} annotated Deployments on {} placed on {placement} (concurrency {}): host creates {:.2}s, \
         every copy seen {:.2}s ({:.0} objects/s)",
        a.count,
        a.host,
        a.concurrency,
        (creates_done - t0).as_secs_f64(),
        converged.as_secs_f64(),
        total as f64 / converged.as_secs_f64()
    );
    Ok(json!({
        "benchmark": "federated",
        "host": a.host, "placement": a.placement, "sources": a.count, "objects": total,
        "concurrency": a.concurrency,
        "creates_done_s": secs(creates_done - t0), "converged_s": secs(converged),
        "objects_per_s": round(total as f64 / converged.as_secs_f64(), 1),
        "per_cluster_converged_s": per_cluster_last(&seen, &a.placement, t0),
        "create_retries": retries.load(std::sync::atomic::Ordering::Relaxed),
        "fed_webhook": proc_report(before, after, wall, max_rss.load(std::sync::atomic::Ordering::Relaxed)),
    }))
}
