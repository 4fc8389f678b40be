//! `kubectl fed disable TYPE [--force] [--delete-crd]`.
//!
//! As in KubeFed: by default the type config stays and its propagation is switched to
//! `Disabled` (federated objects are kept, nothing is propagated). While federated objects of
//! the type exist, that refuses and lists them unless `--force`: once disabled, nothing updates
//! their member copies, and deleting them (the controllers then only release the sync
//! finalizer, see fed-webhook's release controller) leaves the copies behind. `--delete-crd`
//! removes the type config and the `Federated<Kind>` CRD, and always refuses while federated
//! objects of the type exist (deleting the CRD would strand their member copies).
//! Either way the host component loses read access to the type's sources and the members'
//! federation ClusterRoles stop granting it (least privilege; `enable` grants both again).

use anyhow::{Result, bail};
use clap::Args;
use fed_core::api::{ApiResourceRef, FederatedTypeConfig, TYPES_GROUP};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::ListParams;
use kube::core::{ApiResource, ObjectMeta};
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::apply::Writer;
use crate::context::Ctx;
use crate::fedapi::{self, fed_api};
use crate::{discovery, member_rbac, type_configs};

/// Disable federation of a type (optionally deleting its `Federated<Kind>` CRD)
#[derive(Args, Debug)]
pub struct DisableOptions {
    /// The type (e.g. deployments.apps, deploy)
    #[arg(value_name = "TYPE")]
    pub type_name: String,
    /// Disable even though federated objects of the type exist (their member copies stay as they are)
    #[arg(long, conflicts_with = "delete_crd")]
    pub force: bool,
    /// Also delete the FederatedTypeConfig and the `Federated<Kind>` CRD
    #[arg(long)]
    pub delete_crd: bool,
}

impl DisableOptions {
    /// TYPE must be given; it is looked up among the type configs when the command runs.
    fn validate(&self) -> Result<()> {
        if self.type_name.trim().is_empty() {
            bail!("TYPE must not be empty (e.g. deployments.apps)");
        }
        Ok(())
    }
}

/// Disables TYPE: its type config (or, with --delete-crd, also its CRD) and the members' roles.
pub async fn run(ctx: &Ctx, opts: DisableOptions) -> Result<()> {
    opts.validate()?;
    let client = ctx.host().await?;
    let configs = fedapi::type_configs(&client, ctx.fed_ns(), &ctx.host_context).await?;
    let ftc = find(ctx, &configs, &opts.type_name).await?;
    let name = ftc.name_any();
    if ftc.spec.target_type.is_namespace() {
        bail!("{name} stays enabled: FederatedNamespace placements govern every other federated type");
    }
    let ftc_ar = ApiResource::erase::<FederatedTypeConfig>(&());
    let role_ar = ApiResource::erase::<k8s_openapi::api::rbac::v1::ClusterRole>(&());
    let source_role = type_configs::source_role_name(&ftc.spec.target_type);
    // What the members' federation ClusterRoles keep: the types still propagated.
    let others: Vec<FederatedTypeConfig> = configs.iter().filter(|c| c.name_any() != name).cloned().collect();
    let remaining = fedapi::enabled_targets(&others);
    let mut host = Writer::new(client.clone(), ctx);
    let fed = &ftc.spec.federated_type;
    let existing = federated_objects(&client, fed).await?;
    // `--force` conflicts with `--delete-crd`; a type already disabled has nothing left to lose.
    let refuse = if opts.delete_crd { true } else { !opts.force && ftc.is_enabled() };
    if !existing.is_empty() && refuse {
        let listed = list(&existing, &fed.kind);
        if opts.delete_crd {
            bail!("{listed} still exist; delete them first so their member copies are removed, then rerun");
        }
        bail!(
            "{listed} exist: once {name} is disabled nothing updates their member copies, and deleting them leaves the copies behind; delete them first, or pass --force to disable anyway"
        );
    }
    if !opts.delete_crd {
        let patch = json!({ "spec": { "propagation": "Disabled" } });
        host.merge_patch(&ftc_ar, true, Some(ctx.fed_ns()), &name, &patch, "disabled").await?;
        // Nothing propagates the type any more, so nothing may read or write it on its behalf:
        // the host component's read access to its sources and the members' rights go (`enable`
        // grants both again).
        host.delete(&role_ar, false, None, &source_role).await?;
        member_rbac::settle_member_roles(ctx, &mut host, remaining).await?;
        return host.finish();
    }
    host.delete(&ftc_ar, true, Some(ctx.fed_ns()), &name).await?;
    host.delete(&role_ar, false, None, &source_role).await?;
    let crd_ar = ApiResource::erase::<CustomResourceDefinition>(&());
    host.delete(&crd_ar, false, None, &fed.qualified_plural()).await?;
    member_rbac::settle_member_roles(ctx, &mut host, remaining).await?;
    host.finish()
}

/// Every `Federated<Kind>` object of `fed` (none when its CRD is gone).
async fn federated_objects(client: &Client, fed: &ApiResourceRef) -> Result<Vec<ObjectMeta>> {
    match fed_api(client, fed, None).list_metadata(&ListParams::default()).await {
        Ok(list) => Ok(list.items.into_iter().map(|o| o.metadata).collect()),
        Err(e) if crate::errors::is_status(&e, 404) => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// `3 FederatedWidget objects (ns/FederatedWidget/a, …)`, naming at most ten.
fn list(objects: &[ObjectMeta], kind: &str) -> String {
    let names: Vec<String> = objects
        .iter()
        .take(10)
        .map(|m| fedapi::ns_kind_name(m.namespace.as_deref(), kind, m.name.as_deref().unwrap_or("")))
        .collect();
    let more = if objects.len() > 10 { format!(" and {} more", objects.len() - 10) } else { String::new() };
    format!("{} {kind} objects ({}{more})", objects.len(), names.join(", "))
}

/// The type config for TYPE: by its name (`deployments.apps`), else through discovery.
async fn find(ctx: &Ctx, configs: &[FederatedTypeConfig], type_name: &str) -> Result<FederatedTypeConfig> {
    if let Some(c) = configs.iter().find(|c| c.name_any() == type_name) {
        return Ok(c.clone());
    }
    let resources = discovery::host_resources(ctx).await?;
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
