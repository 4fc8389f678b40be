//! The workload of the fault suite: ConfigMaps created, updated and deleted on the host by
//! concurrent scripts (one per object, its steps in order), running in the background while a
//! scenario breaks something.
//!
//! The content marker is `data.v`: 0 at creation, `n` after the n-th update, so a member copy
//! with stale content is told apart from a current one.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::sync::Mutex;

/// The placement every admitted workload object carries (earth, the host, is not placed).
pub const PLACED: &str = "vulcan,kronos";
/// A placement naming a cluster that is not joined: admission must refuse it.
pub const NOT_JOINED: &str = "vulcan,pluto";
/// Objects written concurrently.
const CONCURRENCY: usize = 16;
/// How long a step of a [`Kind::Placed`] object is retried (the webhook may be down meanwhile).
const RETRY_FOR: Duration = Duration::from_secs(180);
/// Pause between retries of a refused step.
const RETRY_PAUSE: Duration = Duration::from_millis(250);

/// What an object is, which decides its annotation and how its failures count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Annotated with [`PLACED`]; a refused step is retried (as an operator re-applies).
    Placed,
    /// Annotated with [`NOT_JOINED`]; one create attempt that admission must refuse.
    Invalid,
    /// No annotation; one attempt per step, which must succeed whatever the webhook does.
    Plain,
}

/// One write to the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Create with `v = 0`.
    Create,
    /// Set `v` to this value.
    Update(u32),
    /// Delete.
    Delete,
}

/// One object's steps.
#[derive(Clone, Debug)]
pub struct Script {
    /// ConfigMap name.
    pub name: String,
    /// How it is annotated and judged.
    pub kind: Kind,
    /// Done in order.
    pub steps: Vec<Step>,
}

/// `count` new objects of `kind`, each only created: `prefix-<first>` … .
pub fn creates(prefix: &str, kind: Kind, first: usize, count: usize) -> Vec<Script> {
    (first..first + count).map(|i| Script { name: format!("{prefix}-{i}"), kind, steps: vec![Step::Create] }).collect()
}

/// `ops` mixed writes over `existing` objects already created by [`creates`] (`prefix-0` …)
/// and new ones: 2/5 creates of new objects, 2/5 updates spread over old and new objects (the
/// old ones first), the rest deletes of every other object (old and new, most of them updated
/// first). Old and new objects are interleaved so each kind of write runs throughout.
pub fn mixed(prefix: &str, existing: usize, ops: usize) -> Vec<Script> {
    let (new, updates) = (ops * 2 / 5, ops * 2 / 5);
    let deletes = ops - new - updates;
    let mut all: Vec<Script> = (0..existing)
        .map(|i| Script { name: format!("{prefix}-{i}"), kind: Kind::Placed, steps: vec![] })
        .chain(creates(prefix, Kind::Placed, existing, new))
        .collect();
    let len = all.len();
    assert!(len > 0 && deletes * 2 <= len, "{deletes} deletes need at least {} objects", deletes * 2);
    for k in 0..updates {
        all[k % len].steps.push(Step::Update((k / len) as u32 + 1));
    }
    for k in 0..deletes {
        all[2 * k + 1].steps.push(Step::Delete);
    }
    let (old, new): (Vec<_>, Vec<_>) = all.into_iter().partition(|s| s.steps.first() != Some(&Step::Create));
    interleave(vec![old, new])
}

/// Takes one from each list in turn until all are used up.
pub fn interleave(lists: Vec<Vec<Script>>) -> Vec<Script> {
    let mut iters: Vec<_> = lists.into_iter().map(Vec::into_iter).collect();
    let mut out = Vec::new();
    loop {
        let before = out.len();
        out.extend(iters.iter_mut().filter_map(Iterator::next));
        if out.len() == before {
            return out;
        }
    }
}

/// What a finished load did.
#[derive(Debug, Default)]
pub struct Report {
    /// Steps attempted at least once.
    pub steps: usize,
    /// Attempts the apiserver refused because it could not call the webhook.
    pub refused: usize,
    /// Attempts that failed for any reason (refused, denied, …), the last ones of failed steps
    /// included: with a healthy apiserver, each one is a valid write admission turned away.
    pub attempts_failed: usize,
    /// Steps of placed or plain objects that never succeeded (`name step: error`).
    pub failed: Vec<String>,
    /// Invalid-placement objects that were admitted.
    pub admitted_invalid: Vec<String>,
    /// When the last step finished.
    pub finished: Option<Instant>,
}

/// A load running in the background.
pub struct Load {
    done: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<Report>,
}

impl Load {
    /// Starts running `scripts` in namespace `ns` of the host.
    pub fn start(host: Client, ns: &str, scripts: Vec<Script>) -> Load {
        let done = Arc::new(AtomicUsize::new(0));
        let refused = Arc::new(AtomicUsize::new(0));
        let report = Arc::new(Mutex::new(Report::default()));
        let api: Api<ConfigMap> = Api::namespaced(host, ns);
        let task = tokio::spawn({
            let (done, refused) = (done.clone(), refused.clone());
            async move {
                futures::stream::iter(scripts)
                    .for_each_concurrent(CONCURRENCY, |script| run_script(&api, script, &done, &refused, &report))
                    .await;
                let mut report = std::mem::take(&mut *report.lock().await);
                report.refused = refused.load(Ordering::Relaxed);
                report.finished = Some(Instant::now());
                report
            }
        });
        Load { done, refused, task }
    }

    /// Steps finished so far (successfully or not).
    pub fn steps_done(&self) -> usize {
        self.done.load(Ordering::Relaxed)
    }

    /// Attempts refused so far because the webhook could not be called.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::Relaxed)
    }

    /// Waits for every script to finish.
    pub async fn finish(self) -> Report {
        self.task.await.expect("load task")
    }
}

async fn run_script(
    api: &Api<ConfigMap>,
    script: Script,
    done: &AtomicUsize,
    refused: &AtomicUsize,
    report: &Mutex<Report>,
) {
    for step in &script.steps {
        let started = Instant::now();
        let mut attempt = 0;
        let result = loop {
            attempt += 1;
            let result = write(api, &script, *step, attempt > 1).await;
            let Err(e) = result else { break Ok(()) };
            report.lock().await.attempts_failed += 1;
            if e.contains("failed calling webhook") {
                refused.fetch_add(1, Ordering::Relaxed);
            }
            if script.kind != Kind::Placed || started.elapsed() > RETRY_FOR {
                break Err(e);
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        };
        done.fetch_add(1, Ordering::Relaxed);
        let mut report = report.lock().await;
        report.steps += 1;
        match (script.kind, result) {
            (Kind::Invalid, Ok(())) => report.admitted_invalid.push(script.name.clone()),
            (Kind::Invalid, Err(_)) => return,
            (_, Ok(())) => {}
            (_, Err(e)) => {
                report.failed.push(format!("{} {step:?}: {e}", script.name));
                return;
            }
        }
    }
}

/// One attempt of `step`; on a retry, "already exists" / "not found" mean an earlier attempt
/// went through.
async fn write(api: &Api<ConfigMap>, script: &Script, step: Step, retry: bool) -> Result<(), String> {
    let result = match step {
        Step::Create => {
            let annotations = match script.kind {
                Kind::Placed => json!({ "kubefed.io/placement": PLACED }),
                Kind::Invalid => json!({ "kubefed.io/placement": NOT_JOINED }),
                Kind::Plain => json!({}),
            };
            let cm: ConfigMap = serde_json::from_value(json!({
                "metadata": { "name": script.name, "annotations": annotations },
                "data": { "v": "0" },
            }))
            .expect("a valid ConfigMap");
            api.create(&PostParams::default(), &cm).await.map(drop)
        }
        Step::Update(v) => {
            let patch = json!({ "data": { "v": v.to_string() } });
            api.patch(&script.name, &PatchParams::default(), &Patch::Merge(&patch)).await.map(drop)
        }
        Step::Delete => api.delete(&script.name, &DeleteParams::default()).await.map(drop),
    };
    match result {
        Err(kube::Error::Api(s)) if retry && step == Step::Create && s.code == 409 => Ok(()),
        Err(kube::Error::Api(s)) if retry && step == Step::Delete && s.code == 404 => Ok(()),
        r => r.map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_has_the_asked_number_of_each_write() {
        let scripts = mixed("m", 100, 500);
        let count = |f: fn(&Step) -> bool| scripts.iter().flat_map(|s| &s.steps).filter(|s| f(s)).count();
        assert_eq!(count(|s| *s == Step::Create), 200);
        assert_eq!(count(|s| matches!(s, Step::Update(_))), 200);
        assert_eq!(count(|s| *s == Step::Delete), 100);
        assert_eq!(scripts.len(), 300);
        let deleted_old =
            scripts.iter().filter(|s| s.steps.first() != Some(&Step::Create) && s.steps.contains(&Step::Delete));
        assert_eq!(deleted_old.count(), 50, "half the deletes hit objects that existed before");
        for s in &scripts {
            let pos = |w: fn(&Step) -> bool| s.steps.iter().position(w);
            assert!(pos(|s| *s == Step::Delete).is_none_or(|d| d == s.steps.len() - 1), "delete last: {s:?}");
            assert!(pos(|s| *s == Step::Create).is_none_or(|c| c == 0), "create first: {s:?}");
        }
        assert_ne!(scripts[0].steps.first(), scripts[1].steps.first(), "old and new interleaved");
    }

    #[test]
    fn interleave_takes_in_turn() {
        let names = |v: Vec<Script>| v.into_iter().map(|s| s.name).collect::<Vec<_>>();
        let mixed = interleave(vec![creates("a", Kind::Plain, 0, 3), creates("b", Kind::Plain, 0, 1)]);
        assert_eq!(names(mixed), ["a-0", "b-0", "a-1", "a-2"]);
    }
}
