//! `kubefed.io/orphan`: exactly `true` and `false` parse; anything else fails with one line
//! naming the annotation.
#![no_main]

use fed_core::annotations::parse_orphan;
use fed_core::keys;
use fed_fuzz::assert_message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else { return };
    match parse_orphan(value) {
        Ok(orphan) => assert_eq!(orphan.to_string(), value),
        Err(e) => {
            assert!(value != "true" && value != "false");
            assert_message(&e.to_string(), &format!("{}: ", keys::ORPHAN));
        }
    }
});
