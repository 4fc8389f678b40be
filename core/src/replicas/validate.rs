//! Admission checks of replica preferences (an RSP's `spec` or `kubefed.io/replica-scheduling`).

use std::collections::BTreeSet;
use std::fmt;

use crate::api::{ClusterPreferencesMap, ReplicaSchedulingPreferenceSpec, TARGET_KINDS, WILDCARD_CLUSTER};
use crate::suggest;

use super::annotation::Scheduling;
use super::divide::{divide, minimums_wanted};

/// A reason to deny replica preferences. Messages are one line, without the source prefix
/// (the caller adds `kubefed.io/replica-scheduling: ` or `spec.clusters: `).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreferenceError {
    /// The total is negative.
    #[error("the total of {total} replicas must not be negative")]
    NegativeTotal {
        /// The total.
        total: i64,
    },
    /// `targetKind` is not FederatedDeployment or FederatedReplicaSet.
    #[error("targetKind {kind:?} must be FederatedDeployment or FederatedReplicaSet")]
    TargetKind {
        /// The kind as written.
        kind: String,
    },
    /// A negative minReplicas, maxReplicas or weight.
    #[error("{cluster:?}: {field} must not be negative (is {value})")]
    Negative {
        /// The cluster key.
        cluster: String,
        /// `minReplicas`, `maxReplicas` or `weight`.
        field: &'static str,
        /// The value.
        value: i64,
    },
    /// minReplicas above maxReplicas.
    #[error("{cluster:?}: minReplicas {min} is more than maxReplicas {max}")]
    MinAboveMax {
        /// The cluster key.
        cluster: String,
        /// minReplicas.
        min: i64,
        /// maxReplicas.
        max: i64,
    },
    /// A named cluster that is not joined.
    #[error("cluster {cluster:?} is not joined to the federation (joined: {}){}", list(.joined), crate::suggest::suffix(.suggestion.as_deref()))]
    NotJoined {
        /// The unknown name.
        cluster: String,
        /// Every joined cluster, sorted.
        joined: Vec<String>,
        /// The nearest joined name, when one is close.
        suggestion: Option<String>,
    },
    /// A named cluster that is joined but not in the object's placement.
    #[error("cluster {cluster:?} is not in the placement (placed: {}){}", list(.placed), crate::suggest::suffix(.suggestion.as_deref()))]
    NotPlaced {
        /// The name.
        cluster: String,
        /// Every placed cluster, sorted.
        placed: Vec<String>,
        /// The nearest placed name, when one is close.
        suggestion: Option<String>,
    },
}

/// Something admission allows but reports as a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreferenceWarning {
    /// The clusters cannot hold the total: their maxReplicas (and the minReplicas of clusters
    /// with weight 0) add up to `held` only.
    TotalTooLarge {
        /// The total.
        total: i64,
        /// Replicas the clusters can hold.
        held: i64,
    },
    /// The minimums add up to more than the total.
    MinimumsAboveTotal {
        /// The total.
        total: i64,
        /// Sum of the minReplicas of the clusters concerned.
        minimums: i128,
    },
    /// An entry with weight 0 and minReplicas 0: its clusters get no replicas.
    NoReplicas {
        /// The key (a cluster or `"*"`).
        cluster: String,
        /// Whether a `"*"` entry exists that this entry replaces (entries are not merged).
        shadows_wildcard: bool,
    },
}

impl fmt::Display for PreferenceWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PreferenceWarning::TotalTooLarge { total, held: 0 } => {
                write!(f, "none of the {total} replicas can be assigned: no cluster has a weight or minReplicas")
            }
            PreferenceWarning::TotalTooLarge { total, held } => write!(
                f,
                "the clusters hold only {held} of the {total} replicas (maxReplicas, and minReplicas where weight is 0); {} stay unassigned",
                total - held
            ),
            PreferenceWarning::MinimumsAboveTotal { total, minimums } => write!(
                f,
                "minReplicas add up to {minimums}, more than the {total} replicas; the clusters with the lowest weight get less"
            ),
            PreferenceWarning::NoReplicas { cluster, shadows_wildcard } => {
                let whom = if cluster == WILDCARD_CLUSTER { "clusters without an entry get" } else { "it gets" };
                write!(f, "{cluster:?} has no weight and no minReplicas, so {whom} no replicas")?;
                if *shadows_wildcard {
                    write!(f, " (an entry replaces \"*\", it does not inherit its weight)")?;
                }
                Ok(())
            }
        }
    }
}

/// Errors deny; warnings are returned to the user with an allowed request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validation {
    /// Reasons to deny, in key order.
    pub errors: Vec<PreferenceError>,
    /// Reasons to warn.
    pub warnings: Vec<PreferenceWarning>,
}

impl Validation {
    /// True when there is no error.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Checks `prefs` for dividing `total` replicas: numbers are non-negative and
/// minReplicas ≤ maxReplicas; every named cluster is in `joined` and, when `placed` is given
/// (the annotation form, or an RSP that intersects), in `placed`. Warns when the clusters
/// (`placed`, else `joined`) cannot hold `total`, when minimums exceed it, and for entries
/// that give no replicas.
pub fn validate(
    total: i64,
    prefs: &ClusterPreferencesMap,
    joined: &BTreeSet<String>,
    placed: Option<&BTreeSet<String>>,
) -> Validation {
    let mut v = Validation::default();
    if total < 0 {
        v.errors.push(PreferenceError::NegativeTotal { total });
    }
    for (cluster, p) in prefs {
        let fields =
            [("minReplicas", p.min_replicas), ("maxReplicas", p.max_replicas.unwrap_or(0)), ("weight", p.weight)];
        for (field, value) in fields.into_iter().filter(|(_, value)| *value < 0) {
            v.errors.push(PreferenceError::Negative { cluster: cluster.clone(), field, value });
        }
        if let Some(max) = p.max_replicas.filter(|max| *max >= 0 && p.min_replicas > *max) {
            v.errors.push(PreferenceError::MinAboveMax { cluster: cluster.clone(), min: p.min_replicas, max });
        }
        if cluster != WILDCARD_CLUSTER {
            v.errors.extend(membership(cluster, joined, placed));
        }
        if p.weight <= 0 && p.min_replicas <= 0 {
            let shadows_wildcard = cluster != WILDCARD_CLUSTER && prefs.contains_key(WILDCARD_CLUSTER);
            v.warnings.push(PreferenceWarning::NoReplicas { cluster: cluster.clone(), shadows_wildcard });
        }
    }
    v.warnings.extend(capacity_warnings(total, prefs, placed.unwrap_or(joined)));
    v
}

/// Checks a spill-over `order`: every cluster in `joined` and, when `placed` is given, in
/// `placed` (with the nearest name on a typo).
pub fn validate_order(order: &[String], joined: &BTreeSet<String>, placed: Option<&BTreeSet<String>>) -> Validation {
    Validation { errors: order.iter().filter_map(|c| membership(c, joined, placed)).collect(), warnings: Vec::new() }
}

/// [`validate`] or [`validate_order`], as `scheduling` asks.
pub fn validate_scheduling(
    total: i64,
    scheduling: &Scheduling,
    joined: &BTreeSet<String>,
    placed: Option<&BTreeSet<String>>,
) -> Validation {
    if scheduling.spill_over.is_empty() {
        validate(total, &scheduling.clusters, joined, placed)
    } else {
        validate_order(&scheduling.spill_over, joined, placed)
    }
}

/// [`validate`] for an RSP: its target kind too, and the clusters only against `joined`
/// (without `intersectWithClusterSelector` the RSP's clusters replace the placement).
pub fn validate_spec(spec: &ReplicaSchedulingPreferenceSpec, joined: &BTreeSet<String>) -> Validation {
    let mut v = validate(i64::from(spec.total_replicas), &spec.clusters, joined, None);
    if !TARGET_KINDS.contains(&spec.target_kind.as_str()) {
        v.errors.insert(0, PreferenceError::TargetKind { kind: spec.target_kind.clone() });
    }
    v
}

fn membership(cluster: &str, joined: &BTreeSet<String>, placed: Option<&BTreeSet<String>>) -> Option<PreferenceError> {
    let nearest =
        |set: &BTreeSet<String>| suggest::nearest(cluster, set.iter().map(String::as_str)).map(str::to_string);
    if !joined.contains(cluster) {
        let joined_list = joined.iter().cloned().collect();
        return Some(PreferenceError::NotJoined {
            cluster: cluster.into(),
            joined: joined_list,
            suggestion: nearest(joined),
        });
    }
    let placed = placed.filter(|placed| !placed.contains(cluster))?;
    let placed_list = placed.iter().cloned().collect();
    Some(PreferenceError::NotPlaced { cluster: cluster.into(), placed: placed_list, suggestion: nearest(placed) })
}

fn capacity_warnings(total: i64, prefs: &ClusterPreferencesMap, clusters: &BTreeSet<String>) -> Vec<PreferenceWarning> {
    let mut warnings = Vec::new();
    if total <= 0 {
        return warnings;
    }
    let plan = divide(total, prefs, clusters, None);
    if plan.unassigned > 0 {
        warnings.push(PreferenceWarning::TotalTooLarge { total, held: plan.assigned() });
    }
    let minimums = minimums_wanted(prefs, clusters);
    if minimums > i128::from(total) {
        warnings.push(PreferenceWarning::MinimumsAboveTotal { total, minimums });
    }
    warnings
}

fn list(names: &[String]) -> String {
    if names.is_empty() { "none".to_string() } else { names.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ClusterPreferences;
    use crate::replicas::parse_annotation;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn joined() -> BTreeSet<String> {
        set(&["earth", "kronos", "vulcan"])
    }

    fn messages(v: &Validation) -> (Vec<String>, Vec<String>) {
        (v.errors.iter().map(ToString::to_string).collect(), v.warnings.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn kubefeds_examples_are_clean() {
        for value in [
            r#"{"vulcan":{"weight":1},"kronos":{"weight":2}}"#,
            r#"{"vulcan":{"minReplicas":4,"maxReplicas":6,"weight":1},"kronos":{"minReplicas":4,"maxReplicas":8,"weight":2}}"#,
            r#"{"*":{"weight":1}}"#,
            "{}",
        ] {
            let v = validate(9, &parse_annotation(value).unwrap().clusters, &joined(), None);
            assert_eq!(v, Validation::default(), "{value}");
            assert!(v.is_ok());
        }
    }

    #[test]
    fn numbers_must_be_non_negative_and_min_at_most_max() {
        let prefs = parse_annotation(
            r#"{"earth":{"minReplicas":-1,"maxReplicas":-2,"weight":-3},"kronos":{"minReplicas":5,"maxReplicas":3,"weight":1}}"#,
        )
        .unwrap().clusters;
        let (errors, _) = messages(&validate(-4, &prefs, &joined(), None));
        assert_eq!(
            errors,
            [
                "the total of -4 replicas must not be negative",
                r#""earth": minReplicas must not be negative (is -1)"#,
                r#""earth": maxReplicas must not be negative (is -2)"#,
                r#""earth": weight must not be negative (is -3)"#,
                r#""kronos": minReplicas 5 is more than maxReplicas 3"#,
            ]
        );
    }

    #[test]
    fn clusters_must_be_joined_and_placed() {
        let prefs =
            parse_annotation(r#"{"vulcn":{"weight":1},"earth":{"weight":1},"mars":{"weight":1}}"#).unwrap().clusters;
        let (errors, _) = messages(&validate(3, &prefs, &joined(), Some(&set(&["kronos", "vulcan"]))));
        assert_eq!(
            errors,
            [
                r#"cluster "earth" is not in the placement (placed: kronos, vulcan)"#,
                r#"cluster "mars" is not joined to the federation (joined: earth, kronos, vulcan)"#,
                r#"cluster "vulcn" is not joined to the federation (joined: earth, kronos, vulcan); did you mean "vulcan"?"#,
            ]
        );
        let (errors, _) = messages(&validate(3, &prefs, &BTreeSet::new(), None));
        assert!(errors[0].ends_with("(joined: none)"), "{errors:?}");
        let placed_typo = parse_annotation(r#"{"kronoz":{"weight":1}}"#).unwrap().clusters;
        let v = validate(3, &placed_typo, &set(&["kronoz", "kronos"]), Some(&set(&["kronos"])));
        assert!(v.errors[0].to_string().ends_with(r#"(placed: kronos); did you mean "kronos"?"#), "{v:?}");
    }

    #[test]
    fn warns_when_the_clusters_cannot_hold_the_total() {
        let prefs =
            parse_annotation(r#"{"*":{"maxReplicas":2,"weight":1},"earth":{"minReplicas":1}}"#).unwrap().clusters;
        let (errors, warnings) = messages(&validate(10, &prefs, &joined(), None));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            warnings,
            [
                "the clusters hold only 5 of the 10 replicas (maxReplicas, and minReplicas where weight is 0); 5 stay unassigned",
            ]
        );
        // Only the placed clusters count.
        let (_, warnings) = messages(&validate(4, &prefs, &joined(), Some(&set(&["vulcan"]))));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("only 2 of the 4"), "{warnings:?}");
        let (_, warnings) = messages(&validate(4, &prefs, &joined(), Some(&BTreeSet::new())));
        assert_eq!(warnings, ["none of the 4 replicas can be assigned: no cluster has a weight or minReplicas"]);
        assert!(validate(0, &prefs, &joined(), Some(&BTreeSet::new())).warnings.is_empty(), "a total of 0 fits");
    }

    #[test]
    fn warns_about_minimums_above_the_total() {
        let prefs = parse_annotation(r#"{"*":{"minReplicas":2,"weight":1}}"#).unwrap().clusters;
        let (_, warnings) = messages(&validate(5, &prefs, &joined(), None));
        assert_eq!(
            warnings,
            ["minReplicas add up to 6, more than the 5 replicas; the clusters with the lowest weight get less"]
        );
    }

    #[test]
    fn warns_about_entries_that_get_nothing() {
        // The annotation example of the design: kronos's own entry has no weight.
        let prefs = parse_annotation(r#"{"*":{"weight":1},"kronos":{"maxReplicas":20}}"#).unwrap().clusters;
        let (_, warnings) = messages(&validate(9, &prefs, &joined(), None));
        assert_eq!(
            warnings,
            [
                r#""kronos" has no weight and no minReplicas, so it gets no replicas (an entry replaces "*", it does not inherit its weight)"#
            ]
        );
        let mut prefs = ClusterPreferencesMap::new();
        prefs.insert("*".into(), ClusterPreferences::default());
        prefs.insert("kronos".into(), ClusterPreferences::weight(1));
        let (_, warnings) = messages(&validate(9, &prefs, &joined(), None));
        assert_eq!(warnings, [r#""*" has no weight and no minReplicas, so clusters without an entry get no replicas"#]);
    }

    #[test]
    fn rsp_target_kind_and_clusters() {
        let mut spec = ReplicaSchedulingPreferenceSpec {
            target_kind: "FederatedStatefulSet".into(),
            total_replicas: 9,
            clusters: parse_annotation(r#"{"vulcn":{"weight":1}}"#).unwrap().clusters,
            ..Default::default()
        };
        let (errors, _) = messages(&validate_spec(&spec, &joined()));
        assert_eq!(
            errors,
            [
                r#"targetKind "FederatedStatefulSet" must be FederatedDeployment or FederatedReplicaSet"#,
                r#"cluster "vulcn" is not joined to the federation (joined: earth, kronos, vulcan); did you mean "vulcan"?"#,
            ]
        );
        spec.target_kind = "FederatedReplicaSet".into();
        spec.clusters = parse_annotation(r#"{"vulcan":{"weight":1}}"#).unwrap().clusters;
        assert_eq!(validate_spec(&spec, &joined()), Validation::default());
    }
}
