//! What the capacity ledger reads of a node: what it offers pods and whether new pods may land
//! on it.

use k8s_openapi::api::core::v1::Node;

use super::resources::Resources;

/// The facts about one node that capacity needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeFacts {
    /// `status.allocatable`: what pods may request on it in all.
    pub allocatable: Resources,
    /// New pods can be scheduled here: `Ready` is `True`, the node is not cordoned
    /// (`spec.unschedulable`) and carries no `NoSchedule` or `NoExecute` taint.
    pub schedulable: bool,
}

/// The [`NodeFacts`] of `node`.
///
/// A tainted node counts as unschedulable even though pods tolerating the taint may still land
/// there: the capacity is for ordinary workloads, which do not tolerate it.
pub fn node_facts(node: &Node) -> NodeFacts {
    let status = node.status.as_ref();
    let allocatable = status.and_then(|s| s.allocatable.as_ref()).map(Resources::of_list).unwrap_or_default();
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    let spec = node.spec.as_ref();
    let cordoned = spec.and_then(|s| s.unschedulable).unwrap_or(false);
    let tainted = spec
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .any(|t| t.effect == "NoSchedule" || t.effect == "NoExecute");
    NodeFacts { allocatable, schedulable: ready && !cordoned && !tainted }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{NodeCondition, NodeSpec, NodeStatus, Taint};
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    use super::*;

    fn node(ready: Option<&str>, unschedulable: Option<bool>, taint: Option<&str>) -> Node {
        let allocatable = [("cpu", "1930m"), ("memory", "7Gi"), ("pods", "110"), ("ephemeral-storage", "10G")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
            .collect::<BTreeMap<_, _>>();
        Node {
            spec: Some(NodeSpec {
                unschedulable,
                taints: taint
                    .map(|effect| vec![Taint { key: "k".into(), effect: effect.into(), ..Default::default() }]),
                ..Default::default()
            }),
            status: Some(NodeStatus {
                allocatable: Some(allocatable),
                conditions: ready.map(|s| {
                    vec![
                        NodeCondition { type_: "MemoryPressure".into(), status: "False".into(), ..Default::default() },
                        NodeCondition { type_: "Ready".into(), status: s.into(), ..Default::default() },
                    ]
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn facts() {
        let allocatable = Resources { cpu_millis: 1930, memory_bytes: 7 << 30, pods: 110 };
        let table = [
            ("ready", node(Some("True"), None, None), true),
            ("explicitly schedulable", node(Some("True"), Some(false), Some("PreferNoSchedule")), true),
            ("not ready", node(Some("False"), None, None), false),
            ("readiness unknown", node(Some("Unknown"), None, None), false),
            ("no conditions yet", node(None, None, None), false),
            ("cordoned", node(Some("True"), Some(true), None), false),
            ("NoSchedule taint", node(Some("True"), None, Some("NoSchedule")), false),
            ("NoExecute taint", node(Some("True"), None, Some("NoExecute")), false),
        ];
        for (what, n, schedulable) in table {
            assert_eq!(node_facts(&n), NodeFacts { allocatable, schedulable }, "{what}");
        }
        assert_eq!(node_facts(&Node::default()), NodeFacts::default());
    }
}
