//! Parsers for the user annotations on ordinary objects (`kubefed.io/placement`,
//! `kubefed.io/cluster-selector`, `kubefed.io/overrides`, `kubefed.io/orphan`,
//! `kubefed.io/replica-scheduling`).
//!
//! Every error names the annotation, the offending item and its position.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

use crate::api::{ClusterOverrides, ClusterSelector, OverrideOp, Placement};
use crate::overrides::{self, OverrideError};
use crate::replicas::{self, Scheduling, SchedulingAnnotationError};
use crate::selector::{self, SelectorError};
use crate::{keys, names};

/// The value of `kubefed.io/placement`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlacementAnnotation {
    /// `*`: every joined cluster.
    All,
    /// These clusters (sorted, deduplicated).
    Clusters(Vec<String>),
}

/// A malformed federation annotation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnnotationError {
    /// `kubefed.io/placement` is empty.
    #[error("{}: the value is empty; list cluster names (earth,vulcan) or use * for every cluster", keys::PLACEMENT)]
    EmptyPlacement,
    /// An empty item in the comma list.
    #[error("{}: item {position} of {value:?} is empty; separate cluster names with single commas", keys::PLACEMENT)]
    EmptyItem {
        /// 1-based position of the item.
        position: usize,
        /// The whole annotation value.
        value: String,
    },
    /// An item that is not a valid cluster name.
    #[error("{}: item {position} {item:?} is not a valid cluster name: {reason}", keys::PLACEMENT)]
    InvalidClusterName {
        /// 1-based position of the item.
        position: usize,
        /// The item as written (trimmed).
        item: String,
        /// Why it is invalid.
        reason: String,
    },
    /// `*` together with cluster names.
    #[error("{}: item {position} \"*\" means every cluster and cannot be combined with cluster names", keys::PLACEMENT)]
    WildcardMixed {
        /// 1-based position of the `*`.
        position: usize,
    },
    /// `kubefed.io/cluster-selector` does not parse.
    #[error("{}: {source}", keys::CLUSTER_SELECTOR)]
    Selector {
        /// What is wrong with the selector.
        source: SelectorError,
    },
    /// `kubefed.io/overrides` is not the expected JSON shape.
    #[error(
        "{}: {reason}; expected e.g. {{\"vulcan\":[{{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":3}}]}}",
        keys::OVERRIDES
    )]
    OverridesShape {
        /// What is wrong with the JSON.
        reason: String,
    },
    /// `kubefed.io/overrides` names an invalid cluster.
    #[error("{}: key {cluster:?} is not a valid cluster name: {reason}", keys::OVERRIDES)]
    OverridesCluster {
        /// The key as written.
        cluster: String,
        /// Why it is invalid.
        reason: String,
    },
    /// One override operation is malformed.
    #[error("{}: cluster {cluster:?}: {source}", keys::OVERRIDES)]
    Override {
        /// The cluster the operation is for.
        cluster: String,
        /// What is wrong with the operation.
        source: OverrideError,
    },
    /// `kubefed.io/overflow-after` is not a duration; the message names the key.
    #[error("{message}")]
    OverflowAfter {
        /// What is wrong.
        message: String,
    },
    /// `kubefed.io/replica-scheduling` does not parse.
    #[error(transparent)]
    ReplicaScheduling(#[from] SchedulingAnnotationError),
    /// `kubefed.io/orphan` is not a boolean.
    #[error("{}: {value:?} is not \"true\" or \"false\"", keys::ORPHAN)]
    Orphan {
        /// The value as written.
        value: String,
    },
}

/// Everything the user annotations of a source ask for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FederationAnnotations {
    /// Where the object goes (`clusters` from `kubefed.io/placement`, `clusterSelector` from
    /// `kubefed.io/cluster-selector`; both are kept, clusters win).
    pub placement: Placement,
    /// Per-cluster overrides, sorted by cluster name.
    pub overrides: Vec<ClusterOverrides>,
    /// Whether member copies stay when the source is deleted.
    pub orphan: bool,
    /// How the replicas are divided (`kubefed.io/replica-scheduling`), when they are.
    pub replica_scheduling: Option<Scheduling>,
    /// `kubefed.io/overflow-after`, when set.
    pub overflow_after: Option<std::time::Duration>,
}

/// Parses `kubefed.io/placement`: `*`, or a comma list of cluster names (trimmed, deduplicated,
/// sorted).
pub fn parse_placement(value: &str) -> Result<PlacementAnnotation, AnnotationError> {
    if value.trim().is_empty() {
        return Err(AnnotationError::EmptyPlacement);
    }
    let items: Vec<&str> = value.split(',').map(str::trim).collect();
    if let Some(position) = items.iter().position(|i| i.is_empty()) {
        return Err(AnnotationError::EmptyItem { position: position + 1, value: value.to_string() });
    }
    if let Some(position) = items.iter().position(|i| *i == ALL) {
        return if items.len() == 1 {
            Ok(PlacementAnnotation::All)
        } else {
            Err(AnnotationError::WildcardMixed { position: position + 1 })
        };
    }
    for (i, item) in items.iter().enumerate() {
        names::dns1123_subdomain(item).map_err(|reason| AnnotationError::InvalidClusterName {
            position: i + 1,
            item: item.to_string(),
            reason,
        })?;
    }
    let names: BTreeSet<&str> = items.into_iter().collect();
    Ok(PlacementAnnotation::Clusters(names.into_iter().map(str::to_string).collect()))
}

/// The canonical form of a `kubefed.io/placement` value (`earth,vulcan`, or `*`).
pub fn normalized_placement(value: &str) -> Result<String, AnnotationError> {
    parse_placement(value).map(|p| p.to_string())
}

/// Parses `kubefed.io/overrides`: a JSON object from cluster name to a list of
/// `{op?, path, value?}`; the result is sorted by cluster name.
pub fn parse_overrides(value: &str) -> Result<Vec<ClusterOverrides>, AnnotationError> {
    let shape = |reason: String| AnnotationError::OverridesShape { reason };
    let json: Value = serde_json::from_str(value).map_err(|e| shape(format!("not valid JSON ({e})")))?;
    let Value::Object(clusters) = json else {
        return Err(shape(format!("expected a JSON object keyed by cluster name, got {}", json_type(&json))));
    };
    let mut out = Vec::with_capacity(clusters.len());
    for (cluster, ops) in clusters {
        names::dns1123_subdomain(&cluster)
            .map_err(|reason| AnnotationError::OverridesCluster { cluster: cluster.clone(), reason })?;
        let Value::Array(ops) = ops else {
            return Err(shape(format!("cluster {cluster:?}: expected a list of operations, got {}", json_type(&ops))));
        };
        let ops = ops
            .into_iter()
            .enumerate()
            .map(|(i, op)| override_op(op).map_err(|e| shape(format!("cluster {cluster:?}: operation {i}: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        overrides::validate(&ops).map_err(|source| AnnotationError::Override { cluster: cluster.clone(), source })?;
        out.push(ClusterOverrides { cluster_name: cluster, cluster_overrides: ops });
    }
    out.sort_by(|a, b| a.cluster_name.cmp(&b.cluster_name));
    Ok(out)
}

/// Parses `kubefed.io/orphan`: exactly `true` or `false`.
pub fn parse_orphan(value: &str) -> Result<bool, AnnotationError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(AnnotationError::Orphan { value: value.to_string() }),
    }
}

/// True when `kubefed.io/orphan` is `"true"`: deleting the object leaves its member copies.
pub fn orphaned(annotations: &BTreeMap<String, String>) -> bool {
    annotations.get(keys::ORPHAN).is_some_and(|v| v == "true")
}

/// True when the annotations make the object a source (placement or cluster selector present).
pub fn is_source(annotations: &BTreeMap<String, String>) -> bool {
    annotations.contains_key(keys::PLACEMENT) || annotations.contains_key(keys::CLUSTER_SELECTOR)
}

/// Parses every federation annotation present. `Ok(None)` when the object is not a source
/// (neither placement nor cluster selector); annotations that are present are still checked.
pub fn from_annotations(
    annotations: &BTreeMap<String, String>,
) -> Result<Option<FederationAnnotations>, AnnotationError> {
    let get = |key: &str| annotations.get(key).map(String::as_str);
    let clusters = get(keys::PLACEMENT).map(parse_placement).transpose()?;
    let selector = get(keys::CLUSTER_SELECTOR)
        .map(|s| selector::parse_selector(s).map_err(|source| AnnotationError::Selector { source }))
        .transpose()?;
    let overrides = get(keys::OVERRIDES).map(parse_overrides).transpose()?.unwrap_or_default();
    let orphan = get(keys::ORPHAN).map(parse_orphan).transpose()?.unwrap_or(false);
    let replica_scheduling = get(keys::REPLICA_SCHEDULING).map(replicas::parse_annotation).transpose()?;
    let overflow_after = get(keys::OVERFLOW_AFTER)
        .map(|v| replicas::overflow::parse_after(v).map_err(|message| AnnotationError::OverflowAfter { message }))
        .transpose()?;
    if !is_source(annotations) {
        return Ok(None);
    }
    let placement = match clusters {
        Some(PlacementAnnotation::All) => {
            Placement { clusters: None, cluster_selector: Some(ClusterSelector::default()) }
        }
        Some(PlacementAnnotation::Clusters(names)) => {
            Placement { cluster_selector: selector, ..Placement::clusters(names) }
        }
        None => Placement { clusters: None, cluster_selector: selector },
    };
    Ok(Some(FederationAnnotations { placement, overrides, orphan, replica_scheduling, overflow_after }))
}

/// The placement value meaning every joined cluster.
const ALL: &str = "*";

impl fmt::Display for PlacementAnnotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlacementAnnotation::All => f.write_str(ALL),
            PlacementAnnotation::Clusters(names) => f.write_str(&names.join(",")),
        }
    }
}

/// Reads one `{op?, path, value?}` object, refusing unknown fields (a misspelt `value` would
/// otherwise be dropped silently).
fn override_op(op: Value) -> Result<OverrideOp, String> {
    let Value::Object(fields) = &op else {
        return Err(format!("expected an object {{\"op\", \"path\", \"value\"}}, got {}", json_type(&op)));
    };
    if let Some(unknown) = fields.keys().find(|k| !["op", "path", "value"].contains(&k.as_str())) {
        return Err(format!("unknown field {unknown:?} (allowed: op, path, value)"));
    }
    serde_json::from_value(op).map_err(|e| e.to_string())
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn clusters(names: &[&str]) -> PlacementAnnotation {
        PlacementAnnotation::Clusters(names.iter().map(|n| n.to_string()).collect())
    }

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn placement_values() {
        let cases = [
            ("earth", clusters(&["earth"])),
            (" vulcan,earth", clusters(&["earth", "vulcan"])),
            ("vulcan, earth ,vulcan", clusters(&["earth", "vulcan"])),
            ("a.b-c", clusters(&["a.b-c"])),
            ("*", PlacementAnnotation::All),
            (" * ", PlacementAnnotation::All),
        ];
        for (input, want) in cases {
            assert_eq!(parse_placement(input), Ok(want), "{input:?}");
        }
    }

    #[test]
    fn placement_errors() {
        let cases = [
            (
                "",
                "kubefed.io/placement: the value is empty; list cluster names (earth,vulcan) or use * for every cluster",
            ),
            ("  ", "the value is empty"),
            ("a,,b", "kubefed.io/placement: item 2 of \"a,,b\" is empty; separate cluster names with single commas"),
            ("a,", "item 2 of \"a,\" is empty"),
            (",a", "item 1 of \",a\" is empty"),
            (
                "earth,*",
                "kubefed.io/placement: item 2 \"*\" means every cluster and cannot be combined with cluster names",
            ),
            ("*,*", "item 1 \"*\" means every cluster"),
            (
                "earth,Vulcan",
                "kubefed.io/placement: item 2 \"Vulcan\" is not a valid cluster name: must consist of lower case",
            ),
            ("earth vulcan", "item 1 \"earth vulcan\" is not a valid cluster name"),
        ];
        for (input, want) in cases {
            let err = parse_placement(input).unwrap_err().to_string();
            assert!(err.starts_with("kubefed.io/placement: ") && err.contains(want), "{input:?}: {err}");
        }
    }

    #[test]
    fn normalisation() {
        assert_eq!(normalized_placement(" vulcan,earth").unwrap(), "earth,vulcan");
        assert_eq!(normalized_placement("b,a,b").unwrap(), "a,b");
        assert_eq!(normalized_placement(" * ").unwrap(), "*");
        assert!(normalized_placement("a,,b").is_err());
    }

    #[test]
    fn overrides_values() {
        let got = parse_overrides(
            r#"{"vulcan":[{"op":"replace","path":"/spec/replicas","value":3}],
                "earth":[{"path":"/metadata/labels/x","value":"y"},{"op":"remove","path":"/spec/paused"}],
                "kronos":[]}"#,
        )
        .unwrap();
        let names: Vec<_> = got.iter().map(|o| o.cluster_name.as_str()).collect();
        assert_eq!(names, ["earth", "kronos", "vulcan"]);
        assert_eq!(
            got[0].cluster_overrides[0],
            OverrideOp { op: None, path: "/metadata/labels/x".into(), value: Some(json!("y")) }
        );
        assert_eq!(got[0].cluster_overrides[1].op.as_deref(), Some("remove"));
        assert_eq!(got[2].cluster_overrides[0].value, Some(json!(3)));
        assert_eq!(parse_overrides("{}").unwrap(), vec![]);
    }

    /// Found by the overrides fuzz target: without exact float parsing a value came out one
    /// unit in the last place off what was written, so re-rendering changed it.
    #[test]
    fn override_numbers_are_read_exactly() {
        let written = 8.888280222222225e40_f64;
        let got = parse_overrides(&format!(r#"{{"vulcan":[{{"path":"/spec/x","value":{written:e}}}]}}"#)).unwrap();
        assert_eq!(got[0].cluster_overrides[0].value, Some(json!(written)));
    }

    #[test]
    fn overrides_errors() {
        let cases = [
            ("", "kubefed.io/overrides: not valid JSON (EOF while parsing"),
            ("{\"vulcan\":", "not valid JSON"),
            (
                "[]",
                "kubefed.io/overrides: expected a JSON object keyed by cluster name, got a list; expected e.g. {\"vulcan\":",
            ),
            (r#"{"vulcan":{"path":"/a"}}"#, "cluster \"vulcan\": expected a list of operations, got an object"),
            (r#"{"vulcan":["x"]}"#, "cluster \"vulcan\": operation 0: expected an object"),
            (
                r#"{"vulcan":[{"path":"/a","vaule":1}]}"#,
                "operation 0: unknown field \"vaule\" (allowed: op, path, value)",
            ),
            (r#"{"vulcan":[{"op":"add"}]}"#, "operation 0: missing field `path`"),
            (r#"{"vulcan":[{"path":3,"value":1}]}"#, "operation 0: invalid type: integer `3`"),
            (r#"{"Vulcan!":[]}"#, "kubefed.io/overrides: key \"Vulcan!\" is not a valid cluster name"),
            (
                r#"{"vulcan":[{"path":"/a","value":1},{"op":"move","path":"/a"}]}"#,
                "kubefed.io/overrides: cluster \"vulcan\": operation 1: op \"move\" is not supported",
            ),
            (
                r#"{"vulcan":[{"path":"spec/replicas","value":1}]}"#,
                "cluster \"vulcan\": operation 0: path \"spec/replicas\" is not a valid JSON pointer",
            ),
            (r#"{"vulcan":[{"op":"remove","path":"/a","value":1}]}"#, "takes no value"),
            (r#"{"vulcan":[{"path":"/a"}]}"#, "replace of \"/a\" needs a value"),
        ];
        for (input, want) in cases {
            let err = parse_overrides(input).unwrap_err().to_string();
            assert!(err.starts_with("kubefed.io/overrides: "), "{err}");
            assert!(err.contains(want.trim_start_matches("kubefed.io/overrides: ")), "{input}: {err}");
        }
    }

    #[test]
    fn orphan_values() {
        assert_eq!(parse_orphan("true"), Ok(true));
        assert_eq!(parse_orphan("false"), Ok(false));
        for bad in ["True", "yes", "1", "", " true"] {
            let err = parse_orphan(bad).unwrap_err().to_string();
            assert_eq!(err, format!("kubefed.io/orphan: {bad:?} is not \"true\" or \"false\""));
        }
    }

    #[test]
    fn whole_annotation_sets() {
        use crate::selector::parse_selector;
        assert_eq!(from_annotations(&annotations(&[])), Ok(None));
        assert_eq!(from_annotations(&annotations(&[("other", "x"), (keys::ORPHAN, "true")])), Ok(None));
        assert!(!is_source(&annotations(&[(keys::OVERRIDES, "{}")])));
        assert!(is_source(&annotations(&[(keys::CLUSTER_SELECTOR, "")])));

        let all = from_annotations(&annotations(&[(keys::PLACEMENT, "*")])).unwrap().unwrap();
        assert_eq!(all.placement, Placement { clusters: None, cluster_selector: Some(ClusterSelector::default()) });
        assert!(!all.orphan);

        let both = from_annotations(&annotations(&[
            (keys::PLACEMENT, "vulcan,earth"),
            (keys::CLUSTER_SELECTOR, "region=eu"),
            (keys::OVERRIDES, r#"{"vulcan":[{"path":"/spec/replicas","value":1}]}"#),
            (keys::ORPHAN, "true"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(both.placement.clusters, Placement::clusters(["earth", "vulcan"]).clusters);
        assert_eq!(both.placement.cluster_selector, Some(parse_selector("region=eu").unwrap()));
        assert_eq!(both.overrides.len(), 1);
        assert!(both.orphan);

        let selector_only = from_annotations(&annotations(&[(keys::CLUSTER_SELECTOR, "tier!=edge")])).unwrap().unwrap();
        assert_eq!(selector_only.placement.clusters, None);

        let cases = [
            (keys::PLACEMENT, "a,,b", "kubefed.io/placement: item 2"),
            (keys::CLUSTER_SELECTOR, "a=b,,c", "kubefed.io/cluster-selector: term 2 \"\": empty term"),
            (keys::OVERRIDES, "nope", "kubefed.io/overrides: not valid JSON"),
            (keys::ORPHAN, "yes", "kubefed.io/orphan: \"yes\""),
        ];
        for (key, value, want) in cases {
            let err = from_annotations(&annotations(&[(keys::PLACEMENT, "earth"), (key, value)])).unwrap_err();
            assert!(err.to_string().starts_with(want), "{err}");
        }
        // Present annotations are checked even on an object that is not (or no longer) a source.
        assert!(from_annotations(&annotations(&[(keys::ORPHAN, "yes")])).is_err());
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC*") {
            let _ = parse_placement(&s);
            let _ = parse_overrides(&s);
            let _ = parse_orphan(&s);
            let _ = from_annotations(&annotations(&[(keys::PLACEMENT, &s), (keys::CLUSTER_SELECTOR, &s)]));
        }

        #[test]
        fn normalised_placement_is_idempotent(s in "[ ,*a-c.-]{0,20}") {
            if let Ok(once) = normalized_placement(&s) {
                prop_assert_eq!(normalized_placement(&once), Ok(once.clone()));
            }
        }

        #[test]
        fn overrides_never_panic_on_json(v in json_value()) {
            let _ = parse_overrides(&v.to_string());
            let _ = parse_overrides(&json!({"vulcan": [v]}).to_string());
        }
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "(/[a-z~0-9]{0,3}){0,3}|[a-z]{0,5}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("op|path|value|[a-z]{1,4}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
