//! The host restored from an older backup: earth's etcd is backed up (hack/cluster-ctl.sh
//! backup), objects are created and deleted after that, and the backup is restored
//! (hack/cluster-ctl.sh restore; the host component is restarted after it, as every client of a
//! restored apiserver that does not re-list by itself must be).
//!
//! Nothing on the members may be deleted that the restored host did not ask to delete: the
//! copies of the objects created after the backup stay where they are, and `kubectl fed status
//! --orphans` lists exactly them; the objects deleted after the backup are back on the host, so
//! their copies come back on the members (the host asks for them: new uids, not counted as
//! re-created). Applying the lost objects again adopts their copies in place, same uids.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use fed_e2e::{
    Bed, TestNamespace, federation, hack, hack_later, host_in_cluster, kubectl, kubectl_fed, output_text, wait_until,
};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams};

use crate::converge::{EVERYWHERE, MEMBERS, converge};
use crate::load::{Kind, Load, Script, Step, creates};
use crate::replica::{bed_pid, kill_9};
use crate::report::Row;
use crate::watch::CopyWatch;
use crate::{CONVERGE_WITHIN, ONE_AT_A_TIME, PREFIX, prepare, secs};

/// Objects created after the backup: the restored host has never heard of them.
const LATE: &str = "late";
const LATE_COUNT: usize = 20;
/// Objects of [`prepare`] deleted after the backup: `cm-1`, `cm-3`, … .
const DELETED: usize = 10;

/// (cluster, copy name) → uid of the managed copies whose name starts with `prefix`.
async fn member_uids(bed: &Bed, ns: &str, prefix: &str) -> BTreeMap<(String, String), String> {
    let mut uids = BTreeMap::new();
    for member in MEMBERS {
        let api: Api<ConfigMap> = Api::namespaced(bed.cluster(member).clone(), ns);
        let list = api.list(&ListParams::default().labels("kubefed.io/managed=true")).await.expect("list copies");
        for cm in list.items {
            let (Some(name), Some(uid)) = (cm.metadata.name, cm.metadata.uid) else { continue };
            if name.starts_with(prefix) {
                uids.insert((member.to_string(), name), uid);
            }
        }
    }
    uids
}

/// (cluster, copy name) → uid of what `kubectl fed status --orphans -n NS -o json` lists.
fn listed_orphans(ns: &str) -> BTreeMap<(String, String), String> {
    let out = kubectl_fed(&["status", "--orphans", "-n", ns, "-o", "json"]);
    assert!(out.status.success(), "status --orphans: {}", output_text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON document");
    let items = doc["items"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .map(|o| {
            let field = |k: &str| o[k].as_str().unwrap_or_default().to_string();
            ((field("cluster"), field("name")), field("uid"))
        })
        .collect()
}

/// Restarts the host component (its pods, or the local process) and waits until it serves.
async fn restart_host_component() {
    if host_in_cluster() {
        let ns = ["--context", "earth", "-n", "kube-federation-system"];
        let out = kubectl(&[&ns[..], &["rollout", "restart", "deployment/kubectl-fed-webhook"]].concat());
        assert!(out.status.success(), "rollout restart: {}", output_text(&out));
        let status = ["rollout", "status", "deployment/kubectl-fed-webhook", "--timeout=180s"];
        let out = kubectl(&[&ns[..], &status[..]].concat());
        assert!(out.status.success(), "rollout status: {}", output_text(&out));
    } else {
        kill_9(bed_pid()).await;
        hack("federation-up.sh", &[]);
    }
}

#[tokio::test]
#[ignore = "fault suite: make test-faults"]
async fn s13_host_restored_from_an_older_backup() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "faults-restore").await;
    let copies = CopyWatch::start(&bed, &ns.name);
    let mut row = Row::new("13 host restored from an older etcd backup", 60 + LATE_COUNT);
    prepare(&bed, &ns.name, 60).await;
    let _restore = hack_later("federation-up.sh", &[]);
    hack("cluster-ctl.sh", &["backup", "etcd", "earth"]);

    // After the backup: new objects, and deletions of old ones.
    let deleted: BTreeSet<String> = (0..DELETED).map(|k| format!("{PREFIX}-{}", 2 * k + 1)).collect();
    let mut scripts = creates(LATE, Kind::Placed, 0, LATE_COUNT);
    scripts.extend(deleted.iter().map(|name| Script {
        name: name.clone(),
        kind: Kind::Placed,
        steps: vec![Step::Delete],
    }));
    let report = Load::start(bed.earth.clone(), &ns.name, scripts).finish().await;
    row.failed_writes(&report.failed);
    let after = converge(&bed, &ns.name, &EVERYWHERE, Instant::now(), Duration::from_secs(90)).await;
    assert!(after.after.is_some(), "the writes after the backup did not converge: {:?}", after.diff);
    let late = member_uids(&bed, &ns.name, LATE).await;
    assert_eq!(late.len(), LATE_COUNT * MEMBERS.len(), "every late object on every member");

    hack("cluster-ctl.sh", &["restore", "etcd", "earth"]);
    let restored = Instant::now();
    restart_host_component().await;
    row.note(format!("restored, host component restarted in {}", secs(restored.elapsed())));

    // The restored host asks for what it had: the objects deleted after the backup come back.
    let back = wait_until(CONVERGE_WITHIN, "the restored host's deleted objects back on the members", || async {
        let uids = member_uids(&bed, &ns.name, PREFIX).await;
        let all = deleted.iter().all(|n| MEMBERS.iter().all(|m| uids.contains_key(&(m.to_string(), n.clone()))));
        all.then_some(restored.elapsed())
    })
    .await;
    row.note(format!("{DELETED} objects deleted after the backup back on the members after {}", secs(back)));

    // Nothing the restored host lacks was deleted, and the orphans are listed, uids and all.
    let kept = member_uids(&bed, &ns.name, LATE).await;
    let gone = late.keys().filter(|k| kept.get(*k) != late.get(*k)).count();
    if gone > 0 {
        row.lost += gone;
        row.problem(format!("{gone} copies the restored host does not know were deleted or replaced"));
    }
    let orphans = listed_orphans(&ns.name);
    if orphans == late {
        row.note(format!("status --orphans listed the {} copies of the {LATE_COUNT} lost objects", orphans.len()));
    } else {
        row.problem(format!("status --orphans listed {} copies, {} expected: {orphans:?}", orphans.len(), late.len()));
    }

    // Applying the lost objects again adopts their copies.
    let again = Load::start(bed.earth.clone(), &ns.name, creates(LATE, Kind::Placed, 0, LATE_COUNT)).finish().await;
    row.failed_writes(&again.failed);
    let since = again.finished.expect("finished");
    row.converged(converge(&bed, &ns.name, &EVERYWHERE, since, CONVERGE_WITHIN).await);
    let adopted = member_uids(&bed, &ns.name, LATE).await;
    if adopted != late {
        row.problem("the re-applied objects' copies changed uid: not adopted in place");
    }
    if !listed_orphans(&ns.name).is_empty() {
        row.problem("orphans listed after the lost objects were applied again");
    }
    row.recreated(copies.recreated_except(&deleted));
    ns.delete().await;
    row.finish();
}
