//! The members' federation ClusterRoles: least privilege on exactly the enabled types.
//!
//! The member ClusterRole grants exactly get/list/watch/create/update/patch/delete on the types
//! enabled (propagation `Enabled`) plus namespaces, list/watch on nodes and pods (the
//! controllers' capacity ledger: what each node offers, what its pods request, which pods are
//! unschedulable), and `get` on `/readyz` for the health probe.
//! It grants nothing on RBAC, so the federation's token can never widen its own rights (no
//! `escalate`/`bind`). `join` writes it; `enable` and `disable` rewrite it through each
//! *member's kubeconfig context* (one named like the cluster, or one whose server is the
//! cluster's API endpoint), the same admin credentials `join` used. A member without such a
//! context is reported with the fix: `kubectl fed join NAME --cluster-context CTX --overwrite`.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use fed_core::api::ApiResourceRef;
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use kube::ResourceExt;
use kube::core::ObjectMeta;

use crate::apply::{Obj, Writer};
use crate::context::Ctx;
use crate::fedapi::{self, JOINED_AS_LABEL, MANAGED_BY, MemberNames};
use crate::output;

/// Verbs the sync controller needs on a federated type (and on namespaces): what `enable`
/// requires of a type and what the members' federation ClusterRoles grant.
pub const SYNC_VERBS: [&str; 7] = ["get", "list", "watch", "create", "update", "patch", "delete"];

/// What the controllers' capacity ledger watches on every member (read only).
pub const CAPACITY_RESOURCES: [&str; 2] = ["nodes", "pods"];

/// The member ClusterRole's rules: full rights on the enabled types and namespaces (grouped by
/// API group, sorted), list/watch on nodes and pods, `get` on `/readyz`.
pub fn member_rules(targets: &[ApiResourceRef]) -> Vec<PolicyRule> {
    let mut by_group: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    by_group.entry(String::new()).or_default().insert("namespaces".to_string());
    for t in targets {
        by_group.entry(t.group.clone()).or_default().insert(t.plural_name.clone());
    }
    let verbs: Vec<String> = SYNC_VERBS.iter().map(|v| v.to_string()).collect();
    let mut rules: Vec<PolicyRule> = by_group
        .into_iter()
        .map(|(group, resources)| PolicyRule {
            api_groups: Some(vec![group]),
            resources: Some(resources.into_iter().collect()),
            verbs: verbs.clone(),
            ..Default::default()
        })
        .collect();
    rules.push(PolicyRule {
        api_groups: Some(vec![String::new()]),
        resources: Some(CAPACITY_RESOURCES.iter().map(|r| r.to_string()).collect()),
        verbs: vec!["list".to_string(), "watch".to_string()],
        ..Default::default()
    });
    rules.push(PolicyRule {
        non_resource_urls: Some(vec!["/readyz".to_string()]),
        verbs: vec!["get".to_string()],
        ..Default::default()
    });
    rules
}

/// The labels of everything `join` creates on a member for `cluster`.
pub fn member_labels(cluster: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/managed-by".to_string(), MANAGED_BY.to_string()),
        (JOINED_AS_LABEL.to_string(), cluster.to_string()),
    ])
}

/// Metadata of an object `join` creates on a member for `cluster`.
pub fn member_meta(name: &str, namespace: Option<&str>, cluster: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        labels: Some(member_labels(cluster)),
        ..Default::default()
    }
}

/// The member ClusterRole for `cluster`.
pub fn member_cluster_role(cluster: &str, targets: &[ApiResourceRef]) -> ClusterRole {
    let names = MemberNames::for_cluster(cluster);
    ClusterRole {
        metadata: member_meta(&names.cluster_role, None, cluster),
        rules: Some(member_rules(targets)),
        ..Default::default()
    }
}

/// Make every joined member's federation ClusterRole cover exactly `targets` (plus namespaces),
/// through the members' kubeconfig contexts (see the module documentation). Problems are
/// warnings: the type configuration itself has already changed.
pub async fn sync_member_roles(ctx: &Ctx, host: &mut Writer, targets: &[ApiResourceRef]) -> Result<()> {
    let clusters = fedapi::clusters(host.client(), ctx.fed_ns(), &ctx.host_context).await?;
    for cluster in clusters {
        let name = cluster.name_any();
        let Some(context) = ctx.kubeconfig.context_for_cluster(&name, &cluster.spec.api_endpoint) else {
            output::warn(format!(
                "no kubeconfig context reaches cluster {name} ({}); its federation ClusterRole was not widened — run `kubectl fed join {name} --cluster-context CONTEXT --overwrite`",
                cluster.spec.api_endpoint
            ));
            continue;
        };
        let result = async {
            let client = ctx.client_for(&context).await?;
            let mut member = Writer::new(client, ctx).with_dry_run(host.dry_run()).labelled(&name);
            member.apply(&Obj::typed(&member_cluster_role(&name, targets))?).await?;
            host.absorb(&mut member);
            anyhow::Ok(())
        }
        .await;
        if let Err(e) = result {
            output::warn(format!(
                "cluster {name}: could not update its federation ClusterRole through context {context}: {}; rerun `kubectl fed join {name} --cluster-context {context} --overwrite` when it is reachable",
                crate::errors::one_line(&e)
            ));
        }
    }
    Ok(())
}

/// The members' federation ClusterRoles as `enable` and `disable` keep them: which types are
/// enabled now, and writing the roles for a set of types.
pub trait MemberRoles {
    /// The enabled target types, read from the API server.
    async fn enabled(&mut self) -> Result<Vec<ApiResourceRef>>;
    /// Makes every member's role cover exactly `targets`.
    async fn write(&mut self, targets: &[ApiResourceRef]) -> Result<()>;
}

/// The members' roles of the federation `ctx` names, written through `host`.
struct LiveRoles<'a> {
    ctx: &'a Ctx,
    host: &'a mut Writer,
}

impl MemberRoles for LiveRoles<'_> {
    async fn enabled(&mut self) -> Result<Vec<ApiResourceRef>> {
        let configs = fedapi::type_configs(self.host.client(), self.ctx.fed_ns(), &self.ctx.host_context).await?;
        Ok(fedapi::enabled_targets(&configs))
    }

    async fn write(&mut self, targets: &[ApiResourceRef]) -> Result<()> {
        sync_member_roles(self.ctx, self.host, targets).await
    }
}

/// Rounds of [`settle`] before a federation whose types keep changing is reported instead.
const SETTLE_ROUNDS: usize = 5;

/// [`sync_member_roles`] for `targets`, then again for as long as the enabled types read back
/// differ from those last written (not under dry run, which changes nothing to read back).
pub async fn settle_member_roles(ctx: &Ctx, host: &mut Writer, targets: Vec<ApiResourceRef>) -> Result<()> {
    if host.dry_run().active() {
        return sync_member_roles(ctx, host, &targets).await;
    }
    if !settle(&mut LiveRoles { ctx, host }, targets, SETTLE_ROUNDS).await? {
        output::warn(
            "the enabled types kept changing while the members' federation ClusterRoles were written; run `kubectl fed enable` again for any type whose copies report a Forbidden error",
        );
    }
    Ok(())
}

/// Writes the roles for `targets`, then re-reads the enabled types and writes again until they
/// match what was written last; false if they still differ after `rounds` re-reads.
///
/// Two `enable`s (or an `enable` and a `disable`) run at once can each read the type configs
/// before the other's change lands; whichever writes the roles last would then leave out the
/// other's type. Each run re-reads after writing, so the run that writes last also reads last,
/// and its read includes every change made before its write.
pub async fn settle(roles: &mut impl MemberRoles, targets: Vec<ApiResourceRef>, rounds: usize) -> Result<bool> {
    let mut written = targets;
    roles.write(&written).await?;
    for _ in 0..rounds {
        let now = roles.enabled().await?;
        if same_types(&now, &written) {
            return Ok(true);
        }
        roles.write(&now).await?;
        written = now;
    }
    Ok(false)
}

/// True when `a` and `b` name the same types (by group and kind), whatever their order.
fn same_types(a: &[ApiResourceRef], b: &[ApiResourceRef]) -> bool {
    let set = |l: &[ApiResourceRef]| l.iter().map(|t| (t.group.clone(), t.kind.clone())).collect::<BTreeSet<_>>();
    set(a) == set(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::tests::fake;

    /// Roles whose enabled types change under them as `script` says, one entry per read.
    struct ScriptedRoles {
        script: Vec<Vec<ApiResourceRef>>,
        writes: Vec<Vec<String>>,
    }

    impl MemberRoles for ScriptedRoles {
        async fn enabled(&mut self) -> Result<Vec<ApiResourceRef>> {
            let next = if self.script.len() > 1 { self.script.remove(0) } else { self.script[0].clone() };
            Ok(next)
        }

        async fn write(&mut self, targets: &[ApiResourceRef]) -> Result<()> {
            self.writes.push(targets.iter().map(|t| t.kind.clone()).collect());
            Ok(())
        }
    }

    fn types(kinds: &[&str]) -> Vec<ApiResourceRef> {
        let r = fake();
        kinds.iter().map(|k| r.resolve(k).unwrap().to_ref()).collect()
    }

    #[tokio::test]
    async fn a_type_enabled_meanwhile_is_written_too() {
        // This run read [Deployment] before another run's ConfigMap landed; the other run wrote
        // its roles first, so this run's write would have dropped ConfigMap.
        let mut roles = ScriptedRoles { script: vec![types(&["Deployment", "ConfigMap"])], writes: vec![] };
        assert!(settle(&mut roles, types(&["Deployment"]), 5).await.unwrap());
        assert_eq!(roles.writes, [vec!["Deployment"], vec!["Deployment", "ConfigMap"]]);
    }

    #[tokio::test]
    async fn nothing_changed_means_one_write() {
        let mut roles = ScriptedRoles { script: vec![types(&["ConfigMap", "Deployment"])], writes: vec![] };
        assert!(settle(&mut roles, types(&["Deployment", "ConfigMap"]), 5).await.unwrap());
        assert_eq!(roles.writes.len(), 1, "the same types in another order are no change");
    }

    #[tokio::test]
    async fn types_that_keep_changing_are_reported_after_the_rounds() {
        let script = vec![types(&["ConfigMap"]), types(&["Deployment"]), types(&["ConfigMap"])];
        let mut roles = ScriptedRoles { script, writes: vec![] };
        assert!(!settle(&mut roles, types(&["Deployment"]), 2).await.unwrap());
        assert_eq!(roles.writes.len(), 3);
    }
    #[test]
    fn member_role_is_least_privilege() {
        let r = fake();
        let targets = [
            r.resolve("deploy").unwrap().to_ref(),
            r.resolve("svc").unwrap().to_ref(),
            r.resolve("cm").unwrap().to_ref(),
        ];
        let rules = member_rules(&targets);
        let summary: Vec<(Vec<String>, Vec<String>)> = rules
            .iter()
            .map(|r| (r.api_groups.clone().unwrap_or_default(), r.resources.clone().unwrap_or_default()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (vec!["".to_string()], vec!["configmaps".to_string(), "namespaces".into(), "services".into()]),
                (vec!["apps".to_string()], vec!["deployments".to_string()]),
                (vec!["".to_string()], vec!["nodes".to_string(), "pods".into()]),
                (vec![], vec![]),
            ]
        );
        assert_eq!(rules[2].verbs, ["list", "watch"], "nodes and pods are only read");
        assert_eq!(rules[3].non_resource_urls.as_deref(), Some(&["/readyz".to_string()][..]));
        assert_eq!(rules[3].verbs, ["get"]);
        for rule in &rules {
            assert!(!rule.verbs.iter().any(|v| v == "*" || v == "escalate" || v == "bind"));
            assert!(!rule.resources.iter().flatten().any(|r| r == "*"));
        }
        // Namespaces only, before anything is enabled.
        assert_eq!(member_rules(&[])[0].resources.as_deref(), Some(&["namespaces".to_string()][..]));
    }
}
