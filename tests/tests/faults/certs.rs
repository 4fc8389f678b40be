//! The webhook's serving certificate rotated under admission load (about 200 admission
//! requests per second: dry-run creates of annotated ConfigMaps, each one call to the mutating
//! and one to the validating webhook). The rotation is the one an operator does with a new CA:
//! the webhook configurations trust the old and the new CA; the TLS Secret gets the new pair
//! (the kubelet rewrites the files mounted in the pods, the webhook reloads them); once every
//! pod serves the new certificate, the configurations trust only the new CA. No admission
//! request may fail on the way.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fed_core::webhook_config::{CONFIGURATION_NAME, SERVICE_NAME};
use fed_e2e::{Bed, federation, host_in_cluster, plugin_dir, unique_name, wait_until, webhook_port};
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{MutatingWebhookConfiguration, ValidatingWebhookConfiguration};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::sync::Mutex;

use crate::load::PLACED;
use crate::report::Row;
use crate::{ONE_AT_A_TIME, secs};

const FED_NS: &str = "kube-federation-system";
const TLS_SECRET: &str = "kubectl-fed-webhook-tls";
/// Dry-run creates per second (each is two admission requests).
const CREATES_PER_SECOND: u64 = 100;
const IN_FLIGHT: usize = 64;

/// Admission load in the background: dry-run creates at a fixed rate until stopped.
struct AdmissionLoad {
    sent: Arc<AtomicUsize>,
    failed: Arc<Mutex<Vec<String>>>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl AdmissionLoad {
    fn start(host: kube::Client, ns: &str) -> AdmissionLoad {
        let api: Api<ConfigMap> = Api::namespaced(host, ns);
        let (sent, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(Mutex::new(Vec::new())));
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn({
            let (sent, failed) = (sent.clone(), failed.clone());
            async move {
                let slots = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
                let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / CREATES_PER_SECOND));
                let mut running = tokio::task::JoinSet::new();
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = stopped.changed() => break,
                    }
                    let Ok(slot) = slots.clone().acquire_owned().await else { break };
                    let i = sent.fetch_add(1, Ordering::Relaxed);
                    let (api, failed) = (api.clone(), failed.clone());
                    running.spawn(async move {
                        let cm: ConfigMap = serde_json::from_value(json!({
                            "metadata": { "name": format!("rot-{i}"), "annotations": { "kubefed.io/placement": PLACED } },
                            "data": { "v": "0" },
                        }))
                        .expect("a valid ConfigMap");
                        let params = PostParams { dry_run: true, ..PostParams::default() };
                        if let Err(e) = api.create(&params, &cm).await {
                            failed.lock().await.push(e.to_string());
                        }
                        drop(slot);
                    });
                }
                while running.join_next().await.is_some() {}
            }
        });
        AdmissionLoad { sent, failed, stop, task }
    }

    /// Stops sending, waits for the requests in flight, returns (sent, failures).
    async fn finish(self) -> (usize, Vec<String>) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        (self.sent.load(Ordering::Relaxed), std::mem::take(&mut *self.failed.lock().await))
    }
}

/// Sets the caBundle of every webhook of both configurations to `bundle`.
async fn trust(bed: &Bed, bundle: &[u8]) {
    let mutating: Api<MutatingWebhookConfiguration> = Api::all(bed.earth.clone());
    let validating: Api<ValidatingWebhookConfiguration> = Api::all(bed.earth.clone());
    let ca = ByteString(bundle.to_vec());
    let mut m = mutating.get(CONFIGURATION_NAME).await.expect("mutating configuration");
    for w in m.webhooks.iter_mut().flatten() {
        w.client_config.ca_bundle = Some(ca.clone());
    }
    mutating.replace(CONFIGURATION_NAME, &PostParams::default(), &m).await.expect("mutating caBundle");
    let mut v = validating.get(CONFIGURATION_NAME).await.expect("validating configuration");
    for w in v.webhooks.iter_mut().flatten() {
        w.client_config.ca_bundle = Some(ca.clone());
    }
    validating.replace(CONFIGURATION_NAME, &PostParams::default(), &v).await.expect("validating caBundle");
}

/// True when every running webhook pod presents a certificate that `ca` verifies for the
/// Service's name.
async fn every_pod_serves(bed: &Bed, ca: &std::path::Path) -> Option<()> {
    let pods: Api<Pod> = Api::namespaced(bed.earth.clone(), FED_NS);
    let list = pods.list(&ListParams::default().labels("app.kubernetes.io/component=webhook")).await.ok()?;
    let ips: Vec<String> = list.items.into_iter().filter_map(|p| p.status?.pod_ip).collect();
    if ips.is_empty() {
        return None;
    }
    let host = format!("{SERVICE_NAME}.{FED_NS}.svc");
    for ip in ips {
        let out = tokio::process::Command::new("curl")
            .args(["-sf", "--max-time", "3", "--cacert"])
            .arg(ca)
            .args(["--resolve", &format!("{host}:{}:{ip}", webhook_port())])
            .arg(format!("https://{host}:{}/healthz", webhook_port()))
            .output()
            .await
            .ok()?;
        if !out.status.success() {
            return None;
        }
    }
    Some(())
}

#[tokio::test]
#[ignore = "fault suite: make test-faults"]
async fn s11_webhook_certificate_rotated_under_admission_load() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let bed = federation().await;
    let mut row = Row::new("11 webhook serving cert rotated, ~200 admission req/s", 0);
    if !host_in_cluster() {
        row.note("local form: the in-cluster rotation is not exercised");
        row.converged(crate::converge::Convergence { after: Some(Duration::ZERO), diff: Default::default() });
        return row.finish();
    }
    let ns = fed_e2e::TestNamespace::create(&bed.earth, "faults-certs").await;
    let dir = std::env::temp_dir().join(unique_name("webhook-certs"));
    let svc = format!("{SERVICE_NAME}.{FED_NS}.svc");
    let status = std::process::Command::new(plugin_dir().join("fed-webhook"))
        .args(["certs", "--out-dir"])
        .arg(&dir)
        .args(["--dns", &svc, "--dns", &format!("{svc}.cluster.local"), "--dns", &format!("{SERVICE_NAME}.{FED_NS}")])
        .status()
        .expect("fed-webhook certs runs");
    assert!(status.success(), "fed-webhook certs");
    let read = |f: &str| std::fs::read(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    let (new_ca, new_crt, new_key) = (read("ca.crt"), read("tls.crt"), read("tls.key"));
    let secrets: Api<Secret> = Api::namespaced(bed.earth.clone(), FED_NS);
    let old = secrets.get(TLS_SECRET).await.expect("TLS Secret");
    let old_ca = old.data.as_ref().and_then(|d| d.get("ca.crt")).expect("ca.crt").0.clone();
    let both = [old_ca.as_slice(), b"\n", new_ca.as_slice()].concat();

    let load = AdmissionLoad::start(bed.earth.clone(), &ns.name);
    let started = Instant::now();
    wait_until(Duration::from_secs(30), "the admission load running", || async {
        (load.sent.load(Ordering::Relaxed) >= 200).then_some(())
    })
    .await;
    trust(&bed, &both).await;
    let patch = json!({ "data": {
        "ca.crt": ByteString(new_ca.clone()), "tls.crt": ByteString(new_crt), "tls.key": ByteString(new_key),
    }});
    secrets.patch(TLS_SECRET, &PatchParams::default(), &Patch::Merge(&patch)).await.expect("TLS Secret rotated");
    let rotated = Instant::now();
    let ca_file = dir.join("ca.crt");
    match fed_e2e::poll_until(Duration::from_secs(180), || every_pod_serves(&bed, &ca_file)).await {
        Some(()) => row
            .note(format!("every pod served the new certificate {} after the Secret changed", secs(rotated.elapsed()))),
        None => row.problem("the pods never served the new certificate"),
    }
    trust(&bed, &new_ca).await;
    // Some more load against the new trust alone.
    let more = load.sent.load(Ordering::Relaxed) + 500;
    wait_until(Duration::from_secs(60), "500 more creates", || async {
        (load.sent.load(Ordering::Relaxed) >= more).then_some(())
    })
    .await;
    let (sent, failed) = load.finish().await;
    let elapsed = started.elapsed();
    row.objects = sent;
    row.note(format!(
        "{sent} dry-run creates ({} admission requests) in {}, {:.0} admission req/s; {} failed",
        sent * 2,
        secs(elapsed),
        (sent * 2) as f64 / elapsed.as_secs_f64(),
        failed.len()
    ));
    row.failed_writes(&failed);
    row.converged(crate::converge::Convergence { after: Some(rotated.elapsed()), diff: Default::default() });
    ns.delete().await;
    let _ = std::fs::remove_dir_all(&dir);
    row.finish();
}
