//! Placement resolution against the joined clusters: explicit clusters win over the selector,
//! `clusters: []` places nowhere, an empty selector places everywhere.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::{Federated, Placement};
use crate::selector::{self, SelectorError};
use crate::suggest;

/// A joined member cluster, as placement, admission and the controllers see it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JoinedCluster {
    /// KubeFedCluster name.
    pub name: String,
    /// KubeFedCluster labels (what selectors match).
    pub labels: BTreeMap<String, String>,
    /// True when the health controller marked it Offline.
    pub offline: bool,
    /// True when this member is the host cluster itself (label `kubefed.io/host=true`).
    pub is_host: bool,
}

/// A placement that admission must refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    /// A named cluster is not joined.
    #[error("cluster {name:?} is not joined to the federation (joined: {}){}", name_list(.joined), did_you_mean(.suggestion))]
    NotJoined {
        /// The unknown name.
        name: String,
        /// Every joined cluster, sorted.
        joined: Vec<String>,
        /// The nearest joined name, when one is close.
        suggestion: Option<String>,
    },
    /// The cluster selector is malformed.
    #[error("clusterSelector: {source}")]
    Selector {
        /// What is wrong with the selector.
        source: SelectorError,
    },
}

/// The clusters `p` places on. Unknown cluster names are dropped (controllers use this); a
/// selector with an unknown operator matches nothing.
pub fn resolve(p: &Placement, clusters: &[JoinedCluster]) -> BTreeSet<String> {
    match (&p.clusters, &p.cluster_selector) {
        (Some(names), _) => {
            names.iter().filter(|r| clusters.iter().any(|c| c.name == r.name)).map(|r| r.name.clone()).collect()
        }
        (None, Some(sel)) => {
            clusters.iter().filter(|c| selector::matches(sel, &c.labels)).map(|c| c.name.clone()).collect()
        }
        (None, None) => BTreeSet::new(),
    }
}

/// The clusters `p`'s selector alone places on, ignoring `p.clusters` (no selector: none), as
/// KubeFed's ReplicaSchedulingPreference computes `intersectWithClusterSelector`.
pub fn resolve_selector(p: &Placement, clusters: &[JoinedCluster]) -> BTreeSet<String> {
    resolve(&Placement { clusters: None, cluster_selector: p.cluster_selector.clone() }, clusters)
}

/// Like [`resolve`], but refuses unknown cluster names (naming the joined clusters and the
/// nearest one) and malformed selectors (admission uses this).
pub fn check(p: &Placement, clusters: &[JoinedCluster]) -> Result<BTreeSet<String>, PlacementError> {
    if let Some(sel) = &p.cluster_selector {
        selector::validate(sel).map_err(|source| PlacementError::Selector { source })?;
    }
    let unknown = p.clusters.iter().flatten().find(|r| !clusters.iter().any(|c| c.name == r.name));
    if let Some(unknown) = unknown {
        let mut joined: Vec<String> = clusters.iter().map(|c| c.name.clone()).collect();
        joined.sort();
        let suggestion = suggest::nearest(&unknown.name, joined.iter().map(String::as_str)).map(str::to_string);
        return Err(PlacementError::NotJoined { name: unknown.name.clone(), joined, suggestion });
    }
    Ok(resolve(p, clusters))
}

/// The clusters of `placed` that are not in `allowed` (namespace-policy containment).
pub fn outside(placed: &BTreeSet<String>, allowed: &BTreeSet<String>) -> BTreeSet<String> {
    placed.difference(allowed).cloned().collect()
}

/// A placement held against the namespace policy: the placement of the FederatedNamespace that
/// governs the object's namespace, if any. Admission denies what is `outside`; sync propagates
/// only what is `within`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contained {
    /// Placed clusters the policy allows (all of them without a policy).
    pub within: BTreeSet<String>,
    /// Placed clusters the policy leaves out.
    pub outside: BTreeSet<String>,
    /// What the policy allows, when there is one.
    pub allowed: Option<BTreeSet<String>>,
}

/// Holds `placed` against `policy` (see [`Contained`]).
pub fn contain(placed: BTreeSet<String>, policy: Option<&Placement>, clusters: &[JoinedCluster]) -> Contained {
    let Some(policy) = policy else { return Contained { within: placed, outside: BTreeSet::new(), allowed: None } };
    let allowed = resolve(policy, clusters);
    let (within, outside) = placed.into_iter().partition(|c| allowed.contains(c));
    Contained { within, outside, allowed: Some(allowed) }
}

/// The FederatedNamespace governing `namespace` among `candidates`: the one named like the
/// namespace, else (accepted with an admission warning) the first by name of those in it, so
/// the answer is stable.
pub fn governing<'a>(namespace: &str, candidates: impl IntoIterator<Item = &'a Federated>) -> Option<&'a Federated> {
    candidates
        .into_iter()
        .filter(|f| f.metadata.namespace.as_deref() == Some(namespace))
        .min_by_key(|f| (f.metadata.name.as_deref() != Some(namespace), f.metadata.name.clone()))
}

/// `a, b, c` for messages, or `none`.
pub(crate) fn name_list<'a>(names: impl IntoIterator<Item = &'a String>) -> String {
    let names: Vec<&str> = names.into_iter().map(String::as_str).collect();
    if names.is_empty() { "none".to_string() } else { names.join(", ") }
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    suggest::suffix(suggestion.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ClusterSelector;
    use crate::selector::parse_selector;

    fn cluster(name: &str, labels: &[(&str, &str)]) -> JoinedCluster {
        JoinedCluster {
            name: name.to_string(),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
            ..Default::default()
        }
    }

    fn joined() -> Vec<JoinedCluster> {
        vec![
            cluster("vulcan", &[("region", "eu")]),
            cluster("earth", &[("region", "eu"), ("kubefed.io/host", "true")]),
            cluster("kronos", &[("region", "us")]),
        ]
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn with_selector(clusters: Option<&[&str]>, selector: Option<&str>) -> Placement {
        Placement {
            clusters: clusters.map(|c| Placement::clusters(c.iter().copied()).clusters.unwrap_or_default()),
            cluster_selector: selector.map(|s| parse_selector(s).unwrap()),
        }
    }

    #[test]
    fn resolution() {
        let cases: Vec<(Placement, &[&str])> = vec![
            (Placement::default(), &[]),
            (with_selector(Some(&[]), None), &[]),
            (with_selector(Some(&[]), Some("")), &[]),
            (with_selector(None, Some("")), &["earth", "kronos", "vulcan"]),
            (with_selector(None, Some("region=eu")), &["earth", "vulcan"]),
            (with_selector(None, Some("region!=eu")), &["kronos"]),
            (with_selector(None, Some("kubefed.io/host")), &["earth"]),
            (with_selector(None, Some("region=mars")), &[]),
            (with_selector(Some(&["kronos"]), Some("region=eu")), &["kronos"]),
            (with_selector(Some(&["vulcan", "earth", "vulcan"]), None), &["earth", "vulcan"]),
            (with_selector(Some(&["mars", "earth"]), None), &["earth"]),
        ];
        for (placement, want) in cases {
            assert_eq!(resolve(&placement, &joined()), set(want), "{placement:?}");
        }
    }

    #[test]
    fn check_accepts_what_resolves() {
        let p = with_selector(Some(&["vulcan", "earth"]), Some("region=us"));
        assert_eq!(check(&p, &joined()), Ok(set(&["earth", "vulcan"])));
        assert_eq!(check(&with_selector(None, Some("")), &joined()), Ok(set(&["earth", "kronos", "vulcan"])));
    }

    #[test]
    fn check_names_unknown_clusters() {
        let cases = [
            (
                &["earth", "mars"][..],
                "cluster \"mars\" is not joined to the federation (joined: earth, kronos, vulcan)",
            ),
            (
                &["vulcn"],
                "cluster \"vulcn\" is not joined to the federation (joined: earth, kronos, vulcan); did you mean \"vulcan\"?",
            ),
            (&["eart"], "; did you mean \"earth\"?"),
            (&["Earth"], "; did you mean \"earth\"?"),
        ];
        for (names, want) in cases {
            let err = check(&Placement::clusters(names.iter().copied()), &joined()).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
        let none = check(&Placement::clusters(["earth"]), &[]).unwrap_err().to_string();
        assert_eq!(none, "cluster \"earth\" is not joined to the federation (joined: none)");
    }

    #[test]
    fn check_refuses_malformed_selectors() {
        let p = Placement {
            clusters: None,
            cluster_selector: Some(ClusterSelector {
                match_labels: [("bad key".to_string(), "x".to_string())].into(),
                ..Default::default()
            }),
        };
        let err = check(&p, &joined()).unwrap_err().to_string();
        assert!(err.starts_with("clusterSelector: matchLabels[\"bad key\"]: label key"), "{err}");
    }

    #[test]
    fn containment() {
        assert_eq!(outside(&set(&["earth", "vulcan"]), &set(&["earth"])), set(&["vulcan"]));
        assert!(outside(&set(&["earth"]), &set(&["earth", "vulcan"])).is_empty());
        let free = contain(set(&["earth", "vulcan"]), None, &joined());
        assert_eq!((free.within, free.outside, free.allowed), (set(&["earth", "vulcan"]), set(&[]), None));
        let eu = with_selector(None, Some("region=eu"));
        let held = contain(set(&["kronos", "vulcan"]), Some(&eu), &joined());
        assert_eq!(held.within, set(&["vulcan"]));
        assert_eq!(held.outside, set(&["kronos"]));
        assert_eq!(held.allowed, Some(set(&["earth", "vulcan"])));
    }

    #[test]
    fn the_federated_namespace_named_like_its_namespace_governs_it() {
        let ar = crate::api::ApiResourceRef::v1("", "Namespace", "namespaces", crate::api::Scope::Cluster)
            .federated()
            .api_resource();
        let fns = |ns: &str, name: &str| {
            let mut f = Federated::new(name, &ar, Default::default());
            f.metadata.namespace = Some(ns.into());
            f
        };
        let all = [fns("b", "zz"), fns("a", "x"), fns("b", "b"), fns("c", "y"), fns("c", "m")];
        let name = |ns| governing(ns, &all).and_then(|f| f.metadata.name.clone());
        assert_eq!(name("b").as_deref(), Some("b"), "named like its namespace");
        assert_eq!(name("c").as_deref(), Some("m"), "else the first by name");
        assert_eq!(name("a").as_deref(), Some("x"));
        assert_eq!(name("d"), None);
    }
}
