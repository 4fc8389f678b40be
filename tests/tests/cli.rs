//! `kubectl fed` through the real kubectl plugin mechanism (issue 5 acceptance).

use std::time::Duration;

use fed_e2e::kubectl_fed as fed;
use fed_e2e::succeeded as ok;
use fed_e2e::{TestNamespace, federation, kubectl, kubectl_with_stdin, output_text, wait_until};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::Api;

const CONVERGE: Duration = Duration::from_secs(60);

fn demo_objects() -> String {
    r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "nginx:1.27"}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data: {greeting: hello}
"#
    .to_string()
}

#[tokio::test]
async fn federate_namespace_contents_then_place_and_report_status() {
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "cli-demo").await;
    ok(kubectl_with_stdin(&["--context", "earth", "-n", &ns.name, "apply", "-f", "-"], Some(&demo_objects())));

    ok(fed(&["federate", "namespace", &ns.name, "--contents", "--enable-type"]));
    for cluster in ["vulcan", "kronos"] {
        let client = bed.cluster(cluster).clone();
        let (d, s, c) = (
            Api::<Deployment>::namespaced(client.clone(), &ns.name),
            Api::<Service>::namespaced(client.clone(), &ns.name),
            Api::<ConfigMap>::namespaced(client, &ns.name),
        );
        wait_until(CONVERGE, &format!("demo objects on {cluster}"), || async {
            let all = d.get_opt("web").await.ok()?.is_some()
                && s.get_opt("web").await.ok()?.is_some()
                && c.get_opt("web-config").await.ok()?.is_some();
            all.then_some(())
        })
        .await;
    }

    let status = ok(fed(&["status", "-n", &ns.name]));
    for needle in ["earth", "vulcan", "kronos", "web", "web-config"] {
        assert!(status.contains(needle), "status lacks {needle}:\n{status}");
    }
    ns.delete().await;
}

#[tokio::test]
async fn place_sets_a_checked_placement_and_unplace_removes_the_copies() {
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "cli-place").await;
    ok(kubectl_with_stdin(&["--context", "earth", "-n", &ns.name, "apply", "-f", "-"], Some(&demo_objects())));

    let denied = fed(&["place", "deployment/web", "--clusters", "vulcan,marss", "-n", &ns.name]);
    assert!(!denied.status.success());
    assert!(output_text(&denied).contains("marss"), "{}", output_text(&denied));

    ok(fed(&["place", "deployment/web", "--clusters", "vulcan,kronos", "-n", &ns.name]));
    for cluster in ["vulcan", "kronos"] {
        let api = Api::<Deployment>::namespaced(bed.cluster(cluster).clone(), &ns.name);
        wait_until(CONVERGE, &format!("web on {cluster}"), || async { api.get_opt("web").await.ok()? }).await;
    }
    let status = ok(fed(&["status", "deployment/web", "-n", &ns.name]));
    assert!(status.contains("vulcan") && status.contains("kronos"), "{status}");

    ok(fed(&["unplace", "deployment/web", "-n", &ns.name]));
    let vulcan = Api::<Deployment>::namespaced(bed.vulcan.clone(), &ns.name);
    wait_until(CONVERGE, "web gone from vulcan", || async {
        matches!(vulcan.get_opt("web").await, Ok(None)).then_some(())
    })
    .await;
    ns.delete().await;
}

#[tokio::test]
async fn clusters_lists_every_member_ready() {
    federation().await;
    // A freshly joined cluster is Ready after its first health probe.
    let table = wait_until(CONVERGE, "every cluster Ready in `kubectl fed clusters`", || async {
        let table = ok(fed(&["clusters"]));
        let ready = |cluster: &str| {
            table.lines().any(|l| {
                let mut cols = l.split_whitespace();
                cols.next() == Some(cluster) && cols.next() == Some("True")
            })
        };
        ["earth", "vulcan", "kronos"].into_iter().all(ready).then_some(table)
    })
    .await;
    let header = table.lines().next().unwrap_or_default();
    assert!(header.starts_with("NAME") && header.contains("READY"), "{table}");
}

#[test]
fn help_and_errors_follow_kubectl_conventions() {
    let help = kubectl(&["fed", "--help"]);
    assert!(output_text(&help).contains("place"), "{}", output_text(&help));
    let bad = kubectl(&["fed", "place", "deployment/web", "--clusters", "a,,b", "--context", "earth"]);
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
}

/// kubectl's own completion of `kubectl fed …` goes through `kubectl_complete-fed`.
#[test]
fn kubectl_completes_the_plugin_through_its_completion_hook() {
    let out = ok(kubectl(&["__complete", "fed", "pl"]));
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.iter().any(|l| l.split('\t').next() == Some("place")), "{out}");
    assert_eq!(lines.last(), Some(&":4"), "cobra's no-file-completion directive last: {out}");
    let flags = ok(kubectl(&["__complete", "fed", "place", "deployment/web", "--clu"]));
    assert!(flags.lines().any(|l| l.starts_with("--clusters")), "{flags}");
}
