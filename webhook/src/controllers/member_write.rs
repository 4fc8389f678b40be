//! Executing a sync plan: the requests to member clusters, each counted and under the member
//! timeout, and what the members' answers mean for the status.
//!
//! What to send where comes from [`fed_core::plan`]; this module only sends it, skips applies
//! the member already holds untouched ([`super::copies`]), creates a missing namespace (unless
//! it is being deleted on the host), and
//! never deletes a copy that is not ours (its origin annotation differs).

use std::collections::BTreeMap;
use std::time::Duration;

use fed_core::api::ApiResourceRef;
use fed_core::guard::{Cleanup, Owner};
use fed_core::keys;
use fed_core::plan::{self, Plan, Step};
use fed_core::status::{CLUSTER_NOT_READY, Outcome};
use futures::{StreamExt, stream};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, DynamicObject, PostParams, Preconditions, PropagationPolicy};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use tracing::{debug, info};

use super::adopt::{self, Put};
use super::copies::render_fingerprint;
use super::handle::TypeHandle;
use super::host_namespaces::host_namespace;
use super::shared::Shared;
use super::stalls::NoAnswer;
use crate::metrics::WriteTarget;

/// What one member request failed with.
#[derive(Debug)]
pub enum CallError {
    /// No answer within the member timeout.
    Timeout,
    /// The member stopped answering (see [`super::stalls`]): not sent, or given up early.
    Stalled,
    /// The member (or the connection to it) refused.
    Kube(kube::Error),
}

impl CallError {
    /// The HTTP status code of an API refusal.
    pub fn code(&self) -> Option<u16> {
        match self {
            CallError::Kube(kube::Error::Api(s)) => Some(s.code),
            _ => None,
        }
    }

    /// The outcome for this error: unreachable → ClusterNotReady, refused → `word`.
    pub fn outcome(&self, word: &'static str, timeout: Duration) -> Outcome {
        match self {
            CallError::Timeout => Outcome::failed(CLUSTER_NOT_READY, format!("no answer within {timeout:?}")),
            CallError::Stalled => {
                Outcome::failed(CLUSTER_NOT_READY, "the cluster stopped answering; retried once it answers again")
            }
            CallError::Kube(kube::Error::Api(s)) => Outcome::failed(word, s.message.clone()),
            CallError::Kube(e @ (kube::Error::HyperError(_) | kube::Error::Service(_))) => {
                Outcome::failed(CLUSTER_NOT_READY, e.to_string())
            }
            CallError::Kube(e) => Outcome::failed(word, e.to_string()),
        }
    }
}

/// Sends the requests of sync plans for one type.
pub struct MemberWriter<'a> {
    shared: &'a Shared,
    handle: &'a TypeHandle,
}

impl<'a> MemberWriter<'a> {
    /// A writer for the members of `shared`, for objects of `handle`'s type.
    pub fn new(shared: &'a Shared, handle: &'a TypeHandle) -> Self {
        MemberWriter { shared, handle }
    }

    /// `plan` with nothing to send to the members marked stalled now ([`super::stalls`]): their
    /// outcome is what a request to them would get, and a reconcile left with nothing else to
    /// write (the retries while a member hangs) costs the host no read of the object.
    pub fn without_stalled(&self, plan: Plan) -> Plan {
        let stalls = &self.shared.members.stalls;
        let outcome = CallError::Stalled.outcome(CLUSTER_NOT_READY, self.shared.opts.member_timeout);
        plan.settled_where(|cluster| stalls.stalled_since(cluster).is_some(), &outcome)
    }

    /// Whether executing `plan` would send a write: every delete does; an apply does unless the
    /// member already holds exactly this render, untouched since sync wrote it.
    pub fn writes(&self, plan: &Plan) -> bool {
        plan.steps.iter().any(|(cluster, step)| match step {
            Step::Delete => true,
            Step::Apply { object, .. } => !self.unchanged(plan, cluster, object),
            Step::Settled(_) => false,
        })
    }

    fn unchanged(&self, plan: &Plan, cluster: &str, object: &Value) -> bool {
        let render = render_fingerprint(object);
        self.handle.copies.unchanged_since_apply(cluster, plan.namespace.as_deref(), &plan.name, render)
    }

    /// Runs the plan's steps concurrently (at most `member_concurrency` at a time) and returns
    /// each cluster's outcome.
    pub async fn execute(&self, plan: &Plan) -> BTreeMap<String, Outcome> {
        // By index: a closure taking the map's references as arguments would be higher-ranked
        // over their lifetimes, which the spawned reconcile future cannot prove `Send` for.
        let steps: &[(&String, &Step)] = &plan.steps.iter().collect::<Vec<_>>();
        stream::iter(0..steps.len())
            .map(|i| async move {
                let (cluster, step) = steps[i];
                let outcome = match step {
                    Step::Settled(outcome) => outcome.clone(),
                    Step::Apply { object, failure } => self.apply_on(plan, cluster, object, failure).await,
                    Step::Delete => self.delete_on(plan, cluster).await,
                };
                (cluster.clone(), outcome)
            })
            .buffer_unordered(self.shared.opts.member_concurrency.max(1))
            .collect()
            .await
    }

    fn member_api(&self, client: Client, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace {
            Some(ns) => Api::namespaced_with(client, ns, &self.handle.target_ar),
            None => Api::all_with(client, &self.handle.target_ar),
        }
    }

    /// The client of `cluster` now, or why there is none.
    fn client(&self, cluster: &str) -> Result<Client, String> {
        match self.shared.members.get(cluster) {
            None => Err("cluster is not joined".to_string()),
            Some(m) => m.client,
        }
    }

    /// A write request to `cluster`, counted and under the member timeout.
    async fn write<T>(&self, cluster: &str, f: impl Future<Output = Result<T, kube::Error>>) -> Result<T, CallError> {
        self.shared.metrics.write(WriteTarget::Member);
        self.timed(cluster, f).await
    }

    /// A request to `cluster` under the member timeout, skipped or given up early while the
    /// member does not answer at all ([`super::stalls`]).
    async fn timed<T>(&self, cluster: &str, f: impl Future<Output = Result<T, kube::Error>>) -> Result<T, CallError> {
        let opts = &self.shared.opts;
        let answered = |r: &Result<T, kube::Error>| matches!(r, Ok(_) | Err(kube::Error::Api(_)));
        match self.shared.members.stalls.call(cluster, opts.stall_after, opts.member_timeout, answered, f).await {
            Ok(r) => r.map_err(CallError::Kube),
            Err(NoAnswer::Timeout) => Err(CallError::Timeout),
            Err(NoAnswer::Stalled) => Err(CallError::Stalled),
        }
    }

    /// Writes the rendered copy on one member: a POST when the member watch shows none there (a
    /// create costs the member less than an apply), a server-side apply otherwise.
    async fn apply_on(&self, plan: &Plan, cluster: &str, object: &Value, word: &'static str) -> Outcome {
        let client = match self.client(cluster) {
            Ok(c) => c,
            Err(e) => return Outcome::failed(CLUSTER_NOT_READY, e),
        };
        if self.unchanged(plan, cluster, object) {
            return Outcome::Propagated;
        }
        // Where the copy goes comes from the plan (the federated object) alone, never from the
        // rendered body: a copy can only ever be written into its own namespace, under its name.
        let (ns, name) = (plan.namespace.as_deref(), plan.name.as_str());
        let api = self.member_api(client.clone(), ns);
        let known = self.handle.copies.known(cluster, ns, name);
        // Sync checked its federated object live and finalized just before the plan; the
        // cleanup its deletion brings runs after this reconcile, so whatever is written here is
        // removed by it ([`Cleanup::Finalizer`]).
        let put = || adopt::put(&api, name, object, known.clone(), Owner::Live, Cleanup::Finalizer);
        let mut result = self.write(cluster, put()).await;
        if let (Some(ns), Some(404)) = (ns, result.as_ref().err().and_then(CallError::code)) {
            match self.namespace_wanted(ns, name).await {
                Ok(true) => {}
                Ok(false) => {
                    info!(%cluster, namespace = %ns, copy = %plan.origin, "not re-creating a namespace being deleted on the host");
                    return Outcome::failed(
                        word,
                        format!("namespace {ns} (or {name} in it) is being deleted on the host"),
                    );
                }
                Err(e) => return Outcome::failed(word, format!("reading namespace {ns} on the host: {e}")),
            }
            if let Err(e) = self.ensure_namespace(cluster, client, ns).await {
                return e.outcome(word, self.shared.opts.member_timeout);
            }
            result = self.write(cluster, put()).await;
        }
        match result {
            Ok(Put::Written(answer)) => {
                self.handle.copies.record_apply(cluster, render_fingerprint(object), &answer);
                Outcome::Propagated
            }
            // The member watch brings the copy's deletion, and with it the next sync.
            Ok(Put::Held(hold)) => {
                self.handle.copies.forget_apply(cluster, ns, name);
                Outcome::failed(word, format!("not written: {}; retried", hold.reason()))
            }
            Err(e) => {
                self.handle.copies.forget_apply(cluster, ns, name);
                match e.code() {
                    // The namespace exists by now: the member does not serve the type at all.
                    Some(404) => Outcome::failed(word, not_served(&self.handle.spec.target, cluster)),
                    _ => e.outcome(word, self.shared.opts.member_timeout),
                }
            }
        }
    }

    /// Whether `namespace` may be created on a member for the copy `name`: its federated object
    /// and the host's namespace, read now, both exist and neither is being deleted
    /// ([`fed_core::plan::may_create_member_namespace`]). Read here again, not only before the
    /// plan ran: a member's 404 can come seconds later, and a namespace deleted on the host and
    /// the members together must stay deleted.
    async fn namespace_wanted(&self, namespace: &str, name: &str) -> Result<bool, kube::Error> {
        let host = &self.shared.host;
        let fed =
            Api::<DynamicObject>::namespaced_with(host.clone(), namespace, &self.handle.fed_ar).get_opt(name).await?;
        let host_namespace = host_namespace(host, namespace).await?;
        Ok(plan::may_create_member_namespace(fed.as_ref().map(|f| &f.metadata), host_namespace.as_ref()))
    }

    /// Creates `namespace` on a member (labelled managed, so unjoin can remove it).
    async fn ensure_namespace(&self, cluster: &str, client: Client, namespace: &str) -> Result<(), CallError> {
        let api: Api<Namespace> = Api::all(client);
        let ns: Namespace = serde_json::from_value(json!({
            "metadata": { "name": namespace, "labels": { keys::MANAGED_LABEL: "true" } }
        }))
        .expect("a valid Namespace");
        let pp = PostParams { field_manager: Some(keys::FIELD_MANAGER.to_string()), ..Default::default() };
        match self.write(cluster, api.create(&pp, &ns)).await {
            Ok(_) => {
                info!(%namespace, "created namespace on member");
                Ok(())
            }
            Err(e) if e.code() == Some(409) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Deletes the copy on one member if it is ours (origin annotation matches).
    async fn delete_on(&self, plan: &Plan, cluster: &str) -> Outcome {
        use fed_core::status::DELETION_FAILED;
        let client = match self.shared.members.get(cluster) {
            None => return Outcome::Removed,
            Some(m) => match m.client {
                Ok(c) => c,
                Err(e) => return Outcome::failed(DELETION_FAILED, format!("no client: {e}")),
            },
        };
        let (ns, name) = (plan.namespace.as_deref(), plan.name.as_str());
        self.handle.copies.forget_apply(cluster, ns, name);
        let api = self.member_api(client, ns);
        let current = match self.timed(cluster, api.get_opt(name)).await {
            Ok(Some(o)) => o,
            Ok(None) => return Outcome::Removed,
            Err(e) => return e.outcome(DELETION_FAILED, self.shared.opts.member_timeout),
        };
        if current.annotations().get(keys::ORIGIN) != Some(&plan.origin) {
            debug!(%cluster, %name, "not our copy; leaving it");
            return Outcome::Removed;
        }
        if current.metadata.deletion_timestamp.is_some() {
            return Outcome::Removed;
        }
        let dp = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            preconditions: Some(Preconditions { uid: current.metadata.uid.clone(), resource_version: None }),
            ..Default::default()
        };
        match self.write(cluster, api.delete(name, &dp)).await {
            Ok(_) => {
                info!(%cluster, copy = %plan.origin, "deleted member copy");
                Outcome::Removed
            }
            Err(e) if e.code() == Some(404) => Outcome::Removed,
            Err(e) => e.outcome(DELETION_FAILED, self.shared.opts.member_timeout),
        }
    }
}

/// Why a member answers 404 to the apply of a copy: it does not serve the type (typically a
/// custom resource whose CRD is not installed there).
pub fn not_served(target: &ApiResourceRef, cluster: &str) -> String {
    format!(
        "cluster {cluster} does not serve {} {}: install its CustomResourceDefinition there, or leave {cluster} out of the placement",
        target.api_version(),
        target.plural_name
    )
}

#[cfg(test)]
mod tests {
    use fed_core::status::{CREATION_FAILED, UPDATE_FAILED};

    use super::*;

    #[test]
    fn a_type_the_member_does_not_serve_is_named() {
        let target =
            fed_core::api::ApiResourceRef::v1("example.com", "Widget", "widgets", fed_core::api::Scope::Namespaced);
        let msg = not_served(&target, "kronos");
        assert!(msg.starts_with("cluster kronos does not serve example.com/v1 widgets"), "{msg}");
    }

    #[test]
    fn errors_map_to_status_words() {
        let t = Duration::from_secs(1);
        let api = |code: u16| {
            CallError::Kube(kube::Error::Api(Box::new(kube::core::Status {
                code,
                message: "denied".into(),
                ..Default::default()
            })))
        };
        assert_eq!(
            CallError::Timeout.outcome(CREATION_FAILED, t),
            Outcome::failed(CLUSTER_NOT_READY, "no answer within 1s")
        );
        assert_eq!(api(403).outcome(UPDATE_FAILED, t), Outcome::failed(UPDATE_FAILED, "denied"));
        assert_eq!(api(404).code(), Some(404));
        assert_eq!(CallError::Timeout.code(), None);
    }
}
