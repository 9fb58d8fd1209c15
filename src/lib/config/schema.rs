//! The key schema: which configuration keys exist and what type each value must have.
//!
//! The schema is derived from the embedded `defaults.toml`: a key with a default gets the type of its
//! default (widened by the `[types]` table), a key Storm leaves unset is listed in `[unset]` with its type.
//! Keys in Storm's own namespaces (`storm.*`, `nimbus.*`, `topology.*`, …) that are not in the schema are
//! rejected when they come from a config file or `-c`, so a typo is caught instead of silently ignored;
//! keys in any other namespace (a topology's own settings, `pystorm.*`, …) pass through untouched.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use serde_json::Value;

/// The type a configuration value must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Bool,
    Int,
    /// A number; integers are accepted.
    Float,
    String,
    StringList,
    IntList,
    /// A list of anything.
    List,
    Map,
    /// A string or a list of strings (Storm's `isStringOrStringList`).
    StringOrList,
    Any,
}

impl KeyType {
    fn from_name(name: &str) -> Option<KeyType> {
        Some(match name {
            "bool" => KeyType::Bool,
            "int" => KeyType::Int,
            "float" => KeyType::Float,
            "string" => KeyType::String,
            "string-list" => KeyType::StringList,
            "int-list" => KeyType::IntList,
            "list" => KeyType::List,
            "map" => KeyType::Map,
            "string-or-list" => KeyType::StringOrList,
            "any" => KeyType::Any,
            _ => return None,
        })
    }

    fn infer(default: &Value) -> KeyType {
        match default {
            Value::Bool(_) => KeyType::Bool,
            Value::Number(n) if n.is_i64() || n.is_u64() => KeyType::Int,
            Value::Number(_) => KeyType::Float,
            Value::String(_) => KeyType::String,
            Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_string) => {
                KeyType::StringList
            }
            Value::Array(items) if !items.is_empty() && items.iter().all(|v| v.is_i64()) => {
                KeyType::IntList
            }
            Value::Array(_) => KeyType::List,
            Value::Object(_) => KeyType::Map,
            Value::Null => KeyType::Any,
        }
    }

    /// Whether `value` has this type. `null` is accepted everywhere: it means "unset", as in Storm.
    pub fn accepts(self, value: &Value) -> bool {
        let is_str_list = |v: &Value| v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
        match (self, value) {
            (_, Value::Null) | (KeyType::Any, _) => true,
            (KeyType::Bool, v) => v.is_boolean(),
            (KeyType::Int, v) => v.is_i64() || v.is_u64(),
            (KeyType::Float, v) => v.is_number(),
            (KeyType::String, v) => v.is_string(),
            (KeyType::StringList, v) => is_str_list(v),
            (KeyType::IntList, v) => v.as_array().is_some_and(|a| a.iter().all(|x| x.is_i64())),
            (KeyType::List, v) => v.is_array(),
            (KeyType::Map, v) => v.is_object(),
            (KeyType::StringOrList, v) => v.is_string() || is_str_list(v),
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyType::Bool => "a boolean (true or false)",
            KeyType::Int => "an integer",
            KeyType::Float => "a number",
            KeyType::String => "a string",
            KeyType::StringList => "a list of strings",
            KeyType::IntList => "a list of integers",
            KeyType::List => "a list",
            KeyType::Map => "a table (map)",
            KeyType::StringOrList => "a string or a list of strings",
            KeyType::Any => "any value",
        })
    }
}

/// A short description of a value's JSON type, for error messages.
pub fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) if n.is_f64() => format!("the number {n}"),
        Value::Number(n) => format!("the integer {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a table".into(),
    }
}

/// Top-level key segments that belong to Storm; unknown keys under them are errors in config files.
const STORM_NAMESPACES: &[&str] = &[
    "storm",
    "nimbus",
    "supervisor",
    "worker",
    "topology",
    "drpc",
    "ui",
    "logviewer",
    "pacemaker",
    "dev",
    "transactional",
    "task",
    "executor",
    "blacklist",
    "java",
    "client",
];

/// Whether `key` lies in one of Storm's namespaces (and so must be a known key).
pub fn in_storm_namespace(key: &str) -> bool {
    let first = key.split('.').next().unwrap_or(key);
    key.contains('.') && STORM_NAMESPACES.contains(&first)
}

pub(crate) const DEFAULTS_TOML: &str = include_str!("defaults.toml");

pub(crate) struct Schema {
    pub defaults: serde_json::Map<String, Value>,
    pub types: HashMap<String, KeyType>,
}

/// The schema and default values, parsed once from the embedded file.
pub(crate) fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| parse_schema(DEFAULTS_TOML).expect("embedded defaults.toml is valid"))
}

fn parse_schema(text: &str) -> Result<Schema, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut defaults = serde_json::Map::new();
    let mut types = HashMap::new();
    let mut unset = toml::Table::new();
    let mut overrides = toml::Table::new();
    for (key, value) in table {
        match (key.as_str(), value) {
            ("unset", toml::Value::Table(t)) => unset = t,
            ("types", toml::Value::Table(t)) => overrides = t,
            (_, value) => {
                let json = super::toml_to_json(&value).map_err(|e| format!("{key}: {e}"))?;
                types.insert(key.clone(), KeyType::infer(&json));
                defaults.insert(key, json);
            }
        }
    }
    for (section, table) in [("unset", unset), ("types", overrides)] {
        for (key, name) in table {
            let name = name
                .as_str()
                .ok_or_else(|| format!("[{section}] {key}: type must be a string"))?;
            let ty = KeyType::from_name(name)
                .ok_or_else(|| format!("[{section}] {key}: unknown type {name}"))?;
            types.insert(key, ty);
        }
    }
    Ok(Schema { defaults, types })
}

/// The known key closest to `key` by edit distance, when it is close enough to be a likely typo.
pub fn suggest(key: &str) -> Option<&'static str> {
    let schema = schema();
    schema
        .types
        .keys()
        .map(|k| (edit_distance(key, k), k))
        .filter(|(d, k)| *d <= 3.max(k.len() / 8))
        .min()
        .map(|(_, k)| k.as_str())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn embedded_schema_parses_and_infers_types() {
        let s = schema();
        assert_eq!(s.types["storm.zookeeper.port"], KeyType::Int);
        assert_eq!(s.types["storm.zookeeper.servers"], KeyType::StringList);
        assert_eq!(s.types["topology.stats.sample.rate"], KeyType::Float);
        assert_eq!(s.types["supervisor.slots.ports"], KeyType::IntList);
        assert_eq!(s.types["topology.acker.executors"], KeyType::Int);
        assert_eq!(s.types["worker.childopts"], KeyType::StringOrList);
        assert!(
            !s.defaults.contains_key("topology.acker.executors"),
            "null defaults stay unset"
        );
        assert!(
            s.defaults.len() > 250,
            "defaults cover Storm's keys: {}",
            s.defaults.len()
        );
    }

    #[test]
    fn types_accept_and_reject() {
        assert!(KeyType::Int.accepts(&json!(3)));
        assert!(!KeyType::Int.accepts(&json!("3")));
        assert!(KeyType::Float.accepts(&json!(3)));
        assert!(KeyType::StringOrList.accepts(&json!(["-Xmx1g"])));
        assert!(!KeyType::StringList.accepts(&json!([1])));
        assert!(KeyType::Bool.accepts(&Value::Null));
    }

    #[test]
    fn namespaces_and_suggestions() {
        assert!(in_storm_namespace("storm.zookeeper.prot"));
        assert!(!in_storm_namespace("pystorm.log.path"));
        assert!(!in_storm_namespace("storm"));
        assert_eq!(
            suggest("storm.zookeeper.prot"),
            Some("storm.zookeeper.port")
        );
        assert_eq!(suggest("completely.different.thing.here"), None);
    }
}
