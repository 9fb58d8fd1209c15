//! Bytes arriving on a Thrift port: the framed server loop (length prefix, frame cap, one call per
//! frame) of nimbus / drpc / drpc-invocations / supervisor, the first byte choosing the service.
#![no_main]
use libfuzzer_sys::fuzz_target;
use storm_fuzz::{processor, MemStream};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let (proc_, mut opts) = processor(sel);
    // A small cap so that over-long length prefixes are exercised too.
    opts.max_frame_bytes = 64 * 1024;
    let mut stream = MemStream {
        input: rest,
        written: 0,
    };
    let r = storm::thrift::server::serve_stream(&mut stream, proc_, &opts);
    if let Err(e) = r {
        assert!(!e.contains("panicked"), "{e}");
    }
});
