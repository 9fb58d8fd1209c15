//! Bytes on a worker's messaging port: frames split off a byte stream with `peek_frame_len` (as the
//! worker's event loop does) and decoded with `decode_frame`; what decodes is re-encoded and must
//! decode again.
#![no_main]
use libfuzzer_sys::fuzz_target;
use storm::transport::wire::{decode_frame, encode_frame, peek_frame_len, FRAME_HEADER_BYTES};

const MAX: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    loop {
        match peek_frame_len(rest, MAX) {
            Ok(Some(len)) => {
                let end = (FRAME_HEADER_BYTES + len).min(rest.len());
                let frame = &rest[..end];
                if let Ok(messages) = decode_frame(frame, MAX) {
                    if let Ok(again) = encode_frame(&messages) {
                        let back = decode_frame(&again, usize::MAX).expect("re-decoding");
                        assert_eq!(back.len(), messages.len());
                    }
                }
                if end == rest.len() {
                    break;
                }
                rest = &rest[end..];
            }
            Ok(None) | Err(_) => break,
        }
    }
});
