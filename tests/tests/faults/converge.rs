//! Desired versus actual: the desired set is computed from the host (every annotated ConfigMap
//! in the scenario's namespace, with its content marker), the actual sets are the
//! FederatedConfigMaps on the host and the managed copies on each member. Both are compared
//! exactly: a desired object missing or stale is *lost*, an object that should not be there
//! (deleted on the host, never admitted, left behind) is *extra*.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use fed_core::api::Federated;
use fed_e2e::Bed;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ApiResource, ListParams};
use kube::core::GroupVersionKind;

/// Member clusters the workload is placed on.
pub const MEMBERS: [&str; 2] = ["vulcan", "kronos"];
/// Poll period of [`converge`].
const POLL: Duration = Duration::from_millis(500);
/// How long a converged state must hold before [`converge`] accepts it.
const HOLD: Duration = Duration::from_secs(3);

/// Where objects are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// The FederatedConfigMaps on the host (one per annotated source).
    Federated,
    /// The managed copies on a member cluster.
    Member(&'static str),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Federated => f.write_str("host FederatedConfigMaps"),
            Place::Member(m) => f.write_str(m),
        }
    }
}

/// Every place.
pub const EVERYWHERE: [Place; 3] = [Place::Federated, Place::Member(MEMBERS[0]), Place::Member(MEMBERS[1])];

/// Object name → content marker.
type Set = BTreeMap<String, String>;

/// Lost and extra objects summed over the compared places, with the first few named.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// Desired objects missing or stale.
    pub lost: usize,
    /// Objects present that should not be.
    pub extra: usize,
    /// Up to [`Diff::SHOWN`] examples.
    pub examples: Vec<String>,
}

impl Diff {
    const SHOWN: usize = 5;

    /// Nothing lost, nothing extra.
    pub fn is_empty(&self) -> bool {
        self.lost == 0 && self.extra == 0
    }

    fn example(&mut self, text: String) {
        if self.examples.len() < Self::SHOWN {
            self.examples.push(text);
        }
    }

    /// Adds the differences of one place.
    fn compare(&mut self, place: Place, desired: &Set, actual: &Set) {
        for (name, want) in desired {
            match actual.get(name) {
                Some(have) if have == want => {}
                Some(have) => {
                    self.lost += 1;
                    self.example(format!("{place}: {name} stale (v={have}, want {want})"));
                }
                None => {
                    self.lost += 1;
                    self.example(format!("{place}: {name} missing"));
                }
            }
        }
        for name in actual.keys().filter(|n| !desired.contains_key(*n)) {
            self.extra += 1;
            self.example(format!("{place}: {name} should not exist"));
        }
    }
}

fn marker(data: Option<&BTreeMap<String, String>>) -> String {
    data.and_then(|d| d.get("v")).cloned().unwrap_or_default()
}

/// The desired set of `place`, from the annotated ConfigMaps on the host.
fn desired_for(sources: &[ConfigMap], place: Place) -> Set {
    sources
        .iter()
        .filter_map(|cm| {
            let placement = cm.metadata.annotations.as_ref()?.get("kubefed.io/placement")?;
            let placed = match place {
                Place::Federated => true,
                Place::Member(m) => placement.split(',').any(|c| c.trim() == m),
            };
            placed.then(|| (cm.metadata.name.clone().unwrap_or_default(), marker(cm.data.as_ref())))
        })
        .collect()
}

/// The FederatedConfigMaps of namespace `ns` on the host.
pub fn federated_configmaps(bed: &Bed, ns: &str) -> Api<Federated> {
    let gvk = GroupVersionKind::gvk("types.kubefed.io", "v1beta1", "FederatedConfigMap");
    Api::namespaced_with(bed.earth.clone(), ns, &ApiResource::from_gvk_with_plural(&gvk, "federatedconfigmaps"))
}

async fn actual_in(bed: &Bed, ns: &str, place: Place) -> anyhow::Result<Set> {
    match place {
        Place::Federated => Ok(federated_configmaps(bed, ns)
            .list(&ListParams::default())
            .await?
            .into_iter()
            .map(|f| {
                let v = f.spec.template.as_ref().and_then(|t| t.pointer("/data/v")).and_then(|v| v.as_str());
                (f.metadata.name.unwrap_or_default(), v.unwrap_or_default().to_string())
            })
            .collect()),
        Place::Member(m) => {
            let api: Api<ConfigMap> = Api::namespaced(bed.cluster(m).clone(), ns);
            Ok(api
                .list(&ListParams::default().labels("kubefed.io/managed=true"))
                .await?
                .into_iter()
                .map(|cm| (cm.metadata.name.clone().unwrap_or_default(), marker(cm.data.as_ref())))
                .collect())
        }
    }
}

/// Compares the desired and actual sets of `places` once.
pub async fn diff(bed: &Bed, ns: &str, places: &[Place]) -> anyhow::Result<Diff> {
    let sources = Api::<ConfigMap>::namespaced(bed.earth.clone(), ns).list(&ListParams::default()).await?.items;
    let mut diff = Diff::default();
    for &place in places {
        diff.compare(place, &desired_for(&sources, place), &actual_in(bed, ns, place).await?);
    }
    Ok(diff)
}

/// How [`converge`] ended.
#[derive(Debug)]
pub struct Convergence {
    /// Time until the places matched (and kept matching for the hold time); `None` if they
    /// never did before the deadline.
    pub after: Option<Duration>,
    /// The last comparison (empty when converged).
    pub diff: Diff,
}

/// Polls [`diff`] until `places` match, measured from `since`, and checks they keep matching
/// for a few seconds (no late write undoes the result); gives up at `deadline` after `since`.
pub async fn converge(bed: &Bed, ns: &str, places: &[Place], since: Instant, deadline: Duration) -> Convergence {
    let mut matched: Option<Instant> = None;
    let mut last = Diff::default();
    loop {
        match diff(bed, ns, places).await {
            Ok(d) if d.is_empty() => {
                let at = *matched.get_or_insert_with(Instant::now);
                if at.elapsed() >= HOLD {
                    return Convergence { after: Some(at - since), diff: d };
                }
            }
            Ok(d) => {
                matched = None;
                last = d;
            }
            // A member that has just come back may drop the first request; the next poll retries.
            Err(e) => {
                matched = None;
                last.examples = vec![format!("comparing: {e}")];
            }
        }
        if since.elapsed() > deadline {
            return Convergence { after: None, diff: last };
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[(&str, &str)]) -> Set {
        items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn stale_and_missing_are_lost_unwanted_is_extra() {
        let mut d = Diff::default();
        d.compare(
            Place::Member("vulcan"),
            &set(&[("a", "1"), ("b", "0"), ("c", "2")]),
            &set(&[("a", "1"), ("b", "1"), ("x", "0")]),
        );
        assert_eq!((d.lost, d.extra), (2, 1));
        assert_eq!(d.examples, ["vulcan: b stale (v=1, want 0)", "vulcan: c missing", "vulcan: x should not exist"]);
        let mut same = Diff::default();
        same.compare(Place::Federated, &set(&[("a", "1")]), &set(&[("a", "1")]));
        assert!(same.is_empty());
    }

    #[test]
    fn desired_follows_each_sources_placement() {
        let cm = |name: &str, placement: Option<&str>, v: &str| -> ConfigMap {
            let annotations = placement.map(|p| serde_json::json!({ "kubefed.io/placement": p }));
            serde_json::from_value(serde_json::json!({
                "metadata": { "name": name, "annotations": annotations }, "data": { "v": v }
            }))
            .unwrap()
        };
        let sources = [cm("a", Some("vulcan,kronos"), "1"), cm("b", Some("kronos"), "0"), cm("plain", None, "0")];
        assert_eq!(desired_for(&sources, Place::Member("vulcan")), set(&[("a", "1")]));
        assert_eq!(desired_for(&sources, Place::Member("kronos")), set(&[("a", "1"), ("b", "0")]));
        assert_eq!(desired_for(&sources, Place::Federated), set(&[("a", "1"), ("b", "0")]));
    }
}
