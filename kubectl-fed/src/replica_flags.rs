//! `--weights`, `--min`, `--max`, `--divide` and `--spill-over` of `kubectl fed place` → the
//! value of `kubefed.io/replica-scheduling` (KubeFed's ReplicaSchedulingPreference
//! `spec.clusters`, or a spill-over order).

use anyhow::{Result, bail};
use fed_core::api::{ClusterPreferences, ClusterPreferencesMap, WILDCARD_CLUSTER};
use fed_core::replicas::{Scheduling, format_annotation};

/// The replica-division flags as given.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplicaFlags<'a> {
    /// `--weights C=N,…`.
    pub weights: Option<&'a str>,
    /// `--min C=N,…` (repeatable).
    pub min: &'a [String],
    /// `--max C=N,…` (repeatable).
    pub max: &'a [String],
    /// `--divide`: an even split.
    pub divide: bool,
    /// `--spill-over`: the `--clusters` list as given, in its order.
    pub spill_over: Option<&'a str>,
}

impl ReplicaFlags<'_> {
    /// The annotation value, `None` when no flag divides the replicas.
    ///
    /// `--divide` alone is `{}` (an even split); with `--min`/`--max`, `"*"` has weight 1.
    /// `--weights` names the clusters that get replicas. A cluster given only a minimum or a
    /// maximum gets weight 1 (an entry replaces `"*"`, so without a weight it would get none).
    pub fn annotation(&self) -> Result<Option<String>> {
        let limited = !self.min.is_empty() || !self.max.is_empty();
        if let Some(order) = self.spill_over {
            if self.weights.is_some() || self.divide || limited {
                bail!(
                    "--spill-over fills the --clusters in their order; it cannot be combined with --weights, --min, --max or --divide"
                );
            }
            let names: Vec<String> = order.split(',').map(|c| c.trim().to_string()).collect();
            if names.iter().any(|c| c == "*") {
                bail!("--spill-over needs --clusters in the order to fill them (e.g. --clusters vulcan,kronos), not *");
            }
            let value = format_annotation(&Scheduling::spill_over(names));
            fed_core::replicas::parse_annotation(&value).map_err(|e| anyhow::anyhow!("--spill-over: {e}"))?;
            return Ok(Some(value));
        }
        match (self.weights, self.divide) {
            (Some(_), true) => bail!("--weights and --divide cannot be combined: --divide is an even split"),
            (None, false) if limited => bail!("--min and --max need --weights or --divide"),
            (None, false) => return Ok(None),
            _ => {}
        }
        let mut prefs = ClusterPreferencesMap::new();
        for (cluster, weight) in pairs("--weights", self.weights.into_iter())? {
            prefs.entry(cluster).or_default().weight = weight;
        }
        let limits = pairs("--min", self.min.iter().map(String::as_str))?
            .into_iter()
            .map(|(c, n)| (c, n, true))
            .chain(pairs("--max", self.max.iter().map(String::as_str))?.into_iter().map(|(c, n)| (c, n, false)));
        for (cluster, n, is_min) in limits {
            let entry = prefs.entry(cluster).or_insert_with(|| ClusterPreferences::weight(1));
            if is_min { entry.min_replicas = n } else { entry.max_replicas = Some(n) }
        }
        for (cluster, p) in &prefs {
            if let Some(max) = p.max_replicas.filter(|max| p.min_replicas > *max) {
                bail!("--min {cluster}={} is more than --max {cluster}={max}", p.min_replicas);
            }
        }
        if self.divide && !prefs.is_empty() {
            prefs.insert(WILDCARD_CLUSTER.to_string(), ClusterPreferences::weight(1));
        }
        Ok(Some(format_annotation(&Scheduling::weighted(prefs))))
    }

    /// The clusters the flags name (for the check against `--clusters`).
    pub fn clusters(&self) -> Vec<String> {
        let lists = self
            .weights
            .into_iter()
            .chain(self.min.iter().map(String::as_str))
            .chain(self.max.iter().map(String::as_str));
        lists.flat_map(|l| l.split(',')).filter_map(|p| p.split_once('=')).map(|(c, _)| c.trim().to_string()).collect()
    }
}

/// `C=N,C=N` items of one flag (all its occurrences), N a non-negative whole number.
fn pairs<'a>(flag: &str, lists: impl Iterator<Item = &'a str>) -> Result<Vec<(String, i64)>> {
    let mut out = Vec::new();
    for item in lists.flat_map(|l| l.split(',')) {
        let item = item.trim();
        let Some((cluster, n)) = item.split_once('=') else {
            bail!("{flag} {item:?}: expected CLUSTER=N (e.g. vulcan=2)");
        };
        let cluster = cluster.trim();
        if cluster.is_empty() {
            bail!("{flag} {item:?}: the cluster name is empty; expected CLUSTER=N (e.g. vulcan=2)");
        }
        let Ok(n) = n.trim().parse::<i64>() else {
            bail!("{flag} {item:?}: {:?} is not a whole number", n.trim());
        };
        if n < 0 {
            bail!("{flag} {item:?}: the number must not be negative");
        }
        if out.iter().any(|(c, _): &(String, i64)| c == cluster) {
            bail!("{flag} names cluster {cluster:?} twice");
        }
        out.push((cluster.to_string(), n));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn weights_min_max_and_divide_make_the_annotation() {
        let none = ReplicaFlags::default();
        assert_eq!(none.annotation().unwrap(), None);
        let divide = ReplicaFlags { divide: true, ..Default::default() };
        assert_eq!(divide.annotation().unwrap().as_deref(), Some("{}"));
        let weights = ReplicaFlags { weights: Some("vulcan=2, kronos=1"), ..Default::default() };
        assert_eq!(weights.annotation().unwrap().as_deref(), Some(r#"{"kronos":{"weight":1},"vulcan":{"weight":2}}"#));
        let (min, max) = (strings(&["vulcan=4"]), strings(&["vulcan=6,kronos=8"]));
        let limited = ReplicaFlags { weights: Some("vulcan=1"), min: &min, max: &max, ..Default::default() };
        assert_eq!(
            limited.annotation().unwrap().as_deref(),
            Some(r#"{"kronos":{"maxReplicas":8,"weight":1},"vulcan":{"minReplicas":4,"maxReplicas":6,"weight":1}}"#),
            "a cluster with only a maximum gets weight 1"
        );
        let max = strings(&["kronos=20"]);
        let spill = ReplicaFlags { spill_over: Some("vulcan, kronos"), ..Default::default() };
        assert_eq!(
            spill.annotation().unwrap().as_deref(),
            Some(r#"{"spillOver":["vulcan","kronos"]}"#),
            "in the given order"
        );
        let capped = ReplicaFlags { max: &max, divide: true, ..Default::default() };
        assert_eq!(
            capped.annotation().unwrap().as_deref(),
            Some(r#"{"*":{"weight":1},"kronos":{"maxReplicas":20,"weight":1}}"#)
        );
        assert_eq!(limited.clusters(), ["vulcan", "vulcan", "vulcan", "kronos"]);
    }

    #[test]
    fn bad_flags_are_one_line() {
        let (min, max) = (strings(&["vulcan=5"]), strings(&["vulcan=3"]));
        let cases = [
            (ReplicaFlags { weights: Some("vulcan"), ..Default::default() }, "expected CLUSTER=N"),
            (ReplicaFlags { weights: Some("vulcan=x"), ..Default::default() }, r#""x" is not a whole number"#),
            (ReplicaFlags { weights: Some("vulcan=-1"), ..Default::default() }, "must not be negative"),
            (ReplicaFlags { weights: Some("=1"), ..Default::default() }, "the cluster name is empty"),
            (ReplicaFlags { weights: Some("a=1,a=2"), ..Default::default() }, "twice"),
            (ReplicaFlags { weights: Some("a=1"), divide: true, ..Default::default() }, "cannot be combined"),
            (
                ReplicaFlags { spill_over: Some("a,b"), divide: true, ..Default::default() },
                "--spill-over fills the --clusters in their order",
            ),
            (ReplicaFlags { spill_over: Some("*"), ..Default::default() }, "not *"),
            (ReplicaFlags { min: &min, ..Default::default() }, "need --weights or --divide"),
            (ReplicaFlags { min: &min, max: &max, divide: true, ..Default::default() }, "is more than --max"),
        ];
        for (flags, want) in cases {
            let msg = flags.annotation().unwrap_err().to_string();
            assert!(msg.contains(want), "{flags:?}: {msg}");
            assert!(!msg.contains('\n'));
        }
    }
}
