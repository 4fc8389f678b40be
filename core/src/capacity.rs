//! A member cluster's capacity, as the facts overflow needs: what each node offers and what its
//! pods request ([`node_facts`], [`pod_requests`]), how many more pods of a size fit
//! ([`room_for`]), the totals shown in the KubeFedCluster status ([`summarize`]), and which
//! workload's pods the scheduler could not place, since when ([`owner_workload`],
//! [`unschedulable_since`]). Quantities are parsed by [`parse_quantity`] and
//! [`parse_quantity_millis`].
//!
//! The controller process keeps these per member from node and pod watches (fed-webhook's
//! `controllers::capacity`); everything here is a function of the objects it is given.

mod node;
mod pod;
mod quantity;
mod resources;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use node::{NodeFacts, node_facts};
pub use pod::{WorkloadKey, owner_workload, pod_requests, unschedulable_since};
pub use quantity::{parse_quantity, parse_quantity_millis};
pub use resources::Resources;

/// How many more pods requesting `request` fit in the cluster whose nodes are `nodes` (each
/// with the summed requests of the pods bound to it): per schedulable node, the smallest over
/// the resources of ⌊free ÷ request⌋, summed. A zero CPU or memory request does not limit; the
/// pod count always does (a request of fewer than one pod counts as one).
///
/// Like the scheduler's fit check on requests only: node selectors, affinity, taints a workload
/// tolerates, topology spread and other resources (GPUs, ephemeral storage) are not considered.
pub fn room_for<'a>(nodes: impl IntoIterator<Item = (&'a NodeFacts, &'a Resources)>, request: &Resources) -> i64 {
    nodes
        .into_iter()
        .filter(|(node, _)| node.schedulable)
        .map(|(node, requested)| fits(node.allocatable - *requested, request))
        .fold(0, i64::saturating_add)
}

/// How many pods of `request` fit in `free`.
fn fits(free: Resources, request: &Resources) -> i64 {
    let per = |free: i64, each: i64| (each > 0).then(|| free.max(0) / each);
    [
        per(free.cpu_millis, request.cpu_millis),
        per(free.memory_bytes, request.memory_bytes),
        per(free.pods, request.pods.max(1)),
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or(0)
}

/// A member cluster's resources in all, as its KubeFedCluster status shows them (Karmada keeps
/// the same in `Cluster.status.resourceSummary`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSummary {
    /// What the schedulable nodes offer pods in all (their `status.allocatable`).
    pub allocatable: Resources,
    /// What the pods bound to those nodes request in all (pods that have finished excluded).
    pub requested: Resources,
}

/// The [`ResourceSummary`] of `nodes` (each with the summed requests of its pods), over the
/// schedulable ones.
pub fn summarize<'a>(nodes: impl IntoIterator<Item = (&'a NodeFacts, &'a Resources)>) -> ResourceSummary {
    nodes.into_iter().filter(|(node, _)| node.schedulable).fold(ResourceSummary::default(), |sum, (node, requested)| {
        ResourceSummary { allocatable: sum.allocatable + node.allocatable, requested: sum.requested + *requested }
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn res(cpu_millis: i64, memory_bytes: i64, pods: i64) -> Resources {
        Resources { cpu_millis, memory_bytes, pods }
    }

    /// Nodes with the summed requests of their pods.
    type Nodes = Vec<(NodeFacts, Resources)>;

    fn node(cpu: i64, memory: i64, pods: i64, schedulable: bool) -> NodeFacts {
        NodeFacts { allocatable: res(cpu, memory, pods), schedulable }
    }

    #[test]
    fn room() {
        let big = node(4000, 8000, 110, true);
        let table: Vec<(&str, Nodes, Resources, i64)> = vec![
            ("no nodes", vec![], res(100, 100, 1), 0),
            ("cpu limits", vec![(big, res(1000, 0, 3))], res(500, 100, 1), 6),
            ("memory limits", vec![(big, res(0, 7000, 3))], res(100, 300, 1), 3),
            ("pods limit", vec![(node(4000, 8000, 5, true), res(0, 0, 3))], res(1, 1, 1), 2),
            ("zero cpu and memory requests: only pods limit", vec![(big, res(3999, 7999, 10))], res(0, 0, 1), 100),
            ("a request of no pods counts as one", vec![(node(1000, 1000, 4, true), res(0, 0, 0))], res(0, 0, 0), 4),
            ("summed per node, not pooled", vec![(big, res(3800, 0, 0)), (big, res(3800, 0, 0))], res(300, 0, 1), 0),
            ("nodes add up", vec![(big, res(3000, 0, 0)), (big, res(3500, 0, 0))], res(250, 0, 1), 6),
            ("unschedulable nodes offer nothing", vec![(node(4000, 8000, 110, false), res(0, 0, 0))], res(1, 1, 1), 0),
            ("an overcommitted node offers nothing", vec![(big, res(5000, 0, 1))], res(1, 0, 1), 0),
        ];
        for (what, nodes, request, want) in table {
            assert_eq!(room_for(nodes.iter().map(|(n, r)| (n, r)), &request), want, "{what}");
        }
    }

    #[test]
    fn summary_covers_schedulable_nodes() {
        let nodes = [
            (node(2000, 4096, 110, true), res(1400, 1024, 12)),
            (node(1000, 2048, 110, true), res(100, 0, 2)),
            (node(8000, 9999, 110, false), res(500, 500, 5)),
        ];
        assert_eq!(
            summarize(nodes.iter().map(|(n, r)| (n, r))),
            ResourceSummary { allocatable: res(3000, 6144, 220), requested: res(1500, 1024, 14) }
        );
        assert_eq!(summarize([]), ResourceSummary::default());
    }

    #[test]
    fn summary_serializes_in_camel_case() {
        let s = ResourceSummary { allocatable: res(2000, 1, 110), requested: res(1400, 0, 3) };
        assert_eq!(
            serde_json::to_value(s).unwrap(),
            serde_json::json!({
                "allocatable": { "cpuMillis": 2000, "memoryBytes": 1, "pods": 110 },
                "requested": { "cpuMillis": 1400, "memoryBytes": 0, "pods": 3 },
            })
        );
    }

    proptest! {
        /// Filling a node with as many pods as `room_for` allows leaves no room, and each of them
        /// fitted (on a node that had room): the answer is exact for one node.
        #[test]
        fn room_is_exact_on_one_node(
            alloc in (0i64..10_000, 0i64..10_000, 0i64..200),
            used in (0i64..10_000, 0i64..10_000, 0i64..200),
            req in (0i64..2_000, 0i64..2_000, 1i64..3),
        ) {
            let n = node(alloc.0, alloc.1, alloc.2, true);
            let used = res(used.0, used.1, used.2);
            let req = res(req.0, req.1, req.2);
            let k = room_for([(&n, &used)], &req);
            prop_assert!(k >= 0);
            let mut filled = used;
            for _ in 0..k {
                filled = filled + req;
            }
            let free = n.allocatable - filled;
            if k > 0 {
                prop_assert!(free.cpu_millis >= 0 || req.cpu_millis == 0);
                prop_assert!(free.memory_bytes >= 0 || req.memory_bytes == 0);
                prop_assert!(free.pods >= 0);
            }
            prop_assert_eq!(room_for([(&n, &filled)], &req), 0);
        }
    }
}
