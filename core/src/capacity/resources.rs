//! [`Resources`]: CPU, memory and pods, the amounts the scheduler fits pods by.

use std::collections::BTreeMap;
use std::ops::{Add, Sub};

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::quantity::{parse_quantity, parse_quantity_millis};

/// An amount of the resources the scheduler fits pods by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    /// CPU in millicores.
    pub cpu_millis: i64,
    /// Memory in bytes.
    pub memory_bytes: i64,
    /// Pods.
    pub pods: i64,
}

impl Resources {
    /// The `cpu`, `memory` and `pods` of a resource list (a request, an overhead, a node's
    /// allocatable); a resource missing or not a quantity is 0.
    pub fn of_list(list: &BTreeMap<String, Quantity>) -> Resources {
        let get = |name: &str, parse: fn(&str) -> Option<i64>| list.get(name).and_then(|q| parse(&q.0)).unwrap_or(0);
        Resources {
            cpu_millis: get("cpu", parse_quantity_millis),
            memory_bytes: get("memory", parse_quantity),
            pods: get("pods", parse_quantity),
        }
    }

    /// The larger of `self` and `other`, per resource.
    pub fn max_each(self, other: Resources) -> Resources {
        self.zip(other, i64::max)
    }

    fn zip(self, other: Resources, f: impl Fn(i64, i64) -> i64) -> Resources {
        Resources {
            cpu_millis: f(self.cpu_millis, other.cpu_millis),
            memory_bytes: f(self.memory_bytes, other.memory_bytes),
            pods: f(self.pods, other.pods),
        }
    }
}

/// Per resource, saturating at the bounds of `i64`.
impl Add for Resources {
    type Output = Resources;

    fn add(self, other: Resources) -> Resources {
        self.zip(other, i64::saturating_add)
    }
}

/// Per resource, saturating at the bounds of `i64` (the result may be negative: a node can be
/// overcommitted, e.g. when its allocatable shrank under running pods).
impl Sub for Resources {
    type Output = Resources;

    fn sub(self, other: Resources) -> Resources {
        self.zip(other, i64::saturating_sub)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(cpu_millis: i64, memory_bytes: i64, pods: i64) -> Resources {
        Resources { cpu_millis, memory_bytes, pods }
    }

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(res(i64::MAX, 1, 1) + res(1, 1, 1), res(i64::MAX, 2, 2));
        assert_eq!(res(i64::MIN, 0, 0) - res(1, 1, 0), res(i64::MIN, -1, 0));
        assert_eq!(res(1, 5, 3).max_each(res(2, 4, 3)), res(2, 5, 3));
    }

    #[test]
    fn resource_lists() {
        let list =
            [("cpu", "1500m"), ("memory", "1Gi"), ("pods", "110"), ("nvidia.com/gpu", "1"), ("hugepages-2Mi", "x")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                .collect();
        assert_eq!(Resources::of_list(&list), res(1500, 1 << 30, 110));
        let bad = BTreeMap::from([("cpu".to_string(), Quantity("lots".into()))]);
        assert_eq!(Resources::of_list(&bad), Resources::default());
    }
}
