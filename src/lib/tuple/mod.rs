//! The tuple value model: what a tuple carries and how it is hashed and encoded.
//!
//! * [`Value`] is the dynamically typed value of one tuple field (null, bool, 32/64-bit integers, floats,
//!   strings, bytes, lists and maps). It hashes exactly like the Java object Storm would hold
//!   ([`Value::java_hash_code`], [`deep_hash_code`]), so fields grouping, partial-key grouping and acker
//!   routing pick the same tasks as Java Storm (storm-internals Appendix A).
//! * [`Fields`] are a stream's ordered field names; [`Fields::select`] picks a grouping's values.
//! * [`codec`] is the compact binary encoding of a tuple's values used on the wire between workers
//!   (DESIGN §6).
//! * `Value` also has a serde form (JSON for multilang and tests); see [`value`] for the mapping.

pub mod codec;
mod fields;
pub mod value;

pub use codec::{decode_values, encode_values, encode_values_into, CodecError};
pub(crate) use fields::short_str_eq;
pub use fields::{Fields, FieldsError};
pub use value::{
    deep_hash_code, double_hash_code, float_hash_code, long_hash_code, string_hash_code,
    JavaDisplay, JavaValue, Value,
};

/// The values of one tuple, in the order of the stream's [`Fields`] (Storm's `Values`).
pub type Values = Vec<Value>;
