use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::json;

use super::*;

fn meta(uid: Option<&str>, deleting: bool) -> ObjectMeta {
    ObjectMeta {
        name: Some("cm-9".into()),
        uid: uid.map(String::from),
        deletion_timestamp: deleting.then_some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH)),
        ..Default::default()
    }
}

fn present(uid: &str) -> Seen {
    Seen::Present(Some(uid.into()))
}

fn apply(uid: Option<&str>) -> Write {
    Write::Apply { uid: uid.map(String::from) }
}

#[test]
fn the_owner_is_judged_by_its_incarnation() {
    let cached = meta(Some("a"), false);
    let cases = [
        ("not found", None, Owner::Gone),
        ("same uid", Some(meta(Some("a"), false)), Owner::Live),
        ("same uid, being deleted", Some(meta(Some("a"), true)), Owner::Deleting),
        ("deleted and created again", Some(meta(Some("b"), false)), Owner::Replaced),
        ("the new one being deleted", Some(meta(Some("b"), true)), Owner::Replaced),
        ("no uid read", Some(meta(None, false)), Owner::Replaced),
    ];
    for (what, current, want) in cases {
        assert_eq!(Owner::of(&cached, current.as_ref()), want, "{what}");
    }
    assert_eq!(Owner::of(&meta(None, false), Some(&meta(None, false))), Owner::Replaced, "no uid on either side");
}

/// Every combination of the inputs, against what may never happen.
#[test]
fn nothing_is_created_but_for_a_live_owner_whose_object_the_store_shows_absent() {
    let owners = [Owner::Live, Owner::Deleting, Owner::Gone, Owner::Replaced];
    let cleanups = [Cleanup::Finalizer, Cleanup::Collected];
    let seens = [Seen::Unknown, Seen::Absent, Seen::Present(None), present("u")];
    let attempts = [Attempt::First, Attempt::AfterConflict];
    let mut decisions = 0;
    for owner in owners {
        for cleanup in cleanups {
            for seen in &seens {
                for attempt in attempts {
                    let w = decide(owner, cleanup, seen, attempt);
                    decisions += 1;
                    let case = format!("{owner:?} {cleanup:?} {seen:?} {attempt:?} → {w:?}");
                    if owner != Owner::Live {
                        assert!(matches!(w, Write::Hold(_)), "{case}");
                    }
                    match &w {
                        Write::Create => {
                            assert_eq!(attempt, Attempt::First, "one create per write: {case}");
                            assert!(matches!(seen, Seen::Unknown | Seen::Absent), "{case}");
                        }
                        // An apply without uid can create: only where the owner's finalizer
                        // cleans up after it.
                        Write::Apply { uid: None } => assert_eq!(cleanup, Cleanup::Finalizer, "{case}"),
                        Write::Apply { uid: Some(u) } => {
                            assert_eq!(seen, &present(u), "pinned to what was seen: {case}")
                        }
                        Write::Hold(_) => {}
                    }
                }
            }
        }
    }
    assert_eq!(decisions, 64);
}

/// The interleavings the fault suite ran into, each as the facts the writer has when it decides.
#[test]
fn interleavings() {
    use Attempt::*;
    use Cleanup::*;
    let cases: Vec<(&str, Owner, Cleanup, Seen, Attempt, Write)> = vec![
        (
            "materialize: the source was read live, then deleted; garbage collection removes the \
             federated object before the apply lands: the apply names its uid, so it cannot create",
            Owner::Live,
            Collected,
            present("fed-a"),
            First,
            apply(Some("fed-a")),
        ),
        (
            "materialize: a store entry without uid cannot be applied to safely",
            Owner::Live,
            Collected,
            Seen::Present(None),
            First,
            Write::Hold(Hold::UidUnknown),
        ),
        (
            "materialize: the store shows no federated object (a new source): POST",
            Owner::Live,
            Collected,
            Seen::Absent,
            First,
            Write::Create,
        ),
        (
            "materialize after a restart, before its store listed: POST, and 409 if one exists",
            Owner::Live,
            Collected,
            Seen::Unknown,
            First,
            Write::Create,
        ),
        (
            "controller restart mid-delete: the POST found the federated object, read it: apply to it",
            Owner::Live,
            Collected,
            present("fed-a"),
            AfterConflict,
            apply(Some("fed-a")),
        ),
        (
            "controller restart mid-delete: the POST found it, the read after found it gone: no second create",
            Owner::Live,
            Collected,
            Seen::Absent,
            AfterConflict,
            Write::Hold(Hold::VanishedMidWrite),
        ),
        (
            "source deleted before the read: nothing",
            Owner::Gone,
            Collected,
            present("fed-a"),
            First,
            Write::Hold(Hold::OwnerGone),
        ),
        (
            "source deleted and created again under its name while the old one was queued",
            Owner::Replaced,
            Collected,
            Seen::Absent,
            First,
            Write::Hold(Hold::OwnerReplaced),
        ),
        (
            "sync: delete while a stale federated object is queued (store without deletionTimestamp, \
             API server: being deleted)",
            Owner::Deleting,
            Finalizer,
            Seen::Absent,
            First,
            Write::Hold(Hold::OwnerDeleting),
        ),
        (
            "sync: the federated object is gone by the time its stale entry is reconciled",
            Owner::Gone,
            Finalizer,
            Seen::Absent,
            First,
            Write::Hold(Hold::OwnerGone),
        ),
        (
            "sync: delete during a member re-list (the member store still shows the copy it deleted)",
            Owner::Deleting,
            Finalizer,
            Seen::Present(None),
            First,
            Write::Hold(Hold::OwnerDeleting),
        ),
        (
            "sync: a hung member during a delete (its watch knows nothing; the cleanup waits for it)",
            Owner::Deleting,
            Finalizer,
            Seen::Unknown,
            First,
            Write::Hold(Hold::OwnerDeleting),
        ),
        (
            "sync: a live, finalized federated object and a copy the member shows: apply (drift repair)",
            Owner::Live,
            Finalizer,
            Seen::Present(None),
            First,
            apply(None),
        ),
        (
            "sync: a copy deleted on the member while its federated object lives: created again",
            Owner::Live,
            Finalizer,
            Seen::Absent,
            First,
            Write::Create,
        ),
        (
            "sync after a restart, before the member's watch listed: apply (creates or updates; the \
             finalizer's cleanup comes after either)",
            Owner::Live,
            Finalizer,
            Seen::Unknown,
            First,
            apply(None),
        ),
        (
            "sync: the member's POST found a copy there after all (its watch lagged): apply",
            Owner::Live,
            Finalizer,
            Seen::Present(None),
            AfterConflict,
            apply(None),
        ),
    ];
    for (what, owner, cleanup, seen, attempt, want) in cases {
        assert_eq!(decide(owner, cleanup, &seen, attempt), want, "{what}");
    }
}

#[test]
fn a_pinned_body_carries_the_uid_and_keeps_everything_else() {
    let body = json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "a", "labels": { "x": "y" } }, "data": { "v": "1" } });
    let p = pinned(&body, "u-1");
    assert_eq!(p["metadata"]["uid"], "u-1");
    assert_eq!(p["metadata"]["labels"], body["metadata"]["labels"]);
    assert_eq!(p["data"], body["data"]);
    let bare = pinned(&json!({ "kind": "ConfigMap" }), "u-2");
    assert_eq!(bare["metadata"]["uid"], "u-2", "metadata is added when missing");
    assert_eq!(pinned(&json!("not an object"), "u"), json!("not an object"));
}

#[test]
fn every_hold_has_a_reason() {
    let holds = [Hold::OwnerGone, Hold::OwnerDeleting, Hold::OwnerReplaced, Hold::UidUnknown, Hold::VanishedMidWrite];
    let reasons: std::collections::BTreeSet<_> = holds.iter().map(|h| h.reason()).collect();
    assert_eq!(reasons.len(), holds.len());
}
