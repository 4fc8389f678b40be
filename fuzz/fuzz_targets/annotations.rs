//! A whole set of annotations (`key=value` lines) through `from_annotations`: the result agrees
//! with the individual parsers (the first malformed annotation, in the order placement,
//! cluster selector, overrides, orphan, replica scheduling, overflow-after, is the error), and a source's
//! placement resolves to joined clusters only.
#![no_main]

use std::collections::BTreeMap;

use fed_core::admission::FederationView;
use fed_core::annotations::{
    PlacementAnnotation, from_annotations, is_source, parse_orphan, parse_overrides, parse_placement,
};
use fed_core::api::{ClusterSelector, Placement};
use fed_core::keys::{CLUSTER_SELECTOR, ORPHAN, OVERFLOW_AFTER, OVERRIDES, PLACEMENT, REPLICA_SCHEDULING};
use fed_core::placement::{check, resolve};
use fed_core::replicas::overflow::parse_after;
use fed_core::replicas::parse_annotation;
use fed_core::selector::parse_selector;
use fed_fuzz::{assert_message, federation};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let annotations: BTreeMap<String, String> =
        text.lines().filter_map(|line| line.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let get = |key: &str| annotations.get(key).map(String::as_str);
    let first_error = [
        get(PLACEMENT).and_then(|v| parse_placement(v).err()).map(|e| e.to_string()),
        get(CLUSTER_SELECTOR).and_then(|v| parse_selector(v).err()).map(|e| format!("{CLUSTER_SELECTOR}: {e}")),
        get(OVERRIDES).and_then(|v| parse_overrides(v).err()).map(|e| e.to_string()),
        get(ORPHAN).and_then(|v| parse_orphan(v).err()).map(|e| e.to_string()),
        get(REPLICA_SCHEDULING).and_then(|v| parse_annotation(v).err()).map(|e| e.to_string()),
        get(OVERFLOW_AFTER).and_then(|v| parse_after(v).err()),
    ]
    .into_iter()
    .flatten()
    .next();
    let parsed = match from_annotations(&annotations) {
        Err(e) => {
            assert_eq!(Some(e.to_string()), first_error);
            return assert_message(&e.to_string(), "kubefed.io/");
        }
        Ok(parsed) => parsed,
    };
    assert_eq!(first_error, None);
    assert_eq!(parsed.is_some(), is_source(&annotations));
    let Some(parsed) = parsed else { return };
    assert_eq!(parsed.orphan, get(ORPHAN) == Some("true"));
    assert_eq!(parsed.replica_scheduling, get(REPLICA_SCHEDULING).map(|v| parse_annotation(v).expect("checked above")));
    assert_eq!(parsed.overflow_after, get(OVERFLOW_AFTER).map(|v| parse_after(v).expect("checked above")));
    assert_eq!(Some(parsed.overrides), get(OVERRIDES).map_or(Ok(Vec::new()), parse_overrides).ok());
    let selector = get(CLUSTER_SELECTOR).map(|s| parse_selector(s).expect("checked above"));
    let expected = match get(PLACEMENT).map(|p| parse_placement(p).expect("checked above")) {
        Some(PlacementAnnotation::All) => {
            Placement { clusters: None, cluster_selector: Some(ClusterSelector::default()) }
        }
        Some(PlacementAnnotation::Clusters(names)) => {
            Placement { cluster_selector: selector, ..Placement::clusters(names) }
        }
        None => Placement { clusters: None, cluster_selector: selector },
    };
    assert_eq!(parsed.placement, expected);

    let clusters = federation().clusters();
    let resolved = resolve(&parsed.placement, &clusters);
    assert!(resolved.iter().all(|name| clusters.iter().any(|c| &c.name == name)), "{resolved:?}");
    match check(&parsed.placement, &clusters) {
        Ok(checked) => assert_eq!(checked, resolved),
        Err(e) => assert_message(&e.to_string(), "cluster"),
    }
});
