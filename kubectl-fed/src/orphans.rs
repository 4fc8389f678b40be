//! `kubectl fed status --orphans`: the managed copies on the members whose federated object the
//! host lacks ([`fed_core::orphans`]), found by listing each enabled type's managed copies on
//! every joined cluster through its kubeconfig context (the credentials `join` used, found as
//! `place` finds them) and the federated objects on the host. Nothing is changed: applying the
//! object on the host again adopts its copies in place.

use std::collections::BTreeSet;

use anyhow::Result;
use fed_core::api::{FederatedTypeConfig, KubeFedCluster, Scope};
use fed_core::keys;
use fed_core::orphans::{ListedCopy, Orphan, orphans};
use fed_core::render::origin_of;
use kube::ResourceExt;
use kube::api::ListParams;

use crate::context::Ctx;
use crate::errors::one_line;
use crate::fedapi::{dyn_api, fed_api};
use crate::output::{self, Table};

/// One orphaned copy, with the kind it is of.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct OrphanRow {
    /// The target kind, e.g. `ConfigMap`.
    pub kind: String,
    /// The copy's namespace ("" for cluster-scoped).
    pub namespace: String,
    /// The copy's name.
    pub name: String,
    /// The member cluster.
    pub cluster: String,
    /// The federated object it came from.
    pub origin: String,
    /// Its uid on the member.
    pub uid: String,
}

impl OrphanRow {
    fn of(kind: &str, o: Orphan) -> OrphanRow {
        OrphanRow {
            kind: kind.to_string(),
            namespace: o.namespace.unwrap_or_default(),
            name: o.name,
            cluster: o.cluster,
            origin: o.origin,
            uid: o.uid.unwrap_or_default(),
        }
    }
}

/// The orphaned copies of every enabled type in `ns` (every namespace when `None`) on every
/// joined cluster a kubeconfig context reaches; the others are named in a warning.
pub async fn find(
    ctx: &Ctx,
    host: &kube::Client,
    configs: &[FederatedTypeConfig],
    clusters: &[KubeFedCluster],
    ns: Option<&str>,
) -> Result<Vec<OrphanRow>> {
    let mut members = Vec::new();
    for c in clusters {
        match ctx.member_client(c).await {
            Ok(client) => members.push((c.name_any(), client)),
            Err(why) => output::warn(format!("cluster {} was not searched: {why}", c.name_any())),
        }
    }
    let mut rows = Vec::new();
    for ftc in configs {
        let target = &ftc.spec.target_type;
        let federated: BTreeSet<String> = fed_api(host, &ftc.spec.federated_type, ns)
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .map(|f| origin_of(f, target))
            .collect();
        let managed = ListParams::default().labels(&format!("{}=true", keys::MANAGED_LABEL));
        let lists = futures::future::join_all(members.iter().map(|(cluster, client)| {
            let api = dyn_api(client, &target.api_resource(), target.scope == Scope::Namespaced, ns);
            let managed = managed.clone();
            async move { (cluster, api.list_metadata(&managed).await) }
        }))
        .await;
        let mut copies = Vec::new();
        for (cluster, list) in lists {
            match list {
                Ok(list) => copies.extend(list.items.into_iter().map(|m| ListedCopy {
                    cluster: cluster.clone(),
                    origin: m.annotations().get(keys::ORIGIN).cloned(),
                    namespace: m.metadata.namespace,
                    name: m.metadata.name.unwrap_or_default(),
                    uid: m.metadata.uid,
                })),
                Err(e) => output::warn(format!(
                    "cluster {cluster}: listing {} failed: {}",
                    target.plural_name,
                    one_line(&anyhow::Error::from(e))
                )),
            }
        }
        let kind = &target.kind;
        let found = orphans(&copies, &ftc.spec.federated_type.kind, ns, &federated);
        rows.extend(found.into_iter().map(|o| OrphanRow::of(kind, o)));
    }
    rows.sort();
    Ok(rows)
}

/// The table of orphaned copies.
pub fn table(rows: &[OrphanRow], all_namespaces: bool) -> Table {
    let mut headers = vec![];
    if all_namespaces {
        headers.push("namespace");
    }
    headers.extend(["kind", "name", "cluster", "uid", "message"]);
    let mut t = Table::new(headers);
    for r in rows {
        let mut cells = vec![];
        if all_namespaces {
            cells.push(r.namespace.clone());
        }
        let message = format!("no {} on the host; apply it again to adopt this copy", r.origin);
        cells.extend([r.kind.clone(), r.name.clone(), r.cluster.clone(), r.uid.clone(), message]);
        t.push(cells);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_the_missing_federated_object() {
        let row = OrphanRow {
            kind: "ConfigMap".into(),
            namespace: "demo".into(),
            name: "late".into(),
            cluster: "vulcan".into(),
            origin: "FederatedConfigMap/demo/late".into(),
            uid: "u-1".into(),
        };
        assert_eq!(
            table(&[row], true).render(),
            "NAMESPACE   KIND        NAME   CLUSTER   UID   MESSAGE\n\
             demo        ConfigMap   late   vulcan    u-1   no FederatedConfigMap/demo/late on the host; apply it again to adopt this copy\n"
        );
    }
}
