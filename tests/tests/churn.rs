//! No workload churn (issue 15): a member copy is updated in place, never deleted and
//! re-created, while its cluster stays in the placement. Each test records the uids of the
//! member copies, makes one transition that keeps every cluster placed, waits until sync has
//! handled it, and requires the same uids.

use std::collections::BTreeMap;
use std::time::Duration;

use fed_e2e::{Bed, TestNamespace, federation, kubectl, kubectl_fed, succeeded, wait_until, webhook_log};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;
use serde_json::Value;

const CONVERGE: Duration = Duration::from_secs(90);
const MEMBERS: [&str; 2] = ["vulcan", "kronos"];
/// Every joined cluster but the host: vulcan and kronos, by selector.
const NOT_HOST: &str = "!kubefed.io/host";

/// A Deployment `name` in `ns` on earth, with no replicas (nothing to schedule; its uid is what
/// the tests watch).
fn create_deployment(ns: &str, name: &str) {
    succeeded(kubectl(&[
        "--context",
        "earth",
        "-n",
        ns,
        "create",
        "deployment",
        name,
        "--image=busybox",
        "--replicas=0",
    ]));
}

/// `kubectl fed ARGS -n NS`, which must succeed.
fn fed_in(ns: &str, args: &[&str]) {
    let mut all = args.to_vec();
    all.extend_from_slice(&["-n", ns]);
    succeeded(kubectl_fed(&all));
}

/// The FederatedDeployment `name` in `ns` as JSON, if it exists.
fn federated(ns: &str, name: &str) -> Option<Value> {
    let out = kubectl(&["--context", "earth", "-n", ns, "get", "federateddeployment", name, "-o", "json"]);
    out.status.success().then(|| serde_json::from_slice(&out.stdout).ok()).flatten()
}

/// True when sync has propagated the current generation of `fed` everywhere, and `fed` is not
/// being deleted.
fn synced(fed: &Value) -> bool {
    let meta = &fed["metadata"];
    let status = &fed["status"];
    let propagated = status["conditions"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Propagation" && c["status"] == "True"));
    meta["deletionTimestamp"].is_null() && status["observedGeneration"] == meta["generation"] && propagated
}

/// True when the materialize controller has written `fed` for its source: a controller
/// ownerReference that blocks the owner's deletion (an adoption by `kubectl fed place` alone
/// does not set that).
fn materialized(fed: &Value) -> bool {
    fed["metadata"]["ownerReferences"].as_array().is_some_and(|refs| {
        refs.iter().any(|o| o["kind"] == "Deployment" && o["controller"] == true && o["blockOwnerDeletion"] == true)
    })
}

/// Waits until the FederatedDeployment `name` is synced and satisfies `done`; returns it.
async fn wait_federated(ns: &str, name: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    wait_until(CONVERGE, what, || async { federated(ns, name).filter(|f| synced(f) && done(f)) }).await
}

/// The uid of the Deployment `name` in `ns` on each member, once it exists on all of them.
async fn member_uids(bed: &Bed, ns: &str, name: &str) -> BTreeMap<&'static str, String> {
    let mut uids = BTreeMap::new();
    for cluster in MEMBERS {
        let api = Api::<Deployment>::namespaced(bed.cluster(cluster).clone(), ns);
        let uid = wait_until(CONVERGE, &format!("{name} on {cluster}"), || async {
            api.get_opt(name).await.ok()??.metadata.uid
        })
        .await;
        uids.insert(cluster, uid);
    }
    uids
}

/// Asserts that the copies on the members are still the incarnations of `before`.
async fn assert_not_recreated(bed: &Bed, ns: &str, name: &str, before: &BTreeMap<&str, String>, step: &str) {
    let now = member_uids(bed, ns, name).await;
    assert_eq!(&now, before, "{step}: a member copy was re-created (uid changed) although its cluster stayed placed");
}

/// The revisionHistoryLimit of the copy `name` on `cluster` (the API server defaults it to 10).
async fn revision_history_limit(bed: &Bed, cluster: &str, ns: &str, name: &str) -> Option<i32> {
    let api = Api::<Deployment>::namespaced(bed.cluster(cluster).clone(), ns);
    api.get_opt(name).await.ok()??.spec.revision_history_limit
}

#[tokio::test]
async fn adopting_a_federated_object_updates_its_copies_in_place() {
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "churn-adopt").await;
    create_deployment(&ns.name, "w");
    fed_in(&ns.name, &["federate", "deployment", "w", "--clusters", "vulcan,kronos"]);
    let fed = wait_federated(&ns.name, "w", "the federated copy synced", |_| true).await;
    let before = member_uids(&bed, &ns.name, "w").await;

    fed_in(&ns.name, &["place", "deployment/w", "--clusters", "vulcan,kronos"]);
    let adopted =
        wait_federated(&ns.name, "w", "the FederatedDeployment materialized from its source", materialized).await;
    assert_eq!(
        adopted["metadata"]["uid"], fed["metadata"]["uid"],
        "adoption deleted and re-created the FederatedDeployment"
    );
    assert_not_recreated(&bed, &ns.name, "w", &before, "adoption").await;
    let log = webhook_log();
    let swept = log.lines().find(|l| l.contains(&ns.name) && l.contains("deleting its federated object"));
    assert!(swept.is_none(), "adoption made the controllers delete the federated object: {swept:?}");
    ns.delete().await;
}

#[tokio::test]
async fn placement_form_and_override_changes_update_copies_in_place() {
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "churn-place").await;
    create_deployment(&ns.name, "w");
    fed_in(&ns.name, &["place", "deployment/w", "--clusters", "vulcan,kronos"]);
    wait_federated(&ns.name, "w", "placed by list", materialized).await;
    let before = member_uids(&bed, &ns.name, "w").await;

    let by_selector = |f: &Value| !f["spec"]["placement"]["clusterSelector"].is_null();
    fed_in(&ns.name, &["place", "deployment/w", "--selector", NOT_HOST]);
    wait_federated(&ns.name, "w", "placed by selector", by_selector).await;
    assert_not_recreated(&bed, &ns.name, "w", &before, "list → selector").await;

    fed_in(
        &ns.name,
        &["place", "deployment/w", "--selector", NOT_HOST, "--override", "vulcan:/spec/revisionHistoryLimit=3"],
    );
    wait_until(CONVERGE, "the override on vulcan", || async {
        (revision_history_limit(&bed, "vulcan", &ns.name, "w").await == Some(3)).then_some(())
    })
    .await;
    assert_not_recreated(&bed, &ns.name, "w", &before, "adding an override").await;

    fed_in(&ns.name, &["place", "deployment/w", "--selector", NOT_HOST]);
    wait_until(CONVERGE, "the override gone from vulcan", || async {
        (revision_history_limit(&bed, "vulcan", &ns.name, "w").await == Some(10)).then_some(())
    })
    .await;
    assert_not_recreated(&bed, &ns.name, "w", &before, "removing the override").await;

    let by_list = |f: &Value| !f["spec"]["placement"]["clusters"].is_null();
    fed_in(&ns.name, &["place", "deployment/w", "--clusters", "vulcan,kronos"]);
    wait_federated(&ns.name, "w", "placed by list again", by_list).await;
    assert_not_recreated(&bed, &ns.name, "w", &before, "selector → list").await;
    ns.delete().await;
}
