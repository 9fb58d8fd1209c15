//! One Thrift call message (no frame prefix) read by the generated processors of nimbus / drpc /
//! drpc-invocations / supervisor through storm-rs's bounded binary protocol, the first byte choosing
//! the service. Replies (application errors) are written too.
#![no_main]
use libfuzzer_sys::fuzz_target;
use storm_fuzz::processor;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let (proc_, opts) = processor(sel);
    let mut frame = rest.to_vec();
    let mut reply = Vec::new();
    if let Err(e) = storm::thrift::server::process_frame(&mut frame, proc_, &opts, &mut reply) {
        assert!(!e.contains("panicked"), "{e}");
    }
});
