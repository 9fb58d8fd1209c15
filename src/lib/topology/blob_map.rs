//! `topology.blobstore.map` (Storm's distributed cache): the JSON map of blob key to
//! `{"localname": "<name>", "uncompress": <bool>, "workerRestart": <bool>}` a topology names the
//! blobs it needs with. Nimbus checks it at submit; supervisors localize what it lists
//! (`crate::supervisor::blobs`). A local name must be a plain file name that does not collide with
//! the topology's own files.

use std::path::{Component, Path};

use serde_json::{Map, Value};

use crate::paths::{DEPENDENCIES, RESOURCES, STORMCODE, STORMCONF, STORMJAR};

/// The topology conf key.
pub const BLOBSTORE_MAP: &str = "topology.blobstore.map";

/// One entry of `topology.blobstore.map`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BlobMapEntry {
    pub key: String,
    /// The name the topology sees it under (default: the key).
    pub localname: String,
    /// Extract the blob (an archive) into a directory.
    pub uncompress: bool,
    /// Restart the topology's workers when the blob changes.
    pub worker_restart: bool,
}

/// Names a blob may not take in a topology's directory.
const RESERVED: [&str; 5] = [STORMJAR, STORMCODE, STORMCONF, RESOURCES, DEPENDENCIES];

/// Whether `name` is a plain file name (no directories, no `.`/`..`).
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains('\0')
        && Path::new(name).components().count() == 1
        && matches!(
            Path::new(name).components().next(),
            Some(Component::Normal(_))
        )
        && !name.contains('/')
}

/// Parses and checks `topology.blobstore.map` from a topology conf (absent or null: no blobs).
pub fn blobstore_map(conf: &Map<String, Value>) -> Result<Vec<BlobMapEntry>, String> {
    let map = match conf.get(BLOBSTORE_MAP) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(format!(
                "{BLOBSTORE_MAP} must be a map of blob key to {{\"localname\": …, \"uncompress\": …}}, not {other}"
            ))
        }
    };
    let mut out: Vec<BlobMapEntry> = Vec::new();
    for (key, settings) in map {
        if !crate::nimbus::blobstore::is_valid_key(key) {
            return Err(format!("{BLOBSTORE_MAP}: {key:?} is not a valid blob key"));
        }
        let empty = Map::new();
        let settings = match settings {
            Value::Object(m) => m,
            Value::Null => &empty,
            other => {
                return Err(format!(
                    "{BLOBSTORE_MAP}: the settings of {key} must be a map, not {other}"
                ))
            }
        };
        let flag = |name: &str| -> Result<bool, String> {
            match settings.get(name) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
                Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
                Some(other) => Err(format!(
                    "{BLOBSTORE_MAP}: {key}.{name} must be true or false, not {other}"
                )),
            }
        };
        let localname = match settings.get("localname") {
            None | Some(Value::Null) => key.clone(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(format!(
                    "{BLOBSTORE_MAP}: {key}.localname must be a string, not {other}"
                ))
            }
        };
        if !is_plain_name(&localname) {
            return Err(format!(
                "{BLOBSTORE_MAP}: the local name {localname:?} of blob {key} must be a plain file name (no '/', not '.' or '..')"
            ));
        }
        if RESERVED.contains(&localname.as_str()) {
            return Err(format!(
                "{BLOBSTORE_MAP}: the local name {localname:?} of blob {key} is one of the topology's own files; choose another"
            ));
        }
        if let Some(other) = out.iter().find(|e| e.localname == localname) {
            return Err(format!(
                "{BLOBSTORE_MAP}: blobs {} and {key} both use the local name {localname:?}",
                other.key
            ));
        }
        out.push(BlobMapEntry {
            key: key.clone(),
            localname,
            uncompress: flag("uncompress")?,
            worker_restart: flag("workerRestart")?,
        });
    }
    Ok(out)
}

/// The user whose cache holds a topology's blobs: `topology.submitter.user` when it is a plain
/// name, else `storm`.
pub fn cache_user(conf: &Map<String, Value>) -> String {
    conf.get("topology.submitter.user")
        .and_then(Value::as_str)
        .filter(|u| is_plain_name(u))
        .unwrap_or("storm")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conf(v: serde_json::Value) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert(BLOBSTORE_MAP.into(), v);
        m
    }

    #[test]
    fn the_map_parses_as_storms_and_bad_names_are_refused() {
        let entries = blobstore_map(&conf(json!({
            "key1": {"localname": "blob_file", "uncompress": false},
            "key2": {},
            "key3": {"uncompress": "true", "workerRestart": true}
        })))
        .unwrap();
        assert_eq!(
            entries,
            vec![
                BlobMapEntry {
                    key: "key1".into(),
                    localname: "blob_file".into(),
                    uncompress: false,
                    worker_restart: false
                },
                BlobMapEntry {
                    key: "key2".into(),
                    localname: "key2".into(),
                    uncompress: false,
                    worker_restart: false
                },
                BlobMapEntry {
                    key: "key3".into(),
                    localname: "key3".into(),
                    uncompress: true,
                    worker_restart: true
                },
            ]
        );
        assert!(blobstore_map(&Map::new()).unwrap().is_empty());
        for bad in [
            json!({"k": {"localname": "../escape"}}),
            json!({"k": {"localname": "a/b"}}),
            json!({"k": {"localname": ".."}}),
            json!({"k": {"localname": ""}}),
            json!({"k": {"localname": "stormjar.jar"}}),
            json!({"k": {"localname": "x"}, "j": {"localname": "x"}}),
            json!({"bad/key": {}}),
            json!({"k": {"uncompress": 3}}),
            json!(["k"]),
        ] {
            assert!(blobstore_map(&conf(bad.clone())).is_err(), "{bad}");
        }
    }
}
