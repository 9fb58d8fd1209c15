//! SASL DIGEST-MD5 (RFC 2831), authentication only (`qop=auth`), both sides: what Storm's
//! `DigestSaslTransportPlugin` negotiates through Java's SASL implementation.
//!
//! The server sends a challenge (`realm`, `nonce`, `qop="auth"`, `charset=utf-8`,
//! `algorithm=md5-sess`); the client answers with its `username`, a `cnonce`, the `digest-uri`
//! (`<service>/<host>`) and `response`, an MD5 digest over the password; the server checks it and
//! proves it knows the password too with `rspauth`. Integrity and confidentiality layers
//! (`auth-int`, `auth-conf`) are not offered, as Storm's default `javax.security.sasl.qop` is `auth`.

use md5::{Digest, Md5};

/// The SASL mechanism name.
pub const MECHANISM: &str = "DIGEST-MD5";

/// Why a DIGEST-MD5 exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("DIGEST-MD5: malformed {what}: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("DIGEST-MD5: unknown user '{0}'")]
    UnknownUser(String),
    #[error("DIGEST-MD5: wrong password for user '{0}'")]
    BadPassword(String),
    #[error("DIGEST-MD5: {0}")]
    Protocol(String),
}

fn hex(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(H[(b >> 4) as usize] as char);
        s.push(H[(b & 15) as usize] as char);
    }
    s
}

fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    let out = h.finalize();
    let mut a = [0u8; 16];
    a.copy_from_slice(&out);
    a
}

/// The inputs of a response (or `rspauth`) digest.
#[derive(Debug, Clone)]
pub struct DigestInputs<'a> {
    pub username: &'a str,
    pub realm: &'a str,
    pub password: &'a str,
    pub nonce: &'a str,
    pub cnonce: &'a str,
    pub nc: &'a str,
    pub qop: &'a str,
    pub digest_uri: &'a str,
    pub authzid: Option<&'a str>,
}

impl DigestInputs<'_> {
    /// `response-value` of RFC 2831 §2.1.2.1; `for_rspauth` computes the server's `rspauth`
    /// (A2 without "AUTHENTICATE").
    pub fn response(&self, for_rspauth: bool) -> String {
        let urp = md5(&[
            self.username.as_bytes(),
            b":",
            self.realm.as_bytes(),
            b":",
            self.password.as_bytes(),
        ]);
        let mut a1: Vec<u8> = Vec::new();
        a1.extend_from_slice(&urp);
        a1.extend_from_slice(format!(":{}:{}", self.nonce, self.cnonce).as_bytes());
        if let Some(z) = self.authzid {
            a1.extend_from_slice(format!(":{z}").as_bytes());
        }
        let a2 = if for_rspauth {
            format!(":{}", self.digest_uri)
        } else {
            format!("AUTHENTICATE:{}", self.digest_uri)
        };
        let ha1 = hex(&md5(&[&a1]));
        let ha2 = hex(&md5(&[a2.as_bytes()]));
        let kd = format!(
            "{ha1}:{}:{}:{}:{}:{ha2}",
            self.nonce, self.nc, self.cnonce, self.qop
        );
        hex(&md5(&[kd.as_bytes()]))
    }
}

/// Parses a DIGEST-MD5 directive list (`a=b, c="d,e"`): (name lower-cased, value) pairs in order.
pub fn parse_directives(
    text: &[u8],
    what: &'static str,
) -> Result<Vec<(String, String)>, DigestError> {
    let bad = |detail: String| DigestError::Malformed { what, detail };
    let text = std::str::from_utf8(text).map_err(|_| bad("not UTF-8".into()))?;
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while matches!(chars.peek(), Some(c) if c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' || c.is_whitespace() {
                break;
            }
            name.push(c);
            chars.next();
        }
        while matches!(chars.peek(), Some(c) if c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(bad(format!("directive '{name}' has no '='")));
        }
        while matches!(chars.peek(), Some(c) if c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '"' => {
                        closed = true;
                        break;
                    }
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return Err(bad(format!("the value of '{name}' is not closed")));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
            value = value.trim_end().to_string();
        }
        if out.len() >= 64 {
            return Err(bad("too many directives".into()));
        }
        out.push((name.to_ascii_lowercase(), value));
    }
    Ok(out)
}

fn get<'a>(d: &'a [(String, String)], key: &str) -> Option<&'a str> {
    d.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn quote(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for c in v.chars() {
        if c == '"' || c == '\\' {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    s
}

/// A fresh random nonce (128 bits, hex).
pub fn new_nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The server side of one exchange.
#[derive(Debug, Clone)]
pub struct DigestServer {
    service: String,
    realm: String,
    nonce: String,
}

impl DigestServer {
    /// A server for `service` (Storm: `storm_thrift_server`) in `realm` (Storm: the server name,
    /// `localhost`).
    pub fn new(service: &str, realm: &str) -> DigestServer {
        DigestServer::with_nonce(service, realm, &new_nonce())
    }

    pub fn with_nonce(service: &str, realm: &str, nonce: &str) -> DigestServer {
        DigestServer {
            service: service.into(),
            realm: realm.into(),
            nonce: nonce.into(),
        }
    }

    /// The first challenge.
    pub fn challenge(&self) -> Vec<u8> {
        format!(
            "realm={},nonce={},qop=\"auth\",charset=utf-8,algorithm=md5-sess",
            quote(&self.realm),
            quote(&self.nonce)
        )
        .into_bytes()
    }

    /// Checks the client's response with `password_of(username)`; on success the authenticated
    /// user (the `authzid` when given and equal to the user, else the user) and the `rspauth`
    /// message to send back.
    pub fn verify(
        &self,
        response: &[u8],
        password_of: impl Fn(&str) -> Option<String>,
    ) -> Result<(String, Vec<u8>), DigestError> {
        if response.len() > 4096 {
            return Err(DigestError::Malformed {
                what: "response",
                detail: format!("{} bytes (limit 4096)", response.len()),
            });
        }
        let d = parse_directives(response, "response")?;
        let need = |k: &'static str| {
            get(&d, k).ok_or_else(|| DigestError::Malformed {
                what: "response",
                detail: format!("no '{k}' directive"),
            })
        };
        let username = need("username")?;
        let nonce = need("nonce")?;
        let cnonce = need("cnonce")?;
        let nc = need("nc")?;
        let digest_uri = need("digest-uri")?;
        let response_value = need("response")?;
        let qop = get(&d, "qop").unwrap_or("auth");
        let realm = get(&d, "realm").unwrap_or("");
        let authzid = get(&d, "authzid");
        if nonce != self.nonce {
            return Err(DigestError::Protocol(
                "the nonce is not the one this server sent".into(),
            ));
        }
        if qop != "auth" {
            return Err(DigestError::Protocol(format!(
                "qop '{qop}' is not offered (this server offers only 'auth')"
            )));
        }
        if !realm.is_empty() && realm != self.realm {
            return Err(DigestError::Protocol(format!(
                "realm '{realm}' is not this server's realm '{}'",
                self.realm
            )));
        }
        if nc != "00000001" {
            return Err(DigestError::Protocol(format!(
                "unexpected nonce-count {nc}"
            )));
        }
        match digest_uri.split_once('/') {
            Some((svc, _host)) if svc == self.service => {}
            _ => {
                return Err(DigestError::Protocol(format!(
                    "digest-uri '{digest_uri}' is not for service '{}'",
                    self.service
                )))
            }
        }
        if let Some(z) = authzid {
            if z != username {
                return Err(DigestError::Protocol(format!(
                    "user '{username}' may not act as '{z}'"
                )));
            }
        }
        let password =
            password_of(username).ok_or_else(|| DigestError::UnknownUser(username.to_string()))?;
        let inputs = DigestInputs {
            username,
            realm,
            password: &password,
            nonce,
            cnonce,
            nc,
            qop,
            digest_uri,
            authzid,
        };
        let expected = inputs.response(false);
        if !constant_time_eq(
            expected.as_bytes(),
            response_value.to_ascii_lowercase().as_bytes(),
        ) {
            return Err(DigestError::BadPassword(username.to_string()));
        }
        Ok((
            username.to_string(),
            format!("rspauth={}", inputs.response(true)).into_bytes(),
        ))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The client side of one exchange.
#[derive(Debug, Clone)]
pub struct DigestClient {
    username: String,
    password: String,
    digest_uri: String,
    cnonce: String,
    /// The expected `rspauth`, once the response is sent.
    expected_rspauth: Option<String>,
}

impl DigestClient {
    /// A client authenticating as `username` to `service` on `host`.
    pub fn new(username: &str, password: &str, service: &str, host: &str) -> DigestClient {
        DigestClient::with_cnonce(username, password, service, host, &new_nonce())
    }

    pub fn with_cnonce(
        username: &str,
        password: &str,
        service: &str,
        host: &str,
        cnonce: &str,
    ) -> DigestClient {
        DigestClient {
            username: username.into(),
            password: password.into(),
            digest_uri: format!("{service}/{host}"),
            cnonce: cnonce.into(),
            expected_rspauth: None,
        }
    }

    /// Answers the server's challenge.
    pub fn respond(&mut self, challenge: &[u8]) -> Result<Vec<u8>, DigestError> {
        if challenge.len() > 2048 {
            return Err(DigestError::Malformed {
                what: "challenge",
                detail: format!("{} bytes (limit 2048)", challenge.len()),
            });
        }
        let d = parse_directives(challenge, "challenge")?;
        let nonce = get(&d, "nonce").ok_or_else(|| DigestError::Malformed {
            what: "challenge",
            detail: "no nonce".into(),
        })?;
        let offered: Vec<&str> = d
            .iter()
            .filter(|(k, _)| k == "qop")
            .flat_map(|(_, v)| v.split(',').map(str::trim))
            .collect();
        if !offered.is_empty() && !offered.contains(&"auth") {
            return Err(DigestError::Protocol(format!(
                "the server offers qop {offered:?} but not 'auth'"
            )));
        }
        match get(&d, "algorithm") {
            Some(a) if a.eq_ignore_ascii_case("md5-sess") => {}
            other => {
                return Err(DigestError::Protocol(format!(
                    "algorithm must be md5-sess, the server sent {other:?}"
                )))
            }
        }
        let realm = get(&d, "realm").unwrap_or("");
        let inputs = DigestInputs {
            username: &self.username,
            realm,
            password: &self.password,
            nonce,
            cnonce: &self.cnonce,
            nc: "00000001",
            qop: "auth",
            digest_uri: &self.digest_uri,
            authzid: None,
        };
        self.expected_rspauth = Some(inputs.response(true));
        let utf8 = get(&d, "charset").is_some_and(|c| c.eq_ignore_ascii_case("utf-8"));
        let mut out = String::new();
        if utf8 {
            out.push_str("charset=utf-8,");
        }
        out.push_str(&format!(
            "username={},realm={},nonce={},nc=00000001,cnonce={},digest-uri={},maxbuf=65536,response={},qop=auth",
            quote(&self.username),
            quote(realm),
            quote(nonce),
            quote(&self.cnonce),
            quote(&self.digest_uri),
            inputs.response(false)
        ));
        Ok(out.into_bytes())
    }

    /// Checks the server's final message (`rspauth=…`): the server knows the password too.
    pub fn verify_rspauth(&self, message: &[u8]) -> Result<(), DigestError> {
        let d = parse_directives(message, "rspauth")?;
        match (get(&d, "rspauth"), &self.expected_rspauth) {
            (Some(got), Some(want)) if constant_time_eq(got.as_bytes(), want.as_bytes()) => Ok(()),
            (Some(_), Some(_)) => Err(DigestError::Protocol(
                "the server's rspauth is wrong: it does not know this user's password".into(),
            )),
            _ => Err(DigestError::Protocol("no rspauth from the server".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2831 §4's worked example (IMAP): user chris, password secret.
    #[test]
    fn rfc_2831_example() {
        let i = DigestInputs {
            username: "chris",
            realm: "elwood.innosoft.com",
            password: "secret",
            nonce: "OA6MG9tEQGm2hh",
            cnonce: "OA6MHXh6VqTrRk",
            nc: "00000001",
            qop: "auth",
            digest_uri: "imap/elwood.innosoft.com",
            authzid: None,
        };
        assert_eq!(i.response(false), "d388dad90d4bbd760a152321f2143af7");
        assert_eq!(i.response(true), "ea40f60335c427b5527b84dbabcdfffd");

        let server = DigestServer::with_nonce("imap", "elwood.innosoft.com", "OA6MG9tEQGm2hh");
        let mut client = DigestClient::with_cnonce(
            "chris",
            "secret",
            "imap",
            "elwood.innosoft.com",
            "OA6MHXh6VqTrRk",
        );
        let resp = client.respond(&server.challenge()).unwrap();
        assert!(
            String::from_utf8_lossy(&resp).contains("response=d388dad90d4bbd760a152321f2143af7")
        );
        let (user, rspauth) = server
            .verify(&resp, |u| (u == "chris").then(|| "secret".to_string()))
            .unwrap();
        assert_eq!(user, "chris");
        assert_eq!(rspauth, b"rspauth=ea40f60335c427b5527b84dbabcdfffd");
        client.verify_rspauth(&rspauth).unwrap();
        // The RFC's own response text parses and verifies.
        let rfc = br#"charset=utf-8,username="chris",realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",nc=00000001,cnonce="OA6MHXh6VqTrRk",digest-uri="imap/elwood.innosoft.com",response=d388dad90d4bbd760a152321f2143af7,qop=auth"#;
        assert!(server.verify(rfc, |_| Some("secret".into())).is_ok());
    }

    #[test]
    fn wrong_password_and_unknown_user_are_refused() {
        let server = DigestServer::new("storm_thrift_server", "localhost");
        let mut c = DigestClient::new("bob", "nope", "storm_thrift_server", "localhost");
        let r = c.respond(&server.challenge()).unwrap();
        assert_eq!(
            server.verify(&r, |_| Some("secret".into())).unwrap_err(),
            DigestError::BadPassword("bob".into())
        );
        assert_eq!(
            server.verify(&r, |_| None).unwrap_err(),
            DigestError::UnknownUser("bob".into())
        );
        // A server that does not know the password cannot fake rspauth.
        let mut c = DigestClient::new("bob", "secret", "storm_thrift_server", "localhost");
        let r = c.respond(&server.challenge()).unwrap();
        assert!(server.verify(&r, |_| Some("secret".into())).is_ok());
        assert!(c
            .verify_rspauth(b"rspauth=00000000000000000000000000000000")
            .is_err());
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let server = DigestServer::new("storm_thrift_server", "localhost");
            let _ = server.verify(&bytes, |_| Some("x".into()));
            let mut c = DigestClient::new("a", "b", "storm_thrift_server", "h");
            let _ = c.respond(&bytes);
            let _ = c.verify_rspauth(&bytes);
        }
    }
}
