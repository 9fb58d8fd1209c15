//! A multilang subprocess's stdout: `<json>\nend\n` frames read with a small size limit, each parsed
//! as a `ShellMsg` (or, first, the pid handshake reply), and emitted values converted to tuple values.
#![no_main]
use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use storm::multilang::codec::{json_to_value, parse_json, parse_pid, FrameReader, ShellMsg};

fuzz_target!(|data: &[u8]| {
    let mut reader = FrameReader::with_limit(Cursor::new(data), 4096);
    let mut first = true;
    // Every message read consumes input, so the loop ends.
    while let Ok(text) = reader.read_message() {
        if first {
            let _ = parse_pid(&text);
            first = false;
        }
        let _ = parse_json(&text);
        if let Ok(ShellMsg::Emit(emit)) = ShellMsg::parse(&text) {
            for v in &emit.tuple {
                let _ = json_to_value(v);
            }
        }
    }
});
