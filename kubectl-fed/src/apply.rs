//! Every change kubectl-fed makes goes through [`Writer`]: server-side apply (field manager
//! `kubectl-fed`), merge patches and deletes, each reported like kubectl (`deployment.apps/web
//! created`). Under `--dry-run` nothing is written (`client`) or writes are sent as server dry
//! runs (`server`); with `-o yaml|json` the objects are printed instead of the one-line reports.

use std::time::Duration;

use anyhow::{Context as _, Result};
use fed_core::keys::FIELD_MANAGER;
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, PropagationPolicy};
use kube::core::{ApiResource, DynamicObject};
use serde::Serialize;
use serde_json::Value;

use crate::context::{Ctx, DryRun};
use crate::fedapi::{display_ref, dyn_api};
use crate::output::{self, OutputFormat};
use crate::waiting;

/// An object to write, with the resource it belongs to.
#[derive(Clone, Debug)]
pub struct Obj {
    pub ar: ApiResource,
    pub namespaced: bool,
    pub data: DynamicObject,
}

impl Obj {
    /// From a typed object (k8s-openapi or kube-derive); namespaced when it names a namespace.
    pub fn typed<K>(k: &K) -> Result<Obj>
    where
        K: kube::Resource<DynamicType = ()> + Serialize,
    {
        let ar = ApiResource::erase::<K>(&());
        let data: DynamicObject = serde_json::from_value(serde_json::to_value(k)?)?;
        let namespaced = data.metadata.namespace.is_some();
        Ok(Obj { ar, namespaced, data })
    }

    /// From a JSON object of resource `ar`.
    pub fn dynamic(ar: ApiResource, namespaced: bool, value: Value) -> Result<Obj> {
        let data: DynamicObject = serde_json::from_value(value).context("object is not a Kubernetes object")?;
        Ok(Obj { ar, namespaced, data })
    }

    pub fn name(&self) -> &str {
        self.data.metadata.name.as_deref().unwrap_or("")
    }

    pub fn namespace(&self) -> Option<&str> {
        self.data.metadata.namespace.as_deref()
    }

    pub fn display(&self) -> String {
        display_ref(&self.ar, self.name())
    }

    /// The object as JSON with apiVersion/kind set.
    pub fn to_value(&self) -> Value {
        let mut v = serde_json::to_value(&self.data).unwrap_or(Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.insert("apiVersion".into(), Value::String(self.ar.api_version.clone()));
            o.insert("kind".into(), Value::String(self.ar.kind.clone()));
        }
        v
    }
}

/// Performs (or prints) changes on one cluster.
pub struct Writer {
    client: Client,
    dry_run: DryRun,
    documents: Option<OutputFormat>,
    prefix: String,
    collected: Vec<Value>,
}

impl Writer {
    pub fn new(client: Client, ctx: &Ctx) -> Writer {
        Writer {
            client,
            dry_run: ctx.dry_run(),
            documents: ctx.output().filter(|o| o.is_document()),
            prefix: String::new(),
            collected: Vec::new(),
        }
    }

    /// Prefix report lines with `[label] ` (which cluster a change is on).
    pub fn labelled(mut self, label: &str) -> Writer {
        self.prefix = format!("[{label}] ");
        self
    }

    /// Override the dry-run strategy (e.g. `-o yaml` printing instead of creating).
    pub fn with_dry_run(mut self, dry_run: DryRun) -> Writer {
        self.dry_run = dry_run;
        self
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn dry_run(&self) -> DryRun {
        self.dry_run
    }

    fn suffix(&self) -> &'static str {
        match self.dry_run {
            DryRun::None => "",
            DryRun::Client => " (dry run)",
            DryRun::Server => " (server dry run)",
        }
    }

    fn report(&self, what: &str, verb: &str) {
        if self.documents.is_none() {
            println!("{}{what} {verb}{}", self.prefix, self.suffix());
        }
    }

    /// Print a free-form step line (suppressed with -o yaml|json).
    pub fn step(&self, msg: impl AsRef<str>) {
        if self.documents.is_none() {
            println!("{}{}", self.prefix, msg.as_ref());
        }
    }

    /// Wait until none of the namespaces `names` exists any more (a deleted namespace lingers
    /// while it terminates). Returns those still present when `timeout` runs out; nothing to wait
    /// for under `--dry-run`.
    pub async fn wait_namespaces_gone(&self, names: &[String], timeout: Duration) -> Result<Vec<String>> {
        if names.is_empty() || self.dry_run.active() {
            return Ok(Vec::new());
        }
        self.step(format!("waiting for namespace(s) {} to terminate", names.join(", ")));
        let api: Api<Namespace> = Api::all(self.client.clone());
        waiting::all_until(names, timeout, |n, deadline| {
            let api = api.clone();
            async move {
                let gone = |ns: Option<&Namespace>| ns.is_none();
                let held =
                    waiting::until(api, &n, deadline, gone).await.with_context(|| format!("reading namespace/{n}"))?;
                Ok(held.is_some())
            }
        })
        .await
    }

    /// Server-side apply (force, field manager `kubectl-fed`). Returns the object as the server
    /// stored it, or (client dry run) as it would be sent.
    pub async fn apply(&mut self, obj: &Obj) -> Result<Value> {
        let api = dyn_api(&self.client, &obj.ar, obj.namespaced, obj.namespace());
        let name = obj.name().to_string();
        let existing = get_opt(&api, &name).await.with_context(|| format!("reading {}", obj.display()))?;
        let body = obj.to_value();
        let result = if self.dry_run == DryRun::Client {
            body
        } else {
            let mut pp = PatchParams::apply(FIELD_MANAGER).force();
            pp.dry_run = self.dry_run == DryRun::Server;
            let stored = api
                .patch(&name, &pp, &Patch::Apply(&body))
                .await
                .with_context(|| format!("applying {}", obj.display()))?;
            serde_json::to_value(&stored)?
        };
        let verb = match &existing {
            None => "created",
            Some(old) if self.dry_run == DryRun::None => {
                let new_rv = result.pointer("/metadata/resourceVersion").and_then(Value::as_str);
                if new_rv == old.metadata.resource_version.as_deref() { "unchanged" } else { "configured" }
            }
            Some(_) => "configured",
        };
        self.report(&obj.display(), verb);
        self.collected.push(result.clone());
        Ok(result)
    }

    /// Create unless it exists (existing objects are left exactly as they are). Returns true
    /// when it was (or would be) created.
    pub async fn create_if_absent(&mut self, obj: &Obj) -> Result<bool> {
        let api = dyn_api(&self.client, &obj.ar, obj.namespaced, obj.namespace());
        if get_opt(&api, obj.name()).await.with_context(|| format!("reading {}", obj.display()))?.is_some() {
            self.report(&obj.display(), "exists");
            return Ok(false);
        }
        let body = obj.to_value();
        let result = if self.dry_run == DryRun::Client {
            body
        } else {
            let pp =
                PostParams { dry_run: self.dry_run == DryRun::Server, field_manager: Some(FIELD_MANAGER.to_string()) };
            serde_json::to_value(
                api.create(&pp, &obj.data).await.with_context(|| format!("creating {}", obj.display()))?,
            )?
        };
        self.report(&obj.display(), "created");
        self.collected.push(result);
        Ok(true)
    }

    /// JSON merge patch; `verb` is what the report says (`annotated`, `patched`, …).
    pub async fn merge_patch(
        &mut self,
        ar: &ApiResource,
        namespaced: bool,
        ns: Option<&str>,
        name: &str,
        patch: &Value,
        verb: &str,
    ) -> Result<Value> {
        let api = dyn_api(&self.client, ar, namespaced, ns);
        let what = display_ref(ar, name);
        let result = if self.dry_run == DryRun::Client {
            let current = api.get(name).await.with_context(|| format!("reading {what}"))?;
            let mut v = serde_json::to_value(&current)?;
            json_patch::merge(&mut v, patch);
            v
        } else {
            let pp = PatchParams {
                dry_run: self.dry_run == DryRun::Server,
                field_manager: Some(FIELD_MANAGER.to_string()),
                ..Default::default()
            };
            // The error is returned bare: an admission denial is the whole message.
            serde_json::to_value(api.patch(name, &pp, &Patch::Merge(patch)).await?)?
        };
        self.report(&what, verb);
        self.collected.push(result.clone());
        Ok(result)
    }

    /// Delete (background propagation). Returns false when it did not exist.
    pub async fn delete(&mut self, ar: &ApiResource, namespaced: bool, ns: Option<&str>, name: &str) -> Result<bool> {
        let api = dyn_api(&self.client, ar, namespaced, ns);
        let what = display_ref(ar, name);
        if self.dry_run == DryRun::Client {
            let exists = get_opt(&api, name).await.with_context(|| format!("reading {what}"))?.is_some();
            if exists {
                self.report(&what, "deleted");
            }
            return Ok(exists);
        }
        let dp = DeleteParams {
            dry_run: self.dry_run == DryRun::Server,
            propagation_policy: Some(PropagationPolicy::Background),
            ..Default::default()
        };
        match api.delete(name, &dp).await {
            Ok(_) => {
                self.report(&what, "deleted");
                Ok(true)
            }
            Err(e) if crate::errors::is_status(&e, 404) => Ok(false),
            Err(e) => Err(anyhow::Error::from(e).context(format!("deleting {what}"))),
        }
    }

    /// Print the collected objects when `-o yaml|json` was asked for.
    pub fn finish(&mut self) -> Result<()> {
        if let Some(format) = self.documents {
            output::print_documents(format, std::mem::take(&mut self.collected))?;
        }
        Ok(())
    }

    /// Move another writer's collected objects into this one (to print them together).
    pub fn absorb(&mut self, other: &mut Writer) {
        self.collected.append(&mut other.collected);
    }
}

/// `get_opt` that also treats a resource the server does not serve (yet) as absent — under
/// `--dry-run` a CRD may not exist when its objects are looked up.
async fn get_opt(api: &kube::Api<DynamicObject>, name: &str) -> kube::Result<Option<DynamicObject>> {
    match api.get_opt(name).await {
        Err(e) if crate::errors::is_status(&e, 404) => Ok(None),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_objects_keep_their_type() {
        let ns = k8s_openapi::api::core::v1::Namespace {
            metadata: kube::core::ObjectMeta { name: Some("demo".into()), ..Default::default() },
            ..Default::default()
        };
        let obj = Obj::typed(&ns).unwrap();
        assert!(!obj.namespaced);
        assert_eq!(obj.display(), "namespace/demo");
        assert_eq!(obj.to_value()["apiVersion"], "v1");
        assert_eq!(obj.to_value()["kind"], "Namespace");
    }
}
