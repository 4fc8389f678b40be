//! Registry of member cluster clients, built from the KubeFedClusters in the federation
//! namespace and their token Secrets, rebuilt whenever either changes.
//!
//! Tokens are only ever held in memory (hashed for change detection); they are never logged.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, RwLock};

use fed_core::api::{Condition, KubeFedCluster};
use fed_core::keys;
use fed_core::placement::JoinedCluster;
use futures::{StreamExt, stream};
use k8s_openapi::api::core::v1::Secret;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::stalls::Stalls;
use crate::ready::Ready;

/// One joined member cluster as the controllers see it.
#[derive(Clone)]
pub struct Member {
    /// KubeFedCluster name.
    pub name: String,
    /// KubeFedCluster labels.
    pub labels: BTreeMap<String, String>,
    /// Labelled `kubefed.io/host=true`.
    pub is_host: bool,
    /// `Offline=True` in the KubeFedCluster status.
    pub offline: bool,
    /// The KubeFedCluster's status conditions as last observed.
    pub conditions: Vec<Condition>,
    /// Client for the member, or why there is none (missing secret, bad CA, …).
    pub client: Result<Client, String>,
    /// Bumped every time the client is rebuilt, so watches on the member restart.
    pub epoch: u64,
    fingerprint: u64,
}

impl Member {
    /// This member as admission/placement sees it.
    pub fn joined(&self) -> JoinedCluster {
        JoinedCluster {
            name: self.name.clone(),
            labels: self.labels.clone(),
            offline: self.offline,
            is_host: self.is_host,
        }
    }
}

/// What changed between two snapshots of the registry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberChanges {
    /// The set of joined clusters or their labels changed: every placement may resolve differently.
    pub membership: bool,
    /// Clusters whose client or offline state changed.
    pub clusters: BTreeSet<String>,
}

/// The member registry. Cheap to read; written by [`run`].
pub struct Members {
    inner: RwLock<BTreeMap<String, Member>>,
    changed: watch::Sender<u64>,
    ready: Ready,
    /// Which members stopped answering (requests to them are skipped meanwhile).
    pub stalls: Stalls,
}

impl Members {
    /// An empty registry.
    pub fn new() -> Arc<Self> {
        Arc::new(Members {
            inner: RwLock::new(BTreeMap::new()),
            changed: watch::Sender::new(0),
            ready: Ready::new(),
            stalls: Stalls::default(),
        })
    }

    /// One member.
    pub fn get(&self, name: &str) -> Option<Member> {
        self.inner.read().expect("members lock").get(name).cloned()
    }

    /// Every member.
    pub fn all(&self) -> Vec<Member> {
        self.inner.read().expect("members lock").values().cloned().collect()
    }

    /// Notified (with a counter) whenever the registry changes.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Resolves once the clusters and secrets have been listed at least once.
    pub async fn wait_ready(&self) {
        self.ready.wait().await;
    }

    /// Snapshot keyed by name, for [`diff`].
    pub fn snapshot(&self) -> BTreeMap<String, Member> {
        self.inner.read().expect("members lock").clone()
    }
}

/// What differs between two registry snapshots.
pub fn diff(before: &BTreeMap<String, Member>, after: &BTreeMap<String, Member>) -> MemberChanges {
    let mut changes = MemberChanges::default();
    for (name, a) in after {
        match before.get(name) {
            None => {
                changes.membership = true;
                changes.clusters.insert(name.clone());
            }
            Some(b) => {
                if a.labels != b.labels || a.is_host != b.is_host {
                    changes.membership = true;
                }
                if a.offline != b.offline || a.epoch != b.epoch {
                    changes.clusters.insert(name.clone());
                }
            }
        }
    }
    for name in before.keys().filter(|n| !after.contains_key(*n)) {
        changes.membership = true;
        changes.clusters.insert(name.clone());
    }
    changes
}

/// Watches KubeFedClusters and Secrets in `namespace` and keeps `members` up to date.
pub async fn run(members: Arc<Members>, host: Client, namespace: String) -> anyhow::Result<()> {
    let (clusters, cluster_writer) = reflector::store::<KubeFedCluster>();
    let (secrets, secret_writer) = reflector::store::<Secret>();
    let cluster_events = reflector::reflector(
        cluster_writer,
        watcher(Api::<KubeFedCluster>::namespaced(host.clone(), &namespace), watcher::Config::default())
            .default_backoff()
            .modify(|c| c.managed_fields_mut().clear()),
    )
    .map(|ev| (Source::Clusters, classify(ev, "KubeFedCluster")));
    let secret_events = reflector::reflector(
        secret_writer,
        watcher(Api::<Secret>::namespaced(host, &namespace), watcher::Config::default())
            .default_backoff()
            .modify(|s| s.managed_fields_mut().clear()),
    )
    .map(|ev| (Source::Secrets, classify(ev, "Secret")));
    let mut events = std::pin::pin!(stream::select(cluster_events, secret_events).ready_chunks(64));

    let (mut clusters_ready, mut secrets_ready) = (false, false);
    while let Some(batch) = events.next().await {
        let mut relevant = false;
        for (source, kind) in batch {
            relevant |= kind != Change::None;
            if kind == Change::Listed {
                match source {
                    Source::Clusters => clusters_ready = true,
                    Source::Secrets => secrets_ready = true,
                }
            }
        }
        if !(relevant && clusters_ready && secrets_ready) {
            continue;
        }
        if rebuild(&members, &clusters, &secrets, &namespace).await {
            members.changed.send_modify(|v| *v += 1);
        }
        members.ready.set();
    }
    anyhow::bail!("KubeFedCluster/Secret watch ended")
}

#[derive(Clone, Copy)]
enum Source {
    Clusters,
    Secrets,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Change {
    None,
    Changed,
    Listed,
}

/// Whether a watch event requires recomputing the registry (`Listed`: a (re-)list completed).
fn classify<K>(ev: Result<watcher::Event<K>, watcher::Error>, what: &str) -> Change {
    match ev {
        Ok(watcher::Event::InitDone) => Change::Listed,
        Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_)) => Change::Changed,
        Ok(_) => Change::None,
        Err(e) => {
            warn!(error = %e, "watching {what}s in the federation namespace");
            Change::None
        }
    }
}

/// Recomputes the registry from the stores; true when anything changed.
async fn rebuild(members: &Members, clusters: &Store<KubeFedCluster>, secrets: &Store<Secret>, ns: &str) -> bool {
    let before = members.snapshot();
    let mut after = BTreeMap::new();
    for cluster in clusters.state() {
        let name = cluster.name_any();
        let token = secrets
            .get(&ObjectRef::new(&cluster.spec.secret_ref.name).within(ns))
            .and_then(|s| s.data.as_ref().and_then(|d| d.get("token")).map(|t| t.0.clone()));
        let fp = fingerprint(&cluster, token.as_deref());
        let labels = cluster.labels().clone();
        let is_host = labels.get(keys::HOST_LABEL).is_some_and(|v| v == "true");
        let conditions = cluster.status.as_ref().map(|s| s.conditions.clone()).unwrap_or_default();
        let (client, epoch) = match before.get(&name) {
            Some(m) if m.fingerprint == fp => (m.client.clone(), m.epoch),
            prev => {
                let client = build_client(&cluster, token.as_deref()).await;
                match &client {
                    Ok(_) => info!(cluster = %name, endpoint = %cluster.spec.api_endpoint, "member client built"),
                    Err(e) => warn!(cluster = %name, error = %e, "no client for member"),
                }
                (client, prev.map_or(1, |m| m.epoch + 1))
            }
        };
        after.insert(
            name.clone(),
            Member { offline: cluster.is_offline(), name, labels, is_host, conditions, client, epoch, fingerprint: fp },
        );
    }
    for gone in before.keys().filter(|n| !after.contains_key(*n)) {
        info!(cluster = %gone, "member removed");
    }
    let changed = {
        let d = diff(&before, &after);
        d.membership
            || !d.clusters.is_empty()
            || before.iter().any(|(n, b)| after.get(n).is_some_and(|a| a.conditions != b.conditions))
    };
    *members.inner.write().expect("members lock") = after;
    if changed {
        debug!("member registry changed");
    }
    changed
}

/// Hash of everything the client is built from.
fn fingerprint(cluster: &KubeFedCluster, token: Option<&[u8]>) -> u64 {
    let mut h = DefaultHasher::new();
    cluster.spec.api_endpoint.hash(&mut h);
    cluster.spec.ca_bundle.hash(&mut h);
    cluster.spec.disabled_tls_validations.hash(&mut h);
    token.hash(&mut h);
    h.finish()
}

/// True when `disabledTLSValidations` contains `*`.
pub fn skip_tls_verify(disabled: &[String]) -> bool {
    disabled.iter().any(|v| v == "*")
}

/// The kubeconfig (as JSON) for one member: endpoint, CA (`caBundle` is already base64 PEM, as
/// kubeconfig's `certificate-authority-data` expects) and bearer token.
fn member_kubeconfig(cluster: &KubeFedCluster, token: &str) -> serde_json::Value {
    let name = cluster.name_any();
    let mut c = serde_json::json!({ "server": cluster.spec.api_endpoint });
    if skip_tls_verify(&cluster.spec.disabled_tls_validations) {
        c["insecure-skip-tls-verify"] = true.into();
    } else if let Some(ca) = cluster.spec.ca_bundle.as_deref().filter(|s| !s.trim().is_empty()) {
        c["certificate-authority-data"] = ca.trim().into();
    }
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{ "name": name, "cluster": c }],
        "users": [{ "name": name, "user": { "token": token } }],
        "contexts": [{ "name": name, "context": { "cluster": name, "user": name } }],
        "current-context": name,
    })
}

async fn build_client(cluster: &KubeFedCluster, token: Option<&[u8]>) -> Result<Client, String> {
    let secret = &cluster.spec.secret_ref.name;
    let token = token.ok_or_else(|| format!("secret {secret:?} has no key \"token\" (or does not exist)"))?;
    let token = std::str::from_utf8(token).map_err(|_| format!("secret {secret:?}: token is not UTF-8"))?.trim();
    if token.is_empty() {
        return Err(format!("secret {secret:?}: token is empty"));
    }
    let kubeconfig: Kubeconfig =
        serde_json::from_value(member_kubeconfig(cluster, token)).map_err(|e| format!("building kubeconfig: {e}"))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| format!("client config: {e}"))?;
    Client::try_from(config).map_err(|e| format!("client: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fed_core::api::{KubeFedClusterSpec, LocalSecretReference};

    fn cluster(disabled: &[&str], ca: Option<&str>) -> KubeFedCluster {
        KubeFedCluster::new(
            "vulcan",
            KubeFedClusterSpec {
                api_endpoint: "https://127.0.0.1:16444".into(),
                ca_bundle: ca.map(String::from),
                secret_ref: LocalSecretReference { name: "vulcan-token".into() },
                disabled_tls_validations: disabled.iter().map(|s| s.to_string()).collect(),
            },
        )
    }

    #[test]
    fn kubeconfig_carries_ca_or_skips_verification() {
        let k = member_kubeconfig(&cluster(&[], Some("QUJD\n")), "t0k");
        assert_eq!(k["clusters"][0]["cluster"]["certificate-authority-data"], "QUJD");
        assert_eq!(k["users"][0]["user"]["token"], "t0k");
        assert!(k["clusters"][0]["cluster"].get("insecure-skip-tls-verify").is_none());
        let k = member_kubeconfig(&cluster(&["*"], Some("QUJD")), "t");
        assert_eq!(k["clusters"][0]["cluster"]["insecure-skip-tls-verify"], true);
        assert!(k["clusters"][0]["cluster"].get("certificate-authority-data").is_none());
        let _: Kubeconfig = serde_json::from_value(k).unwrap();
    }

    #[test]
    fn fingerprint_changes_with_token_and_endpoint() {
        let c = cluster(&[], None);
        let a = fingerprint(&c, Some(b"a"));
        assert_ne!(a, fingerprint(&c, Some(b"b")));
        assert_ne!(a, fingerprint(&c, None));
        let mut c2 = c.clone();
        c2.spec.api_endpoint = "https://127.0.0.1:1".into();
        assert_ne!(a, fingerprint(&c2, Some(b"a")));
        assert_eq!(a, fingerprint(&c.clone(), Some(b"a")));
    }

    fn member(name: &str, offline: bool, epoch: u64, labels: &[(&str, &str)]) -> Member {
        Member {
            name: name.into(),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            is_host: false,
            offline,
            conditions: vec![],
            client: Err("none".into()),
            epoch,
            fingerprint: 0,
        }
    }

    #[test]
    fn diff_reports_membership_and_per_cluster_changes() {
        let snap = |ms: Vec<Member>| ms.into_iter().map(|m| (m.name.clone(), m)).collect::<BTreeMap<_, _>>();
        let a = snap(vec![member("earth", false, 1, &[]), member("vulcan", false, 1, &[])]);
        assert_eq!(diff(&a, &a), MemberChanges::default());
        let b = snap(vec![member("earth", false, 1, &[]), member("vulcan", true, 1, &[])]);
        let d = diff(&a, &b);
        assert!(!d.membership);
        assert_eq!(d.clusters, BTreeSet::from(["vulcan".to_string()]));
        let c = snap(vec![member("earth", false, 1, &[("region", "eu")]), member("vulcan", false, 2, &[])]);
        let d = diff(&a, &c);
        assert!(d.membership);
        assert_eq!(d.clusters, BTreeSet::from(["vulcan".to_string()]));
        let e = snap(vec![member("earth", false, 1, &[])]);
        let d = diff(&a, &e);
        assert!(d.membership);
        assert_eq!(d.clusters, BTreeSet::from(["vulcan".to_string()]));
    }
}
