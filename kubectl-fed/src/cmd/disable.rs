//! `kubectl fed disable TYPE [--delete-crd]`.
//!
//! As in KubeFed: by default the type config stays and its propagation is switched to
//! `Disabled` (federated objects are kept, nothing is propagated). `--delete-crd` removes the
//! type config and the Federated&lt;Kind&gt; CRD, and refuses while federated objects of the type
//! exist (deleting the CRD would strand their member copies). Either way the host component
//! loses read access to the type's sources and the members' federation ClusterRoles stop
//! granting it (least privilege; `enable` grants both again).

use anyhow::{Result, bail};
use clap::Args;
use fed_core::api::{FederatedTypeConfig, TYPES_GROUP};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::ResourceExt;
use kube::api::ListParams;
use kube::core::ApiResource;
use serde_json::json;

use crate::apply::Writer;
use crate::context::Ctx;
use crate::fedapi::{self, fed_api};

/// Disable federation of a type (optionally deleting its Federated<Kind> CRD)
#[derive(Args, Debug)]
pub struct DisableOptions {
    /// The type (e.g. deployments.apps, deploy)
    #[arg(value_name = "TYPE")]
    pub type_name: String,
    /// Also delete the FederatedTypeConfig and the Federated<Kind> CRD
    #[arg(long)]
    pub delete_crd: bool,
}

pub async fn run(ctx: &Ctx, opts: DisableOptions) -> Result<()> {
    let client = ctx.host().await?;
    let configs = fedapi::type_configs(&client, ctx.fed_ns(), &ctx.host_context).await?;
    let ftc = find(ctx, &configs, &opts.type_name).await?;
    let name = ftc.name_any();
    if ftc.spec.target_type.is_namespace() {
        bail!("{name} stays enabled: FederatedNamespace placements govern every other federated type");
    }
    let ftc_ar = ApiResource::erase::<FederatedTypeConfig>(&());
    let role_ar = ApiResource::erase::<k8s_openapi::api::rbac::v1::ClusterRole>(&());
    let source_role = super::enable::source_role_name(&ftc.spec.target_type);
    // What the members' federation ClusterRoles keep: the types still propagated.
    let others: Vec<FederatedTypeConfig> = configs.iter().filter(|c| c.name_any() != name).cloned().collect();
    let remaining = fedapi::enabled_targets(&others);
    let mut host = Writer::new(client.clone(), ctx);
    if !opts.delete_crd {
        let patch = json!({ "spec": { "propagation": "Disabled" } });
        host.merge_patch(&ftc_ar, true, Some(ctx.fed_ns()), &name, &patch, "disabled").await?;
        // Nothing propagates the type any more, so nothing may read or write it on its behalf:
        // the host component's read access to its sources and the members' rights go (`enable`
        // grants both again).
        host.delete(&role_ar, false, None, &source_role).await?;
        super::join::sync_member_roles(ctx, &mut host, &remaining).await?;
        return host.finish();
    }
    let fed = &ftc.spec.federated_type;
    let existing = match fed_api(&client, fed, None).list_metadata(&ListParams::default()).await {
        Ok(list) => list.items,
        Err(e) if crate::errors::is_status(&e, 404) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    if !existing.is_empty() {
        let names: Vec<String> = existing
            .iter()
            .take(10)
            .map(|o| {
                fedapi::ns_kind_name(
                    o.metadata.namespace.as_deref(),
                    &fed.kind,
                    o.metadata.name.as_deref().unwrap_or(""),
                )
            })
            .collect();
        let more = if existing.len() > 10 { format!(" and {} more", existing.len() - 10) } else { String::new() };
        bail!(
            "{} {} objects still exist ({}{more}); delete them first so their member copies are removed, then rerun",
            existing.len(),
            fed.kind,
            names.join(", ")
        );
    }
    host.delete(&ftc_ar, true, Some(ctx.fed_ns()), &name).await?;
    host.delete(&role_ar, false, None, &source_role).await?;
    let crd_ar = ApiResource::erase::<CustomResourceDefinition>(&());
    host.delete(&crd_ar, false, None, &fed.qualified_plural()).await?;
    super::join::sync_member_roles(ctx, &mut host, &remaining).await?;
    host.finish()
}

/// The type config for TYPE: by its name (`deployments.apps`), else through discovery.
async fn find(ctx: &Ctx, configs: &[FederatedTypeConfig], type_name: &str) -> Result<FederatedTypeConfig> {
    if let Some(c) = configs.iter().find(|c| c.name_any() == type_name) {
        return Ok(c.clone());
    }
    let resources = super::host_resources(ctx).await?;
    let res = resources.resolve(type_name)?;
    let found = if res.group == TYPES_GROUP {
        fedapi::config_for_federated(configs, &res.kind)
    } else {
        fedapi::config_for(configs, &res.group, &res.kind)
    };
    match found {
        Some(c) => Ok(c.clone()),
        None => bail!("{} is not enabled for federation", res.qualified()),
    }
}
