//! The one rule for every write the controllers make on behalf of another object (a Federated
//! object for its source, a member copy for its Federated object): what they deleted, or what
//! was deleted under them, never comes back.
//!
//! Two requests can bring an object into existence: a POST, and a server-side apply (the API
//! server creates what an apply names when nothing has that name). The controllers decide from
//! stores that lag behind the API server, so each write is checked against three facts:
//!
//! - **the owner, read just before** ([`Owner::of`]): nothing is written for an owner that is
//!   gone, being deleted, or replaced by a new incarnation under the same name;
//! - **what the writer's store shows of the object** ([`Seen`]): absent → a POST, which the API
//!   server refuses with 409 when the object exists after all; present with a
//!   known uid → an apply carrying that uid ([`pinned`]), which the API server refuses (409)
//!   rather than create when that incarnation is gone, and refuses (422) when another has
//!   replaced it;
//! - **how the owner's deletion is ordered against the write** ([`Cleanup`]): an apply whose
//!   object's uid is not known is only safe when the owner's finalizer runs its cleanup after the
//!   write returns (sync: the Federated object's finalizer, and one reconcile per object at a
//!   time). A Federated object's owner, the source, has no finalizer of ours: garbage collection
//!   can remove the Federated object between the read of the source and the write, so a write to
//!   an existing Federated object must carry its uid, and one its store has not listed is
//!   created with a POST, never an apply.
//!
//! After a POST found the object present, the writer reads it and decides again
//! ([`Attempt::AfterConflict`]): an apply pinned to what it read, or nothing when it has gone
//! meanwhile (a second create could outlive an owner deleted during the first).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

/// What a fresh read says of the object a write is made for, against the incarnation the
/// writer's store recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// The same incarnation (uid), not being deleted.
    Live,
    /// The same incarnation, being deleted: its cleanup comes next.
    Deleting,
    /// Nothing has its name any more.
    Gone,
    /// A new incarnation has its name: the store's copy is of one deleted meanwhile.
    Replaced,
}

impl Owner {
    /// The owner as `current` (read now; `None`: not found) shows the incarnation `cached` (from a
    /// store) was taken from.
    pub fn of(cached: &ObjectMeta, current: Option<&ObjectMeta>) -> Owner {
        match current {
            None => Owner::Gone,
            Some(c) if c.uid.is_none() || c.uid != cached.uid => Owner::Replaced,
            Some(c) if c.deletion_timestamp.is_some() => Owner::Deleting,
            Some(_) => Owner::Live,
        }
    }
}

/// What the writer's store shows of the object it is about to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// The store has not listed yet: nothing is known.
    Unknown,
    /// Listed, and no object has the name.
    Absent,
    /// Present; its uid when the store keeps it.
    Present(Option<String>),
}

/// How the owner's deletion is ordered against the write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cleanup {
    /// The owner carries our finalizer, and its cleanup cannot start before this write returns
    /// (one reconcile per object at a time): whatever the write creates, the cleanup removes.
    Finalizer,
    /// Garbage collection removes the object once the owner is gone, at a moment of its own.
    Collected,
}

/// Which try of one write this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// The first request.
    First,
    /// After a POST was refused because the object exists, with [`Seen`] read just now.
    AfterConflict,
}

/// Why nothing is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hold {
    /// The owner is gone.
    OwnerGone,
    /// The owner is being deleted.
    OwnerDeleting,
    /// The owner was deleted and created again under its name: the write was for the old one.
    OwnerReplaced,
    /// The object is present, its uid unknown, and its owner's deletion not ordered after the
    /// write: an apply could create it again. Read it first.
    UidUnknown,
    /// The object was there at the POST and gone at the read after it.
    VanishedMidWrite,
}

impl Hold {
    /// One line for logs and status messages.
    pub fn reason(self) -> &'static str {
        match self {
            Hold::OwnerGone => "its owner is gone",
            Hold::OwnerDeleting => "its owner is being deleted",
            Hold::OwnerReplaced => "its owner was deleted and created again meanwhile",
            Hold::UidUnknown => "it exists and its uid is not known",
            Hold::VanishedMidWrite => "it was deleted during the write",
        }
    }
}

/// The write to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write {
    /// A POST: creates the object, or is refused (409) if one exists.
    Create,
    /// A server-side apply, carrying this uid when known ([`pinned`]).
    Apply {
        /// The incarnation the apply may change; it cannot create anything while this is set.
        uid: Option<String>,
    },
    /// Nothing.
    Hold(Hold),
}

/// Why nothing may be written for `owner`, if anything: the first half of [`decide`], for
/// writers that render the object from the owner they read before they decide the rest.
pub fn owner_hold(owner: Owner) -> Option<Hold> {
    match owner {
        Owner::Live => None,
        Owner::Gone => Some(Hold::OwnerGone),
        Owner::Deleting => Some(Hold::OwnerDeleting),
        Owner::Replaced => Some(Hold::OwnerReplaced),
    }
}

/// The rule (see the module documentation).
pub fn decide(owner: Owner, cleanup: Cleanup, seen: &Seen, attempt: Attempt) -> Write {
    if let Some(hold) = owner_hold(owner) {
        return Write::Hold(hold);
    }
    match (seen, attempt) {
        // Nothing known and the owner's cleanup ordered after the write: an apply creates the
        // object or changes it, whichever it finds, and either is cleaned up.
        (Seen::Unknown, Attempt::First) if cleanup == Cleanup::Finalizer => Write::Apply { uid: None },
        (Seen::Unknown | Seen::Absent, Attempt::First) => Write::Create,
        (Seen::Unknown | Seen::Absent, Attempt::AfterConflict) => Write::Hold(Hold::VanishedMidWrite),
        (Seen::Present(Some(uid)), _) => Write::Apply { uid: Some(uid.clone()) },
        (Seen::Present(None), _) if cleanup == Cleanup::Finalizer => Write::Apply { uid: None },
        (Seen::Present(None), _) => Write::Hold(Hold::UidUnknown),
    }
}

/// `object` with `metadata.uid` set to `uid`: the body of an apply that may change that
/// incarnation only. (Server-side apply does not record `metadata.uid` as a managed field.)
pub fn pinned(object: &Value, uid: &str) -> Value {
    let mut object = object.clone();
    if let Some(meta) =
        object.as_object_mut().map(|o| o.entry("metadata").or_insert_with(|| Value::Object(Default::default())))
        && let Some(meta) = meta.as_object_mut()
    {
        meta.insert("uid".into(), Value::from(uid));
    }
    object
}

#[cfg(test)]
mod tests;
