//! The log files the logviewer may serve, and nothing else: resolving a requested name to a file under
//! the worker-artifacts root (`<topology-id>/<port>/<file>`) or the daemon log directory (`<file>`),
//! refusing every way out (`..`, `.`, absolute names, NUL, empty segments, symlinks that resolve outside
//! the root), listing worker logs with Storm's per-directory cap, and reading a byte range of a plain or
//! gzipped log.
//!
//! A refused name is indistinguishable from a missing file ([`LogviewerError::NotFound`]), as in Storm,
//! which answers both with 404.

use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::page::url_decode;
use super::LogviewerError;
use crate::paths::{encode_id, StormPaths};

/// Storm's cap on the entries read from one directory for listings (`DirectoryCleaner`).
pub const MAX_FILES_PER_DIR: usize = 1024;

/// Which tree a served file lives in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogKind {
    /// `<workers-artifacts>/<topology dir>/<port dir>/<file>`.
    Worker { topology: String, port: String },
    /// `<storm.log.dir>/<file>`.
    Daemon,
}

/// A file the logviewer agreed to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    /// The name as the client addressed it (`topo/port/file` or `file`).
    pub name: String,
    /// The resolved (canonical) path, inside its root.
    pub path: PathBuf,
    pub kind: LogKind,
}

impl LogFile {
    /// The last segment of the name (`worker.log`).
    pub fn file_name(&self) -> &str {
        self.name.rsplit('/').next().unwrap_or(&self.name)
    }

    /// Whether Storm shows it as text (`.log…`, `.txt`, `.yaml`, `.pid`); other files are download-only.
    pub fn is_text(&self) -> bool {
        is_text_name(&self.name)
    }

    /// Whether it is gzipped (a rotated `worker.log.N.gz`): paged and searched decompressed.
    pub fn is_gz(&self) -> bool {
        self.name.ends_with(".gz")
    }

    /// Its length in the bytes a page or search sees (for `.gz`, the uncompressed size from the gzip
    /// trailer, modulo 2³², as Storm reads it).
    pub fn logical_len(&self) -> Result<u64, LogviewerError> {
        let io = |e| LogviewerError::io("cannot read", &self.path, e);
        if self.is_gz() {
            let mut f = fs::File::open(&self.path).map_err(io)?;
            let len = f.metadata().map_err(io)?.len();
            if len < 4 {
                return Ok(0);
            }
            f.seek(SeekFrom::Start(len - 4)).map_err(io)?;
            let mut b = [0u8; 4];
            f.read_exact(&mut b).map_err(io)?;
            Ok(u64::from(u32::from_le_bytes(b)))
        } else {
            Ok(fs::metadata(&self.path).map_err(io)?.len())
        }
    }

    /// A reader over `len` logical bytes from `start` (decompressing a `.gz`; bounded memory).
    pub fn open_range(&self, start: u64, len: u64) -> Result<Box<dyn Read + Send>, LogviewerError> {
        let io = |e| LogviewerError::io("cannot read", &self.path, e);
        let mut f = fs::File::open(&self.path).map_err(io)?;
        if self.is_gz() {
            let mut dec = flate2::read::MultiGzDecoder::new(io::BufReader::new(f));
            let skipped = io::copy(&mut (&mut dec).take(start), &mut io::sink()).map_err(io)?;
            if skipped < start {
                return Ok(Box::new(io::empty()));
            }
            Ok(Box::new(dec.take(len)))
        } else {
            f.seek(SeekFrom::Start(start)).map_err(io)?;
            Ok(Box::new(f.take(len)))
        }
    }
}

/// Whether Storm treats a file name as text: it ends in `.txt`, `.yaml` or `.pid`, or has `.log` followed
/// by anything (`worker.log`, `worker.log.err`, `worker.log.1.gz`).
pub fn is_text_name(name: &str) -> bool {
    name.contains(".log") || [".txt", ".yaml", ".pid"].iter().any(|s| name.ends_with(s))
}

/// The segments of a requested name if it is a plain relative name of exactly `count` segments.
fn segments(name: &str, count: usize) -> Option<Vec<&str>> {
    if name.is_empty() || name.starts_with('/') || name.contains('\0') {
        return None;
    }
    let parts: Vec<&str> = name.split('/').collect();
    let plain = |p: &&str| !p.is_empty() && *p != "." && *p != "..";
    (parts.len() == count && parts.iter().all(plain)).then_some(parts)
}

/// Whether `name` can name one directory entry (a topology directory, a port directory, a dump file).
pub fn is_plain_segment(name: &str) -> bool {
    segments(name, 1).is_some()
}

/// The directory names a topology id may have under the worker-artifacts root: storm-rs's supervisor
/// URL-encodes the id ([`encode_id`]: a space becomes `+`), Storm uses it as it is.
fn topology_dir_names(id: &str) -> Vec<String> {
    let encoded = encode_id(id);
    if encoded == id {
        vec![encoded]
    } else {
        vec![encoded, id.to_string()]
    }
}

/// The topology id a worker-artifacts directory stands for: the name decoded when the supervisor
/// encoded it, else the name itself.
pub fn topology_id_of(dir_name: &str) -> String {
    let decoded = url_decode(dir_name, true);
    if decoded != dir_name && is_plain_segment(&decoded) && encode_id(&decoded) == dir_name {
        decoded
    } else {
        dir_name.to_string()
    }
}

/// The two roots the logviewer serves from.
#[derive(Debug, Clone)]
pub struct LogRoots {
    workers: PathBuf,
    daemons: PathBuf,
}

impl LogRoots {
    /// The worker-artifacts root and the daemon log directory of `paths`.
    pub fn new(paths: &StormPaths) -> LogRoots {
        LogRoots {
            workers: paths.workers_artifacts_root(),
            daemons: paths.log_dir().to_path_buf(),
        }
    }

    /// `<workers-artifacts>`.
    pub fn worker_root(&self) -> &Path {
        &self.workers
    }

    /// `<storm.log.dir>`.
    pub fn daemon_root(&self) -> &Path {
        &self.daemons
    }

    /// Resolves a worker file `<topology-id>/<port>/<file>`.
    pub fn worker_file(&self, name: &str) -> Result<LogFile, LogviewerError> {
        let parts = segments(name, 3).ok_or(LogviewerError::NotFound)?;
        let path = topology_dir_names(parts[0])
            .iter()
            .find_map(|t| resolve_file(&self.workers, &[t, parts[1], parts[2]]).ok())
            .ok_or(LogviewerError::NotFound)?;
        Ok(LogFile {
            name: name.to_string(),
            path,
            kind: LogKind::Worker {
                topology: parts[0].to_string(),
                port: parts[1].to_string(),
            },
        })
    }

    /// Resolves a daemon log `<file>` (one segment: it can never reach into the worker logs).
    pub fn daemon_file(&self, name: &str) -> Result<LogFile, LogviewerError> {
        let parts = segments(name, 1).ok_or(LogviewerError::NotFound)?;
        let path = resolve_file(&self.daemons, &parts)?;
        Ok(LogFile {
            name: name.to_string(),
            path,
            kind: LogKind::Daemon,
        })
    }

    /// `<workers-artifacts>/<topology>/<port>` if both are plain names of an existing directory inside
    /// the root.
    pub fn port_dir(&self, topology: &str, port: &str) -> Option<PathBuf> {
        if !is_plain_segment(topology) || !is_plain_segment(port) {
            return None;
        }
        topology_dir_names(topology)
            .iter()
            .find_map(|t| resolve_dir(&self.workers, &[t, port]))
    }

    /// `<workers-artifacts>/<topology>` if it is a plain name of an existing directory inside the root.
    pub fn topology_dir(&self, topology: &str) -> Option<PathBuf> {
        if !is_plain_segment(topology) {
            return None;
        }
        topology_dir_names(topology)
            .iter()
            .find_map(|t| resolve_dir(&self.workers, &[t]))
    }

    /// The worker logs, as `<topology-id>/<port>/<file>` names (sorted), of every worker directory, or only those of
    /// `topology` and/or `port`. At most [`MAX_FILES_PER_DIR`] entries are read from each directory.
    pub fn list_worker_logs(&self, topology: Option<&str>, port: Option<&str>) -> Vec<String> {
        let mut out = Vec::new();
        let topologies: Vec<(String, PathBuf)> = match topology {
            Some(t) => self
                .topology_dir(t)
                .map(|p| vec![(t.to_string(), p)])
                .unwrap_or_default(),
            None => sub_dirs(&self.workers, MAX_FILES_PER_DIR)
                .into_iter()
                .map(|(dir, p)| (topology_id_of(&dir), p))
                .collect(),
        };
        for (topo, topo_path) in topologies {
            for (p, port_path) in sub_dirs(&topo_path, MAX_FILES_PER_DIR) {
                if port.is_some_and(|want| want != p) {
                    continue;
                }
                for (f, _) in dir_files(&port_path, MAX_FILES_PER_DIR) {
                    out.push(format!("{topo}/{p}/{f}"));
                }
            }
        }
        out.sort();
        out
    }

    /// The daemon logs: regular files directly in the log directory (sorted, capped).
    pub fn list_daemon_logs(&self) -> Vec<String> {
        let mut out: Vec<String> = dir_files(&self.daemons, MAX_FILES_PER_DIR)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        out.sort();
        out
    }
}

fn canonical_root(root: &Path) -> Result<PathBuf, LogviewerError> {
    fs::canonicalize(root).map_err(|_| LogviewerError::NotFound)
}

/// `root/parts…` canonicalized, if it is a regular file inside the canonical root.
fn resolve_file(root: &Path, parts: &[&str]) -> Result<PathBuf, LogviewerError> {
    let root = canonical_root(root)?;
    let mut p = root.clone();
    p.extend(parts);
    let canon = fs::canonicalize(&p).map_err(|_| LogviewerError::NotFound)?;
    if canon.starts_with(&root) && fs::metadata(&canon).is_ok_and(|m| m.is_file()) {
        Ok(canon)
    } else {
        Err(LogviewerError::NotFound)
    }
}

fn resolve_dir(root: &Path, parts: &[&str]) -> Option<PathBuf> {
    let root = fs::canonicalize(root).ok()?;
    let mut p = root.clone();
    p.extend(parts);
    let canon = fs::canonicalize(&p).ok()?;
    (canon.starts_with(&root) && canon.is_dir()).then_some(canon)
}

/// Real (not symlinked) sub-directories of `dir` with UTF-8 names, sorted; at most `cap` read.
pub fn sub_dirs(dir: &Path, cap: usize) -> Vec<(String, PathBuf)> {
    entries(dir, cap, |m| m.is_dir())
}

/// Regular (not symlinked) files of `dir` with UTF-8 names, sorted; at most `cap` read.
pub fn dir_files(dir: &Path, cap: usize) -> Vec<(String, PathBuf)> {
    entries(dir, cap, |m| m.is_file())
}

fn entries(dir: &Path, cap: usize, keep: impl Fn(&fs::Metadata) -> bool) -> Vec<(String, PathBuf)> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, PathBuf)> = rd
        .flatten()
        .take(cap)
        .filter(|e| e.path().symlink_metadata().is_ok_and(|m| keep(&m)))
        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
        .collect();
    out.sort();
    out
}

/// A file's modification time (the epoch when unknown).
pub fn mtime(path: &Path) -> SystemTime {
    fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    struct Tree {
        _dir: tempfile::TempDir,
        logs: PathBuf,
        roots: LogRoots,
    }

    fn tree() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        let paths = StormPaths::new(dir.path().join("local"), &logs);
        let port = paths.worker_artifacts("t-1-1", 6700);
        fs::create_dir_all(&port).unwrap();
        fs::write(port.join("worker.log"), b"hello worker\n").unwrap();
        fs::write(port.join("worker.log.err"), b"").unwrap();
        fs::write(logs.join("nimbus.log"), b"nimbus\n").unwrap();
        fs::write(dir.path().join("secret.txt"), b"secret").unwrap();
        fs::write(logs.join("outside.txt"), b"daemon dir, not a worker dir").unwrap();
        Tree {
            roots: LogRoots::new(&paths),
            logs,
            _dir: dir,
        }
    }

    #[test]
    fn serves_files_inside_the_roots() {
        let t = tree();
        let f = t.roots.worker_file("t-1-1/6700/worker.log").unwrap();
        assert_eq!(fs::read(&f.path).unwrap(), b"hello worker\n");
        assert_eq!(
            f.kind,
            LogKind::Worker {
                topology: "t-1-1".into(),
                port: "6700".into()
            }
        );
        assert_eq!(f.file_name(), "worker.log");
        assert_eq!(
            t.roots.daemon_file("nimbus.log").unwrap().kind,
            LogKind::Daemon
        );
    }

    #[test]
    fn refuses_every_way_out() {
        let t = tree();
        for name in [
            "../nimbus.log",
            "../../secret.txt",
            "t-1-1/../../nimbus.log",
            "t-1-1/6700/../../../secret.txt",
            "t-1-1/./6700/worker.log",
            "/etc/passwd",
            "t-1-1//worker.log",
            "t-1-1/6700/worker.log/",
            "t-1-1/6700",
            "t-1-1",
            "",
            "t-1-1/6700/worker.log\0",
            "t-1-1/6700/missing.log",
            "nimbus.log",
        ] {
            assert_eq!(
                t.roots.worker_file(name),
                Err(LogviewerError::NotFound),
                "worker {name:?}"
            );
        }
        for name in [
            "../secret.txt",
            "workers-artifacts/t-1-1/6700/worker.log",
            "workers-artifacts",
            "/etc/passwd",
            ".",
            "..",
            "missing.log",
        ] {
            assert_eq!(
                t.roots.daemon_file(name),
                Err(LogviewerError::NotFound),
                "daemon {name:?}"
            );
        }
    }

    #[test]
    fn refuses_symlinks_that_escape() {
        let t = tree();
        let port = t.logs.join("workers-artifacts/t-1-1/6700");
        std::os::unix::fs::symlink(
            t.logs.parent().unwrap().join("secret.txt"),
            port.join("evil.log"),
        )
        .unwrap();
        std::os::unix::fs::symlink("/etc", port.join("etc")).unwrap();
        std::os::unix::fs::symlink(
            t.logs.parent().unwrap(),
            t.logs.join("workers-artifacts/up"),
        )
        .unwrap();
        assert_eq!(
            t.roots.worker_file("t-1-1/6700/evil.log"),
            Err(LogviewerError::NotFound)
        );
        assert_eq!(
            t.roots.worker_file("up/logs/nimbus.log"),
            Err(LogviewerError::NotFound)
        );
        std::os::unix::fs::symlink("/etc/hostname", t.logs.join("host.log")).unwrap();
        assert_eq!(
            t.roots.daemon_file("host.log"),
            Err(LogviewerError::NotFound)
        );
        // A symlink that stays inside is fine.
        std::os::unix::fs::symlink("worker.log", port.join("current.log")).unwrap();
        assert!(t.roots.worker_file("t-1-1/6700/current.log").is_ok());
        // Listings never show symlinks.
        assert_eq!(
            t.roots.list_worker_logs(None, None),
            vec!["t-1-1/6700/worker.log", "t-1-1/6700/worker.log.err"]
        );
    }

    #[test]
    fn lists_by_topology_and_port() {
        let t = tree();
        let other = t.logs.join("workers-artifacts/u-2-2/6701");
        fs::create_dir_all(&other).unwrap();
        fs::write(other.join("worker.log"), b"").unwrap();
        assert_eq!(t.roots.list_worker_logs(None, None).len(), 3);
        assert_eq!(
            t.roots.list_worker_logs(None, Some("6701")),
            vec!["u-2-2/6701/worker.log"]
        );
        assert_eq!(
            t.roots.list_worker_logs(Some("t-1-1"), None),
            vec!["t-1-1/6700/worker.log", "t-1-1/6700/worker.log.err"]
        );
        assert!(t
            .roots
            .list_worker_logs(Some("t-1-1"), Some("6701"))
            .is_empty());
        assert!(t.roots.list_worker_logs(Some(".."), None).is_empty());
        assert!(t.roots.list_worker_logs(Some("missing"), None).is_empty());
        assert_eq!(
            t.roots.list_daemon_logs(),
            vec!["nimbus.log", "outside.txt"]
        );
    }

    #[test]
    fn topology_ids_map_to_encoded_directories() {
        let t = tree();
        // storm-rs's supervisor writes the logs of "my topo-1-1" under "my+topo-1-1".
        let dir = t
            .logs
            .join("workers-artifacts")
            .join(encode_id("my topo-1-1"))
            .join("6700");
        assert!(dir.ends_with("my+topo-1-1/6700"));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("worker.log"), b"spaced").unwrap();
        let f = t.roots.worker_file("my topo-1-1/6700/worker.log").unwrap();
        assert_eq!(fs::read(f.path).unwrap(), b"spaced");
        assert!(t.roots.topology_dir("my topo-1-1").is_some());
        assert!(t.roots.port_dir("my topo-1-1", "6700").is_some());
        assert!(t
            .roots
            .list_worker_logs(None, None)
            .contains(&"my topo-1-1/6700/worker.log".to_string()));
        assert_eq!(
            t.roots.list_worker_logs(Some("my topo-1-1"), None),
            vec!["my topo-1-1/6700/worker.log"]
        );
        // A name that is not an encoding stays as it is.
        assert_eq!(topology_id_of("wc-1-2"), "wc-1-2");
        assert_eq!(topology_id_of("a+b%zz"), "a+b%zz");
        assert_eq!(topology_id_of("%2E%2E"), "%2E%2E");
        assert_eq!(
            t.roots.worker_file("../6700/worker.log"),
            Err(LogviewerError::NotFound)
        );
    }

    #[test]
    fn reads_ranges_of_plain_and_gzipped_logs() {
        let t = tree();
        let port = t.logs.join("workers-artifacts/t-1-1/6700");
        let text: Vec<u8> = (0..5000u32)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&text).unwrap();
        fs::write(port.join("worker.log.1.gz"), gz.finish().unwrap()).unwrap();
        let f = t.roots.worker_file("t-1-1/6700/worker.log.1.gz").unwrap();
        assert!(f.is_gz() && f.is_text());
        assert_eq!(f.logical_len().unwrap(), text.len() as u64);
        let mut got = Vec::new();
        f.open_range(100, 50)
            .unwrap()
            .read_to_end(&mut got)
            .unwrap();
        assert_eq!(got, &text[100..150]);
        let plain = t.roots.worker_file("t-1-1/6700/worker.log").unwrap();
        let mut got = Vec::new();
        plain
            .open_range(6, 100)
            .unwrap()
            .read_to_end(&mut got)
            .unwrap();
        assert_eq!(got, b"worker\n");
    }

    #[test]
    fn text_names_follow_storm() {
        for n in [
            "worker.log",
            "worker.log.err",
            "worker.log.1.gz",
            "gc.log.0.current",
            "a.txt",
            "worker.yaml",
            "worker.pid",
        ] {
            assert!(is_text_name(n), "{n}");
        }
        for n in ["heapdump.bin", "recording.jfr", "core"] {
            assert!(!is_text_name(n), "{n}");
        }
    }
}
