//! [`Fields`]: the ordered field names of a stream (Storm's `backtype.storm.tuple.Fields`).

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::Value;

/// Errors from building [`Fields`] or selecting values by field name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldsError {
    /// Storm: `IllegalArgumentException("duplicate field '<name>'")`.
    #[error("duplicate field '{0}'")]
    Duplicate(String),
    /// Storm: `IllegalArgumentException("<name> does not exist")`; we also list the declared fields.
    #[error("{field} does not exist (declared fields: {declared})")]
    Unknown { field: String, declared: String },
    /// The tuple has fewer values than the stream declares fields.
    #[error("field {field} is value {index} but the tuple has only {len} values")]
    MissingValue {
        field: String,
        index: usize,
        len: usize,
    },
}

/// The ordered, duplicate-free field names of a stream, with name → index lookup.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct Fields {
    names: Vec<String>,
    index: HashMap<String, usize>,
}

/// Up to this many fields a linear scan of the names beats hashing the one looked up.
const SCAN_FIELDS: usize = 8;

/// `a == b` without a call into the C library's `memcmp` for names up to 16 bytes (stream and
/// field names such as `default` or `word`, compared on every emit or field lookup): two
/// overlapping word loads decide.
#[inline]
pub(crate) fn short_str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    fn word<const W: usize>(s: &[u8], at: usize) -> [u8; W] {
        let mut w = [0; W];
        w.copy_from_slice(&s[at..at + W]);
        w
    }
    match n {
        8..=16 => word::<8>(a, 0) == word::<8>(b, 0) && word::<8>(a, n - 8) == word::<8>(b, n - 8),
        4..=7 => word::<4>(a, 0) == word::<4>(b, 0) && word::<4>(a, n - 4) == word::<4>(b, n - 4),
        _ => a == b,
    }
}

impl Fields {
    /// Builds fields from names; a repeated name is an error (as in Storm).
    pub fn new<I, S>(names: I) -> Result<Fields, FieldsError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        let mut index = HashMap::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            if index.insert(name.clone(), i).is_some() {
                return Err(FieldsError::Duplicate(name.clone()));
            }
        }
        Ok(Fields { names, index })
    }

    /// No fields (what a global grouping selects).
    pub fn empty() -> Fields {
        Fields::default()
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The name at `index`, if any.
    pub fn get(&self, index: usize) -> Option<&str> {
        self.names.get(index).map(String::as_str)
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.index_of(name).is_some()
    }

    /// The position of `name`, if declared. A few fields (the usual case: `get_str_by_field` on
    /// every tuple) are scanned without hashing.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        if self.names.len() <= SCAN_FIELDS {
            self.names.iter().position(|n| short_str_eq(n, name))
        } else {
            self.index.get(name).copied()
        }
    }

    /// The position of `name`, or [`FieldsError::Unknown`] naming it.
    pub fn field_index(&self, name: &str) -> Result<usize, FieldsError> {
        self.index_of(name).ok_or_else(|| FieldsError::Unknown {
            field: name.to_owned(),
            declared: self.to_string(),
        })
    }

    /// The positions in these fields of each of `selector`'s names, in `selector`'s order. Resolve once
    /// (e.g. when a grouper is prepared) and use [`Fields::select_indices`] per tuple.
    pub fn indices_of<S: AsRef<str>>(&self, selector: &[S]) -> Result<Vec<usize>, FieldsError> {
        selector
            .iter()
            .map(|name| self.field_index(name.as_ref()))
            .collect()
    }

    /// Storm's `outFields.select(selector, values)`: the values of `selector`'s fields, in `selector`'s
    /// order. Errors name an unknown field or a field whose value is missing from `values`.
    pub fn select(&self, selector: &Fields, values: &[Value]) -> Result<Vec<Value>, FieldsError> {
        let indices = self.indices_of(selector.names())?;
        let selected = self.select_indices(&indices, values)?.cloned().collect();
        Ok(selected)
    }

    /// The values at `indices` (from [`Fields::indices_of`]), borrowed, checking each is present.
    pub fn select_indices<'v>(
        &self,
        indices: &'v [usize],
        values: &'v [Value],
    ) -> Result<impl Iterator<Item = &'v Value> + 'v, FieldsError> {
        if let Some(&index) = indices.iter().find(|&&i| i >= values.len()) {
            return Err(FieldsError::MissingValue {
                field: self.get(index).unwrap_or("?").to_owned(),
                index,
                len: values.len(),
            });
        }
        Ok(indices.iter().filter_map(move |&i| values.get(i)))
    }
}

impl PartialEq for Fields {
    fn eq(&self, other: &Fields) -> bool {
        self.names == other.names
    }
}

impl Eq for Fields {}

impl fmt::Debug for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Fields").field(&self.names).finish()
    }
}

/// Like Java's `List.toString()`: `[a, b]`.
impl fmt::Display for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.names.join(", "))
    }
}

impl TryFrom<Vec<String>> for Fields {
    type Error = FieldsError;

    fn try_from(names: Vec<String>) -> Result<Fields, FieldsError> {
        Fields::new(names)
    }
}

impl From<Fields> for Vec<String> {
    fn from(fields: Fields) -> Vec<String> {
        fields.names
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn short_str_eq_tells_stream_names_apart() {
        assert!(short_str_eq("default", "default"));
        assert!(!short_str_eq("default", "defaulT"));
        assert!(!short_str_eq("default", "Default"));
        assert!(!short_str_eq("default", "defaults"));
        assert!(short_str_eq("__ack_init", "__ack_init"));
        assert!(!short_str_eq("__ack_init", "__ack_fail"));
        assert!(short_str_eq("", ""));
        assert!(!short_str_eq("a", ""));
    }

    proptest! {
        #[test]
        fn short_str_eq_is_string_equality(a in "[a-c_]{0,20}", b in "[a-c_]{0,20}") {
            prop_assert_eq!(short_str_eq(&a, &b), a == b);
            prop_assert!(short_str_eq(&a, &a.clone()));
        }

        #[test]
        fn short_str_eq_sees_one_changed_byte(a in "[a-z]{1,24}", at in any::<prop::sample::Index>()) {
            let mut b = a.clone().into_bytes();
            let i = at.index(b.len());
            b[i] = b'_';
            let b = String::from_utf8(b).unwrap();
            prop_assert_eq!(short_str_eq(&a, &b), a == b);
        }
    }

    #[test]
    fn few_and_many_fields_are_found_by_name_alike() {
        for n in [1, SCAN_FIELDS, SCAN_FIELDS + 1, 40] {
            let names: Vec<String> = (0..n).map(|i| format!("field_{i}")).collect();
            let fields = Fields::new(names.clone()).unwrap();
            for (i, name) in names.iter().enumerate() {
                assert_eq!(fields.index_of(name), Some(i), "{name} of {n}");
                assert!(fields.contains(name));
            }
            for absent in ["", "field_", "field_00", "Field_0", &format!("field_{n}")] {
                assert_eq!(fields.index_of(absent), None, "{absent} of {n}");
                assert!(!fields.contains(absent));
            }
        }
    }

    #[test]
    fn index_and_select_follow_selector_order() {
        let out = Fields::new(["a", "b", "c"]).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(out.field_index("c"), Ok(2));
        let values = vec![Value::from("x"), Value::from(1i64), Value::Null];
        let sel = Fields::new(["c", "a"]).unwrap();
        assert_eq!(
            out.select(&sel, &values).unwrap(),
            vec![Value::Null, Value::from("x")]
        );
        assert_eq!(out.to_string(), "[a, b, c]");
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(
            Fields::new(["a", "a"]).unwrap_err().to_string(),
            "duplicate field 'a'"
        );
        let out = Fields::new(["a", "b"]).unwrap();
        let err = out
            .select(&Fields::new(["zz"]).unwrap(), &[Value::Null, Value::Null])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "zz does not exist (declared fields: [a, b])"
        );
        let err = out
            .select(&Fields::new(["b"]).unwrap(), &[Value::Null])
            .unwrap_err();
        assert_eq!(
            err,
            FieldsError::MissingValue {
                field: "b".into(),
                index: 1,
                len: 1
            }
        );
    }

    #[test]
    fn serde_is_a_list_and_rejects_duplicates() {
        let f = Fields::new(["x", "y"]).unwrap();
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(json, r#"["x","y"]"#);
        assert_eq!(serde_json::from_str::<Fields>(&json).unwrap(), f);
        assert!(serde_json::from_str::<Fields>(r#"["x","x"]"#).is_err());
    }
}
