//! Credential rotation: vulcan's federation token replaced under load. A second token Secret
//! is made for the member's ServiceAccount, the first one is deleted (which revokes its
//! token), and the host's copy of the token is replaced with the new one some seconds later.
//! In between the federation cannot write to vulcan and says so (vulcan Offline, federated
//! objects reporting it); once the new token is on the host, writes resume without restarting
//! anything.

use std::time::{Duration, Instant};

use fed_e2e::{TestNamespace, federation, host_in_cluster, host_pods, lease_holder, poll_until, wait_until};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::converge::{EVERYWHERE, converge};
use crate::load::{Load, mixed};
use crate::report::Row;
use crate::watch::CopyWatch;
use crate::{CONVERGE_WITHIN, ONE_AT_A_TIME, PREFIX, is_offline, objects, prepare, secs, steps_done};

const FED_NS: &str = "kube-federation-system";
/// Join's token Secret on the member and the host's copy of its token.
const MEMBER_SECRET: &str = "kubefed-vulcan-token";
const HOST_SECRET: &str = "vulcan-token";
/// The member's second token Secret, made by the rotation (rotated back at the end).
const ROTATED_SECRET: &str = "kubefed-vulcan-token-rotated";

/// Creates token Secret `to` for the ServiceAccount of the member's token Secret `from` (same
/// labels) and returns its token once the token controller filled it in. (A legacy token
/// carries no issue time: the same Secret name for the same account signs to the same token,
/// so a new token needs a new name.)
async fn new_member_token(member: &Api<Secret>, from: &str, to: &str) -> ByteString {
    let old = member.get(from).await.expect("the member's token Secret");
    let account = "kubernetes.io/service-account.name";
    let fresh = Secret {
        metadata: ObjectMeta {
            name: Some(to.into()),
            labels: old.metadata.labels.clone(),
            annotations: old.metadata.annotations.as_ref().map(|a| {
                a.iter().filter(|(k, _)| k.as_str() == account).map(|(k, v)| (k.clone(), v.clone())).collect()
            }),
            ..ObjectMeta::default()
        },
        type_: old.type_.clone(),
        ..Secret::default()
    };
    member.create(&PostParams::default(), &fresh).await.expect("new token Secret created");
    let token =
        wait_until(Duration::from_secs(30), "the member's token controller to fill in the new token", || async {
            member.get_opt(to).await.ok()??.data?.get("token").cloned()
        })
        .await;
    let old_token = old.data.as_ref().and_then(|d| d.get("token")).cloned();
    assert_ne!(Some(&token), old_token.as_ref(), "the new Secret got the old token");
    token
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
    let leader_before = lease_holder(&bed).await;
    let member: Api<Secret> = Api::namespaced(bed.vulcan.clone(), FED_NS);
    let host: Api<Secret> = Api::namespaced(bed.earth.clone(), FED_NS);

    let load = Load::start(bed.earth.clone(), &ns.name, scripts);
    steps_done(&load, 60).await;
    let token = new_member_token(&member, MEMBER_SECRET, ROTATED_SECRET).await;
    member.delete(MEMBER_SECRET, &DeleteParams::default()).await.expect("old token Secret deleted (revoked)");
    let revoked = Instant::now();
    match poll_until(Duration::from_secs(60), || is_offline(&bed, "vulcan")).await {
        Some(()) => row.note(format!("vulcan Offline {} after the old token was revoked", secs(revoked.elapsed()))),
        None => row.problem("vulcan was never reported Offline while the host held a revoked token"),
    }
    let patch = json!({ "data": { "token": token } });
    host.patch(HOST_SECRET, &PatchParams::default(), &Patch::Merge(&patch)).await.expect("host Secret replaced");
    let replaced = Instant::now();
    let ready =
        poll_until(Duration::from_secs(60), || async { is_offline(&bed, "vulcan").await.is_none().then_some(()) });
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
    let since = replaced.max(report.finished.expect("finished"));
    row.converged(converge(&bed, &ns.name, &EVERYWHERE, since, CONVERGE_WITHIN).await);
    row.recreated(copies.recreated());
    // Back to the bed's shape (join's Secret name), by the same rotation the other way round.
    let first = new_member_token(&member, ROTATED_SECRET, MEMBER_SECRET).await;
    let patch = json!({ "data": { "token": first } });
    host.patch(HOST_SECRET, &PatchParams::default(), &Patch::Merge(&patch)).await.expect("host Secret restored");
    member.delete(ROTATED_SECRET, &DeleteParams::default()).await.expect("rotated token Secret deleted");
    ns.delete().await;
    row.finish();
}
