//! `kubectl fed unjoin NAME [--keep-resources] [--force] [--cluster-context CTX]`.
//!
//! Steps, each printed:
//! 1. Refuse while a placement names the cluster explicitly (`Federated<Kind>`
//!    `spec.placement.clusters`, or a source's `kubefed.io/placement`), listing them as
//!    `namespace/Kind/name` — unless `--force`. Refuse an unreachable member unless `--force`.
//! 2. On the host: the cluster's KubeFedCluster and Secret. This comes first (issue 5 lists it
//!    last) because selector and `*` placements keep naming every joined cluster: while the
//!    KubeFedCluster exists the sync controller re-creates on the member whatever is deleted
//!    there, and namespaces being emptied under it do not finish terminating.
//! 3. On the member, unless `--keep-resources`: every object labelled
//!    `kubefed.io/managed=true` of every enabled type, managed namespaces last (waiting for them
//!    to go).
//! 4. On the member: the ClusterRoleBinding, ClusterRole, token Secret and ServiceAccount join
//!    made, and the federation namespace when join created it (never on the host itself); then
//!    a last sweep for anything an in-flight sync wrote meanwhile.
//!
//! The member is reached through its kubeconfig context (`--cluster-context`, else one named
//! like the cluster, else one whose server is the cluster's endpoint). Without one, the
//! federation's own token deletes the managed objects and the service account/RBAC are
//! reported as left behind. An unreachable member stops the unjoin unless `--force`, which
//! removes the host side and lists exactly what stayed on the member.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use clap::Args;
use fed_core::annotations::{PlacementAnnotation, parse_placement};
use fed_core::api::{ApiResourceRef, FederatedTypeConfig, KubeFedCluster};
use fed_core::keys::{FEDERATED_LABEL, HOST_LABEL, MANAGED_LABEL, PLACEMENT};
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, ListParams};
use kube::core::{ApiResource, ObjectMeta};
use kube::{Client, ResourceExt};

use crate::apply::Writer;
use crate::context::{Ctx, DryRun, client_from_token};
use crate::errors::{is_status, is_unreachable, one_line};
use crate::fedapi::{self, CREATED_BY_JOIN_LABEL, MemberNames, dyn_api, fed_api};
use crate::kubeconfig::normalize_server;
use crate::output;

/// Remove a member cluster, cleaning up what the federation put there
#[derive(Args, Debug)]
pub struct UnjoinOptions {
    /// Name of the joined cluster
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Kubeconfig context of the member (default: one named NAME, or whose server is the cluster's endpoint)
    #[arg(long, value_name = "CONTEXT")]
    pub cluster_context: Option<String>,
    /// Leave the objects the federation rolled out on the member in place
    #[arg(long)]
    pub keep_resources: bool,
    /// Unjoin even while placements name the cluster, or when it is unreachable
    #[arg(long)]
    pub force: bool,
    /// Seconds to wait for deleted namespaces to disappear from the member
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pub timeout: u64,
}

/// How the member is reached.
enum Access {
    /// Admin credentials from a kubeconfig context.
    Context(String, Client),
    /// Only the federation's token (from the host Secret).
    Token(String, Client),
    /// Not at all.
    Unreachable(String),
}

impl UnjoinOptions {
    /// NAME must be a cluster name (a DNS label).
    fn validate(&self) -> Result<()> {
        fed_core::names::dns1123_label(&self.name).map_err(|e| anyhow!("invalid cluster name {:?}: {e}", self.name))?;
        Ok(())
    }
}

/// Removes the member: its placements checked, its copies, RBAC and host records deleted.
pub async fn run(ctx: &Ctx, opts: UnjoinOptions) -> Result<()> {
    opts.validate()?;
    let name = opts.name.as_str();
    let fed_ns = ctx.fed_ns();
    let host_client = ctx.host().await?;
    let configs = fedapi::type_configs(&host_client, fed_ns, &ctx.host_context).await?;
    let clusters = fedapi::clusters(&host_client, fed_ns, &ctx.host_context).await?;
    let cluster = joined_cluster(&clusters, &opts)?;
    // 1. Placements that still name the cluster.
    check_references(&references(&host_client, &configs, name).await?, &opts)?;

    let host_endpoint = ctx.endpoint(&ctx.host_context)?;
    let member_server = match (&cluster, &opts.cluster_context) {
        (Some(c), _) => Some(c.spec.api_endpoint.clone()),
        (None, Some(context)) => ctx.endpoint(context).ok().map(|e| e.server),
        (None, None) => None,
    };
    let is_host = cluster.as_ref().is_some_and(|c| c.labels().get(HOST_LABEL).is_some_and(|v| v == "true"))
        || member_server.is_some_and(|s| normalize_server(&s) == normalize_server(&host_endpoint.server));
    let targets: Vec<ApiResourceRef> = configs.iter().map(|c| c.spec.target_type.clone()).collect();
    let names = MemberNames::for_cluster(name);

    let access = member_access(ctx, &host_client, cluster.as_ref(), &opts).await?;
    if let Access::Unreachable(why) = &access
        && !opts.force
    {
        bail!(
            "cluster {name:?} is unreachable ({why}); pass --force to remove it from the federation anyway (what the federation created there is then left behind)"
        );
    }

    // 2. The host side: the controllers stop writing to the member.
    let mut host = Writer::new(host_client.clone(), ctx).labelled(&ctx.host_context);
    let secret_name =
        cluster.as_ref().map(|c| c.spec.secret_ref.name.clone()).unwrap_or_else(|| names.host_secret.clone());
    host.delete(&ApiResource::erase::<KubeFedCluster>(&()), true, Some(fed_ns), name).await?;
    host.delete(&ApiResource::erase::<Secret>(&()), true, Some(fed_ns), &secret_name).await?;

    let member = MemberSide { name, names: &names, fed_ns, is_host, targets: &targets, configs: &configs };
    let left_behind = clean_member(ctx, &opts, &access, &member).await?;
    report_left_behind(name, &access, &left_behind);
    if ctx.dry_run() == DryRun::None {
        println!("cluster {name} unjoined");
    }
    host.finish()
}

/// The KubeFedCluster being unjoined; `None` only for `--force --cluster-context` on a cluster
/// that already left.
fn joined_cluster(clusters: &[KubeFedCluster], opts: &UnjoinOptions) -> Result<Option<KubeFedCluster>> {
    let name = opts.name.as_str();
    let cluster = clusters.iter().find(|c| c.name_any() == name).cloned();
    if cluster.is_none() && !(opts.force && opts.cluster_context.is_some()) {
        let joined: Vec<String> = clusters.iter().map(|c| c.name_any()).collect();
        let hint = fed_core::suggest::did_you_mean(name, joined.iter().map(String::as_str));
        bail!(
            "cluster {name:?} is not joined (joined: {}){hint}; to clean up a cluster that already left, pass --force --cluster-context CONTEXT",
            if joined.is_empty() { "none".to_string() } else { joined.join(", ") }
        );
    }
    Ok(cluster)
}

/// Refuses (or with `--force`, warns) while placements still name the cluster.
fn check_references(refs: &BTreeSet<String>, opts: &UnjoinOptions) -> Result<()> {
    if refs.is_empty() {
        return Ok(());
    }
    let name = &opts.name;
    let list = refs.iter().cloned().collect::<Vec<_>>().join(", ");
    if !opts.force {
        bail!(
            "cluster {name:?} is still named by {} placement(s): {list}; remove it from them (kubectl fed place …) or pass --force",
            refs.len()
        );
    }
    output::warn(format!("unjoining {name} although placements still name it: {list}"));
    Ok(())
}

/// What the cleanup of one member needs to know.
struct MemberSide<'a> {
    name: &'a str,
    names: &'a MemberNames,
    fed_ns: &'a str,
    is_host: bool,
    targets: &'a [ApiResourceRef],
    configs: &'a [FederatedTypeConfig],
}

/// Steps 3 and 4 on the member, as far as `access` reaches; returns what stays behind.
async fn clean_member(ctx: &Ctx, opts: &UnjoinOptions, access: &Access, m: &MemberSide<'_>) -> Result<Vec<String>> {
    let (name, targets) = (m.name, m.targets);
    let mut left_behind: Vec<String> = Vec::new();
    let timeout = Duration::from_secs(opts.timeout);
    let (context, client) = match access {
        Access::Unreachable(_) => {
            if !opts.keep_resources {
                left_behind.push(format!("every object labelled {MANAGED_LABEL}=true ({})", type_list(targets)));
            }
            left_behind.extend(member_side_names(m.names, m.fed_ns, m.is_host));
            return Ok(left_behind);
        }
        Access::Context(context, client) | Access::Token(context, client) => (context, client),
    };
    let mut member = Writer::new(client.clone(), ctx).labelled(name);
    member.step(format!("reaching cluster {name} through {context}"));
    let admin = matches!(access, Access::Context(..));
    // The federation's own token is granted only the enabled types (join's ClusterRole).
    let reachable = if admin { targets.to_vec() } else { fedapi::enabled_targets(m.configs) };
    let cleanup = async {
        // 3. What the federation rolled out.
        if !opts.keep_resources {
            delete_managed(&mut member, &reachable, timeout).await?;
        }
        // 4. What join made, then anything written meanwhile.
        if admin {
            delete_member_side(&mut member, m.names, m.fed_ns, name, m.is_host, timeout).await?;
            if !opts.keep_resources && !member.dry_run().active() {
                delete_managed(&mut member, targets, timeout).await?;
            }
        }
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = cleanup {
        bail!(
            "cluster {name} left the federation, but cleaning it up failed: {}; finish with `kubectl fed unjoin {name} --force --cluster-context CONTEXT`",
            one_line(&e)
        );
    }
    if !admin {
        let unreachable: Vec<ApiResourceRef> = targets.iter().filter(|t| !reachable.contains(t)).cloned().collect();
        if !opts.keep_resources && !unreachable.is_empty() {
            left_behind.push(format!(
                "every object labelled {MANAGED_LABEL}=true of the disabled types ({})",
                type_list(&unreachable)
            ));
        }
        left_behind.extend(member_side_names(m.names, m.fed_ns, m.is_host));
    }
    Ok(left_behind)
}

/// Lists what stayed on the member and how to remove it later.
fn report_left_behind(name: &str, access: &Access, left_behind: &[String]) {
    if left_behind.is_empty() {
        return;
    }
    let why = match access {
        Access::Unreachable(_) => "it was unreachable",
        _ => "no kubeconfig context with admin rights reaches it",
    };
    println!("Left behind on cluster {name} ({why}):");
    for item in left_behind {
        println!("  {item}");
    }
    println!("Remove them later with `kubectl fed unjoin {name} --force --cluster-context CONTEXT`.");
}

fn type_list(targets: &[ApiResourceRef]) -> String {
    let mut names: Vec<String> = targets.iter().map(ApiResourceRef::qualified_plural).collect();
    if !names.iter().any(|n| n == "namespaces") {
        names.push("namespaces".into());
    }
    names.join(", ")
}

fn member_side_names(names: &MemberNames, fed_ns: &str, is_host: bool) -> Vec<String> {
    let mut v = vec![
        format!("ClusterRoleBinding {}", names.cluster_role),
        format!("ClusterRole {}", names.cluster_role),
        format!("Secret {fed_ns}/{}", names.token_secret),
        format!("ServiceAccount {fed_ns}/{}", names.service_account),
    ];
    if !is_host {
        v.push(format!("Namespace {fed_ns} (if join created it: label {CREATED_BY_JOIN_LABEL})"));
    }
    v
}

/// `namespace/Kind/name` of every placement that names `cluster` explicitly. Objects being
/// deleted, or in a namespace being deleted, do not count: they are on their way out, and the
/// unjoin removes their copies anyway.
async fn references(client: &Client, configs: &[FederatedTypeConfig], cluster: &str) -> Result<BTreeSet<String>> {
    let namespaces = Api::<Namespace>::all(client.clone()).list_metadata(&ListParams::default()).await?;
    let leaving: BTreeSet<String> = namespaces
        .items
        .into_iter()
        .filter(|n| n.metadata.deletion_timestamp.is_some())
        .map(|n| n.name_any())
        .collect();
    let going = |meta: &ObjectMeta| {
        meta.deletion_timestamp.is_some() || meta.namespace.as_ref().is_some_and(|ns| leaving.contains(ns))
    };
    let mut refs = BTreeSet::new();
    for ftc in configs {
        let fed = &ftc.spec.federated_type;
        match fed_api(client, fed, None).list(&ListParams::default()).await {
            Ok(list) => {
                for obj in list.items {
                    let named = obj.spec.placement.clusters.iter().flatten().any(|c| c.name == cluster);
                    if !named || going(&obj.metadata) {
                        continue;
                    }
                    // A federated object made from a source is reported as the source.
                    let owner = obj.owner_references().iter().find(|o| o.controller == Some(true));
                    let (kind, oname) = match owner {
                        Some(o) => (o.kind.clone(), o.name.clone()),
                        None => (fed.kind.clone(), obj.name_any()),
                    };
                    refs.insert(fedapi::ns_kind_name(obj.metadata.namespace.as_deref(), &kind, &oname));
                }
            }
            Err(e) if is_status(&e, 404) => {}
            Err(e) => return Err(anyhow::Error::from(e).context(format!("listing {}", fed.kind))),
        }
        let target = &ftc.spec.target_type;
        let api = dyn_api(client, &target.api_resource(), true, None);
        match api.list_metadata(&ListParams::default()).await {
            Ok(list) => {
                for obj in list.items {
                    let named = obj.annotations().get(PLACEMENT).and_then(|v| parse_placement(v).ok()).is_some_and(
                        |p| matches!(p, PlacementAnnotation::Clusters(names) if names.iter().any(|n| n == cluster)),
                    );
                    if named && !going(&obj.metadata) {
                        refs.insert(fedapi::ns_kind_name(
                            obj.metadata.namespace.as_deref(),
                            &target.kind,
                            &obj.name_any(),
                        ));
                    }
                }
            }
            Err(e) if is_status(&e, 404) => {}
            Err(e) => return Err(anyhow::Error::from(e).context(format!("listing {}", target.qualified_plural()))),
        }
    }
    Ok(refs)
}

async fn member_access(
    ctx: &Ctx,
    host: &Client,
    cluster: Option<&KubeFedCluster>,
    opts: &UnjoinOptions,
) -> Result<Access> {
    let context = opts
        .cluster_context
        .clone()
        .or_else(|| cluster.and_then(|c| ctx.kubeconfig.context_for_cluster(&c.name_any(), &c.spec.api_endpoint)));
    let (client, kind) = match (&context, cluster) {
        (Some(context), _) => (ctx.client_for(context).await?, Some(context.clone())),
        (None, Some(c)) => {
            output::note(format!(
                "no kubeconfig context reaches cluster {} ({}); using the federation's token from secret {}/{}",
                c.name_any(),
                c.spec.api_endpoint,
                ctx.fed_ns(),
                c.spec.secret_ref.name
            ));
            let secrets: Api<Secret> = Api::namespaced(host.clone(), ctx.fed_ns());
            let secret = secrets
                .get_opt(&c.spec.secret_ref.name)
                .await
                .with_context(|| format!("reading secret {}/{}", ctx.fed_ns(), c.spec.secret_ref.name))?;
            let token = secret
                .and_then(|s| s.data)
                .and_then(|d| d.get("token").cloned())
                .map(|t| String::from_utf8_lossy(&t.0).into_owned());
            let Some(token) = token else {
                return Ok(Access::Unreachable(format!(
                    "no kubeconfig context, and secret {} holds no token",
                    c.spec.secret_ref.name
                )));
            };
            let ca = c.spec.ca_bundle.as_deref().map(crate::b64::decode).transpose()?;
            let insecure = c.spec.disabled_tls_validations.iter().any(|v| v == "*");
            (client_from_token(&c.spec.api_endpoint, ca.as_deref(), insecure, &token)?, None)
        }
        (None, None) => unreachable!("checked by the caller"),
    };
    let probe: Api<Namespace> = Api::all(client.clone());
    match tokio::time::timeout(Duration::from_secs(15), probe.list_metadata(&ListParams::default().limit(1))).await {
        Err(_) => return Ok(Access::Unreachable("no answer within 15s".into())),
        Ok(Err(e)) => {
            let e = anyhow::Error::from(e);
            if is_unreachable(&e) {
                return Ok(Access::Unreachable(one_line(&e)));
            }
            // Answered (e.g. Forbidden for the federation token): reachable.
        }
        Ok(Ok(_)) => {}
    }
    Ok(match kind {
        Some(context) => Access::Context(format!("context {context}"), client),
        None => Access::Token("the federation's token".to_string(), client),
    })
}

/// True for a source object (labelled `kubefed.io/federated=true` by the webhook, or carrying
/// placement annotations): unjoin never deletes those.
pub fn is_source_object(
    labels: &std::collections::BTreeMap<String, String>,
    annotations: &std::collections::BTreeMap<String, String>,
) -> bool {
    labels.get(FEDERATED_LABEL).is_some_and(|v| v == "true") || fed_core::annotations::is_source(annotations)
}

/// Delete every managed object of the enabled types, namespaces last, then wait for the
/// namespaces to disappear.
async fn delete_managed(member: &mut Writer, targets: &[ApiResourceRef], timeout: Duration) -> Result<()> {
    let lp = ListParams::default().labels(&format!("{MANAGED_LABEL}=true"));
    let client = member.client().clone();
    for target in targets.iter().filter(|t| !t.is_namespace()) {
        let ar = target.api_resource();
        let namespaced = target.scope == fed_core::api::Scope::Namespaced;
        let list = match dyn_api(&client, &ar, namespaced, None).list_metadata(&lp).await {
            Ok(l) => l.items,
            Err(e) if is_status(&e, 404) => continue,
            Err(e) => {
                return Err(
                    anyhow::Error::from(e).context(format!("listing {} on the member", target.qualified_plural()))
                );
            }
        };
        for obj in list {
            if is_source_object(obj.labels(), obj.annotations()) {
                // On a member that is also the host, a source carries the managed label when a
                // Federated<Kind> once wrote to it; it is the user's object, never a copy.
                member.step(format!("{} kept (a federation source)", fedapi::display_ref(&ar, &obj.name_any())));
                continue;
            }
            member.delete(&ar, namespaced, obj.metadata.namespace.as_deref(), &obj.name_any()).await?;
        }
    }
    let ns_ar = ApiResource::erase::<Namespace>(&());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let managed = namespaces.list_metadata(&lp).await.context("listing namespaces on the member")?.items;
    let mut pending = Vec::new();
    for ns in managed {
        let n = ns.name_any();
        if is_source_object(ns.labels(), ns.annotations()) {
            member.step(format!("namespace/{n} kept (a federation source)"));
            continue;
        }
        member.delete(&ns_ar, false, None, &n).await?;
        pending.push(n);
    }
    for n in member.wait_namespaces_gone(&pending, timeout).await? {
        output::warn(format!("namespace {n} is still terminating after {}s", timeout.as_secs()));
    }
    Ok(())
}

async fn delete_member_side(
    member: &mut Writer,
    names: &MemberNames,
    fed_ns: &str,
    cluster: &str,
    is_host: bool,
    timeout: Duration,
) -> Result<()> {
    member.delete(&ApiResource::erase::<ClusterRoleBinding>(&()), false, None, &names.cluster_role).await?;
    member.delete(&ApiResource::erase::<ClusterRole>(&()), false, None, &names.cluster_role).await?;
    member.delete(&ApiResource::erase::<Secret>(&()), true, Some(fed_ns), &names.token_secret).await?;
    member.delete(&ApiResource::erase::<ServiceAccount>(&()), true, Some(fed_ns), &names.service_account).await?;
    if is_host {
        return Ok(());
    }
    let namespaces: Api<Namespace> = Api::all(member.client().clone());
    if let Some(ns) = namespaces.get_metadata_opt(fed_ns).await? {
        if ns.labels().get(CREATED_BY_JOIN_LABEL).is_some_and(|v| v == cluster) {
            member.delete(&ApiResource::erase::<Namespace>(&()), false, None, fed_ns).await?;
            // A join right after must not find it half gone.
            for n in member.wait_namespaces_gone(&[fed_ns.to_string()], timeout).await? {
                output::warn(format!("namespace {n} is still terminating after {}s", timeout.as_secs()));
            }
        } else {
            member.step(format!("namespace/{fed_ns} kept (join did not create it)"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn sources_are_never_cleaned_up() {
        assert!(is_source_object(&map(&[("kubefed.io/federated", "true")]), &map(&[])));
        assert!(is_source_object(&map(&[]), &map(&[("kubefed.io/placement", "vulcan")])));
        assert!(is_source_object(&map(&[]), &map(&[("kubefed.io/cluster-selector", "")])));
        assert!(!is_source_object(&map(&[("kubefed.io/managed", "true")]), &map(&[("kubefed.io/origin", "x")])));
    }

    #[test]
    fn left_behind_lists_what_join_made() {
        let names = MemberNames::for_cluster("kronos");
        let member = member_side_names(&names, "fed", false);
        assert_eq!(member[0], "ClusterRoleBinding kubefed:member:kronos");
        assert!(member.iter().any(|m| m == "ServiceAccount fed/kubefed-kronos"));
        assert!(member.last().unwrap().starts_with("Namespace fed"));
        assert!(!member_side_names(&names, "fed", true).iter().any(|m| m.starts_with("Namespace")));
        let t = fed_core::crd::well_known_targets();
        assert_eq!(type_list(&t[1..2]), "deployments.apps, namespaces");
    }
}
