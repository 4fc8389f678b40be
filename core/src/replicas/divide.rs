//! The division of a total over clusters by their preferences (see [`divide`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::api::{ClusterPreferences, ClusterPreferencesMap, ReplicaSchedulingPreferenceSpec, WILDCARD_CLUSTER};

/// Where the replicas of one workload go.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Division {
    /// Replicas per cluster: one entry for every cluster passed to [`divide`] (duplicates
    /// merged), 0 for a cluster that gets none.
    pub replicas: BTreeMap<String, i64>,
    /// Replicas of the total that no cluster could take: the maximums (plus the minimums of
    /// clusters with weight 0) hold less than the total, or no cluster is eligible.
    pub unassigned: i64,
}

impl Division {
    /// The replicas assigned to `cluster` (0 when it is not in the plan).
    pub fn get(&self, cluster: &str) -> i64 {
        self.replicas.get(cluster).copied().unwrap_or(0)
    }

    /// Sum of the replicas assigned to every cluster.
    pub fn assigned(&self) -> i64 {
        self.replicas.values().sum()
    }
}

/// One cluster that has preferences, normalised: negative numbers read as 0 and a minimum
/// above the maximum is lowered to it (the maximum is a hard cap).
#[derive(Clone, Debug)]
struct Slot {
    min: i64,
    cap: Option<i64>,
    weight: i64,
}

impl Slot {
    fn new(p: &ClusterPreferences) -> Self {
        let cap = p.max_replicas.map(|m| m.max(0));
        let min = p.min_replicas.max(0);
        Slot { min: cap.map_or(min, |c| min.min(c)), cap, weight: p.weight.max(0) }
    }

    /// This slot, also capped at `capacity` (the lower of it and the maximum).
    fn within(&self, capacity: Option<i64>) -> Self {
        let Some(capacity) = capacity.map(|c| c.max(0)) else { return self.clone() };
        let cap = self.cap.map_or(capacity, |c| c.min(capacity));
        Slot { min: self.min.min(cap), cap: Some(cap), weight: self.weight }
    }
}

/// A claim on a share of an amount: proportional to `weight`, at most `room` (None: unbounded).
#[derive(Clone, Copy, Debug)]
struct Share {
    weight: i64,
    room: Option<i64>,
}

/// Divides `total` replicas over `clusters` (the Ready, eligible ones) by `prefs`.
///
/// Semantics (KubeFed's ReplicaSchedulingPreference):
/// - `prefs` empty: every cluster counts as `{weight: 1}`, an even split.
/// - Otherwise a cluster uses its own entry, else `"*"`, else it gets nothing. Entries are not
///   merged with `"*"`. Negative numbers count as 0; a minimum above the maximum is lowered to it.
/// - Minimums first, by weight (highest first) then name, each as far as the total allows.
/// - The rest by weight (largest-remainder rounding); maximums cap, and what a cap leaves
///   goes to the other weighted clusters. A weight-0 cluster gets only its minimum.
/// - Remainder replicas go to the largest fractional shares, ties to the higher weight, then
///   to the name that sorts first.
/// - Only `clusters` receive replicas, and the result depends only on their set (not order):
///   an Offline cluster left out loses its share to the others and gets the same share back
///   when it is passed in again.
///
/// # rebalance: false
///
/// `current` is for `rebalance: false`: pass the previous plan's replicas (`None` rebalances,
/// i.e. returns the preferred layout). Clusters of `current` keep their replicas (up to their
/// maximum) as far as the new preferred layout allows: when it needs more replicas than they
/// hold, only clusters below their preferred share gain, in proportion to what they lack;
/// when it needs fewer, only clusters above it give up replicas, in proportion to their
/// excess; no cluster is moved past its preferred share. So a weight change moves nothing,
/// and short of what minimums and maximums require, a scale-up takes replicas from no
/// cluster and a scale-down adds to none. Clusters
/// absent from `current` (newly joined, placed, or back from Offline) get their preferred
/// share. Minimums and maximums always hold, and as many replicas are assigned as without
/// `current`.
///
/// Failover works the same either way: a cluster left out of `clusters` holds nothing and is
/// absent from the plan made meanwhile, so when it is Ready again it counts as new, gets its
/// share back, and the clusters that covered for it drop back to theirs. (Listing it in
/// `current` with its last count gives the same result.) The layout before the outage
/// returns exactly when it was the preferred one; one that had drifted from it under
/// rebalance: false (preferences changed, replicas stayed) comes back closer to it. Several
/// clusters coming back one after another may leave a replica or so where the rounding of an
/// intermediate layout put it (rebalance: true always restores the layout exactly).
pub fn divide<I, S>(
    total: i64,
    prefs: &ClusterPreferencesMap,
    clusters: I,
    current: Option<&BTreeMap<String, i64>>,
) -> Division
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    divide_within(total, prefs, clusters, current, &BTreeMap::new())
}

/// [`divide`] within each cluster's estimated `capacity` (clusters without an entry are not
/// limited): a capacity caps a cluster like a maximum (its minimum is lowered to it), and what
/// it cannot hold goes to the other clusters by their weights, within their own maximums.
/// Replicas that no capacity holds (every cluster is full) stay where the preferences without
/// capacities put them, so the total is kept and they run as soon as room appears there; so
/// `unassigned` is the same as without capacities.
pub fn divide_within<I, S>(
    total: i64,
    prefs: &ClusterPreferencesMap,
    clusters: I,
    current: Option<&BTreeMap<String, i64>>,
    capacity: &BTreeMap<String, i64>,
) -> Division
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let total = total.max(0);
    let names: BTreeSet<String> = clusters.into_iter().map(|c| c.as_ref().to_string()).collect();
    let eligible = eligible(prefs, &names);
    let unlimited: Vec<Slot> = eligible.iter().map(|(_, s)| s.clone()).collect();
    let slots: Vec<Slot> = eligible.iter().map(|(n, s)| s.within(capacity.get(*n).copied())).collect();
    let (mins, preferred) = preferred(total, &slots);
    let mut layout = match current {
        None => preferred,
        Some(current) => {
            let held: Vec<Option<i64>> = eligible.iter().map(|(n, _)| current.get(*n).copied()).collect();
            sticky(total, &slots, &mins, &preferred, &held)
        }
    };
    if !capacity.is_empty() {
        let (_, wanted) = self::preferred(total, &unlimited);
        let mut short = i64::try_from(wide_sum(&wanted) - wide_sum(&layout)).expect("at most the total").max(0);
        // First to the weighted clusters that still have room, then (every cluster full)
        // where the preferences without capacities want them.
        let room: Vec<Share> = slots
            .iter()
            .zip(&layout)
            .map(|(s, l)| Share { weight: s.weight, room: s.cap.map(|c| (c - l).max(0)) })
            .collect();
        let deficit: Vec<Share> = wanted
            .iter()
            .zip(&layout)
            .map(|(w, l)| (w - l).max(0))
            .map(|d| Share { weight: d, room: Some(d) })
            .collect();
        for shares in [room, deficit] {
            for (l, extra) in layout.iter_mut().zip(spread(short, &shares)) {
                *l += extra;
                short -= extra;
            }
        }
    }
    let mut replicas: BTreeMap<String, i64> = names.iter().map(|n| (n.clone(), 0)).collect();
    for ((name, _), n) in eligible.iter().zip(layout) {
        replicas.insert(name.to_string(), n);
    }
    let unassigned = total - replicas.values().sum::<i64>();
    Division { replicas, unassigned }
}

/// Spill-over: `total` replicas over `order` (only its clusters that are in `clusters`, in
/// its order), every replica on the first cluster up to its estimated `capacity` (none: no
/// limit), what it cannot hold on the next, and so on. Replicas no capacity holds stay on the
/// first cluster (where they run as soon as room appears). A smaller total empties the last
/// clusters first.
pub fn spill<I, S>(total: i64, order: &[String], clusters: I, capacity: &BTreeMap<String, i64>) -> Division
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let names: BTreeSet<String> = clusters.into_iter().map(|c| c.as_ref().to_string()).collect();
    let mut replicas: BTreeMap<String, i64> = names.iter().map(|n| (n.clone(), 0)).collect();
    let mut left = total.max(0);
    let ordered: Vec<&String> = order.iter().filter(|c| names.contains(*c)).collect();
    for c in &ordered {
        let n = capacity.get(*c).map_or(left, |cap| left.min((*cap).max(0)));
        replicas.insert((*c).clone(), n);
        left -= n;
    }
    match ordered.first() {
        Some(first) => *replicas.get_mut(*first).expect("inserted above") += left,
        None => return Division { replicas, unassigned: left },
    }
    Division { replicas, unassigned: 0 }
}

impl ReplicaSchedulingPreferenceSpec {
    /// [`divide`] of `totalReplicas` by `clusters`, using `current` only when `rebalance` is false.
    pub fn plan<I, S>(&self, clusters: I, current: Option<&BTreeMap<String, i64>>) -> Division
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let current = if self.rebalance { None } else { current };
        divide(i64::from(self.total_replicas), &self.clusters, clusters, current)
    }
}

/// The clusters of `names` that have preferences (their own entry, else `"*"`; every
/// cluster when `prefs` is empty), in name order.
fn eligible<'a>(prefs: &ClusterPreferencesMap, names: &'a BTreeSet<String>) -> Vec<(&'a str, Slot)> {
    let even = ClusterPreferences::weight(1);
    let for_cluster =
        |n: &str| if prefs.is_empty() { Some(&even) } else { prefs.get(n).or_else(|| prefs.get(WILDCARD_CLUSTER)) };
    names.iter().filter_map(|n| for_cluster(n).map(|p| (n.as_str(), Slot::new(p)))).collect()
}

/// Sum of the (normalised) minReplicas of the clusters of `names` that have preferences.
pub(crate) fn minimums_wanted(prefs: &ClusterPreferencesMap, names: &BTreeSet<String>) -> i128 {
    eligible(prefs, names).iter().map(|(_, s)| i128::from(s.min)).sum()
}

/// The preferred layout: (the minimums assigned, the whole layout), both aligned with `slots`.
fn preferred(total: i64, slots: &[Slot]) -> (Vec<i64>, Vec<i64>) {
    let mut order: Vec<usize> = (0..slots.len()).collect();
    // Slots come sorted by name, and the sort is stable: ties stay in name order.
    order.sort_by(|&a, &b| slots[b].weight.cmp(&slots[a].weight));
    let mut mins = vec![0; slots.len()];
    let mut remaining = total;
    for i in order {
        mins[i] = slots[i].min.min(remaining);
        remaining -= mins[i];
    }
    let shares: Vec<Share> =
        slots.iter().zip(&mins).map(|(s, m)| Share { weight: s.weight, room: s.cap.map(|c| c - m) }).collect();
    let layout = spread(remaining, &shares).iter().zip(&mins).map(|(extra, m)| extra + m).collect();
    (mins, layout)
}

/// The rebalance=false layout: `held` replicas kept as far as `preferred` allows (see
/// [`divide`]). `held[i]` is None for a cluster new to the layout.
fn sticky(total: i64, slots: &[Slot], mins: &[i64], preferred: &[i64], held: &[Option<i64>]) -> Vec<i64> {
    let keep: Vec<Option<i64>> = held
        .iter()
        .zip(slots.iter().zip(mins))
        .map(|(h, (s, m))| h.map(|h| h.max(*m).min(s.cap.unwrap_or(total).min(total))))
        .collect();
    let diff = |i: usize, sign: i64| keep[i].map_or(0, |k| (sign * (k - preferred[i])).max(0));
    let excess: Vec<i64> = (0..slots.len()).map(|i| diff(i, 1)).collect();
    let deficit: Vec<i64> = (0..slots.len()).map(|i| diff(i, -1)).collect();
    let (sum_excess, sum_deficit): (i128, i128) = (wide_sum(&excess), wide_sum(&deficit));
    let mut layout: Vec<i64> = keep.iter().zip(preferred).map(|(k, p)| k.unwrap_or(*p)).collect();
    if sum_excess >= sum_deficit {
        // Fewer than held: clusters above their share keep back what the others lack.
        let shares: Vec<Share> = excess.iter().map(|e| Share { weight: *e, room: Some(*e) }).collect();
        let keep_back = i64::try_from(sum_deficit).expect("deficits add up to at most the total");
        for (i, extra) in spread(keep_back, &shares).into_iter().enumerate() {
            if excess[i] > 0 {
                layout[i] = preferred[i] + extra;
            }
        }
    } else {
        // More than held: clusters below their share gain what the layout still needs.
        let shares: Vec<Share> = deficit.iter().map(|d| Share { weight: *d, room: Some(*d) }).collect();
        let gain = i64::try_from(sum_deficit - sum_excess).expect("at most the total");
        for (i, extra) in spread(gain, &shares).into_iter().enumerate() {
            layout[i] += extra;
        }
    }
    layout
}

fn wide_sum(values: &[i64]) -> i128 {
    values.iter().map(|v| i128::from(*v)).sum()
}

/// Divides `amount` over `shares` in proportion to their weights, none past its room; what a
/// full share cannot take goes to the others. Returns one count per share, summing to
/// `amount` or, when the rooms of the weighted shares hold less, to those rooms. Shares with
/// weight 0 get nothing. Index order breaks the last ties.
fn spread(amount: i64, shares: &[Share]) -> Vec<i64> {
    let mut out = vec![0; shares.len()];
    let mut amount = amount;
    let mut active: Vec<usize> =
        (0..shares.len()).filter(|&i| shares[i].weight > 0 && shares[i].room != Some(0)).collect();
    while amount > 0 && !active.is_empty() {
        let weight_sum: i128 = active.iter().map(|&i| i128::from(shares[i].weight)).sum();
        // A share is full when its proportional part exceeds its room:
        // amount * weight / weight_sum > room.
        let (full, open): (Vec<usize>, Vec<usize>) = active.iter().partition(|&&i| {
            let part = i128::from(amount) * i128::from(shares[i].weight);
            shares[i].room.is_some_and(|r| i128::from(r).checked_mul(weight_sum).is_some_and(|room| part > room))
        });
        if full.is_empty() {
            largest_remainder(amount, &open, shares, weight_sum, &mut out);
            break;
        }
        for i in full {
            let room = shares[i].room.expect("only bounded shares fill");
            out[i] = room;
            amount -= room;
        }
        active = open;
    }
    out
}

/// Hamilton's method: each open share gets the floor of its exact part, and the replicas
/// left go one each to the largest fractional parts, then higher weight, then lower index.
/// No open share exceeds its room (the caller removed the ones that would).
fn largest_remainder(amount: i64, open: &[usize], shares: &[Share], weight_sum: i128, out: &mut [i64]) {
    let mut given: i64 = 0;
    let mut fractions: Vec<(i128, i64, usize)> = Vec::with_capacity(open.len());
    for &i in open {
        let part = i128::from(amount) * i128::from(shares[i].weight);
        let whole = i64::try_from(part / weight_sum).expect("a part never exceeds the amount");
        out[i] += whole;
        given += whole;
        fractions.push((part % weight_sum, shares[i].weight, i));
    }
    fractions.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    let left = usize::try_from(amount - given).expect("floors never exceed the amount");
    for &(_, _, i) in fractions.iter().take(left) {
        out[i] += 1;
    }
}
