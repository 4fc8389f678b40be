//! Clients, namespaces and object creation with retries.

use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::procfs::round;

/// A client for `context` of `kubeconfig` (60 s read timeout).
pub async fn client(kubeconfig: &PathBuf, context: &str) -> Result<Client> {
    let kc = Kubeconfig::read_from(kubeconfig).with_context(|| format!("reading {}", kubeconfig.display()))?;
    let options = KubeConfigOptions { context: Some(context.to_string()), ..Default::default() };
    let mut config = kube::Config::from_custom_kubeconfig(kc, &options).await?;
    config.read_timeout = Some(Duration::from_secs(60));
    Ok(Client::try_from(config)?)
}

/// Creates the namespace `name` (labelled as a bench run) unless it exists.
pub async fn ensure_namespace(client: &Client, name: &str) -> Result<()> {
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
pub async fn create<K>(api: &Api<K>, obj: &K, retries: &std::sync::atomic::AtomicUsize) -> Result<()>
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
pub async fn create_all<K>(
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

/// `n` object names `<prefix>00000`, `<prefix>00001`, ….
pub fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:05}")).collect()
}

/// Seconds with millisecond precision.
pub fn secs(d: Duration) -> f64 {
    round(d.as_secs_f64(), 3)
}
