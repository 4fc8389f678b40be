//! `latency`: source-to-member latency at a steady creation rate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;
use serde_json::{Value, json};

use crate::LatencyArgs;
use crate::create::{client, create, ensure_namespace, names};
use crate::objects::{PLACEMENT, deployment};
use crate::procfs::{proc_report, proc_sample, round, rss_sampler};
use crate::watches::{Seen, start_watch, wait_all};

/// min, p50, p90, p99, max and mean of `v` (milliseconds).
pub fn percentiles(mut v: Vec<f64>) -> Value {
    if v.is_empty() {
        return Value::Null;
    }
    v.sort_by(f64::total_cmp);
    let p = |q: f64| {
        let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
        round(v[rank - 1], 1)
    };
    json!({
        "n": v.len(), "min_ms": round(v[0], 1), "p50_ms": p(0.50), "p90_ms": p(0.90), "p99_ms": p(0.99),
        "max_ms": round(v[v.len() - 1], 1),
        "mean_ms": round(v.iter().sum::<f64>() / v.len() as f64, 1),
    })
}

/// `latency`: source created → copy seen on each member, at a steady rate.
pub async fn latency(a: LatencyArgs) -> Result<Value> {
    let c = &a.common;
    let seen = Arc::new(Seen::default());
    let host = client(&c.kubeconfig, &a.host).await?;
    ensure_namespace(&host, &c.namespace).await?;
    let measure: Vec<String> = if a.measure.is_empty() {
        a.placement.iter().filter(|p| **p != a.host).cloned().collect()
    } else {
        a.measure.clone()
    };
    if measure.is_empty() {
        bail!("nothing to measure: the placement names only the host");
    }
    for cl in &measure {
        let client = client(&c.kubeconfig, cl).await?;
        start_watch::<Deployment>(client, cl, &c.namespace, "l", seen.clone()).await?;
    }
    let placement = a.placement.join(",");
    let api: Api<Deployment> = Api::namespaced(host.clone(), &c.namespace);
    let retries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    warm_up(&api, &seen, &measure, &placement, &c.namespace, &retries).await?;

    let total = (a.rate as u64 * a.duration) as usize;
    let objs: Vec<(String, Deployment)> = names("l", total)
        .into_iter()
        .map(|n| {
            let d = serde_json::from_value(deployment(&n, &c.namespace, Some(json!({ PLACEMENT: placement }))));
            d.map(|d| (n, d))
        })
        .collect::<Result<_, _>>()?;
    let (max_rss, sampler) = rss_sampler(c.pid);
    let before = c.pid.and_then(proc_sample);
    let t0 = Instant::now();
    let created = create_at_rate(&api, objs, a.rate, &retries).await?;
    let issue_s = created.issue_s;
    let ok = wait_all(&seen, &measure, total + 1, Instant::now() + Duration::from_secs(c.timeout)).await;
    let wall = t0.elapsed();
    let after = c.pid.and_then(proc_sample);
    sampler.abort();
    let Latencies { from_created, from_sent, per_cluster, missing } = latencies(&seen, &measure, &created.times);
    let summary = percentiles(from_created.clone());
    eprintln!(
        "latency: {total} annotated Deployments at {}/s for {}s (issued in {issue_s:.1}s) placed on {placement}; \
         source created → copy seen on {}: {}{}",
        a.rate,
        a.duration,
        measure.join(","),
        summary,
        if ok { String::new() } else { format!("; {missing} copies never seen") }
    );
    Ok(json!({
        "benchmark": "latency",
        "host": a.host, "placement": a.placement, "measured_on": measure,
        "rate_per_s": a.rate, "duration_s": a.duration, "objects": total, "issue_s": round(issue_s, 2),
        "source_created_to_member_seen": summary,
        "create_sent_to_member_seen": percentiles(from_sent),
        "per_cluster": per_cluster,
        "missing_copies": missing,
        "create_retries": retries.load(std::sync::atomic::Ordering::Relaxed),
        "fed_webhook": proc_report(before, after, wall, max_rss.load(std::sync::atomic::Ordering::Relaxed)),
    }))
}

/// One object through the whole path (namespace created on the members, connections open),
/// not timed.
async fn warm_up(
    api: &Api<Deployment>,
    seen: &Seen,
    measure: &[String],
    placement: &str,
    namespace: &str,
    retries: &std::sync::atomic::AtomicUsize,
) -> Result<()> {
    let warm: Deployment =
        serde_json::from_value(deployment("lwarm", namespace, Some(json!({ PLACEMENT: placement }))))?;
    create(api, &warm, retries).await?;
    let warm_deadline = Instant::now() + Duration::from_secs(60);
    while measure.iter().any(|m| seen.get(m, "lwarm").is_none()) {
        if Instant::now() > warm_deadline {
            bail!("warm-up object did not reach {} within 60s", measure.join(","));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// When each create was sent and answered, and how long issuing them all took.
struct Created {
    times: HashMap<String, (Instant, Instant)>,
    issue_s: f64,
}

/// Creates `objs` at `rate` per second (each in its own task), waiting for every answer.
async fn create_at_rate(
    api: &Api<Deployment>,
    objs: Vec<(String, Deployment)>,
    rate: u32,
    retries: &Arc<std::sync::atomic::AtomicUsize>,
) -> Result<Created> {
    let created: Arc<Mutex<HashMap<String, (Instant, Instant)>>> = Arc::default();
    let t0 = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = tokio::task::JoinSet::new();
    for (name, obj) in objs {
        tick.tick().await;
        let api = api.clone();
        let created = created.clone();
        let retries = retries.clone();
        tasks.spawn(async move {
            let sent = Instant::now();
            create(&api, &obj, &retries).await?;
            created.lock().unwrap().insert(name, (sent, Instant::now()));
            anyhow::Ok(())
        });
    }
    let issue_s = t0.elapsed().as_secs_f64();
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    let times = created.lock().unwrap().clone();
    Ok(Created { times, issue_s })
}

/// Latencies in milliseconds, overall and per measured cluster, and the copies never seen.
struct Latencies {
    from_created: Vec<f64>,
    from_sent: Vec<f64>,
    per_cluster: serde_json::Map<String, Value>,
    missing: usize,
}

/// Per created object, when its copy was seen on each measured cluster.
fn latencies(seen: &Seen, measure: &[String], created: &HashMap<String, (Instant, Instant)>) -> Latencies {
    let mut out =
        Latencies { from_created: Vec::new(), from_sent: Vec::new(), per_cluster: serde_json::Map::new(), missing: 0 };
    for m in measure {
        let mut pc = Vec::new();
        for (name, (sent, returned)) in created {
            match seen.get(m, name) {
                Some(t) => {
                    // The copy can be seen a hair before the create response arrives: count 0.
                    let d = t.saturating_duration_since(*returned).as_secs_f64() * 1e3;
                    out.from_created.push(d);
                    pc.push(d);
                    out.from_sent.push(t.saturating_duration_since(*sent).as_secs_f64() * 1e3);
                }
                None => out.missing += 1,
            }
        }
        out.per_cluster.insert(m.clone(), percentiles(pc));
    }
    out
}
