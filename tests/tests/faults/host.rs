//! Scenarios that break the host itself: earth's kube-apiserver down for a minute while the
//! load keeps retrying its writes (they queue in the clients), and earth's etcd killed and
//! restarted mid-propagation. Admission, the controllers' Lease and every watch go through
//! that apiserver; afterwards the host component must be serving and leading again (its
//! processes having survived or restarted cleanly) and the members must converge.

use std::time::{Duration, Instant};

use fed_e2e::{federation, hack, hack_later, host_in_cluster, host_pods, poll_until, wait_until, webhook_pods};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

use crate::load::{Load, mixed};
use crate::replica::{LEASE_SECONDS, controllers};
use crate::report::Row;
use crate::watch::CopyWatch;
use crate::{ONE_AT_A_TIME, PREFIX, converge_and_report, objects, prepare, secs, steps_done};

/// Container restarts of the host component's pods, summed (the in-cluster form).
async fn restarts(bed: &fed_e2e::Bed) -> i32 {
    let pods: Api<Pod> = Api::namespaced(bed.earth.clone(), "kube-federation-system");
    let list = pods.list(&ListParams::default().labels("app.kubernetes.io/component=webhook")).await;
    let statuses = list.map(|l| l.items).unwrap_or_default().into_iter().filter_map(|p| p.status);
    statuses.flat_map(|s| s.container_statuses.unwrap_or_default()).map(|c| c.restart_count).sum()
}

/// Waits until the controllers lead again after the host came back, and notes how their
/// processes fared.
async fn controllers_back(bed: &fed_e2e::Bed, row: &mut Row, restarts_before: i32) {
    let leading = poll_until(Duration::from_secs(LEASE_SECONDS + 90), || async {
        if host_in_cluster() {
            host_pods::leading_pod(bed, None).await.map(drop)
        } else {
            controllers(crate::replica::bed_port()).await?.leader.then_some(())
        }
    })
    .await;
    if leading.is_none() {
        row.problem("no controllers took the Lease again after the host came back");
        return;
    }
    if host_in_cluster() {
        let ready =
            poll_until(Duration::from_secs(120), || async { (webhook_pods(bed).await.len() == 2).then_some(()) });
        if ready.await.is_none() {
            row.problem("the host component's pods did not come back");
        }
        let restarted = restarts(bed).await - restarts_before;
        row.note(format!("{restarted} container restart(s) of the host component"));
    }
}

#[tokio::test]
#[ignore = "fault suite: make test-faults"]
async fn s6_host_apiserver_down_for_a_minute() {
    const DOWN: Duration = Duration::from_secs(60);
    let _turn = ONE_AT_A_TIME.lock().await;
    let bed = federation().await;
    let ns = fed_e2e::TestNamespace::create(&bed.earth, "faults-host").await;
    let copies = CopyWatch::start(&bed, &ns.name);
    prepare(&bed, &ns.name, 60).await;
    let scripts = mixed(PREFIX, 60, 240);
    let mut row = Row::new("6 earth apiserver down 60 s, writes queued", objects(&scripts));
    let restarts_before = restarts(&bed).await;

    let _restore = hack_later("cluster-ctl.sh", &["start", "kube-apiserver", "earth"]);
    let load = Load::start(bed.earth.clone(), &ns.name, scripts);
    steps_done(&load, 60).await;
    hack("cluster-ctl.sh", &["stop", "kube-apiserver", "earth"]);
    let stopped = Instant::now();
    let at = load.steps_done();
    tokio::time::sleep_until((stopped + DOWN).into()).await;
    let during = load.steps_done() - at;
    hack("cluster-ctl.sh", &["start", "kube-apiserver", "earth"]);
    let back = Instant::now();
    row.note(format!(
        "stopped at write {at}/240, down {}; {during} writes finished meanwhile (the others kept retrying)",
        secs(back - stopped)
    ));
    controllers_back(&bed, &mut row, restarts_before).await;
    let report = load.finish().await;
    row.failed_writes(&report.failed);
    converge_and_report(&bed, ns, back.max(report.finished.expect("finished")), row, copies).await;
}

#[tokio::test]
#[ignore = "fault suite: make test-faults"]
async fn s7_host_etcd_killed_and_restarted_mid_propagation() {
    const ETCD_DOWN: Duration = Duration::from_secs(5);
    let _turn = ONE_AT_A_TIME.lock().await;
    let bed = federation().await;
    let ns = fed_e2e::TestNamespace::create(&bed.earth, "faults-hostetcd").await;
    let copies = CopyWatch::start(&bed, &ns.name);
    prepare(&bed, &ns.name, 60).await;
    let scripts = mixed(PREFIX, 60, 240);
    let mut row = Row::new("7 earth etcd killed+restarted", objects(&scripts));
    let restarts_before = restarts(&bed).await;

    let _restore = hack_later("cluster-ctl.sh", &["start", "etcd", "earth"]);
    let load = Load::start(bed.earth.clone(), &ns.name, scripts);
    steps_done(&load, 80).await;
    let killed = Instant::now();
    hack("cluster-ctl.sh", &["kill", "etcd", "earth"]);
    let at = load.steps_done();
    tokio::time::sleep_until((killed + ETCD_DOWN).into()).await;
    hack("cluster-ctl.sh", &["start", "etcd", "earth"]);
    wait_until(Duration::from_secs(90), "earth's apiserver ready again", || async {
        let out = fed_e2e::kubectl(&["--context", "earth", "get", "--raw", "/readyz"]);
        out.status.success().then_some(())
    })
    .await;
    let back = Instant::now();
    row.note(format!("killed at write {at}/240; earth ready again {} after", secs(back - killed)));
    controllers_back(&bed, &mut row, restarts_before).await;
    let report = load.finish().await;
    row.failed_writes(&report.failed);
    converge_and_report(&bed, ns, back.max(report.finished.expect("finished")), row, copies).await;
}
