//! `kubectl fed install`: the federation control plane on the host cluster.
//!
//! Applies (server-side apply, field manager `kubectl-fed`; idempotent) the shipped CRDs
//! (KubeFedCluster, FederatedTypeConfig and the well-known `Federated<Kind>`s) and waits
//! for them to be Established; the federation namespace; the `namespaces` type config (every
//! federation needs FederatedNamespace); the host component's ServiceAccount and RBAC from
//! `manifests/host/` (compiled in, moved to `--federation-namespace`); and the webhook
//! configurations from `fed_core::webhook_config`:
//! - `--webhook-url URL`: the local form (`clientConfig.url`) for a webhook running outside
//!   the cluster; the CA is `--ca-bundle FILE`, or one generated (with a serving certificate for
//!   the URL's host) into `--cert-dir` and reused on later runs;
//! - otherwise the in-cluster form: a TLS Secret (generated once, then reused), and the
//!   Service, Deployment and PodDisruptionBudget of `manifests/host/` (`--image`, `--replicas`).
//!
//! `--dry-run -o yaml` prints every object and changes nothing.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use clap::Args;
use fed_core::api::{ApiResourceRef, Scope};
use fed_core::crd::shipped_crds;
use fed_core::webhook_config::{SERVICE_NAME, WebhookTarget, webhook_configurations};
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::Api;
use kube::core::{ApiResource, ObjectMeta};
use serde::Deserialize as _;
use serde_json::{Value, json};
use std::collections::BTreeMap;

use crate::apply::{Obj, Writer};
use crate::certs::{self, WebhookCerts};
use crate::context::{Ctx, DryRun};
use crate::fedapi::{self, MANAGED_BY};
use crate::output;

/// Default image of the host component.
pub const DEFAULT_IMAGE: &str = concat!("kubectl-fed/fed-webhook:", env!("CARGO_PKG_VERSION"));
/// TLS Secret of the in-cluster webhook.
pub const TLS_SECRET: &str = "kubectl-fed-webhook-tls";
/// Name of the host component's Deployment.
pub const COMPONENT: &str = SERVICE_NAME;

/// Install the federation control plane on the host cluster (CRDs, namespace, RBAC, webhooks)
///
/// Idempotent. Without --webhook-url the host component runs in the cluster (Deployment and
/// Service); with it, the webhook configurations point at a webhook running elsewhere.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  kubectl fed install --context earth
  kubectl fed install --webhook-url https://127.0.0.1:9443 --ca-bundle ca.crt
  kubectl fed install --dry-run -o yaml")]
pub struct InstallOptions {
    /// Base URL of a webhook running outside the cluster (registers the local form)
    #[arg(long, value_name = "URL")]
    pub webhook_url: Option<String>,
    /// PEM CA that signed the external webhook's serving certificate (with --webhook-url)
    #[arg(long, value_name = "FILE", requires = "webhook_url")]
    pub ca_bundle: Option<PathBuf>,
    /// With --webhook-url and no --ca-bundle: where the generated CA and serving certificate go
    #[arg(long, value_name = "DIR", default_value = "kubectl-fed-webhook-certs")]
    pub cert_dir: PathBuf,
    /// Image of the host component (in-cluster form)
    #[arg(long, value_name = "IMAGE", default_value = DEFAULT_IMAGE)]
    pub image: String,
    /// Replicas of the host component (in-cluster form; default: the manifest's; controllers
    /// elect a leader, every replica serves admission)
    #[arg(long, value_name = "N")]
    pub replicas: Option<i32>,
    /// Install CRDs, namespace and RBAC only, no webhook
    #[arg(long)]
    pub skip_webhook: bool,
    /// Seconds to wait for the CRDs to be Established
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub timeout: u64,
}

impl InstallOptions {
    fn validate(&self) -> Result<()> {
        if let Some(url) = &self.webhook_url {
            url_host(url)?;
        }
        if self.replicas.is_some_and(|r| r < 1) {
            bail!("--replicas must be at least 1");
        }
        Ok(())
    }
}

/// The host of an `https://host[:port][/path]` URL.
pub fn url_host(url: &str) -> Result<String> {
    let Some(rest) = url.strip_prefix("https://") else {
        bail!("--webhook-url {url:?}: the apiserver only calls webhooks over https://");
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default().to_string()
    } else {
        authority.rsplit_once(':').map(|(h, _)| h).unwrap_or(authority).to_string()
    };
    if host.is_empty() {
        bail!("--webhook-url {url:?} has no host");
    }
    Ok(host)
}

/// The host component's manifests (`manifests/host/`, owned with the webhook), compiled in so
/// the installer and `kubectl apply -k manifests/host` can never disagree.
const HOST_MANIFESTS: [(&str, &str); 6] = [
    ("namespace.yaml", include_str!("../../../manifests/host/namespace.yaml")),
    ("rbac.yaml", include_str!("../../../manifests/host/rbac.yaml")),
    ("source-roles.yaml", include_str!("../../../manifests/host/source-roles.yaml")),
    ("service.yaml", include_str!("../../../manifests/host/service.yaml")),
    ("deployment.yaml", include_str!("../../../manifests/host/deployment.yaml")),
    ("pdb.yaml", include_str!("../../../manifests/host/pdb.yaml")),
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
/// moved into it, the image and replicas set. `in_cluster` adds Service, Deployment and PDB.
pub fn host_objects(fed_ns: &str, in_cluster: bool, image: &str, replicas: Option<i32>) -> Result<Vec<Obj>> {
    let mut out = Vec::new();
    for (file, text) in HOST_MANIFESTS {
        if !in_cluster && IN_CLUSTER_ONLY.contains(&file) {
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
            if kind == "Deployment" {
                if let Some(r) = replicas {
                    v["spec"]["replicas"] = json!(r);
                }
                if let Some(containers) = v.pointer_mut("/spec/template/spec/containers").and_then(Value::as_array_mut)
                {
                    for c in containers {
                        let current = c["image"].as_str().unwrap_or_default();
                        if current == MANIFEST_IMAGE || current.starts_with(&format!("{MANIFEST_IMAGE}:")) {
                            c["image"] = json!(image);
                        }
                    }
                }
            }
            out.push(Obj::dynamic(ar, namespaced, v)?);
        }
    }
    Ok(out)
}

/// The `namespaces` type config every federation needs (FederatedNamespace).
pub fn namespace_type_config(fed_ns: &str) -> Result<Obj> {
    let ns_target = ApiResourceRef {
        group: String::new(),
        version: "v1".into(),
        kind: "Namespace".into(),
        plural_name: "namespaces".into(),
        scope: Scope::Cluster,
    };
    Obj::typed(&crate::type_configs::type_config(fed_ns, &ns_target))
}

/// The in-cluster webhook's TLS Secret.
pub fn tls_secret(fed_ns: &str, certs: &WebhookCerts) -> Result<Obj> {
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(TLS_SECRET.into()),
            namespace: Some(fed_ns.into()),
            labels: Some(BTreeMap::from([
                ("app.kubernetes.io/name".to_string(), "kubectl-fed".to_string()),
                ("app.kubernetes.io/component".to_string(), "webhook".to_string()),
                ("app.kubernetes.io/managed-by".to_string(), MANAGED_BY.to_string()),
            ])),
            ..Default::default()
        },
        type_: Some("kubernetes.io/tls".into()),
        data: Some(BTreeMap::from([
            ("ca.crt".to_string(), ByteString(certs.ca_cert.clone().into_bytes())),
            ("tls.crt".to_string(), ByteString(certs.tls_cert.clone().into_bytes())),
            ("tls.key".to_string(), ByteString(certs.tls_key.clone().into_bytes())),
        ])),
        ..Default::default()
    };
    Obj::typed(&secret)
}

pub async fn run(ctx: &Ctx, opts: InstallOptions) -> Result<()> {
    opts.validate()?;
    let fed_ns = ctx.fed_ns().to_string();
    let client = ctx.host().await?;
    let mut host = Writer::new(client.clone(), ctx);

    // CRDs first; everything else needs them.
    let crds = shipped_crds();
    for crd in &crds {
        host.apply(&Obj::typed(crd)?).await?;
    }
    if !host.dry_run().active() {
        let names: Vec<String> = crds.iter().filter_map(|c| c.metadata.name.clone()).collect();
        fedapi::wait_established(&client, &names, Duration::from_secs(opts.timeout)).await?;
    }
    let in_cluster = opts.webhook_url.is_none() && !opts.skip_webhook;
    let objects = host_objects(&fed_ns, in_cluster, &opts.image, opts.replicas)?;
    let (namespace, rest) = objects.split_first().ok_or_else(|| anyhow!("manifests/host holds no namespace"))?;
    host.apply(namespace).await?;
    host.apply(&namespace_type_config(&fed_ns)?).await?;
    let certs = if in_cluster { Some(in_cluster_certs(&client, &fed_ns).await?) } else { None };
    if let Some(certs) = &certs {
        host.apply(&tls_secret(&fed_ns, certs)?).await?;
    }
    for obj in rest {
        host.apply(obj).await?;
    }

    if !opts.skip_webhook {
        let (target, ca_pem) = match (&opts.webhook_url, certs) {
            (Some(url), _) => {
                let ca = match &opts.ca_bundle {
                    Some(file) => {
                        std::fs::read(file).with_context(|| format!("reading --ca-bundle {}", file.display()))?
                    }
                    None => local_certs(ctx.dry_run(), &opts, url)?.ca_cert.into_bytes(),
                };
                (WebhookTarget::Url(url.clone()), ca)
            }
            (None, Some(certs)) => (WebhookTarget::in_cluster(&fed_ns), certs.ca_cert.into_bytes()),
            (None, None) => unreachable!("in-cluster certificates are made above"),
        };
        let configs = webhook_configurations(&target, Some(&ca_pem));
        host.apply(&Obj::typed(&configs.mutating)?).await?;
        host.apply(&Obj::typed(&configs.validating)?).await?;
        if opts.webhook_url.is_none() && ctx.output().is_none() {
            output::note(format!(
                "The webhook answers once its Deployment is ready: kubectl -n {fed_ns} rollout status deployment/{COMPONENT}"
            ));
        }
    }
    if ctx.output().is_none() && !ctx.dry_run().active() {
        println!("federation control plane installed on context {} (namespace {fed_ns})", ctx.host_context);
    }
    host.finish()
}

/// The local form's CA: reused from `--cert-dir`, else generated there.
fn local_certs(dry_run: DryRun, opts: &InstallOptions, url: &str) -> Result<WebhookCerts> {
    if let Some(existing) = certs::read_dir(&opts.cert_dir)? {
        return Ok(existing);
    }
    let host = url_host(url)?;
    let mut names = vec![host];
    for n in ["localhost", "127.0.0.1"] {
        if !names.iter().any(|x| x == n) {
            names.push(n.to_string());
        }
    }
    let generated = certs::generate(&names)?;
    let dir = opts.cert_dir.display();
    if dry_run.active() {
        output::note(format!("would write a new webhook CA and serving certificate ({}) to {dir}/", names.join(", ")));
    } else {
        certs::write_dir(&opts.cert_dir, &generated)?;
        output::note(format!(
            "wrote a webhook CA and serving certificate for {} to {dir}/; serve with: fed-webhook serve --tls-cert {dir}/tls.crt --tls-key {dir}/tls.key",
            names.join(", ")
        ));
    }
    Ok(generated)
}

/// The in-cluster CA and serving certificate: reused from the TLS Secret, else generated.
async fn in_cluster_certs(client: &kube::Client, fed_ns: &str) -> Result<WebhookCerts> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), fed_ns);
    if let Some(data) = secrets.get_opt(TLS_SECRET).await?.and_then(|s| s.data) {
        let text = |k: &str| data.get(k).map(|b| String::from_utf8_lossy(&b.0).into_owned());
        if let (Some(ca_cert), Some(tls_cert), Some(tls_key)) = (text("ca.crt"), text("tls.crt"), text("tls.key")) {
            return Ok(WebhookCerts { ca_cert, ca_key: String::new(), tls_cert, tls_key });
        }
    }
    let names = [
        format!("{SERVICE_NAME}.{fed_ns}.svc"),
        format!("{SERVICE_NAME}.{fed_ns}.svc.cluster.local"),
        format!("{SERVICE_NAME}.{fed_ns}"),
    ];
    certs::generate(&names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_url_hosts() {
        assert_eq!(url_host("https://127.0.0.1:9443").unwrap(), "127.0.0.1");
        assert_eq!(url_host("https://webhook.example.com/x").unwrap(), "webhook.example.com");
        assert_eq!(url_host("https://[::1]:9443").unwrap(), "::1");
        assert!(url_host("http://127.0.0.1:9443").is_err());
        assert!(url_host("https://").is_err());
    }

    #[test]
    fn host_manifests_move_into_the_federation_namespace() {
        let objs = host_objects("fed", true, "img:1", Some(3)).unwrap();
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
        assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["image"], "img:1");
        let local = host_objects("fed", false, "img:1", None).unwrap();
        assert!(!local.iter().any(|o| o.ar.kind == "Deployment" || o.ar.kind == "Service"));
    }

    #[test]
    fn tls_secret_holds_the_pem_files() {
        let certs =
            WebhookCerts { ca_cert: "CA".into(), ca_key: String::new(), tls_cert: "C".into(), tls_key: "K".into() };
        let s = tls_secret("fed", &certs).unwrap().to_value();
        assert_eq!(s["data"]["ca.crt"], "Q0E=");
        assert_eq!(s["type"], "kubernetes.io/tls");
        assert_eq!(namespace_type_config("fed").unwrap().display(), "federatedtypeconfig.core.kubefed.io/namespaces");
    }
}
