//! `kubefed.io/cluster-selector` (the label-selector string form): any text either parses to a
//! well-formed selector whose canonical form reads back as the same selector, or fails with
//! one line naming the term.
#![no_main]

use fed_core::admission::FederationView;
use fed_core::selector::{matches, parse_selector, to_string, validate};
use fed_fuzz::{assert_message, federation};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else { return };
    match parse_selector(value) {
        Ok(selector) => {
            assert_eq!(validate(&selector), Ok(()), "a parsed selector is well formed");
            let canonical = to_string(&selector);
            assert_eq!(parse_selector(&canonical).as_ref(), Ok(&selector), "{canonical:?}");
            assert_eq!(to_string(&parse_selector(&canonical).unwrap_or_default()), canonical);
            if selector.match_expressions.is_empty() {
                assert!(matches(&selector, &selector.match_labels), "equality terms match their own labels");
            }
            for cluster in federation().clusters() {
                let _ = matches(&selector, &cluster.labels);
            }
        }
        Err(e) => assert_message(&e.to_string(), "term "),
    }
});
