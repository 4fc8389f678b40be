//! Global flags and the clients they lead to.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::{Args, ValueEnum};
use fed_core::api::KubeFedCluster;
use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio::sync::OnceCell;

use crate::kubeconfig::{self, ClusterEndpoint, Loaded};
use crate::output::OutputFormat;

/// Help heading of the global flags.
const GLOBAL: &str = "Global Options";

/// Flags every subcommand accepts (after the subcommand, too).
#[derive(Args, Clone, Debug)]
pub struct GlobalOpts {
    /// Path to the kubeconfig file (default: the files in $KUBECONFIG, merged, else ~/.kube/config)
    #[arg(long, global = true, value_name = "FILE", help_heading = GLOBAL)]
    pub kubeconfig: Option<PathBuf>,

    /// Kubeconfig context of the host cluster (default: the current context)
    #[arg(long = "host-cluster-context", visible_alias = "context", global = true, value_name = "CONTEXT", help_heading = GLOBAL)]
    pub host_context: Option<String>,

    /// Namespace of the objects (default: the context's namespace, else `default`)
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE", help_heading = GLOBAL)]
    pub namespace: Option<String>,

    /// Namespace of the federation control plane on the host
    #[arg(long, global = true, value_name = "NAMESPACE", default_value = fed_core::keys::FEDERATION_NAMESPACE, help_heading = GLOBAL)]
    pub federation_namespace: String,

    /// Output format
    #[arg(short = 'o', long, global = true, value_enum, value_name = "FORMAT", help_heading = GLOBAL)]
    pub output: Option<OutputFormat>,

    /// Only print what would change: `client` (the default when given) sends nothing that
    /// writes; `server` sends the writes as server-side dry runs (admission webhooks still judge them)
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "STRATEGY",
        help_heading = GLOBAL,
        num_args = 0..=1,
        require_equals = true,
        default_value = "none",
        default_missing_value = "client",
        hide_default_value = true,
        hide_possible_values = true
    )]
    pub dry_run: DryRun,

    /// Log verbosity, as kubefedctl's klog flag (`-v 2`, `--v=2`): 2 and above log every
    /// request sent (method and URL)
    #[arg(short = 'v', long = "v", global = true, value_name = "N", default_value_t = 0, help_heading = GLOBAL)]
    pub verbosity: u8,
}

/// `--dry-run` strategies, as in kubectl.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DryRun {
    /// Make the changes.
    #[default]
    None,
    /// Print what would change; send no write.
    Client,
    /// Send writes as server-side dry runs.
    Server,
}

impl DryRun {
    /// True unless changes are really made.
    pub fn active(self) -> bool {
        self != DryRun::None
    }
}

impl GlobalOpts {
    /// Checks that need no cluster.
    pub fn validate(&self) -> Result<()> {
        if let Some(ns) = &self.namespace {
            validate_dns_label("namespace", ns)?;
        }
        validate_dns_label("federation namespace", &self.federation_namespace)?;
        Ok(())
    }
}

/// A DNS-1123 label: lower-case alphanumerics and '-', starting and ending alphanumeric, ≤ 63.
pub fn validate_dns_label(what: &str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= 63
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if !ok {
        bail!(
            "invalid {what} {value:?}: must be lower-case letters, digits and '-', start and end with a letter or digit, at most 63 characters"
        );
    }
    Ok(())
}

/// Everything a subcommand needs: flags, the merged kubeconfig and a lazily built host client.
pub struct Ctx {
    pub opts: GlobalOpts,
    pub kubeconfig: Loaded,
    /// The host cluster's context name.
    pub host_context: String,
    /// The namespace objects are looked up in.
    pub namespace: String,
    host: OnceCell<Client>,
}

impl Ctx {
    pub fn new(opts: GlobalOpts) -> Result<Ctx> {
        let kubeconfig = kubeconfig::load(opts.kubeconfig.as_deref())?;
        let host_context = kubeconfig.context_name(opts.host_context.as_deref())?;
        let namespace = opts
            .namespace
            .clone()
            .or_else(|| kubeconfig.context_namespace(&host_context))
            .unwrap_or_else(|| "default".to_string());
        Ok(Ctx { opts, kubeconfig, host_context, namespace, host: OnceCell::new() })
    }

    /// The federation namespace on the host (and on members).
    pub fn fed_ns(&self) -> &str {
        &self.opts.federation_namespace
    }

    pub fn dry_run(&self) -> DryRun {
        self.opts.dry_run
    }

    pub fn output(&self) -> Option<OutputFormat> {
        self.opts.output
    }

    /// The host cluster's client (built once).
    pub async fn host(&self) -> Result<Client> {
        self.host.get_or_try_init(|| self.client_for(&self.host_context)).await.cloned()
    }

    /// A client for any context of the kubeconfig.
    pub async fn client_for(&self, context: &str) -> Result<Client> {
        client_from_kubeconfig(self.kubeconfig.config.clone(), context).await
    }

    /// A client for member `cluster` through the kubeconfig context that reaches its API
    /// endpoint (the admin credentials `join` used), or why there is none, as one line.
    pub async fn member_client(&self, cluster: &KubeFedCluster) -> Result<Client, String> {
        let name = cluster.metadata.name.as_deref().unwrap_or_default();
        let Some(context) = self.kubeconfig.context_for_cluster(name, &cluster.spec.api_endpoint) else {
            return Err(format!("no kubeconfig context reaches {}", cluster.spec.api_endpoint));
        };
        self.client_for(&context).await.map_err(|e| crate::errors::one_line(&e))
    }

    /// The server URL and CA of a context.
    pub fn endpoint(&self, context: &str) -> Result<ClusterEndpoint> {
        self.kubeconfig.endpoint(context)
    }
}

/// Connect timeout for every client: a member that does not answer should fail fast.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Response timeout for every request (lists of thousands of objects included).
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);

async fn client_from_kubeconfig(kubeconfig: Kubeconfig, context: &str) -> Result<Client> {
    let options = KubeConfigOptions { context: Some(context.to_string()), ..Default::default() };
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .with_context(|| format!("loading context {context:?}"))?;
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
    config.reset_reader_on_write = true;
    build_client(config).with_context(|| format!("building a client for context {context:?}"))
}

/// The client for `config`, logging its requests under `--v=2` ([`crate::verbose`]).
fn build_client(config: kube::Config) -> Result<Client> {
    let server = config.cluster_url.to_string();
    let builder = kube::client::ClientBuilder::try_from(config)?;
    Ok(builder.with_layer(&crate::verbose::LogRequests { server }).build())
}

/// A client that authenticates with a bearer token (a member's federation service account).
pub fn client_from_token(endpoint: &str, ca_pem: Option<&[u8]>, insecure: bool, token: &str) -> Result<Client> {
    let uri = endpoint.parse().with_context(|| format!("invalid API endpoint {endpoint:?}"))?;
    let mut config = kube::Config::new(uri);
    if let Some(pem) = ca_pem {
        config.root_cert = Some(pem_blocks_der(pem)?);
    }
    config.accept_invalid_certs = insecure;
    config.auth_info.token = Some(token.to_string().into());
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
    config.reset_reader_on_write = true;
    build_client(config).context("building a client from the member token")
}

/// The DER bodies of every CERTIFICATE block in a PEM bundle.
fn pem_blocks_der(pem: &[u8]) -> Result<Vec<Vec<u8>>> {
    let certs: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(pem)
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<_, _>>()
        .context("CA bundle is not valid PEM")?;
    if certs.is_empty() {
        bail!("CA bundle holds no PEM certificate");
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels() {
        assert!(validate_dns_label("cluster name", "vulcan-2").is_ok());
        for bad in ["", "Vulcan", "-a", "a-", "a_b", "a.b", &"x".repeat(64)] {
            assert!(validate_dns_label("cluster name", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pem_bundle_parses_each_certificate() {
        let pem = b"-----BEGIN CERTIFICATE-----\naGVs\nbG8=\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nYQ==\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_blocks_der(pem).unwrap(), vec![b"hello".to_vec(), b"a".to_vec()]);
        assert!(pem_blocks_der(b"nothing").is_err());
    }
}
