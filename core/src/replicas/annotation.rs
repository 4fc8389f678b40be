//! `kubefed.io/replica-scheduling`: the RSP `spec.clusters` map as JSON on an ordinary object,
//! or a spill-over order (`{"spillOver":["vulcan","kronos"]}`: fill the first cluster, and
//! only what it cannot schedule goes to the next).

use serde_json::{Map, Value};

use crate::api::{ClusterPreferences, ClusterPreferencesMap, WILDCARD_CLUSTER};
use crate::{names, suggest};

pub use crate::keys::REPLICA_SCHEDULING;

const EXAMPLE: &str = r#"{"*":{"weight":1},"kronos":{"maxReplicas":20}}"#;
const FIELDS: [&str; 3] = ["minReplicas", "maxReplicas", "weight"];
/// The key of a spill-over order.
pub const SPILL_OVER: &str = "spillOver";

/// What `kubefed.io/replica-scheduling` asks for: KubeFed's weighted division, or a
/// spill-over order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scheduling {
    /// Per-cluster preferences (an RSP's `spec.clusters`); empty with a spill-over order.
    pub clusters: ClusterPreferencesMap,
    /// The spill-over order: every replica on the first cluster, and only what a cluster
    /// cannot schedule on the next; empty for a weighted division.
    pub spill_over: Vec<String>,
}

impl Scheduling {
    /// A weighted division by `clusters`.
    pub fn weighted(clusters: ClusterPreferencesMap) -> Self {
        Scheduling { clusters, spill_over: Vec::new() }
    }

    /// A spill-over over `order`.
    pub fn spill_over<S: Into<String>>(order: impl IntoIterator<Item = S>) -> Self {
        Scheduling { clusters: ClusterPreferencesMap::new(), spill_over: order.into_iter().map(Into::into).collect() }
    }
}

/// A `kubefed.io/replica-scheduling` value that does not parse. Each message is one line
/// that starts with the annotation key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchedulingAnnotationError {
    /// Not JSON, or not a JSON object.
    #[error("{REPLICA_SCHEDULING}: {reason}; expected a JSON object such as {EXAMPLE}")]
    Shape {
        /// What is wrong.
        reason: String,
    },
    /// A key that is neither `"*"` nor a valid cluster name.
    #[error("{REPLICA_SCHEDULING}: key {key:?} is not a valid cluster name: {reason}")]
    ClusterName {
        /// The key as written.
        key: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A cluster's value is not an object.
    #[error("{REPLICA_SCHEDULING}: {key:?} must map to an object such as {{\"weight\":1}}, not {found}")]
    NotAnObject {
        /// The cluster key.
        key: String,
        /// The JSON type found.
        found: &'static str,
    },
    /// A field other than minReplicas, maxReplicas and weight.
    #[error("{REPLICA_SCHEDULING}: {key:?} has unknown field {field:?}{}; the fields are minReplicas, maxReplicas and weight", crate::suggest::suffix(.suggestion.as_deref()))]
    UnknownField {
        /// The cluster key.
        key: String,
        /// The unknown field.
        field: String,
        /// The nearest known field, when one is close.
        suggestion: Option<String>,
    },
    /// `spillOver` given beside cluster entries.
    #[error(
        "{REPLICA_SCHEDULING}: spillOver cannot be combined with per-cluster preferences ({key:?}); use one or the other"
    )]
    SpillOverMixed {
        /// A cluster key found beside it.
        key: String,
    },
    /// `spillOver` that is not a non-empty list of distinct cluster names.
    #[error(
        "{REPLICA_SCHEDULING}: spillOver {reason}; expected a list of cluster names such as [\"vulcan\",\"kronos\"]"
    )]
    SpillOverShape {
        /// What is wrong.
        reason: String,
    },
    /// A field whose value is not a whole number.
    #[error("{REPLICA_SCHEDULING}: {key:?} {field} must be a whole number, not {found}")]
    NotAnInteger {
        /// The cluster key.
        key: String,
        /// The field.
        field: &'static str,
        /// The value as written.
        found: String,
    },
}

/// Parses a `kubefed.io/replica-scheduling` value. `{}` is valid: no preferences, an even
/// split. A `null` field counts as absent. Numbers are not range-checked here; see
/// [`crate::replicas::validate`].
pub fn parse_annotation(value: &str) -> Result<Scheduling, SchedulingAnnotationError> {
    let shape = |reason: String| SchedulingAnnotationError::Shape { reason };
    let json: Value = serde_json::from_str(value.trim()).map_err(|e| shape(format!("not valid JSON ({e})")))?;
    let Value::Object(map) = json else {
        return Err(shape(format!("the value is {}", crate::suggest::json_type(&json))));
    };
    if let Some(order) = map.get(SPILL_OVER) {
        if let Some(key) = map.keys().find(|k| *k != SPILL_OVER) {
            return Err(SchedulingAnnotationError::SpillOverMixed { key: key.clone() });
        }
        return spill_over(order).map(Scheduling::spill_over);
    }
    let clusters =
        map.iter().map(|(key, v)| Ok((key.clone(), cluster_preferences(key, v)?))).collect::<Result<_, _>>()?;
    Ok(Scheduling::weighted(clusters))
}

/// The annotation value for `scheduling`: compact JSON, keys sorted, unset fields left out.
pub fn format_annotation(scheduling: &Scheduling) -> String {
    if scheduling.spill_over.is_empty() {
        serde_json::to_string(&scheduling.clusters).expect("preferences always serialize")
    } else {
        serde_json::json!({ SPILL_OVER: scheduling.spill_over }).to_string()
    }
}

fn spill_over(order: &Value) -> Result<Vec<String>, SchedulingAnnotationError> {
    let shape = |reason: String| SchedulingAnnotationError::SpillOverShape { reason };
    let Value::Array(items) = order else {
        return Err(shape(format!("is {}", crate::suggest::json_type(order))));
    };
    if items.is_empty() {
        return Err(shape("is empty".into()));
    }
    let mut names: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let Value::String(name) = item else {
            return Err(shape(format!("holds {}, not a cluster name", crate::suggest::json_type(item))));
        };
        names::dns1123_subdomain(name)
            .map_err(|reason| shape(format!("names {name:?}, not a valid cluster name: {reason}")))?;
        if names.contains(name) {
            return Err(shape(format!("names {name:?} twice")));
        }
        names.push(name.clone());
    }
    Ok(names)
}

fn cluster_preferences(key: &str, value: &Value) -> Result<ClusterPreferences, SchedulingAnnotationError> {
    if key != WILDCARD_CLUSTER {
        names::dns1123_subdomain(key)
            .map_err(|reason| SchedulingAnnotationError::ClusterName { key: key.to_string(), reason })?;
    }
    let Value::Object(fields) = value else {
        return Err(SchedulingAnnotationError::NotAnObject {
            key: key.to_string(),
            found: crate::suggest::json_type(value),
        });
    };
    if let Some(field) = fields.keys().find(|f| !FIELDS.contains(&f.as_str())) {
        let suggestion = suggest::nearest(field, FIELDS).map(str::to_string);
        return Err(SchedulingAnnotationError::UnknownField { key: key.to_string(), field: field.clone(), suggestion });
    }
    Ok(ClusterPreferences {
        min_replicas: integer(key, fields, "minReplicas")?.unwrap_or(0),
        max_replicas: integer(key, fields, "maxReplicas")?,
        weight: integer(key, fields, "weight")?.unwrap_or(0),
    })
}

fn integer(
    key: &str,
    fields: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<i64>, SchedulingAnnotationError> {
    match fields.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64()),
        Some(other) => {
            Err(SchedulingAnnotationError::NotAnInteger { key: key.to_string(), field, found: other.to_string() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_design_example() {
        let scheduling = parse_annotation(EXAMPLE).unwrap();
        let prefs = &scheduling.clusters;
        assert_eq!(prefs.len(), 2);
        assert_eq!(prefs["*"], ClusterPreferences::weight(1));
        assert_eq!(prefs["kronos"], ClusterPreferences { max_replicas: Some(20), ..Default::default() });
        assert_eq!(format_annotation(&scheduling), EXAMPLE, "round trip");
    }

    #[test]
    fn accepts_empty_whitespace_null_and_negative() {
        assert_eq!(parse_annotation(" {} ").unwrap(), Scheduling::default());
        let prefs = parse_annotation(r#"{"a":{"minReplicas":null,"maxReplicas":null,"weight":-2}}"#).unwrap().clusters;
        assert_eq!(prefs["a"], ClusterPreferences::weight(-2), "range is validate's business");
        let full = parse_annotation(r#"{"a.b":{"minReplicas":1,"maxReplicas":3,"weight":2}}"#).unwrap().clusters;
        assert_eq!(full["a.b"], ClusterPreferences { min_replicas: 1, max_replicas: Some(3), weight: 2 });
    }

    #[test]
    fn a_spill_over_order_round_trips() {
        let value = r#"{"spillOver":["vulcan","kronos"]}"#;
        let scheduling = parse_annotation(value).unwrap();
        assert_eq!(scheduling, Scheduling::spill_over(["vulcan", "kronos"]), "the order is kept");
        assert_eq!(format_annotation(&scheduling), value);
    }

    #[test]
    fn errors_are_one_line_and_name_the_problem() {
        let cases = [
            ("", "not valid JSON"),
            ("{\"a\":", "not valid JSON"),
            ("[1]", "the value is an array"),
            ("3", "the value is a number"),
            (r#"{"Vulcan":{"weight":1}}"#, r#"key "Vulcan" is not a valid cluster name"#),
            (r#"{"":{"weight":1}}"#, "must not be empty"),
            (r#"{"a":3}"#, r#""a" must map to an object such as {"weight":1}, not a number"#),
            (r#"{"a":{"maxReplica":3}}"#, r#"unknown field "maxReplica"; did you mean "maxReplicas"?"#),
            (r#"{"a":{"replicas":3}}"#, r#"unknown field "replicas"; the fields are"#),
            (r#"{"a":{"weight":"2"}}"#, r#""a" weight must be a whole number, not "2""#),
            (r#"{"a":{"minReplicas":1.5}}"#, "minReplicas must be a whole number, not 1.5"),
            (r#"{"a":{"maxReplicas":2.0}}"#, "maxReplicas must be a whole number, not 2.0"),
            (r#"{"a":{"weight":99999999999999999999}}"#, "weight must be a whole number"),
            (r#"{"a":{"weight":true}}"#, "not true"),
            (
                r#"{"spillOver":["a"],"b":{"weight":1}}"#,
                r#"spillOver cannot be combined with per-cluster preferences ("b")"#,
            ),
            (r#"{"spillOver":"a,b"}"#, "spillOver is a string; expected a list of cluster names"),
            (r#"{"spillOver":[]}"#, "spillOver is empty"),
            (r#"{"spillOver":["a",3]}"#, "spillOver holds a number, not a cluster name"),
            (r#"{"spillOver":["Vulcan"]}"#, r#"spillOver names "Vulcan", not a valid cluster name"#),
            (r#"{"spillOver":["a","b","a"]}"#, r#"spillOver names "a" twice"#),
        ];
        for (value, want) in cases {
            let msg = parse_annotation(value).unwrap_err().to_string();
            assert!(msg.starts_with("kubefed.io/replica-scheduling: "), "{value}: {msg}");
            assert!(msg.contains(want), "{value}: {msg}");
            assert!(!msg.contains('\n'), "{value}: {msg}");
        }
    }
}
