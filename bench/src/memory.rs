//! `memory`: controller memory with N federated ConfigMaps.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use serde_json::{Value, json};

use crate::MemoryArgs;
use crate::create::{client, create_all, ensure_namespace, names, secs};
use crate::objects::configmap;
use crate::procfs::{mib, proc_age_s, proc_sample, round, rss_sampler};
use crate::throughput::counts;
use crate::watches::{Seen, start_watch, wait_all};

/// `memory`: fed-webhook memory before, at and after convergence of N ConfigMaps.
pub async fn memory(a: MemoryArgs) -> Result<Value> {
    let c = &a.common;
    let pid = c.pid.context("memory needs --pid of fed-webhook")?;
    let seen = Arc::new(Seen::default());
    let host = client(&c.kubeconfig, &a.host).await?;
    ensure_namespace(&host, &c.namespace).await?;
    let placed: Vec<String> = a.placement.split(',').map(|s| s.trim().to_string()).collect();
    for cl in &placed {
        let client = if *cl == a.host { host.clone() } else { client(&c.kubeconfig, cl).await? };
        start_watch::<ConfigMap>(client, cl, &c.namespace, "m", seen.clone()).await?;
    }
    let objs: Vec<ConfigMap> = names("m", a.count)
        .iter()
        .map(|n| serde_json::from_value(configmap(n, &c.namespace, &a.placement)))
        .collect::<Result<_, _>>()?;
    let retries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (max_rss, sampler) = rss_sampler(Some(pid));
    let before = proc_sample(pid).context("fed-webhook process not found")?;
    let age = proc_age_s(pid);
    let t0 = Instant::now();
    let api: Api<ConfigMap> = Api::namespaced(host.clone(), &c.namespace);
    let creates_done = create_all(api, objs, a.concurrency, retries.clone()).await?;
    let ok = wait_all(&seen, &placed, a.count, t0 + Duration::from_secs(c.timeout)).await;
    let converged = t0.elapsed();
    if !ok {
        sampler.abort();
        bail!("memory: not every copy seen within {}s ({})", c.timeout, counts(&seen, &placed));
    }
    let at_convergence = proc_sample(pid).context("fed-webhook exited")?;
    tokio::time::sleep(Duration::from_secs(a.settle)).await;
    let after = proc_sample(pid).context("fed-webhook exited")?;
    sampler.abort();
    let max = max_rss.load(std::sync::atomic::Ordering::Relaxed).max(after.rss_kib);
    eprintln!(
        "memory: {} annotated ConfigMaps placed on {} converged in {:.1}s; fed-webhook VmRSS {:.1} MiB before, \
         {:.1} MiB at convergence, {:.1} MiB after {}s, max sampled {:.1} MiB, VmHWM {:.1} MiB",
        a.count,
        a.placement,
        converged.as_secs_f64(),
        mib(before.rss_kib),
        mib(at_convergence.rss_kib),
        mib(after.rss_kib),
        a.settle,
        mib(max),
        mib(after.hwm_kib)
    );
    Ok(json!({
        "benchmark": "memory",
        "kind": "ConfigMap", "objects": a.count, "placement": a.placement, "concurrency": a.concurrency,
        "creates_done_s": secs(creates_done - t0), "converged_s": secs(converged),
        "process_age_s_at_start": age,
        "rss_mib_before": mib(before.rss_kib), "rss_mib_growth": mib(after.rss_kib.saturating_sub(before.rss_kib)),
        "rss_mib_at_convergence": mib(at_convergence.rss_kib),
        "rss_mib_after_settle": mib(after.rss_kib), "settle_s": a.settle,
        "rss_mib_max_sampled": mib(max), "hwm_mib": mib(after.hwm_kib),
        "cpu_seconds": round((after.cpu_ticks - before.cpu_ticks) as f64 / 100.0, 2),
        "create_retries": retries.load(std::sync::atomic::Ordering::Relaxed),
    }))
}
