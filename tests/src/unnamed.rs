//! A cluster taken out of every placement that names it, and put back afterwards.
//!
//! `kubectl fed unjoin NAME` without `--force` refuses while a placement names the cluster. A
//! test that unjoins a cluster as the walk-through does cannot assume nothing else names it
//! (`make demo` leaves Deployments placed on vulcan), so it takes the cluster out of those
//! placements first: [`Unnamed::take`]. Dropping the guard puts every placement back as it was.

use fed_core::api::{FederatedTypeConfig, Scope};
use fed_core::keys::PLACEMENT;
use fed_core::source::owned_by_source_meta;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use crate::{kubectl_federation_ns, kubectl_on_earth as earth, output_text, succeeded};

/// One placement the guard changed, and how to put it back.
struct Changed {
    /// Namespace of the object; `None` for a cluster-scoped one.
    namespace: Option<String>,
    /// `kubectl` resource and name, e.g. `deployments.apps/api`.
    resource: String,
    /// The placement before: the source's annotation, or the federated object's cluster list.
    before: Before,
}

/// What a changed placement held before.
enum Before {
    /// A source's `kubefed.io/placement` value.
    Annotation(String),
    /// A federated object's `spec.placement.clusters`.
    Clusters(Value),
}

/// While held, no placement outside the given namespaces names the cluster.
pub struct Unnamed {
    changed: Vec<Changed>,
}

impl Unnamed {
    /// Takes `cluster` out of every federated object's explicit cluster list outside `own`
    /// namespaces: through the source's annotation when the object is a source's (the source
    /// controller would undo a change to the object itself), otherwise in the object. A source
    /// placed on that cluster alone loses its placement annotation until the guard is dropped.
    pub fn take(cluster: &str, own: &[&str]) -> Unnamed {
        let mut guard = Unnamed { changed: Vec::new() };
        let configs = json(kubectl_federation_ns(&["get", "federatedtypeconfigs", "-o", "json"]));
        for ftc in items(&configs) {
            let ftc: FederatedTypeConfig = serde_json::from_value(ftc.clone()).expect("a FederatedTypeConfig");
            let target = &ftc.spec.target_type;
            let federated = ftc.spec.federated_type.qualified_plural();
            for obj in items(&json(earth(None, &["get", &federated, "-A", "-o", "json"]))) {
                let namespace = obj["metadata"]["namespace"].as_str();
                let name = obj["metadata"]["name"].as_str().unwrap_or_default();
                let clusters = &obj["spec"]["placement"]["clusters"];
                let names: Vec<&str> =
                    clusters.as_array().into_iter().flatten().filter_map(|c| c["name"].as_str()).collect();
                if namespace.is_some_and(|ns| own.contains(&ns)) || !names.contains(&cluster) {
                    continue;
                }
                let meta: ObjectMeta = serde_json::from_value(obj["metadata"].clone()).expect("object metadata");
                let changed = if owned_by_source_meta(&meta) {
                    // A Namespace source is cluster-scoped; its federated object lives in it.
                    let namespace = namespace.filter(|_| target.scope == Scope::Namespaced);
                    unname_source(namespace, format!("{}/{name}", target.qualified_plural()), &names, cluster)
                } else {
                    unname_federated(namespace, format!("{federated}/{name}"), clusters, cluster)
                };
                guard.changed.push(changed);
            }
        }
        guard
    }
}

/// Sets the source's placement annotation to its clusters but `cluster` (removes it when none
/// remain).
fn unname_source(namespace: Option<&str>, resource: String, names: &[&str], cluster: &str) -> Changed {
    let source = json(earth(namespace, &["get", &resource, "-o", "json"]));
    let before = source["metadata"]["annotations"][PLACEMENT].as_str().unwrap_or_default().to_string();
    let rest: Vec<&str> = names.iter().copied().filter(|n| *n != cluster).collect();
    let annotation = if rest.is_empty() { format!("{PLACEMENT}-") } else { format!("{PLACEMENT}={}", rest.join(",")) };
    succeeded(earth(namespace, &["annotate", "--overwrite", &resource, &annotation]));
    Changed { namespace: namespace.map(str::to_string), resource, before: Before::Annotation(before) }
}

/// Drops `cluster` from the federated object's `spec.placement.clusters`.
fn unname_federated(namespace: Option<&str>, resource: String, clusters: &Value, cluster: &str) -> Changed {
    let rest: Vec<&Value> = clusters.as_array().into_iter().flatten().filter(|c| c["name"] != cluster).collect();
    succeeded(earth(namespace, &["patch", &resource, "--type=merge", "-p", &clusters_patch(&rest)]));
    Changed { namespace: namespace.map(str::to_string), resource, before: Before::Clusters(clusters.clone()) }
}

impl Drop for Unnamed {
    fn drop(&mut self) {
        for c in self.changed.drain(..) {
            let namespace = c.namespace.as_deref();
            let out = match &c.before {
                Before::Annotation(value) => {
                    earth(namespace, &["annotate", "--overwrite", &c.resource, &format!("{PLACEMENT}={value}")])
                }
                Before::Clusters(clusters) => {
                    earth(namespace, &["patch", &c.resource, "--type=merge", "-p", &clusters_patch(clusters)])
                }
            };
            if !out.status.success() {
                eprintln!("could not put back the placement of {}: {}", c.resource, output_text(&out));
            }
        }
    }
}

/// A merge patch setting `spec.placement.clusters`.
fn clusters_patch(clusters: impl serde::Serialize) -> String {
    serde_json::json!({"spec": {"placement": {"clusters": clusters}}}).to_string()
}

fn items(list: &Value) -> impl Iterator<Item = &Value> {
    list["items"].as_array().into_iter().flatten()
}

fn json(out: std::process::Output) -> Value {
    serde_json::from_str(&succeeded(out)).expect("kubectl prints JSON")
}
