//! `shards`: the sharded-controller design of docs/ARCHITECTURE.md ("Past one machine"),
//! simulated before it is built.
//!
//! Each member cluster is owned by exactly one controller replica: the live replica with the
//! highest hash of (replica, cluster) — rendezvous hashing. Every replica holds one Lease of its
//! own, so "live" is "holds an unexpired Lease"; when a replica joins or dies, only the clusters
//! whose highest-scoring replica changed move (about 1/R of them), and nobody coordinates beyond
//! reading the Leases. The simulation places N clusters and M objects (each placed on a few
//! clusters) on R replicas and reports, per R: the load of the busiest replica against the mean
//! (clusters, member copies and estimated memory), and the share of clusters that move when one
//! replica joins and when one fails.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::ShardsArgs;
use crate::procfs::round;

/// The rendezvous score of `cluster` on `replica`: XXH3-64 of `replica NUL cluster`, a hash
/// with a specified output (the same on every build, machine and version, as replicas that
/// upgrade one at a time need) and full avalanche (a weak hash such as FNV-1a leaves most
/// clusters on one replica).
fn score(replica: &str, cluster: &str) -> u64 {
    let mut key = Vec::with_capacity(replica.len() + cluster.len() + 1);
    key.extend_from_slice(replica.as_bytes());
    key.push(0);
    key.extend_from_slice(cluster.as_bytes());
    xxhash_rust::xxh3::xxh3_64(&key)
}

/// The replica that owns `cluster` among `replicas` (none when there is no replica).
pub fn owner<'a>(cluster: &str, replicas: &'a [String]) -> Option<&'a str> {
    replicas.iter().max_by_key(|r| (score(r, cluster), r.as_str())).map(String::as_str)
}

/// Every cluster's owner.
pub fn assign<'a>(clusters: &[String], replicas: &'a [String]) -> BTreeMap<String, &'a str> {
    clusters.iter().filter_map(|c| owner(c, replicas).map(|r| (c.clone(), r))).collect()
}

/// Share of clusters whose owner differs between two assignments.
fn moved(a: &BTreeMap<String, &str>, b: &BTreeMap<String, &str>) -> f64 {
    let n = a.iter().filter(|(c, r)| b.get(*c) != Some(*r)).count();
    n as f64 / a.len().max(1) as f64
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:04}")).collect()
}

/// The clusters object `i` is placed on: `per_object` consecutive clusters from a spread start,
/// so every cluster carries about the same number of copies (placements are not random, but a
/// hash of an object's placement list is what a shard sees, and this keeps the run reproducible).
fn placement(i: usize, per_object: usize, clusters: usize) -> impl Iterator<Item = usize> {
    let start = (i.wrapping_mul(2_654_435_761)) % clusters;
    (0..per_object.min(clusters)).map(move |k| (start + k) % clusters)
}

/// `shards`: the simulation's figures as JSON.
pub fn simulate(a: &ShardsArgs) -> Value {
    let clusters = names("member", a.clusters);
    let mut copies_per_cluster = vec![0usize; a.clusters];
    for i in 0..a.objects {
        for c in placement(i, a.placement, a.clusters) {
            copies_per_cluster[c] += 1;
        }
    }
    let rows: Vec<Value> = a
        .replicas
        .iter()
        .map(|&r| {
            let replicas = names("replica", r);
            let owners = assign(&clusters, &replicas);
            let mut load: BTreeMap<&str, (usize, usize)> = replicas.iter().map(|r| (r.as_str(), (0, 0))).collect();
            for (i, c) in clusters.iter().enumerate() {
                let e = load.get_mut(owners[c]).expect("every owner is a replica");
                e.0 += 1;
                e.1 += copies_per_cluster[i];
            }
            let max_clusters = load.values().map(|l| l.0).max().unwrap_or(0);
            let max_copies = load.values().map(|l| l.1).max().unwrap_or(0);
            let mean_clusters = a.clusters as f64 / r as f64;
            // Every replica keeps every federated object (it cannot know which of its clusters
            // an object is placed on without reading it) and the records of its own copies.
            let mib = a.base_mib
                + a.per_cluster_mib * max_clusters as f64
                + (a.per_object_kib * a.objects as f64 + a.per_copy_kib * max_copies as f64) / 1024.0;
            let grown = names("replica", r + 1);
            let shrunk: Vec<String> = replicas.iter().skip(1).cloned().collect();
            json!({
                "replicas": r,
                "busiest": { "clusters": max_clusters, "member_copies": max_copies, "est_rss_mib": round(mib, 0),
                             "member_watches": max_clusters * a.types, "probes_per_s": round(max_clusters as f64 / a.probe_period_s, 1) },
                "imbalance_clusters": round(max_clusters as f64 / mean_clusters, 2),
                "moved_on_join": round(moved(&owners, &assign(&clusters, &grown)), 3),
                "moved_on_failure": if r > 1 { json!(round(moved(&owners, &assign(&clusters, &shrunk)), 3)) } else { Value::Null },
                "ideal_move": round(1.0 / (r + 1) as f64, 3),
            })
        })
        .collect();
    for row in &rows {
        eprintln!(
            "shards: {} replicas: busiest {} clusters ({}× mean), {} copies, ~{} MiB; moves {} of clusters on a join, {} on a failure",
            row["replicas"],
            row["busiest"]["clusters"],
            row["imbalance_clusters"],
            row["busiest"]["member_copies"],
            row["busiest"]["est_rss_mib"],
            row["moved_on_join"],
            row["moved_on_failure"]
        );
    }
    json!({
        "benchmark": "shards",
        "clusters": a.clusters, "objects": a.objects, "clusters_per_object": a.placement, "types": a.types,
        "cost_model": { "base_mib": a.base_mib, "per_cluster_mib": a.per_cluster_mib,
                        "per_object_kib": a.per_object_kib, "per_copy_kib": a.per_copy_kib, "probe_period_s": a.probe_period_s },
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replicas(n: usize) -> Vec<String> {
        names("replica", n)
    }

    #[test]
    fn every_cluster_has_one_owner_and_the_same_one_every_time() {
        let clusters = names("member", 500);
        let seven = replicas(7);
        let a = assign(&clusters, &seven);
        assert_eq!(a.len(), 500);
        assert_eq!(a, assign(&clusters, &seven.clone()));
        // The order replicas are listed in does not matter.
        let mut shuffled = replicas(7);
        shuffled.reverse();
        assert_eq!(a.values().collect::<Vec<_>>(), assign(&clusters, &shuffled).values().collect::<Vec<_>>());
        assert_eq!(owner("member-0001", &[]), None);
    }

    #[test]
    fn a_join_moves_only_clusters_to_the_new_replica_and_about_one_share() {
        let clusters = names("member", 1000);
        for r in [1, 2, 4, 8, 16] {
            let (old, new) = (replicas(r), replicas(r + 1));
            let before = assign(&clusters, &old);
            let after = assign(&clusters, &new);
            let newcomer = format!("replica-{r:04}");
            for (c, o) in &after {
                if before[c] != *o {
                    assert_eq!(*o, newcomer, "{c} moved between old replicas");
                }
            }
            let share = moved(&before, &after);
            let ideal = 1.0 / (r + 1) as f64;
            assert!((share - ideal).abs() < 0.06, "{r}→{}: moved {share}, ideal {ideal}", r + 1);
        }
    }

    #[test]
    fn a_failure_moves_only_the_dead_replicas_clusters() {
        let clusters = names("member", 1000);
        let all = replicas(8);
        let before = assign(&clusters, &all);
        let survivors: Vec<String> = all.iter().filter(|r| *r != "replica-0003").cloned().collect();
        let after = assign(&clusters, &survivors);
        for (c, o) in &before {
            if *o != "replica-0003" {
                assert_eq!(after[c], *o, "{c} moved although its owner lives");
            }
        }
    }

    #[test]
    fn load_is_balanced_within_a_third_of_the_mean_at_1000_clusters() {
        let clusters = names("member", 1000);
        for r in [2, 4, 8, 16] {
            let reps = replicas(r);
            let a = assign(&clusters, &reps);
            let mut per: BTreeMap<&str, usize> = BTreeMap::new();
            for o in a.values() {
                *per.entry(o).or_default() += 1;
            }
            let max = *per.values().max().unwrap() as f64;
            assert_eq!(per.len(), r, "a replica with no cluster");
            assert!(max / (1000.0 / r as f64) < 1.34, "{r} replicas: busiest holds {max}");
        }
    }

    #[test]
    fn placements_spread_copies_evenly() {
        let mut per = vec![0usize; 100];
        for i in 0..10_000 {
            for c in placement(i, 3, 100) {
                per[c] += 1;
            }
        }
        assert_eq!(per.iter().sum::<usize>(), 30_000);
        assert!(*per.iter().max().unwrap() < 400 && *per.iter().min().unwrap() > 200, "{per:?}");
    }
}
