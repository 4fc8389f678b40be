//! `kubectl fed clusters`: the joined clusters, like `kubectl get`.

use anyhow::Result;
use clap::Args;
use fed_core::api::{CONDITION_READY, KubeFedCluster};
use fed_core::capacity::Resources;
use kube::ResourceExt;

use crate::context::Ctx;
use crate::fedapi;
use crate::output::{self, OutputFormat, Table};

/// List joined clusters (NAME READY ENDPOINT LABELS AGE; -o wide adds OFFLINE SECRET, CPU, MEMORY
/// and PODS requested/allocatable on the schedulable nodes, MESSAGE)
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

/// `requested/allocatable` of CPU, memory and pods on the cluster's schedulable nodes, as the
/// controllers last wrote them in its status (`-` each before they have).
fn capacity(cluster: &KubeFedCluster) -> [String; 3] {
    let Some(s) = cluster.status.as_ref().and_then(|s| s.resource_summary.as_ref()) else {
        return ["-".into(), "-".into(), "-".into()];
    };
    let pair = |f: fn(&Resources) -> String| format!("{}/{}", f(&s.requested), f(&s.allocatable));
    [pair(|r| cpu(r.cpu_millis)), pair(|r| memory(r.memory_bytes)), pair(|r| r.pods.to_string())]
}

/// Millicores as kubectl shows CPU: whole cores plain (`2`), else in millicores (`1400m`).
fn cpu(millis: i64) -> String {
    if millis % 1000 == 0 { (millis / 1000).to_string() } else { format!("{millis}m") }
}

/// Bytes in mebibytes below a gibibyte (`512Mi`, rounded up), else in gibibytes with one decimal
/// (`7.5Gi`, `8Gi`).
fn memory(bytes: i64) -> String {
    const MI: i64 = 1 << 20;
    const GI: i64 = 1 << 30;
    if bytes < GI {
        format!("{}Mi", (bytes.max(0) as u64).div_ceil(MI as u64))
    } else {
        let gi = format!("{:.1}", bytes as f64 / GI as f64);
        format!("{}Gi", gi.strip_suffix(".0").unwrap_or(&gi))
    }
}

fn table(clusters: &[KubeFedCluster], wide: bool) -> Table {
    let mut headers = vec!["name", "ready", "endpoint", "labels", "age"];
    if wide {
        headers.extend(["offline", "secret", "cpu(req/alloc)", "memory(req/alloc)", "pods(req/alloc)", "message"]);
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
            row.extend([c.is_offline().to_string(), c.spec.secret_ref.name.clone()]);
            row.extend(capacity(c));
            row.push(message);
        }
        t.push(row);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use fed_core::api::{Condition, KubeFedClusterSpec, KubeFedClusterStatus, LocalSecretReference};
    use fed_core::capacity::ResourceSummary;

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
            ..Default::default()
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

    #[test]
    fn wide_table_shows_capacity() {
        let mut earth = cluster("earth", Some("True"), &[]);
        let res = |cpu_millis, memory_bytes, pods| Resources { cpu_millis, memory_bytes, pods };
        earth.status.as_mut().unwrap().resource_summary =
            Some(ResourceSummary { allocatable: res(2000, 8 << 30, 110), requested: res(1400, 600 << 20, 12) });
        let t = table(&[earth, cluster("vulcan", None, &[])], true);
        assert_eq!(
            t.render(),
            "NAME     READY     ENDPOINT              LABELS   AGE         OFFLINE   SECRET         CPU(REQ/ALLOC)   MEMORY(REQ/ALLOC)   PODS(REQ/ALLOC)   MESSAGE\n\
             earth    True      https://earth:6443    <none>   <unknown>   false     earth-token    1400m/2          600Mi/8Gi           12/110\n\
             vulcan   Unknown   https://vulcan:6443   <none>   <unknown>   false     vulcan-token   -                -                   -\n"
        );
    }

    #[test]
    fn quantities_read_like_kubectl() {
        let cpus = [(0, "0"), (2000, "2"), (1400, "1400m"), (250, "250m")];
        for (millis, want) in cpus {
            assert_eq!(cpu(millis), want, "{millis}");
        }
        let memories = [
            (0, "0Mi"),
            (1, "1Mi"),
            (600 << 20, "600Mi"),
            (1 << 30, "1Gi"),
            (7_900_000_000, "7.4Gi"),
            (8 << 30, "8Gi"),
        ];
        for (bytes, want) in memories {
            assert_eq!(memory(bytes), want, "{bytes}");
        }
    }
}
