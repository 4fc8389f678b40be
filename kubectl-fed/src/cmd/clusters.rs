//! `kubectl fed clusters`: the joined clusters, like `kubectl get`.

use anyhow::Result;
use clap::Args;
use fed_core::api::{CONDITION_READY, KubeFedCluster};
use kube::ResourceExt;

use crate::context::Ctx;
use crate::fedapi;
use crate::output::{self, OutputFormat, Table};

/// List joined clusters (NAME READY ENDPOINT LABELS AGE)
#[derive(Args, Debug)]
pub struct ClustersOptions {}

pub async fn run(ctx: &Ctx, _opts: ClustersOptions) -> Result<()> {
    let client = ctx.host().await?;
    let clusters = fedapi::clusters(&client, ctx.fed_ns(), &ctx.host_context).await?;
    match ctx.output() {
        Some(f) if f.is_document() => {
            let docs = clusters.iter().map(serde_json::to_value).collect::<Result<Vec<_>, _>>()?;
            output::print_documents(f, docs)
        }
        format => {
            if clusters.is_empty() {
                output::note(format!(
                    "No clusters joined in namespace {} (join one with `kubectl fed join NAME --cluster-context CONTEXT`).",
                    ctx.fed_ns()
                ));
                return Ok(());
            }
            table(&clusters, format == Some(OutputFormat::Wide)).print();
            Ok(())
        }
    }
}

/// The Ready condition's status word (`Unknown` before the health controller has looked).
pub fn ready(cluster: &KubeFedCluster) -> String {
    cluster
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == CONDITION_READY))
        .map(|c| c.status.clone())
        .unwrap_or_else(|| "Unknown".to_string())
}

/// `k=v,k2=v2`, or `<none>`.
pub fn labels(cluster: &KubeFedCluster) -> String {
    let labels = cluster.labels();
    if labels.is_empty() {
        "<none>".to_string()
    } else {
        labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
    }
}

fn table(clusters: &[KubeFedCluster], wide: bool) -> Table {
    let mut headers = vec!["name", "ready", "endpoint", "labels", "age"];
    if wide {
        headers.extend(["offline", "secret", "message"]);
    }
    let mut t = Table::new(headers);
    for c in clusters {
        let mut row = vec![
            c.name_any(),
            ready(c),
            c.spec.api_endpoint.clone(),
            labels(c),
            output::age(c.metadata.creation_timestamp.as_ref()),
        ];
        if wide {
            let message = c
                .status
                .as_ref()
                .and_then(|s| s.conditions.iter().find(|x| x.type_ == CONDITION_READY))
                .and_then(|x| x.message.clone())
                .unwrap_or_default();
            row.extend([c.is_offline().to_string(), c.spec.secret_ref.name.clone(), message]);
        }
        t.push(row);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use fed_core::api::{Condition, KubeFedClusterSpec, KubeFedClusterStatus, LocalSecretReference};

    fn cluster(name: &str, ready: Option<&str>, labels: &[(&str, &str)]) -> KubeFedCluster {
        let mut c = KubeFedCluster::new(
            name,
            KubeFedClusterSpec {
                api_endpoint: format!("https://{name}:6443"),
                secret_ref: LocalSecretReference { name: format!("{name}-token") },
                ..Default::default()
            },
        );
        c.metadata.labels = Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        c.status = ready.map(|r| KubeFedClusterStatus {
            conditions: vec![Condition { type_: "Ready".into(), status: r.into(), ..Default::default() }],
        });
        c
    }

    #[test]
    fn cluster_table() {
        let t = table(
            &[
                cluster("earth", Some("True"), &[("kubefed.io/host", "true"), ("region", "eu")]),
                cluster("vulcan", None, &[]),
            ],
            false,
        );
        assert_eq!(
            t.render(),
            "NAME     READY     ENDPOINT              LABELS                           AGE\n\
             earth    True      https://earth:6443    kubefed.io/host=true,region=eu   <unknown>\n\
             vulcan   Unknown   https://vulcan:6443   <none>                           <unknown>\n"
        );
    }
}
