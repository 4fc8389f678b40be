//! `kubectl fed place TYPE/NAME --clusters a,b | --selector k=v [--override CLUSTER:/ptr=VALUE]…
//! [--weights C=N,… [--min C=N] [--max C=N] | --divide]`
//!
//! On an ordinary object: sets the `kubefed.io/` annotations with a JSON merge patch (the
//! annotations not given are removed, so the result is exactly the placement asked for). The
//! flags are checked locally first with fed-core's parsers; the admission webhook then judges
//! the result, and a denial is printed verbatim. If a `Federated<Kind>` of the same name
//! already exists that no source controls (e.g. made by `kubectl fed federate`), it is adopted
//! by the object (controller ownerReference) before annotating, so the annotations take over.
//!
//! Before anything is written, each placed member is asked whether it would accept its copy
//! ([`crate::member_check`], a server-side dry-run apply); `--skip-member-check` skips this.
//!
//! On a `Federated<Kind>` (`federateddeployment/web`): patches `spec.placement` and
//! `spec.overrides` directly; the replica flags set `kubefed.io/replica-scheduling` on it (a
//! ReplicaSchedulingPreference of the same name also divides it, and wins).
//!
//! `--weights`/`--min`/`--max`/`--divide` write `kubefed.io/replica-scheduling`
//! ([`crate::replica_flags`]): the object's replicas are divided over the clusters.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result, anyhow, bail};
use clap::Args;
use fed_core::annotations::{PlacementAnnotation, from_annotations, parse_overrides, parse_placement};
use fed_core::api::{ClusterOverrides, Federated, OverrideOp, Placement, TYPES_GROUP};
use fed_core::keys;
use fed_core::placement::JoinedCluster;
use fed_core::selector::parse_selector;
use kube::ResourceExt;
use serde_json::{Value, json};

use crate::apply::Writer;
use crate::context::Ctx;
use crate::discovery;
use crate::discovery::split_type_name;
use crate::fedapi::{self, display_ref, dyn_api, fed_api};
use crate::member_check;
use crate::replica_flags::ReplicaFlags;

/// Place an ordinary object on member clusters by annotating it
///
/// Sets the object's kubefed.io/ annotations (those not given are removed); the admission
/// webhook checks them and the federation's controllers roll the object out.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  kubectl fed place deployment/web --clusters vulcan,kronos -n demo
  kubectl fed place svc/web --selector region=eu --override vulcan:/spec/type=NodePort
  kubectl fed place deploy/web --clusters '*' --override kronos:/spec/replicas=3
  kubectl fed place deployment/web --clusters vulcan,kronos --weights vulcan=2,kronos=1 --max kronos=5
  kubectl fed place deployment/web --clusters vulcan,kronos --divide
  kubectl fed place deployment/web --clusters vulcan,kronos --spill-over")]
pub struct PlaceOptions {
    /// TYPE/NAME of the object (e.g. deployment/web)
    #[arg(value_name = "TYPE/NAME")]
    pub target: String,
    /// Comma list of joined clusters, or * for every joined cluster
    #[arg(long, value_name = "NAMES")]
    pub clusters: Option<String>,
    /// Label selector over cluster labels (e.g. region=eu,tier!=edge)
    #[arg(long, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Per-cluster change CLUSTER:/json/pointer=VALUE (VALUE is JSON when it parses, else a
    /// string); CLUSTER:add:/ptr=VALUE and CLUSTER:remove:/ptr choose the operation (repeatable)
    #[arg(long = "override", value_name = "CLUSTER:PATH=VALUE")]
    pub overrides: Vec<String>,
    /// Keep the member copies when the object is deleted
    #[arg(long)]
    pub orphan: bool,
    /// Do not ask the members first (a server-side dry run of each placed cluster's copy)
    #[arg(long)]
    pub skip_member_check: bool,
    /// Divide the replicas by weight: CLUSTER=N,… (clusters not listed get none)
    #[arg(long, value_name = "C=N,...")]
    pub weights: Option<String>,
    /// Minimum replicas of a cluster when dividing: CLUSTER=N,… (repeatable)
    #[arg(long, value_name = "C=N,...")]
    pub min: Vec<String>,
    /// Maximum replicas of a cluster when dividing: CLUSTER=N,… (repeatable)
    #[arg(long, value_name = "C=N,...")]
    pub max: Vec<String>,
    /// Divide the replicas evenly over the clusters
    #[arg(long)]
    pub divide: bool,
    /// Fill the --clusters in their order: every replica on the first, and only what it
    /// cannot schedule on the next
    #[arg(long)]
    pub spill_over: bool,
    /// How long a pod stays Unschedulable before its cluster counts as full and the replicas
    /// it cannot run go to the other clusters (default 60s)
    #[arg(long, value_name = "DURATION")]
    pub overflow_after: Option<String>,
}

/// Parse one `--override` flag into (cluster, operation).
pub fn parse_override_flag(flag: &str) -> Result<(String, OverrideOp)> {
    let bad = |why: &str| {
        anyhow!("--override {flag:?}: {why}; expected CLUSTER:/json/pointer=VALUE (e.g. vulcan:/spec/replicas=3)")
    };
    let (cluster, rest) = flag.split_once(':').ok_or_else(|| bad("missing CLUSTER:"))?;
    if cluster.is_empty() {
        return Err(bad("empty cluster name"));
    }
    let (op, rest) = match rest.split_once(':') {
        Some((op @ ("add" | "remove" | "replace"), rest)) => (op.to_string(), rest),
        _ => ("replace".to_string(), rest),
    };
    if !rest.starts_with('/') {
        return Err(bad("the path must be a JSON pointer starting with '/'"));
    }
    let (path, value) = match rest.split_once('=') {
        Some((p, v)) => (p.to_string(), Some(serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_string())))),
        None => (rest.to_string(), None),
    };
    match (op.as_str(), &value) {
        ("remove", Some(_)) => return Err(bad("remove takes no value")),
        ("add" | "replace", None) => return Err(bad("missing =VALUE")),
        _ => {}
    }
    Ok((cluster.to_string(), OverrideOp { op: Some(op), path, value }))
}

/// The `kubefed.io/overrides` JSON for the flags (clusters in flag order of first mention).
pub fn overrides_json(flags: &[String]) -> Result<Option<String>> {
    if flags.is_empty() {
        return Ok(None);
    }
    let mut map = serde_json::Map::new();
    for flag in flags {
        let (cluster, op) = parse_override_flag(flag)?;
        let ops = map.entry(cluster).or_insert_with(|| Value::Array(Vec::new()));
        ops.as_array_mut().expect("array").push(serde_json::to_value(op)?);
    }
    let text = Value::Object(map).to_string();
    parse_overrides(&text)?;
    Ok(Some(text))
}

/// The validated annotation values: key → Some(value) to set, None to remove.
#[derive(Debug, PartialEq)]
pub struct Annotations(pub BTreeMap<&'static str, Option<String>>);

impl PlaceOptions {
    pub fn validate(&self) -> Result<Annotations> {
        if self.clusters.is_none() && self.selector.is_none() {
            bail!("one of --clusters or --selector is required");
        }
        if self.spill_over && self.clusters.is_none() {
            bail!("--spill-over needs --clusters, in the order to fill them (e.g. --clusters vulcan,kronos)");
        }
        let placement = self.clusters.as_deref().map(parse_placement).transpose()?;
        if let Some(sel) = &self.selector {
            parse_selector(sel).map_err(|e| anyhow!("--selector {sel:?}: {e}"))?;
        }
        let overrides = overrides_json(&self.overrides)?;
        let division = self.replica_flags();
        let scheduling = division.annotation()?;
        if let Some(after) = &self.overflow_after {
            if scheduling.is_none() {
                bail!("--overflow-after applies to divided replicas: add --weights, --divide or --spill-over");
            }
            fed_core::replicas::overflow::parse_after(after).map_err(|e| anyhow!("--overflow-after: {e}"))?;
        }
        if let Some(PlacementAnnotation::Clusters(names)) = &placement
            && let Some(cluster) = division.clusters().into_iter().find(|c| !names.contains(c))
        {
            bail!("the replica flags name cluster {cluster:?}, which is not in --clusters ({})", names.join(","));
        }
        if let (Some(PlacementAnnotation::Clusters(names)), Some(text)) = (&placement, &overrides) {
            for o in parse_overrides(text)? {
                if !names.contains(&o.cluster_name) {
                    bail!(
                        "--override names cluster {:?}, which is not in --clusters ({})",
                        o.cluster_name,
                        names.join(",")
                    );
                }
            }
        }
        Ok(Annotations(BTreeMap::from([
            (keys::PLACEMENT, placement.map(|p| p.to_string())),
            (keys::CLUSTER_SELECTOR, self.selector.clone()),
            (keys::OVERRIDES, overrides),
            (keys::ORPHAN, self.orphan.then(|| "true".to_string())),
            (keys::REPLICA_SCHEDULING, scheduling),
            (keys::OVERFLOW_AFTER, self.overflow_after.clone()),
        ])))
    }

    fn replica_flags(&self) -> ReplicaFlags<'_> {
        ReplicaFlags {
            weights: self.weights.as_deref(),
            min: &self.min,
            max: &self.max,
            divide: self.divide,
            spill_over: self.clusters.as_deref().filter(|_| self.spill_over),
        }
    }
}

impl Annotations {
    /// The merge patch setting these annotations (null removes).
    pub fn patch(&self) -> Value {
        let map: serde_json::Map<String, Value> =
            self.0.iter().map(|(k, v)| (k.to_string(), v.clone().map(Value::String).unwrap_or(Value::Null))).collect();
        json!({ "metadata": { "annotations": map } })
    }

    /// The annotations set (those removed left out).
    pub fn present(&self) -> BTreeMap<String, String> {
        self.0.iter().filter_map(|(k, v)| v.clone().map(|v| (k.to_string(), v))).collect()
    }

    /// The merge patch for a `Federated<Kind>`'s spec (and its `kubefed.io/replica-scheduling`
    /// and `kubefed.io/overflow-after`, removed when not given).
    pub fn federated_patch(&self) -> Result<Value> {
        self.federated_patch_with(|_, overrides| overrides)
    }

    /// [`Self::federated_patch`] for divided replicas of `fed`: the clusters it already runs
    /// on keep their counts and newly placed ones start at 0, so nothing runs twice before the
    /// replicas controller divides ([`fed_core::replicas::first_division`]).
    pub fn divided_federated_patch(&self, fed: &Federated, joined: &[JoinedCluster]) -> Result<Value> {
        self.federated_patch_with(|placement, overrides| {
            let counts = fed_core::replicas::first_division(fed, placement, joined);
            fed_core::replicas::with_division(&overrides, &counts)
        })
    }

    /// The patch, with `division` turning the placement and the given overrides into the
    /// overrides to write.
    fn federated_patch_with(
        &self,
        division: impl FnOnce(&Placement, Vec<ClusterOverrides>) -> Vec<ClusterOverrides>,
    ) -> Result<Value> {
        let parsed = from_annotations(&self.present())?.ok_or_else(|| anyhow!("no placement given"))?;
        let overrides = division(&parsed.placement, parsed.overrides);
        let annotation = |key: &str| self.0.get(key).cloned().flatten().map_or(Value::Null, Value::String);
        Ok(json!({
            "metadata": {"annotations": {
                keys::REPLICA_SCHEDULING: annotation(keys::REPLICA_SCHEDULING),
                keys::OVERFLOW_AFTER: annotation(keys::OVERFLOW_AFTER),
            }},
            "spec": {
                "placement": {
                    "clusters": parsed.placement.clusters,
                    "clusterSelector": parsed.placement.cluster_selector,
                },
                "overrides": if overrides.is_empty() { Value::Null } else { serde_json::to_value(overrides)? },
            }
        }))
    }
}

pub async fn run(ctx: &Ctx, opts: PlaceOptions) -> Result<()> {
    let annotations = opts.validate()?;
    let (type_name, name) = split_type_name(&opts.target)?;
    let resources = discovery::host_resources(ctx).await?;
    let res = resources.resolve(type_name)?.clone();
    let client = ctx.host().await?;
    let ns = res.namespaced.then_some(ctx.namespace.as_str());
    let ar = res.api_resource();
    let mut host = Writer::new(client.clone(), ctx);

    if res.group == TYPES_GROUP {
        let patch = if annotations.0.get(keys::REPLICA_SCHEDULING).is_some_and(Option::is_some) {
            let fed: Federated = serde_json::from_value(serde_json::to_value(
                dyn_api(&client, &ar, res.namespaced, ns)
                    .get(name)
                    .await
                    .with_context(|| format!("reading {}", display_ref(&ar, name)))?,
            )?)?;
            let joined = fedapi::clusters(&client, ctx.fed_ns(), &ctx.host_context).await?;
            let joined: Vec<JoinedCluster> = joined.iter().map(fedapi::joined).collect();
            annotations.divided_federated_patch(&fed, &joined)?
        } else {
            annotations.federated_patch()?
        };
        host.merge_patch(&ar, res.namespaced, ns, name, &patch, "placed").await?;
        return host.finish();
    }

    let configs = fedapi::type_configs(&client, ctx.fed_ns(), &ctx.host_context).await?;
    let Some(ftc) = fedapi::config_for(&configs, &res.group, &res.kind) else {
        bail!("{} is not enabled for federation; run `kubectl fed enable {}` first", res.qualified(), res.qualified());
    };
    let source = dyn_api(&client, &ar, res.namespaced, ns)
        .get_opt(name)
        .await
        .with_context(|| format!("reading {}", display_ref(&ar, name)))?
        .ok_or_else(|| match ns {
            Some(ns) => anyhow!("{} not found in namespace {ns}", display_ref(&ar, name)),
            None => anyhow!("{} not found", display_ref(&ar, name)),
        })?;
    if !opts.skip_member_check {
        let parsed = from_annotations(&annotations.present())?.ok_or_else(|| anyhow!("no placement given"))?;
        let (target, federated) = (&ftc.spec.target_type, &ftc.spec.federated_type);
        let fed: Federated =
            serde_json::from_value(fed_core::source::desired_federated(&source, &parsed, target, federated, None))?;
        let clusters = fedapi::clusters(&client, ctx.fed_ns(), &ctx.host_context).await?;
        member_check::check(ctx, &fed, target, &clusters).await?;
    }
    // The federated object's namespace: the source's, or for a Namespace the namespace itself.
    let fed_ns = fed_core::source::fed_namespace_of_source(&ftc.spec.target_type, &source.metadata);
    let fed_ns = fed_ns.as_deref();
    let undo = adopt(&mut host, ftc, &res, &source, fed_ns, &annotations).await?;
    if let Err(err) = host.merge_patch(&ar, res.namespaced, ns, name, &annotations.patch(), "placed").await {
        if let Some(undo) = undo {
            // Leave the federated object as it was: its new owner did not get a placement.
            let _ = fed_api(&client, &ftc.spec.federated_type, fed_ns)
                .patch(name, &Default::default(), &kube::api::Patch::Merge(&undo))
                .await;
        }
        return Err(err);
    }
    if ctx.output().is_none() && !ctx.dry_run().active() {
        crate::output::note(format!(
            "See where it lands: kubectl fed status {}/{name} -n {}",
            res.singular, ctx.namespace
        ));
    }
    host.finish()
}

/// Make an uncontrolled `Federated<Kind>` of the same name (in `fed_ns`, where the federated
/// object of `source` lives) controlled by `source`. Returns the merge patch that undoes it,
/// when it adopted.
async fn adopt(
    host: &mut Writer,
    ftc: &fed_core::api::FederatedTypeConfig,
    res: &crate::discovery::ResourceInfo,
    source: &kube::core::DynamicObject,
    fed_ns: Option<&str>,
    annotations: &Annotations,
) -> Result<Option<Value>> {
    let fed = &ftc.spec.federated_type;
    let name = source.name_any();
    let Some(existing) = fed_api(host.client(), fed, fed_ns).get_opt(&name).await? else { return Ok(None) };
    let uid = source.uid().unwrap_or_default();
    let refs = existing.owner_references();
    if let Some(controller) = refs.iter().find(|o| o.controller == Some(true)) {
        if controller.uid == uid {
            return Ok(None);
        }
        bail!(
            "{} {name} is controlled by {} {}; it cannot also follow {}'s annotations",
            fed.kind,
            controller.kind,
            controller.name,
            display_ref(&res.api_resource(), &name)
        );
    }
    // Once adopted, the object follows the source's annotations; check them here first so an
    // annotation the webhook would refuse never leaves an adopted object without a placement.
    let policy_ns = fed_ns.filter(|_| !ftc.spec.target_type.is_namespace());
    precheck(host.client(), &ftc.metadata.namespace.clone().unwrap_or_default(), annotations, policy_ns).await?;
    let mut owners: Vec<Value> = refs.iter().map(serde_json::to_value).collect::<Result<_, _>>()?;
    let undo = json!({ "metadata": { "ownerReferences": if owners.is_empty() { Value::Null } else { Value::Array(owners.clone()) } } });
    owners.push(json!({
        "apiVersion": res.api_version(),
        "kind": res.kind,
        "name": name,
        "uid": uid,
        "controller": true,
    }));
    let patch = json!({ "metadata": { "ownerReferences": owners } });
    let verb = format!("adopted by {}", display_ref(&res.api_resource(), &name));
    host.merge_patch(&fed.api_resource(), fed.scope == fed_core::api::Scope::Namespaced, fed_ns, &name, &patch, &verb)
        .await?;
    Ok((host.dry_run() == crate::context::DryRun::None).then_some(undo))
}

/// The webhook's placement checks, run locally with fed-core: named clusters are joined, and
/// the placement stays inside the namespace's FederatedNamespace placement.
async fn precheck(client: &kube::Client, fed_ns: &str, annotations: &Annotations, ns: Option<&str>) -> Result<()> {
    let fed_ns_clusters = fedapi::clusters(client, fed_ns, "").await?;
    let joined: Vec<JoinedCluster> = fed_ns_clusters.iter().map(fedapi::joined).collect();
    let Some(parsed) = from_annotations(&annotations.present())? else { return Ok(()) };
    let placed = fed_core::placement::check(&parsed.placement, &joined)?;
    let Some(ns) = ns else { return Ok(()) };
    let ns_api = dyn_api(client, &federated_namespace().api_resource(), true, Some(ns));
    let Ok(list) = ns_api.list(&Default::default()).await else { return Ok(()) };
    if let Some(fns) = list.items.first() {
        let spec: fed_core::api::FederatedSpec = serde_json::from_value(fns.data["spec"].clone()).unwrap_or_default();
        let allowed = fed_core::placement::resolve(&spec.placement, &joined);
        let outside = fed_core::placement::outside(&placed, &allowed);
        if !outside.is_empty() {
            bail!(
                "cluster(s) {} are outside the placement of namespace {ns} (FederatedNamespace {}: {})",
                outside.into_iter().collect::<Vec<_>>().join(", "),
                fns.name_any(),
                allowed.into_iter().collect::<Vec<_>>().join(", ")
            );
        }
    }
    Ok(())
}

/// The FederatedNamespace resource.
fn federated_namespace() -> fed_core::api::ApiResourceRef {
    fed_core::crd::well_known_targets()
        .into_iter()
        .find(|t| t.is_namespace())
        .expect("Namespace is well known")
        .federated()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(clusters: Option<&str>, selector: Option<&str>, overrides: &[&str]) -> PlaceOptions {
        PlaceOptions {
            target: "deployment/web".into(),
            clusters: clusters.map(Into::into),
            selector: selector.map(Into::into),
            overrides: overrides.iter().map(|s| s.to_string()).collect(),
            orphan: false,
            skip_member_check: false,
            weights: None,
            min: vec![],
            max: vec![],
            divide: false,
            spill_over: false,
            overflow_after: None,
        }
    }

    #[test]
    fn spill_over_keeps_the_clusters_order_and_overflow_after_needs_a_division() {
        let mut o = opts(Some("vulcan, kronos"), None, &[]);
        o.spill_over = true;
        o.overflow_after = Some("30s".into());
        let a = o.validate().unwrap();
        assert_eq!(a.0[keys::REPLICA_SCHEDULING].as_deref(), Some(r#"{"spillOver":["vulcan","kronos"]}"#));
        assert_eq!(a.0[keys::OVERFLOW_AFTER].as_deref(), Some("30s"));
        o.overflow_after = Some("soon".into());
        assert!(
            o.validate()
                .unwrap_err()
                .to_string()
                .starts_with("--overflow-after: kubefed.io/overflow-after: \"soon\" is not a duration")
        );
        let mut plain = opts(Some("vulcan"), None, &[]);
        plain.overflow_after = Some("30s".into());
        assert!(plain.validate().unwrap_err().to_string().contains("applies to divided replicas"));
        let mut selected = opts(None, Some("zone=a"), &[]);
        selected.spill_over = true;
        assert!(selected.validate().unwrap_err().to_string().contains("--spill-over needs --clusters"));
    }

    #[test]
    fn replica_flags_write_the_scheduling_annotation_within_the_clusters() {
        let mut o = opts(Some("vulcan,kronos"), None, &[]);
        o.weights = Some("vulcan=2,kronos=1".into());
        let a = o.validate().unwrap();
        assert_eq!(a.0[keys::REPLICA_SCHEDULING].as_deref(), Some(r#"{"kronos":{"weight":1},"vulcan":{"weight":2}}"#));
        o.max = vec!["earth=3".into()];
        let err = o.validate().unwrap_err().to_string();
        assert!(err.contains(r#"cluster "earth", which is not in --clusters (kronos,vulcan)"#), "{err}");
        let plain = opts(Some("vulcan"), None, &[]).validate().unwrap();
        assert_eq!(plain.0[keys::REPLICA_SCHEDULING], None, "placing again without the flags removes it");
    }

    #[test]
    fn override_flags_parse() {
        let (c, op) = parse_override_flag("vulcan:/spec/replicas=3").unwrap();
        assert_eq!(c, "vulcan");
        assert_eq!(op, OverrideOp { op: Some("replace".into()), path: "/spec/replicas".into(), value: Some(json!(3)) });
        let (_, op) = parse_override_flag("vulcan:/spec/type=NodePort").unwrap();
        assert_eq!(op.value, Some(json!("NodePort")));
        let (_, op) = parse_override_flag(r#"kronos:/metadata/labels={"a":"b"}"#).unwrap();
        assert_eq!(op.value, Some(json!({"a": "b"})));
        let (_, op) = parse_override_flag("kronos:/spec/x=a=b").unwrap();
        assert_eq!((op.path.as_str(), op.value), ("/spec/x", Some(json!("a=b"))));
        let (_, op) = parse_override_flag("kronos:/spec/flag=true").unwrap();
        assert_eq!(op.value, Some(json!(true)));
        let (_, op) = parse_override_flag("kronos:remove:/spec/paused").unwrap();
        assert_eq!((op.op.as_deref(), op.value), (Some("remove"), None));
        let (_, op) = parse_override_flag("kronos:add:/metadata/labels/x=y").unwrap();
        assert_eq!(op.op.as_deref(), Some("add"));
        for bad in [
            "vulcan",
            ":/a=1",
            "vulcan:spec/replicas=3",
            "vulcan:/spec/replicas",
            "vulcan:remove:/a=1",
            "vulcan:move:/a=1",
        ] {
            assert!(parse_override_flag(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn overrides_group_by_cluster_and_validate() {
        let text = overrides_json(&[
            "vulcan:/spec/replicas=3".into(),
            "vulcan:/metadata/labels/a=b".into(),
            "earth:remove:/spec/paused".into(),
        ])
        .unwrap()
        .unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["vulcan"].as_array().unwrap().len(), 2);
        assert_eq!(v["earth"][0], json!({"op": "remove", "path": "/spec/paused"}));
        assert_eq!(overrides_json(&[]).unwrap(), None);
        assert!(overrides_json(&["vulcan:/a~2=1".into()]).is_err(), "bad pointer escape");
    }

    #[test]
    fn validation_is_local_and_clear() {
        assert!(opts(None, None, &[]).validate().unwrap_err().to_string().contains("--clusters or --selector"));
        assert!(
            opts(Some("a,,b"), None, &[])
                .validate()
                .unwrap_err()
                .to_string()
                .starts_with("kubefed.io/placement: item 2")
        );
        assert!(opts(None, Some("a in (b"), &[]).validate().unwrap_err().to_string().starts_with("--selector"));
        let err = opts(Some("vulcan,kronos"), None, &["earth:/spec/replicas=1"]).validate().unwrap_err().to_string();
        assert_eq!(err, r#"--override names cluster "earth", which is not in --clusters (kronos,vulcan)"#);
        let a = opts(Some("vulcan, kronos"), None, &["vulcan:/spec/replicas=3"]).validate().unwrap();
        assert_eq!(
            a.patch(),
            json!({"metadata": {"annotations": {
                "kubefed.io/placement": "kronos,vulcan",
                "kubefed.io/cluster-selector": null,
                "kubefed.io/overrides": r#"{"vulcan":[{"op":"replace","path":"/spec/replicas","value":3}]}"#,
                "kubefed.io/orphan": null,
                "kubefed.io/replica-scheduling": null,
                "kubefed.io/overflow-after": null,
            }}})
        );
        // Overrides are free with a selector or `*`.
        assert!(opts(Some("*"), None, &["earth:/spec/replicas=1"]).validate().is_ok());
        assert!(opts(None, Some("region=eu"), &["earth:/spec/replicas=1"]).validate().is_ok());
    }

    #[test]
    fn federated_objects_get_a_spec_patch() {
        let a = opts(Some("vulcan"), None, &["vulcan:/spec/replicas=2"]).validate().unwrap();
        let p = a.federated_patch().unwrap();
        assert_eq!(p["spec"]["placement"]["clusters"], json!([{"name": "vulcan"}]));
        assert_eq!(p["spec"]["placement"]["clusterSelector"], Value::Null);
        assert_eq!(p["spec"]["overrides"][0]["clusterName"], "vulcan");
        let sel = opts(None, Some("region=eu"), &[]).validate().unwrap().federated_patch().unwrap();
        assert_eq!(sel["spec"]["placement"]["clusters"], Value::Null);
        assert_eq!(sel["spec"]["placement"]["clusterSelector"]["matchLabels"]["region"], "eu");
        assert_eq!(sel["spec"]["overrides"], Value::Null);
    }
}
