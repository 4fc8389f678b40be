//! Make before break: a division that moves replicas takes them from a cluster only as fast as
//! the clusters that gain them run them (see [`handover`]).

use std::collections::BTreeMap;

/// The layout to write on the way from `current` (the division as written) to `plan` (the one
/// wanted), given the `ready` replicas per cluster (missing: 0).
///
/// Clusters that gain, or keep, get their planned count at once. A cluster that loses replicas
/// gives up its not-ready ones at once, and its ready ones only as far as the ready replicas of
/// the whole workload stay at least what they were (capped at the planned total): a replica
/// moved to another cluster is stopped only once its replacement runs there. Losing clusters
/// give up ready replicas in name order. With nothing ready yet, or only gains, this is `plan`.
pub fn handover(
    plan: &BTreeMap<String, i64>,
    current: &BTreeMap<String, i64>,
    ready: &BTreeMap<String, i64>,
) -> BTreeMap<String, i64> {
    let get = |m: &BTreeMap<String, i64>, c: &str| m.get(c).copied().unwrap_or(0).max(0);
    let losing = |c: &str| get(plan, c) < get(current, c);
    let ready_now: i64 = current.keys().map(|c| get(ready, c).min(get(current, c))).sum();
    let needed = ready_now.min(plan.values().map(|n| (*n).max(0)).sum());
    // Ready replicas once every cluster but the losing ones has its plan, the losing ones
    // holding every ready replica they have.
    let kept: i64 = plan
        .keys()
        .map(|c| if losing(c) { get(ready, c).min(get(current, c)) } else { get(ready, c).min(get(plan, c)) })
        .sum();
    let mut spare = (kept - needed).max(0);
    let mut out = plan.clone();
    for (c, n) in out.iter_mut() {
        if !losing(c) {
            continue;
        }
        let (ready_there, planned) = (get(ready, c).min(get(current, c)), get(plan, c));
        let give = spare.min((ready_there - planned).max(0));
        spare -= give;
        *n = planned.max(ready_there - give);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
        pairs.iter().map(|(c, n)| (c.to_string(), *n)).collect()
    }

    /// Replicas per cluster, as `(cluster, n)` pairs.
    type Counts<'a> = &'a [(&'a str, i64)];

    #[test]
    fn table() {
        // (what, plan, current, ready, expected)
        let cases: [(&str, Counts, Counts, Counts, Counts); 8] = [
            (
                "only gains: the plan",
                &[("a", 4), ("b", 2)],
                &[("a", 2), ("b", 2)],
                &[("a", 2), ("b", 2)],
                &[("a", 4), ("b", 2)],
            ),
            (
                "room returns on a: b waits for a's new pods",
                &[("a", 4), ("b", 0)],
                &[("a", 2), ("b", 2)],
                &[("a", 2), ("b", 2)],
                &[("a", 4), ("b", 2)],
            ),
            (
                "a runs one more: b gives one",
                &[("a", 4), ("b", 0)],
                &[("a", 4), ("b", 2)],
                &[("a", 3), ("b", 2)],
                &[("a", 4), ("b", 1)],
            ),
            (
                "a runs all: b empties",
                &[("a", 4), ("b", 0)],
                &[("a", 4), ("b", 2)],
                &[("a", 4), ("b", 2)],
                &[("a", 4), ("b", 0)],
            ),
            (
                "b's pending replicas go at once",
                &[("a", 4), ("b", 0)],
                &[("a", 2), ("b", 4)],
                &[("a", 2), ("b", 2)],
                &[("a", 4), ("b", 2)],
            ),
            (
                "a scale-down is not held",
                &[("a", 2), ("b", 1)],
                &[("a", 4), ("b", 2)],
                &[("a", 4), ("b", 2)],
                &[("a", 2), ("b", 1)],
            ),
            ("nothing ready yet: the plan", &[("a", 4), ("b", 0)], &[("a", 2), ("b", 2)], &[], &[("a", 4), ("b", 0)]),
            (
                "two losing clusters give in name order",
                &[("a", 6), ("b", 0), ("c", 0)],
                &[("a", 2), ("b", 2), ("c", 2)],
                &[("a", 3), ("b", 2), ("c", 2)],
                &[("a", 6), ("b", 1), ("c", 2)],
            ),
        ];
        for (what, plan, current, ready, want) in cases {
            assert_eq!(handover(&counts(plan), &counts(current), &counts(ready)), counts(want), "{what}");
        }
    }
}
