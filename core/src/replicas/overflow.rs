//! Overflow: each cluster's estimated capacity for one divided workload, from the state of its
//! pods (KubeFed's rule) and the free room on its nodes (see [`estimate`]).
//!
//! The estimates are kept on the federated object (annotation [`ESTIMATES`]), so that a cluster
//! emptied of its Unschedulable pods stays capped until room is seen there, across restarts and
//! leader changes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

pub use crate::keys::{OVERFLOW_AFTER, OVERFLOW_ESTIMATES as ESTIMATES};

/// How long a pod stays Unschedulable before its cluster counts as full, unless
/// [`OVERFLOW_AFTER`] says otherwise (KubeFed's threshold).
pub const DEFAULT_AFTER: Duration = Duration::from_secs(60);

/// A cluster's estimated capacity for one workload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Estimate {
    /// Replicas the cluster can run.
    pub capacity: i64,
    /// When the estimate was last changed: it is not raised again before the threshold has
    /// passed since (no replica moved away is moved back sooner).
    pub since: Time,
}

/// Estimates per cluster; a cluster without one is not limited.
pub type Estimates = BTreeMap<String, Estimate>;

/// What the capacity ledger shows of one cluster for one workload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// When each of the workload's pods that are Unschedulable there now became so.
    pub unschedulable: Vec<Timestamp>,
    /// How many more of the workload's pods its schedulable nodes have room for (None: not
    /// known, e.g. Offline or not listed yet).
    pub free: Option<i64>,
}

/// What [`estimate`] knows of one cluster's room for one workload: what the ledger shows, and
/// the replicas the division gives the cluster now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterRoom {
    /// Replicas the division gives the cluster now.
    pub assigned: i64,
    /// When each of the workload's pods that are Unschedulable there now became so.
    pub unschedulable: Vec<Timestamp>,
    /// How many more of the workload's pods its schedulable nodes have room for (None: not
    /// known, e.g. Offline or not listed yet).
    pub free: Option<i64>,
}

/// The next estimates, and when to look again.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Estimated {
    /// The estimates to divide by (and to record).
    pub estimates: Estimates,
    /// Clusters whose capacity rose or whose estimate was dropped: room came back there.
    pub raised: BTreeSet<String>,
    /// Clusters newly capped or capped lower.
    pub lowered: BTreeSet<String>,
    /// Look again after this long: a pod is Unschedulable but not yet for the threshold, or a
    /// capped cluster with room waits out the threshold.
    pub recheck: Option<Duration>,
}

/// The capacities to divide by: [`Estimates`] reduced to their numbers.
pub fn capacities(estimates: &Estimates) -> BTreeMap<String, i64> {
    estimates.iter().map(|(c, e)| (c.clone(), e.capacity)).collect()
}

/// Reads [`ESTIMATES`]; an unreadable value counts as none (the controller rewrites it).
pub fn parse_estimates(value: Option<&str>) -> Estimates {
    value.and_then(|v| serde_json::from_str(v).ok()).unwrap_or_default()
}

/// The [`ESTIMATES`] value, `None` when there is none to record.
pub fn format_estimates(estimates: &Estimates) -> Option<String> {
    (!estimates.is_empty()).then(|| serde_json::to_string(estimates).expect("estimates always serialize"))
}

/// The next estimates for a workload of `total` replicas, from the `previous` ones and what
/// `rooms` says of each candidate cluster (clusters left out lose their estimate).
///
/// - KubeFed's rule: a cluster where `k > 0` pods have been Unschedulable for `after` or longer
///   can run `assigned - k` replicas (a capped cluster: its capacity, or `assigned` when lower,
///   `- k`, counting only pods that had not been Unschedulable for `after` when its estimate
///   was made: the others were counted then and are being scaled away, even if the member has
///   not caught up yet).
/// - Room returns: a capped cluster without such pods can run what is scheduled there plus the
///   `f` more its nodes have room for (unknown room counts as none), once `after` has passed
///   since its estimate last changed, when that is more than the estimate; an estimate that
///   reaches the total is dropped (it no longer limits anything).
/// - Otherwise an estimate stays as it is (an emptied cluster stays capped until room shows).
pub fn estimate(
    previous: &Estimates,
    rooms: &BTreeMap<String, ClusterRoom>,
    total: i64,
    after: Duration,
    now: Timestamp,
) -> Estimated {
    let after_signed = SignedDuration::try_from(after).unwrap_or(SignedDuration::MAX);
    let mut out = Estimated::default();
    let mut recheck = |d: SignedDuration| {
        let d = Duration::try_from(d).unwrap_or_default().max(Duration::from_secs(1));
        out.recheck = Some(out.recheck.map_or(d, |r| r.min(d)));
    };
    let mut next = Estimates::new();
    let (mut raised, mut lowered) = (BTreeSet::new(), BTreeSet::new());
    for (cluster, room) in rooms {
        let prev = previous.get(cluster);
        let waited = |since: Timestamp| now.duration_since(since);
        // Pods that had waited the threshold when the estimate was made were counted then; the
        // division has sized the cluster for them, and they are on their way out. A pod that
        // had not waited that long yet was not, and counts once it has.
        let counted: Vec<&Timestamp> = room
            .unschedulable
            .iter()
            .filter(|t| prev.is_none_or(|p| p.since.0.duration_since(**t) < after_signed))
            .collect();
        let long = counted.iter().filter(|t| waited(***t) >= after_signed).count();
        for t in counted.iter().filter(|t| waited(***t) < after_signed) {
            recheck(after_signed - waited(**t));
        }
        let fresh = |capacity: i64| Estimate { capacity, since: Time(now) };
        if long > 0 {
            let held = prev.map_or(room.assigned, |p| room.assigned.min(p.capacity));
            let capacity = (held - i64::try_from(long).unwrap_or(i64::MAX)).max(0);
            match prev {
                Some(p) if p.capacity == capacity => {
                    next.insert(cluster.clone(), p.clone());
                }
                _ => {
                    if prev.is_none_or(|p| capacity < p.capacity) {
                        lowered.insert(cluster.clone());
                    }
                    next.insert(cluster.clone(), fresh(capacity));
                }
            }
            continue;
        }
        let Some(p) = prev else { continue };
        let scheduled = (room.assigned - i64::try_from(room.unschedulable.len()).unwrap_or(0)).max(0);
        let capacity = scheduled.saturating_add(room.free.unwrap_or(0).max(0));
        if capacity <= p.capacity && p.capacity < total {
            next.insert(cluster.clone(), p.clone());
        } else if waited(p.since.0) < after_signed {
            recheck(after_signed - waited(p.since.0));
            next.insert(cluster.clone(), p.clone());
        } else if capacity >= total || p.capacity >= total {
            raised.insert(cluster.clone());
        } else {
            raised.insert(cluster.clone());
            next.insert(cluster.clone(), fresh(capacity));
        }
    }
    out.estimates = next;
    out.raised = raised;
    out.lowered = lowered;
    out
}

/// The Event for a division that overflow moved: `(reason, note)` with the numbers, or `None`
/// when no estimate rose or fell or no replica moved. `before` and `after` are the
/// replicas per cluster.
pub fn describe(
    before: &BTreeMap<String, i64>,
    after: &BTreeMap<String, i64>,
    estimated: &Estimated,
    threshold: Duration,
) -> Option<(&'static str, String)> {
    let changes: Vec<String> = after
        .iter()
        .filter_map(|(c, n)| {
            let was = before.get(c).copied().unwrap_or(0);
            (was != *n).then(|| format!("{c} {was}→{n}"))
        })
        .collect();
    if changes.is_empty() {
        return None;
    }
    let moved = changes.join(", ");
    let capped = |set: &BTreeSet<String>| -> Vec<String> {
        set.iter()
            .map(|c| match estimated.estimates.get(c) {
                Some(e) => format!("{c} can run {}", e.capacity),
                None => format!("{c} has room for its share"),
            })
            .collect()
    };
    if !estimated.lowered.is_empty() {
        let full = capped(&estimated.lowered).join(", ");
        let note =
            format!("overflow: {full} (pods Unschedulable for {}s or more); replicas {moved}", threshold.as_secs());
        return Some(("Overflow", note));
    }
    if !estimated.raised.is_empty() {
        let room = capped(&estimated.raised).join(", ");
        return Some((
            "RoomReturned",
            format!("room returned: {room}; replicas {moved}, each stopped only once its replacement runs"),
        ));
    }
    None
}

/// `kubefed.io/overflow-after`: a duration such as `30s`, `2m` or `1m30s` (at least 1s).
pub fn parse_after(value: &str) -> Result<Duration, String> {
    let bad = || format!("{OVERFLOW_AFTER}: {value:?} is not a duration such as 30s, 2m or 1m30s");
    let mut rest = value.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "h" => 3600,
            "m" => 60,
            "s" => 1,
            _ => return Err(bad()),
        };
        total += Duration::from_secs(n.checked_mul(unit).ok_or_else(bad)?);
        rest = &rest[unit_len..];
    }
    if total < Duration::from_secs(1) {
        return Err(format!("{OVERFLOW_AFTER}: {value:?} is shorter than 1s"));
    }
    Ok(total)
}

#[cfg(test)]
mod tests;
