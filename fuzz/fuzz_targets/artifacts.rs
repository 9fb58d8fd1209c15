//! `storm jar --artifacts/--artifactRepositories/--jars` input: Maven coordinates
//! (`group:artifact[:ext[:classifier]]:version[^excl…]`), repository lists (`name^url,…`) and local
//! jar lists (`storm::cli::artifacts`). storm-rs reads no POM or maven-metadata.xml (it resolves the
//! named artifacts only, no transitive dependencies), so these are its whole Maven input parsing.
#![no_main]
use libfuzzer_sys::fuzz_target;
use storm::cli::artifacts::{parse_artifacts, parse_coordinate, parse_repositories};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = parse_coordinate(text) {
        let _ = c.key();
        let _ = c.file_name();
        let _ = c.repository_path();
    }
    if let Ok(list) = parse_artifacts(text) {
        for c in &list {
            // What parses is a coordinate the parser takes back.
            parse_coordinate(&c.key()).expect("re-parsing a coordinate's key");
        }
    }
    let _ = parse_repositories(text);
});
