//! The UI's HTTP server ([`crate::http::Server`], hyper): request headers over 8 KiB are refused with
//! 431, keep-alive connections are served, a fixed pool of [`WORKERS`] threads answers; when [`QUEUE`]
//! requests already wait for one, a new request is answered `503` at once, so a burst of clients costs
//! bounded memory and never a panic. Request bodies are read up to [`MAX_BODY_BYTES`].
//!
//! `/api/v1/...` goes to [`Api`], answered as Storm's UI answers: `Content-Type:
//! application/json;charset=utf-8` (`application/javascript;charset=utf-8` with a valid JSONP
//! `callback=` parameter, whose answer is `callback(json);`), `Cache-Control: no-cache, no-store`,
//! `Access-Control-Allow-Origin: *`, `X-Content-Type-Options: nosniff`. Errors are JSON objects and
//! are never wrapped in the callback (Storm's exception mappers cannot read it either). Every other
//! path is a page or asset embedded in the binary ([`super::assets`]), revalidated by `ETag`.
//! Responses over 1 KiB are gzip-compressed for clients that accept it.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::http::{Handler, Limits, Request, Response, Server};

use super::api::{reason, Api, ApiError, Body, Method, Query, MAX_BODY_BYTES};
use super::assets;

/// Threads serving requests.
pub const WORKERS: usize = 4;
/// Requests waiting for a thread before new ones are refused with 503.
pub const QUEUE: usize = 64;
/// Connections at once.
pub const MAX_CONNECTIONS: usize = 512;
/// Bodies at least this long are compressed when the client accepts gzip.
const GZIP_MIN_BYTES: usize = 1024;

/// A running UI HTTP server; [`UiServer::shutdown`] (or drop) stops it.
pub struct UiServer {
    server: Server,
}

struct Ui {
    api: Arc<Api>,
}

impl Handler for Ui {
    fn handle(&self, request: Request) -> Response {
        serve(request, &self.api)
    }

    fn busy(&self) -> Response {
        tracing::warn!("UI busy: {QUEUE} requests waiting; answering 503");
        respond(error_reply(503, "the UI is busy; try again"), false)
    }
}

impl UiServer {
    /// Binds `addr` (`host:port`) and serves the UI on it.
    pub fn start(addr: &str, api: Arc<Api>) -> std::io::Result<UiServer> {
        let limits = Limits {
            max_body_bytes: MAX_BODY_BYTES,
            max_connections: MAX_CONNECTIONS,
            queue: Some(QUEUE),
            ..Limits::new(WORKERS)
        };
        let server = Server::bind(addr, "ui", limits, Ui { api })?;
        Ok(UiServer { server })
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

/// A response before it is written.
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

const JSON: &str = "application/json;charset=utf-8";
const JAVASCRIPT: &str = "application/javascript;charset=utf-8";

/// Storm's JSONP callback rule: a dotted JavaScript identifier of at most 128 characters.
pub fn valid_callback(cb: &str) -> bool {
    if cb.is_empty() || cb.len() > 128 {
        return false;
    }
    cb.split('.').all(|part| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
    })
}

/// The headers Storm's UI puts on every API answer (`UIHelpers.getJsonResponseHeaders`).
fn api_headers() -> Vec<(&'static str, String)> {
    vec![
        ("Cache-Control", "no-cache, no-store".into()),
        ("Access-Control-Allow-Origin", "*".into()),
        (
            "Access-Control-Allow-Headers",
            "Content-Type, Access-Control-Allow-Headers, Access-Controler-Allow-Origin, \
             X-Requested-By, X-Csrf-Token, Authorization, X-Requested-With"
                .into(),
        ),
        ("X-Content-Type-Options", "nosniff".into()),
    ]
}

/// An API answer: JSON, or JSONP when `callback` is valid.
pub fn json_reply(status: u16, json: String, callback: Option<&str>) -> Reply {
    let (content_type, body) = match callback.filter(|c| valid_callback(c)) {
        Some(cb) => (JAVASCRIPT, format!("{cb}({json});")),
        None => (JSON, json),
    };
    Reply {
        status,
        content_type,
        body: body.into_bytes(),
        headers: api_headers(),
    }
}

fn error_reply(status: u16, message: &str) -> Reply {
    let body = serde_json::json!({
        "error": format!("{status} {}", reason(status)),
        "errorMessage": message,
    });
    json_reply(status, body.to_string(), None)
}

fn serve(request: Request, api: &Api) -> Response {
    let started = Instant::now();
    let user = match api.basic_auth() {
        Some(auth) => match auth.check_request(&request) {
            Ok(user) => Some(user),
            Err(resp) => return resp,
        },
        None => None,
    };
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
    let path = path.split('#').next().unwrap_or("").to_string();
    let query = Query::parse(query);
    let method = match request.method() {
        crate::http::Method::Get | crate::http::Method::Head => Method::Get,
        crate::http::Method::Post | crate::http::Method::Put => Method::Post,
        _ => Method::Other,
    };
    let gzip = request
        .header("Accept-Encoding")
        .is_some_and(|v| v.contains("gzip"));
    let reply = if request.method() == crate::http::Method::Options {
        let mut r = Reply {
            status: 200,
            content_type: "text/plain;charset=utf-8",
            body: Vec::new(),
            headers: api_headers(),
        };
        r.headers
            .push(("Access-Control-Allow-Methods", "GET, POST, PUT".into()));
        r
    } else if let Some(rest) = path.strip_prefix("/api/v1") {
        let body = if method == Method::Post {
            request.body()
        } else {
            &[]
        };
        let outcome = if method == Method::Post && request.body_too_large() {
            Err(ApiError::TooLarge)
        } else {
            api.authorize(user.as_deref(), method, rest)
                .and_then(|()| api.handle(method, rest, &query, body))
        };
        match outcome {
            Ok(Body::Json(v)) => json_reply(200, v.to_string(), query.get("callback")),
            Ok(Body::Raw(s)) => json_reply(200, s, query.get("callback")),
            Err(e) => {
                match &e {
                    ApiError::Nimbus { detail, .. } => {
                        tracing::warn!(path = %path, error = %detail, "UI request failed")
                    }
                    other => tracing::info!(path = %path, error = %other, "UI request refused"),
                }
                json_reply(e.status(), e.to_json().to_string(), None)
            }
        }
    } else if method == Method::Get {
        match assets::find(&path) {
            Some(asset) => {
                let etag = assets::etag(asset);
                let fresh = request.header("If-None-Match").is_some_and(|v| v == etag);
                Reply {
                    status: if fresh { 304 } else { 200 },
                    content_type: asset.content_type,
                    body: if fresh {
                        Vec::new()
                    } else {
                        asset.body.to_vec()
                    },
                    headers: vec![
                        ("ETag", etag),
                        ("Cache-Control", "no-cache".into()),
                        ("X-Content-Type-Options", "nosniff".into()),
                    ],
                }
            }
            None => Reply {
                status: 404,
                content_type: "text/html;charset=utf-8",
                body: assets::NOT_FOUND_PAGE.as_bytes().to_vec(),
                headers: vec![],
            },
        }
    } else {
        error_reply(405, "HTTP 405 Method Not Allowed")
    };
    let status = reply.status;
    tracing::debug!(path = %path, status, elapsed = ?started.elapsed(), "UI request served");
    respond(reply, gzip)
}

fn respond(mut reply: Reply, gzip: bool) -> Response {
    if gzip && reply.body.len() >= GZIP_MIN_BYTES {
        let mut enc = flate2::write::GzEncoder::new(
            Vec::with_capacity(reply.body.len() / 4),
            flate2::Compression::fast(),
        );
        if enc.write_all(&reply.body).is_ok() {
            if let Ok(zipped) = enc.finish() {
                reply.body = zipped;
                reply.headers.push(("Content-Encoding", "gzip".into()));
            }
        }
        reply.headers.push(("Vary", "Accept-Encoding".into()));
    }
    let mut response = Response::bytes(reply.status, reply.content_type, reply.body);
    response
        .headers
        .extend(reply.headers.into_iter().map(|(k, v)| (k.to_string(), v)));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonp_callbacks_follow_storms_rule() {
        assert!(valid_callback("cb"));
        assert!(valid_callback("jQuery123_456.done$"));
        assert!(!valid_callback("1cb"));
        assert!(!valid_callback("alert(1)"));
        assert!(!valid_callback("a..b"));
        assert!(!valid_callback(""));
        assert!(!valid_callback(&"a".repeat(129)));
        let r = json_reply(200, "{}".into(), Some("cb"));
        assert_eq!(r.content_type, "application/javascript;charset=utf-8");
        assert_eq!(r.body, b"cb({});");
        let r = json_reply(200, "{}".into(), Some("bad()"));
        assert_eq!(r.content_type, "application/json;charset=utf-8");
        assert_eq!(r.body, b"{}");
    }
}
