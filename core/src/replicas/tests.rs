//! Table tests of the division: KubeFed's documented examples and the edges.

use std::collections::BTreeMap;

use super::*;
use crate::api::{ClusterPreferences, ClusterPreferencesMap, ReplicaSchedulingPreferenceSpec};

/// `(key, min, max, weight)` entries.
fn prefs(entries: &[(&str, i64, Option<i64>, i64)]) -> ClusterPreferencesMap {
    entries
        .iter()
        .map(|(k, min, max, weight)| {
            (k.to_string(), ClusterPreferences { min_replicas: *min, max_replicas: *max, weight: *weight })
        })
        .collect()
}

fn layout(entries: &[(&str, i64)]) -> BTreeMap<String, i64> {
    entries.iter().map(|(k, n)| (k.to_string(), *n)).collect()
}

const ABC: [&str; 3] = ["A", "B", "C"];

struct Case {
    name: &'static str,
    total: i64,
    prefs: ClusterPreferencesMap,
    clusters: Vec<&'static str>,
    want: BTreeMap<String, i64>,
    unassigned: i64,
}

fn case(
    name: &'static str,
    total: i64,
    p: &[(&str, i64, Option<i64>, i64)],
    clusters: &[&'static str],
    want: &[(&str, i64)],
    unassigned: i64,
) -> Case {
    Case { name, total, prefs: prefs(p), clusters: clusters.to_vec(), want: layout(want), unassigned }
}

/// The examples of KubeFed's user guide ("ReplicaSchedulingPreference"), clusters A, B, C.
fn documented() -> Vec<Case> {
    let star_c20: &[(&str, i64, Option<i64>, i64)] = &[("*", 0, None, 1), ("C", 0, Some(20), 1)];
    vec![
        case("no preferences: even", 9, &[], &ABC, &[("A", 3), ("B", 3), ("C", 3)], 0),
        case("* weight 1: even", 9, &[("*", 0, None, 1)], &ABC, &[("A", 3), ("B", 3), ("C", 3)], 0),
        case(
            "weights 1:2, C none",
            9,
            &[("A", 0, None, 1), ("B", 0, None, 2)],
            &ABC,
            &[("A", 3), ("B", 6), ("C", 0)],
            0,
        ),
        case(
            "min/max example",
            9,
            &[("A", 4, Some(6), 1), ("B", 4, Some(8), 2)],
            &ABC,
            &[("A", 4), ("B", 5), ("C", 0)],
            0,
        ),
        // KubeFed shows A=16 B=17 C=17 (its tie-break hashes names); ours goes by name.
        case("50, C max 20, all up", 50, star_c20, &ABC, &[("A", 17), ("B", 17), ("C", 16)], 0),
        case("50, C max 20, B offline", 50, star_c20, &["A", "C"], &[("A", 30), ("C", 20)], 0),
        case("50, C max 20, A and B offline", 50, star_c20, &["C"], &[("C", 20)], 30),
    ]
}

/// Totals, caps and weight-0 clusters.
fn edges_totals_and_caps() -> Vec<Case> {
    vec![
        case("total 0", 0, &[("A", 2, None, 1)], &ABC, &[("A", 0), ("B", 0), ("C", 0)], 0),
        case("negative total reads as 0", -5, &[], &["A"], &[("A", 0)], 0),
        case("no clusters", 7, &[], &[], &[], 7),
        case("one replica, even: first name", 1, &[], &ABC, &[("A", 1), ("B", 0), ("C", 0)], 0),
        case(
            "all caps below total",
            10,
            &[("A", 0, Some(2), 1), ("B", 0, Some(3), 1)],
            &["A", "B"],
            &[("A", 2), ("B", 3)],
            5,
        ),
        case(
            "cap cascades to the others",
            10,
            &[("A", 0, Some(1), 3), ("B", 0, Some(2), 2), ("C", 0, None, 1)],
            &ABC,
            &[("A", 1), ("B", 2), ("C", 7)],
            0,
        ),
        case(
            "weights 0: only minimums",
            10,
            &[("A", 2, None, 0), ("B", 1, None, 0)],
            &["A", "B"],
            &[("A", 2), ("B", 1)],
            7,
        ),
        case("* with min only", 5, &[("*", 1, None, 0)], &ABC, &[("A", 1), ("B", 1), ("C", 1)], 2),
        case(
            "weight-0 cluster is not a fallback for caps",
            10,
            &[("A", 0, Some(4), 1), ("B", 3, None, 0)],
            &["A", "B"],
            &[("A", 4), ("B", 3)],
            3,
        ),
    ]
}

/// Which entry a cluster uses, and minimums above the total.
fn edges_entries() -> Vec<Case> {
    let w1 = ("*", 0, None, 1);
    vec![
        case(
            "explicit entry replaces * (no weight: none)",
            9,
            &[w1, ("kronos", 0, Some(20), 0)],
            &["earth", "kronos", "vulcan"],
            &[("earth", 5), ("kronos", 0), ("vulcan", 4)],
            0,
        ),
        case("* plus explicit weight", 8, &[w1, ("B", 0, None, 2)], &ABC, &[("A", 2), ("B", 4), ("C", 2)], 0),
        case(
            "min sum > total: higher weight first",
            7,
            &[("A", 5, None, 1), ("B", 5, None, 2)],
            &["A", "B"],
            &[("A", 2), ("B", 5)],
            0,
        ),
        case(
            "min sum > total: equal weights by name",
            7,
            &[("A", 5, None, 1), ("B", 5, None, 1)],
            &["A", "B"],
            &[("A", 5), ("B", 2)],
            0,
        ),
        case(
            "unknown clusters in prefs are ignored",
            9,
            &[("mars", 0, None, 5), ("A", 0, None, 1)],
            &["A", "B"],
            &[("A", 9), ("B", 0)],
            0,
        ),
        case("prefs only for absent clusters", 9, &[("mars", 0, None, 5)], &["A", "B"], &[("A", 0), ("B", 0)], 9),
        case(
            "negative numbers read as 0",
            6,
            &[("A", -3, None, -1), ("B", 0, None, 1)],
            &["A", "B"],
            &[("A", 0), ("B", 6)],
            0,
        ),
    ]
}

/// Odd numbers, duplicates and remainder ties.
fn edges_numbers_and_rounding() -> Vec<Case> {
    let w1 = ("*", 0, None, 1);
    vec![
        case(
            "negative max caps at 0",
            6,
            &[("A", 0, Some(-1), 1), ("B", 0, None, 1)],
            &["A", "B"],
            &[("A", 0), ("B", 6)],
            0,
        ),
        case(
            "min above max: max wins",
            10,
            &[("A", 5, Some(2), 1), ("B", 0, None, 1)],
            &["A", "B"],
            &[("A", 2), ("B", 8)],
            0,
        ),
        case("max 0 excludes", 4, &[("A", 0, Some(0), 5), w1], &["A", "B"], &[("A", 0), ("B", 4)], 0),
        case(
            "duplicates and order do not matter",
            9,
            &[("A", 0, None, 1), ("B", 0, None, 2)],
            &["C", "B", "A", "B"],
            &[("A", 3), ("B", 6), ("C", 0)],
            0,
        ),
        case(
            "equal fractions: higher weight",
            2,
            &[("A", 0, None, 1), ("B", 0, None, 3)],
            &["A", "B"],
            &[("A", 0), ("B", 2)],
            0,
        ),
        case(
            "largest fraction wins over name",
            4,
            &[("A", 0, None, 1), ("B", 0, None, 2)],
            &["A", "B"],
            &[("A", 1), ("B", 3)],
            0,
        ),
        case(
            "minimum plus weighted rest",
            6,
            &[("A", 3, None, 1), ("B", 0, None, 1)],
            &["A", "B"],
            &[("A", 5), ("B", 1)],
            0,
        ),
    ]
}

#[test]
fn documented_examples() {
    for c in documented() {
        check(&c);
    }
}

#[test]
fn edge_cases() {
    for c in [edges_totals_and_caps(), edges_entries(), edges_numbers_and_rounding()].into_iter().flatten() {
        check(&c);
    }
}

fn check(c: &Case) {
    let plan = divide(c.total, &c.prefs, &c.clusters, None);
    assert_eq!(plan.replicas, c.want, "{}", c.name);
    assert_eq!(plan.unassigned, c.unassigned, "{}: unassigned", c.name);
    let fresh = divide(c.total, &c.prefs, &c.clusters, Some(&BTreeMap::new()));
    assert_eq!(fresh, plan, "{}: rebalance=false with nothing running", c.name);
}

#[test]
fn huge_numbers_do_not_overflow() {
    let p = prefs(&[("A", i64::MAX, None, i64::MAX), ("B", 0, Some(i64::MAX), i64::MAX), ("C", 0, None, 1)]);
    let plan = divide(i64::MAX, &p, ABC, None);
    assert_eq!(plan.replicas, layout(&[("A", i64::MAX), ("B", 0), ("C", 0)]));
    let p = prefs(&[("*", 0, None, i64::MAX)]);
    let plan = divide(i64::MAX, &p, ABC, None);
    assert_eq!((plan.assigned(), plan.unassigned), (i64::MAX, 0));
    let current = layout(&[("A", i64::MAX), ("B", i64::MAX), ("C", 0)]);
    let sticky = divide(i64::MAX, &p, ABC, Some(&current));
    assert_eq!(sticky.assigned(), i64::MAX);
    assert_eq!(sticky.get("C"), 0, "C held nothing and the others cover the total");
}

#[test]
fn plan_accessors() {
    let plan = divide(9, &prefs(&[("A", 0, None, 1), ("B", 0, None, 2)]), ABC, None);
    assert_eq!((plan.get("B"), plan.get("C"), plan.get("mars"), plan.assigned()), (6, 0, 0, 9));
}

/// rebalance=false: what the layout keeps and what moves.
#[test]
fn keeps_running_replicas() {
    let w12 = prefs(&[("A", 0, None, 1), ("B", 0, None, 2)]);
    let w21 = prefs(&[("A", 0, None, 2), ("B", 0, None, 1)]);
    let held = layout(&[("A", 3), ("B", 6)]);
    type StickyCase<'a> = (&'a str, i64, &'a ClusterPreferencesMap, BTreeMap<String, i64>, &'a [(&'a str, i64)]);
    let cases: [StickyCase; 8] = [
        ("weights change: nothing moves", 9, &w21, held.clone(), &[("A", 3), ("B", 6)]),
        ("scale up by weight", 12, &w12, held.clone(), &[("A", 4), ("B", 8)]),
        ("scale up after a weight change: only the short cluster gains", 12, &w21, held.clone(), &[("A", 6), ("B", 6)]),
        ("scale down", 6, &w12, layout(&[("A", 4), ("B", 8)]), &[("A", 2), ("B", 4)]),
        ("scale down after a weight change: only the long cluster gives", 6, &w21, held.clone(), &[("A", 3), ("B", 3)]),
        ("held above total", 3, &w12, layout(&[("A", 50), ("B", 50)]), &[("A", 1), ("B", 2)]),
        ("newcomer gets its share", 9, &w12, layout(&[("B", 9)]), &[("A", 3), ("B", 6)]),
        ("ineligible holder loses everything", 9, &prefs(&[("A", 0, None, 1)]), held.clone(), &[("A", 9), ("B", 0)]),
    ];
    for (name, total, p, current, want) in cases {
        assert_eq!(divide(total, p, ["A", "B"], Some(&current)).replicas, layout(want), "{name}");
    }
}

#[test]
fn kept_replicas_respect_min_and_max() {
    let p = prefs(&[("A", 4, None, 1), ("B", 0, Some(7), 1)]);
    // A is raised to its minimum, B capped at its maximum; the rest fills A.
    let plan = divide(10, &p, ["A", "B"], Some(&layout(&[("A", 0), ("B", 10)])));
    assert_eq!(plan.replicas, layout(&[("A", 4), ("B", 6)]));
    let plan = divide(12, &p, ["A", "B"], Some(&layout(&[("A", 0), ("B", 10)])));
    assert_eq!(plan.replicas, layout(&[("A", 5), ("B", 7)]));
}

/// The acceptance scenario: vulcan 1, kronos 2, earth none; vulcan goes Offline and returns.
#[test]
fn failover_and_return() {
    let p = prefs(&[("vulcan", 0, None, 1), ("kronos", 0, None, 2)]);
    let all = ["earth", "kronos", "vulcan"];
    let steady = divide(9, &p, all, None);
    assert_eq!(steady.replicas, layout(&[("earth", 0), ("kronos", 6), ("vulcan", 3)]));
    for sticky in [false, true] {
        let held = |plan: &Division| sticky.then(|| plan.replicas.clone());
        let down = divide(9, &p, ["earth", "kronos"], held(&steady).as_ref());
        assert_eq!(down.replicas, layout(&[("earth", 0), ("kronos", 9)]), "sticky={sticky}");
        let back = divide(9, &p, all, held(&down).as_ref());
        assert_eq!(back, steady, "sticky={sticky}");
        // A stale entry for the Offline cluster changes nothing either way.
        let mut stale = down.replicas.clone();
        stale.insert("vulcan".into(), 3);
        assert_eq!(divide(9, &p, ["earth", "kronos"], Some(&stale)), down);
        assert_eq!(divide(9, &p, all, Some(&stale)), steady);
    }
    let capped = prefs(&[("vulcan", 0, None, 1), ("kronos", 0, Some(7), 2)]);
    let down = divide(9, &capped, ["earth", "kronos"], None);
    assert_eq!((down.get("kronos"), down.unassigned), (7, 2), "kronos holds what its max allows");
}

#[test]
fn rsp_plan_uses_current_only_without_rebalance() {
    let mut spec = ReplicaSchedulingPreferenceSpec {
        target_kind: "FederatedDeployment".into(),
        total_replicas: 9,
        clusters: prefs(&[("A", 0, None, 2), ("B", 0, None, 1)]),
        ..Default::default()
    };
    let held = layout(&[("A", 3), ("B", 6)]);
    assert_eq!(spec.plan(["A", "B"], Some(&held)).replicas, held);
    spec.rebalance = true;
    assert_eq!(spec.plan(["A", "B"], Some(&held)).replicas, layout(&[("A", 6), ("B", 3)]));
}
