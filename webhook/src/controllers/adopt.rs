//! Creating an object the controllers know to be absent with a POST, and adopting its fields
//! before they first server-side apply it ([`fed_core::ownership`]).

use fed_core::{keys, ownership};
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::Value;

/// Creates `object` with a POST under our field manager.
pub async fn create(api: &Api<DynamicObject>, object: &Value) -> Result<DynamicObject, kube::Error> {
    let object: DynamicObject = serde_json::from_value(object.clone()).map_err(kube::Error::SerdeError)?;
    let pp = PostParams { field_manager: Some(keys::FIELD_MANAGER.to_string()), ..Default::default() };
    api.create(&pp, &object).await
}

/// Reads `name` and, if an earlier POST of ours still owns its fields as an `Update`, turns that
/// entry into our `Apply` entry, so the next apply removes the fields it no longer sends.
pub async fn adopt_fields(api: &Api<DynamicObject>, name: &str) -> Result<(), kube::Error> {
    let Some(live) = api.get_opt(name).await? else { return Ok(()) };
    let entries = live.metadata.managed_fields.as_deref().unwrap_or_default();
    let Some(patch) = ownership::adoption_patch(entries, keys::FIELD_MANAGER) else { return Ok(()) };
    api.patch(name, &PatchParams::default(), &Patch::Json::<()>(patch)).await.map(drop)
}

/// What the caller's cache knows about the object it is about to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Known {
    /// Absent: create it.
    Absent,
    /// Present, and maybe still owned by an earlier POST of ours: check (and adopt), then apply.
    Unadopted,
    /// Present (or unknown): apply.
    Applied,
}

/// Writes `object` as `name` (with our field manager, forcing): a POST when `known` says it is
/// absent, else a server-side apply; an object that exists after all, or that an earlier POST of
/// ours still owns, has its fields adopted first ([`adopt_fields`]).
pub async fn put(
    api: &Api<DynamicObject>,
    name: &str,
    object: &Value,
    known: Known,
) -> Result<DynamicObject, kube::Error> {
    let adopt = match known {
        Known::Absent => match create(api, object).await {
            Err(kube::Error::Api(s)) if s.code == 409 => true,
            created => return created,
        },
        Known::Unadopted => true,
        Known::Applied => false,
    };
    if adopt {
        adopt_fields(api, name).await?;
    }
    api.patch(name, &PatchParams::apply(keys::FIELD_MANAGER).force(), &Patch::Apply(object)).await
}
