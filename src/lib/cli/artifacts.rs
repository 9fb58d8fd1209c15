//! `storm jar --artifacts/--artifactRepositories`: Maven coordinates resolved over HTTP into a local
//! Maven-layout cache (Storm's `DependencyResolverMain`, without Aether).
//!
//! * Coordinates: `group:artifact:version`, also `group:artifact:extension:version` and
//!   `group:artifact:extension:classifier:version` (Aether's `DefaultArtifact` forms), each optionally
//!   followed by exclusions `^excl-group:excl-artifact` (repeatable). Several coordinates are separated
//!   by commas.
//! * Repositories: `name^url`, comma separated, tried in order. Without `--artifactRepositories` only
//!   Maven Central is used (Storm also adds Central by default).
//! * Layout: `<repo>/<group with . → />/<artifact>/<version>/<artifact>-<version>[-<classifier>].<ext>`,
//!   the same path under the local cache (`--mavenLocalRepositoryDirectory`, default
//!   `$HOME/.m2/repository`, Maven's own cache, so artifacts Maven already fetched are reused; without
//!   `HOME`, `<storm.local.dir>/artifacts-cache`).
//! * A file already in the cache is used as it is (Maven's rule for release versions).
//! * Downloads go to a temporary name in the target directory and are renamed into place only after
//!   their checksum matched: the repository's `<file>.sha1`, else `.sha256`, else `.md5`, whichever it
//!   offers first; with none of them the file is accepted unchecked (logged). A mismatch, a missing
//!   artifact or an unreachable repository is an error and leaves nothing in the cache.
//!
//! Limits (storm-rs): **no transitive resolution** — POMs are not read, so exclusions are checked for
//! form and otherwise have nothing to exclude; list every jar the topology needs. Downloads are **plain
//! HTTP only**: reqwest is built without TLS, so an `https://` repository (Maven Central included) is
//! reported as such; use an `http://` mirror or repository manager (Nexus, Artifactory, `python3 -m
//! http.server` over a Maven layout). `--proxyUrl` is passed to reqwest (HTTP proxies).

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha1::Digest;

use super::progress::Progress;

/// Storm's default repository.
pub const MAVEN_CENTRAL: (&str, &str) = ("central", "https://repo1.maven.org/maven2");

/// Why artifacts could not be resolved; every message names the coordinate, and the repositories
/// involved, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("{0}")]
    Spec(String),
    #[error("artifact {coordinate} was not found in any repository; tried {}. Check the coordinate (group:artifact:version) and --artifactRepositories", tried.join("; "))]
    NotFound {
        coordinate: String,
        tried: Vec<String>,
    },
    #[error(transparent)]
    Checksum(Box<ChecksumMismatch>),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
}

/// A downloaded file whose checksum differs from the repository's.
#[derive(Debug, thiserror::Error)]
#[error("checksum mismatch for artifact {coordinate} from repository {repository} ({url}): the repository's {algorithm} is {expected}, the downloaded file's is {actual}; nothing was cached")]
pub struct ChecksumMismatch {
    pub coordinate: String,
    pub repository: String,
    pub url: String,
    pub algorithm: &'static str,
    pub expected: String,
    pub actual: String,
}

type Result<T> = std::result::Result<T, ArtifactError>;

fn spec(msg: String) -> ArtifactError {
    ArtifactError::Spec(msg)
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ArtifactError + '_ {
    move |source| ArtifactError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A Maven coordinate with its (form-checked) exclusions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coordinate {
    pub group: String,
    pub artifact: String,
    pub extension: String,
    pub classifier: Option<String>,
    pub version: String,
    /// `(group, artifact)` pairs; not applied (no transitive resolution).
    pub exclusions: Vec<(String, String)>,
}

impl Coordinate {
    /// `group:artifact:version` (with extension and classifier when given), the key of
    /// `STORM_DEPENDENCY_ARTIFACTS`.
    pub fn key(&self) -> String {
        match (&self.classifier, self.extension.as_str()) {
            (None, "jar") => format!("{}:{}:{}", self.group, self.artifact, self.version),
            (None, ext) => format!("{}:{}:{ext}:{}", self.group, self.artifact, self.version),
            (Some(c), ext) => format!(
                "{}:{}:{ext}:{c}:{}",
                self.group, self.artifact, self.version
            ),
        }
    }

    /// The file name: `<artifact>-<version>[-<classifier>].<extension>`.
    pub fn file_name(&self) -> String {
        match &self.classifier {
            Some(c) => format!("{}-{}-{c}.{}", self.artifact, self.version, self.extension),
            None => format!("{}-{}.{}", self.artifact, self.version, self.extension),
        }
    }

    /// The path inside a Maven repository, `/`-separated.
    pub fn repository_path(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.group.replace('.', "/"),
            self.artifact,
            self.version,
            self.file_name()
        )
    }
}

fn valid_part(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'))
}

/// Parses one coordinate with its `^group:artifact` exclusions.
pub fn parse_coordinate(text: &str) -> Result<Coordinate> {
    let text = text.trim();
    let mut pieces = text.split('^');
    let main = pieces.next().unwrap_or_default();
    let parts: Vec<&str> = main.split(':').collect();
    let usage = "write it as group:artifact:version (or group:artifact:extension[:classifier]:version), e.g. org.apache.commons:commons-lang3:3.12.0";
    let (group, artifact, extension, classifier, version) = match parts[..] {
        [g, a, v] => (g, a, "jar", None, v),
        [g, a, e, v] => (g, a, e, None, v),
        [g, a, e, c, v] => (g, a, e, Some(c), v),
        [_, _] => return Err(spec(format!("artifact \"{text}\" has no version; {usage}"))),
        _ => {
            return Err(spec(format!(
                "artifact \"{text}\" is not a coordinate; {usage}"
            )))
        }
    };
    for (what, value) in [
        ("group", group),
        ("artifact", artifact),
        ("extension", extension),
        ("version", version),
    ]
    .into_iter()
    .chain(classifier.map(|c| ("classifier", c)))
    {
        if !valid_part(value) {
            return Err(spec(format!(
                "artifact \"{text}\": the {what} \"{value}\" is empty or has characters other than letters, digits, '.', '-', '_', '+'; {usage}"
            )));
        }
    }
    let mut exclusions = Vec::new();
    for excl in pieces {
        match excl.split(':').collect::<Vec<_>>()[..] {
            [g, a] if valid_part(g) && valid_part(a) => exclusions.push((g.into(), a.into())),
            _ => {
                return Err(spec(format!(
                    "artifact \"{text}\": exclusion \"{excl}\" is not group:artifact; write exclusions as group:artifact:version^excl-group:excl-artifact"
                )))
            }
        }
    }
    Ok(Coordinate {
        group: group.into(),
        artifact: artifact.into(),
        extension: extension.into(),
        classifier: classifier.map(Into::into),
        version: version.into(),
        exclusions,
    })
}

/// Parses `--artifacts`: comma-separated coordinates (empty entries are skipped).
pub fn parse_artifacts(list: &str) -> Result<Vec<Coordinate>> {
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(parse_coordinate)
        .collect()
}

/// A remote Maven repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    pub name: String,
    pub url: String,
}

/// Parses `--artifactRepositories`: comma-separated `name^url`.
pub fn parse_repositories(list: &str) -> Result<Vec<Repository>> {
    let mut repos = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((name, url)) = entry.split_once('^') else {
            return Err(spec(format!(
                "repository \"{entry}\" has no name; write it as name^url, e.g. central^https://repo1.maven.org/maven2"
            )));
        };
        let (name, url) = (name.trim(), url.trim().trim_end_matches('/'));
        if name.is_empty() || !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(spec(format!(
                "repository \"{entry}\" is not name^url with an http:// or https:// URL; e.g. local^http://127.0.0.1:8081/repository/maven"
            )));
        }
        repos.push(Repository {
            name: name.into(),
            url: url.into(),
        });
    }
    Ok(repos)
}

/// The cache directory: `--mavenLocalRepositoryDirectory`, else `$HOME/.m2/repository`, else
/// `<storm.local.dir>/artifacts-cache`.
pub fn default_cache_dir(storm_local_dir: &Path) -> PathBuf {
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => PathBuf::from(home).join(".m2").join("repository"),
        None => storm_local_dir.join("artifacts-cache"),
    }
}

/// Resolves coordinates against repositories into a local cache.
pub struct Resolver {
    repositories: Vec<Repository>,
    cache: PathBuf,
    client: reqwest::blocking::Client,
    progress: bool,
}

/// Checksum files tried, strongest-offered-first is not needed: Maven repositories always publish
/// `.sha1`; the others are fallbacks.
const CHECKSUMS: [&str; 3] = ["sha1", "sha256", "md5"];

enum Fetch {
    Got(u64),
    NotFound(String),
}

impl Resolver {
    /// A resolver over `repositories` (Maven Central when empty) caching into `cache`, through
    /// `proxy` (an HTTP proxy URL, with user and password) when given.
    pub fn new(
        repositories: Vec<Repository>,
        cache: PathBuf,
        proxy: Option<(&str, Option<(&str, &str)>)>,
    ) -> Result<Resolver> {
        let repositories = if repositories.is_empty() {
            vec![Repository {
                name: MAVEN_CENTRAL.0.into(),
                url: MAVEN_CENTRAL.1.into(),
            }]
        } else {
            repositories
        };
        let mut builder = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(600));
        if let Some((url, auth)) = proxy.filter(|(url, _)| !url.is_empty()) {
            let mut proxy = reqwest::Proxy::all(url)
                .map_err(|e| spec(format!("--proxyUrl \"{url}\" is not a proxy URL: {e}")))?;
            if let Some((user, password)) = auth {
                proxy = proxy.basic_auth(user, password);
            }
            builder = builder.proxy(proxy);
        }
        let client = builder
            .build()
            .map_err(|e| ArtifactError::Client(e.to_string()))?;
        Ok(Resolver {
            repositories,
            cache,
            client,
            progress: true,
        })
    }

    /// Turns the terminal progress line off (it is also off when stderr is not a terminal).
    pub fn quiet(mut self) -> Resolver {
        self.progress = false;
        self
    }

    /// The cache directory.
    pub fn cache(&self) -> &Path {
        &self.cache
    }

    /// Resolves every coordinate; returns `(coordinate key, local file)` in the given order. The first
    /// failure ends the resolution.
    pub fn resolve_all(&self, coordinates: &[Coordinate]) -> Result<Vec<(String, PathBuf)>> {
        coordinates
            .iter()
            .map(|c| Ok((c.key(), self.resolve(c)?)))
            .collect()
    }

    /// Resolves one coordinate: the cached file, or a verified download into the cache.
    pub fn resolve(&self, c: &Coordinate) -> Result<PathBuf> {
        let rel = c.repository_path();
        let dest = self.cache.join(&rel);
        if dest.is_file() {
            tracing::debug!(artifact = %c.key(), path = %dest.display(), "using the cached artifact");
            return Ok(dest);
        }
        let dir = dest.parent().unwrap_or(&self.cache).to_path_buf();
        let mut tried = Vec::new();
        for repo in &self.repositories {
            let url = format!("{}/{rel}", repo.url);
            if url.starts_with("https://") {
                tried.push(format!(
                    "{} ({url}: https is not supported by this build, which downloads over plain HTTP only; use an http:// mirror)",
                    repo.name
                ));
                continue;
            }
            fs::create_dir_all(&dir).map_err(io_err(&dir))?;
            let tmp = dir.join(format!(
                ".{}.part-{}",
                c.file_name(),
                uuid::Uuid::new_v4().simple()
            ));
            let outcome = self.fetch_verified(c, repo, &url, &tmp);
            match outcome {
                Ok(Fetch::Got(bytes)) => {
                    fs::rename(&tmp, &dest).map_err(|e| {
                        let _ = fs::remove_file(&tmp);
                        io_err(&dest)(e)
                    })?;
                    tracing::info!(artifact = %c.key(), repository = %repo.name, bytes, path = %dest.display(), "downloaded artifact");
                    return Ok(dest);
                }
                Ok(Fetch::NotFound(why)) => {
                    let _ = fs::remove_file(&tmp);
                    tried.push(format!("{} ({url}: {why})", repo.name));
                }
                Err(e) => {
                    let _ = fs::remove_file(&tmp);
                    return Err(e);
                }
            }
        }
        Err(ArtifactError::NotFound {
            coordinate: c.key(),
            tried,
        })
    }

    /// Downloads `url` into `tmp` and checks it against the repository's checksum file. `NotFound`
    /// covers everything after which the next repository should be tried (404, other HTTP statuses,
    /// connection failures); a checksum mismatch is final.
    fn fetch_verified(
        &self,
        c: &Coordinate,
        repo: &Repository,
        url: &str,
        tmp: &Path,
    ) -> Result<Fetch> {
        let mut resp = match self.client.get(url).send() {
            Ok(r) => r,
            Err(e) => return Ok(Fetch::NotFound(error_chain(&e))),
        };
        let status = resp.status();
        if !status.is_success() {
            return Ok(Fetch::NotFound(format!("HTTP {status}")));
        }
        let total = resp.content_length();
        let mut progress = Progress::new(format!("downloading {}", c.key()), total);
        if !self.progress {
            progress = Progress::with_enabled("", None, false);
        }
        let mut file = fs::File::create(tmp).map_err(io_err(tmp))?;
        let (mut sha1, mut sha256, mut md5) =
            (sha1::Sha1::new(), sha2::Sha256::new(), md5::Md5::new());
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = 0u64;
        loop {
            let n = match resp.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Ok(Fetch::NotFound(format!("reading the body: {e}"))),
            };
            file.write_all(&buf[..n]).map_err(io_err(tmp))?;
            sha1.update(&buf[..n]);
            sha256.update(&buf[..n]);
            md5.update(&buf[..n]);
            got += n as u64;
            progress.inc(n as u64);
        }
        if let Some(total) = total.filter(|t| *t != got) {
            return Ok(Fetch::NotFound(format!(
                "truncated body: got {got} of {total} bytes"
            )));
        }
        file.sync_all().map_err(io_err(tmp))?;
        progress.finish();
        let actual = [
            hex(&sha1.finalize()),
            hex(&sha256.finalize()),
            hex(&md5.finalize()),
        ];
        for (algorithm, actual) in CHECKSUMS.into_iter().zip(actual) {
            let sum_url = format!("{url}.{algorithm}");
            let Some(expected) = self.fetch_checksum(&sum_url) else {
                continue;
            };
            if expected != actual {
                return Err(ArtifactError::Checksum(Box::new(ChecksumMismatch {
                    coordinate: c.key(),
                    repository: repo.name.clone(),
                    url: url.to_string(),
                    algorithm,
                    expected,
                    actual,
                })));
            }
            tracing::debug!(artifact = %c.key(), algorithm, "checksum verified");
            return Ok(Fetch::Got(got));
        }
        tracing::warn!(artifact = %c.key(), repository = %repo.name, "the repository offers no checksum (.sha1, .sha256, .md5); accepted unverified");
        Ok(Fetch::Got(got))
    }

    /// The hex digest in a checksum file (its first word, lower case), or `None` when the repository
    /// has none (or it cannot be read).
    fn fetch_checksum(&self, url: &str) -> Option<String> {
        let resp = self.client.get(url).send().ok()?;
        if !resp.status().is_success() {
            return None;
        }
        let mut text = String::new();
        resp.take(4096).read_to_string(&mut text).ok()?;
        let word = text.split_whitespace().next()?.to_ascii_lowercase();
        word.chars().all(|c| c.is_ascii_hexdigit()).then_some(word)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// What `storm jar` hands to the topology program: the `--jars` files (checked to exist, made
/// absolute) and the resolved artifacts.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Dependencies {
    pub jars: Vec<PathBuf>,
    pub artifacts: BTreeMap<String, PathBuf>,
}

impl Dependencies {
    /// `STORM_DEPENDENCY_JARS`: the `--jars` files (absolute), comma separated (Storm's
    /// `storm.dependency.jars`; resolved artifacts are in [`Dependencies::artifacts_env`] only).
    pub fn jars_env(&self) -> String {
        self.jars
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `STORM_DEPENDENCY_ARTIFACTS`: JSON map coordinate → local file.
    pub fn artifacts_env(&self) -> String {
        let map: serde_json::Map<String, serde_json::Value> = self
            .artifacts
            .iter()
            .map(|(k, v)| (k.clone(), v.display().to_string().into()))
            .collect();
        serde_json::Value::Object(map).to_string()
    }
}

/// `storm jar`'s dependency flags (Storm's names). They may come before the artifact; after it they
/// are taken out of the program's arguments by [`DependencyArgs::take_from`].
#[derive(Debug, Default, Clone, clap::Args)]
pub struct DependencyArgs {
    /// Local files uploaded with the topology: "a.jar,b.jar".
    #[arg(long = "jars", value_name = "FILES")]
    pub jars: Option<String>,
    /// Maven coordinates to download and upload with the topology:
    /// "group:artifact:version[^excl-group:excl-artifact],…" (no transitive dependencies).
    #[arg(long = "artifacts", value_name = "COORDINATES")]
    pub artifacts: Option<String>,
    /// Maven repositories to download from, in order: "name^url,…" (plain http://; default Maven
    /// Central, which needs https).
    #[arg(long = "artifactRepositories", value_name = "REPOSITORIES")]
    pub repositories: Option<String>,
    /// The local Maven-layout cache (default $HOME/.m2/repository).
    #[arg(long = "mavenLocalRepositoryDirectory", value_name = "DIR")]
    pub local_repository: Option<PathBuf>,
    /// HTTP proxy for downloads: http://host:port.
    #[arg(long = "proxyUrl", value_name = "URL")]
    pub proxy_url: Option<String>,
    /// User name for the proxy.
    #[arg(long = "proxyUsername", value_name = "USER")]
    pub proxy_username: Option<String>,
    /// Password for the proxy.
    #[arg(long = "proxyPassword", value_name = "PASSWORD")]
    pub proxy_password: Option<String>,
}

/// The flags [`DependencyArgs::take_from`] recognises after the artifact.
const FLAGS: [&str; 7] = [
    "--jars",
    "--artifacts",
    "--artifactRepositories",
    "--mavenLocalRepositoryDirectory",
    "--proxyUrl",
    "--proxyUsername",
    "--proxyPassword",
];

impl DependencyArgs {
    /// Moves this command's flags (`--flag VALUE` or `--flag=VALUE`) out of the program's arguments, as
    /// Storm's argument parser accepts them anywhere; a flag given twice keeps the later value.
    pub fn take_from(&mut self, args: &mut Vec<String>) -> Result<()> {
        let mut rest = Vec::with_capacity(args.len());
        let mut it = std::mem::take(args).into_iter();
        while let Some(arg) = it.next() {
            let (flag, value) = match arg.split_once('=') {
                Some((f, v)) if FLAGS.contains(&f) => (f.to_string(), v.to_string()),
                _ if FLAGS.contains(&arg.as_str()) => {
                    let v = it
                        .next()
                        .ok_or_else(|| spec(format!("{arg} needs a value")))?;
                    (arg.clone(), v)
                }
                _ => {
                    rest.push(arg);
                    continue;
                }
            };
            match flag.as_str() {
                "--jars" => self.jars = Some(value),
                "--artifacts" => self.artifacts = Some(value),
                "--artifactRepositories" => self.repositories = Some(value),
                "--mavenLocalRepositoryDirectory" => self.local_repository = Some(value.into()),
                "--proxyUrl" => self.proxy_url = Some(value),
                "--proxyUsername" => self.proxy_username = Some(value),
                _ => self.proxy_password = Some(value),
            }
        }
        *args = rest;
        Ok(())
    }

    /// Checks `--jars` and resolves `--artifacts` (downloading into the cache as needed). The cache is
    /// `--mavenLocalRepositoryDirectory`, else [`default_cache_dir`] of `storm_local_dir`.
    pub fn resolve(&self, storm_local_dir: &Path) -> Result<Dependencies> {
        let jars = local_jars(self.jars.as_deref().unwrap_or(""))?;
        let coordinates = parse_artifacts(self.artifacts.as_deref().unwrap_or(""))?;
        let repositories = parse_repositories(self.repositories.as_deref().unwrap_or(""))?;
        let mut artifacts = BTreeMap::new();
        if !coordinates.is_empty() {
            let cache = self
                .local_repository
                .clone()
                .unwrap_or_else(|| default_cache_dir(storm_local_dir));
            let proxy = match (&self.proxy_url, &self.proxy_username) {
                (None, _) => None,
                (Some(url), None) => Some((url.as_str(), None)),
                (Some(url), Some(user)) => Some((
                    url.as_str(),
                    Some((user.as_str(), self.proxy_password.as_deref().unwrap_or(""))),
                )),
            };
            let resolver = Resolver::new(repositories, cache, proxy)?;
            for (key, path) in resolver.resolve_all(&coordinates)? {
                artifacts.insert(key, path);
            }
        }
        Ok(Dependencies { jars, artifacts })
    }
}

/// Checks `--jars` ("a.jar,b.jar"): each must be a readable file; returns absolute paths.
pub fn local_jars(list: &str) -> Result<Vec<PathBuf>> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let path = Path::new(s);
            let abs = fs::canonicalize(path)
                .map_err(|e| spec(format!("--jars: cannot read {s}: {e}")))?;
            if !abs.is_file() {
                return Err(spec(format!("--jars: {s} is not a file")));
            }
            Ok(abs)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A Maven repository over HTTP serving `files` (path → bytes), counting requests; stops when
    /// dropped.
    struct Repo {
        _server: crate::http::Server,
        url: String,
        hits: Arc<AtomicUsize>,
    }

    impl Repo {
        fn start(files: BTreeMap<String, Vec<u8>>) -> Repo {
            use crate::http::{Limits, Request, Response, Server};
            let hits = Arc::new(AtomicUsize::new(0));
            let h = hits.clone();
            let server = Server::bind(
                "127.0.0.1:0",
                "repo",
                Limits::new(4),
                move |req: Request| {
                    let path = req.url().trim_start_matches("/repo/").to_string();
                    if !path.ends_with(".sha1")
                        && !path.ends_with(".sha256")
                        && !path.ends_with(".md5")
                    {
                        h.fetch_add(1, Ordering::SeqCst);
                    }
                    match files.get(&path) {
                        Some(b) => Response::new(200, b.clone()),
                        None => Response::text(404, "nope"),
                    }
                },
            )
            .unwrap();
            let port = server.local_addr().port();
            Repo {
                _server: server,
                url: format!("http://127.0.0.1:{port}/repo"),
                hits,
            }
        }
    }

    const PATH: &str = "com/example/util/1.2/util-1.2.jar";

    fn sha1_hex(b: &[u8]) -> String {
        hex(&sha1::Sha1::digest(b))
    }

    fn resolver(repos: &[(&str, &Repo)], cache: &Path) -> Resolver {
        let repos = repos
            .iter()
            .map(|(n, r)| Repository {
                name: n.to_string(),
                url: r.url.clone(),
            })
            .collect();
        Resolver::new(repos, cache.to_path_buf(), None)
            .unwrap()
            .quiet()
    }

    fn files_in(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if let Ok(rd) = fs::read_dir(dir) {
            for e in rd.flatten() {
                if e.path().is_dir() {
                    out.extend(files_in(&e.path()));
                } else {
                    out.push(e.path());
                }
            }
        }
        out
    }

    #[test]
    fn resolves_into_the_cache_with_a_matching_sha1_and_uses_the_cache_next_time() {
        let jar = b"PK fake jar bytes".to_vec();
        let mut files = BTreeMap::new();
        files.insert(PATH.to_string(), jar.clone());
        files.insert(
            format!("{PATH}.sha1"),
            format!("{}  util-1.2.jar\n", sha1_hex(&jar)).into_bytes(),
        );
        let repo = Repo::start(files);
        let cache = tempfile::tempdir().unwrap();
        let r = resolver(&[("local", &repo)], cache.path());
        let c = parse_coordinate("com.example:util:1.2").unwrap();
        let got = r.resolve_all(std::slice::from_ref(&c)).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "com.example:util:1.2");
        assert_eq!(got[0].1, cache.path().join(PATH));
        assert_eq!(fs::read(&got[0].1).unwrap(), jar);
        assert_eq!(files_in(cache.path()), vec![cache.path().join(PATH)]);
        assert_eq!(repo.hits.load(Ordering::SeqCst), 1);
        // Cached: no second download.
        assert_eq!(r.resolve(&c).unwrap(), cache.path().join(PATH));
        assert_eq!(repo.hits.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_bad_checksum_is_an_error_naming_both_sums_and_leaves_nothing_cached() {
        let jar = b"the real bytes".to_vec();
        let wrong = sha1_hex(b"other bytes");
        let mut files = BTreeMap::new();
        files.insert(PATH.to_string(), jar.clone());
        files.insert(format!("{PATH}.sha1"), wrong.clone().into_bytes());
        let repo = Repo::start(files);
        let cache = tempfile::tempdir().unwrap();
        let r = resolver(&[("local", &repo)], cache.path());
        let err = r
            .resolve(&parse_coordinate("com.example:util:1.2").unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("com.example:util:1.2"), "{err}");
        assert!(err.contains("repository local"), "{err}");
        assert!(err.contains(&wrong), "{err}");
        assert!(err.contains(&sha1_hex(&jar)), "{err}");
        assert!(
            files_in(cache.path()).is_empty(),
            "{:?}",
            files_in(cache.path())
        );
    }

    #[test]
    fn sha256_and_md5_are_used_when_there_is_no_sha1() {
        let jar = b"bytes".to_vec();
        let mut files = BTreeMap::new();
        files.insert(PATH.to_string(), jar.clone());
        files.insert(
            format!("{PATH}.md5"),
            b"00000000000000000000000000000000".to_vec(),
        );
        let repo = Repo::start(files);
        let cache = tempfile::tempdir().unwrap();
        let err = resolver(&[("m", &repo)], cache.path())
            .resolve(&parse_coordinate("com.example:util:1.2").unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("md5"), "{err}");
        // No checksum at all: accepted.
        let mut files = BTreeMap::new();
        files.insert(PATH.to_string(), jar.clone());
        let repo = Repo::start(files);
        let path = resolver(&[("m", &repo)], cache.path())
            .resolve(&parse_coordinate("com.example:util:1.2").unwrap())
            .unwrap();
        assert_eq!(fs::read(path).unwrap(), jar);
    }

    #[test]
    fn missing_everywhere_names_every_repository_tried() {
        let a = Repo::start(BTreeMap::new());
        let b = Repo::start(BTreeMap::new());
        let cache = tempfile::tempdir().unwrap();
        let err = resolver(&[("first", &a), ("second", &b)], cache.path())
            .resolve(&parse_coordinate("com.example:util:1.2").unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("com.example:util:1.2"), "{err}");
        assert!(
            err.contains(&format!("first ({}/{PATH}: HTTP 404", a.url)),
            "{err}"
        );
        assert!(
            err.contains(&format!("second ({}/{PATH}: HTTP 404", b.url)),
            "{err}"
        );
        assert!(files_in(cache.path()).is_empty());
    }

    #[test]
    fn the_second_repository_is_tried_after_a_404() {
        let jar = b"x".to_vec();
        let mut files = BTreeMap::new();
        files.insert(PATH.to_string(), jar.clone());
        let a = Repo::start(BTreeMap::new());
        let b = Repo::start(files);
        let cache = tempfile::tempdir().unwrap();
        let path = resolver(&[("a", &a), ("b", &b)], cache.path())
            .resolve(&parse_coordinate("com.example:util:1.2").unwrap())
            .unwrap();
        assert_eq!(fs::read(path).unwrap(), jar);
    }

    #[test]
    fn https_repositories_are_reported_as_unsupported() {
        let cache = tempfile::tempdir().unwrap();
        let r = Resolver::new(Vec::new(), cache.path().into(), None).unwrap();
        let err = r
            .resolve(&parse_coordinate("com.example:util:1.2").unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("central (https://repo1.maven.org"), "{err}");
        assert!(err.contains("plain HTTP only"), "{err}");
    }

    #[test]
    fn coordinates_parse_and_errors_name_the_fix() {
        let c = parse_coordinate("org.a:b:1.0^x.y:z^p:q").unwrap();
        assert_eq!(
            (c.group.as_str(), c.artifact.as_str(), c.version.as_str()),
            ("org.a", "b", "1.0")
        );
        assert_eq!(
            c.exclusions,
            vec![("x.y".into(), "z".into()), ("p".into(), "q".into())]
        );
        assert_eq!(c.repository_path(), "org/a/b/1.0/b-1.0.jar");
        let c = parse_coordinate("org.a:b:zip:linux:2").unwrap();
        assert_eq!(c.repository_path(), "org/a/b/2/b-2-linux.zip");
        assert_eq!(c.key(), "org.a:b:zip:linux:2");

        let e = parse_coordinate("org.a:b").unwrap_err().to_string();
        assert!(
            e.contains("no version") && e.contains("group:artifact:version"),
            "{e}"
        );
        let e = parse_coordinate("org.a:b:1^bad").unwrap_err().to_string();
        assert!(
            e.contains("exclusion \"bad\"") && e.contains("^excl-group:excl-artifact"),
            "{e}"
        );
        let e = parse_coordinate("org.a:b:1^").unwrap_err().to_string();
        assert!(e.contains("exclusion \"\""), "{e}");
        let e = parse_coordinate("org.a::1").unwrap_err().to_string();
        assert!(e.contains("the artifact \"\""), "{e}");
        let e = parse_coordinate("../x:b:1").unwrap_err().to_string();
        assert!(e.contains("the group"), "{e}");
        assert_eq!(parse_artifacts("a:b:1, c:d:2,").unwrap().len(), 2);

        let r = parse_repositories("local^http://h:1/repo/, c^https://x").unwrap();
        assert_eq!(r[0].url, "http://h:1/repo");
        assert_eq!(r[1].name, "c");
        let e = parse_repositories("http://h/repo").unwrap_err().to_string();
        assert!(e.contains("name^url"), "{e}");
        let e = parse_repositories("n^ftp://h").unwrap_err().to_string();
        assert!(e.contains("http://"), "{e}");
    }

    #[test]
    fn flags_go_before_or_after_the_artifact() {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from([
            "storm",
            "jar",
            "--jars",
            "a.jar,b.jar",
            "--artifactRepositories=local^http://h/repo",
            "prog",
            "wc",
            "--artifacts",
            "g:a:1",
            "--other",
            "--proxyUrl=http://p:3128",
        ])
        .unwrap();
        let crate::cli::Command::Jar {
            mut deps, mut args, ..
        } = cli.command
        else {
            panic!("not jar");
        };
        assert_eq!(deps.jars.as_deref(), Some("a.jar,b.jar"));
        assert_eq!(deps.repositories.as_deref(), Some("local^http://h/repo"));
        assert_eq!(deps.artifacts, None);
        deps.take_from(&mut args).unwrap();
        assert_eq!(args, vec!["wc", "--other"]);
        assert_eq!(deps.artifacts.as_deref(), Some("g:a:1"));
        assert_eq!(deps.proxy_url.as_deref(), Some("http://p:3128"));
        let mut args = vec!["--jars".to_string()];
        let e = deps.take_from(&mut args).unwrap_err().to_string();
        assert!(e.contains("--jars needs a value"), "{e}");
    }

    #[test]
    fn any_failure_resolving_fails_before_anything_runs() {
        let dir = tempfile::tempdir().unwrap();
        let deps = DependencyArgs {
            artifacts: Some("g:a".into()),
            ..Default::default()
        };
        assert!(deps.resolve(dir.path()).is_err());
        let repo = Repo::start(BTreeMap::new());
        let deps = DependencyArgs {
            artifacts: Some("com.example:util:1.2".into()),
            repositories: Some(format!("local^{}", repo.url)),
            local_repository: Some(dir.path().join("m2")),
            ..Default::default()
        };
        let e = deps.resolve(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("not found in any repository; tried local"),
            "{e}"
        );
        assert!(DependencyArgs::default().resolve(dir.path()).unwrap() == Dependencies::default());
    }

    #[test]
    fn dependency_environment() {
        let mut d = Dependencies {
            jars: vec!["/a/x.jar".into()],
            ..Default::default()
        };
        d.artifacts
            .insert("g:a:1".into(), "/m/g/a/1/a-1.jar".into());
        assert_eq!(d.jars_env(), "/a/x.jar");
        assert_eq!(d.artifacts_env(), r#"{"g:a:1":"/m/g/a/1/a-1.jar"}"#);
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f.jar");
        fs::write(&f, b"x").unwrap();
        assert_eq!(
            local_jars(&format!("{},", f.display())).unwrap(),
            vec![f.canonicalize().unwrap()]
        );
        let e = local_jars("/no/such.jar").unwrap_err().to_string();
        assert!(e.contains("--jars: cannot read /no/such.jar"), "{e}");
    }
}
