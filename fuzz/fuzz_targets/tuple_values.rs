//! The tuple values codec (`storm::tuple::codec`): whole-input and prefix decoding; what decodes is
//! re-encoded, must decode again and re-encode to the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use storm::tuple::codec::{
    decode_value_prefix, decode_values, decode_values_prefix, encode_values,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(values) = decode_values(data) {
        let mut once = Vec::new();
        encode_values(&values, &mut once);
        let back = decode_values(&once).expect("re-decoding");
        let mut twice = Vec::new();
        encode_values(&back, &mut twice);
        assert_eq!(once, twice);
    }
    if let Ok((_, used)) = decode_values_prefix(data) {
        assert!(used <= data.len());
    }
    if let Ok((_, used)) = decode_value_prefix(data) {
        assert!(used <= data.len());
    }
});
