use serde_json::json;

use super::*;
use crate::api::{ClusterOverrides, FederatedSpec, FederatedStatus, OverrideOp, Scope};

fn deployments() -> ApiResourceRef {
    ApiResourceRef::v1("apps", "Deployment", "deployments", Scope::Namespaced)
}

fn namespaces() -> ApiResourceRef {
    ApiResourceRef::v1("", "Namespace", "namespaces", Scope::Cluster)
}

fn fed(placement: Placement) -> Federated {
    let spec = FederatedSpec { template: Some(json!({ "spec": { "replicas": 2 } })), placement, overrides: vec![] };
    let mut f = Federated::new("web", &deployments().federated().api_resource(), spec);
    f.metadata.namespace = Some("shop".into());
    f
}

fn member(name: &str, copy: CopyState) -> MemberCluster {
    MemberCluster { joined: JoinedCluster { name: name.into(), ..Default::default() }, unusable: None, copy }
}

fn members() -> Vec<MemberCluster> {
    vec![member("earth", CopyState::Absent), member("kronos", CopyState::Absent), member("vulcan", CopyState::Absent)]
}

fn input<'a>(fed: &'a Federated, target: &'a ApiResourceRef, members: &'a [MemberCluster]) -> Input<'a> {
    Input { fed, target, members, namespace_policy: None }
}

fn kinds(plan: &Plan) -> Vec<(&str, &str)> {
    plan.steps
        .iter()
        .map(|(c, s)| {
            let what = match s {
                Step::Apply { failure: CREATION_FAILED, .. } => "create",
                Step::Apply { .. } => "update",
                Step::Delete => "delete",
                Step::Settled(Outcome::Propagated) => "propagated",
                Step::Settled(Outcome::Removed) => "removed",
                Step::Settled(Outcome::Failed { word, .. }) => word,
            };
            (c.as_str(), what)
        })
        .collect()
}

#[test]
fn placed_clusters_get_the_rendered_copy() {
    let f = fed(Placement::clusters(["vulcan", "kronos", "mars"]));
    let target = deployments();
    let mut m = members();
    m[1].copy = CopyState::Present(Some("FederatedDeployment/shop/web".into()));
    let plan = propagate(&input(&f, &target, &m));
    assert_eq!(
        (plan.origin.as_str(), plan.namespace.as_deref(), plan.name.as_str()),
        ("FederatedDeployment/shop/web", Some("shop"), "web")
    );
    assert_eq!(kinds(&plan), [("kronos", "update"), ("vulcan", "create")], "mars is not joined");
    let Step::Apply { object, .. } = &plan.steps["vulcan"] else { panic!("apply") };
    assert_eq!(object["metadata"]["namespace"], "shop");
    assert_eq!(object["metadata"]["labels"]["kubefed.io/managed"], "true");
    assert_eq!(object["metadata"]["annotations"]["kubefed.io/origin"], "FederatedDeployment/shop/web");
    assert_eq!(object["spec"]["replicas"], 2);
}

#[test]
fn copies_outside_the_placement_are_deleted_where_seen_or_recorded() {
    let mut f = fed(Placement::clusters(["vulcan"]));
    f.status = Some(FederatedStatus {
        clusters: vec![
            ClusterStatus { name: "kronos".into(), status: None, message: None, ..Default::default() },
            ClusterStatus { name: "pluto".into(), status: None, message: None, ..Default::default() },
        ],
        ..Default::default()
    });
    let target = deployments();
    let mut m = members();
    m[0].copy = CopyState::Present(Some("FederatedDeployment/shop/web".into()));
    m[2].copy = CopyState::Present(Some("FederatedDeployment/other/web".into()));
    let plan = propagate(&input(&f, &target, &m));
    assert_eq!(
        kinds(&plan),
        [("earth", "delete"), ("kronos", "delete"), ("pluto", "removed"), ("vulcan", "update")],
        "earth holds our copy, kronos was recorded, pluto left the federation"
    );
}

#[test]
fn health_and_clients_settle_a_cluster_without_a_request() {
    let f = fed(Placement::clusters(["earth", "kronos", "vulcan"]));
    let target = deployments();
    let mut m = members();
    m[0].joined.offline = true;
    m[1].unusable = Some("bad token".into());
    let plan = propagate(&input(&f, &target, &m));
    assert_eq!(kinds(&plan), [("earth", CLUSTER_NOT_READY), ("kronos", CLUSTER_NOT_READY), ("vulcan", "create")]);
    assert_eq!(plan.steps["kronos"], Step::Settled(Outcome::failed(CLUSTER_NOT_READY, "bad token")));
    let mut gone = f.clone();
    gone.spec.placement = Placement::clusters(["vulcan"]);
    gone.status = Some(FederatedStatus {
        clusters: ["earth", "kronos"]
            .map(|c| ClusterStatus { name: c.into(), status: None, message: None, ..Default::default() })
            .into(),
        ..Default::default()
    });
    let plan = propagate(&input(&gone, &target, &m));
    assert_eq!(plan.steps["earth"], Step::Settled(Outcome::failed(DELETION_FAILED, "cluster is Offline")));
    assert_eq!(plan.steps["kronos"], Step::Settled(Outcome::failed(DELETION_FAILED, "no client: bad token")));
}

#[test]
fn the_host_copy_of_a_source_is_the_source() {
    let mut f = fed(Placement::clusters(["earth", "vulcan"]));
    f.metadata.owner_references = Some(vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        name: "web".into(),
        uid: "u1".into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }]);
    let target = deployments();
    let mut m = members();
    m[0].joined.is_host = true;
    assert!(host_is_source(&f, &target));
    let plan = propagate(&input(&f, &target, &m));
    assert_eq!(kinds(&plan), [("earth", "propagated"), ("vulcan", "create")]);
    let mut plain = f.clone();
    plain.metadata.owner_references = None;
    assert!(!host_is_source(&plain, &target));
    assert_eq!(kinds(&propagate(&input(&plain, &target, &m))), [("earth", "create"), ("vulcan", "create")]);
    assert!(host_is_source(&plain, &namespaces()), "a FederatedNamespace's host copy is its namespace");
}

#[test]
fn the_namespace_policy_narrows_the_placement_but_not_a_federated_namespace() {
    let f = fed(Placement::clusters(["kronos", "vulcan"]));
    let target = deployments();
    let m = members();
    let policy = Placement::clusters(["vulcan", "earth"]);
    let held = Input { namespace_policy: Some(&policy), ..input(&f, &target, &m) };
    assert_eq!(placed(&held), ["vulcan".to_string()].into());
    assert_eq!(kinds(&propagate(&held)), [("vulcan", "create")]);
    let ns = namespaces();
    let fns = Input { target: &ns, ..held };
    assert_eq!(placed(&fns).len(), 2, "a FederatedNamespace is the policy");
}

#[test]
fn overrides_that_do_not_apply_are_reported_for_their_cluster() {
    let mut f = fed(Placement::clusters(["vulcan", "kronos"]));
    f.spec.overrides = vec![ClusterOverrides {
        cluster_name: "vulcan".into(),
        cluster_overrides: vec![OverrideOp {
            op: Some("remove".into()),
            path: "/spec/nothing/here".into(),
            value: None,
        }],
    }];
    let target = deployments();
    let m = members();
    let plan = propagate(&input(&f, &target, &m));
    assert_eq!(kinds(&plan), [("kronos", "create"), ("vulcan", APPLY_OVERRIDES_FAILED)]);
}

#[test]
fn clean_up_deletes_wherever_a_copy_may_be_unless_orphaned() {
    let mut f = fed(Placement::clusters(["vulcan"]));
    f.status = Some(FederatedStatus {
        clusters: vec![ClusterStatus { name: "kronos".into(), status: None, message: None, ..Default::default() }],
        ..Default::default()
    });
    let target = deployments();
    let m = vec![
        member("earth", CopyState::Present(Some("FederatedDeployment/shop/web".into()))),
        member("kronos", CopyState::Absent),
        member("mars", CopyState::Unknown),
        member("pluto", CopyState::Absent),
        member("saturn", CopyState::Present(Some("FederatedDeployment/other/web".into()))),
        member("vulcan", CopyState::Absent),
    ];
    let plan = clean_up(&input(&f, &target, &m)).expect("not orphaned");
    assert_eq!(
        kinds(&plan),
        [("earth", "delete"), ("kronos", "delete"), ("mars", "delete"), ("vulcan", "delete")],
        "seen, recorded, unknown and placed; not pluto (absent) nor saturn (another origin)"
    );
    f.metadata.annotations = Some([(crate::keys::ORPHAN.to_string(), "true".to_string())].into());
    assert_eq!(clean_up(&input(&f, &target, &m)), None);
}

#[test]
fn clean_set_is_present_or_recorded_minus_placed() {
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let recorded = vec![
        ClusterStatus { name: "vulcan".into(), status: None, message: None, ..Default::default() },
        ClusterStatus { name: "earth".into(), status: None, message: None, ..Default::default() },
    ];
    assert_eq!(clusters_to_clean(&set(&["earth"]), &set(&["kronos", "earth"]), &recorded), set(&["kronos", "vulcan"]));
    assert!(clusters_to_clean(&set(&["earth", "vulcan"]), &set(&["earth"]), &recorded).is_empty());
}

#[test]
fn member_copies_sit_where_the_target_scope_says() {
    let f = fed(Placement::default());
    assert_eq!(render::member_key(&f, &deployments()), (Some("shop".into()), "web".into()));
    assert_eq!(render::member_key(&f, &namespaces()), (None, "shop".into()));
    let cluster_scoped = ApiResourceRef { scope: Scope::Cluster, ..deployments() };
    assert_eq!(render::member_key(&f, &cluster_scoped), (None, "web".into()));
}

fn deleting() -> Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time> {
    Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now()))
}

fn host_namespace(deleted: bool, phase: &str) -> Namespace {
    let mut ns: Namespace = serde_json::from_value(json!({
        "metadata": { "name": "shop" }, "status": { "phase": phase }
    }))
    .unwrap();
    if deleted {
        ns.metadata.deletion_timestamp = deleting();
    }
    ns
}

#[test]
fn a_namespace_gone_or_terminating_is_ending() {
    assert!(!namespace_ending(Some(&host_namespace(false, "Active"))));
    assert!(namespace_ending(Some(&host_namespace(true, "Active"))), "deleted, phase not updated yet");
    assert!(namespace_ending(Some(&host_namespace(false, "Terminating"))));
    assert!(namespace_ending(None), "gone");
}

#[test]
fn no_member_namespace_is_created_for_an_object_or_namespace_being_deleted() {
    let live = ObjectMeta { name: Some("web".into()), ..Default::default() };
    let dying = ObjectMeta { deletion_timestamp: deleting(), ..live.clone() };
    let active = host_namespace(false, "Active");
    let terminating = host_namespace(true, "Terminating");
    assert!(may_create_member_namespace(Some(&live), Some(&active)));
    assert!(!may_create_member_namespace(Some(&dying), Some(&active)), "the federated object is being deleted");
    assert!(!may_create_member_namespace(None, Some(&active)), "the federated object is gone");
    assert!(!may_create_member_namespace(Some(&live), Some(&terminating)), "its namespace is being deleted");
    assert!(!may_create_member_namespace(Some(&live), None), "its namespace is gone");
}

/// Every transition that keeps vulcan and kronos placed (issue 15) plans an in-place update
/// there, never a delete: list ↔ selector, overrides added or removed, a namespace policy
/// changed around them, copies not yet seen by a fresh watch (a restart or a new leader), and
/// the status of the old placement still recorded.
#[test]
fn transitions_that_keep_a_cluster_update_its_copy_in_place() {
    let origin = "FederatedDeployment/shop/web";
    let not_host = Placement {
        clusters: None,
        cluster_selector: Some(crate::api::ClusterSelector {
            match_expressions: vec![crate::api::SelectorRequirement {
                key: crate::keys::HOST_LABEL.into(),
                operator: "DoesNotExist".into(),
                values: vec![],
            }],
            ..Default::default()
        }),
    };
    let by_list = Placement::clusters(["vulcan", "kronos"]);
    let override_on_vulcan = vec![ClusterOverrides {
        cluster_name: "vulcan".into(),
        cluster_overrides: vec![OverrideOp { op: None, path: "/spec/replicas".into(), value: Some(json!(5)) }],
    }];
    let with = |placement: &Placement, overrides: &[ClusterOverrides], recorded: &[&str]| {
        let mut f = fed(placement.clone());
        f.spec.overrides = overrides.to_vec();
        f.status = Some(FederatedStatus {
            clusters: recorded
                .iter()
                .map(|c| ClusterStatus { name: c.to_string(), status: None, message: None, ..Default::default() })
                .collect(),
            ..Default::default()
        });
        f
    };
    let mut m = members();
    m[0].joined.is_host = true;
    m[0].joined.labels = [(crate::keys::HOST_LABEL.to_string(), "true".to_string())].into();
    let seen = |mut m: Vec<MemberCluster>, copy: CopyState| {
        for x in m.iter_mut().filter(|x| x.joined.name != "earth") {
            x.copy = copy.clone();
        }
        m
    };
    let present = seen(m.clone(), CopyState::Present(Some(origin.into())));
    let unwatched = seen(m.clone(), CopyState::Unknown);
    let wide_policy = Placement::clusters(["earth", "vulcan", "kronos"]);
    let policy_by_selector = not_host.clone();
    let cases: Vec<(&str, Federated, &[MemberCluster], Option<&Placement>)> = vec![
        ("list → selector", with(&not_host, &[], &["kronos", "vulcan"]), &present, None),
        ("selector → list", with(&by_list, &[], &["kronos", "vulcan"]), &present, None),
        ("override added", with(&by_list, &override_on_vulcan, &["kronos", "vulcan"]), &present, None),
        ("override removed", with(&by_list, &[], &["kronos", "vulcan"]), &present, None),
        ("namespace policy widened", with(&by_list, &[], &["kronos", "vulcan"]), &present, Some(&wide_policy)),
        (
            "namespace policy by selector",
            with(&not_host, &[], &["kronos", "vulcan"]),
            &present,
            Some(&policy_by_selector),
        ),
        ("restart: copies not seen yet", with(&by_list, &[], &["kronos", "vulcan"]), &unwatched, None),
        ("adopted: no status yet", with(&by_list, &[], &[]), &present, None),
    ];
    let target = deployments();
    for (case, f, members, policy) in cases {
        let plan = propagate(&Input { namespace_policy: policy, ..input(&f, &target, members) });
        for cluster in ["kronos", "vulcan"] {
            assert!(
                matches!(plan.steps.get(cluster), Some(Step::Apply { .. })),
                "{case}: {cluster} must be updated in place, got {:?}",
                plan.steps.get(cluster)
            );
        }
        assert!(!plan.steps.values().any(|s| *s == Step::Delete), "{case}: nothing is deleted: {:?}", kinds(&plan));
    }
}

#[test]
fn a_stalled_cluster_is_settled_and_the_others_keep_their_steps() {
    let mut f = fed(Placement::clusters(["vulcan", "kronos"]));
    f.status = Some(FederatedStatus {
        clusters: vec![ClusterStatus { name: "earth".into(), ..Default::default() }],
        ..Default::default()
    });
    let target = deployments();
    let mut m = members();
    m[0].copy = CopyState::Present(Some("FederatedDeployment/shop/web".into()));
    let plan = propagate(&input(&f, &target, &m));
    assert_eq!(kinds(&plan), [("earth", "delete"), ("kronos", "create"), ("vulcan", "create")]);
    let stalled = Outcome::failed(CLUSTER_NOT_READY, "stopped answering");
    let settled = plan.clone().settled_where(|c| c == "vulcan" || c == "earth", &stalled);
    assert_eq!(kinds(&settled), [("earth", CLUSTER_NOT_READY), ("kronos", "create"), ("vulcan", CLUSTER_NOT_READY)]);
    assert_eq!(settled.steps["vulcan"], Step::Settled(stalled.clone()));
    assert_eq!(plan.clone().settled_where(|_| false, &stalled), plan, "nothing stalled: the same plan");
    let mut offline = plan.clone();
    offline.steps.insert("kronos".into(), Step::Settled(Outcome::Removed));
    assert_eq!(
        offline.settled_where(|_| true, &stalled).steps["kronos"],
        Step::Settled(Outcome::Removed),
        "a settled step keeps its own outcome"
    );
}
