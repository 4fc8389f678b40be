//! The fault suite (`make test-faults`): each scenario breaks one part of the test bed while
//! ConfigMaps placed on vulcan and kronos are created, updated and deleted on the host, then
//! checks that every member holds exactly the desired set (nothing lost or stale, nothing
//! extra) and how long that took. One table row per scenario (report.rs).
//!
//! The scenarios are `#[ignore]`d: they take minutes and disturb the shared bed, so the default
//! `cargo test -p fed-e2e` leaves them out; hack/test-faults.sh runs them one at a time. Every
//! scenario restores what it broke through a drop guard, even when it fails.
//!
//! The host component runs in earth as users install it (pods; scenarios 3–5 delete them with
//! grace period 0), or as a local process with `FED_HOST_MODE=local` (they kill it by PID).

mod certs;
mod converge;
mod credentials;
mod gone;
mod host;
mod hung;
mod load;
mod replica;
mod report;
mod restore;
mod upgrade;
mod watch;

use std::time::{Duration, Instant};

use converge::{EVERYWHERE, Place, converge, federated_configmaps};
use fed_core::api::KubeFedCluster;
use fed_e2e::{
    Bed, TestNamespace, federation, hack, hack_later, host_in_cluster, host_pods as pods, lease_holder, poll_until,
    wait_until, webhook_pods,
};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams};
use load::{Kind, Load, Script, creates, interleave, mixed};
use replica::{LEASE_SECONDS, Replica, bed_pid, bed_port, controllers, held_by, kill_9};
use report::Row;
use tokio::sync::Mutex;
use watch::CopyWatch;

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// How every scenario ends: time convergence of the members from `since` (the fault's end or
/// the last host write), record it and the re-creations `copies` saw, delete the scenario's
/// namespace and print the row.
async fn converge_and_report(bed: &Bed, ns: TestNamespace, since: Instant, mut row: Row, copies: CopyWatch) {
    row.converged(converge(bed, &ns.name, &EVERYWHERE, since, CONVERGE_WITHIN).await);
    row.recreated(copies.recreated());
    ns.delete().await;
    row.finish();
}

/// Names of the workload objects: `cm-0`, `cm-1`, ….
const PREFIX: &str = "cm";
/// Longest wait for convergence once the fault is over.
const CONVERGE_WITHIN: Duration = Duration::from_secs(120);

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// Creates `count` placed objects and waits until they are everywhere (the state a scenario
/// starts from).
async fn prepare(bed: &Bed, ns: &str, count: usize) {
    prepare_with(bed, ns, PREFIX, count).await;
}

/// [`prepare`] for objects `prefix-0` … .
async fn prepare_with(bed: &Bed, ns: &str, prefix: &str, count: usize) {
    let report = Load::start(bed.earth.clone(), ns, creates(prefix, Kind::Placed, 0, count)).finish().await;
    assert!(report.failed.is_empty(), "setup writes failed: {:?}", report.failed);
    let c = converge(bed, ns, &EVERYWHERE, Instant::now(), Duration::from_secs(90)).await;
    assert!(c.after.is_some(), "setup did not converge: {:?}", c.diff);
}

/// Distinct objects the scripts write.
fn objects(scripts: &[Script]) -> usize {
    scripts.iter().map(|s| &s.name).collect::<std::collections::BTreeSet<_>>().len()
}

/// Waits until the load has finished `steps` steps (the point where a scenario strikes).
async fn steps_done(load: &Load, steps: usize) {
    wait_until(Duration::from_secs(60), &format!("{steps} writes of the load"), || async {
        (load.steps_done() >= steps).then_some(())
    })
    .await;
}

async fn is_offline(bed: &Bed, cluster: &str) -> Option<()> {
    let api: Api<KubeFedCluster> = Api::namespaced(bed.earth.clone(), "kube-federation-system");
    api.get_opt(cluster).await.ok()??.is_offline().then_some(())
}

/// The number of live federated objects in `ns` when every one of them reports
/// `ClusterNotReady` for `cluster`.
async fn all_report_not_ready(bed: &Bed, ns: &str, cluster: &str) -> Option<usize> {
    let list = federated_configmaps(bed, ns).list(&ListParams::default()).await.ok()?;
    let live: Vec<_> = list.items.iter().filter(|f| f.metadata.deletion_timestamp.is_none()).collect();
    let not_ready = |f: &&fed_core::api::Federated| {
        f.status.as_ref().is_some_and(|s| {
            s.clusters.iter().any(|c| c.name == cluster && c.status.as_deref() == Some("ClusterNotReady"))
        })
    };
    (!live.is_empty() && live.iter().all(not_ready)).then_some(live.len())
}

#[tokio::test]
#[ignore = "fault suite: make test-faults"]
async fn s1_member_apiserver_down_for_a_minute() {
    const DOWN: Duration = Duration::from_secs(60);
    let _turn = ONE_AT_A_TIME.lock().await;
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "faults-apiserver").await;
    let copies = CopyWatch::start(&bed, &ns.name);
    prepare(&bed, &ns.name, 100).await;
    let scripts = mixed(PREFIX, 100, 500);
    let mut row = Row::new("1 vulcan apiserver down 60 s, 500 writes", objects(&scripts));

    hack("cluster-ctl.sh", &["stop", "kube-apiserver", "vulcan"]);
    let stopped = Instant::now();
    let _restore = hack_later("cluster-ctl.sh", &["start", "kube-apiserver", "vulcan"]);
    let load = Load::start(bed.earth.clone(), &ns.name, scripts);
    match poll_until(DOWN, || is_offline(&bed, "vulcan")).await {
        Some(()) => row.note(format!("Offline after {}", secs(stopped.elapsed()))),
        None => row.problem("vulcan never went Offline"),
    }
    let report = load.finish().await;
    let last_write = report.finished.expect("finished");
    row.failed_writes(&report.failed);

    let kronos = converge(&bed, &ns.name, &[Place::Member("kronos")], last_write, Duration::from_secs(60)).await;
    match kronos.after {
        Some(d) => row.note(format!("kronos converged meanwhile ({})", secs(d))),
        None => row.problem(format!("kronos did not converge while vulcan was down: {:?}", kronos.diff.examples)),
    }
    match poll_until(Duration::from_secs(30), || all_report_not_ready(&bed, &ns.name, "vulcan")).await {
        Some(n) => row.note(format!("{n}/{n} objects ClusterNotReady for vulcan")),
        None => row.problem("not every federated object reported ClusterNotReady for vulcan"),
    }

    // The fault lasts its full minute whatever the checks above took.
    tokio::time::sleep_until((stopped + DOWN).into()).await;
    hack("cluster-ctl.sh", &["start", "kube-apiserver", "vulcan"]);
    let back = Instant::now();
    row.note(format!("down {}", secs(back - stopped)));
    converge_and_report(&bed, ns, back.max(last_write), row, copies).await;
}

#[tokio::test]
#[ignore = "fault suite: make test-faults"]
async fn s2_member_etcd_restarted_mid_propagation() {
    const ETCD_DOWN: Duration = Duration::from_secs(5);
    let _turn = ONE_AT_A_TIME.lock().await;
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "faults-etcd").await;
    let copies = CopyWatch::start(&bed, &ns.name);
    prepare(&bed, &ns.name, 60).await;
    let scripts = mixed(PREFIX, 60, 240);
    let mut row = Row::new("2 vulcan etcd killed+restarted", objects(&scripts));

    let _restore = hack_later("cluster-ctl.sh", &["start", "etcd", "vulcan"]);
    let load = Load::start(bed.earth.clone(), &ns.name, scripts);
    steps_done(&load, 80).await;
    let killed = Instant::now();
    hack("cluster-ctl.sh", &["kill", "etcd", "vulcan"]);
    let at = load.steps_done();
    // Down long enough for writes to vulcan to fail, not only to be retried by its apiserver.
    tokio::time::sleep_until((killed + ETCD_DOWN).into()).await;
    hack("cluster-ctl.sh", &["start", "etcd", "vulcan"]);
    let back = Instant::now();
    row.note(format!("killed at write {at}/240; healthy again {} after", secs(back - killed)));
    let report = load.finish().await;
    row.failed_writes(&report.failed);
    converge_and_report(&bed, ns, back.max(report.finished.expect("finished")), row, copies).await;
}

#[tokio::test]
#[ignore = "fault suite: make test-faults"]
async fn s3_webhook_killed_under_annotated_creates() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "faults-webhook").await;
    let copies = CopyWatch::start(&bed, &ns.name);
    let scripts = interleave(vec![
        creates("placed", Kind::Placed, 0, 100),
        creates("invalid", Kind::Invalid, 0, 100),
        creates("plain", Kind::Plain, 0, 100),
    ]);
    let mut row = Row::new("3 webhook killed under creates", objects(&scripts));

    let _restore = hack_later("federation-up.sh", &[]);
    let load = Load::start(bed.earth.clone(), &ns.name, scripts);
    steps_done(&load, 60).await;
    let killed = Instant::now();
    if host_in_cluster() {
        pods::kill_pods(&bed, &webhook_pods(&bed).await).await;
    } else {
        kill_9(bed_pid()).await;
    }
    // Down until the apiserver has refused annotated creates for want of the webhook.
    if poll_until(Duration::from_secs(30), || async { (load.refused() > 0).then_some(()) }).await.is_none() {
        row.problem("no create was refused while the webhook was down");
    }
    hack("federation-up.sh", &[]);
    let back = Instant::now();
    let report = load.finish().await;
    row.note(format!("down {}; {} annotated attempts refused meanwhile", secs(back - killed), report.refused));
    // Failed writes are placed creates that never got in, or plain creates that failed at all.
    row.failed_writes(&report.failed);

    let host = Api::<ConfigMap>::namespaced(bed.earth.clone(), &ns.name).list(&ListParams::default()).await.unwrap();
    let annotation = |cm: &ConfigMap| cm.metadata.annotations.as_ref()?.get("kubefed.io/placement").cloned();
    let invalid: Vec<String> = host
        .items
        .iter()
        .filter(|cm| annotation(cm).is_some_and(|p| p.contains("pluto")))
        .filter_map(|cm| cm.metadata.name.clone())
        .collect();
    row.extra += invalid.len();
    row.examples.extend(invalid.iter().map(|n| format!("{n} admitted with an invalid placement")));
    let plain = host.items.iter().filter(|cm| cm.metadata.name.as_deref().is_some_and(|n| n.starts_with("plain-")));
    row.note(format!("plain creates {}/100 ok", plain.count()));

    converge_and_report(&bed, ns, back.max(report.finished.expect("finished")), row, copies).await;
}

#[tokio::test]
#[ignore = "fault suite: make test-faults"]
async fn s4_controllers_killed_mid_propagation() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "faults-controllers").await;
    let copies = CopyWatch::start(&bed, &ns.name);
    prepare(&bed, &ns.name, 60).await;
    let scripts = mixed(PREFIX, 60, 240);
    let mut row = Row::new("4 controllers killed -9 mid-propagation", objects(&scripts));

    let _restore = hack_later("federation-up.sh", &[]);
    let load = Load::start(bed.earth.clone(), &ns.name, scripts);
    steps_done(&load, 100).await;
    let killed = Instant::now();
    let before = lease_holder(&bed).await;
    if host_in_cluster() {
        pods::kill_pods(&bed, &webhook_pods(&bed).await).await;
    } else {
        kill_9(bed_pid()).await;
    }
    let at = load.steps_done();
    hack("federation-up.sh", &[]);
    let back = Instant::now();
    match poll_until(Duration::from_secs(LEASE_SECONDS + 30), || async {
        if host_in_cluster() {
            pods::leading_pod(&bed, before.as_deref()).await.map(drop)
        } else {
            controllers(bed_port()).await?.leader.then_some(())
        }
    })
    .await
    {
        Some(()) => {
            row.note(format!("killed at write {at}/240; controllers leading again {} after", secs(killed.elapsed())))
        }
        None => row.problem("the restarted controllers never took the Lease"),
    }
    let report = load.finish().await;
    row.note(format!("{} attempts refused while down", report.refused));
    row.failed_writes(&report.failed);
    converge_and_report(&bed, ns, back.max(report.finished.expect("finished")), row, copies).await;
}

#[tokio::test]
#[ignore = "fault suite: make test-faults"]
async fn s5_two_replicas_leader_killed() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "faults-leader").await;
    let copies = CopyWatch::start(&bed, &ns.name);
    let mut row = Row::new("5 two replicas, leader killed -9", 100);
    let _restore = hack_later("federation-up.sh", &[]);
    if host_in_cluster() {
        return leader_pod_killed(&bed, ns, row, copies).await;
    }
    let mut replica = Replica::start().await;

    // Make the extra replica the leader, so that killing the leader leaves admission up: stop
    // the bed's process (it releases the Lease), wait for the replica to take it, start the
    // bed's process again (now a follower).
    hack("federation-down.sh", &[]);
    let replica_leads = || async {
        let holder = lease_holder(&bed).await;
        (held_by(holder.as_deref(), replica.pid()) && controllers(replica.port).await?.leader).then_some(())
    };
    wait_until(Duration::from_secs(LEASE_SECONDS + 15), "the replica to take the Lease", replica_leads).await;
    hack("federation-up.sh", &[]);
    let follower = bed_pid();

    let report = Load::start(bed.earth.clone(), &ns.name, creates(PREFIX, Kind::Placed, 0, 60)).finish().await;
    row.failed_writes(&report.failed);
    let first = converge(&bed, &ns.name, &EVERYWHERE, report.finished.expect("finished"), CONVERGE_WITHIN).await;
    if first.after.is_none() {
        row.problem(format!("the first burst did not converge under the replica: {:?}", first.diff.examples));
    }
    let (leader, other) = (controllers(replica.port).await, controllers(bed_port()).await);
    match (leader, other) {
        (Some(l), Some(o)) if l.leader && l.writes > 0 && !o.leader && o.writes == 0 => {
            row.note(format!("leader wrote {}, follower 0", l.writes))
        }
        _ => row.problem(format!("only the leader must write: leader {leader:?}, follower {other:?}")),
    }

    let load = Load::start(bed.earth.clone(), &ns.name, mixed(PREFIX, 60, 100));
    steps_done(&load, 20).await;
    replica.kill();
    let killed = Instant::now();
    let follower_leads = || async {
        let holder = lease_holder(&bed).await;
        (held_by(holder.as_deref(), follower) && controllers(bed_port()).await?.leader).then_some(())
    };
    match poll_until(Duration::from_secs(LEASE_SECONDS + 30), follower_leads).await {
        Some(()) if killed.elapsed() <= Duration::from_secs(LEASE_SECONDS + 5) => {
            row.note(format!("takeover {} after the kill (Lease {LEASE_SECONDS} s)", secs(killed.elapsed())))
        }
        Some(()) => row.problem(format!("takeover took {}, Lease is {LEASE_SECONDS} s", secs(killed.elapsed()))),
        None => row.problem("the follower never took the Lease"),
    }
    let report = load.finish().await;
    row.failed_writes(&report.failed);
    let since = killed.max(report.finished.expect("finished"));
    row.converged(converge(&bed, &ns.name, &EVERYWHERE, since, CONVERGE_WITHIN).await);
    match controllers(bed_port()).await {
        Some(c) if c.writes > 0 => {}
        c => row.problem(format!("the new leader did not write: {c:?}")),
    }
    row.recreated(copies.recreated());
    ns.delete().await;
    row.finish();
}

/// Scenario 5 on the in-cluster form: the pod holding the Lease is deleted with grace period 0
/// under load; the other replica takes over within the Lease's duration and propagation goes on.
async fn leader_pod_killed(bed: &Bed, ns: TestNamespace, mut row: Row, copies: CopyWatch) {
    let report = Load::start(bed.earth.clone(), &ns.name, creates(PREFIX, Kind::Placed, 0, 60)).finish().await;
    row.failed_writes(&report.failed);
    let leader =
        wait_until(Duration::from_secs(LEASE_SECONDS + 15), "a pod holding the Lease", || pods::leading_pod(bed, None))
            .await;
    let load = Load::start(bed.earth.clone(), &ns.name, mixed(PREFIX, 60, 100));
    steps_done(&load, 20).await;
    pods::kill_pods(bed, std::slice::from_ref(&leader)).await;
    let killed = Instant::now();
    match poll_until(Duration::from_secs(LEASE_SECONDS + 30), || pods::leading_pod(bed, Some(&leader))).await {
        Some(_) if killed.elapsed() <= Duration::from_secs(LEASE_SECONDS + 5) => {
            row.note(format!("takeover {} after the kill (Lease {LEASE_SECONDS} s)", secs(killed.elapsed())))
        }
        Some(_) => row.problem(format!("takeover took {}, Lease is {LEASE_SECONDS} s", secs(killed.elapsed()))),
        None => row.problem("the other pod never took the Lease"),
    }
    let report = load.finish().await;
    row.failed_writes(&report.failed);
    let since = killed.max(report.finished.expect("finished"));
    converge_and_report(bed, ns, since, row, copies).await;
}
