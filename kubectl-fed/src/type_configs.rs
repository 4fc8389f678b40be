//! Type configs: which types can be federated, and what enabling one writes on the host (the
//! `Federated<Kind>` CRD, the host component's read access to its sources, the
//! FederatedTypeConfig) before the members' ClusterRoles are widened ([`crate::member_rbac`]).
//! Used by `enable`, `federate --enable-type` and `install`.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use fed_core::api::{ApiResourceRef, CORE_GROUP, FederatedTypeConfig, FederatedTypeConfigSpec, TYPES_GROUP};
use fed_core::crd::federated_crd;
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use kube::ResourceExt;
use kube::core::ObjectMeta;

use crate::apply::{Obj, Writer};
use crate::context::Ctx;
use crate::discovery::ResourceInfo;
use crate::fedapi;
use crate::member_rbac::{self, SYNC_VERBS};

/// Why a type cannot be federated, if it cannot.
pub fn refuse(res: &ResourceInfo) -> Option<String> {
    if res.group == TYPES_GROUP || res.group == CORE_GROUP {
        return Some(format!("{} belongs to the federation itself and cannot be federated", res.qualified()));
    }
    let missing: Vec<&str> = SYNC_VERBS.iter().copied().filter(|v| !res.has_verbs(&[v])).collect();
    if !missing.is_empty() {
        return Some(format!(
            "{} cannot be federated: the server does not allow {} on it",
            res.qualified(),
            missing.join(", ")
        ));
    }
    None
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
    // Rights first, then the type config: the controllers start watching the type as soon as it
    // is enabled, on the host (its sources) and on every member (the copies).
    let mut all = fedapi::enabled_targets(&fedapi::type_configs(host.client(), ctx.fed_ns(), &ctx.host_context).await?);
    for t in targets {
        if !all.iter().any(|a| a.group == t.group && a.kind == t.kind) {
            all.push(t.clone());
        }
    }
    member_rbac::sync_member_roles(ctx, host, &all).await?;
    for target in targets {
        host.apply(&Obj::typed(&source_role(target))?).await?;
        host.apply(&Obj::typed(&type_config(ctx.fed_ns(), target))?).await?;
    }
    member_rbac::settle_member_roles(ctx, host, all).await
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
