//! A topology jar as the supervisor's localizer unpacks it: `extract_resources` of the zip's
//! `resources/` directory into a fresh directory; nothing may land outside it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use storm::supervisor::localizer::extract_resources;

fuzz_target!(|data: &[u8]| {
    let base = storm_fuzz::scratch();
    let dir = tempfile::tempdir_in(base).unwrap();
    let jar = dir.path().join("stormjar.jar");
    std::fs::write(&jar, data).unwrap();
    let target = dir.path().join("out").join("resources");
    let _ = extract_resources(&jar, &target);
    storm_fuzz::assert_contained(dir.path(), &["stormjar.jar", "out"]);
});
