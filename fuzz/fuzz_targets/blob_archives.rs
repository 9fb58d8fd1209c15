//! A user blob with `"uncompress": true` in `topology.blobstore.map`, unpacked by the supervisor
//! (`storm::supervisor::blobs::extract_archive`): zip/jar, tar, tar.gz chosen by the key's extension
//! (first byte of the input) or by the bytes; nothing may land outside the destination.
#![no_main]
use libfuzzer_sys::fuzz_target;
use storm::supervisor::blobs::extract_archive;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let key = match sel % 5 {
        0 => "archive.zip",
        1 => "archive.jar",
        2 => "archive.tar",
        3 => "archive.tar.gz",
        _ => "archive",
    };
    let base = storm_fuzz::scratch();
    let dir = tempfile::tempdir_in(base).unwrap();
    let file = dir.path().join("blob");
    std::fs::write(&file, rest).unwrap();
    let _ = extract_archive(&file, key, &dir.path().join("dest"));
    storm_fuzz::assert_contained(dir.path(), &["blob", "dest"]);
});
