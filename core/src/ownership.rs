//! Field ownership of the objects the controllers create with a plain POST and later change with
//! server-side apply.
//!
//! A create is cheaper for an API server than a server-side apply, so the controllers create an
//! object they know to be absent with a POST. The API server then records its fields as owned by
//! our field manager with `operation: Update`. A later server-side apply by the same manager is a
//! different owner (`operation: Apply`), and an apply only removes the fields its own manager
//! entry owned: a field dropped from the template would stay on the object. So before the first
//! apply to such an object, its `Update` entry is turned into our `Apply` entry
//! ([`adoption_patch`]), which is what a client switching from client-side to server-side apply
//! does too. The fields then belong to the applier, and the next apply removes what it no longer
//! sends.

use json_patch::jsonptr::PointerBuf;
use json_patch::{Patch, PatchOperation, ReplaceOperation, TestOperation};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
use serde_json::Value;

const APPLY: &str = "Apply";
const UPDATE: &str = "Update";

fn main_resource(e: &ManagedFieldsEntry) -> bool {
    e.subresource.as_deref().is_none_or(str::is_empty)
}

fn entry_of(entries: &[ManagedFieldsEntry], manager: &str, operation: &str) -> Option<usize> {
    entries.iter().position(|e| {
        e.manager.as_deref() == Some(manager) && e.operation.as_deref() == Some(operation) && main_resource(e)
    })
}

/// The index of `manager`'s `Update` entry of the main resource when it has no `Apply` entry
/// there: the object was created (or last written) by `manager` without server-side apply, and
/// the fields of that entry are to be adopted before `manager` applies.
pub fn to_adopt(entries: &[ManagedFieldsEntry], manager: &str) -> Option<usize> {
    match entry_of(entries, manager, APPLY) {
        Some(_) => None,
        None => entry_of(entries, manager, UPDATE),
    }
}

/// True when `manager` must adopt its fields ([`to_adopt`]) before it server-side applies.
pub fn needs_adoption(entries: &[ManagedFieldsEntry], manager: &str) -> bool {
    to_adopt(entries, manager).is_some()
}

/// The JSON patch that turns `manager`'s `Update` entry into its `Apply` entry, if there is one
/// to adopt, on the incarnation `uid` of the object the entries were read from. Its test
/// operations make it fail, changing nothing, if the entries moved since they were read or the
/// object is another incarnation by now.
pub fn adoption_patch(entries: &[ManagedFieldsEntry], manager: &str, uid: &str) -> Option<Patch> {
    let i = to_adopt(entries, manager)?;
    let at = |field: &str| PointerBuf::from_tokens(["metadata", "managedFields", &i.to_string(), field]);
    let test = |path: PointerBuf, value: &str| PatchOperation::Test(TestOperation { path, value: Value::from(value) });
    Some(Patch(vec![
        test(PointerBuf::from_tokens(["metadata", "uid"]), uid),
        test(at("manager"), manager),
        test(at("operation"), UPDATE),
        PatchOperation::Replace(ReplaceOperation { path: at("operation"), value: Value::from(APPLY) }),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(manager: &str, operation: &str, subresource: Option<&str>) -> ManagedFieldsEntry {
        ManagedFieldsEntry {
            manager: Some(manager.into()),
            operation: Some(operation.into()),
            subresource: subresource.map(String::from),
            api_version: Some("v1".into()),
            ..Default::default()
        }
    }

    #[test]
    fn which_entry_is_adopted() {
        let us = "kubectl-fed";
        let cases: &[(&str, Vec<ManagedFieldsEntry>, Option<usize>)] = &[
            ("no entries", vec![], None),
            ("created by our POST", vec![entry(us, UPDATE, None)], Some(0)),
            (
                "after another manager's entry",
                vec![entry("kube-controller-manager", UPDATE, Some("status")), entry(us, UPDATE, None)],
                Some(1),
            ),
            ("already applied by us", vec![entry(us, APPLY, None)], None),
            (
                "applied and updated by us: the apply entry is ours already",
                vec![entry(us, UPDATE, None), entry(us, APPLY, None)],
                None,
            ),
            ("our status writes are not the object's fields", vec![entry(us, UPDATE, Some("status"))], None),
            ("an empty subresource is the main resource", vec![entry(us, UPDATE, Some(""))], Some(0)),
            ("someone else's update", vec![entry("kubectl", UPDATE, None)], None),
            (
                "someone else's apply does not count as ours",
                vec![entry("kubectl", APPLY, None), entry(us, UPDATE, None)],
                Some(1),
            ),
        ];
        for (what, entries, want) in cases {
            assert_eq!(to_adopt(entries, us), *want, "{what}");
            assert_eq!(needs_adoption(entries, us), want.is_some(), "{what}");
        }
    }

    #[test]
    fn the_patch_turns_that_entry_into_an_apply_and_guards_it() {
        let us = "kubectl-fed";
        let entries = vec![entry("other", UPDATE, None), entry(us, UPDATE, None)];
        let patch = adoption_patch(&entries, us, "u-1").expect("an entry to adopt");
        let mut obj = serde_json::json!({ "metadata": { "uid": "u-1", "managedFields": entries } });
        json_patch::patch(&mut obj, &patch).expect("applies to the entries it was made from");
        assert_eq!(obj["metadata"]["managedFields"][1]["operation"], APPLY);
        assert_eq!(obj["metadata"]["managedFields"][1]["manager"], us);
        assert_eq!(obj["metadata"]["managedFields"][0]["operation"], UPDATE, "other entries untouched");

        let mut moved = serde_json::json!({ "metadata": { "uid": "u-1", "managedFields": [entry(us, UPDATE, None), entry("other", UPDATE, None)] } });
        let before = moved.clone();
        assert!(json_patch::patch(&mut moved, &patch).is_err(), "entries that moved fail the test");
        assert_eq!(moved, before, "and nothing changes");
        let mut replaced = serde_json::json!({ "metadata": { "uid": "u-2", "managedFields": entries } });
        let before = replaced.clone();
        assert!(json_patch::patch(&mut replaced, &patch).is_err(), "another incarnation fails the test");
        assert_eq!(replaced, before);
        assert!(adoption_patch(&[entry(us, APPLY, None)], us, "u-1").is_none());
    }
}
