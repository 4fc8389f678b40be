//! A member gone for good: vulcan's kube-apiserver and etcd killed, never to answer again, and
//! `kubectl fed unjoin vulcan --force` run against the federation. The unjoin must complete,
//! remove vulcan's records from the host and list what it could not clean on the member; the
//! other member keeps everything. The bed then brings vulcan back (same data), removes what
//! the unjoin left there with the command it printed, and joins it again.

use std::time::{Duration, Instant};

use fed_core::api::KubeFedCluster;
use fed_e2e::{TestNamespace, federation, hack, hack_later, kubectl_fed, output_text, wait_until};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;

use crate::converge::{EVERYWHERE, Place, converge};
use crate::load::{Load, mixed};
use crate::report::Row;
use crate::watch::CopyWatch;
use crate::{CONVERGE_WITHIN, ONE_AT_A_TIME, PREFIX, is_offline, objects, prepare, secs, steps_done};

const FED_NS: &str = "kube-federation-system";

/// Starts vulcan's etcd and kube-apiserver again, removes what the forced unjoin left there
/// as its output says (`kubectl fed unjoin vulcan --force --cluster-context vulcan`), and joins
/// it as hack/federation-up.sh does.
fn bring_vulcan_back() {
    hack("cluster-ctl.sh", &["start", "etcd", "vulcan"]);
    hack("cluster-ctl.sh", &["start", "kube-apiserver", "vulcan"]);
    let out = kubectl_fed(&["unjoin", "vulcan", "--force", "--cluster-context", "vulcan", "--timeout", "90"]);
    assert!(out.status.success(), "cleaning up vulcan: {}", output_text(&out));
    let out = kubectl_fed(&["join", "vulcan", "--cluster-context", "vulcan"]);
    assert!(out.status.success(), "joining vulcan again: {}", output_text(&out));
}

#[tokio::test]
#[ignore = "fault suite: make test-faults"]
async fn s10_member_gone_for_good_unjoined_with_force() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "faults-gone").await;
    let copies = CopyWatch::start(&bed, &ns.name);
    prepare(&bed, &ns.name, 60).await;
    let scripts = mixed(PREFIX, 60, 120);
    let mut row = Row::new("10 vulcan gone for good, unjoin --force", objects(&scripts));
    // Whatever happens, the bed gets vulcan back (processes, then the join).
    let _restore = hack_later("federation-up.sh", &[]);

    let load = Load::start(bed.earth.clone(), &ns.name, scripts);
    steps_done(&load, 30).await;
    hack("cluster-ctl.sh", &["kill", "kube-apiserver", "vulcan"]);
    hack("cluster-ctl.sh", &["kill", "etcd", "vulcan"]);
    let gone = Instant::now();
    let report = load.finish().await;
    row.failed_writes(&report.failed);
    wait_until(Duration::from_secs(60), "vulcan Offline", || is_offline(&bed, "vulcan")).await;

    // Sources still name vulcan: without --force unjoin refuses, with it it goes ahead.
    let started = Instant::now();
    let out = kubectl_fed(&["unjoin", "vulcan", "--force", "--timeout", "30"]);
    let took = started.elapsed();
    let text = output_text(&out);
    if !out.status.success() {
        row.problem(format!("unjoin --force failed: {}", text.lines().last().unwrap_or_default()));
    } else if !(text.contains("Left behind on cluster vulcan") && text.contains("ServiceAccount")) {
        row.problem(format!("unjoin --force did not list what stayed on vulcan: {text}"));
    } else {
        let listed =
            text.lines().skip_while(|l| !l.starts_with("Left behind")).skip(1).take_while(|l| l.starts_with("  "));
        row.note(format!("unjoin --force took {}, listed {} leftovers", secs(took), listed.count()));
    }
    let clusters: Api<KubeFedCluster> = Api::namespaced(bed.earth.clone(), FED_NS);
    let secrets: Api<Secret> = Api::namespaced(bed.earth.clone(), FED_NS);
    if clusters.get_opt("vulcan").await.ok().flatten().is_some()
        || secrets.get_opt("vulcan-token").await.ok().flatten().is_some()
    {
        row.problem("vulcan's KubeFedCluster or token Secret is still on the host");
    }
    // kronos and the host keep every object while vulcan is gone.
    let kept = converge(
        &bed,
        &ns.name,
        &[Place::Federated, Place::Member("kronos")],
        gone.max(report.finished.expect("finished")),
        CONVERGE_WITHIN,
    )
    .await;
    match kept.after {
        Some(d) => row.note(format!("kronos converged {} after the last write", secs(d))),
        None => row.problem(format!("kronos did not converge without vulcan: {:?}", kept.diff.examples)),
    }

    bring_vulcan_back();
    let back = Instant::now();
    row.converged(converge(&bed, &ns.name, &EVERYWHERE, back, CONVERGE_WITHIN).await);
    // vulcan left the placement (it left the federation): its copies are made anew; kronos
    // stayed placed throughout.
    row.recreated(copies.recreated_on(&["kronos"]));
    ns.delete().await;
    row.finish();
}
