//! `kubefed.io/placement`: any text either parses to a canonical value that reads back as
//! itself, or fails with one line naming the annotation.
#![no_main]

use std::collections::BTreeSet;

use fed_core::annotations::{PlacementAnnotation, normalized_placement, parse_placement};
use fed_core::{keys, names};
use fed_fuzz::assert_message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else { return };
    match parse_placement(value) {
        Ok(parsed) => {
            let canonical = parsed.to_string();
            assert_eq!(parse_placement(&canonical).as_ref(), Ok(&parsed), "{canonical:?}");
            assert_eq!(normalized_placement(&canonical).as_deref(), Ok(canonical.as_str()));
            match &parsed {
                PlacementAnnotation::All => assert_eq!(value.trim(), "*"),
                PlacementAnnotation::Clusters(clusters) => {
                    assert!(clusters.windows(2).all(|w| w[0] < w[1]), "sorted without duplicates: {clusters:?}");
                    let items: BTreeSet<&str> = value.split(',').map(str::trim).collect();
                    assert_eq!(items.len(), clusters.len(), "every item is a cluster: {value:?}");
                    for cluster in clusters {
                        assert_eq!(names::dns1123_subdomain(cluster), Ok(()));
                        assert!(items.contains(cluster.as_str()), "{cluster:?} not in {value:?}");
                    }
                }
            }
        }
        Err(e) => assert_message(&e.to_string(), &format!("{}: ", keys::PLACEMENT)),
    }
});
