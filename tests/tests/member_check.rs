//! `kubectl fed place` asks the members first: a copy a member would refuse (an override making
//! `spec.replicas` a string) fails the command with one line naming the member and the field,
//! and nothing changes (the object, its federated object and its member copy keep their uids,
//! generations and annotations; their status may move as the copy's pod comes up). `--skip-member-check` places it anyway. Also `place namespace/NS`, which
//! adopts the FederatedNamespace `federate` made, in its own namespace.

use std::time::Duration;

use fed_core::keys;
use fed_e2e::{TestNamespace, apply_on_earth, federation, kubectl, kubectl_fed, output_text, succeeded, wait_until};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;
use kube::api::Api;

const LANDED: Duration = Duration::from_secs(90);

/// uid, generation and annotations of `kind/name` in `ns` on `context`: what a placement changes
/// (resourceVersion is not compared: status updates move it while the copy rolls out).
fn identity(context: &str, ns: &str, kind: &str, name: &str) -> String {
    succeeded(kubectl(&[
        "--context",
        context,
        "-n",
        ns,
        "get",
        kind,
        name,
        "-o",
        "jsonpath={.metadata.uid}/{.metadata.generation}/{.metadata.annotations}",
    ]))
}

#[tokio::test]
async fn a_placement_a_member_refuses_changes_nothing() {
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "check").await;
    let n = ns.name.as_str();
    succeeded(kubectl_fed(&["federate", "namespace", n, "--clusters", "earth,vulcan"]));
    // The FederatedNamespace lives in its namespace; place adopts it there.
    let out = kubectl_fed(&["place", &format!("namespace/{n}"), "--clusters", "earth,vulcan"]);
    assert!(out.status.success(), "place namespace/{n}: {}", output_text(&out));
    let owners = succeeded(kubectl(&[
        "--context",
        "earth",
        "-n",
        n,
        "get",
        "federatednamespace",
        n,
        "-o",
        "jsonpath={.metadata.ownerReferences[0].kind}",
    ]));
    assert_eq!(owners, "Namespace", "the namespace adopted its FederatedNamespace");
    wait_until(LANDED, "the namespace on vulcan", || async {
        Api::<Namespace>::all(bed.vulcan.clone()).get_opt(n).await.ok()?
    })
    .await;

    let image = fed_e2e::images().map_or("registry.invalid/pause:1".to_string(), |i| i.pause);
    let web = serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "annotations": {keys::PLACEMENT: "vulcan"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": image}]}}}})
    .to_string();
    succeeded(apply_on_earth(n, &web, &[]));
    let copies = Api::<Deployment>::namespaced(bed.vulcan.clone(), n);
    // Each Deployment controller has seen its object (it sets the revision annotation first).
    let sources = Api::<Deployment>::namespaced(bed.earth.clone(), n);
    for (api, what) in [(&sources, "web seen on earth"), (&copies, "web on vulcan, seen there")] {
        wait_until(LANDED, what, || async {
            let d = api.get_opt("web").await.ok()??;
            let seen = d.status.as_ref()?.observed_generation;
            (seen.is_some() && seen == d.metadata.generation).then_some(())
        })
        .await;
    }
    let before = [
        identity("earth", n, "deployment", "web"),
        identity("earth", n, "federateddeployment", "web"),
        identity("vulcan", n, "deployment", "web"),
    ];

    // `place deploy/web` on vulcan with its `spec.replicas` overridden to `replicas`.
    let place_replicas = |replicas: &str, extra: &[&str]| {
        let over = format!("vulcan:/spec/replicas={replicas}");
        let mut args = vec!["place", "deploy/web", "-n", n, "--clusters", "vulcan", "--override", &over];
        args.extend_from_slice(extra);
        kubectl_fed(&args)
    };
    let out = place_replicas("abc", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "a refused copy must fail the command: {}", output_text(&out));
    let line =
        stderr.lines().find(|l| l.starts_with("vulcan: ")).unwrap_or_else(|| panic!("no line for vulcan:\n{stderr}"));
    assert!(line.contains(".spec.replicas"), "the line names the field: {line}");
    assert!(stderr.contains("nothing was changed"), "{stderr}");
    let after = [
        identity("earth", n, "deployment", "web"),
        identity("earth", n, "federateddeployment", "web"),
        identity("vulcan", n, "deployment", "web"),
    ];
    assert_eq!(after, before, "the object, its federated object and its copy are unchanged");
    let source = sources.get("web").await.unwrap();
    assert!(source.annotations().get(keys::OVERRIDES).is_none());

    // A copy the member accepts is placed; --skip-member-check does not ask.
    let out = place_replicas("2", &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    wait_until(LANDED, "vulcan's copy at 2 replicas", || async {
        let d = copies.get_opt("web").await.ok()??;
        (d.spec.replicas == Some(2)).then_some(())
    })
    .await;
    let out = place_replicas("abc", &["--skip-member-check"]);
    assert!(out.status.success(), "--skip-member-check places without asking: {}", output_text(&out));
    let source = sources.get("web").await.unwrap();
    assert!(source.annotations().get(keys::OVERRIDES).is_some_and(|o| o.contains("abc")));
    ns.delete().await;
}
