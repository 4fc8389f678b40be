//! Member copies that nothing on the host asks for any more (`kubectl fed status --orphans`).
//!
//! The controllers delete a member copy only when its federated object says so: its placement
//! dropped the cluster, or the object is being deleted and its finalizer runs. A copy whose
//! federated object is simply absent from the host (the host restored from a backup older than
//! the object, say) is left alone, since deleting it on the word of a host that may have lost
//! state would take running workloads down. Such copies are found here and reported; applying
//! the object on the host again adopts them in place (same uid).

use std::collections::BTreeSet;

use crate::render::parse_origin;

/// One managed copy as a member lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedCopy {
    /// The member cluster.
    pub cluster: String,
    /// The copy's namespace (`None`: cluster-scoped).
    pub namespace: Option<String>,
    /// The copy's name.
    pub name: String,
    /// Its `kubefed.io/origin` annotation.
    pub origin: Option<String>,
    /// Its uid on the member.
    pub uid: Option<String>,
}

/// A copy whose federated object the host lacks.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Orphan {
    /// The member cluster.
    pub cluster: String,
    /// The copy's namespace.
    pub namespace: Option<String>,
    /// The copy's name.
    pub name: String,
    /// The federated object it came from (`FederatedConfigMap/ns/name`).
    pub origin: String,
    /// Its uid on the member (the one a re-applied object keeps).
    pub uid: Option<String>,
}

/// The copies of `federated_kind` in `copies` whose origin names no object in `federated` (the
/// [`crate::render::origin`] strings of the Federated objects the host has in `namespace`, or in
/// every namespace when `None`). Copies without an origin of that kind (a member namespace
/// created for copies, another kind's copies), or whose origin lies in another namespace than
/// the one asked about, are not this question's to judge.
pub fn orphans(
    copies: &[ListedCopy],
    federated_kind: &str,
    namespace: Option<&str>,
    federated: &BTreeSet<String>,
) -> Vec<Orphan> {
    let mut found: Vec<Orphan> = copies
        .iter()
        .filter_map(|c| {
            let origin = c.origin.as_deref()?;
            let parsed = parse_origin(origin)?;
            let asked = namespace.is_none_or(|ns| parsed.namespace.as_deref() == Some(ns));
            (parsed.kind == federated_kind && asked && !federated.contains(origin)).then(|| Orphan {
                cluster: c.cluster.clone(),
                namespace: c.namespace.clone(),
                name: c.name.clone(),
                origin: origin.to_string(),
                uid: c.uid.clone(),
            })
        })
        .collect();
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(cluster: &str, name: &str, origin: Option<&str>) -> ListedCopy {
        ListedCopy {
            cluster: cluster.into(),
            namespace: Some("ns".into()),
            name: name.into(),
            origin: origin.map(String::from),
            uid: Some(format!("{cluster}-{name}")),
        }
    }

    #[test]
    fn copies_whose_federated_object_is_absent_are_orphans() {
        let federated: BTreeSet<String> = ["FederatedConfigMap/ns/kept".to_string()].into();
        let copies = vec![
            copy("vulcan", "kept", Some("FederatedConfigMap/ns/kept")),
            copy("vulcan", "lost", Some("FederatedConfigMap/ns/lost")),
            copy("kronos", "lost", Some("FederatedConfigMap/ns/lost")),
            copy("kronos", "web", Some("FederatedDeployment/ns/web")),
            copy("kronos", "plain", None),
            copy("kronos", "odd", Some("not an origin/")),
        ];
        let found = orphans(&copies, "FederatedConfigMap", None, &federated);
        let names: Vec<(&str, &str)> = found.iter().map(|o| (o.cluster.as_str(), o.name.as_str())).collect();
        assert_eq!(names, [("kronos", "lost"), ("vulcan", "lost")], "sorted by cluster, then name");
        assert_eq!(found[0].origin, "FederatedConfigMap/ns/lost");
        assert_eq!(found[0].uid.as_deref(), Some("kronos-lost"));
        assert!(orphans(&copies, "FederatedService", None, &federated).is_empty(), "another kind's copies");
        assert_eq!(orphans(&copies, "FederatedConfigMap", Some("ns"), &federated), found);
        assert!(orphans(&copies, "FederatedConfigMap", Some("other"), &federated).is_empty(), "not asked about");
    }

    #[test]
    fn a_copy_named_differently_from_its_origin_is_judged_by_its_origin() {
        let federated: BTreeSet<String> = ["FederatedNamespace/team/team".to_string()].into();
        let ns = |origin: &str| ListedCopy {
            cluster: "vulcan".into(),
            namespace: None,
            name: "team".into(),
            origin: Some(origin.into()),
            uid: None,
        };
        let team = ns("FederatedNamespace/team/team");
        let other = ns("FederatedNamespace/other/other");
        assert!(orphans(std::slice::from_ref(&team), "FederatedNamespace", None, &federated).is_empty());
        assert_eq!(orphans(std::slice::from_ref(&other), "FederatedNamespace", None, &federated).len(), 1);
        // Asked about namespace team, the host's list holds team's FederatedNamespace only: the
        // cluster-scoped copies of other namespaces are not judged against it.
        assert!(orphans(&[team, other], "FederatedNamespace", Some("team"), &federated).is_empty());
    }
}
