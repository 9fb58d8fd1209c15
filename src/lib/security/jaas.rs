//! Storm's JAAS login configuration file (`java.security.auth.login.config`): the parser and the two
//! sections the DIGEST-MD5 transport reads — `StormServer` (`user_<name>="<password>"` options) and
//! `StormClient` (`username` / `password` options).
//!
//! The syntax is Java's `ConfigFile` syntax:
//!
//! ```text
//! // comment            /* block comment */
//! StormServer {
//!    org.apache.zookeeper.server.auth.DigestLoginModule required
//!        user_alice="alice-secret"
//!        user_bob="bob-secret";
//! };
//! ```
//!
//! A file holds sections (`Name { entry; entry; };`); an entry is a login module class, a control
//! flag (`required`, `requisite`, `sufficient`, `optional`) and `key=value` options whose values are
//! quoted (`"…"`, with `\` escapes) or bare words.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The section a server reads its users from (Storm's `ClientAuthUtils.LOGIN_CONTEXT_SERVER`).
pub const SERVER_SECTION: &str = "StormServer";
/// The section a client reads its credentials from (Storm's `ClientAuthUtils.LOGIN_CONTEXT_CLIENT`).
pub const CLIENT_SECTION: &str = "StormClient";
/// The config key naming the JAAS file.
pub const LOGIN_CONFIG_KEY: &str = "java.security.auth.login.config";

/// Why a JAAS file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum JaasError {
    #[error("cannot read the JAAS login file {} ({LOGIN_CONFIG_KEY}): {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("JAAS login file {} ({LOGIN_CONFIG_KEY}), line {line}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error(
        "JAAS login file {} ({LOGIN_CONFIG_KEY}) has no '{section}' section; add one ({hint})",
        path.display()
    )]
    MissingSection {
        path: PathBuf,
        section: &'static str,
        hint: &'static str,
    },
}

/// One login-module entry of a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JaasEntry {
    pub module: String,
    pub flag: String,
    pub options: BTreeMap<String, String>,
}

/// A parsed JAAS file: section name → entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JaasConfig {
    pub path: PathBuf,
    pub sections: BTreeMap<String, Vec<JaasEntry>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Open,
    Close,
    Semi,
    Eq,
}

fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>, (usize, String)> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let start = line;
                let mut prev = ' ';
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                    }
                    if prev == '*' && c == '/' {
                        closed = true;
                        break;
                    }
                    prev = c;
                }
                if !closed {
                    return Err((start, "a /* comment is never closed".into()));
                }
            }
            '{' => out.push((Tok::Open, line)),
            '}' => out.push((Tok::Close, line)),
            ';' => out.push((Tok::Semi, line)),
            '=' => out.push((Tok::Eq, line)),
            '"' | '\'' => {
                let quote = c;
                let start = line;
                let mut s = String::new();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        c if c == quote => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.next() {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some('r') => s.push('\r'),
                            Some(other) => s.push(other),
                            None => break,
                        },
                        '\n' => {
                            line += 1;
                            s.push('\n');
                        }
                        c => s.push(c),
                    }
                }
                if !closed {
                    return Err((
                        start,
                        format!("a {quote}quoted{quote} value is never closed"),
                    ));
                }
                out.push((Tok::Quoted(s), start));
            }
            c => {
                let mut s = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || matches!(n, '{' | '}' | ';' | '=' | '"' | '\'') {
                        break;
                    }
                    s.push(n);
                    chars.next();
                }
                out.push((Tok::Word(s), line));
            }
        }
    }
    Ok(out)
}

impl JaasConfig {
    /// Reads and parses the file at `path`.
    pub fn load(path: &Path) -> Result<JaasConfig, JaasError> {
        let text = std::fs::read_to_string(path).map_err(|source| JaasError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        JaasConfig::parse(&text, path)
    }

    /// Parses JAAS text (`path` only names the file in errors).
    pub fn parse(text: &str, path: &Path) -> Result<JaasConfig, JaasError> {
        let syntax = |line: usize, message: String| JaasError::Syntax {
            path: path.to_path_buf(),
            line,
            message,
        };
        let toks = tokenize(text).map_err(|(l, m)| syntax(l, m))?;
        let last_line = toks.last().map(|t| t.1).unwrap_or(1);
        let mut it = toks.into_iter().peekable();
        let mut sections: BTreeMap<String, Vec<JaasEntry>> = BTreeMap::new();
        let word = |t: Option<(Tok, usize)>, what: &str| -> Result<(String, usize), JaasError> {
            match t {
                Some((Tok::Word(w), l)) => Ok((w, l)),
                Some((other, l)) => Err(syntax(l, format!("expected {what}, found {other:?}"))),
                None => Err(syntax(
                    last_line,
                    format!("expected {what}, found the end of the file"),
                )),
            }
        };
        while it.peek().is_some() {
            let (name, line) = word(it.next(), "a section name")?;
            match it.next() {
                Some((Tok::Open, _)) => {}
                _ => {
                    return Err(syntax(
                        line,
                        format!("expected '{{' after section name {name}"),
                    ))
                }
            }
            let mut entries = Vec::new();
            loop {
                if let Some((Tok::Close, _)) = it.peek() {
                    it.next();
                    break;
                }
                let (module, _) = word(it.next(), "a login module class or '}'")?;
                let (flag, fl) = word(
                    it.next(),
                    "a control flag (required, requisite, sufficient, optional)",
                )?;
                if !["required", "requisite", "sufficient", "optional"]
                    .contains(&flag.to_ascii_lowercase().as_str())
                {
                    return Err(syntax(
                        fl,
                        format!("'{flag}' is not a control flag (required, requisite, sufficient, optional)"),
                    ));
                }
                let mut options = BTreeMap::new();
                loop {
                    match it.next() {
                        Some((Tok::Semi, _)) => break,
                        Some((Tok::Word(key), l)) => {
                            match it.next() {
                                Some((Tok::Eq, _)) => {}
                                _ => {
                                    return Err(syntax(
                                        l,
                                        format!("expected '=' after option {key}"),
                                    ))
                                }
                            }
                            let value = match it.next() {
                                Some((Tok::Quoted(v), _)) | Some((Tok::Word(v), _)) => v,
                                _ => return Err(syntax(l, format!("option {key} has no value"))),
                            };
                            options.insert(key, value);
                        }
                        Some((other, l)) => {
                            return Err(syntax(
                                l,
                                format!("expected an option or ';', found {other:?}"),
                            ))
                        }
                        None => {
                            return Err(syntax(last_line, format!("section {name} is not closed")))
                        }
                    }
                }
                entries.push(JaasEntry {
                    module,
                    flag,
                    options,
                });
            }
            // The ';' after '}' is required by Java; be lenient about a missing one at the end.
            if let Some((Tok::Semi, _)) = it.peek() {
                it.next();
            }
            sections.entry(name).or_default().extend(entries);
        }
        Ok(JaasConfig {
            path: path.to_path_buf(),
            sections,
        })
    }

    /// The options of every entry of `section`, later entries winning; `None` without the section.
    pub fn options(&self, section: &str) -> Option<BTreeMap<String, String>> {
        let entries = self.sections.get(section)?;
        let mut all = BTreeMap::new();
        for e in entries {
            all.extend(e.options.clone());
        }
        Some(all)
    }

    /// The users a server accepts: `user_<name>="<password>"` options of `StormServer`.
    pub fn server_users(&self) -> Result<BTreeMap<String, String>, JaasError> {
        let opts = self
            .options(SERVER_SECTION)
            .ok_or_else(|| JaasError::MissingSection {
                path: self.path.clone(),
                section: SERVER_SECTION,
                hint: "with user_<name>=\"<password>\" options",
            })?;
        Ok(opts
            .into_iter()
            .filter_map(|(k, v)| k.strip_prefix("user_").map(|u| (u.to_string(), v)))
            .collect())
    }

    /// A client's credentials: `username` and `password` of `StormClient` (empty when absent, as
    /// in Storm).
    pub fn client_credentials(&self) -> Result<(String, String), JaasError> {
        let opts = self
            .options(CLIENT_SECTION)
            .ok_or_else(|| JaasError::MissingSection {
                path: self.path.clone(),
                section: CLIENT_SECTION,
                hint: "with username=\"<name>\" and password=\"<password>\" options",
            })?;
        Ok((
            opts.get("username").cloned().unwrap_or_default(),
            opts.get("password").cloned().unwrap_or_default(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
/* Storm's sample digest JAAS file */
StormServer {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       user_super="adminsecret" // the admin
       user_bob="bob\"secret"
       user_plain=bare_word;
};
// client side
StormClient {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       username="bob"
       password="bob\"secret";
};
Client { org.apache.zookeeper.server.auth.DigestLoginModule required username="zk" password='z;k'; };
"#;

    #[test]
    fn parses_storm_sample_with_comments_and_quoting() {
        let c = JaasConfig::parse(SAMPLE, Path::new("jaas.conf")).unwrap();
        let users = c.server_users().unwrap();
        assert_eq!(users.get("super").map(String::as_str), Some("adminsecret"));
        assert_eq!(users.get("bob").map(String::as_str), Some("bob\"secret"));
        assert_eq!(users.get("plain").map(String::as_str), Some("bare_word"));
        assert_eq!(users.len(), 3);
        assert_eq!(
            c.client_credentials().unwrap(),
            ("bob".to_string(), "bob\"secret".to_string())
        );
        assert_eq!(c.options("Client").unwrap()["password"], "z;k");
        assert_eq!(
            c.sections["StormServer"][0].module,
            "org.apache.zookeeper.server.auth.DigestLoginModule"
        );
    }

    #[test]
    fn errors_name_the_file_line_and_problem() {
        let e = JaasConfig::parse(
            "StormServer {\n  mod required\n  user_a=\"x\"\n",
            Path::new("/j.conf"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("/j.conf") && e.contains("not closed"), "{e}");
        let e = JaasConfig::parse("StormServer {\n mod maybe;\n};", Path::new("/j.conf"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("control flag"), "{e}");
        let c = JaasConfig::parse(
            "StormServer { m required user_a=b; };",
            Path::new("/j.conf"),
        )
        .unwrap();
        let e = c.client_credentials().unwrap_err().to_string();
        assert!(
            e.contains("StormClient") && e.contains(LOGIN_CONFIG_KEY),
            "{e}"
        );
        assert!(JaasConfig::parse("/* never closed", Path::new("x")).is_err());
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(s in "\\PC{0,200}") {
            let _ = JaasConfig::parse(&s, Path::new("x"));
        }
    }
}
