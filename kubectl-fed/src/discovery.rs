//! Resource-name resolution through API discovery, as kubectl does it.
//!
//! Accepts a plural (`deployments`), singular (`deployment`), short name (`deploy`, `svc`,
//! `cm`), kind (`Deployment`), any of those qualified by a group (`deployments.apps`,
//! `plural.group` of a CRD) or by version and group (`deployments.v1.apps`). When several
//! groups serve a name, the group discovery lists first wins (core first), as in kubectl;
//! within a group the preferred version is used unless a version is given.
//!
//! Discovery uses the aggregated endpoints (`/api` and `/apis`, two requests) and falls back to
//! per-group discovery on servers without them.

use anyhow::{Result, bail};
use fed_core::api::{ApiResourceRef, Scope as RefScope};
use kube::Client;
use kube::core::ApiResource;
use kube::core::discovery::v2::APIGroupDiscoveryList;

use crate::context::Ctx;

/// One served resource (top-level, no subresources).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceInfo {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub short_names: Vec<String>,
    pub namespaced: bool,
    pub verbs: Vec<String>,
    /// Position of the group in discovery order (0 = core).
    pub group_priority: usize,
    /// True for the group's preferred (first-listed) version.
    pub preferred: bool,
}

impl ResourceInfo {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    pub fn api_resource(&self) -> ApiResource {
        ApiResource {
            group: self.group.clone(),
            version: self.version.clone(),
            api_version: self.api_version(),
            kind: self.kind.clone(),
            plural: self.plural.clone(),
        }
    }

    /// The fed-core description of this resource (a FederatedTypeConfig target).
    pub fn to_ref(&self) -> ApiResourceRef {
        ApiResourceRef {
            group: self.group.clone(),
            version: self.version.clone(),
            kind: self.kind.clone(),
            plural_name: self.plural.clone(),
            scope: if self.namespaced { RefScope::Namespaced } else { RefScope::Cluster },
        }
    }

    /// `plural.group` (`plural` for the core group).
    pub fn qualified(&self) -> String {
        if self.group.is_empty() { self.plural.clone() } else { format!("{}.{}", self.plural, self.group) }
    }

    pub fn has_verbs(&self, verbs: &[&str]) -> bool {
        verbs.iter().all(|v| self.verbs.iter().any(|have| have == v))
    }

    fn names_match(&self, name: &str) -> u8 {
        // Lower is better: plural, singular, short name, kind.
        if self.plural == name {
            0
        } else if self.singular == name {
            1
        } else if self.short_names.iter().any(|s| s == name) {
            2
        } else if self.kind.to_ascii_lowercase() == name {
            3
        } else {
            u8::MAX
        }
    }
}

/// Everything the server serves.
#[derive(Clone, Debug, Default)]
pub struct Resources {
    pub list: Vec<ResourceInfo>,
}

/// Host discovery (two requests) for the host context of `ctx`.
pub async fn host_resources(ctx: &Ctx) -> Result<Resources> {
    discover(&ctx.host().await?).await
}

/// Fetch discovery from a cluster.
pub async fn discover(client: &Client) -> Result<Resources> {
    let (core, groups) =
        futures::join!(client.list_core_api_versions_aggregated(), client.list_api_groups_aggregated());
    match (core, groups) {
        (Ok(core), Ok(groups)) => Ok(from_aggregated(core, groups)),
        _ => legacy(client).await,
    }
}

/// Build the resource list from the aggregated discovery documents.
pub fn from_aggregated(core: APIGroupDiscoveryList, groups: APIGroupDiscoveryList) -> Resources {
    let mut list = Vec::new();
    for (priority, group) in core.items.into_iter().chain(groups.items).enumerate() {
        let group_name = group.metadata.and_then(|m| m.name).unwrap_or_default();
        for (vi, version) in group.versions.into_iter().enumerate() {
            let ver = version.version.unwrap_or_default();
            for res in version.resources {
                let Some(plural) = res.resource.filter(|p| !p.is_empty()) else { continue };
                let kind = res.response_kind.and_then(|k| k.kind).unwrap_or_default();
                let singular =
                    res.singular_resource.filter(|s| !s.is_empty()).unwrap_or_else(|| kind.to_ascii_lowercase());
                list.push(ResourceInfo {
                    group: group_name.clone(),
                    version: ver.clone(),
                    kind,
                    plural,
                    singular,
                    short_names: res.short_names,
                    namespaced: res.scope.as_deref() == Some("Namespaced"),
                    verbs: res.verbs,
                    group_priority: priority,
                    preferred: vi == 0,
                });
            }
        }
    }
    Resources { list }
}

async fn legacy(client: &Client) -> Result<Resources> {
    let discovery = kube::Discovery::new(client.clone()).run().await?;
    let mut list = Vec::new();
    for (priority, group) in discovery.groups().enumerate() {
        let preferred = group.preferred_version_or_latest().to_string();
        for version in group.versions() {
            for (ar, caps) in group.versioned_resources(version) {
                list.push(ResourceInfo {
                    group: ar.group.clone(),
                    version: ar.version.clone(),
                    singular: ar.kind.to_ascii_lowercase(),
                    kind: ar.kind,
                    plural: ar.plural,
                    short_names: Vec::new(),
                    namespaced: caps.scope == kube::discovery::Scope::Namespaced,
                    verbs: caps.operations,
                    group_priority: if group.name().is_empty() { 0 } else { priority + 1 },
                    preferred: version == preferred,
                });
            }
        }
    }
    Ok(Resources { list })
}

impl Resources {
    /// Resolve a user-typed resource name.
    pub fn resolve(&self, arg: &str) -> Result<&ResourceInfo> {
        let lower = arg.trim().to_ascii_lowercase();
        if lower.is_empty() {
            bail!("a resource type is required, e.g. deployments.apps");
        }
        let mut attempts: Vec<(&str, Option<&str>, Option<&str>)> = vec![(lower.as_str(), None, None)];
        if let Some((name, rest)) = lower.split_once('.') {
            attempts.insert(0, (name, None, Some(rest)));
            if let Some((version, group)) = rest.split_once('.') {
                attempts.insert(0, (name, Some(version), Some(group)));
            }
        }
        for (name, version, group) in attempts {
            if let Some(found) = self.best(name, version, group) {
                return Ok(found);
            }
        }
        let mut known: Vec<&str> = Vec::new();
        for r in &self.list {
            known.push(&r.plural);
            known.push(&r.singular);
            known.extend(r.short_names.iter().map(String::as_str));
        }
        let hint = fed_core::suggest::did_you_mean(&lower, known);
        bail!("the server doesn't have a resource type {arg:?}{hint}")
    }

    fn best(&self, name: &str, version: Option<&str>, group: Option<&str>) -> Option<&ResourceInfo> {
        self.list
            .iter()
            .filter(|r| group.is_none_or(|g| r.group == g))
            .filter(|r| match version {
                Some(v) => r.version == v,
                None => r.preferred,
            })
            .map(|r| (r.names_match(name), r))
            .filter(|(rank, _)| *rank != u8::MAX)
            .min_by_key(|(rank, r)| (*rank, r.group_priority))
            .map(|(_, r)| r)
    }

    /// Namespaced, listable, creatable resources (the preferred version of each group).
    pub fn namespaced_listable(&self) -> impl Iterator<Item = &ResourceInfo> {
        self.list.iter().filter(|r| r.preferred && r.namespaced && r.has_verbs(&["list", "create"]))
    }

    /// The preferred-version resource with this group and kind.
    pub fn by_group_kind(&self, group: &str, kind: &str) -> Option<&ResourceInfo> {
        self.list.iter().filter(|r| r.group == group && r.kind == kind).min_by_key(|r| !r.preferred)
    }
}

/// Split `TYPE/NAME` (kubectl's form).
pub fn split_type_name(arg: &str) -> Result<(&str, &str)> {
    match arg.split_once('/') {
        Some((t, n)) if !t.is_empty() && !n.is_empty() && !n.contains('/') => Ok((t, n)),
        _ => bail!("expected TYPE/NAME (e.g. deployment/web), got {arg:?}"),
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    #[allow(clippy::too_many_arguments)]
    fn res(
        group: &str,
        version: &str,
        kind: &str,
        plural: &str,
        short: &[&str],
        namespaced: bool,
        prio: usize,
        preferred: bool,
    ) -> ResourceInfo {
        ResourceInfo {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            singular: kind.to_ascii_lowercase(),
            short_names: short.iter().map(|s| s.to_string()).collect(),
            namespaced,
            verbs: ["create", "delete", "get", "list", "patch", "update", "watch"].map(String::from).to_vec(),
            group_priority: prio,
            preferred,
        }
    }

    /// A small fake of what a test-bed apiserver serves.
    pub fn fake() -> Resources {
        Resources {
            list: vec![
                res("", "v1", "Service", "services", &["svc"], true, 0, true),
                res("", "v1", "ConfigMap", "configmaps", &["cm"], true, 0, true),
                res("", "v1", "Namespace", "namespaces", &["ns"], false, 0, true),
                res("", "v1", "Event", "events", &["ev"], true, 0, true),
                res("apps", "v1", "Deployment", "deployments", &["deploy"], true, 1, true),
                res("events.k8s.io", "v1", "Event", "events", &["ev"], true, 2, true),
                res("widgets.example.com", "v2", "Widget", "widgets", &[], true, 3, true),
                res("widgets.example.com", "v1", "Widget", "widgets", &[], true, 3, false),
                res("types.kubefed.io", "v1beta1", "FederatedDeployment", "federateddeployments", &[], true, 4, true),
            ],
        }
    }

    #[test]
    fn resolves_like_kubectl() {
        let r = fake();
        let cases = [
            ("deploy", "deployments.apps"),
            ("deployment", "deployments.apps"),
            ("deployments", "deployments.apps"),
            ("Deployment", "deployments.apps"),
            ("deployments.apps", "deployments.apps"),
            ("deployments.v1.apps", "deployments.apps"),
            ("deploy.apps", "deployments.apps"),
            ("svc", "services"),
            ("cm", "configmaps"),
            ("ns", "namespaces"),
            ("widgets.widgets.example.com", "widgets.widgets.example.com"),
            ("widget", "widgets.widgets.example.com"),
            ("federateddeployments", "federateddeployments.types.kubefed.io"),
            // Core wins over events.k8s.io, as in kubectl.
            ("events", "events"),
            ("events.events.k8s.io", "events.events.k8s.io"),
        ];
        for (arg, want) in cases {
            assert_eq!(r.resolve(arg).unwrap().qualified(), want, "{arg}");
        }
        assert_eq!(r.resolve("widgets").unwrap().version, "v2", "preferred version");
        assert_eq!(r.resolve("widgets.v1.widgets.example.com").unwrap().version, "v1");
    }

    #[test]
    fn unknown_types_get_a_suggestion() {
        let err = fake().resolve("deploymnts").unwrap_err().to_string();
        assert_eq!(err, r#"the server doesn't have a resource type "deploymnts"; did you mean "deployments"?"#);
        let err = fake().resolve("gadgets.apps").unwrap_err().to_string();
        assert!(err.starts_with(r#"the server doesn't have a resource type "gadgets.apps""#), "{err}");
        assert!(fake().resolve("deployments.core").is_err());
    }

    #[test]
    fn type_name_split() {
        assert_eq!(split_type_name("deployment/web").unwrap(), ("deployment", "web"));
        assert_eq!(split_type_name("deployments.apps/web").unwrap(), ("deployments.apps", "web"));
        for bad in ["web", "/web", "deployment/", "a/b/c"] {
            assert!(split_type_name(bad).is_err(), "{bad}");
        }
    }
}
