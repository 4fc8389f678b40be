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
//!   Service, Deployment and PodDisruptionBudget of `manifests/host/` (`--image`, `--replicas`,
//!   `--port`; `--host-network` runs the pods in their node's network namespace and
//!   `--host-apiserver` names the apiserver address they use instead of the `kubernetes`
//!   Service, for clusters whose pod or Service network does not route where it must).
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
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::core::ObjectMeta;
use std::collections::BTreeMap;

use crate::apply::{Obj, Writer};
use crate::certs::{self, WebhookCerts};
use crate::context::{Ctx, DryRun};
use crate::fedapi::{self, MANAGED_BY};
use crate::host_manifests::{DEFAULT_PORT, PodShape, host_objects, host_port};
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
  kubectl fed install --image registry.example/fed-webhook:0.1.0 --replicas 2
  kubectl fed install --host-network --port 9443 --host-apiserver 10.0.0.1:6443
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
    /// Run the host component's pods in their node's network namespace (in-cluster form), for
    /// clusters whose apiserver cannot reach the pod network or whose pods cannot reach the
    /// member clusters' endpoints. One pod per node: the webhook port is taken on the node.
    #[arg(long)]
    pub host_network: bool,
    /// Port the webhook listens on (in-cluster form; on the node with --host-network)
    #[arg(long, value_name = "PORT", default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// HOST:PORT at which the pods reach the host cluster's apiserver, instead of the
    /// `kubernetes` Service (in-cluster form; for clusters whose Service network does not route
    /// from the pods, e.g. one without kube-proxy)
    #[arg(long, value_name = "HOST:PORT")]
    pub host_apiserver: Option<String>,
    /// Install CRDs, namespace and RBAC only, no webhook
    #[arg(long)]
    pub skip_webhook: bool,
    /// Seconds to wait for the CRDs to be Established (and, when re-installing the in-cluster
    /// form, for its Deployment to serve the webhook again)
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
        if self.port == 0 {
            bail!("--port must be a port number (1-65535)");
        }
        if self.webhook_url.is_some() && (self.host_network || self.host_apiserver.is_some()) {
            bail!("--host-network and --host-apiserver shape the in-cluster form; they do not go with --webhook-url");
        }
        if let Some(addr) = &self.host_apiserver {
            host_port(addr)?;
        }
        Ok(())
    }

    /// How the in-cluster Deployment departs from the shipped manifest.
    fn pod_shape(&self) -> PodShape {
        PodShape {
            image: self.image.clone(),
            replicas: self.replicas,
            port: self.port,
            host_network: self.host_network,
            host_apiserver: self.host_apiserver.as_deref().and_then(|a| host_port(a).ok()),
        }
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
    let shape = opts.pod_shape();
    let objects = host_objects(&fed_ns, in_cluster.then_some(&shape))?;
    let (namespace, rest) = objects.split_first().ok_or_else(|| anyhow!("manifests/host holds no namespace"))?;
    host.apply(namespace).await?;
    let certs = if in_cluster { Some(in_cluster_certs(&client, &fed_ns).await?) } else { None };
    if let Some(certs) = &certs {
        host.apply(&tls_secret(&fed_ns, certs)?).await?;
    }
    for obj in rest {
        host.apply(obj).await?;
    }
    // The webhook validates type configs once it is registered: on a re-install (an upgrade, or
    // a repair after its pods went away) wait until the Deployment just applied serves again.
    if in_cluster && !host.dry_run().active() && webhook_registered(&client).await? {
        wait_serving(&client, &fed_ns, Duration::from_secs(opts.timeout)).await?;
    }
    host.apply(&namespace_type_config(&fed_ns)?).await?;

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
        let configs = webhook_configurations(&target, Some(&ca_pem), &fed_ns);
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

/// Whether the validating webhook configuration is already in place (a re-install).
async fn webhook_registered(client: &kube::Client) -> Result<bool> {
    use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
    let api: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    Ok(api.get_opt(fed_core::webhook_config::CONFIGURATION_NAME).await?.is_some())
}

/// Waits until the host component's Deployment has an available replica (`timeout` at most).
async fn wait_serving(client: &kube::Client, fed_ns: &str, timeout: Duration) -> Result<()> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), fed_ns);
    let available = |d: Option<&Deployment>| {
        d.and_then(|d| d.status.as_ref()).and_then(|s| s.available_replicas).is_some_and(|n| n > 0)
    };
    match crate::waiting::until(api, COMPONENT, tokio::time::Instant::now() + timeout, available).await? {
        Some(_) => Ok(()),
        None => bail!(
            "deployment/{COMPONENT} in {fed_ns} has no available replica after {}s, and the webhook it serves must \
             admit the rest of the installation: kubectl -n {fed_ns} describe deployment/{COMPONENT}",
            timeout.as_secs()
        ),
    }
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
    fn tls_secret_holds_the_pem_files() {
        let certs =
            WebhookCerts { ca_cert: "CA".into(), ca_key: String::new(), tls_cert: "C".into(), tls_key: "K".into() };
        let s = tls_secret("fed", &certs).unwrap().to_value();
        assert_eq!(s["data"]["ca.crt"], "Q0E=");
        assert_eq!(s["type"], "kubernetes.io/tls");
        assert_eq!(namespace_type_config("fed").unwrap().display(), "federatedtypeconfig.core.kubefed.io/namespaces");
    }
}
