//! HTTP credentials for the UI, the logviewer and DRPC's HTTP endpoint: Storm names servlet filters
//! with `ui.filter` (+ `ui.filter.params`), `logviewer.filter` (+ `logviewer.filter.params`; the UI's
//! filter when unset, as in Storm) and `drpc.http.filter` (+ `drpc.http.filter.params`).
//!
//! storm-rs implements one filter, HTTP Basic authentication, under the class name
//! [`BASIC_AUTH_FILTER`] (a storm-rs name; Storm itself ships no basic-auth filter). Its params:
//!
//! * `users.file` (required): a file of `user:password` lines, or `user:{SHA256}<hex>` with the
//!   password's SHA-256; `#` starts a comment. Relative paths resolve against the daemon's conf dir.
//!   A file others can read is refused (it holds secrets; make it mode 0600).
//! * `realm` (default `storm`): the realm in the `WWW-Authenticate` challenge.
//!
//! A request without valid credentials gets `401` with the challenge; with them, the request runs as
//! that user (the UI applies `nimbus.authorizer` to it, the logviewer `logs.users`, DRPC its
//! `drpc.authorizer`). Any other filter class is an error at start naming the key.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::SecurityError;
use crate::config::Config;

/// The storm-rs basic-auth filter's class name.
pub const BASIC_AUTH_FILTER: &str = "org.apache.storm.rs.security.BasicAuthFilter";

#[derive(Clone)]
enum Secret {
    Plain(Vec<u8>),
    Sha256([u8; 32]),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A configured basic-auth filter.
#[derive(Debug, Clone)]
pub struct BasicAuth {
    realm: String,
    users: HashMap<String, Secret>,
}

impl BasicAuth {
    /// The filter `filter_key` names with its `params_key`; `None` when unset (no authentication).
    /// With `fallback` (the logviewer's `ui.filter`), an unset `filter_key` uses those keys instead.
    pub fn from_config(
        conf: &Config,
        filter_key: &str,
        params_key: &str,
        fallback: Option<(&str, &str)>,
    ) -> Result<Option<BasicAuth>, SecurityError> {
        let unset = |k: &str| {
            matches!(conf.get(k), None | Some(Value::Null))
                || conf.get(k).and_then(Value::as_str) == Some("")
        };
        let (filter_key, params_key) = match fallback {
            Some(fb) if unset(filter_key) => fb,
            _ => (filter_key, params_key),
        };
        if unset(filter_key) {
            return Ok(None);
        }
        let class = conf
            .get(filter_key)
            .map(super::value_text)
            .unwrap_or_default();
        if class != BASIC_AUTH_FILTER {
            return Err(SecurityError::UnknownClass {
                key: filter_key.into(),
                value: class,
                accepted: vec![BASIC_AUTH_FILTER],
            });
        }
        let params = match conf.get(params_key) {
            Some(Value::Object(m)) => m.clone(),
            _ => {
                return Err(SecurityError::Value {
                    key: params_key.into(),
                    message: format!(
                    "{BASIC_AUTH_FILTER} needs {params_key} = {{ \"users.file\" = \"<path>\" }}"
                ),
                })
            }
        };
        let file = params
            .get("users.file")
            .and_then(Value::as_str)
            .ok_or_else(|| SecurityError::Value {
                key: params_key.into(),
                message: "\"users.file\" (a file of user:password lines) is missing".into(),
            })?;
        let path = resolve(conf, file);
        let users = read_users(&path).map_err(|message| SecurityError::File {
            key: format!("{params_key} users.file"),
            path: path.display().to_string(),
            message,
        })?;
        Ok(Some(BasicAuth {
            realm: params
                .get("realm")
                .and_then(Value::as_str)
                .unwrap_or("storm")
                .to_string(),
            users,
        }))
    }

    /// A filter over a fixed table of plain passwords (tests).
    pub fn with_users(realm: &str, users: &[(&str, &str)]) -> BasicAuth {
        BasicAuth {
            realm: realm.into(),
            users: users
                .iter()
                .map(|(u, p)| (u.to_string(), Secret::Plain(p.as_bytes().to_vec())))
                .collect(),
        }
    }

    /// The user an `Authorization` header value proves, if it does.
    pub fn authenticate(&self, authorization: Option<&str>) -> Option<String> {
        let value = authorization?.trim();
        let (scheme, token) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = base64_decode(token.trim())?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, password) = text.split_once(':')?;
        let ok = match self.users.get(user)? {
            Secret::Plain(p) => constant_time_eq(p, password.as_bytes()),
            Secret::Sha256(h) => constant_time_eq(h, &Sha256::digest(password.as_bytes())),
        };
        ok.then(|| user.to_string())
    }

    /// The `WWW-Authenticate` value of a `401`.
    pub fn challenge(&self) -> String {
        format!("Basic realm=\"{}\"", self.realm.replace('"', ""))
    }

    /// Authenticates a request: `Ok(user)`, or the `401` response to send.
    pub fn check_request(
        &self,
        request: &crate::http::Request,
    ) -> Result<String, crate::http::Response> {
        let header = request.header("Authorization");
        match self.authenticate(header) {
            Some(user) => Ok(user),
            None => {
                if header.is_some() {
                    tracing::info!(url = %request.url(), peer = %request.peer(), "HTTP request with wrong credentials refused");
                }
                Err(
                    crate::http::Response::text(401, "401 Unauthorized: credentials required\n")
                        .with_header("WWW-Authenticate", self.challenge()),
                )
            }
        }
    }
}

fn resolve(conf: &Config, file: &str) -> PathBuf {
    let p = Path::new(file);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    match conf.file().and_then(Path::parent) {
        Some(dir) => dir.join(p),
        None => conf.home().join("conf").join(p),
    }
}

fn read_users(path: &Path) -> Result<HashMap<String, Secret>, String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "the file is readable by others (mode {:o}); run chmod 600 on it",
            meta.permissions().mode() & 0o777
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    parse_users(&text)
}

/// Parses a users file (`user:password` or `user:{SHA256}<hex>` lines).
fn parse_users(text: &str) -> Result<HashMap<String, Secret>, String> {
    let mut users = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (user, secret) = line
            .split_once(':')
            .ok_or_else(|| format!("line {}: expected user:password", i + 1))?;
        if user.is_empty() {
            return Err(format!("line {}: empty user name", i + 1));
        }
        let secret = match secret.strip_prefix("{SHA256}") {
            Some(hex) => Secret::Sha256(parse_hex32(hex).ok_or_else(|| {
                format!(
                    "line {}: {{SHA256}} must be followed by 64 hex digits",
                    i + 1
                )
            })?),
            None => Secret::Plain(secret.as_bytes().to_vec()),
        };
        users.insert(user.to_string(), secret);
    }
    if users.is_empty() {
        return Err("no users in the file".into());
    }
    Ok(users)
}

fn parse_hex32(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Standard base64 (with or without padding); `None` on anything else.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let s = s.trim_end_matches('=').as_bytes();
    if s.len() % 4 == 1 || s.len() > 16 * 1024 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= val(*c)? << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len() - 1]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_rfc4648_vectors() {
        for (enc, dec) in [
            ("", ""),
            ("Zg==", "f"),
            ("Zm8=", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYg==", "foob"),
            ("Zm9vYmE=", "fooba"),
            ("Zm9vYmFy", "foobar"),
        ] {
            assert_eq!(base64_decode(enc).unwrap(), dec.as_bytes(), "{enc}");
        }
        assert!(base64_decode("Z").is_none());
        assert!(base64_decode("Zm9v!").is_none());
    }

    #[test]
    fn basic_auth_accepts_only_the_right_password() {
        let hash: String = Sha256::digest(b"s3cret")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let users = parse_users(&format!(
            "# users\nalice:pw:with:colons\nbob:{{SHA256}}{hash}\n"
        ))
        .unwrap();
        let auth = BasicAuth {
            realm: "storm".into(),
            users,
        };
        // alice:pw:with:colons
        assert_eq!(
            auth.authenticate(Some("Basic YWxpY2U6cHc6d2l0aDpjb2xvbnM="))
                .as_deref(),
            Some("alice")
        );
        // bob:s3cret, scheme case-insensitive
        assert_eq!(
            auth.authenticate(Some("basic Ym9iOnMzY3JldA==")).as_deref(),
            Some("bob")
        );
        // bob:wrong, carol:x, garbage, no header, another scheme
        assert_eq!(auth.authenticate(Some("Basic Ym9iOndyb25n")), None);
        assert_eq!(auth.authenticate(Some("Basic Y2Fyb2w6eA==")), None);
        assert_eq!(auth.authenticate(Some("Basic %%%")), None);
        assert_eq!(auth.authenticate(None), None);
        assert_eq!(auth.authenticate(Some("Bearer abc")), None);
        assert_eq!(auth.challenge(), "Basic realm=\"storm\"");
        assert!(parse_users("nobody\n").is_err());
        assert!(parse_users("x:{SHA256}12\n").is_err());
        assert!(parse_users("# nothing\n").is_err());
    }

    #[test]
    fn config_needs_a_private_users_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("http-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("users");
        std::fs::write(&file, "alice:pw\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut conf = Config::defaults();
        assert!(
            BasicAuth::from_config(&conf, "ui.filter", "ui.filter.params", None)
                .unwrap()
                .is_none()
        );
        conf.set("ui.filter", BASIC_AUTH_FILTER);
        let err = BasicAuth::from_config(&conf, "ui.filter", "ui.filter.params", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("ui.filter.params"), "{err}");
        conf.set(
            "ui.filter.params",
            serde_json::json!({"users.file": file.display().to_string()}),
        );
        let err = BasicAuth::from_config(&conf, "ui.filter", "ui.filter.params", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("chmod 600"), "{err}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let a = BasicAuth::from_config(&conf, "ui.filter", "ui.filter.params", None)
            .unwrap()
            .unwrap();
        assert_eq!(
            a.authenticate(Some("Basic YWxpY2U6cHc=")).as_deref(),
            Some("alice")
        );
        // The logviewer falls back to the UI's filter.
        assert!(BasicAuth::from_config(
            &conf,
            "logviewer.filter",
            "logviewer.filter.params",
            Some(("ui.filter", "ui.filter.params"))
        )
        .unwrap()
        .is_some());
        conf.set(
            "ui.filter",
            "org.apache.hadoop.security.authentication.server.AuthenticationFilter",
        );
        let err = BasicAuth::from_config(&conf, "ui.filter", "ui.filter.params", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains(BASIC_AUTH_FILTER), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
