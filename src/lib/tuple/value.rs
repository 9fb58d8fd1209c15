//! [`Value`]: one field of a tuple, with Java's `hashCode`/`toString` rules and a serde (JSON) form.
//!
//! # Java semantics
//!
//! Each variant stands for the Java object Storm would carry in the same place: `Int` is
//! `java.lang.Integer`, `Long` is `Long`, `Float`/`Double` the boxed floats, `String` a `String`,
//! `Bytes` a `byte[]`, `List` a `java.util.List` and `Map` a `java.util.Map`. [`Value::java_hash_code`]
//! returns that object's `hashCode()` bit for bit (storm-internals Appendix A), and [`deep_hash_code`] is
//! `Arrays.deepHashCode` over a tuple's values. Two deliberate choices:
//!
//! * `Bytes` always hashes like `Arrays.hashCode(byte[])`, also inside a `List` or `Map` (where Java would
//!   use the array's identity hash, which no other process can reproduce).
//! * `Map` is an association list, `Vec<(Value, Value)>`, kept in insertion order (floats are not `Ord`,
//!   and multilang JSON objects keep their order). Its hash is Java's `AbstractMap.hashCode` (sum of
//!   `keyHash ^ valueHash`), which does not depend on the order; its `==` does.
//!
//! # JSON mapping (serde)
//!
//! Serializing: `Null` → `null`, `Bool` → boolean, `Int`/`Long` → integer, `Float`/`Double` → number (a
//! non-finite float becomes `null` in JSON), `String` → string, `Bytes` → serde bytes (in JSON an array of
//! numbers 0–255), `List` → array, `Map` → object (JSON needs string or number keys; other keys are a
//! serialization error). Deserializing (from any self-describing format): integers become `Long` (as Java
//! Storm's JSON reader yields `java.lang.Long`; an unsigned integer above `i64::MAX` becomes `Double`),
//! other numbers `Double`, strings `String`, byte strings `Bytes`, arrays `List`, objects `Map` with
//! `String` keys. JSON therefore does not round-trip `Int`, `Float` or `Bytes` exactly; the binary
//! [`codec`](super::codec) does.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// One field of a tuple. See the [module documentation](self) for the Java correspondence.
///
/// `clone_from` reuses the target's `String`/`Vec` allocation when both sides are the same kind, so
/// copying values into a recycled tuple allocates nothing once its buffers are big enough.
#[derive(Debug, PartialEq, Default)]
pub enum Value {
    /// Java `null`.
    #[default]
    Null,
    /// `java.lang.Boolean`.
    Bool(bool),
    /// `java.lang.Integer`.
    Int(i32),
    /// `java.lang.Long`.
    Long(i64),
    /// `java.lang.Float`.
    Float(f32),
    /// `java.lang.Double`.
    Double(f64),
    /// `java.lang.String`.
    String(String),
    /// `byte[]`.
    Bytes(Vec<u8>),
    /// `java.util.List`.
    List(Vec<Value>),
    /// `java.util.Map`, as an insertion-ordered association list.
    Map(Vec<(Value, Value)>),
    /// Any other Java object a Java component emitted (a user's POJO, a `Set`, a `BigDecimal`…):
    /// opaque bytes only a JVM reads back, with the object's `hashCode()` so fields groupings route
    /// it as Storm does.
    Java(Box<JavaValue>),
}

impl Clone for Value {
    fn clone(&self) -> Value {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(*b),
            Value::Int(v) => Value::Int(*v),
            Value::Long(v) => Value::Long(*v),
            Value::Float(v) => Value::Float(*v),
            Value::Double(v) => Value::Double(*v),
            Value::String(s) => Value::String(s.clone()),
            Value::Bytes(b) => Value::Bytes(b.clone()),
            Value::List(items) => Value::List(items.clone()),
            Value::Map(entries) => Value::Map(entries.clone()),
            Value::Java(j) => Value::Java(j.clone()),
        }
    }

    fn clone_from(&mut self, source: &Value) {
        match (self, source) {
            (Value::String(to), Value::String(from)) => to.clone_from(from),
            (Value::Bytes(to), Value::Bytes(from)) => to.clone_from(from),
            (Value::List(to), Value::List(from)) => to.clone_from(from),
            (Value::Java(to), Value::Java(from)) => {
                to.hash = from.hash;
                to.bytes.clone_from(&from.bytes);
            }
            (to, from) => *to = from.clone(),
        }
    }
}

/// A Java object in a tuple: what the worker's JVM serialized (Storm's Kryo registrations, Java
/// serialization as the fall-back; see the bridge's `ObjectCodec`) and the object's `hashCode()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JavaValue {
    pub hash: i32,
    pub bytes: Vec<u8>,
}

/// Java's `Long.hashCode(v)`: `(int)(v ^ (v >>> 32))`.
#[inline]
pub fn long_hash_code(v: i64) -> i32 {
    let u = v as u64;
    (u ^ (u >> 32)) as u32 as i32
}

/// Java's `Double.hashCode(v)`: `Long.hashCode(doubleToLongBits(v))`, every NaN mapped to the canonical
/// `0x7ff8000000000000` (so `-0.0` and `0.0` differ, and all NaNs agree).
#[inline]
pub fn double_hash_code(v: f64) -> i32 {
    let bits = if v.is_nan() {
        0x7ff8_0000_0000_0000_u64
    } else {
        v.to_bits()
    };
    long_hash_code(bits as i64)
}

/// Java's `Float.hashCode(v)`: `floatToIntBits(v)`, every NaN mapped to the canonical `0x7fc00000`.
#[inline]
pub fn float_hash_code(v: f32) -> i32 {
    if v.is_nan() {
        0x7fc0_0000
    } else {
        v.to_bits() as i32
    }
}

/// Java's `String.hashCode()`: `h = 31*h + c` over the UTF-16 code units, starting at 0.
#[inline]
pub fn string_hash_code(s: &str) -> i32 {
    let mut h = 0i32;
    if s.is_ascii() {
        // One UTF-16 code unit per byte.
        for &b in s.as_bytes() {
            h = h.wrapping_mul(31).wrapping_add(i32::from(b));
        }
    } else {
        for unit in s.encode_utf16() {
            h = h.wrapping_mul(31).wrapping_add(i32::from(unit));
        }
    }
    h
}

/// Java's `Arrays.hashCode(byte[])`: `h = 31*h + b` over the *signed* bytes, starting at 1.
#[inline]
pub fn bytes_hash_code(bytes: &[u8]) -> i32 {
    bytes.iter().fold(1i32, |h, &b| {
        h.wrapping_mul(31).wrapping_add(i32::from(b as i8))
    })
}

/// Java's `Arrays.deepHashCode(Object[])` over a tuple's values (also `List.hashCode`): `h = 31*h +
/// hash(e)` starting at 1, `null` hashing to 0. Fields grouping routes by
/// `floorMod(deep_hash_code(selected values), n)`.
pub fn deep_hash_code(values: &[Value]) -> i32 {
    values.iter().fold(1i32, |h, v| {
        h.wrapping_mul(31).wrapping_add(v.java_hash_code())
    })
}

impl Value {
    /// The `hashCode()` of the Java object this value stands for (storm-internals Appendix A).
    pub fn java_hash_code(&self) -> i32 {
        match self {
            Value::Null => 0,
            Value::Bool(true) => 1231,
            Value::Bool(false) => 1237,
            Value::Int(v) => *v,
            Value::Long(v) => long_hash_code(*v),
            Value::Float(v) => float_hash_code(*v),
            Value::Double(v) => double_hash_code(*v),
            Value::String(s) => string_hash_code(s),
            Value::Bytes(b) => bytes_hash_code(b),
            Value::List(items) => deep_hash_code(items),
            Value::Map(entries) => entries.iter().fold(0i32, |h, (k, v)| {
                h.wrapping_add(k.java_hash_code() ^ v.java_hash_code())
            }),
            Value::Java(j) => j.hash,
        }
    }

    /// Formats like the Java object's `toString()` (used by partial-key grouping without fields, whose
    /// key is `values[0].toString().getBytes()`). Floats use the shortest round-trip digits as JDK 19+
    /// does (Java differs only where it must show a second digit and a closer one exists, as in
    /// `Double.MIN_VALUE` = `4.9E-324` where we print `5.0E-324`); `Bytes` prints like
    /// `Arrays.toString(byte[])` (Java's own `byte[].toString()` is an identity hash no other process
    /// can reproduce).
    pub fn java_display(&self) -> JavaDisplay<'_> {
        JavaDisplay(self)
    }

    /// `self.java_display().to_string()`.
    pub fn java_to_string(&self) -> String {
        self.java_display().to_string()
    }

    /// The Java class-like name of the variant, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "Boolean",
            Value::Int(_) => "Integer",
            Value::Long(_) => "Long",
            Value::Float(_) => "Float",
            Value::Double(_) => "Double",
            Value::String(_) => "String",
            Value::Bytes(_) => "byte[]",
            Value::List(_) => "List",
            Value::Map(_) => "Map",
            Value::Java(_) => "Java object",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// An `Int` or `Long` as `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(v) => Some(i64::from(*v)),
            Value::Long(v) => Some(*v),
            _ => None,
        }
    }

    /// An `Int`, or a `Long` that fits in 32 bits, as `i32`.
    pub fn as_i32(&self) -> Option<i32> {
        match self {
            Value::Int(v) => Some(*v),
            Value::Long(v) => i32::try_from(*v).ok(),
            _ => None,
        }
    }

    /// Any number as `f64` (integers converted).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(v) => Some(f64::from(*v)),
            Value::Long(v) => Some(*v as f64),
            Value::Float(v) => Some(f64::from(*v)),
            Value::Double(v) => Some(*v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Value, Value)]> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }
}

/// [`Display`](fmt::Display) adapter printing a [`Value`] like Java's `toString()`; see
/// [`Value::java_display`].
#[derive(Debug, Clone, Copy)]
pub struct JavaDisplay<'a>(pub &'a Value);

impl fmt::Display for JavaDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Long(v) => write!(f, "{v}"),
            Value::Float(v) => java_float_fmt(f, v.is_nan(), v.is_infinite(), *v > 0.0, || {
                (format!("{v}"), format!("{v:e}"), f64::from(v.abs()))
            }),
            Value::Double(v) => java_float_fmt(f, v.is_nan(), v.is_infinite(), *v > 0.0, || {
                (format!("{v}"), format!("{v:e}"), v.abs())
            }),
            Value::String(s) => f.write_str(s),
            Value::Java(j) => write!(
                f,
                "<Java object, {} bytes, hashCode {}>",
                j.bytes.len(),
                j.hash
            ),
            Value::Bytes(b) => {
                f.write_str("[")?;
                for (i, x) in b.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", *x as i8)?;
                }
                f.write_str("]")
            }
            Value::List(items) => {
                f.write_str("[")?;
                for (i, x) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", JavaDisplay(x))?;
                }
                f.write_str("]")
            }
            Value::Map(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}={}", JavaDisplay(k), JavaDisplay(v))?;
                }
                f.write_str("}")
            }
        }
    }
}

/// Java's `Double.toString`/`Float.toString` layout over Rust's shortest round-trip digits: plain
/// decimal with at least one fractional digit for `1e-3 <= |v| < 1e7`, else `d.dddE[-]n`.
fn java_float_fmt(
    f: &mut fmt::Formatter<'_>,
    nan: bool,
    infinite: bool,
    positive: bool,
    digits: impl FnOnce() -> (String, String, f64),
) -> fmt::Result {
    if nan {
        return f.write_str("NaN");
    }
    if infinite {
        return f.write_str(if positive { "Infinity" } else { "-Infinity" });
    }
    let (plain, sci, abs) = digits();
    if abs == 0.0 || (1e-3..1e7).contains(&abs) {
        f.write_str(&plain)?;
        if !plain.contains('.') {
            f.write_str(".0")?;
        }
        return Ok(());
    }
    // `{:e}` prints e.g. "1.5e-4" or "1e10".
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    f.write_str(mantissa)?;
    if !mantissa.contains('.') {
        f.write_str(".0")?;
    }
    write!(f, "E{exponent}")
}

macro_rules! from_impl {
    ($($t:ty => $variant:ident via $conv:expr),* $(,)?) => {
        $(impl From<$t> for Value {
            fn from(v: $t) -> Value {
                Value::$variant($conv(v))
            }
        })*
    };
}

from_impl! {
    bool => Bool via std::convert::identity,
    i8 => Int via i32::from,
    i16 => Int via i32::from,
    i32 => Int via std::convert::identity,
    i64 => Long via std::convert::identity,
    f32 => Float via std::convert::identity,
    f64 => Double via std::convert::identity,
    String => String via std::convert::identity,
    &str => String via str::to_owned,
    &String => String via String::clone,
    Vec<u8> => Bytes via std::convert::identity,
    &[u8] => Bytes via <[u8]>::to_vec,
    Vec<Value> => List via std::convert::identity,
    Vec<(Value, Value)> => Map via std::convert::identity,
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(v) => serializer.serialize_i32(*v),
            Value::Long(v) => serializer.serialize_i64(*v),
            Value::Float(v) => serializer.serialize_f32(*v),
            Value::Double(v) => serializer.serialize_f64(*v),
            Value::String(s) => serializer.serialize_str(s),
            Value::Bytes(b) => serializer.serialize_bytes(b),
            // Only a JVM can read the object; JSON (multilang, storm-rs component state) gets a
            // description, as Storm's JSON writer falls back to the object's toString().
            Value::Java(_) => serializer.collect_str(&self.java_display()),
            Value::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tuple value (null, boolean, number, string, bytes, array or object)")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Long(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Double(v as f64), Value::Long))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Double(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(v.to_vec()))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(v))
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        // Never trust a size hint for more than a small preallocation.
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Value::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::from(x)
    }

    // Every expected number below was printed by OpenJDK 17's jshell, e.g.
    // `System.out.println(java.util.Arrays.deepHashCode(new Object[]{"hello", 42L}))`.

    #[test]
    fn string_hash_matches_java() {
        assert_eq!(s("hello").java_hash_code(), 99162322);
        assert_eq!(s("").java_hash_code(), 0);
        assert_eq!(s("the").java_hash_code(), 114801);
        // "a\uD83D\uDE00b": a non-BMP character is two UTF-16 code units.
        assert_eq!(s("a\u{1F600}b").java_hash_code(), 57849694);
        assert_eq!(deep_hash_code(&[s("a\u{1F600}b")]), 57849725);
    }

    #[test]
    fn deep_hash_matches_java() {
        assert_eq!(deep_hash_code(&[s("nathan")]), -1052620301);
        assert_eq!(deep_hash_code(&[Value::Long(1)]), 32);
        assert_eq!(deep_hash_code(&[Value::Bool(true)]), 1262);
        assert_eq!(deep_hash_code(&[Value::Bool(false)]), 1268);
        assert_eq!(deep_hash_code(&[s("hello"), Value::Long(42)]), -1220934311);
        assert_eq!(deep_hash_code(&[Value::Null]), 31);
        assert_eq!(deep_hash_code(&[]), 1);
        assert_eq!(deep_hash_code(&[s("the")]), 114832);
        // new Object[]{Arrays.asList(1, 2, Arrays.asList("a", null)), "x"}
        let nested = Value::List(vec![
            Value::Int(1),
            Value::Int(2),
            Value::List(vec![s("a"), Value::Null]),
        ]);
        assert_eq!(deep_hash_code(&[nested, s("x")]), 1079323);
        // new Object[]{7, 7L, -7L, 2.0f, 2.0, "", new byte[]{9, 8}}
        let mixed = [
            Value::Int(7),
            Value::Long(7),
            Value::Long(-7),
            Value::Float(2.0),
            Value::Double(2.0),
            s(""),
            Value::Bytes(vec![9, 8]),
        ];
        assert_eq!(deep_hash_code(&mixed), -428652059);
    }

    #[test]
    fn number_hashes_match_java() {
        assert_eq!(Value::Double(-0.0).java_hash_code(), -2147483648);
        assert_eq!(Value::Double(0.0).java_hash_code(), 0);
        assert_eq!(Value::Double(f64::NAN).java_hash_code(), 2146959360);
        // A NaN with another payload hashes like the canonical NaN.
        let odd_nan = f64::from_bits(0x7ff8_0000_0000_0001);
        assert_eq!(Value::Double(odd_nan).java_hash_code(), 2146959360);
        assert_eq!(Value::Double(1.5).java_hash_code(), 1073217536);
        assert_eq!(
            Value::Double(std::f64::consts::PI).java_hash_code(),
            340593891
        );
        assert_eq!(Value::Float(1.5).java_hash_code(), 1069547520);
        assert_eq!(Value::Float(-0.0).java_hash_code(), -2147483648);
        assert_eq!(Value::Float(f32::NAN).java_hash_code(), 2143289344);
        assert_eq!(Value::Long(-1).java_hash_code(), 0);
        assert_eq!(Value::Long(i64::MIN).java_hash_code(), -2147483648);
        assert_eq!(
            Value::Long(1234567890123456789).java_hash_code(),
            1825280481
        );
        assert_eq!(Value::Int(-7).java_hash_code(), -7);
    }

    #[test]
    fn bytes_and_map_hashes_match_java() {
        // Arrays.hashCode(new byte[]{1, -1, 127, -128, 0})
        assert_eq!(
            Value::Bytes(vec![1, 0xff, 127, 0x80, 0]).java_hash_code(),
            29640960
        );
        // LinkedHashMap {"a"=1L, "b"=[true, null], null=2.5}
        let map = Value::Map(vec![
            (s("a"), Value::Long(1)),
            (s("b"), Value::List(vec![Value::Bool(true), Value::Null])),
            (Value::Null, Value::Double(2.5)),
        ]);
        assert_eq!(map.java_hash_code(), 1074043152);
        // Order does not matter for the hash.
        let Value::Map(mut entries) = map.clone() else {
            unreachable!()
        };
        entries.reverse();
        assert_eq!(Value::Map(entries).java_hash_code(), 1074043152);
    }

    #[test]
    fn java_to_string() {
        let cases: &[(Value, &str)] = &[
            (Value::Double(1.0), "1.0"),
            (Value::Double(1e7), "1.0E7"),
            (Value::Double(1e-3), "0.001"),
            (Value::Double(1.5e-4), "1.5E-4"),
            (Value::Double(123456.789), "123456.789"),
            (Value::Double(-0.0), "-0.0"),
            (Value::Double(1e21), "1.0E21"),
            (Value::Double(f64::NAN), "NaN"),
            (Value::Double(f64::NEG_INFINITY), "-Infinity"),
            (Value::Double(0.1 + 0.2), "0.30000000000000004"),
            (Value::Double(9999999.0), "9999999.0"),
            (Value::Float(1.1), "1.1"),
            (Value::Long(42), "42"),
            (Value::Bool(true), "true"),
            (Value::Null, "null"),
            (Value::List(vec![s("x"), Value::Long(2)]), "[x, 2]"),
            (Value::Map(vec![(s("k"), Value::Int(1))]), "{k=1}"),
            (Value::Bytes(vec![1, 0xff]), "[1, -1]"),
        ];
        for (v, want) in cases {
            assert_eq!(v.java_to_string(), *want, "{v:?}");
        }
    }

    #[test]
    fn from_impls() {
        assert_eq!(Value::from(3i32), Value::Int(3));
        assert_eq!(Value::from(3i64), Value::Long(3));
        assert_eq!(Value::from("a"), Value::String("a".into()));
        assert_eq!(Value::from(vec![1u8, 2]), Value::Bytes(vec![1, 2]));
        assert_eq!(Value::from(None::<i64>), Value::Null);
        assert_eq!(Value::from(Some(true)), Value::Bool(true));
        assert_eq!(
            Value::from(vec![Value::Null]),
            Value::List(vec![Value::Null])
        );
    }

    #[test]
    fn json_mapping() {
        let v = Value::List(vec![
            Value::Null,
            Value::Bool(true),
            Value::Int(-3),
            Value::Long(1 << 40),
            Value::Double(2.5),
            s("é"),
            Value::Bytes(vec![0, 255]),
            Value::Map(vec![(s("k"), Value::List(vec![]))]),
        ]);
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(
            json,
            r#"[null,true,-3,1099511627776,2.5,"é",[0,255],{"k":[]}]"#
        );
        let back: Value = serde_json::from_str(&json).unwrap();
        let want = Value::List(vec![
            Value::Null,
            Value::Bool(true),
            Value::Long(-3),
            Value::Long(1 << 40),
            Value::Double(2.5),
            s("é"),
            Value::List(vec![Value::Long(0), Value::Long(255)]),
            Value::Map(vec![(s("k"), Value::List(vec![]))]),
        ]);
        assert_eq!(back, want);
        let big: Value = serde_json::from_str("18446744073709551615").unwrap();
        assert_eq!(big, Value::Double(18446744073709551615.0));
        // A map key JSON cannot represent is an error, not a panic.
        let bad = Value::Map(vec![(Value::List(vec![]), Value::Null)]);
        assert!(serde_json::to_string(&bad).is_err());
    }
}
