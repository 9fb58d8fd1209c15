//! The logviewer's HTML: a log page by byte offset with first/prev/next/last navigation (Storm's
//! `/api/v1/log` and `/api/v1/daemonlog`), the landing page listing this node's logs, the search
//! results page and the dump-file list. Also the paging arithmetic and the URL/HTML escaping the pages
//! share.
//!
//! A page is streamed: the file range is read, decoded as UTF-8 (invalid or cut bytes become U+FFFD,
//! as Storm's decoding does), HTML-escaped and written out a chunk at a time, so a 10 MiB page costs a
//! few kilobytes of memory. With `grep`, only the page's lines containing it are shown (lines longer
//! than [`MAX_GREP_LINE`] are judged in pieces).

use std::fmt::Write as _;
use std::io::{self, Cursor, Read};

use serde_json::{Map, Value};

use super::files::{LogFile, LogKind};
use super::LogviewerError;
pub use crate::http::{url_decode_lossy as url_decode, url_encode};

/// Bytes on a page when the request names no length (Storm's `DEFAULT_BYTES_PER_PAGE`).
pub const DEFAULT_BYTES_PER_PAGE: u64 = 51200;
/// The longest page (Storm caps `length` at 10 MiB).
pub const MAX_PAGE_LENGTH: u64 = 10 * 1024 * 1024;
/// The longest line `grep` judges whole.
pub const MAX_GREP_LINE: usize = 1024 * 1024;

/// One page of a file: `[start, end)` of a file `file_length` long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub start: u64,
    pub length: u64,
    pub file_length: u64,
}

impl Page {
    /// Storm's paging: `length` defaults to [`DEFAULT_BYTES_PER_PAGE`] and is capped at
    /// [`MAX_PAGE_LENGTH`] (at least 1); without `start` the page is the file's last; a negative start is
    /// 0; a start at or past the end of a non-empty file is a bad request.
    pub fn new(
        file_length: u64,
        start: Option<i64>,
        length: Option<i64>,
    ) -> Result<Page, LogviewerError> {
        let length = length.map_or(DEFAULT_BYTES_PER_PAGE, |l| {
            (l.max(1) as u64).min(MAX_PAGE_LENGTH)
        });
        let start = match start {
            None => file_length.saturating_sub(length),
            Some(s) if s <= 0 => 0,
            Some(s) if s as u64 >= file_length => {
                return Err(LogviewerError::BadRequest(
                    "Cannot start past the end of the file".into(),
                ))
            }
            Some(s) => s as u64,
        };
        Ok(Page {
            start,
            length,
            file_length,
        })
    }

    /// One past the last byte shown.
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.length).min(self.file_length)
    }

    /// The start of the previous page, if there is one.
    pub fn prev(&self) -> Option<u64> {
        (self.start > 0).then(|| self.start.saturating_sub(self.length))
    }

    /// The start of the next page, if it moves forward (never past the last full page).
    pub fn next(&self) -> Option<u64> {
        let next = self
            .file_length
            .saturating_sub(self.length)
            .min(self.start.saturating_add(self.length));
        (next > self.start).then_some(next)
    }
}

/// Escapes text for HTML content and attribute values.
pub fn escape_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// [`escape_into`] a new string.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(s, &mut out);
    out
}

/// Decodes the complete UTF-8 prefix of `pending` (invalid bytes become U+FFFD), leaving an
/// incomplete character at the end for the next call unless `last`.
fn decode(pending: &mut Vec<u8>, last: bool) -> String {
    let mut s = String::new();
    let mut i = 0;
    while i < pending.len() {
        match std::str::from_utf8(&pending[i..]) {
            Ok(v) => {
                s.push_str(v);
                i = pending.len();
            }
            Err(e) => {
                let good = e.valid_up_to();
                s.push_str(std::str::from_utf8(&pending[i..i + good]).unwrap_or_default());
                i += good;
                match e.error_len() {
                    Some(n) => {
                        s.push('\u{FFFD}');
                        i += n;
                    }
                    None if last => {
                        s.push('\u{FFFD}');
                        i = pending.len();
                    }
                    None => break,
                }
            }
        }
    }
    pending.drain(..i);
    s
}

/// Streams bytes as HTML-escaped text (see the module doc), optionally keeping only lines that
/// contain `grep`.
pub struct EscapedText<R> {
    src: R,
    grep: Option<String>,
    pending: Vec<u8>,
    line: String,
    emitted_line: bool,
    out: Vec<u8>,
    out_pos: usize,
    eof: bool,
}

impl<R: Read> EscapedText<R> {
    pub fn new(src: R, grep: Option<String>) -> EscapedText<R> {
        EscapedText {
            src,
            grep: grep.filter(|g| !g.is_empty()),
            pending: Vec::new(),
            line: String::new(),
            emitted_line: false,
            out: Vec::new(),
            out_pos: 0,
            eof: false,
        }
    }

    fn finish_line(&mut self, text: &mut String) {
        let keep = self.grep.as_deref().is_some_and(|g| self.line.contains(g));
        if keep {
            if self.emitted_line {
                text.push('\n');
            }
            escape_into(&self.line, text);
            self.emitted_line = true;
        }
        self.line.clear();
    }

    fn fill(&mut self) -> io::Result<()> {
        let mut raw = [0u8; 16 * 1024];
        let n = loop {
            match self.src.read(&mut raw) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r?,
            }
        };
        self.eof = n == 0;
        self.pending.extend_from_slice(&raw[..n]);
        let text = decode(&mut self.pending, self.eof);
        let mut html = String::with_capacity(text.len() + text.len() / 8);
        if self.grep.is_none() {
            escape_into(&text, &mut html);
        } else {
            let mut pieces = text.split('\n').peekable();
            while let Some(piece) = pieces.next() {
                self.line.push_str(piece);
                if pieces.peek().is_some() || self.line.len() >= MAX_GREP_LINE {
                    self.finish_line(&mut html);
                }
            }
            if self.eof && !self.line.is_empty() {
                self.finish_line(&mut html);
            }
        }
        self.out = html.into_bytes();
        self.out_pos = 0;
        Ok(())
    }
}

impl<R: Read> Read for EscapedText<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.out_pos >= self.out.len() {
            if self.eof {
                return Ok(0);
            }
            self.fill()?;
        }
        let n = buf.len().min(self.out.len() - self.out_pos);
        buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}

/// The pages' stylesheet: the Storm UI's colours and fonts (src/lib/ui/assets/ui.css), inline.
const STYLE: &str = "body{margin:0;padding:0 24px 40px;background:#f4f6f9;color:#1d2733;\
font:14px system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif}\
header.top{margin:0 -24px 14px;padding:10px 24px;background:#16202c;font-weight:700;font-size:16px}\
header.top a{color:#fff}a{color:#1f6feb;text-decoration:none}a:hover{text-decoration:underline}\
h2,h3{font-size:16px;margin:14px 0 10px;overflow-wrap:anywhere}\
pre{background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:10px 12px;margin:8px 0;\
font:12.5px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:pre-wrap;\
word-break:break-all}td pre{margin:2px 0;padding:4px 8px}\
.btn{display:inline-block;padding:3px 12px;margin-right:6px;border:1px solid #c5ced8;border-radius:6px;\
background:#fff;color:#1d2733}.btn.disabled{color:#aab3bd;border-color:#e3e8ee;background:transparent}\
.match{background:#ffe066;font-weight:bold}td{vertical-align:top;padding:.2em .5em}\
form{display:inline-block;margin:.3em 1.5em .3em 0}.pager{margin:8px 0}\
input,select{font:inherit;padding:3px 6px;border:1px solid #c5ced8;border-radius:6px;background:#fff}\
input[type=submit]{cursor:pointer}\
ul{background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:10px 10px 10px 30px;line-height:1.7}";

fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{} - Storm Log Viewer</title>\
         <style>{STYLE}</style></head>\n<body>\n\
         <header class=\"top\"><a href=\"/\">Storm Log Viewer</a></header>\n",
        escape(title)
    )
}

/// The API endpoints of a file's kind: (page, download).
fn endpoints(file: &LogFile) -> (&'static str, &'static str) {
    match file.kind {
        LogKind::Daemon => ("daemonlog", "daemondownload"),
        LogKind::Worker { .. } => ("log", "download"),
    }
}

fn page_url(endpoint: &str, file: &str, start: Option<u64>, length: u64) -> String {
    let mut url = format!("/api/v1/{endpoint}?file={}", url_encode(file));
    if let Some(s) = start {
        let _ = write!(url, "&start={s}");
    }
    let _ = write!(url, "&length={length}");
    url
}

fn pager(file: &LogFile, page: &Page) -> String {
    let (endpoint, _) = endpoints(file);
    let button = |label: &str, start: Option<Option<u64>>| match start {
        Some(s) => format!(
            "<a class=\"btn enabled\" href=\"{}\">{label}</a>",
            escape(&page_url(endpoint, &file.name, s, page.length))
        ),
        None => format!("<span class=\"btn disabled\">{label}</span>"),
    };
    format!(
        "<div class=\"pager\">{}{}{}{}</div>\n",
        button("Prev", page.prev().map(Some)),
        button("First", Some(Some(0))),
        button("Last", Some(None)),
        button("Next", page.next().map(Some)),
    )
}

/// The HTML page of `file` for `page` (streamed). `siblings` are the other files offered in the
/// file switcher (the current one is added last, as Storm does).
pub fn log_page(
    file: &LogFile,
    page: &Page,
    grep: Option<&str>,
    siblings: &[String],
) -> Result<Box<dyn Read + Send>, LogviewerError> {
    let (endpoint, download) = endpoints(file);
    let mut top = head(&file.name);
    let _ = writeln!(top, "<h3>{}</h3>", escape(&file.name));
    let body: Box<dyn Read + Send> = if file.is_text() {
        Box::new(EscapedText::new(
            file.open_range(page.start, page.end() - page.start)?,
            grep.map(str::to_string),
        ))
    } else {
        Box::new(Cursor::new(
            "This is not a text file; download it to read it.".as_bytes(),
        ))
    };
    if grep.is_some_and(|g| !g.is_empty()) {
        top.push_str("<pre id=\"logContent\">");
        let tail = "</pre>\n</body></html>\n".to_string();
        return Ok(Box::new(
            Cursor::new(top.into_bytes())
                .chain(body)
                .chain(Cursor::new(tail.into_bytes())),
        ));
    }
    let is_daemon = if file.kind == LogKind::Daemon {
        "yes"
    } else {
        "no"
    };
    let _ = writeln!(
        top,
        "<form action=\"/logviewer_search.html\" id=\"search-box\">Find in this file: \
         <input type=\"text\" name=\"search\"><input type=\"hidden\" name=\"is-daemon\" value=\"{is_daemon}\">\
         <input type=\"hidden\" name=\"file\" value=\"{}\"><input type=\"submit\" value=\"Search\"></form>",
        escape(&file.name)
    );
    let mut options = String::new();
    for name in siblings
        .iter()
        .filter(|n| **n != file.name)
        .chain([&file.name])
    {
        let selected = if *name == file.name { " selected" } else { "" };
        let _ = write!(options, "<option{selected}>{}</option>", escape(name));
    }
    let _ = writeln!(
        top,
        "<form action=\"/api/v1/{endpoint}\" id=\"list-of-files\"><select name=\"file\" id=\"file\">{options}\
         </select> <input type=\"submit\" value=\"Open\"></form>"
    );
    let nav = if file.is_text() {
        pager(file, page)
    } else {
        String::new()
    };
    top.push_str(&nav);
    let _ = writeln!(
        top,
        "<p>Bytes {}–{} of {}. <a href=\"/api/v1/{download}?file={}\">Download the whole file</a></p>",
        page.start,
        page.end(),
        page.file_length,
        escape(&url_encode(&file.name))
    );
    top.push_str("<pre class=\"logContent\">");
    let tail = format!("</pre>\n{nav}</body></html>\n");
    Ok(Box::new(
        Cursor::new(top.into_bytes())
            .chain(body)
            .chain(Cursor::new(tail.into_bytes())),
    ))
}

/// The landing page: this node's daemon logs and worker logs, each linked to its page.
pub fn landing_page(daemon_logs: &[String], worker_logs: &[String]) -> String {
    let mut html = head("Logs");
    html.push_str("<h3>Daemon logs</h3>\n<ul>\n");
    for name in daemon_logs {
        let _ = writeln!(
            html,
            "<li><a href=\"/api/v1/daemonlog?file={}\">{}</a></li>",
            escape(&url_encode(name)),
            escape(name)
        );
    }
    html.push_str("</ul>\n<h3>Worker logs</h3>\n<ul>\n");
    for name in worker_logs {
        let _ = writeln!(
            html,
            "<li><a href=\"/api/v1/log?file={}\">{}</a></li>",
            escape(&url_encode(name)),
            escape(name)
        );
    }
    if worker_logs.is_empty() {
        html.push_str("<li>none</li>\n");
    }
    html.push_str("</ul>\n</body></html>\n");
    html
}

/// The search results page for one file, from the JSON [`super::search::search_file`] made.
pub fn search_page(file: &LogFile, result: &Map<String, Value>, num_matches: usize) -> String {
    let needle = result
        .get("searchString")
        .and_then(Value::as_str)
        .unwrap_or("");
    let is_daemon = if file.kind == LogKind::Daemon {
        "yes"
    } else {
        "no"
    };
    let (endpoint, _) = endpoints(file);
    let mut html = head(&format!("Search {}", file.name));
    let _ = writeln!(
        html,
        "<h3>Search <a href=\"/api/v1/{endpoint}?file={}\">{}</a></h3>\
         <form action=\"/logviewer_search.html\"><input type=\"text\" name=\"search\" value=\"{}\">\
         <input type=\"hidden\" name=\"is-daemon\" value=\"{is_daemon}\"><input type=\"hidden\" name=\"file\" \
         value=\"{}\"><input type=\"submit\" value=\"Search\"></form>",
        escape(&url_encode(&file.name)),
        escape(&file.name),
        escape(needle),
        escape(&file.name)
    );
    let matches = result
        .get("matches")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if matches.is_empty() {
        html.push_str("<p>No matches.</p>\n");
    }
    html.push_str("<table>\n");
    for m in matches {
        let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("");
        let _ = writeln!(
            html,
            "<tr><td><a href=\"{}\">{}</a></td><td><pre>{}<span class=\"match\">{}</span>{}</pre></td></tr>",
            escape(s("logviewerURL")),
            m.get("byteOffset").and_then(Value::as_u64).unwrap_or(0),
            escape(s("beforeString")),
            escape(s("matchString")),
            escape(s("afterString"))
        );
    }
    html.push_str("</table>\n");
    if let Some(next) = result.get("nextByteOffset").and_then(Value::as_u64) {
        let _ = writeln!(
            html,
            "<p><a class=\"btn enabled\" href=\"/logviewer_search.html?search={}&amp;is-daemon={is_daemon}&amp;file={}\
             &amp;start-byte-offset={next}&amp;num-matches={num_matches}\">More matches</a></p>",
            escape(&url_encode(needle)),
            escape(&url_encode(&file.name))
        );
    }
    html.push_str("</body></html>\n");
    html
}

/// A page with one message (errors of the HTML endpoints).
pub fn message_page(title: &str, message: &str) -> String {
    format!(
        "{}<p>{}</p>\n</body></html>\n",
        head(title),
        escape(message)
    )
}

/// The dump files (`.txt`, `.jfr`, `.bin`) of one worker, linked for download.
pub fn dumps_page(topology: &str, host_port: &str, files: &[String]) -> String {
    let mut html = head("File Dumps");
    html.push_str("<ul>\n");
    for f in files {
        let _ = writeln!(
            html,
            "<li><a href=\"/api/v1/dumps/{}/{}/{}\">{}</a></li>",
            escape(&url_encode(topology)),
            escape(&url_encode(host_port)),
            escape(&url_encode(f)),
            escape(f)
        );
    }
    html.push_str("</ul>\n</body></html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(len: u64, start: Option<i64>, length: Option<i64>) -> Page {
        Page::new(len, start, length).unwrap()
    }

    #[test]
    fn the_default_page_is_the_last() {
        let p = page(200_000, None, None);
        assert_eq!((p.start, p.length, p.end()), (148_800, 51_200, 200_000));
        assert_eq!(p.next(), None);
        assert_eq!(p.prev(), Some(97_600));
        // A file shorter than a page: the whole file, nowhere to go.
        let p = page(100, None, None);
        assert_eq!((p.start, p.end(), p.prev(), p.next()), (0, 100, None, None));
        let p = page(0, None, None);
        assert_eq!((p.start, p.end(), p.prev(), p.next()), (0, 0, None, None));
    }

    #[test]
    fn navigation_moves_by_whole_pages() {
        let p = page(1000, Some(0), Some(300));
        assert_eq!((p.end(), p.prev(), p.next()), (300, None, Some(300)));
        let p = page(1000, Some(300), Some(300));
        assert_eq!((p.prev(), p.next()), (Some(0), Some(600)));
        let p = page(1000, Some(600), Some(300));
        // The next page is the last full page.
        assert_eq!((p.end(), p.next()), (900, Some(700)));
        let p = page(1000, Some(700), Some(300));
        assert_eq!((p.end(), p.prev(), p.next()), (1000, Some(400), None));
        let p = page(1000, Some(100), Some(300));
        assert_eq!(p.prev(), Some(0));
        let p = page(1000, Some(950), Some(300));
        assert_eq!((p.end(), p.next()), (1000, None));
    }

    #[test]
    fn bad_and_odd_parameters() {
        assert!(Page::new(1000, Some(1000), None).is_err());
        assert!(Page::new(1000, Some(5000), None).is_err());
        assert_eq!(page(1000, Some(-5), Some(10)).start, 0);
        assert_eq!(page(0, Some(0), None).end(), 0);
        assert_eq!(page(1000, Some(0), Some(0)).length, 1);
        assert_eq!(page(1000, Some(0), Some(-7)).length, 1);
        assert_eq!(
            page(u64::MAX, Some(0), Some(i64::MAX)).length,
            MAX_PAGE_LENGTH
        );
        let p = page(u64::MAX, Some(i64::MAX), Some(i64::MAX));
        assert_eq!(p.end(), i64::MAX as u64 + MAX_PAGE_LENGTH);
        assert_eq!(p.next(), Some(p.end()));
        let p = page(u64::MAX, None, None);
        assert_eq!((p.end(), p.next()), (u64::MAX, None));
    }

    #[test]
    fn urls_are_encoded_like_java() {
        assert_eq!(
            url_encode("t-1-1/6700/worker.log"),
            "t-1-1%2F6700%2Fworker.log"
        );
        assert_eq!(url_encode("a b&c=é"), "a+b%26c%3D%C3%A9");
    }

    fn stream(bytes: &[u8], grep: Option<&str>, step: usize) -> String {
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(self.1).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut out = String::new();
        EscapedText::new(Trickle(bytes, step), grep.map(str::to_string))
            .read_to_string(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn text_is_escaped_and_decoded_across_reads() {
        let text = "a<b>&\"é€\n".repeat(50);
        for step in [1, 2, 3, 7, 1000] {
            assert_eq!(
                stream(text.as_bytes(), None, step),
                escape(&text),
                "step {step}"
            );
        }
        // Cut characters at the edges become one replacement mark each, as lossy decoding does.
        let cut = &"é€x".as_bytes()[1..5];
        assert_eq!(stream(cut, None, 1), String::from_utf8_lossy(cut));
        assert_eq!(stream(&[0xE2, 0x82], None, 1), "\u{FFFD}");
    }

    #[test]
    fn grep_keeps_matching_lines() {
        let text = "one ERROR <x>\ntwo ok\nthree ERROR\n\nfour";
        for step in [1, 4, 100] {
            assert_eq!(
                stream(text.as_bytes(), Some("ERROR"), step),
                "one ERROR &lt;x&gt;\nthree ERROR"
            );
        }
        assert_eq!(stream(b"a\nb", Some("zzz"), 1), "");
    }
}
