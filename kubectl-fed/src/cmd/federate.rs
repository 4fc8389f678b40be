//! `kubectl fed federate namespace NS [--contents] [--enable-type] [--follow]` and
//! `kubectl fed federate TYPE NAME`.
//!
//! Creates (server-side apply, so reruns are idempotent) the `Federated<Kind>` of an existing
//! object, its template taken with fed-core's `template_from_source`. For a namespace: the
//! FederatedNamespace `NS` in `NS`, and with `--contents` one `Federated<Kind>` per
//! user-made object of every listable namespaced type in it — what controllers make is skipped
//! (see [`skip_reason`]). Placement: `--clusters` when given; else every joined cluster
//! (`clusterSelector: {}`), or for a single object the placement of its namespace's
//! FederatedNamespace. Types not enabled are enabled with `--enable-type`, else listed in the
//! error. `federate TYPE NAME` first asks each placed member whether it accepts its copy
//! ([`crate::member_check`]; `--skip-member-check` skips that). `--follow` then makes the namespace follow ([`crate::follow`]): objects created
//! there later are federated by the follow webhook. `-o yaml|json` prints the objects instead
//! of creating them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use clap::Args;
use fed_core::api::{ApiResourceRef, CORE_GROUP, Federated, FederatedTypeConfig, Placement, TYPES_GROUP};
use fed_core::contents::{self, Skip};
use fed_core::render::template_from_source;
use kube::api::ListParams;
use kube::core::ObjectMeta;
use serde_json::{Value, json};

use crate::apply::{Obj, Writer};
use crate::context::{Ctx, DryRun};
use crate::discovery::{ResourceInfo, Resources, split_type_name};
use crate::fedapi::{self, display_ref, dyn_api, fed_api};
use crate::output;
use crate::{discovery, follow, member_check, type_configs};

/// Create `Federated<Kind>` objects from existing objects (`namespace NS --contents` or `TYPE NAME`)
///
/// With `-o yaml|json` the objects are printed instead of created.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  kubectl fed federate namespace demo --contents --enable-type
  kubectl fed federate deployment web -n demo --clusters vulcan,kronos
  kubectl fed federate namespace demo --contents -o yaml")]
pub struct FederateOptions {
    /// The type (`namespace` to federate a namespace), or TYPE/NAME
    #[arg(value_name = "TYPE")]
    pub type_name: String,
    /// Name of the object (the namespace's name for `namespace`)
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
    /// With `namespace NS`: also federate every user-made object in the namespace
    #[arg(long)]
    pub contents: bool,
    /// Enable the types that are not enabled yet
    #[arg(long)]
    pub enable_type: bool,
    /// Place on these clusters (comma list; default: every joined cluster, or the namespace's placement)
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub clusters: Vec<String>,
    /// With `namespace NS`: objects created in the namespace later are federated too (the
    /// namespace is labelled kubefed.io/follow=true; see `kubectl fed follow`)
    #[arg(long)]
    pub follow: bool,
    /// With TYPE NAME: do not ask the members first (a server-side dry run of each copy)
    #[arg(long)]
    pub skip_member_check: bool,
    /// With --contents: resource types to leave out (comma list or repeated)
    #[arg(long, value_name = "TYPES", value_delimiter = ',')]
    pub skip_api_resources: Vec<String>,
}

/// Resources never federated by `--contents` (whole types): fed-core's one rule.
pub fn skip_type(res: &ResourceInfo) -> bool {
    contents::skip_type(&res.group, &res.kind)
}

/// Why `--contents` leaves an object out, if it does: fed-core's one rule
/// ([`fed_core::contents::skip_reason`]), which the follow webhook applies to new objects.
pub fn skip_reason(res: &ResourceInfo, obj: &Value) -> Option<Skip> {
    let metadata: ObjectMeta = serde_json::from_value(obj["metadata"].clone()).unwrap_or_default();
    contents::skip_reason(&res.group, &res.kind, &metadata, obj["type"].as_str())
}

/// The `Federated<Kind>` for `obj` of `target`.
pub fn federated_object(target: &ApiResourceRef, obj: &Value, placement: &Placement) -> Result<Obj> {
    let fed = target.federated();
    let name = obj["metadata"]["name"].as_str().ok_or_else(|| anyhow!("object without a name"))?;
    let namespace = if target.is_namespace() { Some(name) } else { obj["metadata"]["namespace"].as_str() };
    let mut metadata = json!({ "name": name });
    if let Some(ns) = namespace {
        metadata["namespace"] = json!(ns);
    }
    let value = json!({
        "apiVersion": fed.api_version(),
        "kind": fed.kind,
        "metadata": metadata,
        "spec": {
            "template": template_from_source(obj),
            "placement": placement,
        },
    });
    Obj::dynamic(fed.api_resource(), fed.scope == fed_core::api::Scope::Namespaced, value)
}

fn placement_for(clusters: &[String]) -> Placement {
    if clusters.is_empty() {
        Placement { clusters: None, cluster_selector: Some(Default::default()) }
    } else {
        Placement::clusters(clusters.iter().map(String::as_str))
    }
}

impl FederateOptions {
    fn validate(&self) -> Result<(String, String)> {
        let (type_name, name) = match (&self.name, self.type_name.split_once('/')) {
            (Some(n), None) => (self.type_name.clone(), n.clone()),
            (None, Some(_)) => {
                let (t, n) = split_type_name(&self.type_name)?;
                (t.to_string(), n.to_string())
            }
            (None, None) => bail!("expected TYPE NAME (e.g. `namespace demo` or `deployment web`)"),
            (Some(_), Some(_)) => bail!("give either TYPE NAME or TYPE/NAME, not both"),
        };
        for c in &self.clusters {
            fed_core::names::dns1123_label(c).map_err(|e| anyhow!("--clusters: {c:?} is not a cluster name: {e}"))?;
        }
        Ok((type_name, name))
    }
}

/// Federates the object (or namespace, with `--contents` its objects too).
pub async fn run(ctx: &Ctx, opts: FederateOptions) -> Result<()> {
    let (type_name, name) = opts.validate()?;
    let resources = discovery::host_resources(ctx).await?;
    let res = resources.resolve(&type_name)?.clone();
    if res.group == TYPES_GROUP || res.group == CORE_GROUP {
        bail!("{} is already a federation type", res.qualified());
    }
    if opts.contents && !res.to_ref().is_namespace() {
        bail!("--contents only applies to `federate namespace NS`");
    }
    if opts.follow && !res.to_ref().is_namespace() {
        bail!("--follow only applies to `federate namespace NS`");
    }
    let client = ctx.host().await?;
    let configs = fedapi::type_configs(&client, ctx.fed_ns(), &ctx.host_context).await?;
    let clusters = fedapi::clusters(&client, ctx.fed_ns(), &ctx.host_context).await?;
    let joined: Vec<String> = clusters.iter().map(kube::ResourceExt::name_any).collect();
    check_joined(&opts.clusters, &joined)?;

    let (items, placement) = what_to_federate(ctx, &opts, &client, &resources, &res, &configs, &name).await?;

    let print_only = ctx.output().is_some_and(|o| o.is_document());
    let mut host = Writer::new(client.clone(), ctx);
    if print_only && !ctx.dry_run().active() {
        host = host.with_dry_run(DryRun::Client);
    }
    let target_of = |r: &ResourceInfo| {
        fedapi::config_for(&configs, &r.group, &r.kind)
            .map(|c| c.spec.target_type.clone())
            .unwrap_or_else(|| r.to_ref())
    };
    if let [(r, obj)] = items.as_slice()
        && !res.to_ref().is_namespace()
        && !opts.skip_member_check
    {
        let target = target_of(r);
        let fed: Federated = serde_json::from_value(federated_object(&target, obj, &placement)?.to_value())?;
        member_check::check(ctx, &fed, &target, &clusters).await?;
    }
    enable_missing(ctx, &mut host, &resources, &configs, &items, opts.enable_type).await?;

    let mut count = 0usize;
    for (r, obj) in &items {
        host.apply(&federated_object(&target_of(r), obj, &placement)?).await?;
        count += 1;
    }
    if opts.follow {
        follow::start(&mut host, &name, &follow::Recorded::of_clusters(&opts.clusters)).await?;
    }
    if !print_only && !ctx.dry_run().active() && res.to_ref().is_namespace() {
        output::note(format!("federated namespace {name} and {} object(s) in it", count - 1));
        if opts.follow {
            output::note(format!(
                "objects created in {name} from now on are federated too (kubectl fed follow {name} --stop ends this)"
            ));
        }
    }
    host.finish()
}

/// The (resource, object) pairs to federate, and their placement: a namespace (with
/// `--contents` its objects too) on `--clusters`, or one object on `--clusters` or else its
/// namespace's placement.
async fn what_to_federate(
    ctx: &Ctx,
    opts: &FederateOptions,
    client: &kube::Client,
    resources: &Resources,
    res: &ResourceInfo,
    configs: &[FederatedTypeConfig],
    name: &str,
) -> Result<(Vec<(ResourceInfo, Value)>, Placement)> {
    let mut items: Vec<(ResourceInfo, Value)> = Vec::new();
    let placement;
    if res.to_ref().is_namespace() {
        let ns_obj = get(client, res, None, name).await?;
        items.push((res.clone(), ns_obj));
        if opts.contents {
            items.extend(contents(ctx, resources, name, &opts.skip_api_resources).await?);
        }
        placement = placement_for(&opts.clusters);
    } else {
        let ns = res.namespaced.then_some(ctx.namespace.as_str());
        let obj = get(client, res, ns, name).await?;
        match skip_reason(res, &obj) {
            Some(why) if why.federated_already() => {
                bail!(
                    "{} is {}; change its placement with `kubectl fed place`",
                    display_ref(&res.api_resource(), name),
                    why.reason()
                )
            }
            Some(why) => output::warn(format!(
                "{} is {}; federating it anyway",
                display_ref(&res.api_resource(), name),
                why.reason()
            )),
            None => {}
        }
        items.push((res.clone(), obj));
        placement = match (opts.clusters.is_empty(), ns) {
            (false, _) | (true, None) => placement_for(&opts.clusters),
            (true, Some(ns)) => namespace_placement(client, configs, ns).await?.unwrap_or_else(|| placement_for(&[])),
        };
    }
    Ok((items, placement))
}

/// Refuses `--clusters` naming a cluster that is not joined.
fn check_joined(clusters: &[String], joined: &[String]) -> Result<()> {
    for c in clusters {
        if !joined.contains(c) {
            let hint = fed_core::suggest::did_you_mean(c, joined.iter().map(String::as_str));
            bail!("--clusters: cluster {c:?} is not joined (joined: {}){hint}", joined.join(", "));
        }
    }
    Ok(())
}

/// Enables the types of `items` that are not enabled yet (with `--enable-type`; refused
/// without it, or when a type cannot be federated).
async fn enable_missing(
    ctx: &Ctx,
    host: &mut Writer,
    resources: &Resources,
    configs: &[FederatedTypeConfig],
    items: &[(ResourceInfo, Value)],
    enable_type: bool,
) -> Result<()> {
    let mut missing: BTreeMap<String, ApiResourceRef> = BTreeMap::new();
    for (r, _) in items {
        if fedapi::config_for(configs, &r.group, &r.kind).is_none() {
            missing.insert(r.qualified(), r.to_ref());
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    if !enable_type {
        let list: Vec<&str> = missing.keys().map(String::as_str).collect();
        bail!(
            "not enabled for federation: {}; enable them with `kubectl fed enable TYPE` or pass --enable-type",
            list.join(", ")
        );
    }
    for r in missing.values() {
        if let Some(why) = resources.by_group_kind(&r.group, &r.kind).and_then(type_configs::refuse) {
            bail!(why);
        }
    }
    let targets: Vec<ApiResourceRef> = missing.into_values().collect();
    type_configs::enable_types(ctx, host, &targets, Duration::from_secs(60)).await
}

async fn get(client: &kube::Client, res: &ResourceInfo, ns: Option<&str>, name: &str) -> Result<Value> {
    let ar = res.api_resource();
    let obj = dyn_api(client, &ar, res.namespaced, ns)
        .get_opt(name)
        .await
        .with_context(|| format!("reading {}", display_ref(&ar, name)))?
        .ok_or_else(|| match ns {
            Some(ns) => anyhow!("{} not found in namespace {ns}", display_ref(&ar, name)),
            None => anyhow!("{} not found", display_ref(&ar, name)),
        })?;
    let mut v = serde_json::to_value(obj)?;
    v["apiVersion"] = json!(ar.api_version);
    v["kind"] = json!(ar.kind);
    Ok(v)
}

/// The placement of the namespace's FederatedNamespace, if there is one.
async fn namespace_placement(
    client: &kube::Client,
    configs: &[FederatedTypeConfig],
    ns: &str,
) -> Result<Option<Placement>> {
    let Some(ftc) = fedapi::config_for(configs, "", "Namespace") else { return Ok(None) };
    let api = fed_api(client, &ftc.spec.federated_type, Some(ns));
    let list = match api.list(&ListParams::default()).await {
        Ok(l) => l.items,
        Err(e) if crate::errors::is_status(&e, 404) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok(list.into_iter().next().map(|f| f.spec.placement))
}

/// Every user-made object of every listable namespaced type in `ns`.
async fn contents(ctx: &Ctx, resources: &Resources, ns: &str, skip: &[String]) -> Result<Vec<(ResourceInfo, Value)>> {
    let mut skipped_types = BTreeSet::new();
    for s in skip {
        skipped_types.insert(resources.resolve(s)?.qualified());
    }
    let client = ctx.host().await?;
    let types: Vec<&ResourceInfo> = resources
        .namespaced_listable()
        .filter(|r| !skip_type(r) && !skipped_types.contains(&r.qualified()) && r.has_verbs(&["get"]))
        .collect();
    let lists = futures::future::join_all(types.iter().map(|r| {
        let api = dyn_api(&client, &r.api_resource(), true, Some(ns));
        async move { api.list(&ListParams::default()).await }
    }))
    .await;
    let mut out = Vec::new();
    let mut skipped: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for (r, list) in types.into_iter().zip(lists) {
        let list = match list {
            Ok(l) => l,
            Err(e) if crate::errors::is_status(&e, 404) || crate::errors::is_status(&e, 405) => continue,
            Err(e) => return Err(anyhow::Error::from(e).context(format!("listing {} in {ns}", r.qualified()))),
        };
        for obj in list.items {
            let mut v = serde_json::to_value(&obj)?;
            v["apiVersion"] = json!(r.api_version());
            v["kind"] = json!(r.kind);
            let name = obj.metadata.name.clone().unwrap_or_default();
            match skip_reason(r, &v) {
                Some(why) => skipped.entry(why.reason()).or_default().push(display_ref(&r.api_resource(), &name)),
                None => out.push((r.clone(), v)),
            }
        }
    }
    for (why, objects) in skipped {
        let shown: Vec<&str> = objects.iter().take(5).map(String::as_str).collect();
        let more = if objects.len() > 5 { format!(", and {} more", objects.len() - 5) } else { String::new() };
        let noun = if objects.len() == 1 { "object" } else { "objects" };
        output::note(format!("skipped {} {noun} ({why}): {}{more}", objects.len(), shown.join(", ")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::tests::fake;

    fn reason(res: &ResourceInfo, obj: &Value) -> Option<&'static str> {
        skip_reason(res, obj).map(Skip::reason)
    }

    fn obj(name: &str, extra: Value) -> Value {
        let mut v = json!({ "metadata": { "name": name, "namespace": "demo" } });
        json_patch::merge(&mut v, &extra);
        v
    }

    #[test]
    fn controller_made_objects_are_skipped() {
        let r = fake();
        let res_of = |kind: &str, group: &str| {
            let mut x = r.resolve("cm").unwrap().clone();
            x.kind = kind.into();
            x.group = group.into();
            x
        };
        let cm = r.resolve("cm").unwrap();
        let deploy = r.resolve("deploy").unwrap();
        let owned = obj(
            "web-abc",
            json!({"metadata": {"ownerReferences": [{"controller": true, "kind": "Deployment", "name": "web"}]}}),
        );
        assert_eq!(reason(&res_of("ReplicaSet", "apps"), &owned), Some("owned by a controller"));
        let gc_only = obj("x", json!({"metadata": {"ownerReferences": [{"kind": "ConfigMap", "name": "y"}]}}));
        assert_eq!(reason(cm, &gc_only), None, "non-controller owners do not make it controller-made");
        assert_eq!(reason(cm, &obj("kube-root-ca.crt", json!({}))), Some("published by the root CA controller"));
        assert_eq!(
            reason(&res_of("ServiceAccount", ""), &obj("default", json!({}))),
            Some("the default ServiceAccount")
        );
        assert_eq!(reason(&res_of("ServiceAccount", ""), &obj("robot", json!({}))), None);
        assert_eq!(
            reason(&res_of("Secret", ""), &obj("t", json!({"type": "kubernetes.io/service-account-token"}))),
            Some("a token Secret")
        );
        assert_eq!(reason(&res_of("Secret", ""), &obj("t", json!({"type": "Opaque"}))), None);
        for (kind, group) in [
            ("Endpoints", ""),
            ("EndpointSlice", "discovery.k8s.io"),
            ("Event", ""),
            ("Event", "events.k8s.io"),
            ("Lease", "coordination.k8s.io"),
        ] {
            assert_eq!(reason(&res_of(kind, group), &obj("x", json!({}))), Some("made by a controller"), "{kind}");
        }
        assert_eq!(
            reason(deploy, &obj("web", json!({"metadata": {"labels": {"kubefed.io/managed": "true"}}}))),
            Some("a copy written by the federation")
        );
        assert_eq!(
            reason(deploy, &obj("web", json!({"metadata": {"annotations": {"kubefed.io/placement": "vulcan"}}}))),
            Some("federated through its kubefed.io/ annotations")
        );
        assert_eq!(reason(deploy, &obj("web", json!({"spec": {"replicas": 1}}))), None);
        assert!(skip_type(r.resolve("federateddeployments").unwrap()));
    }

    #[test]
    fn federated_objects_have_template_and_placement() {
        let r = fake();
        let deploy = r.resolve("deploy").unwrap().to_ref();
        let src = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "demo", "uid": "u", "resourceVersion": "1", "labels": {"app": "web"}},
            "spec": {"replicas": 2}, "status": {"readyReplicas": 2}
        });
        let o = federated_object(&deploy, &src, &placement_for(&[])).unwrap().to_value();
        assert_eq!(o["apiVersion"], "types.kubefed.io/v1beta1");
        assert_eq!(o["kind"], "FederatedDeployment");
        assert_eq!(o["metadata"], json!({"name": "web", "namespace": "demo"}));
        assert_eq!(o["spec"]["placement"], json!({"clusterSelector": {}}));
        assert_eq!(o["spec"]["template"]["spec"]["replicas"], 2);
        assert!(o["spec"]["template"].get("status").is_none());
        let ns = r.resolve("ns").unwrap().to_ref();
        let o = federated_object(&ns, &json!({"metadata": {"name": "demo"}}), &placement_for(&["vulcan".into()]))
            .unwrap()
            .to_value();
        assert_eq!(o["kind"], "FederatedNamespace");
        assert_eq!(o["metadata"], json!({"name": "demo", "namespace": "demo"}));
        assert_eq!(o["spec"]["placement"], json!({"clusters": [{"name": "vulcan"}]}));
    }
}
