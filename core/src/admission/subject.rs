//! The request under review as every rule sees it ([`Subject`]), and what a rule returns
//! ([`Verdict`]: a [`Decision`] or a deny message).

use json_patch::PatchOperation;
use kube::core::DynamicObject;
use kube::core::admission::AdmissionRequest;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeMap;

/// What an allowed request gets: warnings for the user and a patch for the object.
#[derive(Debug, Default)]
pub(super) struct Decision {
    pub(super) warnings: Vec<String>,
    pub(super) patch: Vec<PatchOperation>,
}

/// `Err` is the deny message.
pub(super) type Verdict = Result<Decision, String>;

/// The object under review with what every rule needs to know about it.
pub(super) struct Subject<'a> {
    pub(super) req: &'a AdmissionRequest<DynamicObject>,
    pub(super) object: &'a DynamicObject,
    pub(super) kind: &'a str,
    pub(super) name: &'a str,
    pub(super) namespace: &'a str,
    pub(super) annotations: BTreeMap<String, String>,
}

impl<'a> Subject<'a> {
    pub(super) fn new(req: &'a AdmissionRequest<DynamicObject>, object: &'a DynamicObject) -> Self {
        let meta = &object.metadata;
        Subject {
            req,
            object,
            kind: &req.kind.kind,
            name: meta.name.as_deref().unwrap_or(&req.name),
            namespace: meta.namespace.as_deref().or(req.namespace.as_deref()).unwrap_or_default(),
            annotations: meta.annotations.clone().unwrap_or_default(),
        }
    }

    /// `Kind "namespace/name"` (or `Kind "name"`) for messages.
    pub(super) fn display(&self) -> String {
        if self.namespace.is_empty() {
            format!("{} {:?}", self.kind, self.name)
        } else {
            format!("{} \"{}/{}\"", self.kind, self.namespace, self.name)
        }
    }

    /// The object field at `path` (e.g. `["spec", "placement"]`); `None` when absent or null.
    pub(super) fn field<T: DeserializeOwned>(&self, path: &[&str]) -> Result<Option<T>, String> {
        let value = path.iter().try_fold(&self.object.data, |v, key| v.get(key));
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(v) => T::deserialize(v).map(Some).map_err(|e| format!("{}: {e}", path.join("."))),
        }
    }

    pub(super) fn required<T: DeserializeOwned>(&self, path: &[&str]) -> Result<T, String> {
        self.field(path)?.ok_or_else(|| format!("{} is missing", path.join(".")))
    }

    pub(super) fn replicas(&self) -> Option<i64> {
        self.object.data.pointer("/spec/replicas").and_then(Value::as_i64)
    }
}
