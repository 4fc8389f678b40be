//! Upgrade in place: the host component is rolled from the previous commit's image
//! (hack/previous-image.sh) to the current one by `kubectl fed install --image <current>` over a
//! running federation (hack/federation-up.sh), under the mixed load. Nothing may be lost, extra
//! or re-created; admission must not turn away a single valid write (one replica keeps serving
//! through the rolling update); the time without a leader is measured from the Lease.

use std::time::{Duration, Instant, SystemTime};

use fed_e2e::{Bed, TestNamespace, federation, hack_later, host_in_cluster, images, run_script_with};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Client;
use kube::api::Api;
use tokio::sync::watch;

use crate::load::{Load, mixed};
use crate::report::Row;
use crate::watch::CopyWatch;
use crate::{ONE_AT_A_TIME, PREFIX, converge_and_report, objects, prepare, secs, steps_done};

const NAMESPACE: &str = "kube-federation-system";
/// How often the Lease is sampled.
const SAMPLE: Duration = Duration::from_millis(200);

/// Runs hack/`name` with `env` set ([`run_script_with`]); panics with its output when it fails.
async fn script(name: &str, env: &[(&str, &str)]) -> String {
    run_script_with(&format!("hack/{name}"), env).await.unwrap_or_else(|e| panic!("{e}"))
}

/// The image the host component's Deployment runs.
async fn deployed_image(bed: &Bed) -> Option<String> {
    let d = Api::<Deployment>::namespaced(bed.earth.clone(), NAMESPACE).get("kubectl-fed-webhook").await.ok()?;
    d.spec.template.spec?.containers.first()?.image.clone()
}

/// True when the controllers' Lease names a holder whose term has not run out.
async fn led(host: &Client) -> bool {
    let Ok(Some(lease)) = Api::<Lease>::namespaced(host.clone(), NAMESPACE).get_opt("kubectl-fed-controllers").await
    else {
        return false;
    };
    let Some(spec) = lease.spec else { return false };
    let (Some(_), Some(renewed), Some(duration)) =
        (spec.holder_identity.filter(|h| !h.is_empty()), spec.renew_time, spec.lease_duration_seconds)
    else {
        return false;
    };
    let until = SystemTime::from(renewed.0) + Duration::from_secs(duration.max(0) as u64);
    until > SystemTime::now()
}

/// Samples the Lease until told to stop; returns the time without a valid holder, in all and
/// the longest stretch.
async fn leaderless(host: Client, mut stop: watch::Receiver<bool>) -> (Duration, Duration) {
    let (mut total, mut longest, mut since) = (Duration::ZERO, Duration::ZERO, None::<Instant>);
    loop {
        let now = Instant::now();
        match (led(&host).await, since) {
            (false, None) => since = Some(now),
            (true, Some(from)) => {
                total += now - from;
                longest = longest.max(now - from);
                since = None;
            }
            _ => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(SAMPLE) => {}
            _ = stop.changed() => break,
        }
    }
    if let Some(from) = since {
        total += from.elapsed();
        longest = longest.max(from.elapsed());
    }
    (total, longest)
}

#[tokio::test]
#[ignore = "fault suite: make test-faults"]
async fn s12_host_component_upgraded_in_place() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let bed = federation().await;
    let scripts = mixed(PREFIX, 60, 240);
    let mut row = Row::new("12 host component upgraded in place", objects(&scripts));
    if !host_in_cluster() {
        row.note("skipped: the local form (FED_HOST_MODE=local) has no image to roll");
        return row.finish();
    }
    let ns = TestNamespace::create(&bed.earth, "faults-upgrade").await;
    let copies = CopyWatch::start(&bed, &ns.name);
    let current = images().expect(".local/images.env").webhook;
    let previous = script("previous-image.sh", &[]).await;
    let _restore = hack_later("federation-up.sh", &[]);
    script("federation-up.sh", &[("FED_HOST_IMAGE", previous.as_str())]).await;
    assert_eq!(deployed_image(&bed).await.as_deref(), Some(previous.as_str()), "the previous image runs first");
    prepare(&bed, &ns.name, 60).await;

    let (stop, stopped) = watch::channel(false);
    let lease = tokio::spawn(leaderless(bed.earth.clone(), stopped));
    let load = Load::start(bed.earth.clone(), &ns.name, scripts);
    steps_done(&load, 40).await;
    let at = load.steps_done();
    let started = Instant::now();
    script("federation-up.sh", &[]).await;
    let rolled = started.elapsed();
    let report = load.finish().await;
    stop.send(true).expect("the Lease sampler runs");
    let (without, longest) = lease.await.expect("the Lease sampler");

    match deployed_image(&bed).await {
        Some(image) if image == current => {}
        image => row.problem(format!("the Deployment runs {image:?}, not {current}")),
    }
    let tag = |image: &str| image.rsplit(':').next().unwrap_or(image).to_string();
    row.note(format!(
        "{} → {} at write {at}/240, rolled out in {}; no leader for {} (longest {})",
        tag(&previous),
        tag(&current),
        secs(rolled),
        secs(without),
        secs(longest)
    ));
    if report.attempts_failed > 0 {
        row.problem(format!(
            "{} valid write attempt(s) failed during the upgrade ({} for want of the webhook)",
            report.attempts_failed, report.refused
        ));
    }
    row.failed_writes(&report.failed);
    converge_and_report(&bed, ns, report.finished.expect("finished"), row, copies).await;
}
