//! Fuzzes the configuration language: parsing must never panic or overflow the stack, and
//! whatever parses must print and re-parse to the same tree, and load (or fail) cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // No file: `include` resolves against the working directory and fails on a missing file,
    // which is an ordinary error.
    let Ok(tree) = rnats_config::parse_str(text, None) else {
        return;
    };
    let printed = tree.to_string();
    match rnats_config::parse_str(&printed, None) {
        Ok(again) => assert!(
            tree.same_content(&again),
            "round trip changed the tree:\n{printed}"
        ),
        Err(e) => panic!("printed tree does not parse: {e}\n{printed}"),
    }
    let _ = rnats_config::load_value(&tree);
});
