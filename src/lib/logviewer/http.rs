//! The logviewer's HTTP server on `logviewer.port` (Storm's `LogviewerResource`, mounted at `/api/v1/`):
//!
//! | Request | Answer |
//! |---|---|
//! | `GET /api/v1/log?file=<topo>/<port>/<file>&start=&length=&grep=` | HTML page of a worker log |
//! | `GET /api/v1/daemonlog?file=<file>&start=&length=&grep=` | HTML page of a daemon log |
//! | `GET /api/v1/download?file=…`, `/api/v1/daemondownload?file=…` | the whole file, `Content-Disposition: attachment; filename="<host>-<topo>-<port>-<file>"` (daemon: `<host>-<file>`) |
//! | `GET /api/v1/search?file=&search-string=&num-matches=&start-byte-offset=&is-daemon=yes&callback=` | JSON matches ([`super::search`]) |
//! | `GET /api/v1/deepSearch/<topo>?search-string=&num-matches=&port=&start-file-offset=&start-byte-offset=&search-archived=` | JSON matches per port |
//! | `GET /api/v1/listLogs?topoId=&port=&callback=`, `/api/v1/searchLogs?…&callbackParameterName=` | JSON list of `topo/port/file` |
//! | `GET /api/v1/dumps/<topo>/<host>:<port>` and `…/<file>` | HTML list of `.txt`/`.jfr`/`.bin` dumps, a dump's bytes |
//! | `GET /`, `/logviewer.html` | landing page listing this node's logs |
//! | `GET /logviewer_search.html?search=&file=&is-daemon=` | search results page (what the log page's search box opens) |
//!
//! The API paths also answer without the `/api/v1` prefix (Storm 1.x's `/log?file=…` links). The `file`
//! parameter is URL-decoded twice, as Storm does (`getParameter` then `urlDecodeUtf8`). Statuses are
//! Storm's: a missing or refused file is 404 (`Page not found` as HTML; for search, JSON `{"error":
//! "Not Found", "errorMessage": "The file was not found on this node."}`); a bad parameter is 400 (the
//! HTML endpoints answer with the message as text, the JSON ones with `{"error": "400 Bad Request",
//! "errorMessage"}`); an I/O failure is 500. JSON answers honour JSONP callbacks (sanitized as Storm does)
//! and carry Storm's CORS headers. Methods other than GET/HEAD are 405.
//!
//! The server is [`crate::http::Server`] (hyper): request headers over 8 KiB are refused with 431,
//! keep-alive connections are served, a fixed pool of [`THREADS`] threads answers. Pages and
//! downloads are streamed (read a chunk at a time as the client takes them), so memory per request
//! is small whatever the file size, and a slow client holds no thread. A panic while serving a
//! request is caught and logged; the thread keeps serving.

use std::io::Read;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde_json::{json, Value};

use crate::http::{Limits, Method, Request, Response, Server};

use super::files::{dir_files, is_plain_segment, LogFile, LogKind, LogRoots, MAX_FILES_PER_DIR};
use super::page::{self, url_decode, Page};
use super::search::{
    self, parse_int, DeepSearch, LinkBase, SearchRequest, DEFAULT_DEEP_NUM_MATCHES,
    DEFAULT_NUM_MATCHES,
};
use super::LogviewerError;

/// Threads serving requests (a slow client holds one for the length of its download).
pub const THREADS: usize = 16;
/// Worker logs shown on the landing page.
pub const LANDING_PAGE_MAX: usize = 5000;

/// Connections at once.
pub const MAX_CONNECTIONS: usize = 512;

/// A response (pages and downloads streamed).
pub type Reply = Response;

/// What the handlers need.
#[derive(Debug, Clone)]
pub struct Context {
    pub roots: LogRoots,
    /// Host and port for the links in search results.
    pub links: LinkBase,
    /// `supervisor.slots.ports`: the ports a deep search may name.
    pub slots: Vec<i64>,
    /// `logviewer.filter` (else `ui.filter`): credentials asked of every request.
    pub auth: Option<crate::security::http_auth::BasicAuth>,
}

/// A running server; [`HttpServer::shutdown`] (or drop) stops it.
pub struct HttpServer {
    server: Server,
}

impl HttpServer {
    /// Binds `addr` and serves; `context` is given the bound address (for the links it writes).
    pub fn start(
        addr: &str,
        context: impl FnOnce(SocketAddr) -> Context,
    ) -> std::io::Result<HttpServer> {
        let listener = std::net::TcpListener::bind(addr)?;
        let ctx = context(listener.local_addr()?);
        let limits = Limits {
            max_connections: MAX_CONNECTIONS,
            ..Limits::new(THREADS)
        };
        let server = Server::serve(listener, "logviewer", limits, move |request: Request| {
            serve(request, &ctx)
        })?;
        Ok(HttpServer { server })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Stops taking requests, lets the requests in progress finish and waits for the server.
    pub fn shutdown(&mut self) {
        self.server.shutdown();
    }
}

fn serve(request: Request, ctx: &Context) -> Reply {
    if let Some(auth) = &ctx.auth {
        if let Err(resp) = auth.check_request(&request) {
            return resp;
        }
    }
    let (method, url) = (request.method(), request.url());
    let reply = match catch_unwind(AssertUnwindSafe(|| {
        handle(ctx, method, url, request.header("Origin"))
    })) {
        Ok(r) => r,
        Err(_) => {
            tracing::error!(url = %url, "a logviewer request panicked");
            text(500, "Internal Server Error")
        }
    };
    tracing::debug!(method = %method, url = %url, status = reply.status, "logviewer request");
    reply
}

fn bytes(status: u16, content_type: &str, body: Vec<u8>) -> Reply {
    Response::bytes(status, content_type, body)
}

fn text(status: u16, body: &str) -> Reply {
    Response::text(status, body)
}

fn html(status: u16, body: String) -> Reply {
    bytes(status, "text/html; charset=utf-8", body.into_bytes())
}

/// Storm's `buildResponsePageNotFound`.
fn page_not_found() -> Reply {
    bytes(404, "text/html", b"Page not found".to_vec())
}

/// Storm's JSONP callback check: a dotted JavaScript identifier of at most 128 characters.
pub fn sanitize_callback(callback: Option<&str>) -> Option<&str> {
    let cb = callback?;
    let ident = |part: &str| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
    };
    (cb.len() <= 128 && cb.split('.').all(ident)).then_some(cb)
}

fn json_reply(status: u16, value: &Value, callback: Option<&str>, origin: Option<&str>) -> Reply {
    let body = value.to_string();
    let (ctype, body) = match sanitize_callback(callback) {
        Some(cb) => (
            "application/javascript;charset=utf-8",
            format!("{cb}({body});"),
        ),
        None => ("application/json;charset=utf-8", body),
    };
    let mut reply = bytes(status, ctype, body.into_bytes())
        .with_header("Cache-Control", "no-cache, no-store")
        .with_header("X-Content-Type-Options", "nosniff")
        .with_header(
            "Access-Control-Allow-Headers",
            "Content-Type, Access-Control-Allow-Headers, Access-Controler-Allow-Origin, X-Requested-By, X-Csrf-Token, Authorization, X-Requested-With",
        );
    match origin {
        Some(o) if status == 200 => {
            reply = reply
                .with_header("Access-Control-Allow-Origin", o)
                .with_header("Access-Control-Allow-Credentials", "true");
        }
        _ => reply = reply.with_header("Access-Control-Allow-Origin", "*"),
    }
    reply
}

fn json_error(status: u16, error: &str, message: &str, callback: Option<&str>) -> Reply {
    json_reply(
        status,
        &json!({ "error": error, "errorMessage": message }),
        callback,
        None,
    )
}

pub use crate::http::Query;

/// The `file` parameter, decoded a second time as Storm does.
fn file_param(q: &Query) -> Option<String> {
    q.get("file").map(|f| url_decode(f, true))
}

fn method_not_allowed() -> Reply {
    text(405, "Method Not Allowed")
}

/// Answers one request (never panics on bad input; see the module doc).
pub fn handle(ctx: &Context, method: Method, url: &str, origin: Option<&str>) -> Reply {
    if !matches!(method, Method::Get | Method::Head) {
        return method_not_allowed();
    }
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let path = path.split('#').next().unwrap_or(path);
    let q = Query::parse(query);
    match path {
        "/" | "/index.html" | "/logviewer.html" => return landing(ctx),
        "/logviewer_search.html" => return search_page(ctx, &q),
        _ => {}
    }
    let api = path.strip_prefix("/api/v1").unwrap_or(path);
    let segments: Vec<String> = api
        .strip_prefix('/')
        .unwrap_or("")
        .split('/')
        .map(|s| url_decode(s, false))
        .collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    match segs.as_slice() {
        ["log"] => log_page(ctx, &q, false),
        ["daemonlog"] => log_page(ctx, &q, true),
        ["download"] => download(ctx, &q, false),
        ["daemondownload"] => download(ctx, &q, true),
        ["search"] => search(ctx, &q, origin),
        ["deepSearch", topo] => deep_search(ctx, topo, &q, origin),
        ["listLogs"] => list_logs(ctx, &q, q.get("callback"), origin),
        ["searchLogs"] => list_logs(ctx, &q, q.get("callbackParameterName"), origin),
        ["dumps", topo, host_port] => dumps(ctx, topo, host_port, None),
        ["dumps", topo, host_port, file] => dumps(ctx, topo, host_port, Some(file)),
        _ => page_not_found(),
    }
}

fn resolve(ctx: &Context, name: &str, daemon: bool) -> Result<LogFile, LogviewerError> {
    if daemon {
        ctx.roots.daemon_file(name)
    } else {
        ctx.roots.worker_file(name)
    }
}

fn server_error(e: &LogviewerError) -> Reply {
    tracing::warn!("logviewer request failed: {e}");
    text(500, &e.to_string())
}

fn log_page(ctx: &Context, q: &Query, daemon: bool) -> Reply {
    let Some(name) = file_param(q) else {
        return page_not_found();
    };
    let file = match resolve(ctx, &name, daemon) {
        Ok(f) => f,
        Err(_) => return page_not_found(),
    };
    let int = |key: &str| {
        parse_int(key, q.get(key))
            .map_err(|_| format!("Could not make an integer out of the query parameter '{key}'"))
    };
    let (start, length) = match (int("start"), int("length")) {
        (Ok(s), Ok(l)) => (s, l),
        (Err(m), _) | (_, Err(m)) => return text(400, &m),
    };
    let result = file.logical_len().and_then(|len| {
        let page = Page::new(len, start, length)?;
        let siblings = match &file.kind {
            LogKind::Worker { topology, .. } => ctx.roots.list_worker_logs(Some(topology), None),
            LogKind::Daemon => ctx.roots.list_daemon_logs(),
        };
        page::log_page(&file, &page, q.get("grep"), &siblings)
    });
    match result {
        Ok(body) => Response::stream(200, body, None)
            .with_header("Content-Type", "text/html; charset=utf-8"),
        Err(LogviewerError::BadRequest(m)) => text(400, &m),
        Err(LogviewerError::NotFound) => page_not_found(),
        Err(e) => server_error(&e),
    }
}

/// A file name safe inside a quoted `Content-Disposition` (printable ASCII, no quotes or backslashes).
fn disposition_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn send_file(file: &LogFile, download_name: &str) -> Reply {
    let opened = std::fs::File::open(&file.path).and_then(|f| {
        let len = f.metadata()?.len();
        Ok((f, len))
    });
    let (f, len) = match opened {
        Ok(x) => x,
        Err(e) => return server_error(&LogviewerError::io("cannot open", &file.path, e)),
    };
    Response::stream(200, Box::new(f.take(len)), Some(len))
        .with_header("Content-Type", "application/octet-stream")
        .with_header(
            "Content-Disposition",
            format!(
                "attachment; filename=\"{}\"",
                disposition_name(download_name)
            ),
        )
}

fn download(ctx: &Context, q: &Query, daemon: bool) -> Reply {
    let Some(name) = file_param(q) else {
        return page_not_found();
    };
    let Ok(file) = resolve(ctx, &name, daemon) else {
        return page_not_found();
    };
    let host = &ctx.links.host;
    let download_name = match &file.kind {
        LogKind::Worker { topology, port } => {
            format!("{host}-{topology}-{port}-{}", file.file_name())
        }
        LogKind::Daemon => format!("{host}-{}", file.file_name()),
    };
    send_file(&file, &download_name)
}

fn not_found_json(callback: Option<&str>) -> Reply {
    json_error(
        404,
        "Not Found",
        "The file was not found on this node.",
        callback,
    )
}

fn bad_request_json(message: &str, callback: Option<&str>) -> Reply {
    json_error(400, "400 Bad Request", message, callback)
}

fn search(ctx: &Context, q: &Query, origin: Option<&str>) -> Reply {
    let callback = q.get("callback");
    let daemon = q.get("is-daemon") == Some("yes");
    let Some(name) = file_param(q) else {
        return not_found_json(callback);
    };
    let Ok(file) = resolve(ctx, &name, daemon) else {
        return not_found_json(callback);
    };
    let req = match SearchRequest::new(
        q.get("search-string"),
        q.get("num-matches"),
        q.get("start-byte-offset"),
        DEFAULT_NUM_MATCHES,
    ) {
        Ok(r) => r,
        Err(e) => return bad_request_json(&e.to_string(), callback),
    };
    match search::search_file(&file, &req, &ctx.links) {
        Ok(result) => json_reply(200, &Value::Object(result), callback, origin),
        Err(LogviewerError::BadRequest(m)) => bad_request_json(&m, callback),
        Err(LogviewerError::NotFound) => not_found_json(callback),
        Err(e) => {
            tracing::warn!("search failed: {e}");
            json_error(500, "500 Server Error", &e.to_string(), callback)
        }
    }
}

/// Commons Lang's `BooleanUtils.toBooleanObject` for true.
fn is_true(v: Option<&str>) -> bool {
    v.is_some_and(|v| {
        ["true", "yes", "on", "y", "t"]
            .iter()
            .any(|t| v.eq_ignore_ascii_case(t))
    })
}

fn deep_search(ctx: &Context, topology: &str, q: &Query, origin: Option<&str>) -> Reply {
    let callback = q.get("callback");
    if q.get("search-string").is_none_or(str::is_empty) {
        return json_reply(200, &json!([]), callback, origin);
    }
    let parsed = SearchRequest::new(
        q.get("search-string"),
        q.get("num-matches"),
        q.get("start-byte-offset"),
        DEFAULT_DEEP_NUM_MATCHES,
    )
    .and_then(|search| {
        let start_file_offset = parse_int("start-file-offset", q.get("start-file-offset"))?
            .map_or(0, |n| n.max(0) as usize);
        let port = q
            .get("port")
            .filter(|p| !p.is_empty() && *p != "*")
            .map(str::to_string);
        Ok(DeepSearch {
            search,
            port,
            start_file_offset,
            search_archived: is_true(q.get("search-archived")),
        })
    });
    let req = match parsed {
        Ok(r) => r,
        Err(e) => return bad_request_json(&e.to_string(), callback),
    };
    match search::deep_search(&ctx.roots, topology, &req, &ctx.slots, &ctx.links) {
        Ok(v) => json_reply(200, &v, callback, origin),
        Err(LogviewerError::BadRequest(m)) => bad_request_json(&m, callback),
        Err(e) => {
            tracing::warn!("deep search failed: {e}");
            json_error(500, "500 Server Error", &e.to_string(), callback)
        }
    }
}

fn list_logs(ctx: &Context, q: &Query, callback: Option<&str>, origin: Option<&str>) -> Reply {
    let port = match parse_int("port", q.get("port")) {
        Ok(p) => p.map(|p| p.to_string()),
        Err(e) => return bad_request_json(&e.to_string(), callback),
    };
    let topology = q.get("topoId").filter(|t| !t.is_empty());
    let files = ctx.roots.list_worker_logs(topology, port.as_deref());
    json_reply(200, &json!(files), callback, origin)
}

/// A worker's profiler dumps (`.txt`, `.jfr`, `.bin`).
fn dumps(ctx: &Context, topology: &str, host_port: &str, file: Option<&str>) -> Reply {
    let Some((host, port)) = host_port.rsplit_once(':') else {
        return page_not_found();
    };
    let Some(dir) = ctx.roots.port_dir(topology, port) else {
        return page_not_found();
    };
    match file {
        None => {
            let names: Vec<String> = dir_files(&dir, MAX_FILES_PER_DIR)
                .into_iter()
                .map(|(n, _)| n)
                .filter(|n| [".txt", ".jfr", ".bin"].iter().any(|s| n.ends_with(s)))
                .collect();
            html(200, page::dumps_page(topology, host_port, &names))
        }
        Some(name) if is_plain_segment(name) => {
            match ctx.roots.worker_file(&format!("{topology}/{port}/{name}")) {
                Ok(f) => send_file(&f, &format!("{host}-{topology}-{port}-{name}")),
                Err(_) => page_not_found(),
            }
        }
        Some(_) => page_not_found(),
    }
}

fn landing(ctx: &Context) -> Reply {
    let daemons = ctx.roots.list_daemon_logs();
    let mut workers = ctx.roots.list_worker_logs(None, None);
    workers.truncate(LANDING_PAGE_MAX);
    html(200, page::landing_page(&daemons, &workers))
}

fn search_page(ctx: &Context, q: &Query) -> Reply {
    let daemon = q.get("is-daemon") == Some("yes");
    let Some(name) = file_param(q) else {
        return page_not_found();
    };
    let Ok(file) = resolve(ctx, &name, daemon) else {
        return page_not_found();
    };
    let req = SearchRequest::new(
        q.get("search"),
        q.get("num-matches"),
        q.get("start-byte-offset"),
        DEFAULT_NUM_MATCHES,
    );
    match req.and_then(|r| Ok((search::search_file(&file, &r, &ctx.links)?, r))) {
        Ok((result, r)) => html(200, page::search_page(&file, &result, r.num_matches)),
        Err(LogviewerError::BadRequest(m)) => html(400, page::message_page("Search", &m)),
        Err(LogviewerError::NotFound) => page_not_found(),
        Err(e) => server_error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::StormPaths;

    fn ctx() -> (tempfile::TempDir, Context) {
        let dir = tempfile::tempdir().unwrap();
        let paths = StormPaths::new(dir.path().join("local"), dir.path().join("logs"));
        let port = paths.worker_artifacts("t-1-1", 6700);
        std::fs::create_dir_all(&port).unwrap();
        let log: String = (0..3000)
            .map(|i| format!("{i:05} line <{i:04}>\n"))
            .collect();
        std::fs::write(port.join("worker.log"), log).unwrap();
        std::fs::write(port.join("dump.jfr"), b"JFR").unwrap();
        std::fs::write(paths.daemon_log("nimbus"), b"nimbus started\n").unwrap();
        let ctx = Context {
            roots: LogRoots::new(&paths),
            links: LinkBase {
                host: "h1".into(),
                port: 8000,
            },
            slots: vec![6700],
            auth: None,
        };
        (dir, ctx)
    }

    fn get(ctx: &Context, url: &str) -> (u16, String, Vec<(String, String)>) {
        let reply = handle(ctx, Method::Get, url, None);
        let status = reply.status;
        let headers = reply.headers.clone();
        let body = reply.into_body_bytes().unwrap();
        (status, String::from_utf8_lossy(&body).into_owned(), headers)
    }

    #[test]
    fn pages_downloads_and_listings() {
        let (_d, ctx) = ctx();
        let (s, body, _) = get(
            &ctx,
            "/api/v1/log?file=t-1-1%2F6700%2Fworker.log&start=0&length=20",
        );
        assert_eq!(s, 200);
        assert!(
            body.contains("<pre class=\"logContent\">00000 line &lt;0000&gt;\n00</pre>"),
            "{body}"
        );
        assert!(body.contains("start=20&amp;length=20\">Next</a>"), "{body}");
        let (s, body, _) = get(&ctx, "/log?file=t-1-1/6700/worker.log&grep=02999");
        assert_eq!(s, 200);
        assert!(body.contains(">02999 line &lt;2999&gt;</pre>"), "{body}");
        let (s, body, headers) = get(&ctx, "/api/v1/download?file=t-1-1/6700/worker.log");
        assert_eq!((s, body.len()), (200, 3000 * 18));
        assert!(headers.contains(&(
            "Content-Disposition".into(),
            "attachment; filename=\"h1-t-1-1-6700-worker.log\"".into()
        )));
        let (s, body, headers) = get(&ctx, "/api/v1/daemondownload?file=nimbus.log");
        assert_eq!((s, body.as_str()), (200, "nimbus started\n"));
        assert!(headers.contains(&(
            "Content-Disposition".into(),
            "attachment; filename=\"h1-nimbus.log\"".into()
        )));
        let (s, body, _) = get(&ctx, "/api/v1/listLogs?topoId=t-1-1&port=6700&callback=cb");
        assert_eq!(s, 200);
        assert_eq!(
            body,
            r#"cb(["t-1-1/6700/dump.jfr","t-1-1/6700/worker.log"]);"#
        );
        let (s, body, _) = get(&ctx, "/api/v1/listLogs?port=x");
        assert_eq!(s, 400, "{body}");
        let (s, body, _) = get(&ctx, "/");
        assert!(
            s == 200
                && body.contains("daemonlog?file=nimbus.log")
                && body.contains("t-1-1%2F6700%2Fworker.log")
        );
        let (s, body, _) = get(&ctx, "/api/v1/dumps/t-1-1/h1:6700");
        assert!(
            s == 200 && body.contains("/api/v1/dumps/t-1-1/h1%3A6700/dump.jfr"),
            "{body}"
        );
        let (s, body, _) = get(&ctx, "/api/v1/dumps/t-1-1/h1:6700/dump.jfr");
        assert_eq!((s, body.as_str()), (200, "JFR"));
    }

    #[test]
    fn traversal_and_missing_files_are_404() {
        let (d, ctx) = ctx();
        std::fs::write(d.path().join("secret"), b"s").unwrap();
        for url in [
            "/api/v1/log?file=../../secret",
            "/api/v1/log?file=..%2F..%2Fsecret",
            "/api/v1/log?file=%252e%252e%252f%252e%252e%252fsecret",
            "/api/v1/log?file=t-1-1/6700/../../../secret",
            "/api/v1/log?file=/etc/passwd",
            "/api/v1/log?file=%2Fetc%2Fpasswd",
            "/api/v1/log?file=t-1-1/6700/missing.log",
            "/api/v1/log",
            "/api/v1/daemonlog?file=../secret",
            "/api/v1/daemonlog?file=workers-artifacts/t-1-1/6700/worker.log",
            "/api/v1/download?file=../../secret",
            "/api/v1/daemondownload?file=..%2Fsecret",
            "/api/v1/dumps/..%2F../h:6700/secret",
            "/api/v1/dumps/t-1-1/h:6700/..",
            "/api/v1/nothing",
        ] {
            let (s, body, _) = get(&ctx, url);
            assert_eq!((s, body.as_str()), (404, "Page not found"), "{url}");
        }
        let (s, body, _) = get(&ctx, "/api/v1/search?file=../../secret&search-string=s");
        assert_eq!(s, 404);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            v,
            json!({"error": "Not Found", "errorMessage": "The file was not found on this node."})
        );
        let (s, _, _) = get(&ctx, "/api/v1/deepSearch/..?search-string=s");
        assert_eq!(s, 200);
    }

    #[test]
    fn bad_parameters_are_400() {
        let (_d, ctx) = ctx();
        let (s, body, _) = get(&ctx, "/api/v1/log?file=t-1-1/6700/worker.log&start=abc");
        assert_eq!(s, 400, "{body}");
        let (s, body, _) = get(&ctx, "/api/v1/log?file=t-1-1/6700/worker.log&start=999999");
        assert_eq!(
            (s, body.as_str()),
            (400, "Cannot start past the end of the file")
        );
        let (s, _, _) = get(
            &ctx,
            "/api/v1/search?file=t-1-1/6700/worker.log&search-string=",
        );
        assert_eq!(s, 400);
        let (s, _, _) = get(
            &ctx,
            "/api/v1/search?file=t-1-1/6700/worker.log&search-string=x&num-matches=z",
        );
        assert_eq!(s, 400);
        let (s, _, _) = get(
            &ctx,
            "/api/v1/search?file=t-1-1/6700/worker.log&search-string=x&start-byte-offset=999999",
        );
        assert_eq!(s, 400);
        let reply = handle(&ctx, Method::Post, "/api/v1/log", None);
        assert_eq!(reply.status, 405);
    }

    #[test]
    fn search_answers_storms_json() {
        let (_d, ctx) = ctx();
        let (s, body, _) = get(
            &ctx,
            "/api/v1/search?file=t-1-1%2F6700%2Fworker.log&search-string=line+%3C0002%3E&num-matches=1",
        );
        assert_eq!(s, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["isDaemon"], "no");
        assert_eq!(v["searchString"], "line <0002>");
        assert_eq!(v["startByteOffset"], 0);
        let m = &v["matches"][0];
        assert_eq!(m["byteOffset"], 2 * 18 + 6);
        assert_eq!(m["matchString"], "line <0002>");
        assert_eq!(
            m["beforeString"],
            "00000 line <0000>\n00001 line <0001>\n00002 "
        );
        assert!(m["afterString"]
            .as_str()
            .unwrap()
            .starts_with("\n00003 line <0003>"));
        assert_eq!(
            m["logviewerURL"],
            "http://h1:8000/api/v1/log?file=t-1-1%2F6700%2Fworker.log&start=0&length=51200"
        );
        assert_eq!(v["nextByteOffset"], 2 * 18 + 6 + 11);
        // Nothing after the last match: no nextByteOffset.
        let (_, body, _) = get(
            &ctx,
            "/api/v1/search?file=t-1-1/6700/worker.log&search-string=line+%3C2999%3E",
        );
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["matches"].as_array().unwrap().len(), 1);
        assert!(v.get("nextByteOffset").is_none());
        let (s, body, _) = get(
            &ctx,
            "/api/v1/search?file=nimbus.log&is-daemon=yes&search-string=started",
        );
        assert_eq!(s, 200);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["isDaemon"], "yes");
        assert_eq!(v["matches"][0]["byteOffset"], 7);
        assert!(v["matches"][0]["logviewerURL"]
            .as_str()
            .unwrap()
            .contains("/api/v1/daemonlog?file=nimbus.log"));
        let (s, body, _) = get(
            &ctx,
            "/logviewer_search.html?file=nimbus.log&is-daemon=yes&search=started",
        );
        assert!(
            s == 200 && body.contains("<span class=\"match\">started</span>"),
            "{body}"
        );
    }

    #[test]
    fn deep_search_per_port_and_all_ports() {
        let (_d, ctx) = ctx();
        let (s, body, _) = get(
            &ctx,
            "/api/v1/deepSearch/t-1-1?search-string=line&num-matches=2&port=6700",
        );
        assert_eq!(s, 200);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["fileOffset"], 0);
        assert_eq!(v["searchString"], "line");
        assert_eq!(v["matches"][0]["fileName"], "t-1-1/6700/worker.log");
        assert_eq!(v["matches"][0]["port"], "6700");
        assert_eq!(v["matches"][0]["matches"].as_array().unwrap().len(), 2);
        let (_, body, _) = get(&ctx, "/api/v1/deepSearch/t-1-1?search-string=line");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 1);
        assert_eq!(v[0]["matches"][0]["matches"].as_array().unwrap().len(), 1);
        // A port outside supervisor.slots.ports, an unknown topology, no search string: [].
        for url in [
            "/api/v1/deepSearch/t-1-1?search-string=line&port=6701",
            "/api/v1/deepSearch/nope?search-string=line",
            "/api/v1/deepSearch/t-1-1",
        ] {
            assert_eq!(get(&ctx, url).1, "[]", "{url}");
        }
    }

    #[test]
    fn query_decoding_and_callbacks() {
        let q = Query::parse("a=1&b=x+y%2Fz&a=2&file=a%252Fb&bad=%zz%4");
        assert_eq!(q.get("a"), Some("1"));
        assert_eq!(q.get("b"), Some("x y/z"));
        assert_eq!(file_param(&q).as_deref(), Some("a/b"));
        assert_eq!(q.get("bad"), Some("%zz%4"));
        assert_eq!(
            sanitize_callback(Some("jQuery.cb_1$")),
            Some("jQuery.cb_1$")
        );
        for bad in ["alert(1)", "1abc", "a..b", "", "a-b"] {
            assert_eq!(sanitize_callback(Some(bad)), None, "{bad}");
        }
        assert_eq!(disposition_name("h-\"x\"\n\u{e9}.log"), "h-_x___.log");
    }
}
