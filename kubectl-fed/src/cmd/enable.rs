//! `kubectl fed enable TYPE`: a FederatedTypeConfig and the Federated&lt;Kind&gt; CRD.
//!
//! TYPE is resolved through host discovery (`deploy`, `deployments.apps`, `widgets.example.com`).
//! The CRD is applied first and must be Established before the type config appears, so the
//! controllers never watch a resource that does not exist yet. Joined members' federation
//! ClusterRoles are then widened to the new type (see [`super::join`] for why this goes
//! through the members' kubeconfig contexts).

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clap::Args;
use fed_core::api::{ApiResourceRef, CORE_GROUP, FederatedTypeConfig, FederatedTypeConfigSpec, TYPES_GROUP};
use fed_core::crd::federated_crd;
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::ResourceExt;
use kube::api::Api;
use kube::core::ObjectMeta;
use std::collections::BTreeMap;

use crate::apply::{Obj, Writer};
use crate::context::Ctx;
use crate::discovery::ResourceInfo;
use crate::fedapi;

/// Enable federation of a Kubernetes type
#[derive(Args, Debug)]
pub struct EnableOptions {
    /// The type (e.g. deployments.apps, deploy, services, a CRD's plural.group)
    #[arg(value_name = "TYPE")]
    pub type_name: String,
    /// Seconds to wait for the Federated<Kind> CRD to be Established
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub timeout: u64,
}

/// Verbs the sync controller needs on a federated type.
pub const REQUIRED_VERBS: [&str; 7] = ["get", "list", "watch", "create", "update", "patch", "delete"];

/// Why a type cannot be federated, if it cannot.
pub fn refuse(res: &ResourceInfo) -> Option<String> {
    if res.group == TYPES_GROUP || res.group == CORE_GROUP {
        return Some(format!("{} belongs to the federation itself and cannot be federated", res.qualified()));
    }
    let missing: Vec<&str> = REQUIRED_VERBS.iter().copied().filter(|v| !res.has_verbs(&[v])).collect();
    if !missing.is_empty() {
        return Some(format!(
            "{} cannot be federated: the server does not allow {} on it",
            res.qualified(),
            missing.join(", ")
        ));
    }
    None
}

pub async fn run(ctx: &Ctx, opts: EnableOptions) -> Result<()> {
    let res = &resolve_fresh(ctx, &opts.type_name, Duration::from_secs(opts.timeout)).await?;
    if let Some(why) = refuse(res) {
        bail!(why);
    }
    let client = ctx.host().await?;
    // Fails early with the install hint when the federation is not installed.
    fedapi::type_configs(&client, ctx.fed_ns(), &ctx.host_context).await?;
    let mut host = Writer::new(client, ctx);
    enable_types(ctx, &mut host, &[res.to_ref()], Duration::from_secs(opts.timeout)).await?;
    host.finish()
}

/// Resolves TYPE through host discovery. A CRD named TYPE that the server does not serve yet
/// (`kubectl apply -f crd.yaml && kubectl fed enable widgets.example.com`: discovery lists it
/// only once it is Established) is waited for, up to `timeout`.
async fn resolve_fresh(ctx: &Ctx, type_name: &str, timeout: Duration) -> Result<ResourceInfo> {
    let deadline = Instant::now() + timeout;
    let crds: Api<CustomResourceDefinition> = Api::all(ctx.host().await?);
    loop {
        let resources = super::host_resources(ctx).await?;
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

/// Enable every target (CRD, wait, type config), then widen the members' ClusterRoles.
pub async fn enable_types(ctx: &Ctx, host: &mut Writer, targets: &[ApiResourceRef], timeout: Duration) -> Result<()> {
    let mut crd_names = Vec::new();
    for target in targets {
        let crd = federated_crd(target);
        crd_names.push(crd.metadata.name.clone().unwrap_or_default());
        host.apply(&Obj::typed(&crd)?).await?;
    }
    if !host.dry_run().active() {
        fedapi::wait_established(host.client(), &crd_names, timeout).await?;
    }
    for target in targets {
        host.apply(&Obj::typed(&source_role(target))?).await?;
        host.apply(&Obj::typed(&type_config(ctx.fed_ns(), target))?).await?;
    }
    let mut all = fedapi::enabled_targets(&fedapi::type_configs(host.client(), ctx.fed_ns(), &ctx.host_context).await?);
    for t in targets {
        if !all.iter().any(|a| a.group == t.group && a.kind == t.kind) {
            all.push(t.clone());
        }
    }
    super::join::settle_member_roles(ctx, host, all).await
}

/// Label that makes RBAC aggregation add a ClusterRole to the host component's
/// `kubectl-fed-webhook-sources` role (manifests/host/source-roles.yaml).
pub const AGGREGATE_LABEL: &str = "kubefed.io/aggregate-to-webhook";

/// Name of the host component's read access to sources of `target`.
pub fn source_role_name(target: &ApiResourceRef) -> String {
    format!("kubectl-fed-webhook-source:{}", target.qualified_plural())
}

/// The host component's access to sources of `target`: read and watch them, and set
/// `blockOwnerDeletion` owner references to them (update on `<resource>/finalizers`).
pub fn source_role(target: &ApiResourceRef) -> ClusterRole {
    let rule = |resource: String, verbs: &[&str]| PolicyRule {
        api_groups: Some(vec![target.group.clone()]),
        resources: Some(vec![resource]),
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        ..Default::default()
    };
    ClusterRole {
        metadata: ObjectMeta {
            name: Some(source_role_name(target)),
            labels: Some(BTreeMap::from([
                ("app.kubernetes.io/name".to_string(), "kubectl-fed".to_string()),
                ("app.kubernetes.io/component".to_string(), "webhook".to_string()),
                ("app.kubernetes.io/managed-by".to_string(), fedapi::MANAGED_BY.to_string()),
                (AGGREGATE_LABEL.to_string(), "true".to_string()),
            ])),
            ..Default::default()
        },
        rules: Some(vec![
            rule(target.plural_name.clone(), &["get", "list", "watch"]),
            rule(format!("{}/finalizers", target.plural_name), &["update"]),
        ]),
        ..Default::default()
    }
}

/// The FederatedTypeConfig for `target`, named `plural.group`.
pub fn type_config(fed_ns: &str, target: &ApiResourceRef) -> FederatedTypeConfig {
    let mut ftc =
        FederatedTypeConfig::new(&target.qualified_plural(), FederatedTypeConfigSpec::for_target(target.clone()));
    ftc.metadata.namespace = Some(fed_ns.to_string());
    ftc.labels_mut().insert("app.kubernetes.io/managed-by".into(), fedapi::MANAGED_BY.into());
    ftc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::tests::fake;

    #[test]
    fn type_config_is_named_plural_dot_group() {
        let r = fake();
        let ftc = type_config("kube-federation-system", &r.resolve("deploy").unwrap().to_ref());
        assert_eq!(ftc.name_any(), "deployments.apps");
        assert_eq!(ftc.spec.federated_type.kind, "FederatedDeployment");
        assert_eq!(type_config("x", &r.resolve("svc").unwrap().to_ref()).name_any(), "services");
    }

    #[test]
    fn source_roles_aggregate_into_the_host_component() {
        let role = source_role(&fake().resolve("deploy").unwrap().to_ref());
        assert_eq!(role.name_any(), "kubectl-fed-webhook-source:deployments.apps");
        assert_eq!(role.labels().get(AGGREGATE_LABEL).map(String::as_str), Some("true"));
        let rules = role.rules.unwrap();
        assert_eq!(rules[0].resources.as_deref(), Some(&["deployments".to_string()][..]));
        assert_eq!(rules[1].resources.as_deref(), Some(&["deployments/finalizers".to_string()][..]));
        assert_eq!(rules[1].verbs, ["update"]);
    }

    #[test]
    fn federation_types_are_refused() {
        let r = fake();
        assert!(refuse(r.resolve("federateddeployments").unwrap()).unwrap().contains("federation itself"));
        assert_eq!(refuse(r.resolve("deploy").unwrap()), None);
        let mut readonly = r.resolve("cm").unwrap().clone();
        readonly.verbs = vec!["get".into(), "list".into()];
        assert!(refuse(&readonly).unwrap().contains("watch, create, update, patch, delete"));
    }
}
