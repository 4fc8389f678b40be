//! Access to the federation's own objects on the host, and naming shared by join/unjoin.

use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use fed_core::api::{ApiResourceRef, Federated, FederatedTypeConfig, KubeFedCluster, Scope as RefScope};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams};
use kube::core::{ApiResource, DynamicObject};
use kube::runtime::wait::conditions;
use kube::{Client, ResourceExt};

use crate::context::Ctx;
use crate::discovery::{self, split_type_name};
use crate::errors::is_status;
use crate::waiting;

/// An `Api` for any resource: namespaced to `ns` when the resource is namespaced and `ns` is
/// given, else cluster-wide (all namespaces for list).
pub fn dyn_api(client: &Client, ar: &ApiResource, namespaced: bool, ns: Option<&str>) -> Api<DynamicObject> {
    match (namespaced, ns) {
        (true, Some(ns)) => Api::namespaced_with(client.clone(), ns, ar),
        _ => Api::all_with(client.clone(), ar),
    }
}

/// An `Api` for a `Federated<Kind>`.
pub fn fed_api(client: &Client, federated: &ApiResourceRef, ns: Option<&str>) -> Api<Federated> {
    let ar = federated.api_resource();
    match (federated.scope, ns) {
        (RefScope::Namespaced, Some(ns)) => Api::namespaced_with(client.clone(), ns, &ar),
        _ => Api::all_with(client.clone(), &ar),
    }
}

/// kubectl's `resource/name` form: `deployment.apps/web`, `namespace/demo`.
pub fn display_ref(ar: &ApiResource, name: &str) -> String {
    let kind = ar.kind.to_ascii_lowercase();
    if ar.group.is_empty() { format!("{kind}/{name}") } else { format!("{kind}.{}/{name}", ar.group) }
}

/// `namespace/kind/name` (or `kind/name` when cluster-scoped), as unjoin lists placements.
pub fn ns_kind_name(ns: Option<&str>, kind: &str, name: &str) -> String {
    match ns {
        Some(ns) if !ns.is_empty() => format!("{ns}/{kind}/{name}"),
        _ => format!("{kind}/{name}"),
    }
}

/// Turn "the API does not exist" into the hint to install.
fn not_installed(err: kube::Error, what: &str, context: &str) -> anyhow::Error {
    if is_status(&err, 404) {
        anyhow::anyhow!(
            "the federation is not installed on context {context:?} (no {what} API); run `kubectl fed install --context {context}`"
        )
    } else {
        anyhow::Error::from(err).context(format!("listing {what}s"))
    }
}

/// Every FederatedTypeConfig, sorted by name.
pub async fn type_configs(client: &Client, fed_ns: &str, context: &str) -> Result<Vec<FederatedTypeConfig>> {
    let api: Api<FederatedTypeConfig> = Api::namespaced(client.clone(), fed_ns);
    let mut items =
        api.list(&ListParams::default()).await.map_err(|e| not_installed(e, "FederatedTypeConfig", context))?.items;
    items.sort_by_key(|f| f.name_any());
    Ok(items)
}

/// Every joined cluster, sorted by name.
pub async fn clusters(client: &Client, fed_ns: &str, context: &str) -> Result<Vec<KubeFedCluster>> {
    let api: Api<KubeFedCluster> = Api::namespaced(client.clone(), fed_ns);
    let mut items =
        api.list(&ListParams::default()).await.map_err(|e| not_installed(e, "KubeFedCluster", context))?.items;
    items.sort_by_key(|c| c.name_any());
    Ok(items)
}

/// A KubeFedCluster as fed-core's placement sees it.
pub fn joined(c: &KubeFedCluster) -> fed_core::placement::JoinedCluster {
    fed_core::placement::JoinedCluster {
        name: c.name_any(),
        labels: c.labels().clone(),
        offline: c.is_offline(),
        is_host: c.labels().get(fed_core::keys::HOST_LABEL).is_some_and(|v| v == "true"),
    }
}

/// The target types whose propagation is enabled: what the members' federation ClusterRoles
/// grant (a Disabled type is not propagated, so the federation needs no rights on it).
pub fn enabled_targets(configs: &[FederatedTypeConfig]) -> Vec<ApiResourceRef> {
    configs.iter().filter(|c| c.is_enabled()).map(|c| c.spec.target_type.clone()).collect()
}

/// The type config whose target has this group and kind.
pub fn config_for<'a>(configs: &'a [FederatedTypeConfig], group: &str, kind: &str) -> Option<&'a FederatedTypeConfig> {
    configs.iter().find(|c| c.spec.target_type.group == group && c.spec.target_type.kind == kind)
}

/// The type config whose federated type has this kind (e.g. `FederatedDeployment`).
pub fn config_for_federated<'a>(configs: &'a [FederatedTypeConfig], kind: &str) -> Option<&'a FederatedTypeConfig> {
    configs.iter().find(|c| c.spec.federated_type.kind == kind)
}

/// Wait until every named CRD reports `Established=True`.
pub async fn wait_established(client: &Client, names: &[String], timeout: Duration) -> Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let late = waiting::all_until(names, timeout, |name, deadline| {
        let api = api.clone();
        async move {
            let held = waiting::until(api, &name, deadline, conditions::is_crd_established())
                .await
                .with_context(|| format!("reading CRD {name}"))?;
            Ok(held.is_some())
        }
    })
    .await?;
    if let Some(name) = late.first() {
        bail!("CRD {name} is not Established after {}s", timeout.as_secs());
    }
    Ok(())
}

/// Names of what `join` creates for a member called `cluster`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberNames {
    /// ServiceAccount on the member (federation namespace).
    pub service_account: String,
    /// Its token Secret on the member (federation namespace).
    pub token_secret: String,
    /// ClusterRole and ClusterRoleBinding on the member.
    pub cluster_role: String,
    /// Secret on the host (federation namespace) holding the member token.
    pub host_secret: String,
}

impl MemberNames {
    pub fn for_cluster(cluster: &str) -> MemberNames {
        MemberNames {
            service_account: format!("kubefed-{cluster}"),
            token_secret: format!("kubefed-{cluster}-token"),
            cluster_role: format!("kubefed:member:{cluster}"),
            host_secret: format!("{cluster}-token"),
        }
    }
}

/// Label on everything join creates, naming the joined cluster.
pub const JOINED_AS_LABEL: &str = "kubefed.io/joined-as";
/// Label on a member namespace that join created (and unjoin may therefore delete).
pub const CREATED_BY_JOIN_LABEL: &str = "kubefed.io/created-by-join";
/// `app.kubernetes.io/managed-by` value on what kubectl-fed creates.
pub const MANAGED_BY: &str = "kubectl-fed";

/// The federated object TYPE/NAME (`target`) names in the context's namespace, with its type
/// config: TYPE may be a `Federated<Kind>` or the ordinary type it federates (deployment/web).
pub async fn federated_of(
    ctx: &Ctx,
    configs: &[FederatedTypeConfig],
    target: &str,
) -> Result<(FederatedTypeConfig, Federated)> {
    let (type_name, name) = split_type_name(target)?;
    let resources = discovery::host_resources(ctx).await?;
    let res = resources.resolve(type_name)?;
    let ftc = if res.group == fed_core::api::TYPES_GROUP {
        config_for_federated(configs, &res.kind)
    } else {
        config_for(configs, &res.group, &res.kind)
    }
    .ok_or_else(|| {
        anyhow!("{} is not enabled for federation; run `kubectl fed enable {}`", res.qualified(), res.qualified())
    })?;
    let client = ctx.host().await?;
    let api = fed_api(&client, &ftc.spec.federated_type, Some(&ctx.namespace));
    let fed = api.get_opt(name).await.with_context(|| format!("reading {} {name}", ftc.spec.federated_type.kind))?;
    let Some(fed) = fed else {
        bail!(
            "{target} is not federated: no {} {name} in namespace {} (federate it with `kubectl fed place` or `kubectl fed federate`)",
            ftc.spec.federated_type.kind,
            ctx.namespace
        );
    };
    Ok((ftc.clone(), fed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_read_like_kubectl() {
        let deploy = ApiResource {
            group: "apps".into(),
            version: "v1".into(),
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            plural: "deployments".into(),
        };
        assert_eq!(display_ref(&deploy, "web"), "deployment.apps/web");
        let ns = ApiResource {
            group: "".into(),
            version: "v1".into(),
            api_version: "v1".into(),
            kind: "Namespace".into(),
            plural: "namespaces".into(),
        };
        assert_eq!(display_ref(&ns, "demo"), "namespace/demo");
        assert_eq!(ns_kind_name(Some("demo"), "Deployment", "web"), "demo/Deployment/web");
        assert_eq!(ns_kind_name(None, "ClusterRole", "x"), "ClusterRole/x");
    }

    #[test]
    fn member_names() {
        let n = MemberNames::for_cluster("vulcan");
        assert_eq!(n.service_account, "kubefed-vulcan");
        assert_eq!(n.token_secret, "kubefed-vulcan-token");
        assert_eq!(n.cluster_role, "kubefed:member:vulcan");
        assert_eq!(n.host_secret, "vulcan-token");
    }
}
