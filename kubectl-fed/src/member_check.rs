//! Asking the members before a placement is written (`place`, `federate TYPE NAME`): each
//! placed cluster's copy is rendered as the sync controller would render it (fed-core's
//! [`member_object`], overrides applied) and sent to that member as a server-side dry-run
//! apply, through the member's kubeconfig context (the admin credentials `join` used, found as
//! `enable` finds them). A member that refuses its copy is reported as one line
//! (`vulcan: .spec.replicas: expected numeric …`) and the command changes nothing. Offline
//! members, the host (whose copy is the source itself) and members no context reaches are
//! skipped with a warning.

use anyhow::{Result, bail};
use fed_core::api::{ApiResourceRef, Federated, KubeFedCluster};
use fed_core::keys;
use fed_core::placement::{self, JoinedCluster};
use fed_core::render::{RenderError, member_object};
use kube::ResourceExt;
use kube::api::{Patch, PatchParams};
use kube::core::DynamicObject;

use crate::context::Ctx;
use crate::errors::one_line;
use crate::fedapi::{dyn_api, joined};
use crate::output;

/// What one member said about its copy.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// It would accept it.
    Accepted,
    /// It refuses it: the reason, for people.
    Refused(String),
    /// It was not asked: why.
    Skipped(String),
}

/// The member's refusal without the apiserver's preamble: `failed to create typed patch object
/// (demo/web; apps/v1, Kind=Deployment): .spec.replicas: expected numeric …` → `.spec.replicas:
/// expected numeric …`.
pub fn refusal_reason(message: &str) -> String {
    let message = message.trim().replace(['\n', '\r'], " ");
    match message.strip_prefix("failed to create typed patch object").and_then(|rest| rest.split_once("): ")) {
        Some((_, reason)) => reason.to_string(),
        None => message,
    }
}

/// Asks every cluster `fed` places its copy on; fails, after printing one line per refusing
/// member, when any refuses.
pub async fn check(ctx: &Ctx, fed: &Federated, target: &ApiResourceRef, clusters: &[KubeFedCluster]) -> Result<()> {
    let joined: Vec<JoinedCluster> = clusters.iter().map(joined).collect();
    let placed = placement::resolve(&fed.spec.placement, &joined);
    let asked = clusters.iter().filter(|c| placed.contains(&c.name_any()));
    let answers =
        futures::future::join_all(asked.map(|c| async move { (c.name_any(), ask(ctx, fed, target, c).await) })).await;
    let mut refused = Vec::new();
    for (cluster, answer) in answers {
        match answer {
            Answer::Accepted => {}
            Answer::Refused(why) => refused.push(format!("{cluster}: {why}")),
            Answer::Skipped(why) => output::warn(format!("cluster {cluster} was not asked: {why}")),
        }
    }
    if refused.is_empty() {
        return Ok(());
    }
    for line in &refused {
        eprintln!("{line}");
    }
    let (n, verb) = if refused.len() == 1 {
        ("1 member".to_string(), "refuses")
    } else {
        (format!("{} members", refused.len()), "refuse")
    };
    bail!("{n} {verb} its copy; nothing was changed (fix the overrides, or pass --skip-member-check to place anyway)")
}

/// True when an API error answering the dry run is about the copy (invalid, conflicting, or a
/// field of the wrong type, which some API servers answer with 500), not about access or load.
pub fn refuses(code: u16, message: &str) -> bool {
    match code {
        401 | 403 | 404 | 429 => false,
        400..=499 => true,
        _ => message.starts_with("failed to create typed patch object"),
    }
}

/// One member's answer to a server-side dry-run apply of its copy.
async fn ask(ctx: &Ctx, fed: &Federated, target: &ApiResourceRef, cluster: &KubeFedCluster) -> Answer {
    let name = cluster.name_any();
    let j = joined(cluster);
    if j.is_host {
        return Answer::Accepted;
    }
    let copy = match member_object(fed, target, &name) {
        Ok(copy) => copy,
        Err(RenderError::Override { source, .. }) => return Answer::Refused(format!("overrides: {source}")),
        Err(e) => return Answer::Refused(e.to_string()),
    };
    if j.offline {
        return Answer::Skipped("it is Offline".to_string());
    }
    let client = match ctx.member_client(cluster).await {
        Ok(c) => c,
        Err(why) => return Answer::Skipped(why),
    };
    let obj: DynamicObject = match serde_json::from_value(copy) {
        Ok(o) => o,
        Err(e) => return Answer::Refused(format!("the copy is not an object: {e}")),
    };
    let ns = obj.metadata.namespace.clone();
    let api = dyn_api(&client, &target.api_resource(), ns.is_some(), ns.as_deref());
    let params = PatchParams::apply(keys::FIELD_MANAGER).force().dry_run();
    match api.patch(&obj.name_any(), &params, &Patch::Apply(&obj)).await {
        Ok(_) => Answer::Accepted,
        Err(kube::Error::Api(s)) if s.code == 404 && ns.is_some() => Answer::Skipped(format!(
            "namespace {} does not exist there yet ({})",
            ns.unwrap_or_default(),
            refusal_reason(&s.message)
        )),
        Err(kube::Error::Api(s)) if refuses(s.code, &s.message) => Answer::Refused(refusal_reason(&s.message)),
        Err(e) => Answer::Skipped(format!("it did not answer: {}", one_line(&anyhow::Error::from(e)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_about_the_copy() {
        let typed = "failed to create typed patch object (demo/web; apps/v1, Kind=Deployment): .spec.replicas: x";
        for (code, message, want) in [
            (422, "Deployment.apps \"web\" is invalid", true),
            (400, "bad", true),
            (409, "conflict", true),
            (500, typed, true),
            (500, "etcdserver: request timed out", false),
            (403, "forbidden", false),
            (401, "Unauthorized", false),
            (429, "slow down", false),
            (503, "unavailable", false),
        ] {
            assert_eq!(refuses(code, message), want, "{code} {message}");
        }
    }

    #[test]
    fn refusals_lose_the_preamble() {
        assert_eq!(
            refusal_reason(
                "failed to create typed patch object (demo/web; apps/v1, Kind=Deployment): .spec.replicas: expected numeric (int or float), got string"
            ),
            ".spec.replicas: expected numeric (int or float), got string"
        );
        assert_eq!(
            refusal_reason(r#"Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1"#),
            r#"Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1"#
        );
    }
}
