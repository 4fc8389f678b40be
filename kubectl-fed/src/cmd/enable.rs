//! `kubectl fed enable TYPE`: a FederatedTypeConfig and the `Federated<Kind>` CRD.
//!
//! TYPE is resolved through host discovery (`deploy`, `deployments.apps`, `widgets.example.com`).
//! The CRD is applied first and must be Established before the type config appears, so the
//! controllers never watch a resource that does not exist yet ([`crate::type_configs`]). Joined
//! members' federation ClusterRoles are then widened to the new type (see
//! [`crate::member_rbac`] for why this goes through the members' kubeconfig contexts).

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clap::Args;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::Api;

use crate::apply::Writer;
use crate::context::Ctx;
use crate::discovery::{self, ResourceInfo};
use crate::fedapi;
use crate::type_configs::{enable_types, refuse};

/// Enable federation of a Kubernetes type
#[derive(Args, Debug)]
pub struct EnableOptions {
    /// The type (e.g. deployments.apps, deploy, services, a CRD's plural.group)
    #[arg(value_name = "TYPE")]
    pub type_name: String,
    /// Seconds to wait for the `Federated<Kind>` CRD to be Established
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub timeout: u64,
}

impl EnableOptions {
    /// The wait for the CRD; TYPE is checked against discovery when the command runs.
    fn validate(&self) -> Result<Duration> {
        if self.type_name.trim().is_empty() {
            bail!("TYPE must not be empty (e.g. deployments.apps)");
        }
        Ok(Duration::from_secs(self.timeout))
    }
}

/// Enables TYPE: its CRD, source role and type config, then the members' roles.
pub async fn run(ctx: &Ctx, opts: EnableOptions) -> Result<()> {
    let timeout = opts.validate()?;
    let res = &resolve_fresh(ctx, &opts.type_name, timeout).await?;
    if let Some(why) = refuse(res) {
        bail!(why);
    }
    let client = ctx.host().await?;
    // Fails early with the install hint when the federation is not installed.
    fedapi::type_configs(&client, ctx.fed_ns(), &ctx.host_context).await?;
    let mut host = Writer::new(client, ctx);
    enable_types(ctx, &mut host, &[res.to_ref()], timeout).await?;
    host.finish()
}

/// Resolves TYPE through host discovery. A CRD named TYPE that the server does not serve yet
/// (`kubectl apply -f crd.yaml && kubectl fed enable widgets.example.com`: discovery lists it
/// only once it is Established) is waited for, up to `timeout`.
async fn resolve_fresh(ctx: &Ctx, type_name: &str, timeout: Duration) -> Result<ResourceInfo> {
    let deadline = Instant::now() + timeout;
    let crds: Api<CustomResourceDefinition> = Api::all(ctx.host().await?);
    loop {
        let resources = discovery::host_resources(ctx).await?;
        let err = match resources.resolve(type_name) {
            Ok(res) => return Ok(res.clone()),
            Err(err) => err,
        };
        let pending = crds.get_metadata_opt(&type_name.trim().to_ascii_lowercase()).await.ok().flatten();
        if pending.is_none_or(|crd| crd.metadata.deletion_timestamp.is_some()) {
            return Err(err);
        }
        if Instant::now() >= deadline {
            bail!("CRD {type_name} exists but the server did not serve it within {}s", timeout.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
