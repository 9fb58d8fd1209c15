//! What must never be shown or logged: Storm's password keys (`@Password` in `Config`/`DaemonConfig`:
//! `storm.zookeeper.topology.auth.payload`, the `*.https.*password` keys), the ZooKeeper payload
//! (`storm.zookeeper.auth.payload`, which Storm redacts with `Utils.redactValue`), and, to be safe,
//! every key whose name contains `password`, `secret` or ends in `auth.payload` (any depth in maps).
//! Redacted values become `#` repeated as many times as the value has characters, as Storm's
//! `redactValue` does. [`create_private`] makes the files that hold such values (mode 0600).

use std::fs::File;
use std::path::Path;

use serde_json::{Map, Value};

/// Storm's `@Password` keys and its redacted ZooKeeper payload.
pub const STORM_SECRET_KEYS: [&str; 11] = [
    "storm.zookeeper.auth.payload",
    "storm.zookeeper.topology.auth.payload",
    "logviewer.https.keystore.password",
    "logviewer.https.key.password",
    "logviewer.https.truststore.password",
    "ui.https.keystore.password",
    "ui.https.key.password",
    "ui.https.truststore.password",
    "drpc.https.keystore.password",
    "drpc.https.key.password",
    "drpc.https.truststore.password",
];

/// Whether the value of `key` is a secret.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    STORM_SECRET_KEYS.contains(&k.as_str())
        || k.contains("password")
        || k.contains("secret")
        || k.ends_with("auth.payload")
}

/// The mask of a secret value: `#` per character of its text.
fn mask(v: &Value) -> Value {
    let text = match v {
        Value::String(s) => s.chars().count(),
        Value::Null => return Value::Null,
        other => other.to_string().chars().count(),
    };
    Value::from("#".repeat(text))
}

/// Replaces every secret value in `conf` (and in maps inside it) with its mask.
pub fn redact(conf: &mut Map<String, Value>) {
    for (k, v) in conf.iter_mut() {
        if is_secret_key(k) {
            *v = mask(v);
        } else if let Value::Object(inner) = v {
            redact(inner);
        }
    }
}

/// A redacted copy of `conf`.
pub fn redacted(conf: &Map<String, Value>) -> Map<String, Value> {
    let mut c = conf.clone();
    redact(&mut c);
    c
}

/// Creates (or truncates) `path` readable and writable by its owner only (0600), whatever the umask.
pub fn create_private(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An existing file keeps its mode through open(); make it private too.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redacts_storms_keys_and_lookalikes_at_any_depth() {
        let mut c = json!({
            "storm.zookeeper.topology.auth.payload": "user:pw",
            "storm.zookeeper.auth.payload": "a:b",
            "ui.https.key.password": "k",
            "my.db.Password": 1234,
            "ui.filter.params": {"signature.secret": "abc", "type": "kerberos"},
            "topology.name": "wc",
            "java.security.auth.login.config": "/etc/jaas.conf"
        })
        .as_object()
        .unwrap()
        .clone();
        redact(&mut c);
        assert_eq!(c["storm.zookeeper.topology.auth.payload"], "#######");
        assert_eq!(c["storm.zookeeper.auth.payload"], "###");
        assert_eq!(c["ui.https.key.password"], "#");
        assert_eq!(c["my.db.Password"], "####");
        assert_eq!(c["ui.filter.params"]["signature.secret"], "###");
        assert_eq!(c["ui.filter.params"]["type"], "kerberos");
        assert_eq!(c["topology.name"], "wc");
        assert_eq!(c["java.security.auth.login.config"], "/etc/jaas.conf");
    }

    #[test]
    fn private_files_are_0600() {
        use std::os::unix::fs::PermissionsExt;
        let p = std::env::temp_dir().join(format!("private-{}", std::process::id()));
        std::fs::write(&p, b"x").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(create_private(&p).unwrap());
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::remove_file(&p).unwrap();
    }
}
