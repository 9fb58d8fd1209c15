//! Storm configuration: embedded defaults, `storm.toml`, `-c key=value` overrides, validation and typed
//! getters.
//!
//! Keys are Storm's dotted names (`"storm.zookeeper.port"`), values are JSON values because Storm's
//! configuration travels as JSON (topology conf, `getNimbusConf`, the multilang handshake). Precedence,
//! lowest first: the embedded defaults, the config file (`--config FILE`, else `$STORM_CONF_DIR/storm.toml`,
//! else `./conf/storm.toml`), then `-c key=value` options. A key in one of Storm's namespaces that the schema
//! does not know, or a value of the wrong type, is an error naming the key, where it came from and the
//! expected type.

mod schema;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

pub use schema::{describe, in_storm_namespace, suggest, KeyType};

/// Where a configuration value came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    Defaults,
    File(PathBuf),
    CommandLine,
    /// A topology's own configuration (submitted JSON or `stormconf.ser`).
    Topology(String),
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigSource::Defaults => f.write_str("the embedded defaults"),
            ConfigSource::File(p) => write!(f, "{}", p.display()),
            ConfigSource::CommandLine => f.write_str("the command line (-c)"),
            ConfigSource::Topology(id) => write!(f, "the configuration of topology {id}"),
        }
    }
}

/// Everything that can go wrong reading or querying configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {} is not valid TOML: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("unknown config key \"{key}\" in {origin}{}; fix or remove it", hint(.suggestion))]
    UnknownKey {
        key: String,
        origin: ConfigSource,
        suggestion: Option<String>,
    },
    #[error("config key \"{key}\" in {origin} must be {expected}, but it is {found}")]
    WrongType {
        key: String,
        origin: ConfigSource,
        expected: KeyType,
        found: String,
    },
    #[error(
        "bad -c option \"{arg}\": expected key=value, for example -c storm.zookeeper.port=2181"
    )]
    BadOverride { arg: String },
    #[error("config key \"{key}\" is not set; set it in storm.toml or with -c {key}=VALUE")]
    Missing { key: String },
    #[error("config key \"{key}\" must be {expected}, but it is {found}")]
    Type {
        key: String,
        expected: KeyType,
        found: String,
    },
    #[error("config key \"{key}\" in {origin}: {message}")]
    Unsupported {
        key: String,
        origin: ConfigSource,
        message: String,
    },
}

fn hint(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean \"{s}\"?)"),
        None => String::new(),
    }
}

/// How to find and override the configuration; what every command's `--config` and `-c` produce.
#[derive(Debug, Clone, Default)]
pub struct ConfigOptions {
    /// `--config FILE`.
    pub config_file: Option<PathBuf>,
    /// `-c key=value`, in command-line order (later wins).
    pub overrides: Vec<String>,
}

/// A configuration: Storm's key → value map, plus the Storm home that relative paths resolve against.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    values: BTreeMap<String, Value>,
    home: PathBuf,
    file: Option<PathBuf>,
}

impl Config {
    /// Only the embedded defaults, with `$STORM_HOME` (else the current directory) as Storm home.
    pub fn defaults() -> Config {
        let values = schema::schema()
            .defaults
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Config {
            values,
            home: std::env::var_os("STORM_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::current_dir().ok())
                .unwrap_or_else(|| PathBuf::from(".")),
            file: None,
        }
    }

    /// Defaults < config file < `-c` overrides, each layer validated.
    pub fn load(opts: &ConfigOptions) -> Result<Config, ConfigError> {
        let mut conf = Config::defaults();
        if let Some(file) = opts.config_file.clone().or_else(default_config_file) {
            conf.merge_file(&file)?;
        }
        for arg in &opts.overrides {
            let (key, value) = parse_override(arg)?;
            check_entry(&key, &value, &ConfigSource::CommandLine)?;
            conf.values.insert(key, value);
        }
        Ok(conf)
    }

    /// Reads a `storm.toml` and lays it over this configuration. Storm home becomes the file's install
    /// directory (see [`home_for_file`]) unless `STORM_HOME` is set.
    pub fn merge_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        self.merge_text(&text, path)
    }

    /// Lays the `storm.toml` text `text` (read from `path`, named in errors) over this configuration;
    /// [`Config::merge_file`] without the reading.
    pub fn merge_text(&mut self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let source = ConfigSource::File(path.to_path_buf());
        for (key, value) in table {
            let value = toml_to_json(&value).map_err(|message| ConfigError::Unsupported {
                key: key.clone(),
                origin: source.clone(),
                message,
            })?;
            if value.is_object() && !schema::schema().types.contains_key(&key) && !key.contains('.')
            {
                return Err(ConfigError::UnknownKey {
                    suggestion: Some(format!(
                        "\"{key}.…\" = … (quote dotted keys; tables are not Storm keys)"
                    )),
                    key,
                    origin: source,
                });
            }
            check_entry(&key, &value, &source)?;
            self.values.insert(key, value);
        }
        self.home = home_for_file(path);
        self.file = Some(path.to_path_buf());
        Ok(())
    }

    /// Lays `other`'s values over this one (for a topology conf over the cluster conf), type-checking known
    /// keys but accepting unknown ones: a topology may carry any key of its own.
    pub fn overlay(
        &mut self,
        other: &serde_json::Map<String, Value>,
        source: &ConfigSource,
    ) -> Result<(), ConfigError> {
        for (key, value) in other {
            if let Some(expected) = schema::schema().types.get(key) {
                if !expected.accepts(value) {
                    return Err(ConfigError::WrongType {
                        key: key.clone(),
                        origin: source.clone(),
                        expected: *expected,
                        found: describe(value),
                    });
                }
            }
            self.values.insert(key.clone(), value.clone());
        }
        Ok(())
    }

    /// The directory relative paths (`storm.local.dir`, `storm.log.dir`) resolve against.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Overrides the Storm home (tests, workers started with an explicit home).
    pub fn set_home(&mut self, home: PathBuf) {
        self.home = home;
    }

    /// The config file this configuration was read from, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key).filter(|v| !v.is_null())
    }

    /// Sets a value (no validation: for programmatic configuration such as a topology's `Config`).
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        self.values.insert(key.into(), value.into());
    }

    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.values.remove(key)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.values.iter()
    }

    /// The whole configuration as a JSON object (what `getNimbusConf` and the multilang handshake send).
    pub fn to_json(&self) -> serde_json::Map<String, Value> {
        self.values
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn require(&self, key: &str) -> Result<&Value, ConfigError> {
        self.get(key).ok_or_else(|| ConfigError::Missing {
            key: key.to_string(),
        })
    }

    fn type_error(key: &str, expected: KeyType, value: &Value) -> ConfigError {
        ConfigError::Type {
            key: key.to_string(),
            expected,
            found: describe(value),
        }
    }

    pub fn get_i64(&self, key: &str) -> Result<i64, ConfigError> {
        let v = self.require(key)?;
        as_i64(v).ok_or_else(|| Self::type_error(key, KeyType::Int, v))
    }

    /// An integer that may be unset (`null`), like `topology.acker.executors`.
    pub fn get_opt_i64(&self, key: &str) -> Result<Option<i64>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => as_i64(v)
                .map(Some)
                .ok_or_else(|| Self::type_error(key, KeyType::Int, v)),
        }
    }

    /// A non-negative integer that fits `u64` (ports, sizes, counts, seconds).
    pub fn get_u64(&self, key: &str) -> Result<u64, ConfigError> {
        let v = self.require(key)?;
        as_i64(v)
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| Self::type_error(key, KeyType::Int, v))
    }

    /// A port number (1–65535).
    pub fn get_port(&self, key: &str) -> Result<u16, ConfigError> {
        let v = self.require(key)?;
        as_i64(v)
            .and_then(|n| u16::try_from(n).ok())
            .filter(|p| *p > 0)
            .ok_or_else(|| ConfigError::Type {
                key: key.to_string(),
                expected: KeyType::Int,
                found: format!("{} (a port must be 1-65535)", describe(v)),
            })
    }

    pub fn get_f64(&self, key: &str) -> Result<f64, ConfigError> {
        let v = self.require(key)?;
        v.as_f64()
            .ok_or_else(|| Self::type_error(key, KeyType::Float, v))
    }

    pub fn get_bool(&self, key: &str) -> Result<bool, ConfigError> {
        let v = self.require(key)?;
        v.as_bool()
            .ok_or_else(|| Self::type_error(key, KeyType::Bool, v))
    }

    pub fn get_str(&self, key: &str) -> Result<&str, ConfigError> {
        let v = self.require(key)?;
        v.as_str()
            .ok_or_else(|| Self::type_error(key, KeyType::String, v))
    }

    pub fn get_opt_str(&self, key: &str) -> Result<Option<&str>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(Some)
                .ok_or_else(|| Self::type_error(key, KeyType::String, v)),
        }
    }

    /// A list of strings; a single string is split on whitespace (Storm's childopts accept both forms).
    pub fn get_string_list(&self, key: &str) -> Result<Vec<String>, ConfigError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(s.split_whitespace().map(str::to_string).collect()),
            Some(v @ Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Self::type_error(key, KeyType::StringList, v)),
            Some(v) => Err(Self::type_error(key, KeyType::StringList, v)),
        }
    }

    pub fn get_i64_list(&self, key: &str) -> Result<Vec<i64>, ConfigError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(v @ Value::Array(items)) => items
                .iter()
                .map(as_i64)
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Self::type_error(key, KeyType::IntList, v)),
            Some(v) => Err(Self::type_error(key, KeyType::IntList, v)),
        }
    }

    pub fn get_map(&self, key: &str) -> Result<serde_json::Map<String, Value>, ConfigError> {
        match self.get(key) {
            None => Ok(serde_json::Map::new()),
            Some(Value::Object(m)) => Ok(m.clone()),
            Some(v) => Err(Self::type_error(key, KeyType::Map, v)),
        }
    }

    /// A path-valued key, made absolute against Storm home when relative.
    pub fn get_path(&self, key: &str) -> Result<PathBuf, ConfigError> {
        let p = PathBuf::from(self.get_str(key)?);
        Ok(if p.is_absolute() {
            p
        } else {
            self.home.join(p)
        })
    }

    /// `host1:port,host2:port` from `storm.zookeeper.servers` and `storm.zookeeper.port`.
    pub fn zookeeper_connect_string(&self) -> Result<String, ConfigError> {
        let port = self.get_port("storm.zookeeper.port")?;
        let servers = self.get_string_list("storm.zookeeper.servers")?;
        if servers.is_empty() {
            return Err(ConfigError::Missing {
                key: "storm.zookeeper.servers".into(),
            });
        }
        Ok(servers
            .iter()
            .map(|s| {
                if s.contains(':') {
                    s.clone()
                } else {
                    format!("{s}:{port}")
                }
            })
            .collect::<Vec<_>>()
            .join(","))
    }
}

fn as_i64(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| f as i64)
    })
}

/// The config file used when no `--config` is given: `$STORM_CONF_DIR/storm.toml`, else `./conf/storm.toml`,
/// else none (defaults only).
pub fn default_config_file() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("STORM_CONF_DIR") {
        let p = PathBuf::from(dir).join("storm.toml");
        if p.is_file() {
            return Some(p);
        }
    }
    let p = PathBuf::from("conf/storm.toml");
    p.is_file().then(|| std::fs::canonicalize(&p).unwrap_or(p))
}

/// Storm home for a config file: `$STORM_HOME` if set; else the parent of the file's directory when that
/// directory is named `conf` (`<home>/conf/storm.toml`); else the file's directory.
pub fn home_for_file(path: &Path) -> PathBuf {
    if let Some(home) = std::env::var_os("STORM_HOME") {
        return PathBuf::from(home);
    }
    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let dir = abs
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    if dir.file_name().is_some_and(|n| n == "conf") {
        dir.parent().map(Path::to_path_buf).unwrap_or(dir)
    } else {
        dir
    }
}

/// Validates one key/value from a config file or `-c`.
fn check_entry(key: &str, value: &Value, source: &ConfigSource) -> Result<(), ConfigError> {
    match schema::schema().types.get(key) {
        Some(expected) if !expected.accepts(value) => Err(ConfigError::WrongType {
            key: key.to_string(),
            origin: source.clone(),
            expected: *expected,
            found: describe(value),
        }),
        Some(_) => Ok(()),
        None if in_storm_namespace(key) => Err(ConfigError::UnknownKey {
            key: key.to_string(),
            origin: source.clone(),
            suggestion: suggest(key).map(str::to_string),
        }),
        None => Ok(()),
    }
}

/// Parses `key=value`; the value is JSON when it parses as JSON, else a TOML value, else a plain string.
pub fn parse_override(arg: &str) -> Result<(String, Value), ConfigError> {
    let (key, raw) = arg
        .split_once('=')
        .ok_or_else(|| ConfigError::BadOverride {
            arg: arg.to_string(),
        })?;
    let key = key.trim();
    if key.is_empty() {
        return Err(ConfigError::BadOverride {
            arg: arg.to_string(),
        });
    }
    Ok((key.to_string(), parse_value(raw)))
}

/// A command-line value: JSON, else TOML, else the string itself.
pub fn parse_value(raw: &str) -> Value {
    if let Ok(v) = serde_json::from_str::<Value>(raw) {
        return v;
    }
    if let Ok(t) = toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        if let Some(v) = t.get("v").and_then(|v| toml_to_json(v).ok()) {
            return v;
        }
    }
    Value::String(raw.to_string())
}

/// Converts a TOML value to JSON. Datetimes have no JSON form and are refused.
pub fn toml_to_json(value: &toml::Value) -> Result<Value, String> {
    Ok(match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .ok_or_else(|| format!("{f} is not a finite number"))?,
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => {
            return Err(format!("dates are not supported ({d}); use a string"))
        }
        toml::Value::Array(items) => {
            Value::Array(items.iter().map(toml_to_json).collect::<Result<_, _>>()?)
        }
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| Ok((k.clone(), toml_to_json(v)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

/// Renders a value the way Java's `String.valueOf` renders Storm's config objects (what `storm
/// localconfvalue` prints): lists as `[a, b]`, maps as `{k=v}`, strings bare, null as `null`.
pub fn java_string(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e7 => format!("{f:.1}"),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(java_string).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{k}={}", java_string(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The host name this machine's daemons advertise (nimbus in `/nimbuses`, supervisors in
/// `SupervisorInfo.hostname`, workers in their assignment): `storm.local.hostname`, else the machine's
/// host name, else `localhost`.
pub fn local_hostname(conf: &Config) -> String {
    if let Ok(Some(h)) = conf.get_opt_str("storm.local.hostname") {
        if !h.trim().is_empty() {
            return h.trim().to_string();
        }
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::Write;

    fn file_with(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("conf")).unwrap();
        let path = dir.path().join("conf/storm.toml");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        (dir, path)
    }

    #[test]
    fn defaults_hold_storm_values() {
        let c = Config::defaults();
        assert_eq!(c.get_i64("storm.zookeeper.port").unwrap(), 2181);
        assert_eq!(c.get_str("storm.zookeeper.root").unwrap(), "/storm");
        assert_eq!(
            c.get_i64_list("supervisor.slots.ports").unwrap(),
            vec![6700, 6701, 6702, 6703]
        );
        assert_eq!(c.get_port("nimbus.thrift.port").unwrap(), 6627);
        assert_eq!(c.get_opt_i64("topology.acker.executors").unwrap(), None);
        assert_eq!(c.get_f64("topology.stats.sample.rate").unwrap(), 0.05);
        assert_eq!(
            c.get_string_list("nimbus.seeds").unwrap(),
            vec!["localhost"]
        );
        assert_eq!(c.get_i64("drpc.http.port").unwrap(), 3774);
    }

    #[test]
    fn precedence_defaults_file_command_line() {
        let (_d, path) =
            file_with("\"storm.zookeeper.port\" = 2222\n\"nimbus.seeds\" = [\"a\", \"b\"]\n");
        let opts = ConfigOptions {
            config_file: Some(path.clone()),
            overrides: vec![
                "storm.zookeeper.port=2999".into(),
                "topology.debug=true".into(),
            ],
        };
        let c = Config::load(&opts).unwrap();
        assert_eq!(c.get_i64("storm.zookeeper.port").unwrap(), 2999);
        assert_eq!(c.get_string_list("nimbus.seeds").unwrap(), vec!["a", "b"]);
        assert!(c.get_bool("topology.debug").unwrap());
        assert_eq!(c.get_i64("nimbus.thrift.port").unwrap(), 6627);
        assert_eq!(c.zookeeper_connect_string().unwrap(), "localhost:2999");
        assert_eq!(c.file(), Some(path.as_path()));
    }

    #[test]
    fn unknown_key_in_file_names_key_file_and_suggestion() {
        let (_d, path) = file_with("\"storm.zookeeper.prot\" = 2181\n");
        let err = Config::load(&ConfigOptions {
            config_file: Some(path.clone()),
            overrides: vec![],
        })
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("storm.zookeeper.prot"), "{msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(
            msg.contains("did you mean \"storm.zookeeper.port\""),
            "{msg}"
        );
    }

    #[test]
    fn wrong_type_names_key_file_and_expected_type() {
        let (_d, path) = file_with("\"supervisor.slots.ports\" = \"6700\"\n");
        let err = Config::load(&ConfigOptions {
            config_file: Some(path),
            overrides: vec![],
        })
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("supervisor.slots.ports") && msg.contains("a list of integers"),
            "{msg}"
        );
        assert!(msg.contains("storm.toml"), "{msg}");
    }

    #[test]
    fn unquoted_tables_are_rejected_with_a_hint() {
        let (_d, path) = file_with("[storm.zookeeper]\nport = 2181\n");
        let err = Config::load(&ConfigOptions {
            config_file: Some(path),
            overrides: vec![],
        })
        .unwrap_err();
        assert!(err.to_string().contains("quote dotted keys"), "{err}");
    }

    #[test]
    fn user_keys_outside_storm_namespaces_pass() {
        let (_d, path) = file_with("\"pystorm.log.path\" = \"/tmp/x\"\n\"my.setting\" = 3\n");
        let c = Config::load(&ConfigOptions {
            config_file: Some(path),
            overrides: vec![],
        })
        .unwrap();
        assert_eq!(c.get_str("pystorm.log.path").unwrap(), "/tmp/x");
    }

    #[test]
    fn bad_overrides_are_errors() {
        for bad in ["novalue", "=3"] {
            let err = Config::load(&ConfigOptions {
                config_file: None,
                overrides: vec![bad.into()],
            });
            assert!(matches!(err, Err(ConfigError::BadOverride { .. })), "{bad}");
        }
        let err = Config::load(&ConfigOptions {
            config_file: Some(PathBuf::from("/nonexistent/storm.toml")),
            overrides: vec!["storm.zookeeper.port=abc".into()],
        })
        .unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }), "{err}");
        let err = Config::load(&ConfigOptions {
            config_file: None,
            overrides: vec!["storm.zookeeper.port=abc".into()],
        })
        .unwrap_err();
        assert!(err.to_string().contains("the command line (-c)"), "{err}");
    }

    #[test]
    fn override_values_parse_as_json_then_toml_then_string() {
        assert_eq!(parse_value("2999"), json!(2999));
        assert_eq!(parse_value("[\"a\",\"b\"]"), json!(["a", "b"]));
        assert_eq!(parse_value("{\"a\": 1}"), json!({"a": 1}));
        assert_eq!(parse_value("'single'"), json!("single"));
        assert_eq!(parse_value("true"), json!(true));
        assert_eq!(parse_value("wordcount"), json!("wordcount"));
        assert_eq!(parse_value("a=b"), json!("a=b"));
        assert_eq!(
            parse_override("topology.name=a=b").unwrap(),
            ("topology.name".into(), json!("a=b"))
        );
    }

    #[test]
    fn java_rendering_matches_storm() {
        assert_eq!(java_string(&json!(["localhost"])), "[localhost]");
        assert_eq!(java_string(&json!([6700, 6701])), "[6700, 6701]");
        assert_eq!(java_string(&json!(4096.0)), "4096.0");
        assert_eq!(java_string(&json!({"a": 1})), "{a=1}");
        assert_eq!(java_string(&Value::Null), "null");
        assert_eq!(java_string(&json!("/storm")), "/storm");
    }

    #[test]
    fn home_and_paths_resolve_against_the_install_directory() {
        let (d, path) = file_with("\"storm.local.dir\" = \"local\"\n");
        let c = Config::load(&ConfigOptions {
            config_file: Some(path),
            overrides: vec![],
        })
        .unwrap();
        let home = std::fs::canonicalize(d.path()).unwrap();
        if std::env::var_os("STORM_HOME").is_none() {
            assert_eq!(c.home(), home.as_path());
            assert_eq!(c.get_path("storm.local.dir").unwrap(), home.join("local"));
        }
    }

    #[test]
    fn topology_overlay_accepts_unknown_keys_but_checks_types() {
        let mut c = Config::defaults();
        let src = ConfigSource::Topology("wc-1-1".into());
        let ok = json!({"topology.original_name": "wc", "topology.workers": 2});
        c.overlay(ok.as_object().unwrap(), &src).unwrap();
        assert_eq!(c.get_i64("topology.workers").unwrap(), 2);
        let bad = json!({"topology.workers": "two"});
        assert!(c.overlay(bad.as_object().unwrap(), &src).is_err());
    }

    #[test]
    fn typed_getters_report_type_errors() {
        let mut c = Config::defaults();
        c.set("nimbus.thrift.port", 70000);
        assert!(c
            .get_port("nimbus.thrift.port")
            .unwrap_err()
            .to_string()
            .contains("1-65535"));
        assert!(matches!(
            c.get_str("nimbus.thrift.port"),
            Err(ConfigError::Type { .. })
        ));
        assert!(matches!(
            c.get_i64("no.such.key"),
            Err(ConfigError::Missing { .. })
        ));
    }
}
