//! Nimbus's blob store: Storm's `LocalFsBlobStore` behind the `Nimbus` blob methods
//! (`beginCreateBlob`, `beginUpdateBlob`, `uploadBlobChunk`, `finishBlobUpload`, `cancelBlobUpload`,
//! `getBlobMeta`, `setBlobMeta`, `beginBlobDownload`, `downloadBlobChunk`, `deleteBlob`,
//! `listBlobs`, `getBlobReplication`, `updateBlobReplication`, `isRemoteBlobExists`). Storm's
//! `StormSubmitter` uploads `--jars`/`--artifacts` dependencies through them (`DependencyUploader`).
//!
//! Layout (reference §2.3): `<storm.local.dir>/blobs/<bucket>/<prefix><key>/data`, prefix `data_`
//! (the content) or `meta_` (Thrift-binary `SettableBlobMeta`), `bucket = abs((long)
//! javaHashCode(prefix + key)) % 1024`. Every write goes to `<epoch-millis>.tmp` in the same
//! directory, is synced and renamed to `data`, so a crash never leaves a torn blob; a create writes the
//! data first and the meta last, and a key exists only when both are there. Stray `*.tmp` files (a
//! crash during an upload) are deleted when the store opens.
//!
//! Semantics as Storm's: keys must match `^[\w \t._-]+$` (Unicode word characters) and be neither
//! `.` nor `..`; a missing key is `KeyNotFoundException(<key>)`, creating an existing one (or one
//! being created) `KeyAlreadyExistsException(<key>)`; the version is the CRC32C of the content (it
//! changes whenever the content does); downloads hand out `storm.blobstore.inputstream.buffer.size.bytes`
//! per chunk until an empty chunk; listings come in pages of 100 keys until an empty page. Sessions
//! idle longer than `nimbus.blobstore.expiration.secs` are dropped (an upload's temporary file with
//! them); at most [`MAX_SESSIONS`] of each kind are open and a chunk holds at most
//! [`MAX_CHUNK_BYTES`].
//!
//! Writes (create, update, set meta, delete) are the leader's; every nimbus copies the leader's blobs
//! and registers them in ZooKeeper (`super::replication`), so the replication count is the number of
//! nimbuses holding a blob's latest version. ACLs are normalized as Storm does for an unauthenticated
//! caller and stored, but not enforced (no authentication, as everywhere in storm-rs); a cancelled
//! create leaves no trace (Storm keeps the key's directory, so the key can never be created again);
//! `updateBlobReplication` answers Storm's LocalFsBlobStore text.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::thrift::{BeginDownloadResult, ListBlobsResult, ReadableBlobMeta, SettableBlobMeta};

/// Open sessions of each kind (uploads, downloads, listings).
pub const MAX_SESSIONS: usize = 256;
/// The largest chunk `uploadBlobChunk` accepts.
pub const MAX_CHUNK_BYTES: usize = 16 << 20;
/// Keys per `listBlobs` page (Storm's).
pub const LIST_PAGE: usize = 100;
/// Storm's `FileBlobStoreImpl.BUCKETS`.
const BUCKETS: i64 = 1024;
const DATA_PREFIX: &str = "data_";
const META_PREFIX: &str = "meta_";
const DATA_FILE: &str = "data";

/// What went wrong, shaped like Storm's exceptions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    /// `KeyNotFoundException` (the message is the key, as Storm's).
    #[error("{0}")]
    KeyNotFound(String),
    /// `KeyAlreadyExistsException` (the message is the key).
    #[error("{0}")]
    KeyAlreadyExists(String),
    /// `IllegalStateException` (deleting a blob a live topology uses).
    #[error("{0}")]
    IllegalState(String),
    /// Anything else (Storm's `RuntimeException`s: bad keys, unknown sessions, I/O).
    #[error("{0}")]
    Other(String),
}

type Result<T> = std::result::Result<T, BlobError>;

fn io_err(what: &str, path: &Path, e: std::io::Error) -> BlobError {
    BlobError::Other(format!("cannot {what} {}: {e}", path.display()))
}

/// Storm's `Utils.isValidKey`: `^[\w \t._-]+$` with Unicode word characters, not `.` or `..`.
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key != "."
        && key != ".."
        && key.chars().all(|c| {
            c.is_alphanumeric()
                || matches!(c, '_' | ' ' | '\t' | '.' | '-' | '\u{203F}' | '\u{2040}')
        })
}

fn validate_key(key: &str) -> Result<()> {
    if is_valid_key(key) {
        Ok(())
    } else {
        Err(BlobError::Other(format!(
            "{key} does not appear to be a valid blob key"
        )))
    }
}

/// Storm's `BlobStoreAclHandler.validateSettableACLs` in part: access bits are read (1), write (2),
/// admin (4).
fn validate_acl(key: &str, meta: &SettableBlobMeta) -> Result<()> {
    if let Some(bad) = meta.acl.iter().find(|a| !(0..=7).contains(&a.access)) {
        return Err(BlobError::Other(format!(
            "invalid access {} in the ACL of blob {key} (bits: 1 read, 2 write, 4 admin)",
            bad.access
        )));
    }
    let mut seen = std::collections::HashSet::new();
    let dup: Vec<&str> = meta
        .acl
        .iter()
        .filter_map(|a| a.name.as_deref())
        .filter(|n| !n.is_empty() && !seen.insert(*n))
        .collect();
    if !dup.is_empty() {
        return Err(BlobError::Other(format!(
            "user [{}] can't appear more than once in the ACLs for key [{key}].",
            dup.join(", ")
        )));
    }
    Ok(())
}

/// Storm's `BlobStoreAclHandler.normalizeSettableBlobMeta` for a caller without a principal (no
/// authentication, as everywhere in storm-rs for now): entries giving others no access are dropped and
/// `o::rwa` is added unless others already have every right.
fn normalize_acl(meta: &mut SettableBlobMeta) {
    use crate::thrift::{AccessControl, AccessControlType};
    meta.acl
        .retain(|a| !(a.type_ == AccessControlType::OTHER && a.access == 0));
    if !meta
        .acl
        .iter()
        .any(|a| a.type_ == AccessControlType::OTHER && a.access == 7)
    {
        meta.acl.push(AccessControl {
            type_: AccessControlType::OTHER,
            name: Some(String::new()),
            access: 7,
        });
    }
}

const fn crc32c_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0x82F6_3B78 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

static CRC32C: [u32; 256] = crc32c_table();

/// CRC32C (Castagnoli) of everything `r` yields: Storm's blob version (`java.util.zip.CRC32C`).
pub fn crc32c(mut r: impl Read) -> std::io::Result<u32> {
    let mut crc = !0u32;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok(!crc);
        }
        for b in &buf[..n] {
            crc = CRC32C[((crc ^ u32::from(*b)) & 0xFF) as usize] ^ (crc >> 8);
        }
    }
}

struct Upload {
    key: String,
    /// `Some(meta)` for a create (the meta is written at finish), `None` for an update.
    create: Option<SettableBlobMeta>,
    tmp: PathBuf,
    file: File,
    touched: Instant,
}

/// A blob being written locally (see [`BlobStore::writer`]).
pub struct BlobWriter<'a> {
    store: &'a BlobStore,
    key: String,
    tmp: PathBuf,
    file: Option<std::io::BufWriter<File>>,
}

impl Write for BlobWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.file.as_mut() {
            Some(f) => f.write(buf),
            None => Err(std::io::Error::other("blob already committed")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl BlobWriter<'_> {
    /// Makes the content written so far the blob's (`data` replaced atomically), then writes `meta`
    /// (normalized as Storm does).
    pub fn commit(mut self, meta: &SettableBlobMeta) -> Result<()> {
        validate_acl(&self.key, meta)?;
        let file = self.file.take().expect("committed once");
        let data = self.tmp.with_file_name(DATA_FILE);
        let committed = file
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_all())
            .and_then(|()| std::fs::rename(&self.tmp, &data));
        if let Err(e) = committed {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(io_err("store blob", &data, e));
        }
        let mut meta = meta.clone();
        normalize_acl(&mut meta);
        write_file(
            &self.store.key_dir(META_PREFIX, &self.key),
            &crate::thrift::serialize(&meta),
        )
    }
}

impl Drop for BlobWriter<'_> {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
            // Only removes it when empty (a blob that never existed).
            let _ = std::fs::remove_dir(self.tmp.parent().unwrap_or(Path::new("/nonexistent")));
        }
    }
}

struct Download {
    file: File,
    touched: Instant,
}

struct Listing {
    keys: VecDeque<String>,
    touched: Instant,
}

#[derive(Default)]
struct Sessions {
    uploads: HashMap<String, Upload>,
    downloads: HashMap<String, Download>,
    listings: HashMap<String, Listing>,
}

/// The store: a directory and the open sessions.
pub struct BlobStore {
    root: PathBuf,
    expiration: Duration,
    buffer_size: usize,
    sessions: Mutex<Sessions>,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStore")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

fn new_session() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Creates a fresh `<epoch-millis>.tmp` in `dir` (the next free millisecond if taken).
fn create_tmp(dir: &Path) -> Result<(PathBuf, File)> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(dir).map_err(|e| io_err("create", dir, e))?;
    let mut millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    loop {
        let path = dir.join(format!("{millis}.tmp"));
        // Blobs hold topology confs (secrets included): owner-only, as Storm's blob store files.
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => millis += 1,
            Err(e) => return Err(io_err("create", &path, e)),
        }
    }
}

/// Writes `bytes` as `dir/data` through a temporary file and a rename.
fn write_file(dir: &Path, bytes: &[u8]) -> Result<()> {
    let (tmp, mut f) = create_tmp(dir)?;
    let done = f
        .write_all(bytes)
        .and_then(|()| f.sync_all())
        .and_then(|()| std::fs::rename(&tmp, dir.join(DATA_FILE)));
    if let Err(e) = done {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err("write", &dir.join(DATA_FILE), e));
    }
    Ok(())
}

fn lock(m: &Mutex<Sessions>) -> std::sync::MutexGuard<'_, Sessions> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl BlobStore {
    /// Opens (creating) the store under `root` (`<storm.local.dir>/blobs`) and deletes temporary files
    /// left by a crash. `expiration` is `nimbus.blobstore.expiration.secs`, `buffer_size`
    /// `storm.blobstore.inputstream.buffer.size.bytes`.
    pub fn open(root: PathBuf, expiration: Duration, buffer_size: usize) -> Result<BlobStore> {
        std::fs::create_dir_all(&root).map_err(|e| io_err("create", &root, e))?;
        let store = BlobStore {
            root,
            expiration,
            buffer_size: buffer_size.clamp(1, MAX_CHUNK_BYTES),
            sessions: Mutex::new(Sessions::default()),
        };
        store.remove_stray_tmp_files();
        Ok(store)
    }

    /// The root directory (`<storm.local.dir>/blobs`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn remove_stray_tmp_files(&self) {
        let Ok(buckets) = std::fs::read_dir(&self.root) else {
            return;
        };
        for bucket in buckets.flatten() {
            let Ok(keys) = std::fs::read_dir(bucket.path()) else {
                continue;
            };
            for key_dir in keys.flatten() {
                let Ok(files) = std::fs::read_dir(key_dir.path()) else {
                    continue;
                };
                for f in files.flatten() {
                    if f.file_name().to_string_lossy().ends_with(".tmp") {
                        tracing::info!(file = %f.path().display(), "deleting a blob upload left by a crash");
                        let _ = std::fs::remove_file(f.path());
                    }
                }
                // Only removes it when empty (a create that never finished).
                let _ = std::fs::remove_dir(key_dir.path());
            }
        }
    }

    /// `<root>/<bucket>/<prefix><key>` (Storm's `FileBlobStoreImpl.getKeyDir`).
    pub fn key_dir(&self, prefix: &str, key: &str) -> PathBuf {
        let name = format!("{prefix}{key}");
        let bucket = i64::from(crate::tuple::string_hash_code(&name)).abs() % BUCKETS;
        self.root.join(bucket.to_string()).join(name)
    }

    /// The content file of `key`.
    pub fn data_path(&self, key: &str) -> PathBuf {
        self.key_dir(DATA_PREFIX, key).join(DATA_FILE)
    }

    fn meta_path(&self, key: &str) -> PathBuf {
        self.key_dir(META_PREFIX, key).join(DATA_FILE)
    }

    fn exists(&self, key: &str) -> bool {
        self.data_path(key).is_file() && self.meta_path(key).is_file()
    }

    fn require(&self, key: &str) -> Result<()> {
        validate_key(key)?;
        if self.exists(key) {
            Ok(())
        } else {
            Err(BlobError::KeyNotFound(key.to_string()))
        }
    }

    fn expire(&self, s: &mut Sessions) {
        let ttl = self.expiration;
        let expired: Vec<String> = s
            .uploads
            .iter()
            .filter(|(_, u)| u.touched.elapsed() >= ttl)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            if let Some(u) = s.uploads.remove(&id) {
                tracing::warn!(session = %id, key = %u.key, "blob upload timed out; discarded");
                self.discard(u);
            }
        }
        s.downloads.retain(|_, d| d.touched.elapsed() < ttl);
        s.listings.retain(|_, l| l.touched.elapsed() < ttl);
    }

    fn discard(&self, u: Upload) {
        drop(u.file);
        let _ = std::fs::remove_file(&u.tmp);
        if u.create.is_some() {
            if let Some(dir) = u.tmp.parent() {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }

    fn start_upload(&self, key: &str, create: Option<SettableBlobMeta>) -> Result<String> {
        let mut s = lock(&self.sessions);
        self.expire(&mut s);
        if s.uploads.len() >= MAX_SESSIONS {
            return Err(BlobError::Other(format!(
                "too many blob uploads in progress ({MAX_SESSIONS}); finish or cancel some first"
            )));
        }
        if create.is_some()
            && (self.exists(key)
                || s.uploads
                    .values()
                    .any(|u| u.key == key && u.create.is_some()))
        {
            return Err(BlobError::KeyAlreadyExists(key.to_string()));
        }
        let (tmp, file) = create_tmp(&self.key_dir(DATA_PREFIX, key))?;
        let session = new_session();
        s.uploads.insert(
            session.clone(),
            Upload {
                key: key.to_string(),
                create,
                tmp,
                file,
                touched: Instant::now(),
            },
        );
        Ok(session)
    }

    /// `beginCreateBlob`.
    pub fn begin_create(&self, key: &str, mut meta: SettableBlobMeta) -> Result<String> {
        validate_key(key)?;
        validate_acl(key, &meta)?;
        normalize_acl(&mut meta);
        let session = self.start_upload(key, Some(meta))?;
        tracing::info!(%key, %session, "creating blob");
        Ok(session)
    }

    /// `beginUpdateBlob`.
    pub fn begin_update(&self, key: &str) -> Result<String> {
        self.require(key)?;
        let session = self.start_upload(key, None)?;
        tracing::info!(%key, %session, "updating blob");
        Ok(session)
    }

    fn unknown_session(session: &str) -> BlobError {
        BlobError::Other(format!(
            "Blob for session {session} does not exist (or timed out)"
        ))
    }

    /// `uploadBlobChunk`.
    pub fn upload_chunk(&self, session: &str, chunk: &[u8]) -> Result<()> {
        if chunk.len() > MAX_CHUNK_BYTES {
            return Err(BlobError::Other(format!(
                "blob chunk of {} bytes refused (at most {MAX_CHUNK_BYTES} bytes per chunk)",
                chunk.len()
            )));
        }
        let mut s = lock(&self.sessions);
        let u = s
            .uploads
            .get_mut(session)
            .ok_or_else(|| Self::unknown_session(session))?;
        u.file
            .write_all(chunk)
            .map_err(|e| io_err("write", &u.tmp, e))?;
        u.touched = Instant::now();
        Ok(())
    }

    /// `finishBlobUpload`: the content replaces `data` atomically; a create then writes its meta.
    /// Returns the blob's key.
    pub fn finish_upload(&self, session: &str) -> Result<String> {
        let u = lock(&self.sessions)
            .uploads
            .remove(session)
            .ok_or_else(|| Self::unknown_session(session))?;
        let data = u.tmp.with_file_name(DATA_FILE);
        let committed = u
            .file
            .sync_all()
            .and_then(|()| std::fs::rename(&u.tmp, &data));
        if let Err(e) = committed {
            let key = u.key.clone();
            self.discard(u);
            return Err(io_err("store blob", &self.data_path(&key), e));
        }
        if let Some(meta) = &u.create {
            write_file(
                &self.key_dir(META_PREFIX, &u.key),
                &crate::thrift::serialize(meta),
            )?;
        }
        tracing::info!(key = %u.key, %session, "finished uploading blob");
        Ok(u.key)
    }

    /// A local write of blob `key` (created or replaced), outside any session: topology code at
    /// submit, and a follower nimbus copying a blob from another nimbus. Write the content, then
    /// [`BlobWriter::commit`] with the meta; dropped uncommitted, it leaves no trace.
    pub fn writer(&self, key: &str) -> Result<BlobWriter<'_>> {
        validate_key(key)?;
        let (tmp, file) = create_tmp(&self.key_dir(DATA_PREFIX, key))?;
        Ok(BlobWriter {
            store: self,
            key: key.to_string(),
            tmp,
            file: Some(std::io::BufWriter::new(file)),
        })
    }

    /// Writes blob `key` with `bytes` and `meta` (created or replaced).
    pub fn put(&self, key: &str, meta: &SettableBlobMeta, bytes: &[u8]) -> Result<()> {
        let mut w = self.writer(key)?;
        w.write_all(bytes)
            .map_err(|e| io_err("write", &self.data_path(key), e))?;
        w.commit(meta)
    }

    /// The version of `key` (what `getBlobMeta` reports), without reading its meta.
    pub fn version(&self, key: &str) -> Result<i64> {
        self.require(key)?;
        let (path, mut file) = self.open_data(key)?;
        Self::version_of(&path, &mut file)
    }

    /// `cancelBlobUpload`: the upload leaves no trace.
    pub fn cancel_upload(&self, session: &str) -> Result<()> {
        let u = lock(&self.sessions)
            .uploads
            .remove(session)
            .ok_or_else(|| Self::unknown_session(session))?;
        tracing::info!(key = %u.key, %session, "cancelled blob upload");
        self.discard(u);
        Ok(())
    }

    fn read_meta(&self, key: &str) -> Result<SettableBlobMeta> {
        let path = self.meta_path(key);
        let bytes = std::fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                BlobError::KeyNotFound(key.to_string())
            } else {
                io_err("read", &path, e)
            }
        })?;
        crate::thrift::deserialize(&bytes)
            .map_err(|e| BlobError::Other(format!("{}: {e}", path.display())))
    }

    fn version_of(path: &Path, file: &mut File) -> Result<i64> {
        let crc = crc32c(&mut *file).map_err(|e| io_err("read", path, e))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| io_err("read", path, e))?;
        Ok(i64::from(crc))
    }

    fn open_data(&self, key: &str) -> Result<(PathBuf, File)> {
        let path = self.data_path(key);
        match File::open(&path) {
            Ok(f) => Ok((path, f)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(BlobError::KeyNotFound(key.to_string()))
            }
            Err(e) => Err(io_err("open", &path, e)),
        }
    }

    /// `getBlobMeta`.
    pub fn meta(&self, key: &str) -> Result<ReadableBlobMeta> {
        self.require(key)?;
        let settable = self.read_meta(key)?;
        let (path, mut file) = self.open_data(key)?;
        Ok(ReadableBlobMeta {
            settable,
            version: Self::version_of(&path, &mut file)?,
        })
    }

    /// `setBlobMeta`.
    pub fn set_meta(&self, key: &str, meta: &SettableBlobMeta) -> Result<()> {
        self.require(key)?;
        validate_acl(key, meta)?;
        let mut meta = meta.clone();
        normalize_acl(&mut meta);
        write_file(
            &self.key_dir(META_PREFIX, key),
            &crate::thrift::serialize(&meta),
        )
    }

    /// `beginBlobDownload`: the session reads the content as it was at this call.
    pub fn begin_download(&self, key: &str) -> Result<BeginDownloadResult> {
        self.require(key)?;
        let (path, mut file) = self.open_data(key)?;
        let version = Self::version_of(&path, &mut file)?;
        let size = file.metadata().map(|m| m.len() as i64).unwrap_or(0);
        let mut s = lock(&self.sessions);
        self.expire(&mut s);
        if s.downloads.len() >= MAX_SESSIONS {
            return Err(BlobError::Other(format!(
                "too many blob downloads in progress ({MAX_SESSIONS}); read them to the end first"
            )));
        }
        let session = new_session();
        s.downloads.insert(
            session.clone(),
            Download {
                file,
                touched: Instant::now(),
            },
        );
        Ok(BeginDownloadResult {
            version,
            session,
            data_size: Some(size),
        })
    }

    /// `downloadBlobChunk`: up to the buffer size; an empty chunk ends the session.
    pub fn download_chunk(&self, session: &str) -> Result<Vec<u8>> {
        let mut s = lock(&self.sessions);
        let d = s
            .downloads
            .get_mut(session)
            .ok_or_else(|| Self::unknown_session(session))?;
        let mut buf = vec![0u8; self.buffer_size];
        let mut n = 0;
        while n < buf.len() {
            match d.file.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    s.downloads.remove(session);
                    return Err(BlobError::Other(format!("cannot read blob: {e}")));
                }
            }
        }
        buf.truncate(n);
        if n == 0 {
            s.downloads.remove(session);
        } else {
            d.touched = Instant::now();
        }
        Ok(buf)
    }

    /// The whole content of `key` (for copying dependencies at submit).
    pub fn read(&self, key: &str) -> Result<Vec<u8>> {
        self.require(key)?;
        let (path, mut file) = self.open_data(key)?;
        let mut out = Vec::new();
        file.read_to_end(&mut out)
            .map_err(|e| io_err("read", &path, e))?;
        Ok(out)
    }

    /// Whether `key` is a valid key of an existing blob.
    pub fn contains(&self, key: &str) -> bool {
        is_valid_key(key) && self.exists(key)
    }

    /// `deleteBlob` (the caller checks that no live topology uses it).
    pub fn delete(&self, key: &str) -> Result<()> {
        self.require(key)?;
        // The meta first: without it the key no longer exists, whatever happens next.
        for prefix in [META_PREFIX, DATA_PREFIX] {
            let dir = self.key_dir(prefix, key);
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    return Err(io_err("delete", &dir, e));
                }
            }
        }
        tracing::info!(%key, "deleted blob");
        Ok(())
    }

    /// Every key, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut out = Vec::new();
        let Ok(buckets) = std::fs::read_dir(&self.root) else {
            return out;
        };
        for bucket in buckets.flatten() {
            let Ok(entries) = std::fs::read_dir(bucket.path()) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(key) = name.strip_prefix(DATA_PREFIX) {
                    if self.contains(key) {
                        out.push(key.to_string());
                    }
                }
            }
        }
        out.sort();
        out
    }

    /// `listBlobs`: `""` starts a listing; pages of [`LIST_PAGE`] keys; an empty page ends it.
    pub fn list(&self, session: &str) -> Result<ListBlobsResult> {
        let mut s = lock(&self.sessions);
        self.expire(&mut s);
        let session = if session.is_empty() {
            if s.listings.len() >= MAX_SESSIONS {
                return Err(BlobError::Other(format!(
                    "too many blob listings in progress ({MAX_SESSIONS}); read them to the end first"
                )));
            }
            let id = new_session();
            let keys = self.keys().into();
            s.listings.insert(
                id.clone(),
                Listing {
                    keys,
                    touched: Instant::now(),
                },
            );
            id
        } else {
            session.to_string()
        };
        let Some(listing) = s.listings.get_mut(&session) else {
            return Err(BlobError::Other(format!(
                "Blob list for session {session} does not exist (or timed out)"
            )));
        };
        let n = listing.keys.len().min(LIST_PAGE);
        let page: Vec<String> = listing.keys.drain(..n).collect();
        listing.touched = Instant::now();
        if page.is_empty() {
            s.listings.remove(&session);
        }
        Ok(ListBlobsResult::new(page, session))
    }

    /// `updateBlobReplication`: not possible with a local file system store (Storm's text).
    pub fn update_replication(&self, key: &str, _replication: i32) -> Result<i32> {
        self.require(key)?;
        Err(BlobError::Other(
            "For local file system blob store the update blobs function does not work. Please use \
             HDFS blob store to make this feature available."
                .into(),
        ))
    }
}

impl super::Nimbus {
    /// The blob store.
    pub fn blob_store(&self) -> &BlobStore {
        &self.blobs
    }

    /// `beginCreateBlob` (leader only: the leader's store is the one the others copy).
    pub fn begin_create_blob(
        &self,
        key: &str,
        meta: SettableBlobMeta,
    ) -> std::result::Result<String, super::NimbusError> {
        self.assert_leader()?;
        Ok(self.blobs.begin_create(key, meta)?)
    }

    /// `beginUpdateBlob` (leader only).
    pub fn begin_update_blob(&self, key: &str) -> std::result::Result<String, super::NimbusError> {
        self.assert_leader()?;
        Ok(self.blobs.begin_update(key)?)
    }

    /// `finishBlobUpload`: the new content is in place; its new version is registered in ZooKeeper
    /// for the other nimbuses to copy.
    pub fn finish_blob_upload(&self, session: &str) -> std::result::Result<(), super::NimbusError> {
        let key = self.blobs.finish_upload(session)?;
        self.blob_changed(&key)
    }

    /// `setBlobMeta` (leader only; the new meta reaches the other nimbuses as a new version).
    pub fn set_blob_meta(
        &self,
        key: &str,
        meta: &SettableBlobMeta,
    ) -> std::result::Result<(), super::NimbusError> {
        self.assert_leader()?;
        self.blobs.set_meta(key, meta)?;
        self.blob_changed(key)
    }

    /// `createStateInZookeeper`: registers a blob this nimbus holds that ZooKeeper does not know yet
    /// (an unknown key is ignored, as Storm does).
    pub fn create_blob_state(&self, key: &str) -> std::result::Result<(), super::NimbusError> {
        if self.blobs.contains(key) && self.cluster.blob_max_sequence(key)?.is_none() {
            self.blob_changed(key)?;
        }
        Ok(())
    }

    /// `deleteBlob` with Storm's checks: a topology's own blob (`<id>-stormjar.jar`,
    /// `-stormcode.ser`, `-stormconf.ser`) of a live topology, or a key in a live topology's
    /// `topology.blobstore.map`, is an `IllegalStateException`.
    pub fn delete_blob(&self, key: &str) -> std::result::Result<(), super::NimbusError> {
        let live = self.cluster.active_storms()?;
        let own = ["-stormjar.jar", "-stormcode.ser", "-stormconf.ser"]
            .iter()
            .find_map(|s| key.strip_suffix(s));
        if let Some(id) = own.filter(|id| live.iter().any(|l| l == id)) {
            return Err(super::NimbusError::IllegalState(format!(
                "Attempting to delete blob {key} from under active topology {id}"
            )));
        }
        for id in &live {
            let Ok(conf) = self.read_topology_conf(id) else {
                continue;
            };
            if conf
                .get("topology.blobstore.map")
                .and_then(|m| m.as_object())
                .is_some_and(|m| m.contains_key(key))
            {
                return Err(super::NimbusError::IllegalState(format!(
                    "Attempting to delete active blob {key} used by topology {id}"
                )));
            }
        }
        self.assert_leader()?;
        self.blobs.delete(key)?;
        self.blob_removed(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thrift::{AccessControl, AccessControlType};

    fn store(dir: &Path) -> BlobStore {
        BlobStore::open(dir.join("blobs"), Duration::from_secs(600), 4).unwrap()
    }

    fn meta() -> SettableBlobMeta {
        SettableBlobMeta {
            acl: vec![AccessControl {
                type_: AccessControlType::OTHER,
                name: None,
                access: 1,
            }],
            replication_factor: None,
        }
    }

    fn put(s: &BlobStore, key: &str, bytes: &[u8]) {
        let session = s.begin_create(key, meta()).unwrap();
        s.upload_chunk(&session, bytes).unwrap();
        s.finish_upload(&session).unwrap();
    }

    fn get(s: &BlobStore, key: &str) -> Vec<u8> {
        let d = s.begin_download(key).unwrap();
        let mut out = Vec::new();
        loop {
            let chunk = s.download_chunk(&d.session).unwrap();
            if chunk.is_empty() {
                break;
            }
            out.extend(chunk);
        }
        assert_eq!(d.data_size, Some(out.len() as i64));
        out
    }

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        assert_eq!(crc32c(&b"123456789"[..]).unwrap(), 0xE306_9283);
        assert_eq!(crc32c(&b""[..]).unwrap(), 0);
    }

    #[test]
    fn acls_are_normalized_and_duplicates_refused() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let user = |name: &str, access| AccessControl {
            type_: AccessControlType::USER,
            name: Some(name.into()),
            access,
        };
        let other = |access| AccessControl {
            type_: AccessControlType::OTHER,
            name: Some(String::new()),
            access,
        };
        let m = SettableBlobMeta {
            acl: vec![user("alice", 7), other(0)],
            replication_factor: None,
        };
        let session = s.begin_create("n", m).unwrap();
        s.finish_upload(&session).unwrap();
        assert_eq!(
            s.meta("n").unwrap().settable.acl,
            [user("alice", 7), other(7)]
        );
        // Others already having every right: nothing added.
        let m = SettableBlobMeta {
            acl: vec![other(7), user("bob", 1)],
            replication_factor: None,
        };
        s.set_meta("n", &m).unwrap();
        assert_eq!(s.meta("n").unwrap().settable.acl, m.acl);
        let dup = SettableBlobMeta {
            acl: vec![user("bob", 1), user("bob", 2)],
            replication_factor: None,
        };
        let e = s.set_meta("n", &dup).unwrap_err();
        assert!(e.to_string().contains("can't appear more than once"), "{e}");
    }

    #[test]
    fn keys_follow_storms_rule() {
        for ok in ["dep-a.jar", "a b\tc", "x_y-z.1", "ünï"] {
            assert!(is_valid_key(ok), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a:b", "a=b", "a\\b"] {
            assert!(!is_valid_key(bad), "{bad:?}");
        }
    }

    #[test]
    fn create_read_update_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        assert_eq!(s.meta("k").unwrap_err(), BlobError::KeyNotFound("k".into()));
        put(&s, "k", b"hello blob");
        // Storm's layout: <root>/<bucket>/data_<key>/data.
        let bucket = i64::from(crate::tuple::string_hash_code("data_k")).abs() % 1024;
        assert_eq!(
            std::fs::read(dir.path().join(format!("blobs/{bucket}/data_k/data"))).unwrap(),
            b"hello blob"
        );
        assert_eq!(get(&s, "k"), b"hello blob");
        let v1 = s.meta("k").unwrap();
        // Storm's normalization for a caller without a principal: others get every right.
        let mut normalized = meta();
        normalized.acl.push(AccessControl {
            type_: AccessControlType::OTHER,
            name: Some(String::new()),
            access: 7,
        });
        assert_eq!(v1.settable, normalized);
        assert_eq!(
            s.begin_create("k", meta()).unwrap_err(),
            BlobError::KeyAlreadyExists("k".into())
        );
        let u = s.begin_update("k").unwrap();
        s.upload_chunk(&u, b"v2").unwrap();
        // Readers see the old content until the update finishes.
        assert_eq!(get(&s, "k"), b"hello blob");
        s.finish_upload(&u).unwrap();
        assert_eq!(get(&s, "k"), b"v2");
        assert_ne!(s.meta("k").unwrap().version, v1.version);
        for i in 0..150 {
            put(&s, &format!("many-{i:03}"), b"x");
        }
        let first = s.list("").unwrap();
        assert_eq!(first.keys.len(), 100);
        let second = s.list(&first.session).unwrap();
        assert_eq!(second.keys.len(), 51);
        assert!(s.list(&first.session).unwrap().keys.is_empty());
        assert!(
            s.list(&first.session).is_err(),
            "a finished listing is gone"
        );
        assert!(s.update_replication("k", 3).is_err());
        s.delete("k").unwrap();
        assert_eq!(
            s.delete("k").unwrap_err(),
            BlobError::KeyNotFound("k".into())
        );
        assert!(!s.keys().contains(&"k".to_string()));
    }

    #[test]
    fn cancel_leaves_no_trace_and_bad_input_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let session = s.begin_create("c", meta()).unwrap();
        assert_eq!(
            s.begin_create("c", meta()).unwrap_err(),
            BlobError::KeyAlreadyExists("c".into()),
            "a key being created already exists"
        );
        s.upload_chunk(&session, b"partial").unwrap();
        assert!(
            matches!(s.meta("c"), Err(BlobError::KeyNotFound(_))),
            "unfinished"
        );
        s.cancel_upload(&session).unwrap();
        assert!(s.keys().is_empty());
        put(&s, "c", b"again");
        assert!(matches!(
            s.begin_create("a/b", meta()),
            Err(BlobError::Other(_))
        ));
        assert!(s.upload_chunk("nope", b"x").is_err());
        assert!(s.download_chunk("nope").is_err());
        assert!(matches!(
            s.begin_update("none"),
            Err(BlobError::KeyNotFound(_))
        ));
        let mut bad = meta();
        bad.acl[0].access = 99;
        assert!(s.begin_create("d", bad).is_err());
    }

    #[test]
    fn sessions_expire_and_crash_leftovers_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let s = BlobStore::open(dir.path().join("blobs"), Duration::ZERO, 4).unwrap();
        let session = s.begin_create("e", meta()).unwrap();
        // Expired at the next session operation.
        let _ = s.list("").unwrap();
        assert!(s.upload_chunk(&session, b"x").is_err());
        assert!(!s.key_dir(DATA_PREFIX, "e").exists());
        // A temporary file left by a crash goes when the store opens.
        let kd = s.key_dir(DATA_PREFIX, "f");
        std::fs::create_dir_all(&kd).unwrap();
        std::fs::write(kd.join("123.tmp"), b"torn").unwrap();
        drop(s);
        let s = store(dir.path());
        assert!(!kd.exists());
        assert!(s.keys().is_empty());
    }
}
