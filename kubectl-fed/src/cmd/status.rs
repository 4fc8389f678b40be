//! `kubectl fed status [TYPE/NAME | -A]`: one row per placed cluster of each federated object;
//! with `-A` also the namespaces that follow (new objects there are federated) and where their
//! new objects go. `--orphans` lists instead the member copies no federated object asks for
//! ([`crate::orphans`]).
//!
//! Reads `status.clusters[]` of the `Federated<Kind>` objects (an empty status word means
//! the object is propagated there). One list call per enabled type, never one per object, so it
//! stays fast with thousands of federated objects.

use anyhow::{Result, bail};
use clap::Args;
use fed_core::api::WorkloadStatus;
use fed_core::api::{CONDITION_PROPAGATION, ClusterStatus, Federated, FederatedTypeConfig};
use fed_core::replicas::overflow;
use kube::ResourceExt;
use kube::api::ListParams;
use serde::Serialize;

use crate::context::Ctx;
use crate::discovery::split_type_name;
use crate::errors::is_status;
use crate::fedapi::{self, fed_api};
use crate::follow;
use crate::orphans;
use crate::output::{self, OutputFormat, Table};

/// Show where federated objects landed, one row per placed cluster
///
/// Without arguments: every federated object of the namespace. TYPE/NAME may name a
/// `Federated<Kind>` or the ordinary object it federates (deployment/web).
#[derive(Args, Debug)]
pub struct StatusOptions {
    /// TYPE/NAME of one object (e.g. deployment/web, federateddeployment/web)
    #[arg(value_name = "TYPE/NAME")]
    pub target: Option<String>,
    /// Every namespace
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// List instead the copies on the members whose federated object the host lacks (after the
    /// host was restored from an older backup, say); they are left in place, and applying the
    /// object again adopts them
    #[arg(long)]
    pub orphans: bool,
}

/// One row of the status table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, PartialOrd, Ord)]
pub struct Row {
    pub namespace: String,
    pub kind: String,
    pub name: String,
    pub cluster: String,
    pub status: String,
    pub message: String,
    #[serde(rename = "federatedKind")]
    pub federated_kind: String,
    /// Replicas the division assigns to the cluster, when the object's replicas are divided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i64>,
    /// Pods Unschedulable on the cluster, when the object's replicas are divided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unschedulable: Option<i64>,
    /// The member copy's workload numbers, for workload kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadStatus>,
}

/// The status word the table shows for a propagated object.
pub const PROPAGATED: &str = "Propagated";

/// Rows for one federated object whose target kind is `kind`.
pub fn rows_for(obj: &Federated, kind: &str, federated_kind: &str) -> Vec<Row> {
    let estimates = overflow::parse_estimates(obj.annotations().get(overflow::ESTIMATES).map(String::as_str));
    let row = |cluster: &str, status: &str, message: &str, c: Option<&ClusterStatus>| Row {
        namespace: obj.namespace().unwrap_or_default(),
        kind: kind.to_string(),
        name: obj.name_any(),
        cluster: cluster.to_string(),
        status: status.to_string(),
        message: message.to_string(),
        federated_kind: federated_kind.to_string(),
        replicas: c.and_then(|c| c.replicas),
        unschedulable: c.and_then(|c| c.replicas.map(|_| c.unschedulable.unwrap_or(0))),
        workload: c.and_then(|c| c.workload),
    };
    let status = obj.status.as_ref();
    let clusters = status.map(|s| s.clusters.as_slice()).unwrap_or_default();
    if !clusters.is_empty() {
        let mut rows: Vec<Row> = clusters
            .iter()
            .map(|c| {
                let word = c.status.as_deref().filter(|s| !s.is_empty()).unwrap_or(PROPAGATED);
                let full = estimates.get(&c.name).map(|e| {
                    format!("full: runs at most {} (overflow to the other clusters since {})", e.capacity, e.since.0)
                });
                let message = c.message.clone().filter(|m| !m.is_empty()).or(full).unwrap_or_default();
                row(&c.name, word, &message, Some(c))
            })
            .collect();
        rows.sort();
        return rows;
    }
    let condition = status.and_then(|s| s.conditions.iter().find(|c| c.type_ == CONDITION_PROPAGATION));
    match condition {
        Some(c) if c.status == "True" => {
            vec![row("<none>", "NoClusters", "the placement selects no joined cluster", None)]
        }
        Some(c) => vec![row(
            "<none>",
            c.reason.as_deref().unwrap_or("NotPropagated"),
            c.message.as_deref().unwrap_or(""),
            None,
        )],
        None => vec![row("<none>", "Pending", "not yet processed by the sync controller", None)],
    }
}

/// The table: READY (ready/desired) and UP-TO-DATE columns, as `kubectl get deploy` shows
/// them, when any row is a workload; ASSIGNED (what the division gives the cluster) and
/// UNSCHEDULABLE (its pods that cannot be scheduled there) when the replicas are divided;
/// `wide` adds the federated kind.
pub fn table(rows: &[Row], all_namespaces: bool, wide: bool) -> Table {
    let workloads = rows.iter().any(|r| r.workload.is_some());
    let divided = rows.iter().any(|r| r.replicas.is_some());
    let mut headers = vec![];
    if all_namespaces {
        headers.push("namespace");
    }
    headers.extend(["kind", "name", "cluster", "status"]);
    if workloads {
        headers.extend(["ready", "up-to-date"]);
    }
    if divided {
        headers.extend(["assigned", "unschedulable"]);
    }
    headers.push("message");
    if wide {
        headers.push("federated");
    }
    let mut t = Table::new(headers);
    for r in rows {
        let mut cells = vec![];
        if all_namespaces {
            cells.push(r.namespace.clone());
        }
        cells.extend([r.kind.clone(), r.name.clone(), r.cluster.clone(), r.status.clone()]);
        if workloads {
            let (ready, updated) = r.workload.map_or(("-".to_string(), "-".to_string()), |w| {
                (format!("{}/{}", w.ready, w.desired), w.updated.to_string())
            });
            cells.extend([ready, updated]);
        }
        if divided {
            let count = |n: Option<i64>| n.map_or_else(|| "-".to_string(), |n| n.to_string());
            cells.extend([count(r.replicas), count(r.unschedulable)]);
        }
        cells.push(r.message.clone());
        if wide {
            cells.push(r.federated_kind.clone());
        }
        t.push(cells);
    }
    t
}

impl StatusOptions {
    /// `-A` and TYPE/NAME exclude each other; TYPE/NAME must have both parts.
    fn validate(&self) -> Result<()> {
        if self.all_namespaces && self.target.is_some() {
            bail!("-A lists every object; it cannot be combined with TYPE/NAME");
        }
        if self.orphans && self.target.is_some() {
            bail!("--orphans lists the copies no federated object asks for; it cannot be combined with TYPE/NAME");
        }
        if let Some(target) = &self.target {
            split_type_name(target)?;
        }
        Ok(())
    }
}

/// Prints one row per placed cluster of the object(s) asked for.
pub async fn run(ctx: &Ctx, opts: StatusOptions) -> Result<()> {
    opts.validate()?;
    let client = ctx.host().await?;
    let configs = fedapi::type_configs(&client, ctx.fed_ns(), &ctx.host_context).await?;
    let ns = (!opts.all_namespaces).then_some(ctx.namespace.as_str());
    if opts.orphans {
        let clusters = fedapi::clusters(&client, ctx.fed_ns(), &ctx.host_context).await?;
        let rows = orphans::find(ctx, &client, &configs, &clusters, ns).await?;
        return print_orphans(ctx, &rows, ns);
    }
    let mut rows = match &opts.target {
        Some(target) => one(ctx, &configs, target).await?,
        None => {
            let lists = futures::future::join_all(configs.iter().map(|ftc| list_type(&client, ftc, ns))).await;
            let mut rows = Vec::new();
            for (ftc, list) in configs.iter().zip(lists) {
                match list {
                    Ok(r) => rows.extend(r),
                    Err(e) if e.downcast_ref::<kube::Error>().is_some_and(|k| is_status(k, 404)) => {
                        output::warn(format!(
                            "type {} is enabled but its {} CRD is missing; run `kubectl fed enable {}`",
                            ftc.name_any(),
                            ftc.spec.federated_type.kind,
                            ftc.name_any()
                        ))
                    }
                    Err(e) => return Err(e),
                }
            }
            rows
        }
    };
    rows.sort();
    let following = match opts.all_namespaces {
        true => following(&client, &configs).await?,
        false => Vec::new(),
    };
    match ctx.output() {
        Some(f) if f.is_document() => {
            let items = rows.iter().map(serde_json::to_value).collect::<Result<Vec<_>, _>>()?;
            let mut list = serde_json::json!({ "kind": "FederationStatus", "items": items });
            if opts.all_namespaces {
                list["following"] = serde_json::to_value(&following)?;
            }
            output::print_documents(f, vec![list])
        }
        format => {
            if rows.is_empty() {
                match ns {
                    Some(ns) => output::note(format!("No federated objects found in {ns} namespace.")),
                    None => output::note("No federated objects found."),
                }
            } else {
                let all = opts.all_namespaces;
                table(&rows, all, format == Some(OutputFormat::Wide)).print();
            }
            if !following.is_empty() {
                println!();
                following_table(&following).print();
            }
            Ok(())
        }
    }
}

/// Prints the orphaned copies as a table or as a `FederationOrphans` document.
fn print_orphans(ctx: &Ctx, rows: &[orphans::OrphanRow], ns: Option<&str>) -> Result<()> {
    match ctx.output() {
        Some(f) if f.is_document() => {
            let list = serde_json::json!({ "kind": "FederationOrphans", "items": rows });
            output::print_documents(f, vec![list])
        }
        _ if rows.is_empty() => {
            match ns {
                Some(ns) => output::note(format!("No orphaned member copies found in {ns} namespace.")),
                None => output::note("No orphaned member copies found."),
            }
            Ok(())
        }
        _ => {
            orphans::table(rows, ns.is_none()).print();
            Ok(())
        }
    }
}

/// The namespaces that follow, with the placement of their FederatedNamespace when they have one.
async fn following(client: &kube::Client, configs: &[FederatedTypeConfig]) -> Result<Vec<follow::Following>> {
    let governing = match fedapi::config_for(configs, "", "Namespace") {
        Some(ftc) => fed_api(client, &ftc.spec.federated_type, None).list(&ListParams::default()).await?.items,
        None => Vec::new(),
    };
    follow::following(client, |ns| fed_core::placement::governing(ns, &governing).map(|f| f.spec.placement.clone()))
        .await
}

/// The table of namespaces that follow: new objects there are federated.
pub fn following_table(following: &[follow::Following]) -> Table {
    let mut t = Table::new(["FOLLOWING NAMESPACE", "NEW OBJECTS GO TO"]);
    for f in following {
        t.push([f.namespace.clone(), f.placement.clone()]);
    }
    t
}

async fn list_type(client: &kube::Client, ftc: &FederatedTypeConfig, ns: Option<&str>) -> Result<Vec<Row>> {
    let api = fed_api(client, &ftc.spec.federated_type, ns);
    let list = api.list(&ListParams::default()).await?;
    let kind = &ftc.spec.target_type.kind;
    let fkind = &ftc.spec.federated_type.kind;
    Ok(list.items.iter().flat_map(|o| rows_for(o, kind, fkind)).collect())
}

async fn one(ctx: &Ctx, configs: &[FederatedTypeConfig], target: &str) -> Result<Vec<Row>> {
    let (ftc, fed) = fedapi::federated_of(ctx, configs, target).await?;
    Ok(rows_for(&fed, &ftc.spec.target_type.kind, &ftc.spec.federated_type.kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fed_core::api::{ClusterStatus, Condition, FederatedSpec, FederatedStatus};
    use kube::core::ObjectMeta;

    fn fed(name: &str, status: Option<FederatedStatus>) -> Federated {
        Federated {
            types: None,
            metadata: ObjectMeta { name: Some(name.into()), namespace: Some("demo".into()), ..Default::default() },
            spec: FederatedSpec::default(),
            status,
        }
    }

    #[test]
    fn one_row_per_cluster_and_empty_status_means_propagated() {
        let status = FederatedStatus {
            clusters: vec![
                ClusterStatus { name: "vulcan".into(), status: None, message: None, ..Default::default() },
                ClusterStatus {
                    name: "kronos".into(),
                    status: Some("ClusterNotReady".into()),
                    message: Some("offline".into()),
                    ..Default::default()
                },
                ClusterStatus {
                    name: "earth".into(),
                    status: Some(String::new()),
                    message: None,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let rows = rows_for(&fed("web", Some(status)), "Deployment", "FederatedDeployment");
        let got: Vec<(&str, &str, &str)> =
            rows.iter().map(|r| (r.cluster.as_str(), r.status.as_str(), r.message.as_str())).collect();
        assert_eq!(
            got,
            [("earth", "Propagated", ""), ("kronos", "ClusterNotReady", "offline"), ("vulcan", "Propagated", "")]
        );
        let t = table(&rows, true, false).render();
        assert_eq!(
            t,
            "NAMESPACE   KIND         NAME   CLUSTER   STATUS            MESSAGE\n\
             demo        Deployment   web    earth     Propagated\n\
             demo        Deployment   web    kronos    ClusterNotReady   offline\n\
             demo        Deployment   web    vulcan    Propagated\n"
        );
    }

    #[test]
    fn workloads_get_ready_and_up_to_date_and_divided_ones_the_assigned_and_unschedulable() {
        let w = WorkloadStatus { desired: 3, ready: 2, available: 2, updated: 3, rolled_out: false };
        let status = FederatedStatus {
            clusters: vec![ClusterStatus {
                name: "vulcan".into(),
                replicas: Some(3),
                workload: Some(w),
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut capped = fed("web", Some(status));
        capped.metadata.annotations = Some(
            [(
                overflow::ESTIMATES.to_string(),
                r#"{"vulcan":{"capacity":2,"since":"2026-12-07T18:00:00Z"}}"#.to_string(),
            )]
            .into(),
        );
        let rows = rows_for(&capped, "Deployment", "FederatedDeployment");
        assert_eq!(
            table(&rows, false, false).render(),
            "KIND         NAME   CLUSTER   STATUS       READY   UP-TO-DATE   ASSIGNED   UNSCHEDULABLE   MESSAGE\n\
             Deployment   web    vulcan    Propagated   2/3     3            3          0               full: runs at most 2 (overflow to the other clusters since 2026-12-07T18:00:00Z)\n"
        );
        let wide = table(&rows, false, true).render();
        assert!(wide.contains("FEDERATED") && wide.lines().nth(1).unwrap().contains(" 3 "), "{wide}");
    }

    #[test]
    fn objects_without_cluster_status_get_one_row() {
        assert_eq!(rows_for(&fed("a", None), "Service", "FederatedService")[0].status, "Pending");
        let failed = FederatedStatus {
            conditions: vec![Condition {
                type_: "Propagation".into(),
                status: "False".into(),
                reason: Some("ComputePlacementFailed".into()),
                message: Some("bad selector".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let row = &rows_for(&fed("a", Some(failed)), "Service", "FederatedService")[0];
        assert_eq!((row.status.as_str(), row.message.as_str()), ("ComputePlacementFailed", "bad selector"));
    }
}
