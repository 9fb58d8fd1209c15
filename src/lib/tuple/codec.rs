//! The compact binary encoding of a tuple's values (DESIGN §6), used inside worker-to-worker frames.
//!
//! ```text
//! values := count:varint value*count
//! value  := 0x00                      Null
//!         | 0x01 | 0x02               Bool false | true
//!         | 0x03 zigzag:varint        Int   (32-bit)
//!         | 0x04 zigzag:varint        Long  (64-bit)
//!         | 0x05 bits:4 bytes LE      Float
//!         | 0x06 bits:8 bytes LE      Double
//!         | 0x07 len:varint utf8*len  String
//!         | 0x08 len:varint byte*len  Bytes
//!         | 0x09 count:varint value*count               List
//!         | 0x0a count:varint (key value)*count         Map (insertion order kept)
//!         | 0x0b hash:4 bytes LE len:varint byte*len    Java object (hashCode, serialized form)
//! varint := unsigned LEB128, at most 10 bytes (5 for an Int)
//! ```
//!
//! Decoding never panics and never trusts a length prefix: every length or count is checked against the
//! bytes that remain before anything is allocated (a value needs at least one byte, a map entry two),
//! preallocation is capped, and nesting is limited to [`MAX_DEPTH`]. Floats keep their exact bits (NaN
//! payloads included).

use super::Value;

/// Deepest nesting of lists and maps [`decode_values`] accepts.
pub const MAX_DEPTH: usize = 100;

/// Most elements preallocated for one list or map; longer ones grow as values actually decode.
const MAX_PREALLOC: usize = 1024;

const TAG_NULL: u8 = 0x00;
const TAG_FALSE: u8 = 0x01;
const TAG_TRUE: u8 = 0x02;
const TAG_INT: u8 = 0x03;
const TAG_LONG: u8 = 0x04;
const TAG_FLOAT: u8 = 0x05;
const TAG_DOUBLE: u8 = 0x06;
const TAG_STRING: u8 = 0x07;
const TAG_BYTES: u8 = 0x08;
const TAG_LIST: u8 = 0x09;
const TAG_MAP: u8 = 0x0a;
const TAG_JAVA: u8 = 0x0b;

/// Why a byte string is not a valid encoding. Offsets are from the start of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("tuple values truncated at byte {offset}: {needed} more bytes needed")]
    Truncated { offset: usize, needed: usize },
    #[error("unknown value tag {tag:#04x} at byte {offset}")]
    UnknownTag { offset: usize, tag: u8 },
    #[error("malformed or out-of-range varint at byte {offset}")]
    BadVarint { offset: usize },
    #[error("length {len} at byte {offset} exceeds the {remaining} bytes that remain")]
    LengthTooLarge {
        offset: usize,
        len: u64,
        remaining: usize,
    },
    #[error("string at byte {offset} is not valid UTF-8")]
    InvalidUtf8 { offset: usize },
    #[error("values nested deeper than {MAX_DEPTH} levels at byte {offset}")]
    TooDeep { offset: usize },
    #[error("{count} unexpected bytes after the tuple values at byte {offset}")]
    TrailingBytes { offset: usize, count: usize },
}

/// Where encoded bytes go: a growing `Vec` (never full) or a fixed slice (full when it runs out).
trait Out {
    fn push(&mut self, b: u8);
    fn extend_from_slice(&mut self, b: &[u8]);
}

impl Out for Vec<u8> {
    #[inline]
    fn push(&mut self, b: u8) {
        Vec::push(self, b);
    }

    #[inline]
    fn extend_from_slice(&mut self, b: &[u8]) {
        Vec::extend_from_slice(self, b);
    }
}

/// A fixed buffer being filled; `overflow` is set (and nothing more written) once it is full.
struct SliceOut<'a> {
    out: &'a mut [u8],
    pos: usize,
    overflow: bool,
}

impl Out for SliceOut<'_> {
    #[inline]
    fn push(&mut self, b: u8) {
        match self.out.get_mut(self.pos) {
            Some(slot) => {
                *slot = b;
                self.pos += 1;
            }
            None => self.overflow = true,
        }
    }

    #[inline]
    fn extend_from_slice(&mut self, b: &[u8]) {
        match self.out.get_mut(self.pos..self.pos + b.len()) {
            Some(dst) => {
                dst.copy_from_slice(b);
                self.pos += b.len();
            }
            None => self.overflow = true,
        }
    }
}

/// Appends the encoding of `values` (count, then each value) to `out`.
pub fn encode_values(values: &[Value], out: &mut Vec<u8>) {
    encode_values_to(values, out);
}

/// Writes the encoding of `values` at the start of `out`; the number of bytes, or `None` when it does
/// not fit (the contents of `out` are then unspecified).
pub fn encode_values_into(values: &[Value], out: &mut [u8]) -> Option<usize> {
    let mut w = SliceOut {
        out,
        pos: 0,
        overflow: false,
    };
    encode_values_to(values, &mut w);
    (!w.overflow).then_some(w.pos)
}

fn encode_values_to<O: Out>(values: &[Value], out: &mut O) {
    put_varint(out, values.len() as u64);
    for v in values {
        encode_value_to(v, out);
    }
}

/// Appends the encoding of one value to `out`.
pub fn encode_value(value: &Value, out: &mut Vec<u8>) {
    encode_value_to(value, out);
}

fn encode_value_to<O: Out>(value: &Value, out: &mut O) {
    match value {
        Value::Null => out.push(TAG_NULL),
        Value::Bool(false) => out.push(TAG_FALSE),
        Value::Bool(true) => out.push(TAG_TRUE),
        Value::Int(v) => {
            out.push(TAG_INT);
            put_varint(out, u64::from(((v << 1) ^ (v >> 31)) as u32));
        }
        Value::Long(v) => {
            out.push(TAG_LONG);
            put_varint(out, ((v << 1) ^ (v >> 63)) as u64);
        }
        Value::Float(v) => {
            out.push(TAG_FLOAT);
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        Value::Double(v) => {
            out.push(TAG_DOUBLE);
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        Value::String(s) => {
            out.push(TAG_STRING);
            put_varint(out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Bytes(b) => {
            out.push(TAG_BYTES);
            put_varint(out, b.len() as u64);
            out.extend_from_slice(b);
        }
        Value::List(items) => {
            out.push(TAG_LIST);
            put_varint(out, items.len() as u64);
            for item in items {
                encode_value_to(item, out);
            }
        }
        Value::Java(j) => {
            out.push(TAG_JAVA);
            out.extend_from_slice(&j.hash.to_le_bytes());
            put_varint(out, j.bytes.len() as u64);
            out.extend_from_slice(&j.bytes);
        }
        Value::Map(entries) => {
            out.push(TAG_MAP);
            put_varint(out, entries.len() as u64);
            for (k, v) in entries {
                encode_value_to(k, out);
                encode_value_to(v, out);
            }
        }
    }
}

/// Decodes the values of one tuple; the input must hold exactly one encoding (see
/// [`decode_values_prefix`] to decode from the front of a larger buffer).
pub fn decode_values(input: &[u8]) -> Result<Vec<Value>, CodecError> {
    let (values, used) = decode_values_prefix(input)?;
    if used != input.len() {
        return Err(CodecError::TrailingBytes {
            offset: used,
            count: input.len() - used,
        });
    }
    Ok(values)
}

/// Decodes the values of one tuple from the front of `input`, returning them and the bytes consumed.
pub fn decode_values_prefix(input: &[u8]) -> Result<(Vec<Value>, usize), CodecError> {
    let mut d = Decoder { input, pos: 0 };
    let count = d.count(1)?;
    let mut values = Vec::with_capacity(count.min(MAX_PREALLOC));
    for _ in 0..count {
        values.push(d.value(0)?);
    }
    Ok((values, d.pos))
}

/// [`decode_values_prefix`] into `values`, reusing its `String` and `Vec<u8>` buffers where the
/// same kind of value comes at the same place (a spout refilling one vector per emit allocates
/// nothing once it is warm). Returns the bytes consumed; on an error `values` holds a partial
/// decode and must not be used.
pub fn decode_values_prefix_into(
    input: &[u8],
    values: &mut Vec<Value>,
) -> Result<usize, CodecError> {
    let mut d = Decoder { input, pos: 0 };
    let count = d.count(1)?;
    values.truncate(count);
    for i in 0..count {
        match values.get_mut(i) {
            Some(slot) => d.value_into(slot)?,
            None => values.push(d.value(0)?),
        }
    }
    Ok(d.pos)
}

/// Decodes one value from the front of `input`, returning it and the bytes consumed.
pub fn decode_value_prefix(input: &[u8]) -> Result<(Value, usize), CodecError> {
    let mut d = Decoder { input, pos: 0 };
    let v = d.value(0)?;
    Ok((v, d.pos))
}

#[inline]
fn put_varint<O: Out>(out: &mut O, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    #[inline]
    fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    #[inline]
    fn byte(&mut self) -> Result<u8, CodecError> {
        let b = *self.input.get(self.pos).ok_or(CodecError::Truncated {
            offset: self.pos,
            needed: 1,
        })?;
        self.pos += 1;
        Ok(b)
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if n > self.remaining() {
            return Err(CodecError::Truncated {
                offset: self.pos,
                needed: n - self.remaining(),
            });
        }
        let s = &self.input[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    #[inline]
    fn varint(&mut self) -> Result<u64, CodecError> {
        let start = self.pos;
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            // The 10th byte may only carry the 64th bit.
            if shift == 63 && b > 1 {
                return Err(CodecError::BadVarint { offset: start });
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(CodecError::BadVarint { offset: start })
    }

    /// A length or element count, each element taking at least `min_bytes` of the remaining input.
    #[inline]
    fn count(&mut self, min_bytes: usize) -> Result<usize, CodecError> {
        let offset = self.pos;
        let n = self.varint()?;
        let remaining = self.remaining();
        match usize::try_from(n) {
            Ok(len) if len <= remaining / min_bytes => Ok(len),
            _ => Err(CodecError::LengthTooLarge {
                offset,
                len: n,
                remaining,
            }),
        }
    }

    /// [`Decoder::value`] into `slot`, in its own buffer when it is a string or bytes and so is
    /// the value.
    fn value_into(&mut self, slot: &mut Value) -> Result<(), CodecError> {
        match (self.input.get(self.pos).copied(), &mut *slot) {
            (Some(TAG_STRING), Value::String(text)) => {
                self.pos += 1;
                let len = self.count(1)?;
                let start = self.pos;
                let bytes = self.take(len)?;
                let s = std::str::from_utf8(bytes)
                    .map_err(|_| CodecError::InvalidUtf8 { offset: start })?;
                text.clear();
                text.push_str(s);
            }
            (Some(TAG_BYTES), Value::Bytes(bytes)) => {
                self.pos += 1;
                let len = self.count(1)?;
                let taken = self.take(len)?;
                bytes.clear();
                bytes.extend_from_slice(taken);
            }
            _ => *slot = self.value(0)?,
        }
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<Value, CodecError> {
        let offset = self.pos;
        let tag = self.byte()?;
        Ok(match tag {
            TAG_NULL => Value::Null,
            TAG_FALSE => Value::Bool(false),
            TAG_TRUE => Value::Bool(true),
            TAG_INT => {
                let z = u32::try_from(self.varint()?)
                    .map_err(|_| CodecError::BadVarint { offset: offset + 1 })?;
                Value::Int(((z >> 1) as i32) ^ -((z & 1) as i32))
            }
            TAG_LONG => {
                let z = self.varint()?;
                Value::Long(((z >> 1) as i64) ^ -((z & 1) as i64))
            }
            TAG_FLOAT => Value::Float(f32::from_bits(u32::from_le_bytes(self.array()?))),
            TAG_DOUBLE => Value::Double(f64::from_bits(u64::from_le_bytes(self.array()?))),
            TAG_STRING => {
                let len = self.count(1)?;
                let start = self.pos;
                let bytes = self.take(len)?;
                let s = std::str::from_utf8(bytes)
                    .map_err(|_| CodecError::InvalidUtf8 { offset: start })?;
                Value::String(s.to_owned())
            }
            TAG_BYTES => {
                let len = self.count(1)?;
                Value::Bytes(self.take(len)?.to_vec())
            }
            TAG_JAVA => {
                let hash = i32::from_le_bytes(self.array()?);
                let len = self.count(1)?;
                Value::Java(Box::new(super::JavaValue {
                    hash,
                    bytes: self.take(len)?.to_vec(),
                }))
            }
            TAG_LIST => {
                if depth >= MAX_DEPTH {
                    return Err(CodecError::TooDeep { offset });
                }
                let n = self.count(1)?;
                let mut items = Vec::with_capacity(n.min(MAX_PREALLOC));
                for _ in 0..n {
                    items.push(self.value(depth + 1)?);
                }
                Value::List(items)
            }
            TAG_MAP => {
                if depth >= MAX_DEPTH {
                    return Err(CodecError::TooDeep { offset });
                }
                let n = self.count(2)?;
                let mut entries = Vec::with_capacity(n.min(MAX_PREALLOC));
                for _ in 0..n {
                    let k = self.value(depth + 1)?;
                    let v = self.value(depth + 1)?;
                    entries.push((k, v));
                }
                Value::Map(entries)
            }
            tag => return Err(CodecError::UnknownTag { offset, tag }),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc(values: &[Value]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_values(values, &mut out);
        out
    }

    #[test]
    fn known_encodings() {
        assert_eq!(enc(&[]), vec![0]);
        assert_eq!(
            enc(&[
                Value::Null,
                Value::Bool(true),
                Value::Int(-1),
                Value::Long(300)
            ]),
            vec![4, 0x00, 0x02, 0x03, 0x01, 0x04, 0xd8, 0x04]
        );
        assert_eq!(
            enc(&[Value::from("hé")]),
            vec![1, 0x07, 3, b'h', 0xc3, 0xa9]
        );
        assert_eq!(
            enc(&[Value::Map(vec![(Value::Int(1), Value::List(vec![]))])]),
            vec![1, 0x0a, 1, 0x03, 2, 0x09, 0]
        );
        assert_eq!(enc(&[Value::Long(i64::MIN)]).len(), 1 + 1 + 10);
    }

    #[test]
    fn extremes_round_trip() {
        let values = vec![
            Value::Int(i32::MIN),
            Value::Int(i32::MAX),
            Value::Long(i64::MIN),
            Value::Long(i64::MAX),
            Value::Double(f64::NAN),
            Value::Double(-0.0),
            Value::Float(f32::from_bits(0x7fc0_1234)),
            Value::Bytes(vec![]),
            Value::String(String::new()),
        ];
        let bytes = enc(&values);
        let back = decode_values(&bytes).unwrap();
        assert_eq!(enc(&back), bytes);
        assert_eq!(back[0], Value::Int(i32::MIN));
        assert_eq!(back[3], Value::Long(i64::MAX));
    }

    #[test]
    fn rejects_corrupt_input() {
        use CodecError::*;
        assert_eq!(
            decode_values(&[]),
            Err(Truncated {
                offset: 0,
                needed: 1
            })
        );
        assert!(matches!(
            decode_values(&[1, 0x07, 5, b'a']),
            Err(LengthTooLarge { len: 5, .. })
        ));
        assert!(matches!(
            decode_values(&[1, 0x07, 2, 0xff, 0xfe]),
            Err(InvalidUtf8 { offset: 3 })
        ));
        assert!(matches!(
            decode_values(&[1, 0x42]),
            Err(UnknownTag { tag: 0x42, .. })
        ));
        // A huge count prefix is refused before allocating.
        let mut huge = vec![];
        put_varint(&mut huge, u64::MAX);
        assert!(matches!(decode_values(&huge), Err(LengthTooLarge { .. })));
        // 11-byte varint.
        assert!(matches!(decode_values(&[0xff; 11]), Err(BadVarint { .. })));
        // An Int whose varint exceeds 32 bits.
        assert!(matches!(
            decode_values(&[1, 0x03, 0xff, 0xff, 0xff, 0xff, 0x1f]),
            Err(BadVarint { .. })
        ));
        assert!(matches!(
            decode_values(&[1, 0x06, 0, 0]),
            Err(Truncated { .. })
        ));
        assert!(matches!(
            decode_values(&[1, 0x00, 0x00]),
            Err(TrailingBytes {
                offset: 2,
                count: 1
            })
        ));
        // Deep nesting is refused, not a stack overflow.
        let mut deep = vec![1];
        deep.extend(std::iter::repeat_n([0x09, 1], 10_000).flatten());
        deep.push(0x00);
        assert!(matches!(decode_values(&deep), Err(TooDeep { .. })));
    }

    #[test]
    fn prefix_decoding_reports_consumed_bytes() {
        let mut bytes = enc(&[Value::from("a")]);
        let n = bytes.len();
        bytes.extend_from_slice(b"rest");
        let (values, used) = decode_values_prefix(&bytes).unwrap();
        assert_eq!(values, vec![Value::from("a")]);
        assert_eq!(used, n);
    }

    /// Arbitrary values of every kind, nested (shared with the transport's wire tests).
    pub(crate) fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(Value::Int),
            any::<i64>().prop_map(Value::Long),
            any::<u32>().prop_map(|b| Value::Float(f32::from_bits(b))),
            any::<u64>().prop_map(|b| Value::Double(f64::from_bits(b))),
            ".{0,12}".prop_map(Value::String),
            proptest::collection::vec(any::<u8>(), 0..16).prop_map(Value::Bytes),
            (any::<i32>(), proptest::collection::vec(any::<u8>(), 0..16)).prop_map(
                |(hash, bytes)| Value::Java(Box::new(super::super::JavaValue { hash, bytes }))
            ),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
                proptest::collection::vec((inner.clone(), inner), 0..4).prop_map(Value::Map),
            ]
        })
    }

    proptest! {
        #[test]
        fn slice_encoding_matches_vec_encoding(
            values in proptest::collection::vec(arb_value(), 0..8),
            room in 0usize..64,
        ) {
            let bytes = enc(&values);
            let mut out = vec![0u8; room];
            match encode_values_into(&values, &mut out) {
                Some(n) => {
                    prop_assert_eq!(n, bytes.len());
                    prop_assert_eq!(&out[..n], &bytes[..]);
                }
                None => prop_assert!(room < bytes.len()),
            }
        }

        #[test]
        fn round_trip(values in proptest::collection::vec(arb_value(), 0..8)) {
            let bytes = enc(&values);
            let back = decode_values(&bytes).unwrap();
            // Compare encodings: bit-exact, and NaN-safe unlike `==`.
            prop_assert_eq!(enc(&back), bytes);
            prop_assert_eq!(back.len(), values.len());
            for (a, b) in back.iter().zip(&values) {
                prop_assert_eq!(a.java_hash_code(), b.java_hash_code());
            }
        }

        #[test]
        fn decoding_into_a_used_vector_matches_a_fresh_decode(
            before in proptest::collection::vec(arb_value(), 0..8),
            values in proptest::collection::vec(arb_value(), 0..8),
        ) {
            let bytes = enc(&values);
            let mut into = before;
            let used = decode_values_prefix_into(&bytes, &mut into).unwrap();
            prop_assert_eq!(used, bytes.len());
            prop_assert_eq!(enc(&into), bytes);
        }

        #[test]
        fn cloning_into_a_used_value_matches_a_clone(before in arb_value(), value in arb_value()) {
            let mut into = before;
            into.clone_from(&value);
            prop_assert_eq!(enc(std::slice::from_ref(&into)), enc(std::slice::from_ref(&value)));
        }

        #[test]
        fn truncation_is_an_error(values in proptest::collection::vec(arb_value(), 1..6), cut in any::<prop::sample::Index>()) {
            let bytes = enc(&values);
            let cut = cut.index(bytes.len());
            prop_assert!(decode_values(&bytes[..cut]).is_err());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_values(&bytes);
            let _ = decode_value_prefix(&bytes);
            let mut into = vec![Value::String("x".into()), Value::Bytes(vec![1])];
            let _ = decode_values_prefix_into(&bytes, &mut into);
        }
    }
}
