//! What the project's HTTP servers (the DRPC HTTP endpoint, the UI, the logviewer) share: the server
//! itself ([`server`]: hyper 1.x on a tokio runtime of its own, handing each request to a synchronous
//! [`Handler`], with bounded request headers, header read timeout, connection and body limits), URL
//! encoding as Java's `URLEncoder` writes it, URL decoding (strict and lenient) and query strings.

pub mod server;

pub use server::{Body, Handler, Limits, Method, Request, Response, Server};

/// The largest request header section (request line and headers) the servers accept; over it the
/// client gets `431 Request Header Fields Too Large` and the connection is closed. Jetty's default
/// request header size, which Storm's HTTP servers keep.
pub const MAX_HEADER_BYTES: usize = 8192;

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

/// Java's `URLEncoder.encode(s, "UTF-8")`: `A-Za-z0-9.-*_` stay, a space is `+`, every other byte is
/// `%XX` (upper-case hex).
pub fn url_encode(s: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// Decodes `%XX` escapes (and `+` as a space when `plus` is set, as in a query) leniently: a bad
/// escape stays as it is, invalid UTF-8 becomes U+FFFD.
pub fn url_decode_lossy(s: &str, plus: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => match (
                b.get(i + 1).and_then(|c| unhex(*c)),
                b.get(i + 2).and_then(|c| unhex(*c)),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A request's query parameters, decoded leniently (`+` is a space); the first value of a repeated
/// name wins, as the servlet API's `getParameter` does.
#[derive(Debug, Default, Clone)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(query: &str) -> Query {
        Query(
            query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (url_decode_lossy(k, true), url_decode_lossy(v, true))
                })
                .collect(),
        )
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean parameter (`sys=true`, also `1`, `yes`, `on`); absent is false.
    pub fn flag(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "true" | "1" | "yes" | "on"
            )
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn encode_and_lenient_decode_round_trip() {
        let s = "wc-1-2/6700/worker.log ü+%";
        assert_eq!(super::url_decode_lossy(&super::url_encode(s), true), s);
        assert_eq!(super::url_encode("a b/é"), "a+b%2F%C3%A9");
        assert_eq!(super::url_decode_lossy("%zz%4", true), "%zz%4");
        assert_eq!(super::url_decode_lossy("a+b", false), "a+b");
        let q = super::Query::parse("a=1&b=x+y%2Fz&a=2&sys=1&bad=%zz");
        assert_eq!(q.get("a"), Some("1"));
        assert_eq!(q.get("b"), Some("x y/z"));
        assert_eq!(q.get("bad"), Some("%zz"));
        assert!(q.flag("sys") && !q.flag("a2"));
    }

    #[test]
    fn url_decode_as_java_encodes() {
        assert_eq!(super::url_decode("a%2Fb+c").as_deref(), Some("a/b c"));
        assert_eq!(super::url_decode("%E2%82%AC").as_deref(), Some("€"));
        assert_eq!(super::url_decode("%zz"), None);
        assert_eq!(super::url_decode("%4"), None);
        assert_eq!(super::url_decode("%FF"), None);
    }
}
