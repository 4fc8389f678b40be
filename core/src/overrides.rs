//! Per-cluster overrides: JSON-pointer operations (`add`, `remove`, `replace`; default
//! `replace`) applied to a rendered member object.

use json_patch::jsonptr::{ParseError, Pointer, PointerBuf};
use json_patch::{AddOperation, PatchOperation, RemoveOperation, ReplaceOperation};
use serde_json::Value;

use crate::api::{ClusterOverrides, OverrideOp};

/// An override operation that is malformed or cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverrideError {
    /// `op` is not one of `add`, `remove`, `replace`.
    #[error("operation {index}: op {op:?} is not supported (use add, remove or replace)")]
    UnknownOp {
        /// 0-based index of the operation.
        index: usize,
        /// The op as written.
        op: String,
    },
    /// `path` is not a usable JSON pointer.
    #[error("operation {index}: path {path:?} is not a valid JSON pointer: {reason}")]
    InvalidPath {
        /// 0-based index of the operation.
        index: usize,
        /// The path as written.
        path: String,
        /// Why it is invalid.
        reason: String,
    },
    /// The path is, or holds, `apiVersion`, `kind`, `metadata.name` or `metadata.namespace`:
    /// the member object's identity (and so its namespace) comes from the federated object.
    #[error(
        "operation {index}: path {path:?} would change the member object's identity (apiVersion, kind, metadata.name, metadata.namespace), which comes from the federated object and cannot be overridden"
    )]
    Identity {
        /// 0-based index of the operation.
        index: usize,
        /// The path as written.
        path: String,
    },
    /// `add` / `replace` without a `value`.
    #[error("operation {index}: {op} of {path:?} needs a value")]
    MissingValue {
        /// 0-based index of the operation.
        index: usize,
        /// `add` or `replace`.
        op: String,
        /// The path.
        path: String,
    },
    /// `remove` with a `value`.
    #[error("operation {index}: remove of {path:?} takes no value; drop the value or use replace")]
    UnexpectedValue {
        /// 0-based index of the operation.
        index: usize,
        /// The path.
        path: String,
    },
    /// The operation is well formed but does not fit the object.
    #[error("operation {index}: cannot {op} {path:?}: {reason}")]
    Apply {
        /// 0-based index of the operation.
        index: usize,
        /// The op.
        op: String,
        /// The path.
        path: String,
        /// Why it failed.
        reason: String,
    },
}

/// Checks the syntax of `ops` without applying them.
pub fn validate(ops: &[OverrideOp]) -> Result<(), OverrideError> {
    patch(ops).map(drop)
}

/// Applies `ops` in order to `obj`; on error `obj` is left unchanged.
pub fn apply(obj: &mut Value, ops: &[OverrideOp]) -> Result<(), OverrideError> {
    let patch = patch(ops)?;
    json_patch::patch(obj, &patch).map_err(|e| {
        let (op, path) = ops.get(e.operation).map(|o| (op_name(o), o.path.as_str())).unwrap_or_default();
        let reason = match e.kind {
            json_patch::PatchErrorKind::InvalidPointer if op == ADD => {
                "the parent does not exist or the array index is out of range".to_string()
            }
            json_patch::PatchErrorKind::InvalidPointer => "no such field or array index in the object".to_string(),
            other => other.to_string(),
        };
        OverrideError::Apply { index: e.operation, op: op.to_string(), path: path.to_string(), reason }
    })
}

/// The operations for `cluster` (the first entry naming it), or none.
pub fn for_cluster<'a>(overrides: &'a [ClusterOverrides], cluster: &str) -> &'a [OverrideOp] {
    overrides.iter().find(|o| o.cluster_name == cluster).map_or(&[], |o| o.cluster_overrides.as_slice())
}

const ADD: &str = "add";
const REMOVE: &str = "remove";
const REPLACE: &str = "replace";

/// Paths that make up the member object's identity, which comes from the federated object.
const IDENTITY_PATHS: [&Pointer; 4] = [
    Pointer::from_static("/apiVersion"),
    Pointer::from_static("/kind"),
    Pointer::from_static("/metadata/name"),
    Pointer::from_static("/metadata/namespace"),
];

/// True when an operation at `path` would change an identity field: the field itself or an
/// object holding it (`/metadata` replaced whole could carry another namespace).
fn touches_identity(path: &PointerBuf) -> bool {
    IDENTITY_PATHS.iter().any(|identity| identity.starts_with(path))
}

fn op_name(op: &OverrideOp) -> &str {
    op.op.as_deref().unwrap_or(REPLACE)
}

/// Converts `ops` to an RFC 6902 patch, checking each operation.
fn patch(ops: &[OverrideOp]) -> Result<json_patch::Patch, OverrideError> {
    ops.iter()
        .enumerate()
        .map(|(index, op)| patch_operation(index, op))
        .collect::<Result<_, _>>()
        .map(json_patch::Patch)
}

fn patch_operation(index: usize, op: &OverrideOp) -> Result<PatchOperation, OverrideError> {
    enum Kind {
        Add,
        Remove,
        Replace,
    }
    let kind = match op_name(op) {
        ADD => Kind::Add,
        REMOVE => Kind::Remove,
        REPLACE => Kind::Replace,
        other => return Err(OverrideError::UnknownOp { index, op: other.to_string() }),
    };
    let invalid_path =
        |reason: &str| OverrideError::InvalidPath { index, path: op.path.clone(), reason: reason.to_string() };
    let path = PointerBuf::parse(op.path.as_str()).map_err(|e| {
        invalid_path(match e.original() {
            ParseError::NoLeadingSlash => "it must start with \"/\", e.g. /spec/replicas",
            ParseError::InvalidEncoding { .. } => "\"~\" must be followed by 0 (for ~) or 1 (for /)",
        })
    })?;
    if path.is_root() {
        return Err(invalid_path("it must name a field, not the whole object"));
    }
    if touches_identity(&path) {
        return Err(OverrideError::Identity { index, path: op.path.clone() });
    }
    let value = || {
        op.value.clone().ok_or_else(|| OverrideError::MissingValue {
            index,
            op: op_name(op).to_string(),
            path: op.path.clone(),
        })
    };
    Ok(match kind {
        Kind::Add => PatchOperation::Add(AddOperation { path, value: value()? }),
        Kind::Replace => PatchOperation::Replace(ReplaceOperation { path, value: value()? }),
        Kind::Remove if op.value.is_some() => {
            return Err(OverrideError::UnexpectedValue { index, path: op.path.clone() });
        }
        Kind::Remove => PatchOperation::Remove(RemoveOperation { path }),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn op(op: Option<&str>, path: &str, value: Option<Value>) -> OverrideOp {
        OverrideOp { op: op.map(str::to_string), path: path.to_string(), value }
    }

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}}
        })
    }

    #[test]
    fn applies_add_remove_replace_in_order() {
        let mut obj = deployment();
        let ops = [
            op(None, "/spec/replicas", Some(json!(5))),
            op(Some("replace"), "/spec/template/spec/containers/0/image", Some(json!("nginx:2"))),
            op(Some("add"), "/metadata/labels/tier", Some(json!("edge"))),
            op(Some("add"), "/metadata/annotations", Some(json!({"a/b": "c"}))),
            op(Some("remove"), "/metadata/labels/app", None),
            op(Some("add"), "/spec/template/spec/containers/-", Some(json!({"name": "sidecar"}))),
            op(Some("replace"), "/metadata/annotations/a~1b", Some(json!("d"))),
        ];
        apply(&mut obj, &ops).unwrap();
        assert_eq!(obj["spec"]["replicas"], 5);
        assert_eq!(obj["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:2");
        assert_eq!(obj["spec"]["template"]["spec"]["containers"][1]["name"], "sidecar");
        assert_eq!(obj["metadata"]["labels"], json!({"tier": "edge"}));
        assert_eq!(obj["metadata"]["annotations"], json!({"a/b": "d"}));
    }

    #[test]
    fn syntax_errors() {
        let cases = [
            (
                op(Some("move"), "/spec/replicas", None),
                "operation 0: op \"move\" is not supported (use add, remove or replace)",
            ),
            (op(Some("Replace"), "/spec", Some(json!(1))), "op \"Replace\" is not supported"),
            (
                op(None, "spec/replicas", Some(json!(1))),
                "path \"spec/replicas\" is not a valid JSON pointer: it must start with \"/\"",
            ),
            (op(None, "/a~2b", Some(json!(1))), "\"~\" must be followed by 0"),
            (op(None, "", Some(json!(1))), "not the whole object"),
            (op(None, "/metadata/name", Some(json!("x"))), "identity"),
            (op(Some("add"), "/kind", Some(json!("x"))), "identity"),
            (op(None, "/metadata/namespace", Some(json!("other"))), "identity"),
            (op(None, "/metadata", Some(json!({"namespace": "other"}))), "identity"),
            (op(Some("add"), "/metadata", Some(json!({"name": "x"}))), "identity"),
            // Found with the overrides fuzz target's identity invariant: the whole metadata.
            (op(None, "/metadata", Some(json!({}))), "identity"),
            (op(Some("remove"), "/metadata", None), "identity"),
            (op(None, "/spec/replicas", None), "operation 0: replace of \"/spec/replicas\" needs a value"),
            (op(Some("add"), "/spec/x", None), "add of \"/spec/x\" needs a value"),
            (op(Some("remove"), "/spec/replicas", Some(json!(1))), "remove of \"/spec/replicas\" takes no value"),
        ];
        for (bad, want) in cases {
            let ops = [op(None, "/spec/replicas", Some(json!(1))), bad];
            let err = validate(&ops).unwrap_err().to_string();
            assert!(err.starts_with("operation 1: "), "{err}");
            assert!(err.contains(want.trim_start_matches("operation 0: ")), "{err} / {want}");
            let mut obj = deployment();
            assert_eq!(apply(&mut obj, &ops).unwrap_err().to_string(), err);
            assert_eq!(obj, deployment(), "unchanged on error");
        }
    }

    #[test]
    fn apply_errors_leave_the_object_unchanged() {
        let cases = [
            (op(None, "/spec/missing", Some(json!(1))), "operation 1: cannot replace \"/spec/missing\": no such field"),
            (op(Some("remove"), "/spec/missing", None), "cannot remove \"/spec/missing\": no such field"),
            (op(Some("add"), "/nope/deeper", Some(json!(1))), "cannot add \"/nope/deeper\": the parent does not exist"),
            (op(Some("add"), "/spec/template/spec/containers/7", Some(json!(1))), "array index is out of range"),
            (op(None, "/spec/template/spec/containers/x", Some(json!(1))), "no such field or array index"),
        ];
        for (bad, want) in cases {
            let mut obj = deployment();
            let err = apply(&mut obj, &[op(None, "/spec/replicas", Some(json!(9))), bad]).unwrap_err().to_string();
            assert!(
                err.contains(want.trim_start_matches("operation 1: ")) && err.starts_with("operation 1: "),
                "{err}"
            );
            assert_eq!(obj, deployment());
        }
    }

    #[test]
    fn ops_for_one_cluster() {
        let overrides = vec![
            ClusterOverrides { cluster_name: "vulcan".into(), cluster_overrides: vec![op(None, "/a", Some(json!(1)))] },
            ClusterOverrides { cluster_name: "kronos".into(), cluster_overrides: vec![] },
        ];
        assert_eq!(for_cluster(&overrides, "vulcan").len(), 1);
        assert!(for_cluster(&overrides, "kronos").is_empty());
        assert!(for_cluster(&overrides, "earth").is_empty());
    }
}
