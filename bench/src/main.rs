//! fed-bench: the measurement programs behind `make bench-webhook` and `make bench-propagation`
//! (hack/bench-*.sh drive them; BENCHMARKS.md records what they measured).
//!
//! - `review`: prints a realistic admission.k8s.io/v1 AdmissionReview (a CREATE of an annotated
//!   Deployment as the apiserver sends it after `kubectl apply`) for the webhook load generator.
//! - `floor`: a plain client creates N Deployments on each cluster directly (concurrency C per
//!   cluster), timed until a watch on every cluster has seen all of them.
//! - `federated`: the same client creates N annotated Deployments on the host (concurrency C),
//!   timed until a watch on every placed cluster has seen all of them.
//! - `latency`: annotated Deployments created on the host at a steady rate; per object, the time
//!   from the source's creation to the first watch event of its copy on each member.
//! - `memory`: N annotated ConfigMaps placed on one member; the controller process's VmRSS/VmHWM
//!   (from /proc) before, during and after convergence.
//!
//! Every subcommand prints one JSON object on stdout and a human summary on stderr. Nothing here
//! deletes anything: the scripts delete the `bench-*` namespaces.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, PartialObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::NamespaceResourceScope;
use kube::runtime::watcher::{self, Event};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::Notify;

#[derive(Debug, Parser)]
#[command(name = "fed-bench", about = "kubectl-fed benchmarks (see BENCHMARKS.md)")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Print an AdmissionReview body (CREATE of an annotated Deployment).
    Review(ReviewArgs),
    /// Plain client: N Deployments created directly on each cluster.
    Floor(FloorArgs),
    /// N annotated Deployments created on the host, timed until every placed copy exists.
    Federated(FederatedArgs),
    /// Source-to-member latency at a steady creation rate.
    Latency(LatencyArgs),
    /// Controller memory with N federated ConfigMaps.
    Memory(MemoryArgs),
}

#[derive(Debug, Args)]
struct ReviewArgs {
    /// `mutate`: the object as it reaches the mutating webhook; `validate`: after mutation
    /// (label added, placement normalised).
    #[arg(long, default_value = "validate")]
    stage: String,
    /// Placement annotation.
    #[arg(long, default_value = "earth,vulcan")]
    placement: String,
}

#[derive(Debug, Args)]
struct Common {
    /// Kubeconfig with one context per cluster.
    #[arg(long, default_value = ".local/kubeconfig")]
    kubeconfig: PathBuf,
    /// Namespace to create the objects in (must not exist yet; the scripts delete it).
    #[arg(long)]
    namespace: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// PID of fed-webhook: its CPU time and memory over the run are reported.
    #[arg(long)]
    pid: Option<u32>,
}

#[derive(Debug, Args)]
struct FloorArgs {
    #[command(flatten)]
    common: Common,
    /// Clusters (kubeconfig contexts) to create on.
    #[arg(long, value_delimiter = ',', default_value = "earth,vulcan,kronos")]
    clusters: Vec<String>,
    /// Deployments per cluster.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// Requests in flight per cluster.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
}

#[derive(Debug, Args)]
struct FederatedArgs {
    #[command(flatten)]
    common: Common,
    /// Host cluster context.
    #[arg(long, default_value = "earth")]
    host: String,
    /// Placement annotation (clusters watched for convergence; the host's copy is the source).
    #[arg(long, value_delimiter = ',', default_value = "earth,vulcan,kronos")]
    placement: Vec<String>,
    /// Annotated Deployments created on the host.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// Requests in flight on the host.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
}

#[derive(Debug, Args)]
struct LatencyArgs {
    #[command(flatten)]
    common: Common,
    #[arg(long, default_value = "earth")]
    host: String,
    #[arg(long, value_delimiter = ',', default_value = "earth,vulcan,kronos")]
    placement: Vec<String>,
    /// Member clusters whose copies are timed (default: the placement without the host).
    #[arg(long, value_delimiter = ',')]
    measure: Vec<String>,
    /// Objects created per second.
    #[arg(long, default_value_t = 100)]
    rate: u32,
    /// Seconds of steady creation.
    #[arg(long, default_value_t = 30)]
    duration: u64,
}

#[derive(Debug, Args)]
struct MemoryArgs {
    #[command(flatten)]
    common: Common,
    #[arg(long, default_value = "earth")]
    host: String,
    /// Placement of the ConfigMaps (one member keeps the member side light).
    #[arg(long, default_value = "vulcan")]
    placement: String,
    /// Annotated ConfigMaps created on the host.
    #[arg(long, default_value_t = 10_000)]
    count: usize,
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds to let the controller settle after convergence before the final reading.
    #[arg(long, default_value_t = 15)]
    settle: u64,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let out = rt.block_on(async {
        match cli.command {
            Cmd::Review(a) => Ok(review(&a)),
            Cmd::Floor(a) => floor(a).await,
            Cmd::Federated(a) => federated(a).await,
            Cmd::Latency(a) => latency(a).await,
            Cmd::Memory(a) => memory(a).await,
        }
    })?;
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

// ------------------------------------------------------------------ objects

const PLACEMENT: &str = "kubefed.io/placement";
const OVERRIDES: &str = "kubefed.io/overrides";
const FEDERATED_LABEL: &str = "kubefed.io/federated";

/// The Deployment every benchmark creates (replicas 0: the test bed has no scheduler or
/// kubelet, so Pods would only sit Pending; kube-controller-manager still makes the ReplicaSet).
fn deployment(name: &str, namespace: &str, annotations: Option<Value>) -> Value {
    let mut d = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": name, "namespace": namespace, "labels": { "app": "bench", "bench.kubefed.io/name": name } },
        "spec": {
            "replicas": 0,
            "selector": { "matchLabels": { "app": "bench", "bench.kubefed.io/name": name } },
            "template": {
                "metadata": { "labels": { "app": "bench", "bench.kubefed.io/name": name } },
                "spec": { "containers": [{
                    "name": "web",
                    "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
                    "args": ["netexec", "--http-port=8080"],
                    "ports": [{ "containerPort": 8080, "name": "http" }],
                    "resources": { "requests": { "cpu": "10m", "memory": "16Mi" } }
                }] }
            }
        }
    });
    if let Some(a) = annotations {
        d["metadata"]["annotations"] = a;
    }
    d
}

fn configmap(name: &str, namespace: &str, placement: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": { "name": name, "namespace": namespace, "annotations": { PLACEMENT: placement } },
        "data": { "app.properties": format!("name={name}\nlog.level=info\nfeature.x=true\n") }
    })
}

fn review(a: &ReviewArgs) -> Value {
    let mutated = a.stage == "validate";
    let ns = "shop";
    let name = "checkout";
    let placement = if mutated {
        let mut p: Vec<&str> = a.placement.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        p.sort_unstable();
        p.dedup();
        p.join(",")
    } else {
        a.placement.clone()
    };
    let clusters: Vec<&str> = placement.split(',').map(str::trim).collect();
    let last = clusters.last().copied().unwrap_or("vulcan");
    let overrides = json!({ last: [
        { "op": "replace", "path": "/spec/replicas", "value": 3 },
        { "op": "add", "path": "/spec/template/metadata/labels/tier", "value": "edge" }
    ] })
    .to_string();
    let user_annotations = json!({ PLACEMENT: a.placement, OVERRIDES: overrides });
    // What kubectl apply sent: the manifest, which also becomes last-applied-configuration.
    let mut applied = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": name, "namespace": ns, "labels": { "app": name, "team": "payments" },
                      "annotations": user_annotations },
        "spec": {
            "replicas": 2,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name, "team": "payments" } },
                "spec": { "containers": [{
                    "name": "checkout",
                    "image": "registry.example.com/payments/checkout:1.42.0",
                    "args": ["--listen=:8080", "--upstream=http://cart.shop.svc:8080"],
                    "env": [{ "name": "LOG_LEVEL", "value": "info" }, { "name": "REGION", "value": "eu-west" }],
                    "ports": [{ "containerPort": 8080, "name": "http" }],
                    "readinessProbe": { "httpGet": { "path": "/healthz", "port": "http" }, "periodSeconds": 5 },
                    "resources": { "requests": { "cpu": "100m", "memory": "128Mi" },
                                   "limits": { "memory": "256Mi" } }
                }] }
            }
        }
    });
    let last_applied = applied.to_string();
    let mut annotations = applied["metadata"]["annotations"].clone();
    annotations["kubectl.kubernetes.io/last-applied-configuration"] = Value::String(last_applied + "\n");
    annotations[PLACEMENT] = Value::String(placement);
    let mut labels = applied["metadata"]["labels"].clone();
    if mutated {
        labels[FEDERATED_LABEL] = json!("true");
    }
    // The object as the apiserver has it at admission: defaults applied, uid and managedFields set.
    let meta = json!({
        "name": name, "namespace": ns, "uid": "0b7c3f3e-6a0e-4bd8-9f0e-2f4f1b7c9a10",
        "generation": 1, "creationTimestamp": "2026-11-25T10:00:00Z",
        "labels": labels, "annotations": annotations,
        "managedFields": [{
            "manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "apps/v1",
            "time": "2026-11-25T10:00:00Z", "fieldsType": "FieldsV1",
            "fieldsV1": { "f:metadata": { "f:annotations": { ".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {},
                            "f:kubefed.io/overrides": {}, "f:kubefed.io/placement": {} },
                          "f:labels": { ".": {}, "f:app": {}, "f:team": {} } },
                          "f:spec": { "f:progressDeadlineSeconds": {}, "f:replicas": {}, "f:revisionHistoryLimit": {},
                                      "f:selector": {}, "f:strategy": { "f:rollingUpdate": { ".": {}, "f:maxSurge": {}, "f:maxUnavailable": {} }, "f:type": {} },
                                      "f:template": { "f:metadata": { "f:labels": { ".": {}, "f:app": {}, "f:team": {} } },
                                                      "f:spec": { "f:containers": { "k:{\"name\":\"checkout\"}": { ".": {}, "f:args": {}, "f:env": {}, "f:image": {}, "f:name": {} } } } } } }
        }]
    });
    applied["metadata"] = meta;
    let spec = &mut applied["spec"];
    spec["progressDeadlineSeconds"] = json!(600);
    spec["revisionHistoryLimit"] = json!(10);
    spec["strategy"] =
        json!({ "type": "RollingUpdate", "rollingUpdate": { "maxSurge": "25%", "maxUnavailable": "25%" } });
    let pod = &mut spec["template"]["spec"];
    pod["restartPolicy"] = json!("Always");
    pod["terminationGracePeriodSeconds"] = json!(30);
    pod["dnsPolicy"] = json!("ClusterFirst");
    pod["securityContext"] = json!({});
    pod["schedulerName"] = json!("default-scheduler");
    let c = &mut pod["containers"][0];
    c["imagePullPolicy"] = json!("IfNotPresent");
    c["terminationMessagePath"] = json!("/dev/termination-log");
    c["terminationMessagePolicy"] = json!("File");
    c["ports"][0]["protocol"] = json!("TCP");
    applied["status"] = json!({});
    let gvk = json!({ "group": "apps", "version": "v1", "kind": "Deployment" });
    let gvr = json!({ "group": "apps", "version": "v1", "resource": "deployments" });
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "5f3c1b0a-8d4e-4c2a-9b71-2a6d0e8f4c33",
            "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
            "name": name, "namespace": ns, "operation": "CREATE",
            "userInfo": { "username": "admin", "groups": ["system:masters", "system:authenticated"] },
            "object": applied, "oldObject": null, "dryRun": false,
            "options": { "kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "kubectl-client-side-apply",
                         "fieldValidation": "Strict" }
        }
    })
}

// ------------------------------------------------------------------ clients, /proc

async fn client(kubeconfig: &PathBuf, context: &str) -> Result<Client> {
    let kc = Kubeconfig::read_from(kubeconfig).with_context(|| format!("reading {}", kubeconfig.display()))?;
    let options = KubeConfigOptions { context: Some(context.to_string()), ..Default::default() };
    let mut config = kube::Config::from_custom_kubeconfig(kc, &options).await?;
    config.read_timeout = Some(Duration::from_secs(60));
    Ok(Client::try_from(config)?)
}

#[derive(Clone, Copy, Debug, Default)]
struct ProcSample {
    rss_kib: u64,
    hwm_kib: u64,
    cpu_ticks: u64,
}

fn proc_sample(pid: u32) -> Option<ProcSample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command: state is field 3, utime 14, stime 15.
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ProcSample { rss_kib: field("VmRSS:"), hwm_kib: field("VmHWM:"), cpu_ticks: ticks })
}

/// CPU seconds, mean cores and memory of `pid` between two samples.
fn proc_report(before: Option<ProcSample>, after: Option<ProcSample>, wall: Duration, max_rss_kib: u64) -> Value {
    match (before, after) {
        (Some(b), Some(a)) => {
            let cpu = (a.cpu_ticks.saturating_sub(b.cpu_ticks)) as f64 / 100.0; // CLK_TCK = 100 on Linux
            json!({
                "cpu_seconds": round(cpu, 2),
                "cpu_cores_mean": round(cpu / wall.as_secs_f64().max(1e-9), 3),
                "rss_mib_before": mib(b.rss_kib), "rss_mib_after": mib(a.rss_kib),
                "rss_mib_max_sampled": mib(max_rss_kib.max(a.rss_kib)), "hwm_mib": mib(a.hwm_kib),
            })
        }
        _ => Value::Null,
    }
}

/// Samples `pid` every 200 ms; the returned handle yields the largest VmRSS seen.
fn rss_sampler(pid: Option<u32>) -> (Arc<std::sync::atomic::AtomicU64>, tokio::task::JoinHandle<()>) {
    let max = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let m = max.clone();
    let h = tokio::spawn(async move {
        let Some(pid) = pid else { return };
        loop {
            if let Some(s) = proc_sample(pid) {
                m.fetch_max(s.rss_kib, std::sync::atomic::Ordering::Relaxed);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    (max, h)
}

/// Seconds since `pid` started (field 22 of /proc/<pid>/stat, in clock ticks since boot).
fn proc_age_s(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let start_ticks: f64 = after.split_whitespace().nth(19)?.parse().ok()?;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime").ok()?.split_whitespace().next()?.parse().ok()?;
    Some(round(uptime - start_ticks / 100.0, 0))
}

fn mib(kib: u64) -> f64 {
    round(kib as f64 / 1024.0, 1)
}

fn round(x: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (x * p).round() / p
}

// ------------------------------------------------------------------ watches

/// First-seen instants per cluster and object name, filled by metadata watches.
#[derive(Default)]
struct Seen {
    by_cluster: Mutex<HashMap<String, HashMap<String, Instant>>>,
    changed: Notify,
}

impl Seen {
    fn count(&self, cluster: &str) -> usize {
        self.by_cluster.lock().unwrap().get(cluster).map_or(0, HashMap::len)
    }
    fn get(&self, cluster: &str, name: &str) -> Option<Instant> {
        self.by_cluster.lock().unwrap().get(cluster).and_then(|m| m.get(name).copied())
    }
    fn last(&self, cluster: &str) -> Option<Instant> {
        self.by_cluster.lock().unwrap().get(cluster).and_then(|m| m.values().max().copied())
    }
}

/// Watches `K` metadata in `namespace` on `cluster` (names starting with `prefix`), recording
/// the first time each object is seen. Resolves once the initial list is done.
async fn start_watch<K>(
    client: Client,
    cluster: &str,
    namespace: &str,
    prefix: &str,
    seen: Arc<Seen>,
) -> Result<tokio::task::JoinHandle<()>>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static,
{
    // Metadata-only list and watch: presence is all that is measured.
    let api: Api<PartialObjectMeta<K>> = Api::namespaced(client, namespace);
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<()>();
    let cluster = cluster.to_string();
    let prefix = prefix.to_string();
    seen.by_cluster.lock().unwrap().entry(cluster.clone()).or_default();
    let handle = tokio::spawn(async move {
        let mut ready = Some(ready_tx);
        let mut stream = watcher::watcher(api, watcher::Config::default()).boxed();
        loop {
            match stream.try_next().await {
                Ok(Some(Event::Apply(o) | Event::InitApply(o))) => {
                    let now = Instant::now();
                    let Some(name) = o.metadata.name else { continue };
                    if !name.starts_with(&prefix) {
                        continue;
                    }
                    let mut g = seen.by_cluster.lock().unwrap();
                    g.entry(cluster.clone()).or_default().entry(name).or_insert(now);
                    drop(g);
                    seen.changed.notify_waiters();
                }
                Ok(Some(Event::InitDone)) => {
                    if let Some(tx) = ready.take() {
                        let _ = tx.send(());
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    eprintln!("watch on {cluster}: {e} (retrying)");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(30), ready_rx)
        .await
        .context("watch did not finish its initial list in 30s")?
        .ok();
    Ok(handle)
}

/// Waits until every cluster in `want` has seen `count` objects, or `deadline` passes.
async fn wait_all(seen: &Seen, want: &[String], count: usize, deadline: Instant) -> bool {
    loop {
        let notified = seen.changed.notified();
        if want.iter().all(|c| seen.count(c) >= count) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        let _ = tokio::time::timeout(Duration::from_millis(250), notified).await;
    }
}

// ------------------------------------------------------------------ creation

async fn ensure_namespace(client: &Client, name: &str) -> Result<()> {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace =
        serde_json::from_value(json!({ "metadata": { "name": name, "labels": { "bench.kubefed.io/run": "true" } } }))?;
    match api.create(&PostParams::default(), &ns).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Creates one object, retrying transient failures (429, 5xx, transport) a few times.
async fn create<K>(api: &Api<K>, obj: &K, retries: &std::sync::atomic::AtomicUsize) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + serde::Serialize + Debug,
{
    let mut attempt = 0;
    loop {
        match api.create(&PostParams::default(), obj).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => return Ok(()),
            Err(kube::Error::Api(s)) if s.code < 429 || (s.code > 429 && s.code < 500) => {
                bail!("create {:?}: {} {}", obj.meta().name, s.code, s.message)
            }
            Err(e) if attempt >= 8 => bail!("create {:?}: {e}", obj.meta().name),
            Err(_) => {
                attempt += 1;
                retries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50 << attempt.min(5))).await;
            }
        }
    }
}

/// Creates `objs` on `api` with `concurrency` requests in flight; returns when all returned.
async fn create_all<K>(
    api: Api<K>,
    objs: Vec<K>,
    concurrency: usize,
    retries: Arc<std::sync::atomic::AtomicUsize>,
) -> Result<Instant>
where
    K: Resource + Clone + DeserializeOwned + serde::Serialize + Debug + Send + Sync + 'static,
{
    futures::stream::iter(objs)
        .map(|o| {
            let api = api.clone();
            let retries = retries.clone();
            async move { create(&api, &o, &retries).await }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect::<Vec<()>>()
        .await?;
    Ok(Instant::now())
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:05}")).collect()
}

fn secs(d: Duration) -> f64 {
    round(d.as_secs_f64(), 3)
}

// ------------------------------------------------------------------ floor / federated

async fn floor(a: FloorArgs) -> Result<Value> {
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

fn counts(seen: &Seen, clusters: &[String]) -> String {
    clusters.iter().map(|c| format!("{c}={}", seen.count(c))).collect::<Vec<_>>().join(" ")
}

fn per_cluster_last(seen: &Seen, clusters: &[String], t0: Instant) -> Value {
    let m: serde_json::Map<String, Value> =
        clusters.iter().map(|c| (c.clone(), json!(seen.last(c).map(|t| secs(t - t0))))).collect();
    Value::Object(m)
}

async fn federated(a: FederatedArgs) -> Result<Value> {
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

// ------------------------------------------------------------------ latency

fn percentiles(mut v: Vec<f64>) -> Value {
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

async fn latency(a: LatencyArgs) -> Result<Value> {
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
    // Warm-up: one object through the whole path (namespace created on the members, connections
    // open), not timed.
    let placement = a.placement.join(",");
    let api: Api<Deployment> = Api::namespaced(host.clone(), &c.namespace);
    let warm: Deployment =
        serde_json::from_value(deployment("lwarm", &c.namespace, Some(json!({ PLACEMENT: placement }))))?;
    let retries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    create(&api, &warm, &retries).await?;
    let warm_deadline = Instant::now() + Duration::from_secs(60);
    while measure.iter().any(|m| seen.get(m, "lwarm").is_none()) {
        if Instant::now() > warm_deadline {
            bail!("warm-up object did not reach {} within 60s", measure.join(","));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let total = (a.rate as u64 * a.duration) as usize;
    let objs: Vec<(String, Deployment)> = names("l", total)
        .into_iter()
        .map(|n| {
            let d = serde_json::from_value(deployment(&n, &c.namespace, Some(json!({ PLACEMENT: placement }))));
            d.map(|d| (n, d))
        })
        .collect::<Result<_, _>>()?;
    let created: Arc<Mutex<HashMap<String, (Instant, Instant)>>> = Arc::default();
    let (max_rss, sampler) = rss_sampler(c.pid);
    let before = c.pid.and_then(proc_sample);
    let t0 = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / a.rate as f64));
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
    let ok = wait_all(&seen, &measure, total + 1, Instant::now() + Duration::from_secs(c.timeout)).await;
    let wall = t0.elapsed();
    let after = c.pid.and_then(proc_sample);
    sampler.abort();
    let created = created.lock().unwrap().clone();
    let mut from_created = Vec::new();
    let mut from_sent = Vec::new();
    let mut per_cluster = serde_json::Map::new();
    let mut missing = 0usize;
    for m in &measure {
        let mut pc = Vec::new();
        for (name, (sent, returned)) in &created {
            match seen.get(m, name) {
                Some(t) => {
                    // The copy can be seen a hair before the create response arrives: count 0.
                    let d = t.saturating_duration_since(*returned).as_secs_f64() * 1e3;
                    from_created.push(d);
                    pc.push(d);
                    from_sent.push(t.saturating_duration_since(*sent).as_secs_f64() * 1e3);
                }
                None => missing += 1,
            }
        }
        per_cluster.insert(m.clone(), percentiles(pc));
    }
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

// ------------------------------------------------------------------ memory

async fn memory(a: MemoryArgs) -> Result<Value> {
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
