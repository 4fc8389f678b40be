//! Placement resolution against the joined clusters: explicit clusters win over the selector,
//! `clusters: []` places nowhere, an empty selector places everywhere.

use std::collections::BTreeSet;

use crate::admission::JoinedCluster;
use crate::api::Placement;
use crate::selector::{self, SelectorError};
use crate::suggest;

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

/// The explicit cluster names of `p`, when it lists clusters (`Some(vec![])` places nowhere).
pub fn placement_names(p: &Placement) -> Option<Vec<String>> {
    p.clusters.as_ref().map(|c| c.iter().map(|r| r.name.clone()).collect())
}

/// `a, b, c` for messages, or `none`.
pub(crate) fn name_list<'a>(names: impl IntoIterator<Item = &'a String>) -> String {
    let names: Vec<&str> = names.into_iter().map(String::as_str).collect();
    if names.is_empty() { "none".to_string() } else { names.join(", ") }
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    suggestion.as_ref().map(|s| format!("; did you mean {s:?}?")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

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
    fn containment_and_names() {
        assert_eq!(outside(&set(&["earth", "vulcan"]), &set(&["earth"])), set(&["vulcan"]));
        assert!(outside(&set(&["earth"]), &set(&["earth", "vulcan"])).is_empty());
        assert_eq!(placement_names(&Placement::clusters(["b", "a"])), Some(vec!["b".to_string(), "a".to_string()]));
        assert_eq!(placement_names(&with_selector(None, Some("a=b"))), None);
    }
}
