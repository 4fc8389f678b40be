//! Credential rotation: vulcan's federation token replaced under load. The member's token
//! Secret is deleted (which revokes its token) and created again (a new token), and the
//! host's copy of the token is replaced some seconds later. In between the federation cannot
//! write to vulcan and says so (vulcan Offline, federated objects reporting it); once the new
//! token is on the host, writes resume without restarting anything.

use std::time::{Duration, Instant};

use fed_e2e::{TestNamespace, federation, hack_later, host_in_cluster, host_pods, lease_holder, poll_until, wait_until};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::load::{Load, mixed};
use crate::report::Row;
use crate::watch::CopyWatch;
use crate::{ONE_AT_A_TIME, PREFIX, converge_and_report, is_offline, objects, prepare, secs, steps_done};

const FED_NS: &str = "kube-federation-system";
/// Join's token Secret on the member and the host's copy of its token.
const MEMBER_SECRET: &str = "kubefed-vulcan-token";
const HOST_SECRET: &str = "vulcan-token";

/// Deletes the member's token Secret, waits until it is gone, and creates it again with the
/// same labels and annotations; returns the new token once the token controller filled it in.
async fn new_member_token(member: &Api<Secret>) -> ByteString {
    let old = member.get(MEMBER_SECRET).await.expect("the member's token Secret");
    let old_uid = old.metadata.uid.clone();
    member.delete(MEMBER_SECRET, &DeleteParams::default()).await.expect("old token Secret deleted");
    wait_until(Duration::from_secs(30), "the old token Secret gone", || async {
        (member.get_opt(MEMBER_SECRET).await.ok()?.and_then(|s| s.metadata.uid) != old_uid).then_some(())
    })
    .await;
    let fresh = Secret {
        metadata: ObjectMeta {
            name: Some(MEMBER_SECRET.into()),
            labels: old.metadata.labels.clone(),
            annotations: old.metadata.annotations.as_ref().map(|a| {
                a.iter().filter(|(k, _)| k.as_str() == "kubernetes.io/service-account.name").map(|(k, v)| (k.clone(), v.clone())).collect()
            }),
            ..ObjectMeta::default()
        },
        type_: old.type_.clone(),
        ..Secret::default()
    };
    member.create(&PostParams::default(), &fresh).await.expect("new token Secret created");
    wait_until(Duration::from_secs(30), "the member's token controller to fill in the new token", || async {
        member.get_opt(MEMBER_SECRET).await.ok()??.data?.get("token").cloned()
    })
    .await
}

#[tokio::test]
#[ignore = "fault suite: make test-faults"]
async fn s9_member_token_rotated() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "faults-token").await;
    let copies = CopyWatch::start(&bed, &ns.name);
    prepare(&bed, &ns.name, 60).await;
    let scripts = mixed(PREFIX, 60, 240);
    let mut row = Row::new("9 vulcan token rotated (old revoked)", objects(&scripts));
    // join again repairs the credentials if the scenario fails half-way.
    let _repair = hack_later("federation-up.sh", &[]);
    let leader_before = lease_holder(&bed).await;
    let member: Api<Secret> = Api::namespaced(bed.vulcan.clone(), FED_NS);
    let host: Api<Secret> = Api::namespaced(bed.earth.clone(), FED_NS);

    let load = Load::start(bed.earth.clone(), &ns.name, scripts);
    steps_done(&load, 60).await;
    let revoked = Instant::now();
    let token = new_member_token(&member).await;
    match poll_until(Duration::from_secs(60), || is_offline(&bed, "vulcan")).await {
        Some(()) => row.note(format!("vulcan Offline {} after the old token was revoked", secs(revoked.elapsed()))),
        None => row.problem("vulcan was never reported Offline while the host held a revoked token"),
    }
    let patch = json!({ "data": { "token": token } });
    host.patch(HOST_SECRET, &PatchParams::default(), &Patch::Merge(&patch)).await.expect("host Secret replaced");
    let replaced = Instant::now();
    let ready = poll_until(Duration::from_secs(60), || async { is_offline(&bed, "vulcan").await.is_none().then_some(()) });
    match ready.await {
        Some(()) => row.note(format!(
            "token replaced on the host {} after the revocation; vulcan Ready {} after that",
            secs(replaced - revoked),
            secs(replaced.elapsed())
        )),
        None => row.problem("vulcan did not come back after the new token reached the host"),
    }
    let report = load.finish().await;
    row.failed_writes(&report.failed);
    let leader_after = lease_holder(&bed).await;
    let same_process = if host_in_cluster() {
        leader_before.is_some() && host_pods::leading_pod(&bed, None).await == leader_before
    } else {
        leader_before.is_some() && leader_after == leader_before
    };
    if !same_process {
        row.problem(format!("the controllers restarted or moved: leader {leader_before:?} → {leader_after:?}"));
    }
    converge_and_report(&bed, ns, replaced.max(report.finished.expect("finished")), row, copies).await;
}
