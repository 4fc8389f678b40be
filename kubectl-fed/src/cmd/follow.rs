//! `kubectl fed follow NS [--clusters a,b | --selector k=v]` and `kubectl fed follow NS --stop`.
//!
//! Following labels the host namespace `kubefed.io/follow=true`: the follow webhook then gives
//! every new object of an enabled type created there the namespace's placement (its
//! FederatedNamespace's, else the one `--clusters`/`--selector` recorded, else every joined
//! cluster). `--stop` removes the label and the recorded placement (and a `kubefed.io/follow:
//! "true"` annotation of the FederatedNamespace); objects already there are left as they are.

use anyhow::{Context as _, Result, anyhow};
use clap::Args;
use fed_core::keys;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use serde_json::json;

use crate::apply::Writer;
use crate::context::{Ctx, validate_dns_label};
use crate::fedapi::{self, fed_api};
use crate::follow::{self, Recorded};
use crate::output;

/// New objects created in a namespace take its placement (or, with --stop, no longer do)
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  kubectl fed follow demo
  kubectl fed follow demo --clusters vulcan,kronos
  kubectl fed follow demo --stop")]
pub struct FollowOptions {
    /// The host namespace
    #[arg(value_name = "NAMESPACE")]
    pub namespace: String,
    /// Without a FederatedNamespace: place new objects on these clusters (comma list or *)
    #[arg(long, value_name = "NAMES", conflicts_with_all = ["selector", "stop"])]
    pub clusters: Option<String>,
    /// Without a FederatedNamespace: place new objects on the clusters this selector matches
    #[arg(long, value_name = "SELECTOR", conflicts_with = "stop")]
    pub selector: Option<String>,
    /// Stop following (existing objects are not changed)
    #[arg(long)]
    pub stop: bool,
}

impl FollowOptions {
    fn validate(&self) -> Result<Recorded> {
        validate_dns_label("namespace", &self.namespace)?;
        Recorded::parse(self.clusters.as_deref(), self.selector.as_deref())
    }
}

pub async fn run(ctx: &Ctx, opts: FollowOptions) -> Result<()> {
    let recorded = opts.validate()?;
    let ns = opts.namespace.as_str();
    let client = ctx.host().await?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .get_metadata_opt(ns)
        .await
        .with_context(|| format!("reading namespace {ns}"))?
        .ok_or_else(|| anyhow!("namespace {ns} not found on the host"))?;
    let configs = fedapi::type_configs(&client, ctx.fed_ns(), &ctx.host_context).await?;
    let fns_config = fedapi::config_for(&configs, "", "Namespace");
    let governing = match fns_config {
        Some(ftc) => {
            let api = fed_api(&client, &ftc.spec.federated_type, Some(ns));
            api.list(&Default::default()).await.map(|l| l.items.into_iter().next()).unwrap_or(None)
        }
        None => None,
    };
    let mut host = Writer::new(client, ctx);
    if opts.stop {
        follow::stop(&mut host, ns).await?;
        if let (Some(ftc), Some(fns)) = (fns_config, &governing)
            && fns.metadata.annotations.as_ref().and_then(|a| a.get(keys::FOLLOW)).is_some_and(|v| v == "true")
        {
            let fed = &ftc.spec.federated_type;
            let name = fns.metadata.name.clone().unwrap_or_default();
            let patch = json!({ "metadata": { "annotations": { keys::FOLLOW: null } } });
            host.merge_patch(&fed.api_resource(), true, Some(ns), &name, &patch, "no longer follows").await?;
        }
        if !ctx.dry_run().active() && ctx.output().is_none() {
            output::note(format!("new objects in {ns} stay on the host; objects already there are unchanged"));
        }
        return host.finish();
    }
    follow::start(&mut host, ns, &recorded).await?;
    if !ctx.dry_run().active() && ctx.output().is_none() {
        let placement = match &governing {
            Some(fns) => {
                if opts.clusters.is_some() || opts.selector.is_some() {
                    output::warn(format!(
                        "namespace {ns} has FederatedNamespace {}; its placement wins over --clusters/--selector",
                        fns.metadata.name.as_deref().unwrap_or_default()
                    ));
                }
                "the placement of its FederatedNamespace".to_string()
            }
            None => recorded.describe(),
        };
        output::note(format!(
            "new objects created in {ns} go to {placement}; types not enabled stay on the host (kubectl fed enable TYPE)"
        ));
    }
    host.finish()
}
