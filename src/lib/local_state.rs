//! LocalState: Storm's small crash-safe key → Thrift-struct store on local disk.
//!
//! A [`VersionedStore`] directory holds numbered versions: each write goes to `<version>.tmp`, is synced,
//! renamed to `<version>` and then marked complete by an empty `<version>.version` file. Readers take the
//! newest *marked* version that decodes, so a writer that dies mid-write (a torn newest file) never hides
//! the previous state. Old versions are pruned, keeping the newest few. [`LocalState`] stores Storm's
//! `LocalStateData` (a map of key → `ThriftSerializedObject{class name, Thrift bytes}`) in such a store,
//! and is used for the supervisor id (`supervisor/isupervisor`), the slots' assignments
//! (`supervisor/localstate`) and worker heartbeats (`workers/<id>/heartbeats`).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use thrift::protocol::TSerializable;

use crate::thrift::{self as st, LocalStateData, ThriftSerializedObject};

/// Key of the supervisor id in `supervisor/isupervisor` (`LSSupervisorId`).
pub const LS_ID: &str = "supervisor-id";
/// Key of a worker's heartbeat in `workers/<id>/heartbeats` (`LSWorkerHeartbeat`).
pub const LS_WORKER_HEARTBEAT: &str = "worker-heartbeat";
/// Key of the slots' assignments in `supervisor/localstate` (`LSSupervisorAssignments`).
pub const LS_LOCAL_ASSIGNMENTS: &str = "local-assignments";
/// Key of the worker-id → port map in `supervisor/localstate` (`LSApprovedWorkers`).
pub const LS_APPROVED_WORKERS: &str = "approved-workers";
/// Key of the killed-topology history in `nimbus/history` (`LSTopoHistoryList`).
pub const LS_TOPO_HISTORY: &str = "topo-hist";

/// How many versions a write keeps by default (Storm's `LocalState.put`).
pub const DEFAULT_KEEP: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum LocalStateError {
    #[error("local state {}: {op} failed: {source}", path.display())]
    Io {
        path: PathBuf,
        op: &'static str,
        source: std::io::Error,
    },
    #[error("local state {}: key \"{key}\" holds a {found}, not a {expected}", path.display())]
    WrongClass {
        path: PathBuf,
        key: String,
        expected: String,
        found: String,
    },
    #[error("local state {}: key \"{key}\" cannot be decoded: {message}", path.display())]
    Decode {
        path: PathBuf,
        key: String,
        message: String,
    },
}

/// A directory of numbered, completion-marked versions of one file.
#[derive(Debug, Clone)]
pub struct VersionedStore {
    root: PathBuf,
}

impl VersionedStore {
    /// Opens (creating) the store directory.
    pub fn open(root: impl Into<PathBuf>) -> Result<VersionedStore, LocalStateError> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|source| LocalStateError::Io {
            path: root.clone(),
            op: "create",
            source,
        })?;
        Ok(VersionedStore { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Completed versions, newest first.
    pub fn versions(&self) -> Result<Vec<u64>, LocalStateError> {
        let entries = fs::read_dir(&self.root).map_err(|source| LocalStateError::Io {
            path: self.root.clone(),
            op: "list",
            source,
        })?;
        let mut versions: Vec<u64> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".version"))
                    .and_then(|n| n.parse().ok())
            })
            .filter(|v: &u64| self.root.join(v.to_string()).is_file())
            .collect();
        versions.sort_unstable_by(|a, b| b.cmp(a));
        Ok(versions)
    }

    /// Reads versions newest first and returns the first that `decode` accepts; torn or corrupt versions
    /// are skipped (and logged).
    pub fn read_newest<T>(
        &self,
        mut decode: impl FnMut(&[u8]) -> Option<T>,
    ) -> Result<Option<T>, LocalStateError> {
        for v in self.versions()? {
            let path = self.root.join(v.to_string());
            match fs::read(&path) {
                Ok(bytes) => match decode(&bytes) {
                    Some(t) => return Ok(Some(t)),
                    None => {
                        tracing::warn!(path = %path.display(), "skipping undecodable local state version")
                    }
                },
                // Pruned by a concurrent writer between listing and reading: try the next one.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(LocalStateError::Io {
                        path,
                        op: "read",
                        source,
                    })
                }
            }
        }
        Ok(None)
    }

    /// Writes a new version (temp file, sync, rename, marker) and prunes all but the newest `keep`.
    pub fn write(&self, bytes: &[u8], keep: usize) -> Result<u64, LocalStateError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let newest = self.newest_any()?;
        let version = now.max(newest.map_or(0, |n| n + 1));
        let data = self.root.join(version.to_string());
        let tmp = self.root.join(format!("{version}.tmp"));
        let io = |op: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| LocalStateError::Io { path, op, source }
        };
        {
            let mut f = fs::File::create(&tmp).map_err(io("create", &tmp))?;
            f.write_all(bytes).map_err(io("write", &tmp))?;
            f.sync_all().map_err(io("sync", &tmp))?;
        }
        fs::rename(&tmp, &data).map_err(io("rename", &data))?;
        let marker = self.root.join(format!("{version}.version"));
        fs::File::create(&marker).map_err(io("mark", &marker))?;
        self.cleanup(keep)?;
        Ok(version)
    }

    /// The highest version number present in any form (so a new version is always newer than a torn one).
    fn newest_any(&self) -> Result<Option<u64>, LocalStateError> {
        let entries = fs::read_dir(&self.root).map_err(|source| LocalStateError::Io {
            path: self.root.clone(),
            op: "list",
            source,
        })?;
        Ok(entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name();
                let name = name.to_str()?;
                name.split('.').next()?.parse::<u64>().ok()
            })
            .max())
    }

    /// Deletes every version but the newest `keep` completed ones, and any stale temp or torn files older
    /// than the oldest kept version.
    pub fn cleanup(&self, keep: usize) -> Result<(), LocalStateError> {
        let versions = self.versions()?;
        let Some(&oldest_kept) = versions.get(keep.max(1) - 1).or(versions.last()) else {
            return Ok(());
        };
        let entries = fs::read_dir(&self.root).map_err(|source| LocalStateError::Io {
            path: self.root.clone(),
            op: "list",
            source,
        })?;
        for e in entries.filter_map(|e| e.ok()) {
            let name = e.file_name();
            let Some(v) = name
                .to_str()
                .and_then(|n| n.split('.').next())
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            if v < oldest_kept {
                // Marker first: a version without its marker is never read.
                let _ = fs::remove_file(self.root.join(format!("{v}.version")));
                let _ = fs::remove_file(e.path());
            }
        }
        Ok(())
    }
}

/// Storm's LocalState: key → Thrift struct, stored as `LocalStateData` in a [`VersionedStore`].
#[derive(Debug, Clone)]
pub struct LocalState {
    store: VersionedStore,
}

/// Storm names each stored struct by its Java class; keep the same names so the files read the same.
fn class_name<T>() -> String {
    let short = std::any::type_name::<T>()
        .rsplit("::")
        .next()
        .unwrap_or("?");
    format!("org.apache.storm.generated.{short}")
}

impl LocalState {
    pub fn open(dir: impl Into<PathBuf>) -> Result<LocalState, LocalStateError> {
        Ok(LocalState {
            store: VersionedStore::open(dir)?,
        })
    }

    /// Opens an existing LocalState for reading without creating anything (`None` when `dir` is not a
    /// directory), for readers of another process's state (the logviewer reading worker heartbeats).
    pub fn open_existing(dir: impl Into<PathBuf>) -> Option<LocalState> {
        let root = dir.into();
        if !root.is_dir() {
            return None;
        }
        Some(LocalState {
            store: VersionedStore { root },
        })
    }

    pub fn dir(&self) -> &Path {
        self.store.root()
    }

    /// All stored parts of the newest readable version (empty when there is none).
    pub fn snapshot(&self) -> Result<BTreeMap<String, ThriftSerializedObject>, LocalStateError> {
        Ok(self
            .store
            .read_newest(|bytes| st::deserialize::<LocalStateData>(bytes).ok())?
            .map(|d| d.serialized_parts)
            .unwrap_or_default())
    }

    /// The value under `key`, decoded as `T`.
    pub fn get<T: TSerializable>(&self, key: &str) -> Result<Option<T>, LocalStateError> {
        let mut parts = self.snapshot()?;
        let Some(obj) = parts.remove(key) else {
            return Ok(None);
        };
        let expected = class_name::<T>();
        if obj.name != expected {
            return Err(LocalStateError::WrongClass {
                path: self.dir().to_path_buf(),
                key: key.to_string(),
                expected,
                found: obj.name,
            });
        }
        st::deserialize::<T>(&obj.bits)
            .map(Some)
            .map_err(|e| LocalStateError::Decode {
                path: self.dir().to_path_buf(),
                key: key.to_string(),
                message: e.to_string(),
            })
    }

    /// Stores `value` under `key` (keeping [`DEFAULT_KEEP`] versions).
    pub fn put<T: TSerializable>(&self, key: &str, value: &T) -> Result<(), LocalStateError> {
        self.put_keeping(key, value, DEFAULT_KEEP)
    }

    /// Stores `value` under `key`, keeping the newest `keep` versions (workers keep 60 heartbeats).
    pub fn put_keeping<T: TSerializable>(
        &self,
        key: &str,
        value: &T,
        keep: usize,
    ) -> Result<(), LocalStateError> {
        let mut parts = self.snapshot()?;
        parts.insert(
            key.to_string(),
            ThriftSerializedObject {
                name: class_name::<T>(),
                bits: st::serialize(value),
            },
        );
        self.write(parts, keep)
    }

    pub fn remove(&self, key: &str) -> Result<(), LocalStateError> {
        let mut parts = self.snapshot()?;
        if parts.remove(key).is_some() {
            self.write(parts, DEFAULT_KEEP)?;
        }
        Ok(())
    }

    fn write(
        &self,
        parts: BTreeMap<String, ThriftSerializedObject>,
        keep: usize,
    ) -> Result<(), LocalStateError> {
        let bytes = st::serialize(&LocalStateData {
            serialized_parts: parts,
        });
        self.store.write(&bytes, keep).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thrift::{LSSupervisorId, LSWorkerHeartbeat};

    #[test]
    fn put_get_roundtrip_and_class_names() {
        let dir = tempfile::tempdir().unwrap();
        let ls = LocalState::open(dir.path()).unwrap();
        assert!(ls.get::<LSSupervisorId>(LS_ID).unwrap().is_none());
        ls.put(
            LS_ID,
            &LSSupervisorId {
                supervisor_id: "abc-127.0.0.1".into(),
            },
        )
        .unwrap();
        let got: LSSupervisorId = ls.get(LS_ID).unwrap().unwrap();
        assert_eq!(got.supervisor_id, "abc-127.0.0.1");
        assert_eq!(
            ls.snapshot().unwrap()[LS_ID].name,
            "org.apache.storm.generated.LSSupervisorId"
        );
        let err = ls.get::<LSWorkerHeartbeat>(LS_ID).unwrap_err();
        assert!(err.to_string().contains("LSSupervisorId"), "{err}");
    }

    #[test]
    fn keeps_newest_versions_only() {
        let dir = tempfile::tempdir().unwrap();
        let ls = LocalState::open(dir.path()).unwrap();
        for i in 0..10 {
            ls.put(
                LS_ID,
                &LSSupervisorId {
                    supervisor_id: format!("id-{i}"),
                },
            )
            .unwrap();
        }
        let store = VersionedStore::open(dir.path()).unwrap();
        assert_eq!(store.versions().unwrap().len(), DEFAULT_KEEP);
        let files = fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(
            files,
            2 * DEFAULT_KEEP,
            "one data file and one marker per kept version"
        );
        assert_eq!(
            ls.get::<LSSupervisorId>(LS_ID)
                .unwrap()
                .unwrap()
                .supervisor_id,
            "id-9"
        );
    }

    #[test]
    fn torn_or_corrupt_newest_version_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let ls = LocalState::open(dir.path()).unwrap();
        ls.put(
            LS_ID,
            &LSSupervisorId {
                supervisor_id: "good".into(),
            },
        )
        .unwrap();
        let newest = VersionedStore::open(dir.path())
            .unwrap()
            .versions()
            .unwrap()[0];
        // A write that died before its marker: data present, no marker.
        fs::write(dir.path().join((newest + 5).to_string()), b"half a fi").unwrap();
        // A marked version whose bytes are garbage.
        fs::write(
            dir.path().join((newest + 3).to_string()),
            b"\xff\xff\xff garbage",
        )
        .unwrap();
        fs::write(dir.path().join(format!("{}.version", newest + 3)), b"").unwrap();
        // A temp file left by a crash.
        fs::write(dir.path().join(format!("{}.tmp", newest + 7)), b"tmp").unwrap();
        assert_eq!(
            ls.get::<LSSupervisorId>(LS_ID)
                .unwrap()
                .unwrap()
                .supervisor_id,
            "good"
        );
        // The next write is newer than every leftover, and reads back.
        ls.put(
            LS_ID,
            &LSSupervisorId {
                supervisor_id: "next".into(),
            },
        )
        .unwrap();
        assert_eq!(
            ls.get::<LSSupervisorId>(LS_ID)
                .unwrap()
                .unwrap()
                .supervisor_id,
            "next"
        );
    }

    #[test]
    fn remove_and_multiple_keys() {
        let dir = tempfile::tempdir().unwrap();
        let ls = LocalState::open(dir.path()).unwrap();
        ls.put(
            LS_ID,
            &LSSupervisorId {
                supervisor_id: "s".into(),
            },
        )
        .unwrap();
        let hb = LSWorkerHeartbeat {
            time_secs: 5,
            topology_id: "t-1-1".into(),
            executors: vec![],
            port: 6700,
        };
        ls.put_keeping(LS_WORKER_HEARTBEAT, &hb, 60).unwrap();
        assert_eq!(
            ls.get::<LSWorkerHeartbeat>(LS_WORKER_HEARTBEAT)
                .unwrap()
                .unwrap(),
            hb
        );
        ls.remove(LS_ID).unwrap();
        assert!(ls.get::<LSSupervisorId>(LS_ID).unwrap().is_none());
        assert!(ls
            .get::<LSWorkerHeartbeat>(LS_WORKER_HEARTBEAT)
            .unwrap()
            .is_some());
    }
}
