//! The type config supervisor: watches FederatedTypeConfigs and starts and stops the
//! controllers of each type as configs are created, changed, disabled or deleted.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use fed_core::api::{Federated, FederatedTypeConfig};
use futures::StreamExt;
use futures::channel::mpsc;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::reflector::{self, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use tracing::{info, warn};

use super::handle::{TypeHandle, TypeSpec};
use super::shared::Shared;
use super::tasks::AbortOnDrop;
use super::{materialize, release, replicas, sync, triggers};
use crate::metrics::ControllerLabel;

/// The type specs of the configs (not being deleted) that are enabled, or with `enabled`
/// false, disabled.
pub fn type_specs(configs: &[Arc<FederatedTypeConfig>], enabled: bool) -> BTreeMap<String, TypeSpec> {
    configs
        .iter()
        .filter(|c| c.is_enabled() == enabled && c.metadata.deletion_timestamp.is_none())
        .map(|c| {
            let spec = TypeSpec {
                config_name: c.name_any(),
                target: c.spec.target_type.clone(),
                federated: c.spec.federated_type.clone(),
            };
            (spec.config_name.clone(), spec)
        })
        .collect()
}

/// The tasks of one type, stopped when dropped.
struct Running {
    spec: TypeSpec,
    _tasks: Vec<AbortOnDrop<()>>,
}

/// Watches FederatedTypeConfigs and starts/stops the per-type controllers (for enabled types)
/// and the release controllers (for disabled ones, see [`release`]).
pub async fn run(shared: Arc<Shared>) -> anyhow::Result<()> {
    let (configs, writer) = reflector::store::<FederatedTypeConfig>();
    let api: Api<FederatedTypeConfig> = Api::namespaced(shared.host.clone(), &shared.opts.federation_namespace);
    let mut events = std::pin::pin!(reflector::reflector(
        writer,
        watcher(api, watcher::Config::default()).default_backoff().modify(|c| c.managed_fields_mut().clear()),
    ));
    let mut running: HashMap<String, Running> = HashMap::new();
    let mut released: HashMap<String, Running> = HashMap::new();
    while let Some(ev) = events.next().await {
        match ev {
            Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_) | watcher::Event::InitDone) => {}
            Ok(_) => continue,
            Err(e) => {
                warn!(error = %e, "watching FederatedTypeConfigs");
                continue;
            }
        }
        let configs = configs.state();
        converge_enabled(&shared, &mut running, type_specs(&configs, true));
        // After the stops above, so a type switched to Disabled has no sync controller left that
        // could add the finalizer back.
        converge_disabled(&shared, &mut released, type_specs(&configs, false));
    }
    anyhow::bail!("FederatedTypeConfig watch ended")
}

/// Stops the controllers of types no longer enabled (or changed) and starts those of newly
/// enabled types.
fn converge_enabled(shared: &Arc<Shared>, running: &mut HashMap<String, Running>, desired: BTreeMap<String, TypeSpec>) {
    running.retain(|name, r| {
        let keep = desired.get(name) == Some(&r.spec);
        if !keep {
            shared.types.remove(name);
            info!(type_config = %name, "stopped controllers for type");
        }
        keep
    });
    for (name, spec) in desired {
        if running.contains_key(&name) {
            continue;
        }
        let (handle, tasks) = start_type(shared.clone(), spec.clone());
        shared.types.insert(&name, handle);
        info!(type_config = %name, federated = %spec.federated.kind, "started controllers for type");
        running.insert(name, Running { spec, _tasks: tasks });
    }
}

/// Keeps one release controller per disabled type.
fn converge_disabled(shared: &Shared, released: &mut HashMap<String, Running>, disabled: BTreeMap<String, TypeSpec>) {
    released.retain(|name, r| disabled.get(name) == Some(&r.spec));
    for (name, spec) in disabled {
        if released.contains_key(&name) {
            continue;
        }
        let metrics = shared.metrics.reconciles(ControllerLabel::Release, &name);
        let task = AbortOnDrop::spawn(release::run(
            shared.host.clone(),
            spec.federated.api_resource(),
            metrics,
            shared.opts.max_backoff,
        ));
        info!(type_config = %name, "type disabled: releasing its deleted federated objects");
        released.insert(name, Running { spec, _tasks: vec![task] });
    }
}

/// Starts the controllers of one enabled type: the federated-object watch, materialize, sync,
/// the member-copy watches and, for workloads whose replicas can be divided, replicas.
fn start_type(shared: Arc<Shared>, spec: TypeSpec) -> (Arc<TypeHandle>, Vec<AbortOnDrop<()>>) {
    let writer = Writer::<Federated>::new(spec.federated.api_resource());
    let (sync_tx, sync_rx) = mpsc::unbounded();
    let handle = Arc::new(TypeHandle::new(spec, writer.as_reader(), sync_tx));
    let (mat, mut tasks) = materialize::start(shared.clone(), handle.clone());
    let divided = replicas::divides(&handle).then(|| replicas::start(shared.clone(), handle.clone()));
    let replicas = divided.map(|(queue, more)| {
        tasks.extend(more);
        queue
    });
    tasks.push(AbortOnDrop::spawn(triggers::watch_federated(shared.clone(), handle.clone(), writer, mat, replicas)));
    tasks.push(AbortOnDrop::spawn(sync::run(shared.clone(), handle.clone(), sync_rx)));
    tasks.push(AbortOnDrop::spawn(triggers::manage_member_watches(shared, handle.clone())));
    (handle, tasks)
}

#[cfg(test)]
mod tests {
    use fed_core::api::{ApiResourceRef, FederatedTypeConfigSpec, Propagation, Scope};

    use super::*;

    #[test]
    fn configs_split_into_enabled_and_disabled() {
        let target = ApiResourceRef::v1("apps", "Deployment", "deployments", Scope::Namespaced);
        let mk = |name: &str, p: Propagation| {
            let mut spec = FederatedTypeConfigSpec::for_target(target.clone());
            spec.propagation = p;
            Arc::new(FederatedTypeConfig::new(name, spec))
        };
        let configs = [mk("deployments.apps", Propagation::Enabled), mk("x", Propagation::Disabled)];
        let d = type_specs(&configs, true);
        assert_eq!(d.keys().collect::<Vec<_>>(), vec!["deployments.apps"]);
        assert_eq!(d["deployments.apps"].federated.kind, "FederatedDeployment");
        assert_eq!(type_specs(&configs, false).keys().collect::<Vec<_>>(), vec!["x"]);
    }
}
