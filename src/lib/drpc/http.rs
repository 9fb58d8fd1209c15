//! DRPC's HTTP endpoint (Storm's `DRPCResource` + `DRPCExceptionMapper`), on `drpc.http.port`:
//!
//! * `GET /drpc/<func>/<args>`: args from the rest of the path, percent-decoded (a `+` stays a `+`);
//! * `GET /drpc/<func>`: args `""`;
//! * `POST /drpc/<func>`: the request body is the args (at most `drpc.max_buffer_size` bytes, else 413).
//!
//! Success is 200 with the raw result as body. A `DRPCExecutionException` is a JSON body
//! `{"error": "<type name>", "errorMessage": "<msg>"}` with 400 (`FAILED_REQUEST`), 503 (`SERVER_SHUTDOWN`),
//! 504 (`SERVER_TIMEOUT`) or 500 (`INTERNAL_ERROR`, other). Other paths are 404, other methods 405. A
//! query string is ignored.
//!
//! The server is [`crate::http::Server`] (hyper): request headers over 8 KiB are refused with 431,
//! keep-alive connections are served. A DRPC request blocks until it is answered, so up to
//! [`MAX_IN_FLIGHT`] are served at once (each on a thread of the server's blocking pool); later ones
//! wait in their connection, they are not refused. A request whose client went away still waits for
//! its answer or the request timeout.

use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::http::{Limits, Method, Request, Response, Server};

use super::server::Drpc;
use crate::thrift::{DRPCExceptionType, DRPCExecutionException};

/// The most HTTP requests served at once.
pub const MAX_IN_FLIGHT: usize = 1024;
/// The most connections at once.
pub const MAX_CONNECTIONS: usize = 4096;

/// A running HTTP endpoint; [`HttpServer::shutdown`] (or drop) stops it.
pub struct HttpServer {
    server: Server,
    in_flight: Arc<(Mutex<usize>, Condvar)>,
}

impl HttpServer {
    /// Binds `addr` and serves DRPC requests on it; POST bodies are capped at `max_body_bytes`.
    pub fn start(
        addr: &str,
        drpc: Arc<Drpc>,
        max_body_bytes: usize,
    ) -> std::io::Result<HttpServer> {
        Self::start_secured(
            addr,
            drpc,
            max_body_bytes,
            Arc::new(HttpSecurity::default()),
        )
    }

    /// [`start`](Self::start) with `drpc.http.filter` credentials and the `drpc.authorizer`.
    pub fn start_secured(
        addr: &str,
        drpc: Arc<Drpc>,
        max_body_bytes: usize,
        security: Arc<HttpSecurity>,
    ) -> std::io::Result<HttpServer> {
        let limits = Limits {
            max_body_bytes,
            max_connections: MAX_CONNECTIONS,
            ..Limits::new(MAX_IN_FLIGHT)
        };
        let in_flight = Arc::new((Mutex::new(0usize), Condvar::new()));
        let flight = in_flight.clone();
        let server = Server::bind(addr, "drpc", limits, move |request: Request| {
            let (lock, cv) = &*flight;
            *lock.lock().unwrap_or_else(|p| p.into_inner()) += 1;
            let response = serve(request, &drpc, max_body_bytes, &security);
            *lock.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
            cv.notify_all();
            response
        })?;
        tracing::info!(addr = %server.local_addr(), "DRPC HTTP server listening");
        Ok(HttpServer { server, in_flight })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Requests being served.
    pub fn in_flight(&self) -> usize {
        *self.in_flight.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits up to `timeout` for the requests being served to finish (after [`Drpc::shutdown`] they
    /// finish at once with 503); returns whether they all did.
    pub fn drain(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (lock, cv) = &*self.in_flight;
        let mut n = lock.lock().unwrap_or_else(|p| p.into_inner());
        while *n > 0 {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            n = cv
                .wait_timeout(n, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }

    /// Stops taking requests (those in progress are answered) and waits for the server's thread.
    pub fn shutdown(&mut self) {
        self.server.shutdown();
        tracing::info!("DRPC HTTP server stopped");
    }
}

/// What a request asks for, parsed from method and URL.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// Run `func` with args from the URL (`Some`) or the body (`None`).
    Execute {
        func: String,
        args: Option<String>,
    },
    NotFound,
    MethodNotAllowed,
}

/// Maps a method and URL (path and optional query) to a [`Route`].
pub fn route(method: Method, url: &str) -> Route {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let Some(rest) = path.strip_prefix("/drpc/") else {
        return Route::NotFound;
    };
    let (func, args) = match rest.split_once('/') {
        Some((f, a)) => (f, Some(a)),
        None => (rest, None),
    };
    if func.is_empty() {
        return Route::NotFound;
    }
    let func = percent_decode(func);
    match (method, args) {
        (Method::Get, Some(a)) => Route::Execute {
            func,
            args: Some(percent_decode(a)),
        },
        (Method::Get, None) => Route::Execute {
            func,
            args: Some(String::new()),
        },
        (Method::Post, None) => Route::Execute { func, args: None },
        _ => Route::MethodNotAllowed,
    }
}

/// Decodes `%XX` escapes (as a URL path segment: `+` is literal); invalid UTF-8 is replaced.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The HTTP status and JSON body of a DRPC failure (Storm's `DRPCExceptionMapper`).
pub fn error_response(e: &DRPCExecutionException) -> (u16, String) {
    let (status, name) = match e.type_ {
        Some(DRPCExceptionType::FAILED_REQUEST) => (400, "FAILED_REQUEST"),
        Some(DRPCExceptionType::SERVER_SHUTDOWN) => (503, "SERVER_SHUTDOWN"),
        Some(DRPCExceptionType::SERVER_TIMEOUT) => (504, "SERVER_TIMEOUT"),
        Some(DRPCExceptionType::INTERNAL_ERROR) => (500, "INTERNAL_ERROR"),
        Some(_) | None => (500, "Internal Error"),
    };
    let body = serde_json::json!({ "error": name, "errorMessage": e.msg });
    (status, body.to_string())
}

/// Who may use the HTTP endpoint: `drpc.http.filter` (credentials; `None`: anonymous) and
/// `drpc.authorizer` (checked for `execute` as the authenticated user).
#[derive(Debug, Default)]
pub struct HttpSecurity {
    /// The basic-auth filter.
    pub auth: Option<crate::security::http_auth::BasicAuth>,
    /// The DRPC authorizer.
    pub authz: Option<Arc<crate::security::drpc_acl::DrpcAuthorizer>>,
}

fn serve(
    request: Request,
    drpc: &Drpc,
    max_body_bytes: usize,
    security: &HttpSecurity,
) -> Response {
    let user = match &security.auth {
        Some(auth) => match auth.check_request(&request) {
            Ok(user) => Some(user),
            Err(resp) => return resp,
        },
        None => None,
    };
    // The request context of this (pooled) thread for this request only.
    crate::security::ReqContext {
        principal: user,
        remote: Some(request.peer()),
    }
    .install();
    let response = execute(request, drpc, max_body_bytes, security);
    crate::security::ReqContext::clear();
    response
}

fn execute(
    request: Request,
    drpc: &Drpc,
    max_body_bytes: usize,
    security: &HttpSecurity,
) -> Response {
    let started = Instant::now();
    let (func, args) = match route(request.method(), request.url()) {
        Route::Execute { func, args } => (func, args),
        Route::NotFound => return error_reply(404, "Not Found", "no such resource"),
        Route::MethodNotAllowed => {
            return error_reply(
                405,
                "Method Not Allowed",
                "use GET /drpc/<func>[/<args>] or POST /drpc/<func>",
            )
        }
    };
    let args = match args {
        Some(a) => a,
        None if request.body_too_large() => {
            return error_reply(
                413,
                "Payload Too Large",
                &format!("the request body is over drpc.max_buffer_size ({max_body_bytes} bytes)"),
            )
        }
        None => String::from_utf8_lossy(request.body()).into_owned(),
    };
    if let Some(authz) = &security.authz {
        if let Err(msg) = authz.check("execute", &func) {
            return error_reply(403, "Not Authorized", &msg);
        }
    }
    let response = match drpc.execute(&func, &args) {
        Ok(result) => Response::bytes(200, "text/plain; charset=utf-8", result.into_bytes()),
        Err(e) => {
            let (status, body) = error_response(&e);
            Response::bytes(status, JSON, body.into_bytes())
        }
    };
    tracing::debug!(function = %func, elapsed = ?started.elapsed(), "DRPC HTTP request served");
    response
}

const JSON: &str = "application/json";

fn error_reply(status: u16, error: &str, msg: &str) -> Response {
    let body = serde_json::json!({ "error": error, "errorMessage": msg }).to_string();
    Response::bytes(status, JSON, body.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn exec(func: &str, args: Option<&str>) -> Route {
        Route::Execute {
            func: func.into(),
            args: args.map(str::to_string),
        }
    }

    #[test]
    fn oversized_request_headers_are_refused_with_431() {
        let drpc = Arc::new(Drpc::new(Duration::from_secs(5), 16));
        let server = HttpServer::start("127.0.0.1:0", drpc, 1024).unwrap();
        let addr = server.local_addr();
        let ask = |request: &[u8]| {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let _ = s.write_all(request);
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out);
            String::from_utf8_lossy(&out).into_owned()
        };
        let mut big = b"GET /nowhere HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', 3 * crate::http::MAX_HEADER_BYTES));
        big.extend_from_slice(b"\r\n\r\n");
        let answer = ask(&big);
        assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
        // A header line that never ends is refused the same way.
        let endless = [b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'b'; 20_000]].concat();
        let answer = ask(&endless);
        assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
        // Normal requests are still served, two on one keep-alive connection.
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        for _ in 0..2 {
            s.write_all(b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let (head, body) = crate::http::server::tests::read_response(&mut s);
            assert!(head.starts_with("HTTP/1.1 404"), "{head}");
            assert!(body.contains("no such resource"), "{body}");
        }
        assert_eq!(server.in_flight(), 0);
    }

    #[test]
    fn routes() {
        assert_eq!(
            route(Method::Get, "/drpc/f/hello"),
            exec("f", Some("hello"))
        );
        assert_eq!(route(Method::Get, "/drpc/f"), exec("f", Some("")));
        assert_eq!(route(Method::Get, "/drpc/f/"), exec("f", Some("")));
        assert_eq!(route(Method::Post, "/drpc/f"), exec("f", None));
        assert_eq!(
            route(Method::Get, "/drpc/f/a%20b%2Fc+d?x=1"),
            exec("f", Some("a b/c+d"))
        );
        assert_eq!(route(Method::Get, "/drpc/f/a/b"), exec("f", Some("a/b")));
        assert_eq!(
            route(Method::Get, "/drpc/my%20f/x"),
            exec("my f", Some("x"))
        );
        assert_eq!(route(Method::Get, "/"), Route::NotFound);
        assert_eq!(route(Method::Get, "/drpc"), Route::NotFound);
        assert_eq!(route(Method::Get, "/drpc/"), Route::NotFound);
        assert_eq!(route(Method::Get, "/other/f"), Route::NotFound);
        assert_eq!(route(Method::Put, "/drpc/f"), Route::MethodNotAllowed);
        assert_eq!(route(Method::Post, "/drpc/f/x"), Route::MethodNotAllowed);
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("%e2%9c%93 %zz %4"), "✓ %zz %4");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%41%42"), "AB");
    }

    #[test]
    fn errors_map_to_storm_statuses() {
        let e = |t| DRPCExecutionException {
            msg: "m".into(),
            type_: t,
        };
        let (s, body) = error_response(&e(Some(DRPCExceptionType::FAILED_REQUEST)));
        assert_eq!(s, 400);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error": "FAILED_REQUEST", "errorMessage": "m"})
        );
        assert_eq!(
            error_response(&e(Some(DRPCExceptionType::SERVER_SHUTDOWN))).0,
            503
        );
        assert_eq!(
            error_response(&e(Some(DRPCExceptionType::SERVER_TIMEOUT))).0,
            504
        );
        assert_eq!(
            error_response(&e(Some(DRPCExceptionType::INTERNAL_ERROR))).0,
            500
        );
        let (s, body) = error_response(&e(None));
        assert_eq!(s, 500);
        assert!(body.contains("\"Internal Error\""));
    }
}
