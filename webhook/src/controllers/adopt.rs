//! Writes made on behalf of another object, as [`fed_core::guard`] decides them: a POST when the
//! writer's store shows the object absent, a server-side apply pinned to the uid it shows
//! otherwise, and the fields of an earlier POST of ours adopted before the first apply
//! ([`fed_core::ownership`]). Materialize and member_write share it.

use fed_core::guard::{self, Attempt, Cleanup, Hold, Owner, Seen, Write};
use fed_core::{keys, ownership};
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::Value;

/// What the writer's store knows about the object it is about to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Known {
    /// Absent, present (with its uid when the store keeps it), or not listed.
    pub seen: Seen,
    /// Present, and maybe still owned by an earlier POST of ours as an `Update`: check (and
    /// adopt) its fields before applying.
    pub unadopted: bool,
}

impl Known {
    /// The store has not listed the object's kind yet.
    pub const UNKNOWN: Known = Known { seen: Seen::Unknown, unadopted: false };
    /// The store has listed and has no such object.
    pub const ABSENT: Known = Known { seen: Seen::Absent, unadopted: false };
}

/// What became of a write.
#[derive(Debug)]
pub enum Put {
    /// The API server's answer.
    Written(Box<DynamicObject>),
    /// Nothing was written (or the API server refused to write under a gone incarnation), and why.
    Held(Hold),
}

/// Creates `object` with a POST under our field manager.
async fn create(api: &Api<DynamicObject>, object: &Value) -> Result<DynamicObject, kube::Error> {
    let object: DynamicObject = serde_json::from_value(object.clone()).map_err(kube::Error::SerdeError)?;
    let pp = PostParams { field_manager: Some(keys::FIELD_MANAGER.to_string()), ..Default::default() };
    api.create(&pp, &object).await
}

/// If an earlier POST of ours still owns the fields of `name` (as `read`, or read now) as an
/// `Update`, turns that entry into our `Apply` entry, so the next apply removes the fields it no
/// longer sends. With `uid`, only on that incarnation: held when it is gone or replaced.
async fn adopt_fields(
    api: &Api<DynamicObject>,
    name: &str,
    uid: Option<&str>,
    read: Option<DynamicObject>,
) -> Result<Option<Hold>, kube::Error> {
    let live = match read {
        Some(o) => Some(o),
        None => api.get_opt(name).await?,
    };
    let Some(live) = live else { return Ok(uid.map(|_| Hold::VanishedMidWrite)) };
    let live_uid = live.metadata.uid.as_deref().unwrap_or_default();
    if uid.is_some_and(|u| u != live_uid) {
        return Ok(Some(Hold::VanishedMidWrite));
    }
    let entries = live.metadata.managed_fields.as_deref().unwrap_or_default();
    let Some(patch) = ownership::adoption_patch(entries, keys::FIELD_MANAGER, live_uid) else { return Ok(None) };
    api.patch(name, &PatchParams::default(), &Patch::Json::<()>(patch)).await?;
    Ok(None)
}

/// True when the API server refused an apply pinned to a uid because that incarnation is gone
/// (409: nothing to update, and it does not create under a given uid) or replaced (422: the uid
/// is immutable).
fn incarnation_gone(s: &kube::core::Status) -> bool {
    s.code == 409 || (s.code == 422 && s.details.iter().flat_map(|d| &d.causes).any(|c| c.field == "metadata.uid"))
}

/// Writes `object` as `name` with our field manager (an apply forces), as [`guard::decide`] rules
/// for `owner` (read just before), `cleanup` and what the store `known`s: a POST, an apply, or
/// nothing. A POST that finds the object present reads it and decides again.
pub async fn put(
    api: &Api<DynamicObject>,
    name: &str,
    object: &Value,
    known: Known,
    owner: Owner,
    cleanup: Cleanup,
) -> Result<Put, kube::Error> {
    let Known { mut seen, mut unadopted } = known;
    let (mut attempt, mut read) = (Attempt::First, None);
    loop {
        match guard::decide(owner, cleanup, &seen, attempt) {
            Write::Hold(hold) => return Ok(Put::Held(hold)),
            Write::Create => match create(api, object).await {
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    read = api.get_opt(name).await?;
                    seen = read.as_ref().map_or(Seen::Absent, |o| Seen::Present(o.metadata.uid.clone()));
                    (attempt, unadopted) = (Attempt::AfterConflict, true);
                }
                created => return created.map(|o| Put::Written(Box::new(o))),
            },
            Write::Apply { uid } => {
                if unadopted && let Some(hold) = adopt_fields(api, name, uid.as_deref(), read.take()).await? {
                    return Ok(Put::Held(hold));
                }
                let body = uid.as_deref().map_or_else(|| object.clone(), |u| guard::pinned(object, u));
                let pp = PatchParams::apply(keys::FIELD_MANAGER).force();
                return match api.patch(name, &pp, &Patch::Apply(&body)).await {
                    Err(kube::Error::Api(s)) if uid.is_some() && incarnation_gone(&s) => {
                        Ok(Put::Held(Hold::VanishedMidWrite))
                    }
                    applied => applied.map(|o| Put::Written(Box::new(o))),
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_apply_refused_for_its_incarnation_is_told_apart() {
        let status = |code: u16, field: Option<&str>| -> kube::core::Status {
            let details =
                field.map(|f| serde_json::json!({ "causes": [{ "reason": "FieldValueInvalid", "field": f }] }));
            serde_json::from_value(serde_json::json!({ "status": "Failure", "code": code, "details": details }))
                .expect("a Status")
        };
        assert!(incarnation_gone(&status(409, None)), "gone: the API server does not create under a uid");
        assert!(incarnation_gone(&status(422, Some("metadata.uid"))), "replaced by another incarnation");
        assert!(!incarnation_gone(&status(422, Some("spec.replicas"))), "an invalid body is an error");
        assert!(!incarnation_gone(&status(403, None)));
    }
}
