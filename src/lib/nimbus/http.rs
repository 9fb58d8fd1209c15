//! The nimbus HTTP file server (storm-rs; ARCHITECTURE "Cluster contracts"): supervisors download
//! topology code with `GET /stormdist/<url-encoded topology id>/<file>` on `nimbus.http.port`, `<file>`
//! one of `stormjar.jar`, `stormcode.ser`, `stormconf.ser`, from `nimbus/stormdist/<id>/`, and the
//! topology's dependency files with `GET /stormdist/<id>/dependencies/<url-encoded file name>`.
//!
//! Answers: 200 with the bytes streamed from disk (`Content-Length` set; `HEAD` gives the headers only),
//! 404 for an unknown id or file or any other path, 503 when this nimbus is not the leader, 400 for
//! anything that tries to leave the stormdist directory (`..`, `/` or `\` in the id, NUL, bad escapes),
//! 405 for other methods. A fixed pool of [`THREADS`] threads serves requests; the rest wait in
//! their connections.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use tiny_http::{Header, Method, Request, Response, Server, StatusCode};

use crate::paths::{encode_id, DEPENDENCIES, STORMCODE, STORMCONF, STORMJAR};

/// Threads serving requests.
pub const THREADS: usize = 4;

/// Whether this nimbus leads (only the leader serves files).
pub type LeaderCheck = Arc<dyn Fn() -> bool + Send + Sync>;

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// Serve `file` of topology `id` (decoded).
    File {
        id: String,
        file: &'static str,
    },
    /// Serve dependency `name` of topology `id` (both decoded).
    Dependency {
        id: String,
        name: String,
    },
    BadRequest,
    NotFound,
    MethodNotAllowed,
}

fn unhex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Decodes `%XX` (and `+` as a space, as Java's `URLEncoder` writes it); `None` on a bad escape or
/// invalid UTF-8.
pub fn url_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hi = unhex(*b.get(i + 1)?)?;
                let lo = unhex(*b.get(i + 2)?)?;
                out.push(hi * 16 + lo);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Maps a method and URL to a [`Route`].
pub fn route(method: &Method, url: &str) -> Route {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let Some(rest) = path.strip_prefix("/stormdist/") else {
        return Route::NotFound;
    };
    if !matches!(method, Method::Get | Method::Head) {
        return Route::MethodNotAllowed;
    }
    let segments: Vec<&str> = rest.split('/').collect();
    if segments.iter().any(|s| *s == ".." || *s == ".") {
        return Route::BadRequest;
    }
    let (id, file) = match segments[..] {
        [id, file] => (id, file),
        [id, DEPENDENCIES, name] => {
            let (Some(id), Some(name)) = (url_decode(id), url_decode(name)) else {
                return Route::BadRequest;
            };
            if !valid_id(&id) || !crate::paths::is_dependency_name(&name) {
                return Route::BadRequest;
            }
            return Route::Dependency { id, name };
        }
        _ => return Route::NotFound,
    };
    let Some(id) = url_decode(id) else {
        return Route::BadRequest;
    };
    if id.is_empty()
        || id == "."
        || id == ".."
        || id.contains(['/', '\\', '\0'])
        || id.starts_with("..")
    {
        return Route::BadRequest;
    }
    let file = match file {
        STORMJAR => STORMJAR,
        STORMCODE => STORMCODE,
        STORMCONF => STORMCONF,
        f if f.contains("%2") || f.contains("%5") || f.contains('\\') => return Route::BadRequest,
        _ => return Route::NotFound,
    };
    Route::File { id, file }
}

fn valid_id(id: &str) -> bool {
    !(id.is_empty()
        || id == "."
        || id == ".."
        || id.contains(['/', '\\', '\0'])
        || id.starts_with(".."))
}

/// A running file server; [`FileServer::shutdown`] (or drop) stops it.
pub struct FileServer {
    server: Arc<Server>,
    addr: SocketAddr,
    threads: Vec<JoinHandle<()>>,
}

impl FileServer {
    /// Binds `addr` and serves the topology files under `stormdist_root` while `is_leader` says so.
    pub fn start(
        addr: &str,
        stormdist_root: PathBuf,
        is_leader: LeaderCheck,
    ) -> std::io::Result<FileServer> {
        let (server, local) = crate::http::bind(addr)?;
        let mut fs = FileServer {
            server: server.clone(),
            addr: local,
            threads: Vec::new(),
        };
        for i in 0..THREADS {
            let (srv, root, leader) = (server.clone(), stormdist_root.clone(), is_leader.clone());
            let t = std::thread::Builder::new()
                .name(format!("nimbus-http-{i}"))
                .spawn(move || {
                    while let Ok(request) = srv.recv() {
                        serve(request, &root, &leader);
                    }
                });
            match t {
                Ok(t) => fs.threads.push(t),
                Err(e) => {
                    fs.shutdown();
                    return Err(e);
                }
            }
        }
        tracing::info!(addr = %local, "nimbus HTTP file server listening");
        Ok(fs)
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops taking requests and waits for the serving threads.
    pub fn shutdown(&mut self) {
        if self.threads.is_empty() {
            return;
        }
        // Each `unblock` ends one `recv`.
        for _ in 0..self.threads.len() {
            self.server.unblock();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        tracing::info!("nimbus HTTP file server stopped");
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn text(status: u16, body: &str) -> Response<std::io::Cursor<Vec<u8>>> {
    Response::from_string(body).with_status_code(StatusCode(status))
}

fn serve(request: Request, root: &std::path::Path, is_leader: &LeaderCheck) {
    let route = route(request.method(), request.url());
    let head = *request.method() == Method::Head;
    let result = match route {
        Route::NotFound => request.respond(text(404, "Not Found\n")),
        Route::BadRequest => request.respond(text(400, "Bad Request\n")),
        Route::MethodNotAllowed => request.respond(text(405, "Method Not Allowed\n")),
        Route::File { .. } | Route::Dependency { .. } if !is_leader() => {
            request.respond(text(503, "This nimbus is not the leader\n"))
        }
        Route::File { .. } | Route::Dependency { .. } => {
            let path = match &route {
                Route::Dependency { id, name } => {
                    root.join(encode_id(id)).join(DEPENDENCIES).join(name)
                }
                Route::File { id, file } => root.join(encode_id(id)).join(file),
                _ => unreachable!("matched above"),
            };
            // Never serve anything that resolves outside the stormdist directory (symlinks included).
            let inside = match (std::fs::canonicalize(&path), std::fs::canonicalize(root)) {
                (Ok(p), Ok(r)) => Some(p.starts_with(r)),
                _ => None,
            };
            match (inside, std::fs::File::open(&path)) {
                (Some(false), _) => request.respond(text(400, "Bad Request\n")),
                (Some(true), Ok(f)) if f.metadata().is_ok_and(|m| m.is_file()) => {
                    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                    let header =
                        Header::from_bytes(&b"Content-Type"[..], &b"application/octet-stream"[..])
                            .expect("a valid header");
                    let len = usize::try_from(len).unwrap_or(usize::MAX);
                    // A fixed Content-Length, never chunked (tiny_http chunks large bodies by default).
                    if head {
                        let r = Response::new(
                            StatusCode(200),
                            vec![header],
                            std::io::empty(),
                            Some(len),
                            None,
                        )
                        .with_chunked_threshold(usize::MAX);
                        request.respond(r)
                    } else {
                        let r = Response::new(StatusCode(200), vec![header], f, Some(len), None)
                            .with_chunked_threshold(usize::MAX);
                        request.respond(r)
                    }
                }
                _ => request.respond(text(404, "Not Found\n")),
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "cannot answer an HTTP request");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let file = |id: &str, f| Route::File {
            id: id.into(),
            file: f,
        };
        assert_eq!(
            route(&Method::Get, "/stormdist/wc-1-2/stormjar.jar"),
            file("wc-1-2", STORMJAR)
        );
        assert_eq!(
            route(&Method::Get, "/stormdist/a%20b-1-2/stormconf.ser?x=1"),
            file("a b-1-2", STORMCONF)
        );
        assert_eq!(
            route(&Method::Head, "/stormdist/x/stormcode.ser"),
            file("x", STORMCODE)
        );
        assert_eq!(route(&Method::Get, "/stormdist/x/other"), Route::NotFound);
        assert_eq!(route(&Method::Get, "/stormdist/x"), Route::NotFound);
        assert_eq!(
            route(&Method::Get, "/other/x/stormjar.jar"),
            Route::NotFound
        );
        assert_eq!(
            route(&Method::Post, "/stormdist/x/stormjar.jar"),
            Route::MethodNotAllowed
        );
        for bad in [
            "/stormdist/../stormjar.jar",
            "/stormdist/%2E%2E/stormjar.jar",
            "/stormdist/a%2F..%2Fb/stormjar.jar",
            "/stormdist/x/../../etc/passwd",
            "/stormdist/%zz/stormjar.jar",
            "/stormdist/a%5Cb/stormjar.jar",
            "/stormdist/x/..%2Fstormjar.jar",
            "/stormdist/a%00/stormjar.jar",
            "/stormdist/x/dependencies/..",
            "/stormdist/x/dependencies/a%2Fb.jar",
            "/stormdist/x/dependencies/.hidden",
            "/stormdist/../dependencies/a.jar",
        ] {
            assert_eq!(route(&Method::Get, bad), Route::BadRequest, "{bad}");
        }
        assert_eq!(
            route(&Method::Get, "/stormdist/wc-1-2/dependencies/a%2B1-1.0.jar"),
            Route::Dependency {
                id: "wc-1-2".into(),
                name: "a+1-1.0.jar".into(),
            }
        );
    }
}
