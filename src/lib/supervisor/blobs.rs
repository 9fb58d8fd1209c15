//! The supervisor's distributed cache of users' blobs (Storm's `AsyncLocalizer` / `LocalizedResource`
//! for `topology.blobstore.map`, reference §2.4).
//!
//! * `topology.blobstore.map` is Storm's JSON map `{"<key>": {"localname": "<name>", "uncompress":
//!   <bool>, "workerRestart": <bool>}}` (every field optional: the local name defaults to the key).
//!   A local name must be a plain file name that does not collide with the topology's own files;
//!   anything else is refused before a byte is downloaded.
//! * The cache lives in `supervisor/usercache/<user>/filecache/files/` (plain blobs) and
//!   `…/archives/` (blobs with `uncompress`, extracted into a directory; zip/jar, tar, tar.gz/tgz,
//!   entries that would escape the directory and links refused). Each version is its own entry,
//!   `<key>.<version>`, and `<key>.current` is a symbolic link to the version in use, switched
//!   atomically (a new link renamed over the old) when a new version arrives; older versions are then
//!   deleted. Downloads go through `supervisor/tmp` and a rename, so a broken transfer leaves nothing.
//! * A topology sees each blob as `supervisor/stormdist/<id>/<localname>` and, in every worker's
//!   directory, `workers/<worker-id>/<localname>`: links to `<key>.current`, so an update reaches
//!   running workers without a restart, unless the entry asks for `workerRestart` (then the
//!   supervisor stops the topology's workers here and their slots relaunch them).
//! * Every `supervisor.localizer.update.blob.interval.secs` the supervisor asks nimbus for the
//!   version of each blob its topologies use and fetches the new ones; `<key>.used` records when a
//!   blob was last needed. When the cache grows past `supervisor.localizer.cache.target.size.mb`,
//!   blobs no assigned topology uses are deleted, least recently used first (Storm's LRU).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use super::localizer::{download_blob, BlobSource, DownloadError};

pub use crate::topology::blob_map::{blobstore_map, cache_user, BlobMapEntry, BLOBSTORE_MAP};

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> DownloadError + '_ {
    move |source| DownloadError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(unix)]
fn make_symlink(target: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

/// Points `link` at `target`, replacing whatever `link` was, atomically.
pub fn replace_symlink(target: &Path, link: &Path) -> io::Result<()> {
    let tmp = link.with_file_name(format!(
        ".{}.{}",
        link.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        uuid::Uuid::new_v4().simple()
    ));
    make_symlink(target, &tmp)?;
    fs::rename(&tmp, link).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// Bytes under `path` (a file, or a directory recursively; links not followed).
fn size_of(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.file_type().is_symlink() {
        0
    } else if meta.is_dir() {
        fs::read_dir(path)
            .map(|entries| entries.flatten().map(|e| size_of(&e.path())).sum())
            .unwrap_or(0)
    } else {
        meta.len()
    }
}

fn remove_any(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// A blob in the cache: (user, archive or not, key).
pub type CachedBlob = (String, bool, String);

/// The cache under `supervisor/usercache`.
#[derive(Debug, Clone)]
pub struct UserCache {
    root: PathBuf,
    tmp: PathBuf,
}

impl UserCache {
    /// The cache at `root` (`supervisor/usercache`), downloading through `tmp` (`supervisor/tmp`, on
    /// the same file system).
    pub fn new(root: PathBuf, tmp: PathBuf) -> UserCache {
        UserCache { root, tmp }
    }

    fn dir(&self, user: &str, archive: bool) -> PathBuf {
        self.root
            .join(user)
            .join("filecache")
            .join(if archive { "archives" } else { "files" })
    }

    /// `<key>.current`, the link to the version in use.
    pub fn current(&self, user: &str, entry: &BlobMapEntry) -> PathBuf {
        self.dir(user, entry.uncompress)
            .join(format!("{}.current", entry.key))
    }

    /// Makes the cache hold the latest version of `entry`'s blob and `<key>.current` point at it.
    /// Returns whether `<key>.current` changed (a new blob, or a new version).
    pub fn localize(
        &self,
        source: &mut dyn BlobSource,
        user: &str,
        entry: &BlobMapEntry,
    ) -> Result<bool, DownloadError> {
        let key = &entry.key;
        let version = source.version(key).map_err(|message| DownloadError::Blob {
            key: key.clone(),
            message,
        })?;
        let dir = self.dir(user, entry.uncompress);
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        fs::create_dir_all(&self.tmp).map_err(io_err(&self.tmp))?;
        let name = format!("{key}.{version}");
        let target = dir.join(&name);
        if fs::symlink_metadata(&target).is_err() {
            let download = self
                .tmp
                .join(format!("blob-{}", uuid::Uuid::new_v4().simple()));
            download_blob(source, key, &download)?;
            let placed = if entry.uncompress {
                let staging = download.with_extension("d");
                let extracted = extract_archive(&download, key, &staging)
                    .and_then(|()| fs::rename(&staging, &target).map_err(io_err(&target)));
                let _ = fs::remove_file(&download);
                if extracted.is_err() {
                    let _ = fs::remove_dir_all(&staging);
                }
                extracted
            } else {
                fs::rename(&download, &target).map_err(io_err(&target))
            };
            if let Err(e) = placed {
                let _ = fs::remove_file(&download);
                return Err(e);
            }
            tracing::info!(%key, version, user, "downloaded blob into the cache");
        }
        let current = dir.join(format!("{key}.current"));
        let changed = fs::read_link(&current).ok().as_deref() != Some(Path::new(&name));
        if changed {
            replace_symlink(Path::new(&name), &current).map_err(io_err(&current))?;
        }
        // Older versions are no longer linked.
        let prefix = format!("{key}.");
        if let Ok(entries) = fs::read_dir(&dir) {
            for e in entries.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                let Some(rest) = n.strip_prefix(&prefix) else {
                    continue;
                };
                if n != name && rest.parse::<i64>().is_ok() {
                    let _ = remove_any(&e.path());
                }
            }
        }
        let used = dir.join(format!("{key}.used"));
        fs::write(&used, b"").map_err(io_err(&used))?;
        Ok(changed)
    }

    /// Marks a blob as needed now (for the LRU order).
    pub fn touch(&self, user: &str, entry: &BlobMapEntry) {
        let used = self
            .dir(user, entry.uncompress)
            .join(format!("{}.used", entry.key));
        if used.parent().is_some_and(Path::is_dir) {
            let _ = fs::write(&used, b"");
        }
    }

    /// Every blob in the cache with its size and when it was last needed.
    fn inventory(&self) -> Vec<(CachedBlob, u64, std::time::SystemTime)> {
        let mut found: BTreeMap<CachedBlob, (u64, std::time::SystemTime)> = BTreeMap::new();
        let Ok(users) = fs::read_dir(&self.root) else {
            return Vec::new();
        };
        for user in users.flatten() {
            let user_name = user.file_name().to_string_lossy().into_owned();
            for archive in [false, true] {
                let dir = self.dir(&user_name, archive);
                let Ok(entries) = fs::read_dir(&dir) else {
                    continue;
                };
                for e in entries.flatten() {
                    let n = e.file_name().to_string_lossy().into_owned();
                    let Some((key, suffix)) = n.rsplit_once('.') else {
                        continue;
                    };
                    if !(suffix == "current" || suffix == "used" || suffix.parse::<i64>().is_ok()) {
                        continue;
                    }
                    let slot = found
                        .entry((user_name.clone(), archive, key.to_string()))
                        .or_insert((0, std::time::UNIX_EPOCH));
                    slot.0 += size_of(&e.path());
                    if suffix == "used" {
                        if let Ok(t) = e.metadata().and_then(|m| m.modified()) {
                            slot.1 = t;
                        }
                    }
                }
            }
        }
        found.into_iter().map(|(k, (s, t))| (k, s, t)).collect()
    }

    /// Total bytes in the cache.
    pub fn size(&self) -> u64 {
        self.inventory().iter().map(|(_, s, _)| s).sum()
    }

    /// When the cache holds more than `target_bytes`, deletes blobs not in `in_use`, least recently
    /// needed first, until it fits (or nothing unused is left). Returns what was deleted.
    pub fn cleanup(&self, in_use: &BTreeSet<CachedBlob>, target_bytes: u64) -> Vec<CachedBlob> {
        let mut blobs = self.inventory();
        let mut total: u64 = blobs.iter().map(|(_, s, _)| s).sum();
        let mut removed = Vec::new();
        if total <= target_bytes {
            return removed;
        }
        blobs.sort_by_key(|(_, _, used)| *used);
        for ((user, archive, key), size, _) in blobs {
            if total <= target_bytes {
                break;
            }
            let id = (user.clone(), archive, key.clone());
            if in_use.contains(&id) {
                continue;
            }
            let dir = self.dir(&user, archive);
            let prefix = format!("{key}.");
            if let Ok(entries) = fs::read_dir(&dir) {
                for e in entries.flatten() {
                    let n = e.file_name().to_string_lossy().into_owned();
                    if n.strip_prefix(&prefix).is_some_and(|rest| {
                        rest == "current" || rest == "used" || rest.parse::<i64>().is_ok()
                    }) {
                        let _ = remove_any(&e.path());
                    }
                }
            }
            tracing::info!(%key, user, bytes = size, "evicted an unused blob from the cache");
            total = total.saturating_sub(size);
            removed.push(id);
        }
        removed
    }
}

/// Links `<dir>/<localname>` to the blob's `<key>.current` in the cache (absolute path).
pub fn link_blob(dir: &Path, entry: &BlobMapEntry, current: &Path) -> io::Result<()> {
    replace_symlink(current, &dir.join(&entry.localname))
}

/// Extracts archive `file` (blob `key`) into the new directory `dest`: zip/jar, tar, tar.gz/tgz,
/// chosen by the key's extension, else by the file's first bytes. Entries that would land outside
/// `dest`, and links, are refused / skipped.
pub fn extract_archive(file: &Path, key: &str, dest: &Path) -> Result<(), DownloadError> {
    let archive_err = |message: String| DownloadError::Archive {
        path: file.to_path_buf(),
        message: format!("blob {key}: {message}"),
    };
    fs::create_dir_all(dest).map_err(io_err(dest))?;
    let mut head = [0u8; 262];
    let n = {
        use std::io::Read;
        let mut f = fs::File::open(file).map_err(io_err(file))?;
        let mut n = 0;
        while n < head.len() {
            match f.read(&mut head[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) => return Err(io_err(file)(e)),
            }
        }
        n
    };
    let lower = key.to_ascii_lowercase();
    let is_zip = lower.ends_with(".zip")
        || lower.ends_with(".jar")
        || (n >= 4 && head[..4] == *b"PK\x03\x04");
    let is_gz = lower.ends_with(".tar.gz")
        || lower.ends_with(".tgz")
        || (n >= 2 && head[..2] == [0x1f, 0x8b]);
    let is_tar = lower.ends_with(".tar") || (n >= 262 && &head[257..262] == b"ustar");
    if is_zip {
        let f = fs::File::open(file).map_err(io_err(file))?;
        let mut zip = zip::ZipArchive::new(io::BufReader::new(f))
            .map_err(|e| archive_err(format!("not a readable zip: {e}")))?;
        for i in 0..zip.len() {
            let mut entry = zip
                .by_index(i)
                .map_err(|e| archive_err(format!("entry {i}: {e}")))?;
            let name = entry.name().replace('\\', "/");
            let rel = Path::new(&name);
            if rel
                .components()
                .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
            {
                return Err(archive_err(format!(
                    "entry \"{name}\" would be extracted outside {}",
                    dest.display()
                )));
            }
            let out = dest.join(rel);
            if entry.is_dir() || name.ends_with('/') {
                fs::create_dir_all(&out).map_err(io_err(&out))?;
                continue;
            }
            if entry.is_symlink() {
                tracing::warn!(%key, entry = %name, "skipping a link in an archive blob");
                continue;
            }
            if let Some(parent) = out.parent() {
                fs::create_dir_all(parent).map_err(io_err(parent))?;
            }
            let mut w = fs::File::create(&out).map_err(io_err(&out))?;
            io::copy(&mut entry, &mut w)
                .map_err(|e| archive_err(format!("entry \"{name}\": {e}")))?;
            #[cfg(unix)]
            if let Some(mode) = entry.unix_mode() {
                use std::os::unix::fs::PermissionsExt;
                let _ = fs::set_permissions(&out, fs::Permissions::from_mode(mode & 0o777));
            }
        }
        return Ok(());
    }
    if is_gz || is_tar {
        let f = io::BufReader::new(fs::File::open(file).map_err(io_err(file))?);
        let reader: Box<dyn io::Read> = if is_gz {
            Box::new(flate2::read::GzDecoder::new(f))
        } else {
            Box::new(f)
        };
        let mut tar = tar::Archive::new(reader);
        let entries = tar
            .entries()
            .map_err(|e| archive_err(format!("not a readable tar: {e}")))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| archive_err(format!("a tar entry: {e}")))?;
            let path = entry
                .path()
                .map_err(|e| archive_err(format!("a tar entry's name: {e}")))?
                .into_owned();
            if path
                .components()
                .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
            {
                return Err(archive_err(format!(
                    "entry \"{}\" would be extracted outside {}",
                    path.display(),
                    dest.display()
                )));
            }
            let kind = entry.header().entry_type();
            if !(kind.is_file() || kind.is_dir()) {
                tracing::warn!(%key, entry = %path.display(), "skipping a link or special file in an archive blob");
                continue;
            }
            if !entry
                .unpack_in(dest)
                .map_err(|e| archive_err(format!("entry \"{}\": {e}", path.display())))?
            {
                return Err(archive_err(format!(
                    "entry \"{}\" would be extracted outside {}",
                    path.display(),
                    dest.display()
                )));
            }
        }
        return Ok(());
    }
    Err(archive_err(
        "\"uncompress\" is set but the blob is not a zip, jar, tar or tar.gz archive".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blobs from a map, with versions.
    #[derive(Default)]
    struct Versions(BTreeMap<String, (i64, Vec<u8>)>);

    impl BlobSource for Versions {
        fn fetch(&mut self, key: &str, out: &mut dyn io::Write) -> Result<u64, String> {
            let (_, b) = self.0.get(key).ok_or_else(|| format!("no {key}"))?;
            out.write_all(b).map_err(|e| e.to_string())?;
            Ok(b.len() as u64)
        }
        fn version(&mut self, key: &str) -> Result<i64, String> {
            self.0
                .get(key)
                .map(|(v, _)| *v)
                .ok_or_else(|| format!("KeyNotFoundException: {key}"))
        }
    }

    #[test]
    fn versions_switch_the_current_link_and_old_ones_go() {
        let dir = tempfile::tempdir().unwrap();
        let cache = UserCache::new(dir.path().join("usercache"), dir.path().join("tmp"));
        let mut source = Versions::default();
        source.0.insert("dict".into(), (7, b"one".to_vec()));
        let entry = BlobMapEntry {
            key: "dict".into(),
            localname: "words.txt".into(),
            uncompress: false,
            worker_restart: false,
        };
        assert!(cache.localize(&mut source, "alice", &entry).unwrap());
        let current = cache.current("alice", &entry);
        assert_eq!(fs::read(&current).unwrap(), b"one");
        // The topology's link follows the cache's.
        let dist = dir.path().join("dist");
        fs::create_dir_all(&dist).unwrap();
        link_blob(&dist, &entry, &current).unwrap();
        assert_eq!(fs::read(dist.join("words.txt")).unwrap(), b"one");
        assert!(!cache.localize(&mut source, "alice", &entry).unwrap());
        source.0.insert("dict".into(), (9, b"two".to_vec()));
        assert!(cache.localize(&mut source, "alice", &entry).unwrap());
        assert_eq!(fs::read(dist.join("words.txt")).unwrap(), b"two");
        let files = cache.dir("alice", false);
        assert!(!files.join("dict.7").exists());
        assert!(files.join("dict.9").exists());
        // Nothing left in tmp.
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        // A missing blob is an error naming it.
        let missing = BlobMapEntry {
            key: "gone".into(),
            ..entry.clone()
        };
        let e = cache.localize(&mut source, "alice", &missing).unwrap_err();
        assert!(e.to_string().contains("gone"), "{e}");
    }

    fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            builder.append_data(&mut h, name, *data).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn archives_are_extracted_and_escapes_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cache = UserCache::new(dir.path().join("usercache"), dir.path().join("tmp"));
        let mut source = Versions::default();
        source.0.insert(
            "geo.tgz".into(),
            (
                1,
                tar_gz(&[("data/cities.txt", b"paris\n"), ("README", b"r")]),
            ),
        );
        let entry = BlobMapEntry {
            key: "geo.tgz".into(),
            localname: "geo".into(),
            uncompress: true,
            worker_restart: false,
        };
        cache.localize(&mut source, "bob", &entry).unwrap();
        let current = cache.current("bob", &entry);
        assert_eq!(
            fs::read(current.join("data/cities.txt")).unwrap(),
            b"paris\n"
        );

        // A tar entry with `..` (written raw: tar's builder refuses to make one).
        let mut raw = tar::Header::new_old();
        raw.as_old_mut().name[..13].copy_from_slice(b"../escape.txt");
        raw.set_size(1);
        raw.set_mode(0o644);
        raw.set_entry_type(tar::EntryType::Regular);
        raw.set_cksum();
        let mut evil = raw.as_bytes().to_vec();
        evil.extend_from_slice(b"x");
        evil.resize(evil.len() + 511, 0);
        evil.extend_from_slice(&[0u8; 1024]);
        let file = dir.path().join("evil.tar");
        fs::write(&file, &evil).unwrap();
        let out = dir.path().join("out");
        let e = extract_archive(&file, "evil.tar", &out).unwrap_err();
        assert!(e.to_string().contains("outside"), "{e}");
        assert!(!dir.path().join("escape.txt").exists());
        // Not an archive at all.
        fs::write(&file, b"plain text").unwrap();
        let e = extract_archive(&file, "notes", &dir.path().join("out2")).unwrap_err();
        assert!(e.to_string().contains("not a zip"), "{e}");
    }

    #[test]
    fn cleanup_evicts_unused_blobs_least_recently_used_first() {
        let dir = tempfile::tempdir().unwrap();
        let cache = UserCache::new(dir.path().join("usercache"), dir.path().join("tmp"));
        let mut source = Versions::default();
        let entry = |k: &str| BlobMapEntry {
            key: k.into(),
            localname: k.into(),
            uncompress: false,
            worker_restart: false,
        };
        for (i, k) in ["old", "mid", "kept"].iter().enumerate() {
            source.0.insert(k.to_string(), (1, vec![b'x'; 1000]));
            cache.localize(&mut source, "u", &entry(k)).unwrap();
            let used = cache.dir("u", false).join(format!("{k}.used"));
            let t =
                std::time::SystemTime::now() - std::time::Duration::from_secs(100 - i as u64 * 10);
            fs::File::options()
                .write(true)
                .open(&used)
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        assert_eq!(cache.size(), 3000);
        let in_use = BTreeSet::from([("u".to_string(), false, "old".to_string())]);
        // Under the target: nothing goes.
        assert!(cache.cleanup(&in_use, 5000).is_empty());
        // Over it: the least recently used blob not in use goes first ("old" is in use).
        let removed = cache.cleanup(&in_use, 2000);
        assert_eq!(removed, vec![("u".to_string(), false, "mid".to_string())]);
        assert!(cache.current("u", &entry("old")).exists());
        assert!(!cache.current("u", &entry("mid")).exists());
        assert!(cache.current("u", &entry("kept")).exists());
    }
}
