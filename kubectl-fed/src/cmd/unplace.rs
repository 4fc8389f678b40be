//! `kubectl fed unplace TYPE/NAME`: remove the object's `kubefed.io/` user annotations (the
//! controllers then remove its member copies).

use anyhow::{Context as _, Result, anyhow, bail};
use clap::Args;
use fed_core::api::TYPES_GROUP;
use fed_core::keys::USER_ANNOTATIONS;
use kube::ResourceExt;
use serde_json::{Value, json};

use crate::apply::Writer;
use crate::context::Ctx;
use crate::discovery;
use crate::discovery::split_type_name;
use crate::fedapi::{display_ref, dyn_api};

/// Remove an object's kubefed.io/ placement annotations
#[derive(Args, Debug)]
pub struct UnplaceOptions {
    /// TYPE/NAME of the object (e.g. deployment/web)
    #[arg(value_name = "TYPE/NAME")]
    pub target: String,
}

/// The merge patch removing every user annotation.
pub fn patch() -> Value {
    let map: serde_json::Map<String, Value> = USER_ANNOTATIONS.iter().map(|k| (k.to_string(), Value::Null)).collect();
    json!({ "metadata": { "annotations": map } })
}

impl UnplaceOptions {
    /// TYPE/NAME, split.
    fn validate(&self) -> Result<(&str, &str)> {
        split_type_name(&self.target)
    }
}

/// Removes the object's `kubefed.io/` placement annotations.
pub async fn run(ctx: &Ctx, opts: UnplaceOptions) -> Result<()> {
    let (type_name, name) = opts.validate()?;
    let resources = discovery::host_resources(ctx).await?;
    let res = resources.resolve(type_name)?;
    if res.group == TYPES_GROUP {
        bail!(
            "{} is a federated type: delete the object, or change its placement with `kubectl fed place`",
            res.qualified()
        );
    }
    let client = ctx.host().await?;
    let ns = res.namespaced.then_some(ctx.namespace.as_str());
    let ar = res.api_resource();
    let obj = dyn_api(&client, &ar, res.namespaced, ns)
        .get_opt(name)
        .await
        .with_context(|| format!("reading {}", display_ref(&ar, name)))?
        .ok_or_else(|| anyhow!("{} not found", display_ref(&ar, name)))?;
    if !USER_ANNOTATIONS.iter().any(|k| obj.annotations().contains_key(*k)) {
        println!("{} unchanged (no kubefed.io/ placement annotations)", display_ref(&ar, name));
        return Ok(());
    }
    let mut host = Writer::new(client, ctx);
    host.merge_patch(&ar, res.namespaced, ns, name, &patch(), "unplaced").await?;
    host.finish()
}

#[cfg(test)]
mod tests {
    #[test]
    fn removes_every_user_annotation() {
        let p = super::patch();
        let a = p["metadata"]["annotations"].as_object().unwrap();
        assert_eq!(a.len(), 6);
        assert!(a.values().all(serde_json::Value::is_null));
        assert!(a.contains_key("kubefed.io/placement") && a.contains_key("kubefed.io/orphan"));
        assert!(a.contains_key("kubefed.io/replica-scheduling") && a.contains_key("kubefed.io/overflow-after"));
    }
}
