//! Topology files on the supervisor (Storm's `AsyncLocalizer`): downloads a topology's code blobs
//! `<id>-stormjar.jar`, `<id>-stormcode.ser` and `<id>-stormconf.ser` from the leader nimbus's blob
//! store over Thrift (`beginBlobDownload`/`downloadBlobChunk`, as Storm's `NimbusBlobStore` does)
//! into `supervisor/stormdist/<id>/{stormjar.jar,stormcode.ser,stormconf.ser}`, then the dependency
//! blobs named in the topology's `dependency_jars`/`dependency_artifacts` (`storm jar --jars/
//! --artifacts`, Storm's `dep-…` keys) into `supervisor/stormdist/<id>/dependencies/<key>`.
//!
//! Crash safety: the files are fetched into a fresh directory under `supervisor/tmp/` (each checked
//! against the size nimbus announced), the jar's `resources/` directory is extracted there (refusing
//! entries that would escape it), an ELF `stormjar.jar` is made executable, and only then is the whole
//! directory renamed to `supervisor/stormdist/<id>`. A complete stormdist directory therefore means a
//! complete download; a truncated or failed download leaves nothing in place and is retried by the slot.
//!
//! Downloads run on one background thread per topology; [`Localizer::request`] starts or polls one.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::client::NimbusClient;
use crate::nimbus::replication::{stormcode_key, stormconf_key, stormjar_key};
use crate::paths::{StormPaths, DEPENDENCIES, RESOURCES, STORMCODE, STORMCONF, STORMJAR};

use super::blobs::{blobstore_map, cache_user, link_blob, UserCache};
use super::slot::Localized;

/// The files a topology needs on a supervisor.
pub const TOPOLOGY_FILES: [&str; 3] = [STORMJAR, STORMCODE, STORMCONF];

/// Where blobs come from: the leader nimbus's blob store (or, in tests, anything that has bytes).
pub trait BlobSource: Send {
    /// Writes blob `key`'s whole content to `out` and returns its size; an error names the cause.
    fn fetch(&mut self, key: &str, out: &mut dyn Write) -> Result<u64, String>;

    /// The current version of blob `key` (`getBlobMeta`'s).
    fn version(&mut self, key: &str) -> Result<i64, String>;
}

impl BlobSource for NimbusClient {
    fn fetch(&mut self, key: &str, out: &mut dyn Write) -> Result<u64, String> {
        self.read_blob(key, out, &mut |_, _| {})
            .map(|(_, n)| n)
            .map_err(|e| e.to_string())
    }

    fn version(&mut self, key: &str) -> Result<i64, String> {
        self.blob_meta(key)
            .map(|m| m.version)
            .map_err(|e| e.to_string())
    }
}

/// Opens a [`BlobSource`] for one download (the default connects to the leader nimbus).
pub type SourceFactory = Arc<dyn Fn() -> Result<Box<dyn BlobSource>, String> + Send + Sync>;

/// Download errors (each names the blob or file).
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("blob {key}: {message}")]
    Blob { key: String, message: String },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: {message}", path.display())]
    Archive { path: PathBuf, message: String },
    #[error("cannot reach the leader nimbus: {0}")]
    Leader(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> DownloadError + '_ {
    move |source| DownloadError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Downloads blob `key` into `dest` (created or truncated, synced); on any error `dest` is removed.
pub fn download_blob(
    source: &mut dyn BlobSource,
    key: &str,
    dest: &Path,
) -> Result<u64, DownloadError> {
    let result = (|| {
        // stormconf.ser and users' blobs may hold secrets: owner-only (0600).
        let file = crate::security::secrets::create_private(dest).map_err(io_err(dest))?;
        let mut out = io::BufWriter::new(file);
        let n = source
            .fetch(key, &mut out)
            .map_err(|message| DownloadError::Blob {
                key: key.to_string(),
                message,
            })?;
        let file = out.into_inner().map_err(|e| DownloadError::Io {
            path: dest.to_path_buf(),
            source: e.into_error(),
        })?;
        file.sync_all().map_err(io_err(dest))?;
        Ok(n)
    })();
    if result.is_err() {
        let _ = fs::remove_file(dest);
    }
    result
}

/// Whether `bytes` start with the ELF magic.
pub fn is_elf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
}

/// Whether the file at `path` starts with the ELF magic.
pub fn file_is_elf(path: &Path) -> bool {
    file_starts_with(path, b"\x7fELF")
}

fn file_starts_with(path: &Path, magic: &[u8]) -> bool {
    let mut head = vec![0u8; magic.len()];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map(|_| head == magic)
        .unwrap_or(false)
}

/// Extracts the `resources/` directory of the zip/jar at `jar` into `target` (which becomes the
/// `resources` directory itself). Returns the number of files written; `Ok(0)` when `jar` is not a zip
/// or has no `resources/`. An entry that would land outside `target` is an error.
pub fn extract_resources(jar: &Path, target: &Path) -> Result<usize, DownloadError> {
    let file = fs::File::open(jar).map_err(io_err(jar))?;
    let mut archive = match zip::ZipArchive::new(io::BufReader::new(file)) {
        Ok(a) => a,
        Err(e) => {
            // Not a zip (e.g. an executable or a plain file): nothing to extract.
            if file_starts_with(jar, b"PK") {
                tracing::warn!(jar = %jar.display(), "not a readable zip, resources/ not extracted: {e}");
            }
            return Ok(0);
        }
    };
    let archive_err = |message: String| DownloadError::Archive {
        path: jar.to_path_buf(),
        message,
    };
    let prefix = format!("{RESOURCES}/");
    let mut written = 0;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| archive_err(format!("entry {i}: {e}")))?;
        let name = entry.name().replace('\\', "/");
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        let rel = Path::new(rest);
        if rel
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(archive_err(format!(
                "entry \"{name}\" would be extracted outside {}",
                target.display()
            )));
        }
        let out = target.join(rel);
        if entry.is_dir() || name.ends_with('/') {
            fs::create_dir_all(&out).map_err(io_err(&out))?;
            continue;
        }
        if entry.is_symlink() {
            tracing::warn!(jar = %jar.display(), entry = %name, "skipping a symlink in resources/");
            continue;
        }
        if let Some(parent) = out.parent() {
            fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        let mut f = fs::File::create(&out).map_err(io_err(&out))?;
        io::copy(&mut entry, &mut f).map_err(|e| archive_err(format!("entry \"{name}\": {e}")))?;
        #[cfg(unix)]
        if let Some(mode) = entry.unix_mode() {
            use std::os::unix::fs::PermissionsExt;
            let _ = fs::set_permissions(&out, fs::Permissions::from_mode(mode & 0o777));
        }
        written += 1;
    }
    Ok(written)
}

/// Whether `supervisor/stormdist/<id>` holds all topology files.
pub fn is_localized(paths: &StormPaths, topology_id: &str) -> bool {
    let dir = paths.supervisor_stormdist(topology_id);
    TOPOLOGY_FILES.iter().all(|f| dir.join(f).is_file())
}

/// Downloads a topology's blobs from `source` and installs them as `supervisor/stormdist/<id>`
/// (see the module docs for the crash-safety protocol).
pub fn download_topology(
    source: &mut dyn BlobSource,
    paths: &StormPaths,
    topology_id: &str,
) -> Result<(), DownloadError> {
    let tmp_root = paths.supervisor_tmp();
    fs::create_dir_all(&tmp_root).map_err(io_err(&tmp_root))?;
    let staging = tmp_root.join(format!("download-{}", uuid::Uuid::new_v4()));
    let result = (|| {
        fs::create_dir_all(&staging).map_err(io_err(&staging))?;
        for (key, file) in [
            (stormjar_key(topology_id), STORMJAR),
            (stormcode_key(topology_id), STORMCODE),
            (stormconf_key(topology_id), STORMCONF),
        ] {
            let n = download_blob(source, &key, &staging.join(file))?;
            tracing::debug!(topology = topology_id, file, bytes = n, "downloaded");
        }
        for name in dependency_names(&staging.join(STORMCODE))? {
            let dir = staging.join(DEPENDENCIES);
            fs::create_dir_all(&dir).map_err(io_err(&dir))?;
            let n = download_blob(source, &name, &dir.join(&name))?;
            tracing::debug!(topology = topology_id, dependency = %name, bytes = n, "downloaded");
        }
        // topology.blobstore.map: users' blobs into the cache, linked under their local names.
        let conf_bytes = fs::read(staging.join(STORMCONF)).map_err(io_err(&staging))?;
        if let Ok(conf) = crate::thrift::gzip_json_to_conf(&conf_bytes) {
            let entries = blobstore_map(&conf).map_err(|message| DownloadError::Archive {
                path: staging.join(STORMCONF),
                message,
            })?;
            let user = cache_user(&conf);
            let cache = UserCache::new(paths.supervisor_usercache(), paths.supervisor_tmp());
            for entry in &entries {
                cache.localize(source, &user, entry)?;
                let current = cache.current(&user, entry);
                link_blob(&staging, entry, &current).map_err(io_err(&staging))?;
            }
        }
        let jar = staging.join(STORMJAR);
        if file_is_elf(&jar) {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(&jar, fs::Permissions::from_mode(0o755))
                    .map_err(io_err(&jar))?;
            }
        } else {
            let n = extract_resources(&jar, &staging.join(RESOURCES))?;
            if n > 0 {
                tracing::info!(topology = topology_id, files = n, "extracted resources/");
            }
        }
        let dest = paths.supervisor_stormdist(topology_id);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        if dest.exists() {
            // A leftover (incomplete) directory from an older run.
            fs::remove_dir_all(&dest).map_err(io_err(&dest))?;
        }
        fs::rename(&staging, &dest).map_err(io_err(&dest))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    result
}

/// The dependency blob keys listed in a downloaded `stormcode.ser` (nimbus accepts only plain file
/// names there); a name that is not a plain file name is an error. A `stormcode.ser` that does not
/// decode lists none (the worker reports it when it reads the topology).
fn dependency_names(stormcode: &Path) -> Result<Vec<String>, DownloadError> {
    let bytes = fs::read(stormcode).map_err(io_err(stormcode))?;
    let archive = |message: String| DownloadError::Archive {
        path: stormcode.to_path_buf(),
        message,
    };
    let topology: crate::thrift::StormTopology = match crate::thrift::deserialize(&bytes) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(file = %stormcode.display(), error = %e, "cannot read the topology's dependencies");
            return Ok(Vec::new());
        }
    };
    let names: Vec<String> = topology
        .dependency_jars
        .into_iter()
        .flatten()
        .chain(topology.dependency_artifacts.into_iter().flatten())
        .collect();
    if let Some(bad) = names.iter().find(|n| !crate::paths::is_dependency_name(n)) {
        return Err(archive(format!(
            "dependency \"{bad}\" is not a plain file name"
        )));
    }
    Ok(names)
}

enum Job {
    Running,
    Failed(String),
}

/// Background downloads, one thread per topology.
#[derive(Clone)]
pub struct Localizer {
    paths: StormPaths,
    sources: SourceFactory,
    jobs: Arc<Mutex<BTreeMap<String, Job>>>,
}

impl Localizer {
    pub fn new(paths: StormPaths, sources: SourceFactory) -> Localizer {
        Localizer {
            paths,
            sources,
            jobs: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    /// `Ready` when the files are in place; otherwise starts a download (unless one is running) and
    /// answers `Pending`, or reports (once) the failure of the last download.
    pub fn request(&self, topology_id: &str) -> Localized {
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        match jobs.get(topology_id) {
            Some(Job::Running) => return Localized::Pending,
            Some(Job::Failed(_)) => {
                if let Some(Job::Failed(e)) = jobs.remove(topology_id) {
                    return Localized::Failed(e);
                }
            }
            None => {}
        }
        if is_localized(&self.paths, topology_id) {
            return Localized::Ready;
        }
        jobs.insert(topology_id.to_string(), Job::Running);
        drop(jobs);
        let me = self.clone();
        let id = topology_id.to_string();
        let spawned = std::thread::Builder::new()
            .name(format!("download-{id}"))
            .spawn(move || {
                let result = (me.sources)()
                    .map_err(DownloadError::Leader)
                    .and_then(|mut source| download_topology(source.as_mut(), &me.paths, &id));
                let mut jobs = me.jobs.lock().unwrap_or_else(|e| e.into_inner());
                match result {
                    Ok(()) => {
                        tracing::info!(topology = %id, "topology files downloaded");
                        jobs.remove(&id);
                    }
                    Err(e) => {
                        jobs.insert(id, Job::Failed(e.to_string()));
                    }
                }
            });
        if let Err(e) = spawned {
            let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
            jobs.remove(topology_id);
            return Localized::Failed(format!("cannot start a download thread: {e}"));
        }
        Localized::Pending
    }

    /// A blob source for a one-off task (the blob updates).
    pub fn open_source(&self) -> Result<Box<dyn BlobSource>, String> {
        (self.sources)()
    }

    /// Topologies with a download in progress.
    pub fn in_progress(&self) -> BTreeSet<String> {
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(_, j)| matches!(j, Job::Running))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Deletes every `supervisor/stormdist/<dir>` whose topology is not in `keep` (ids).
    pub fn remove_unused(&self, keep: &BTreeSet<String>) {
        let keep: BTreeSet<String> = keep
            .iter()
            .chain(self.in_progress().iter())
            .map(|id| crate::paths::encode_id(id))
            .collect();
        let root = self.paths.supervisor_stormdist_root();
        let Ok(entries) = fs::read_dir(&root) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if keep.contains(&name) {
                continue;
            }
            tracing::info!(dir = %entry.path().display(), "removing files of a topology no longer assigned here");
            if let Err(e) = fs::remove_dir_all(entry.path()) {
                tracing::warn!(dir = %entry.path().display(), "cannot remove: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// Blobs from a map; `short` keys deliver only part of their bytes and then fail, as a dropped
    /// connection does.
    #[derive(Clone, Default)]
    struct MapSource {
        blobs: BTreeMap<String, Vec<u8>>,
        short: BTreeSet<String>,
    }

    impl BlobSource for MapSource {
        fn fetch(&mut self, key: &str, out: &mut dyn Write) -> Result<u64, String> {
            let bytes = self
                .blobs
                .get(key)
                .ok_or_else(|| format!("KeyNotFoundException: {key}"))?;
            if self.short.contains(key) {
                out.write_all(&bytes[..bytes.len() / 2]).unwrap();
                return Err(format!("got {} of {} bytes", bytes.len() / 2, bytes.len()));
            }
            out.write_all(bytes).map_err(|e| e.to_string())?;
            Ok(bytes.len() as u64)
        }

        fn version(&mut self, key: &str) -> Result<i64, String> {
            self.blobs
                .get(key)
                .map(|b| b.len() as i64)
                .ok_or_else(|| format!("KeyNotFoundException: {key}"))
        }
    }

    fn topology_blobs(id: &str, jar: &[u8], code: &[u8]) -> BTreeMap<String, Vec<u8>> {
        BTreeMap::from([
            (stormjar_key(id), jar.to_vec()),
            (stormcode_key(id), code.to_vec()),
            (stormconf_key(id), b"{}".to_vec()),
        ])
    }

    fn zip_bytes(entries: &[(&str, &[u8])]) -> Vec<u8> {
        // A minimal stored (uncompressed) zip writer, enough for tests without zip's write features.
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, data) in entries {
            let crc = crc32(data);
            let offset = out.len() as u32;
            out.extend_from_slice(&0x04034b50u32.to_le_bytes());
            out.extend_from_slice(&20u16.to_le_bytes()); // version
            out.extend_from_slice(&0u16.to_le_bytes()); // flags
            out.extend_from_slice(&0u16.to_le_bytes()); // stored
            out.extend_from_slice(&0u32.to_le_bytes()); // time/date
            out.extend_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(data);
            central.extend_from_slice(&0x02014b50u32.to_le_bytes());
            central.extend_from_slice(&20u16.to_le_bytes()); // made by
            central.extend_from_slice(&20u16.to_le_bytes()); // needed
            central.extend_from_slice(&0u16.to_le_bytes());
            central.extend_from_slice(&0u16.to_le_bytes());
            central.extend_from_slice(&0u32.to_le_bytes());
            central.extend_from_slice(&crc.to_le_bytes());
            central.extend_from_slice(&(data.len() as u32).to_le_bytes());
            central.extend_from_slice(&(data.len() as u32).to_le_bytes());
            central.extend_from_slice(&(name.len() as u16).to_le_bytes());
            central.extend_from_slice(&[0u8; 8]); // extra, comment, disk, int attr
            central.extend_from_slice(&0u32.to_le_bytes()); // ext attr
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(name.as_bytes());
        }
        let cd_offset = out.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(&0x06054b50u32.to_le_bytes());
        out.extend_from_slice(&[0u8; 4]);
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn downloads_into_stormdist_via_tmp_and_extracts_resources() {
        let dir = tempfile::tempdir().unwrap();
        let paths = StormPaths::new(dir.path().join("local"), dir.path().join("logs"));
        let jar = zip_bytes(&[
            ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\n"),
            ("resources/splitsentence.py", b"print('hi')\n"),
            ("resources/sub/x.txt", b"x"),
        ]);
        let mut source = MapSource {
            blobs: topology_blobs("t-1-1", &jar, b"code"),
            ..MapSource::default()
        };
        download_topology(&mut source, &paths, "t-1-1").unwrap();
        let dist = paths.supervisor_stormdist("t-1-1");
        assert_eq!(fs::read(dist.join(STORMJAR)).unwrap(), jar);
        assert_eq!(fs::read(dist.join(STORMCODE)).unwrap(), b"code");
        assert_eq!(
            fs::read(dist.join("resources/splitsentence.py")).unwrap(),
            b"print('hi')\n"
        );
        assert_eq!(fs::read(dist.join("resources/sub/x.txt")).unwrap(), b"x");
        assert!(is_localized(&paths, "t-1-1"));
        // Nothing left behind in tmp.
        assert_eq!(fs::read_dir(paths.supervisor_tmp()).unwrap().count(), 0);

        // A missing topology is an error naming the blob and leaves nothing.
        let err = download_topology(&mut source, &paths, "gone-1-1").unwrap_err();
        assert!(err.to_string().contains("gone-1-1-stormjar.jar"), "{err}");
        assert!(!paths.supervisor_stormdist("gone-1-1").exists());
        assert_eq!(fs::read_dir(paths.supervisor_tmp()).unwrap().count(), 0);
    }

    #[test]
    fn dependencies_named_in_stormcode_are_downloaded_into_dependencies() {
        let dir = tempfile::tempdir().unwrap();
        let paths = StormPaths::new(dir.path().join("local"), dir.path().join("logs"));
        let topology = crate::thrift::StormTopology::new(
            BTreeMap::new(),
            BTreeMap::new(),
            BTreeMap::new(),
            None,
            Some(vec!["dep-x-1.jar".to_string()]),
            Some(vec!["dep-a-b-1.0.jar".to_string()]),
            None,
            None,
            None,
            None,
        );
        let mut source = MapSource {
            blobs: topology_blobs("d-1-1", b"j", &crate::thrift::serialize(&topology)),
            ..MapSource::default()
        };
        source.blobs.insert("dep-x-1.jar".into(), b"xx".to_vec());
        // A missing dependency fails the whole download.
        let err = download_topology(&mut source, &paths, "d-1-1").unwrap_err();
        assert!(err.to_string().contains("dep-a-b-1.0.jar"), "{err}");
        assert!(!paths.supervisor_stormdist("d-1-1").exists());
        source
            .blobs
            .insert("dep-a-b-1.0.jar".into(), b"aa".to_vec());
        download_topology(&mut source, &paths, "d-1-1").unwrap();
        let deps = paths.supervisor_dependencies("d-1-1");
        assert_eq!(fs::read(deps.join("dep-x-1.jar")).unwrap(), b"xx");
        assert_eq!(fs::read(deps.join("dep-a-b-1.0.jar")).unwrap(), b"aa");
    }

    #[test]
    fn elf_jars_are_made_executable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let paths = StormPaths::new(dir.path().join("local"), dir.path().join("logs"));
        let mut source = MapSource {
            blobs: topology_blobs("e-1-1", b"\x7fELF\x02\x01\x01rest", b"c"),
            ..MapSource::default()
        };
        download_topology(&mut source, &paths, "e-1-1").unwrap();
        let jar = paths.supervisor_stormdist("e-1-1").join(STORMJAR);
        assert!(file_is_elf(&jar));
        assert_eq!(
            fs::metadata(&jar).unwrap().permissions().mode() & 0o777,
            0o755
        );
    }

    #[test]
    fn a_broken_transfer_is_an_error_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("stormjar.jar");
        let mut source = MapSource {
            blobs: topology_blobs("t-1-1", &[b'x'; 100], b"code"),
            short: BTreeSet::from([stormjar_key("t-1-1")]),
        };
        let err = download_blob(&mut source, &stormjar_key("t-1-1"), &dest).unwrap_err();
        assert!(err.to_string().contains("got 50 of 100 bytes"), "{err}");
        assert!(!dest.exists());

        // The same through download_topology: nothing in stormdist, nothing in tmp.
        let paths = StormPaths::new(dir.path().join("local"), dir.path().join("logs"));
        let err = download_topology(&mut source, &paths, "t-1-1").unwrap_err();
        assert!(err.to_string().contains("t-1-1"), "{err}");
        assert!(!paths.supervisor_stormdist("t-1-1").exists());
        assert_eq!(fs::read_dir(paths.supervisor_tmp()).unwrap().count(), 0);
    }

    #[test]
    fn resources_extraction_refuses_escaping_entries() {
        let dir = tempfile::tempdir().unwrap();
        let jar = dir.path().join("stormjar.jar");
        fs::write(
            &jar,
            zip_bytes(&[
                ("resources/ok.txt", b"ok"),
                ("resources/../../evil.txt", b"evil"),
            ]),
        )
        .unwrap();
        let target = dir.path().join("out/resources");
        let err = extract_resources(&jar, &target).unwrap_err();
        assert!(err.to_string().contains("outside"), "{err}");
        assert!(!dir.path().join("evil.txt").exists());
        assert!(!dir.path().join("out/evil.txt").exists());

        // Not a zip: nothing to do.
        fs::write(&jar, b"just bytes").unwrap();
        assert_eq!(extract_resources(&jar, &target).unwrap(), 0);
    }

    #[test]
    fn localizer_reports_pending_then_ready_or_failed() {
        let dir = tempfile::tempdir().unwrap();
        let paths = StormPaths::new(dir.path().join("local"), dir.path().join("logs"));
        let source = MapSource {
            blobs: topology_blobs("t-1-1", b"data", b"data"),
            ..MapSource::default()
        };
        let loc = Localizer::new(
            paths.clone(),
            Arc::new(move || Ok(Box::new(source.clone()) as Box<dyn BlobSource>)),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = loc.request("t-1-1");
        assert_eq!(seen, Localized::Pending);
        while seen == Localized::Pending && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            seen = loc.request("t-1-1");
        }
        assert_eq!(seen, Localized::Ready);

        let mut seen = loc.request("nope-1-1");
        while seen == Localized::Pending && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            seen = loc.request("nope-1-1");
        }
        assert!(matches!(seen, Localized::Failed(_)), "{seen:?}");

        // Unused directories are removed; kept ones stay.
        fs::create_dir_all(paths.supervisor_stormdist("old-1-1")).unwrap();
        loc.remove_unused(&["t-1-1".to_string()].into_iter().collect());
        assert!(!paths.supervisor_stormdist("old-1-1").exists());
        assert!(is_localized(&paths, "t-1-1"));
    }
}
