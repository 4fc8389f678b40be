//! `kubefed.io/replica-scheduling`: the RSP `spec.clusters` map as JSON on an ordinary object.

use serde_json::{Map, Value};

use crate::api::{ClusterPreferences, ClusterPreferencesMap, WILDCARD_CLUSTER};
use crate::{names, suggest};

pub use crate::keys::REPLICA_SCHEDULING;

const EXAMPLE: &str = r#"{"*":{"weight":1},"kronos":{"maxReplicas":20}}"#;
const FIELDS: [&str; 3] = ["minReplicas", "maxReplicas", "weight"];

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
pub fn parse_annotation(value: &str) -> Result<ClusterPreferencesMap, SchedulingAnnotationError> {
    let shape = |reason: String| SchedulingAnnotationError::Shape { reason };
    let json: Value = serde_json::from_str(value.trim()).map_err(|e| shape(format!("not valid JSON ({e})")))?;
    let Value::Object(map) = json else {
        return Err(shape(format!("the value is {}", crate::suggest::json_type(&json))));
    };
    map.iter().map(|(key, v)| Ok((key.clone(), cluster_preferences(key, v)?))).collect()
}

/// The annotation value for `prefs`: compact JSON, keys sorted, unset fields left out.
pub fn format_annotation(prefs: &ClusterPreferencesMap) -> String {
    serde_json::to_string(prefs).expect("preferences always serialize")
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
        let prefs = parse_annotation(EXAMPLE).unwrap();
        assert_eq!(prefs.len(), 2);
        assert_eq!(prefs["*"], ClusterPreferences::weight(1));
        assert_eq!(prefs["kronos"], ClusterPreferences { max_replicas: Some(20), ..Default::default() });
        assert_eq!(format_annotation(&prefs), EXAMPLE, "round trip");
    }

    #[test]
    fn accepts_empty_whitespace_null_and_negative() {
        assert!(parse_annotation(" {} ").unwrap().is_empty());
        let prefs = parse_annotation(r#"{"a":{"minReplicas":null,"maxReplicas":null,"weight":-2}}"#).unwrap();
        assert_eq!(prefs["a"], ClusterPreferences::weight(-2), "range is validate's business");
        let full = parse_annotation(r#"{"a.b":{"minReplicas":1,"maxReplicas":3,"weight":2}}"#).unwrap();
        assert_eq!(full["a.b"], ClusterPreferences { min_replicas: 1, max_replicas: Some(3), weight: 2 });
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
        ];
        for (value, want) in cases {
            let msg = parse_annotation(value).unwrap_err().to_string();
            assert!(msg.starts_with("kubefed.io/replica-scheduling: "), "{value}: {msg}");
            assert!(msg.contains(want), "{value}: {msg}");
            assert!(!msg.contains('\n'), "{value}: {msg}");
        }
    }
}
