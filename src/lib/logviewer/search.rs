//! Substring search in logs, Storm's `/api/v1/search` and `/api/v1/deepSearch/<topology-id>`
//! (`LogviewerLogSearchHandler`).
//!
//! The search streams through the file once with a window of at most `2 × 128 + needle + chunk` bytes,
//! so memory stays bounded however large the file; a match that straddles two reads is found because
//! the window keeps the tail of the previous read. Matches do not overlap (the next candidate starts
//! after the previous match), as in Storm. Each match carries up to [`GREP_CONTEXT_SIZE`] bytes of
//! context either side, cut back to whole UTF-8 characters (Storm decodes the raw byte window, which
//! can split a character into replacement marks at the edges). The search covers the file as it was
//! when the request came (its length then), even if the file grows meanwhile.
//!
//! JSON shapes (Storm's):
//!
//! * search: `{"isDaemon": "yes"|"no", "searchString", "startByteOffset", "matches": [{"byteOffset",
//!   "beforeString", "afterString", "matchString", "logviewerURL"}…], "nextByteOffset"?}`, where
//!   `nextByteOffset` (just past the last match) is there only when `num-matches` were found and the
//!   file goes on;
//! * deep search, one port: `{"fileOffset", "searchString", "matches": [<search result> + "fileName",
//!   "port"…]}` (files without matches are left out); all ports (`port` absent or `*`): a list of those.
//!
//! Differences from Storm: `num-matches` is capped at [`MAX_NUM_MATCHES`]; without `search-archived`
//! a port's "current" log is `worker.log` when it exists (Storm takes the most recently modified
//! `worker.log*` file, which can be `worker.log.err`).

use std::io::{self, Read};
use std::path::Path;

use serde_json::{json, Map, Value};

use super::files::{dir_files, mtime, sub_dirs, LogFile, LogKind, LogRoots, MAX_FILES_PER_DIR};
use super::page::{url_encode, DEFAULT_BYTES_PER_PAGE};
use super::LogviewerError;

/// The longest search string, in UTF-8 bytes.
pub const GREP_MAX_SEARCH_SIZE: usize = 1024;
/// Bytes of context either side of a match.
pub const GREP_CONTEXT_SIZE: usize = 128;
/// Matches a file search returns by default.
pub const DEFAULT_NUM_MATCHES: usize = 10;
/// Matches a deep search returns per port by default.
pub const DEFAULT_DEEP_NUM_MATCHES: usize = 1;
/// The most matches one request returns (storm-rs bound on a response's size).
pub const MAX_NUM_MATCHES: usize = 1000;
/// Bytes read from the file at a time.
pub const READ_CHUNK: usize = 64 * 1024;

/// One occurrence of the search string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// Offset of the first byte of the match in the (logical) file.
    pub byte_offset: u64,
    pub before: String,
    pub after: String,
}

/// The context before a match: drops continuation bytes at the front (a character cut in half).
pub fn before_text(bytes: &[u8]) -> String {
    let skip = bytes
        .iter()
        .take(3)
        .take_while(|&&b| b & 0xC0 == 0x80)
        .count();
    String::from_utf8_lossy(&bytes[skip..]).into_owned()
}

/// The context after a match: drops an incomplete character at the end.
pub fn after_text(bytes: &[u8]) -> String {
    let mut end = bytes.len();
    for k in 1..=bytes.len().min(3) {
        let b = bytes[bytes.len() - k];
        if b & 0xC0 == 0x80 {
            continue;
        }
        let need = match b {
            0xF8.. => 1,
            0xF0.. => 4,
            0xE0.. => 3,
            0xC0.. => 2,
            _ => 1,
        };
        if k < need {
            end = bytes.len() - k;
        }
        break;
    }
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let last_start = hay.len().checked_sub(needle.len())?;
    let mut i = 0;
    while i <= last_start {
        let at = i + hay[i..=last_start].iter().position(|&b| b == first)?;
        if hay[at + 1..at + needle.len()] == *rest {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

fn read_some(src: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match src.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Finds up to `max` non-overlapping occurrences of `needle` (not empty) in what `src` yields, whose
/// first byte is at file offset `base`, reading `chunk` bytes at a time.
pub fn find_matches(
    src: &mut impl Read,
    base: u64,
    needle: &[u8],
    max: usize,
    chunk: usize,
) -> io::Result<Vec<Match>> {
    let n = needle.len();
    let chunk = chunk.max(1);
    let mut matches = Vec::new();
    if n == 0 || max == 0 {
        return Ok(matches);
    }
    let mut buf: Vec<u8> = Vec::with_capacity(2 * GREP_CONTEXT_SIZE + n + chunk);
    let mut buf_base = base;
    let mut pos = 0usize;
    let mut eof = false;
    loop {
        let want = pos + n + GREP_CONTEXT_SIZE + chunk;
        while !eof && buf.len() < want {
            let old = buf.len();
            buf.resize(want, 0);
            let got = read_some(src, &mut buf[old..])?;
            buf.truncate(old + got);
            eof = got == 0;
        }
        // Every match ending at or before `limit` has its full after-context in the window.
        let limit = if eof {
            buf.len()
        } else {
            buf.len() - GREP_CONTEXT_SIZE
        };
        while matches.len() < max {
            let Some(i) = buf.get(pos..limit).and_then(|h| find(h, needle)) else {
                break;
            };
            let at = pos + i;
            let end = at + n;
            matches.push(Match {
                byte_offset: buf_base + at as u64,
                before: before_text(&buf[at.saturating_sub(GREP_CONTEXT_SIZE)..at]),
                after: after_text(&buf[end..(end + GREP_CONTEXT_SIZE).min(buf.len())]),
            });
            pos = end;
        }
        if eof || matches.len() >= max {
            return Ok(matches);
        }
        // Candidates starting after `limit - n` were not fully seen yet.
        pos = pos.max((limit + 1).saturating_sub(n));
        let drop = pos.saturating_sub(GREP_CONTEXT_SIZE);
        buf.drain(..drop);
        buf_base += drop as u64;
        pos -= drop;
    }
}

/// What a search asks for.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub needle: String,
    pub num_matches: usize,
    pub start_byte_offset: u64,
}

impl SearchRequest {
    /// Validates Storm's parameters: the search string is 1–1024 UTF-8 bytes, `num-matches` and
    /// `start-byte-offset` are integers (`num-matches` clamped to 1–[`MAX_NUM_MATCHES`], a negative
    /// offset is 0).
    pub fn new(
        needle: Option<&str>,
        num_matches: Option<&str>,
        start_byte_offset: Option<&str>,
        default_matches: usize,
    ) -> Result<SearchRequest, LogviewerError> {
        let num_matches = parse_int("num-matches", num_matches)?
            .map(|n| n.clamp(1, MAX_NUM_MATCHES as i64) as usize)
            .unwrap_or(default_matches);
        let start_byte_offset = parse_int("start-byte-offset", start_byte_offset)?
            .map(|n| n.max(0) as u64)
            .unwrap_or(0);
        let needle = needle.unwrap_or("");
        if needle.is_empty() || needle.len() > GREP_MAX_SEARCH_SIZE {
            return Err(LogviewerError::BadRequest(format!(
                "Search substring must be between 1 and {GREP_MAX_SEARCH_SIZE} UTF-8 bytes in size (inclusive)"
            )));
        }
        Ok(SearchRequest {
            needle: needle.to_string(),
            num_matches,
            start_byte_offset,
        })
    }
}

/// Parses an optional integer parameter (empty counts as absent).
pub fn parse_int(name: &str, value: Option<&str>) -> Result<Option<i64>, LogviewerError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
            LogviewerError::BadRequest(format!("Could not parse {name} to an integer"))
        }),
    }
}

/// Where match links point: this logviewer's scheme, host and port.
#[derive(Debug, Clone)]
pub struct LinkBase {
    pub host: String,
    pub port: u16,
}

impl LinkBase {
    /// The page of `file` centred on a match at `offset` (Storm's `urlToMatchCenteredInLogPage`).
    pub fn match_url(&self, file: &LogFile, offset: u64, needle_len: usize) -> String {
        let half = DEFAULT_BYTES_PER_PAGE / 2;
        let start = (offset + (needle_len / 2) as u64).saturating_sub(half);
        let endpoint = match file.kind {
            LogKind::Daemon => "daemonlog",
            LogKind::Worker { .. } => "log",
        };
        format!(
            "http://{}:{}/api/v1/{endpoint}?file={}&start={start}&length={DEFAULT_BYTES_PER_PAGE}",
            self.host,
            self.port,
            url_encode(&file.name)
        )
    }
}

/// Searches one file; the JSON of Storm's `/api/v1/search` (without the outer status). A start offset
/// past the end is a bad request.
pub fn search_file(
    file: &LogFile,
    req: &SearchRequest,
    links: &LinkBase,
) -> Result<Map<String, Value>, LogviewerError> {
    let len = file.logical_len()?;
    if req.start_byte_offset > len {
        return Err(LogviewerError::BadRequest(
            "Cannot search past the end of the file".into(),
        ));
    }
    let mut src = file.open_range(req.start_byte_offset, len - req.start_byte_offset)?;
    let needle = req.needle.as_bytes();
    let matches = find_matches(
        &mut src,
        req.start_byte_offset,
        needle,
        req.num_matches,
        READ_CHUNK,
    )
    .map_err(|e| LogviewerError::io("cannot search", &file.path, e))?;
    let next = match matches.last() {
        Some(m) if matches.len() >= req.num_matches => {
            Some(m.byte_offset + needle.len() as u64).filter(|n| *n < len)
        }
        _ => None,
    };
    let is_daemon = if file.kind == LogKind::Daemon {
        "yes"
    } else {
        "no"
    };
    let mut out = Map::new();
    out.insert("isDaemon".into(), json!(is_daemon));
    out.insert("searchString".into(), json!(req.needle));
    out.insert("startByteOffset".into(), json!(req.start_byte_offset));
    let list: Vec<Value> = matches
        .iter()
        .map(|m| {
            json!({
                "byteOffset": m.byte_offset,
                "beforeString": m.before,
                "afterString": m.after,
                "matchString": req.needle,
                "logviewerURL": links.match_url(file, m.byte_offset, needle.len()),
            })
        })
        .collect();
    out.insert("matches".into(), Value::Array(list));
    if let Some(n) = next {
        out.insert("nextByteOffset".into(), json!(n));
    }
    Ok(out)
}

/// What a deep search asks for, besides the search itself.
#[derive(Debug, Clone)]
pub struct DeepSearch {
    pub search: SearchRequest,
    /// `None` (absent or `*`): every port of the topology.
    pub port: Option<String>,
    pub start_file_offset: usize,
    pub search_archived: bool,
}

/// A port's `worker.log*` files, newest first (Storm's `logsForPort`).
fn logs_for_port(dir: &Path) -> Vec<(String, std::path::PathBuf)> {
    let mut logs: Vec<(String, std::path::PathBuf)> = dir_files(dir, MAX_FILES_PER_DIR)
        .into_iter()
        .filter(|(name, _)| name.starts_with("worker.log"))
        .collect();
    logs.sort_by(|a, b| mtime(&b.1).cmp(&mtime(&a.1)).then_with(|| a.0.cmp(&b.0)));
    logs
}

/// Storm's `findNMatches`: searches `logs` (from index `file_offset`) until `num_matches` are found.
fn find_n_matches(
    roots: &LogRoots,
    topology: &str,
    port: &str,
    logs: &[String],
    req: &SearchRequest,
    mut file_offset: usize,
    links: &LinkBase,
) -> Value {
    let mut found = Vec::new();
    let mut count = 0usize;
    let mut start = req.start_byte_offset;
    for name in logs.iter().skip(file_offset) {
        let full = format!("{topology}/{port}/{name}");
        let per_file = SearchRequest {
            needle: req.needle.clone(),
            num_matches: req.num_matches - count,
            start_byte_offset: start,
        };
        let result = roots
            .worker_file(&full)
            .and_then(|f| search_file(&f, &per_file, links));
        start = 0;
        let Ok(mut result) = result else {
            file_offset += 1;
            continue;
        };
        let n = result
            .get("matches")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if n == 0 {
            file_offset += 1;
            continue;
        }
        result.insert("fileName".into(), json!(full));
        result.insert("port".into(), json!(port));
        found.push(Value::Object(result));
        count += n;
        if count >= req.num_matches {
            break;
        }
        file_offset += 1;
    }
    json!({ "fileOffset": file_offset, "searchString": req.needle, "matches": found })
}

/// Storm's `/api/v1/deepSearch/<topology-id>`; `slots` are `supervisor.slots.ports` (a single `port`
/// must be one of them).
pub fn deep_search(
    roots: &LogRoots,
    topology: &str,
    req: &DeepSearch,
    slots: &[i64],
    links: &LinkBase,
) -> Result<Value, LogviewerError> {
    let Some(topo_dir) = roots.topology_dir(topology) else {
        return Ok(json!([]));
    };
    let pick = |dir: &Path| -> Vec<String> {
        let logs = logs_for_port(dir);
        if req.search_archived {
            logs.into_iter().map(|(n, _)| n).collect()
        } else if logs.iter().any(|(n, _)| n == "worker.log") {
            vec!["worker.log".to_string()]
        } else {
            logs.into_iter().take(1).map(|(n, _)| n).collect()
        }
    };
    match &req.port {
        None => {
            let mut out = Vec::new();
            for (port, dir) in sub_dirs(&topo_dir, MAX_FILES_PER_DIR) {
                let logs = pick(&dir);
                if !logs.is_empty() {
                    out.push(find_n_matches(
                        roots,
                        topology,
                        &port,
                        &logs,
                        &SearchRequest {
                            start_byte_offset: 0,
                            ..req.search.clone()
                        },
                        0,
                        links,
                    ));
                }
            }
            Ok(Value::Array(out))
        }
        Some(port) => {
            let n = parse_int("port", Some(port))?.unwrap_or(0);
            if !slots.contains(&n) {
                return Ok(json!([]));
            }
            let Some(dir) = roots.port_dir(topology, &n.to_string()) else {
                return Ok(json!([]));
            };
            let logs = pick(&dir);
            // Without archived logs there is one file, so only the byte offset applies.
            let file_offset = if req.search_archived {
                req.start_file_offset
            } else {
                0
            };
            Ok(find_n_matches(
                roots,
                topology,
                &n.to_string(),
                &logs,
                &req.search,
                file_offset,
                links,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The reference: the whole haystack in memory.
    fn naive(hay: &[u8], base: u64, needle: &[u8], max: usize) -> Vec<Match> {
        let mut out = Vec::new();
        let n = needle.len();
        let mut i = 0;
        while out.len() < max && i + n <= hay.len() {
            if &hay[i..i + n] == needle {
                out.push(Match {
                    byte_offset: base + i as u64,
                    before: before_text(&hay[i.saturating_sub(GREP_CONTEXT_SIZE)..i]),
                    after: after_text(&hay[i + n..(i + n + GREP_CONTEXT_SIZE).min(hay.len())]),
                });
                i += n;
            } else {
                i += 1;
            }
        }
        out
    }

    /// A reader that returns at most `step` bytes per call (short reads).
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(self.1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn streaming_search_matches_the_naive_reference(
            hay in proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), Just(b'\n'), Just(0xC3u8), Just(0xA9u8)], 0..1200),
            needle in proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), Just(0xC3u8)], 1..6),
            max in 1usize..50,
            chunk in 1usize..300,
            step in 1usize..200,
            base in 0u64..1000,
        ) {
            let got = find_matches(&mut Trickle(&hay, step), base, &needle, max, chunk).unwrap();
            prop_assert_eq!(got, naive(&hay, base, &needle, max));
        }
    }

    #[test]
    fn a_match_across_read_boundaries_is_found_with_full_context() {
        let mut hay = vec![b'x'; 10_000];
        hay[4_998..5_003].copy_from_slice(b"NEEDL");
        for chunk in [1, 7, 100, 4_999, 5_000, 5_001, 65_536] {
            let got = find_matches(&mut &hay[..], 0, b"NEEDL", 10, chunk).unwrap();
            assert_eq!(got.len(), 1, "chunk {chunk}");
            assert_eq!(got[0].byte_offset, 4_998);
            assert_eq!(got[0].before.len(), GREP_CONTEXT_SIZE);
            assert_eq!(got[0].after.len(), GREP_CONTEXT_SIZE);
        }
    }

    #[test]
    fn matches_do_not_overlap_and_stop_at_max() {
        let got = find_matches(&mut &b"aaaaa"[..], 10, b"aa", 10, 2).unwrap();
        let offsets: Vec<u64> = got.iter().map(|m| m.byte_offset).collect();
        assert_eq!(offsets, vec![10, 12]);
        let got = find_matches(&mut &b"ab ab ab"[..], 0, b"ab", 2, 3).unwrap();
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn context_is_cut_to_whole_characters() {
        // "é" is C3 A9; "€" is E2 82 AC.
        assert_eq!(before_text(&[0xA9, b'x']), "x");
        assert_eq!(before_text(&[0x82, 0xAC, b'x']), "x");
        assert_eq!(before_text("é".as_bytes()), "é");
        assert_eq!(after_text(&[b'x', 0xE2, 0x82]), "x");
        assert_eq!(after_text(&[b'x', 0xC3]), "x");
        assert_eq!(after_text("x€".as_bytes()), "x€");
        assert_eq!(after_text(&[b'x', 0xFF]), "x\u{FFFD}");
        let mut hay = "é".repeat(200).into_bytes();
        hay.extend_from_slice(b"HIT");
        hay.extend("€".repeat(100).as_bytes());
        let m = &find_matches(&mut &hay[..], 0, b"HIT", 1, 5).unwrap()[0];
        assert_eq!(m.before, "é".repeat(64));
        assert_eq!(m.after, "€".repeat(42));
        assert!(!m.before.contains('\u{FFFD}') && !m.after.contains('\u{FFFD}'));
    }

    #[test]
    fn requests_are_validated() {
        let ok = SearchRequest::new(Some("x"), Some("5"), Some("-3"), 10).unwrap();
        assert_eq!((ok.num_matches, ok.start_byte_offset), (5, 0));
        assert_eq!(
            SearchRequest::new(Some("x"), None, None, 10)
                .unwrap()
                .num_matches,
            10
        );
        assert_eq!(
            SearchRequest::new(Some("x"), Some("100000"), None, 10)
                .unwrap()
                .num_matches,
            MAX_NUM_MATCHES
        );
        assert!(SearchRequest::new(Some(""), None, None, 10).is_err());
        assert!(SearchRequest::new(None, None, None, 10).is_err());
        assert!(SearchRequest::new(Some(&"y".repeat(1025)), None, None, 10).is_err());
        assert!(SearchRequest::new(Some(&"y".repeat(1024)), None, None, 10).is_ok());
        assert!(SearchRequest::new(Some("x"), Some("ten"), None, 10).is_err());
        assert!(SearchRequest::new(Some("x"), None, Some("1e3"), 10).is_err());
    }

    #[test]
    fn match_links_centre_the_match() {
        let links = LinkBase {
            host: "h".into(),
            port: 8000,
        };
        let f = LogFile {
            name: "t-1-1/6700/worker.log".into(),
            path: "/x".into(),
            kind: LogKind::Worker {
                topology: "t-1-1".into(),
                port: "6700".into(),
            },
        };
        assert_eq!(
            links.match_url(&f, 100_000, 4),
            "http://h:8000/api/v1/log?file=t-1-1%2F6700%2Fworker.log&start=74402&length=51200"
        );
        assert!(links.match_url(&f, 10, 4).contains("&start=0&"));
    }
}
