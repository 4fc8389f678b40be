//! Follow on a host namespace: the label `kubefed.io/follow=true` the follow webhook selects
//! namespaces by, and the placement recorded beside it for a namespace without a
//! FederatedNamespace. Used by `kubectl fed follow` and `kubectl fed federate namespace NS
//! --follow`; `kubectl fed status -A` lists the namespaces that follow.

use anyhow::Result;
use fed_core::annotations::{PlacementAnnotation, parse_placement};
use fed_core::api::Placement;
use fed_core::keys;
use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use kube::core::ApiResource;
use serde_json::{Value, json};

use crate::apply::Writer;

/// What `--clusters` / `--selector` recorded: the placement of new objects when no
/// FederatedNamespace governs the namespace (none recorded: every joined cluster).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    /// `kubefed.io/placement` syntax (`a,b` or `*`).
    pub clusters: Option<String>,
    /// `kubefed.io/cluster-selector` syntax.
    pub selector: Option<String>,
}

impl Recorded {
    /// The flags, checked with fed-core's parsers.
    pub fn parse(clusters: Option<&str>, selector: Option<&str>) -> Result<Recorded> {
        let clusters = clusters.map(parse_placement).transpose()?.map(|p| p.to_string());
        if let Some(sel) = selector {
            fed_core::selector::parse_selector(sel).map_err(|e| anyhow::anyhow!("--selector {sel:?}: {e}"))?;
        }
        Ok(Recorded { clusters, selector: selector.map(str::to_string) })
    }

    /// The clusters `federate --clusters` names (none: every joined cluster).
    pub fn of_clusters(clusters: &[String]) -> Recorded {
        let mut names = clusters.to_vec();
        names.sort();
        names.dedup();
        let placement = if names.is_empty() { PlacementAnnotation::All } else { PlacementAnnotation::Clusters(names) };
        Recorded { clusters: Some(placement.to_string()), selector: None }
    }

    /// For messages: `vulcan,kronos`, `region=eu`, or `every joined cluster`.
    pub fn describe(&self) -> String {
        match (&self.clusters, &self.selector) {
            (Some(c), _) if c == "*" => "every joined cluster".to_string(),
            (Some(c), _) => c.clone(),
            (None, Some(s)) => format!("clusters matching {s}"),
            (None, None) => "every joined cluster".to_string(),
        }
    }
}

/// The merge patch that makes a namespace follow with `recorded`.
pub fn start_patch(recorded: &Recorded) -> Value {
    json!({ "metadata": {
        "labels": { keys::FOLLOW: "true" },
        "annotations": {
            keys::FOLLOW_PLACEMENT: recorded.clusters,
            keys::FOLLOW_CLUSTER_SELECTOR: recorded.selector,
        },
    }})
}

/// The merge patch that stops it (label and recorded placement removed).
pub fn stop_patch() -> Value {
    json!({ "metadata": {
        "labels": { keys::FOLLOW: null },
        "annotations": { keys::FOLLOW_PLACEMENT: null, keys::FOLLOW_CLUSTER_SELECTOR: null },
    }})
}

/// The Namespace resource.
pub fn namespace_resource() -> ApiResource {
    ApiResource::erase::<Namespace>(&())
}

/// Makes host namespace `ns` follow.
pub async fn start(host: &mut Writer, ns: &str, recorded: &Recorded) -> Result<()> {
    host.merge_patch(&namespace_resource(), false, None, ns, &start_patch(recorded), "follows").await?;
    Ok(())
}

/// Stops host namespace `ns` following.
pub async fn stop(host: &mut Writer, ns: &str) -> Result<()> {
    host.merge_patch(&namespace_resource(), false, None, ns, &stop_patch(), "no longer follows").await?;
    Ok(())
}

/// A namespace that follows, for `status -A`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Following {
    /// The namespace.
    pub namespace: String,
    /// Where its new objects go, for people.
    pub placement: String,
}

/// Every host namespace that follows, with where its new objects go (`governing` gives the
/// placement of a namespace's FederatedNamespace, if it has one).
pub async fn following(client: &kube::Client, governing: impl Fn(&str) -> Option<Placement>) -> Result<Vec<Following>> {
    let api: Api<Namespace> = Api::all(client.clone());
    let list = api.list_metadata(&ListParams::default().labels(&format!("{}=true", keys::FOLLOW))).await?;
    let mut out: Vec<Following> = list
        .items
        .iter()
        .map(|n| {
            let namespace = n.name_any();
            let placement = match governing(&namespace) {
                Some(p) => format!("FederatedNamespace: {}", describe_placement(&p)),
                None => {
                    let a = n.annotations();
                    Recorded {
                        clusters: a.get(keys::FOLLOW_PLACEMENT).cloned(),
                        selector: a.get(keys::FOLLOW_CLUSTER_SELECTOR).cloned(),
                    }
                    .describe()
                }
            };
            Following { namespace, placement }
        })
        .collect();
    out.sort_by(|a, b| a.namespace.cmp(&b.namespace));
    Ok(out)
}

/// A placement for people: its clusters, its selector, or nowhere.
fn describe_placement(p: &Placement) -> String {
    match fed_core::admission::follow::placement_annotations(p) {
        None => "no cluster".to_string(),
        Some(a) => {
            Recorded { clusters: a.get(keys::PLACEMENT).cloned(), selector: a.get(keys::CLUSTER_SELECTOR).cloned() }
                .describe()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_records_the_placement_and_stop_removes_everything() {
        let r = Recorded::parse(Some("vulcan, kronos"), None).unwrap();
        assert_eq!(r.clusters.as_deref(), Some("kronos,vulcan"));
        let p = start_patch(&r);
        assert_eq!(p["metadata"]["labels"][keys::FOLLOW], "true");
        assert_eq!(p["metadata"]["annotations"][keys::FOLLOW_PLACEMENT], "kronos,vulcan");
        assert_eq!(p["metadata"]["annotations"][keys::FOLLOW_CLUSTER_SELECTOR], Value::Null);
        let s = stop_patch();
        assert_eq!(s["metadata"]["labels"][keys::FOLLOW], Value::Null);
        assert!(s["metadata"]["annotations"].as_object().unwrap().values().all(Value::is_null));
        assert!(Recorded::parse(None, Some("a in (b")).unwrap_err().to_string().starts_with("--selector"));
        assert!(Recorded::parse(Some("a,,b"), None).is_err());
    }

    #[test]
    fn recorded_placements_read_for_people() {
        assert_eq!(Recorded::of_clusters(&[]).describe(), "every joined cluster");
        assert_eq!(Recorded::of_clusters(&["vulcan".into()]).clusters.as_deref(), Some("vulcan"));
        assert_eq!(
            Recorded { clusters: None, selector: Some("region=eu".into()) }.describe(),
            "clusters matching region=eu"
        );
        assert_eq!(describe_placement(&Placement::clusters(["earth", "vulcan"])), "earth,vulcan");
        assert_eq!(describe_placement(&Placement::default()), "no cluster");
    }
}
