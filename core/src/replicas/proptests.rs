//! Property tests of the division against an independent statement of its guarantees.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;
use crate::api::{ClusterPreferences, ClusterPreferencesMap, WILDCARD_CLUSTER};

const NAMES: [&str; 5] = ["a", "b", "c", "d", "e"];

/// Min up to 5 and max from 0, so min > max happens; weights include 0.
fn entry() -> impl Strategy<Value = ClusterPreferences> {
    (0i64..6, prop::option::of(0i64..15), 0i64..4).prop_map(|(min_replicas, max_replicas, weight)| ClusterPreferences {
        min_replicas,
        max_replicas,
        weight,
    })
}

/// Keys among the clusters, `"*"` and `z` (never passed in).
fn preferences() -> impl Strategy<Value = ClusterPreferencesMap> {
    let key = prop::sample::select(vec!["*", "a", "b", "c", "d", "e", "z"]).prop_map(String::from);
    prop::collection::btree_map(key, entry(), 0..6)
}

fn clusters() -> impl Strategy<Value = Vec<String>> {
    prop::sample::subsequence(NAMES.to_vec(), 0..=NAMES.len()).prop_map(|v| v.into_iter().map(String::from).collect())
}

fn capacities() -> impl Strategy<Value = BTreeMap<String, i64>> {
    let key = prop::sample::select(NAMES.to_vec()).prop_map(String::from);
    prop::collection::btree_map(key, 0i64..12, 0..4)
}

fn current() -> impl Strategy<Value = BTreeMap<String, i64>> {
    let key = prop::sample::select(NAMES.to_vec()).prop_map(String::from);
    prop::collection::btree_map(key, 0i64..30, 0..6)
}

/// `(min, max, weight)` of `name` as the division reads its preferences.
fn resolved(prefs: &ClusterPreferencesMap, name: &str) -> Option<(i64, Option<i64>, i64)> {
    let even = ClusterPreferences::weight(1);
    let p = if prefs.is_empty() { Some(&even) } else { prefs.get(name).or_else(|| prefs.get(WILDCARD_CLUSTER)) }?;
    let max = p.max_replicas.map(|m| m.max(0));
    let min = p.min_replicas.max(0);
    Some((max.map_or(min, |m| min.min(m)), max, p.weight.max(0)))
}

/// What the clusters can hold: maxima of weighted clusters (None: unbounded), minima of the rest.
fn capacity(prefs: &ClusterPreferencesMap, clusters: &[String]) -> Option<i64> {
    let set: BTreeSet<&String> = clusters.iter().collect();
    let mut sum = 0;
    for (min, max, weight) in set.iter().filter_map(|c| resolved(prefs, c)) {
        sum += if weight > 0 { max? } else { min };
    }
    Some(sum)
}

fn minimums(prefs: &ClusterPreferencesMap, clusters: &BTreeSet<String>) -> i64 {
    clusters.iter().filter_map(|c| resolved(prefs, c)).map(|(min, _, _)| min).sum()
}

fn check_bounds(
    total: i64,
    prefs: &ClusterPreferencesMap,
    clusters: &[String],
    plan: &Division,
) -> Result<(), TestCaseError> {
    let set: BTreeSet<String> = clusters.iter().cloned().collect();
    prop_assert_eq!(
        plan.replicas.keys().cloned().collect::<BTreeSet<_>>(),
        set.clone(),
        "exactly the clusters passed in"
    );
    let mins_fit = minimums(prefs, &set) <= total;
    for (name, n) in &plan.replicas {
        prop_assert!(*n >= 0);
        match resolved(prefs, name) {
            None => prop_assert_eq!(*n, 0, "{} has no preferences", name),
            Some((min, max, _)) => {
                prop_assert!(max.is_none_or(|m| *n <= m), "{} over its max", name);
                prop_assert!(!mins_fit || *n >= min, "{} under its min", name);
            }
        }
    }
    prop_assert_eq!(plan.assigned() + plan.unassigned, total);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn sum_is_the_total_or_what_the_caps_hold(total in 0i64..80, prefs in preferences(), clusters in clusters()) {
        let plan = divide(total, &prefs, &clusters, None);
        let want = capacity(&prefs, &clusters).map_or(total, |c| c.min(total));
        prop_assert_eq!(plan.assigned(), want);
        prop_assert_eq!(plan.unassigned, total - want);
    }

    #[test]
    fn min_and_max_hold(total in 0i64..80, prefs in preferences(), clusters in clusters(), held in current()) {
        check_bounds(total, &prefs, &clusters, &divide(total, &prefs, &clusters, None))?;
        let sticky = divide(total, &prefs, &clusters, Some(&held));
        check_bounds(total, &prefs, &clusters, &sticky)?;
        prop_assert_eq!(sticky.assigned(), divide(total, &prefs, &clusters, None).assigned(), "same amount either way");
    }

    #[test]
    fn deterministic_and_independent_of_order(
        total in 0i64..80,
        prefs in preferences(),
        (clusters, shuffled) in clusters().prop_flat_map(|c| { let twice = [c.clone(), c.clone()].concat(); (Just(c), Just(twice).prop_shuffle()) }),
        held in current(),
    ) {
        let plan = divide(total, &prefs, &clusters, None);
        prop_assert_eq!(&plan, &divide(total, &prefs, &clusters, None));
        prop_assert_eq!(&plan, &divide(total, &prefs, &shuffled, None));
        let sticky = divide(total, &prefs, &clusters, Some(&held));
        prop_assert_eq!(&sticky, &divide(total, &prefs, &shuffled, Some(&held)));
    }

    #[test]
    fn offline_clusters_get_nothing_and_their_share_returns(
        total in 0i64..80,
        prefs in preferences(),
        offline in prop::sample::subsequence(NAMES.to_vec(), 1..=3),
    ) {
        let all: Vec<String> = NAMES.iter().map(|n| n.to_string()).collect();
        let ready: Vec<&str> = NAMES.iter().copied().filter(|n| !offline.contains(n)).collect();
        let steady = divide(total, &prefs, &all, None);
        for sticky in [false, true] {
            let held = |plan: &Division| sticky.then(|| plan.replicas.clone());
            let down = divide(total, &prefs, &ready, held(&steady).as_ref());
            for gone in &offline {
                prop_assert!(!down.replicas.contains_key(*gone), "{} is Offline", gone);
            }
            let want = capacity(&prefs, &ready.iter().map(|r| r.to_string()).collect::<Vec<_>>()).map_or(total, |c| c.min(total));
            prop_assert_eq!(down.assigned(), want, "the share moves to the Ready clusters");
            let back = divide(total, &prefs, &all, held(&down).as_ref());
            prop_assert_eq!(&back, &steady, "sticky={}", sticky);
        }
    }

    #[test]
    fn rebalance_false_moves_only_toward_the_preferred_layout(
        total in 0i64..80,
        prefs in preferences(),
        clusters in clusters(),
        held in current(),
    ) {
        let preferred = divide(total, &prefs, &clusters, None);
        let sticky = divide(total, &prefs, &clusters, Some(&held));
        for (name, n) in &sticky.replicas {
            let p = preferred.get(name);
            match (resolved(&prefs, name), held.get(name)) {
                (Some((_, max, _)), Some(h)) => {
                    // Held replicas count up to the cap (a minimum may raise them, toward `p`).
                    let keep = (*h).min(max.unwrap_or(total).min(total));
                    prop_assert!(p.min(keep) <= *n && *n <= p.max(keep), "{}: {} not between held {} and preferred {}", name, n, keep, p);
                }
                _ => prop_assert_eq!(*n, p, "{} is new or ineligible", name),
            }
        }
        prop_assert_eq!(&divide(total, &prefs, &clusters, Some(&sticky.replicas)), &sticky, "a fixed point");
        prop_assert_eq!(&divide(total, &prefs, &clusters, Some(&BTreeMap::new())), &preferred, "nothing held");
    }

    #[test]
    fn rebalance_false_scaling_never_moves_replicas(
        total in 0i64..60,
        step in 1i64..20,
        prefs in preferences(),
        clusters in clusters(),
    ) {
        let before = divide(total, &prefs, &clusters, None);
        let up = divide(total + step, &prefs, &clusters, Some(&before.replicas));
        let down = divide((total - step).max(0), &prefs, &clusters, Some(&before.replicas));
        for (name, n) in &before.replicas {
            prop_assert!(up.get(name) >= *n, "{} lost replicas on scale-up", name);
            prop_assert!(down.get(name) <= *n, "{} gained replicas on scale-down", name);
        }
    }

    #[test]
    fn rebalance_false_weight_changes_move_nothing(
        total in 0i64..60,
        prefs in preferences(),
        new_weights in prop::collection::vec(1i64..5, 7),
        clusters in clusters(),
    ) {
        // Positive weights change, zero weights stay zero: the clusters can hold the same.
        let changed: ClusterPreferencesMap = prefs
            .iter()
            .zip(&new_weights)
            .map(|((k, p), w)| (k.clone(), ClusterPreferences { weight: if p.weight > 0 { *w } else { 0 }, ..p.clone() }))
            .collect();
        let before = divide(total, &prefs, &clusters, None);
        let after = divide(total, &changed, &clusters, Some(&before.replicas));
        let set: BTreeSet<String> = clusters.iter().cloned().collect();
        if minimums(&prefs, &set) <= total {
            prop_assert_eq!(after, before);
        }
    }

    #[test]
    fn plain_weights_stay_within_one_of_the_exact_share(
        total in 0i64..200,
        weights in prop::collection::btree_map(prop::sample::select(NAMES.to_vec()).prop_map(String::from), 1i64..7, 1..6),
    ) {
        let prefs: ClusterPreferencesMap = weights.iter().map(|(k, w)| (k.clone(), ClusterPreferences::weight(*w))).collect();
        let plan = divide(total, &prefs, weights.keys(), None);
        let weight_sum: i64 = weights.values().sum();
        for (name, w) in &weights {
            let (floor, exact) = (total * w / weight_sum, total * w % weight_sum == 0);
            let n = plan.get(name);
            prop_assert!(n == floor || (!exact && n == floor + 1), "{}: {} for share {}*{}/{}", name, n, total, w, weight_sum);
        }
        prop_assert_eq!(plan.assigned(), total);
    }

    #[test]
    fn annotation_round_trips(prefs in preferences()) {
        let scheduling = Scheduling::weighted(prefs);
        prop_assert_eq!(parse_annotation(&format_annotation(&scheduling)), Ok(scheduling));
    }

    #[test]
    fn capacities_keep_the_total_and_bind_only_when_full(
        total in 0i64..40,
        prefs in preferences(),
        names in clusters(),
        capacity in capacities(),
        held in prop::option::of(current()),
    ) {
        let free = divide(total, &prefs, &names, held.as_ref());
        let within = divide_within(total, &prefs, &names, held.as_ref(), &capacity);
        prop_assert_eq!(within.assigned(), free.assigned(), "the total is kept");
        prop_assert_eq!(within.unassigned, free.unassigned);
        if free.replicas.iter().all(|(c, n)| capacity.get(c).is_none_or(|cap| n <= cap)) && held.is_none() {
            prop_assert_eq!(&within, &free, "capacities that do not bind change nothing");
        }
        // A cluster is past its capacity only when no weighted cluster has room left.
        let room = |c: &str| {
            let (_, max, weight) = resolved(&prefs, c)?;
            let limit = match (max, capacity.get(c)) {
                (Some(m), Some(cap)) => m.min((*cap).max(0)),
                (m, cap) => m.or(cap.map(|c| (*c).max(0)))?,
            };
            (weight > 0).then(|| limit - within.get(c))
        };
        let over = names.iter().any(|c| capacity.get(c).is_some_and(|cap| within.get(c) > (*cap).max(0)));
        if over {
            for c in &names {
                if let Some(r) = room(c) {
                    prop_assert!(r <= 0, "{} still has room for {} while another cluster is past its capacity: {:?}", c, r, within);
                }
            }
        }
        let reversed: Vec<String> = names.iter().rev().cloned().collect();
        prop_assert_eq!(&divide_within(total, &prefs, &reversed, held.as_ref(), &capacity), &within, "deterministic");
    }

    #[test]
    fn with_the_same_capacities_nothing_moves(
        total in 0i64..40,
        prefs in preferences(),
        names in clusters(),
        capacity in capacities(),
    ) {
        let first = divide_within(total, &prefs, &names, None, &capacity);
        let held: BTreeMap<String, i64> = first.replicas.iter().filter(|(_, n)| **n > 0).map(|(c, n)| (c.clone(), *n)).collect();
        let again = divide_within(total, &prefs, &names, Some(&held), &capacity);
        prop_assert_eq!(again, first);
    }

    #[test]
    fn spill_over_fills_in_order(
        total in 0i64..40,
        order in clusters(),
        ready in clusters(),
        capacity in capacities(),
    ) {
        let plan = spill(total, &order, &ready, &capacity);
        let used: Vec<&String> = order.iter().filter(|c| ready.contains(c)).collect();
        prop_assert_eq!(plan.assigned() + plan.unassigned, total);
        prop_assert_eq!(plan.unassigned, if used.is_empty() { total } else { 0 });
        for (i, c) in used.iter().enumerate().skip(1) {
            if plan.get(c) > 0 {
                for earlier in &used[..i] {
                    let cap = capacity.get(*earlier).copied();
                    prop_assert!(cap.is_some_and(|cap| plan.get(earlier) >= cap), "{} gets replicas while {} has room: {:?}", c, earlier, plan);
                }
            }
        }
        let more = spill(total + 1, &order, &ready, &capacity);
        prop_assert!(plan.replicas.iter().all(|(c, n)| more.get(c) >= *n), "one more replica takes none away");
    }

    #[test]
    fn annotation_parser_never_panics(s in "\\PC*") {
        let _ = parse_annotation(&s);
    }

    #[test]
    fn annotation_parser_never_panics_on_json_like_input(s in r#"[{}":,a*0-9.\- minRpcasxwgh]{0,40}"#) {
        let _ = parse_annotation(&s);
    }
}
