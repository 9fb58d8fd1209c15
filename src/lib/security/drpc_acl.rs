//! `drpc.authorizer` (Storm's `DRPCSimpleACLAuthorizer`, also `DenyAuthorizer`/`NoopAuthorizer`):
//! who may call `execute` for a function (its `client.users`) and who may serve it, i.e. call
//! `fetchRequest`, `result` and `failRequest` (its `invocation.user`).
//!
//! The ACL lives in the file `drpc.authorizer.acl.filename` (default `drpc-auth-acl.yaml`), in Storm's
//! YAML form:
//!
//! ```yaml
//! drpc.authorizer.acl:
//!   "exclamation":
//!     "client.users": ["alice", "bob"]
//!     "invocation.user": "storm"
//! ```
//!
//! Storm finds the file on the daemon's classpath; storm-rs looks for a relative name in the directory
//! of the daemon's `storm.toml` (the conf dir), then in `<storm home>/conf`; an absolute name is used
//! as is. The file is re-read at most every 5 seconds, as Storm does. A function without an entry is
//! allowed unless `drpc.authorizer.acl.strict` is true; a caller matches by principal or by local user
//! (`storm.principal.tolocal`). A missing or unparsable file is an error at start and refuses every
//! request later (with a logged reason).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::authorizer::{strings, DENY_AUTHORIZER, NOOP_AUTHORIZER};
use super::principal::PrincipalToLocal;
use super::{yaml, ReqContext, SecurityError};
use crate::config::Config;

/// Storm's DRPC ACL authorizer.
pub const DRPC_SIMPLE_ACL_AUTHORIZER: &str =
    "org.apache.storm.security.auth.authorizer.DRPCSimpleACLAuthorizer";

/// How long a read ACL file is trusted (Storm: 5 s).
pub const ACL_RELOAD: Duration = Duration::from_secs(5);

/// The ACL file's key.
pub const ACL_KEY: &str = "drpc.authorizer.acl";

/// One function's entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionAcl {
    /// `client.users`: who may `execute`.
    pub client_users: BTreeSet<String>,
    /// `invocation.user`: who may fetch, answer and fail its requests.
    pub invocation_user: Option<String>,
}

/// Parses the ACL file's text: function → entry. A file without `drpc.authorizer.acl` is an empty ACL.
pub fn parse_acl(text: &str) -> Result<BTreeMap<String, FunctionAcl>, String> {
    let doc = yaml::parse(text)?;
    let mut out = BTreeMap::new();
    let acl = match &doc {
        Value::Object(m) => m.get(ACL_KEY),
        Value::Null => None,
        _ => return Err("the file is not a YAML mapping".into()),
    };
    let Some(acl) = acl else { return Ok(out) };
    let Value::Object(functions) = acl else {
        return Err(format!("{ACL_KEY} must map function names to entries"));
    };
    for (func, entry) in functions {
        let Value::Object(e) = entry else {
            return Err(format!("the entry of function \"{func}\" must be a mapping with client.users and invocation.user"));
        };
        let invocation_user = match e.get("invocation.user") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                return Err(format!(
                    "invocation.user of function \"{func}\" must be a string, not {other}"
                ))
            }
        };
        out.insert(
            func.clone(),
            FunctionAcl {
                client_users: strings(e.get("client.users")),
                invocation_user,
            },
        );
    }
    Ok(out)
}

/// Where `name` is looked for: absolute as is; else next to the daemon's config file, then in
/// `<home>/conf`, then `<home>`.
pub fn acl_candidates(conf: &Config, name: &str) -> Vec<PathBuf> {
    let p = Path::new(name);
    if p.is_absolute() {
        return vec![p.to_path_buf()];
    }
    let mut out = Vec::new();
    if let Some(dir) = conf.file().and_then(Path::parent) {
        out.push(dir.join(p));
    }
    out.push(conf.home().join("conf").join(p));
    out.push(conf.home().join(p));
    out
}

/// One read of the ACL file.
type AclRead = Result<BTreeMap<String, FunctionAcl>, String>;

#[derive(Debug)]
enum Policy {
    Noop,
    Deny,
    Acl {
        candidates: Vec<PathBuf>,
        strict: bool,
        cache: Mutex<Option<(Instant, AclRead)>>,
    },
}

/// A configured DRPC authorizer.
#[derive(Debug)]
pub struct DrpcAuthorizer {
    policy: Policy,
    ptol: PrincipalToLocal,
    simple_user: Option<String>,
}

impl DrpcAuthorizer {
    /// The authorizer `drpc.authorizer` names; `None` when unset (everything allowed). With the ACL
    /// authorizer, the ACL file must exist and parse.
    pub fn from_config(conf: &Config) -> Result<Option<DrpcAuthorizer>, SecurityError> {
        let key = "drpc.authorizer";
        let class = match conf.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) if s.is_empty() => return Ok(None),
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(SecurityError::UnknownClass {
                    key: key.into(),
                    value: super::value_text(other),
                    accepted: ACCEPTED.to_vec(),
                })
            }
        };
        let json = conf.to_json();
        let policy = match class.as_str() {
            NOOP_AUTHORIZER => Policy::Noop,
            DENY_AUTHORIZER => Policy::Deny,
            DRPC_SIMPLE_ACL_AUTHORIZER => {
                let name = conf
                    .get("drpc.authorizer.acl.filename")
                    .and_then(Value::as_str)
                    .unwrap_or("drpc-auth-acl.yaml")
                    .to_string();
                let policy = Policy::Acl {
                    candidates: acl_candidates(conf, &name),
                    strict: conf
                        .get("drpc.authorizer.acl.strict")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                    cache: Mutex::new(None),
                };
                if let Policy::Acl { candidates, .. } = &policy {
                    read_acl(candidates).map_err(|message| SecurityError::File {
                        key: "drpc.authorizer.acl.filename".into(),
                        path: name.clone(),
                        message,
                    })?;
                }
                policy
            }
            other => {
                return Err(SecurityError::UnknownClass {
                    key: key.into(),
                    value: other.to_string(),
                    accepted: ACCEPTED.to_vec(),
                })
            }
        };
        Ok(Some(DrpcAuthorizer {
            policy,
            ptol: PrincipalToLocal::from_conf(&json)?,
            simple_user: json
                .get("debug.simple.transport.user")
                .and_then(Value::as_str)
                .map(str::to_string),
        }))
    }

    /// The calling thread's principal (the transport's, else `debug.simple.transport.user`).
    pub fn caller(&self) -> Option<String> {
        ReqContext::current()
            .principal
            .or_else(|| self.simple_user.clone())
    }

    /// Storm's `DRPCAuthorizerBase.permit`: `execute` is a client request, `fetchRequest`, `result` and
    /// `failRequest` are invocation requests, anything else is refused.
    pub fn permit(&self, principal: Option<&str>, operation: &str, function: &str) -> bool {
        let field = match operation {
            "execute" => Field::Client,
            "fetchRequest" | "result" | "failRequest" => Field::Invocation,
            _ => {
                tracing::warn!(%operation, "denying an unsupported DRPC operation");
                return false;
            }
        };
        match &self.policy {
            Policy::Noop => true,
            Policy::Deny => false,
            Policy::Acl {
                candidates,
                strict,
                cache,
            } => {
                let acl = {
                    let mut c = cache.lock().unwrap_or_else(|p| p.into_inner());
                    if c.as_ref().is_none_or(|(at, _)| at.elapsed() >= ACL_RELOAD) {
                        *c = Some((Instant::now(), read_acl(candidates)));
                    }
                    c.as_ref().map(|(_, acl)| acl.clone())
                };
                let acl = match acl {
                    Some(Ok(acl)) => acl,
                    Some(Err(e)) => {
                        tracing::error!(error = %e, "the DRPC ACL file cannot be used; refusing {operation}");
                        return false;
                    }
                    None => return false,
                };
                if function.is_empty() {
                    return false;
                }
                let Some(entry) = acl.get(function) else {
                    return !strict;
                };
                let user = self.ptol.to_local(principal);
                let names: Vec<&str> = principal.into_iter().chain(user.as_deref()).collect();
                match field {
                    Field::Client => names.iter().any(|n| entry.client_users.contains(*n)),
                    Field::Invocation => match &entry.invocation_user {
                        Some(u) => names.iter().any(|n| n == u),
                        None => {
                            tracing::warn!(%function, "the DRPC ACL entry has no invocation.user; refusing");
                            false
                        }
                    },
                }
            }
        }
    }

    /// [`permit`](Self::permit) for the calling thread, as Storm's `AuthorizationException` text.
    pub fn check(&self, operation: &str, function: &str) -> Result<(), String> {
        let principal = self.caller();
        if self.permit(principal.as_deref(), operation, function) {
            Ok(())
        } else {
            let user = principal.as_deref().unwrap_or("unknown");
            tracing::info!(%operation, %function, %user, "DRPC request refused by drpc.authorizer");
            Err(denied_message(operation, principal.as_deref()))
        }
    }
}

/// Storm's DRPC `AuthorizationException` text.
pub fn denied_message(operation: &str, principal: Option<&str>) -> String {
    format!(
        "DRPC request '{operation}' for '{}' user is not authorized",
        principal.unwrap_or("unknown")
    )
}

#[derive(Clone, Copy)]
enum Field {
    Client,
    Invocation,
}

fn read_acl(candidates: &[PathBuf]) -> Result<BTreeMap<String, FunctionAcl>, String> {
    let Some(path) = candidates.iter().find(|p| p.is_file()) else {
        return Err(format!(
            "no such file (looked in {}); create it or set drpc.authorizer.acl.filename",
            candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_acl(&text).map_err(|e| format!("{}: {e}", path.display()))
}

const ACCEPTED: [&str; 3] = [DRPC_SIMPLE_ACL_AUTHORIZER, DENY_AUTHORIZER, NOOP_AUTHORIZER];

#[cfg(test)]
mod tests {
    use super::*;

    const ACL: &str = r#"
# Storm's example
drpc.authorizer.acl:
  "exclamation":
    "client.users":
      - "alice"
      - "bob@EXAMPLE.COM"
    "invocation.user": "storm"
  words: {client.users: [carol], invocation.user: storm}
  broken:
    client.users: [dave]
"#;

    fn authorizer(dir: &Path, strict: bool) -> DrpcAuthorizer {
        std::fs::write(dir.join("acl.yaml"), ACL).unwrap();
        let mut conf = Config::defaults();
        conf.set("drpc.authorizer", DRPC_SIMPLE_ACL_AUTHORIZER);
        conf.set(
            "drpc.authorizer.acl.filename",
            dir.join("acl.yaml").display().to_string(),
        );
        conf.set("drpc.authorizer.acl.strict", strict);
        conf.set(
            "storm.principal.tolocal",
            crate::security::principal::KERBEROS_PRINCIPAL_TO_LOCAL,
        );
        DrpcAuthorizer::from_config(&conf).unwrap().unwrap()
    }

    #[test]
    fn parses_storms_acl_file() {
        let acl = parse_acl(ACL).unwrap();
        assert_eq!(
            acl["exclamation"].client_users,
            ["alice".to_string(), "bob@EXAMPLE.COM".to_string()].into()
        );
        assert_eq!(acl["exclamation"].invocation_user.as_deref(), Some("storm"));
        assert_eq!(acl["words"].client_users, ["carol".to_string()].into());
        assert_eq!(acl["broken"].invocation_user, None);
        assert!(parse_acl("other.key: 1\n").unwrap().is_empty());
        assert!(parse_acl("drpc.authorizer.acl: [a]\n").is_err());
        assert!(parse_acl("drpc.authorizer.acl:\n  f: 3\n").is_err());
    }

    #[test]
    fn client_and_invocation_checks() {
        let dir = std::env::temp_dir().join(format!("drpc-acl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = authorizer(&dir, false);
        assert!(a.permit(Some("alice"), "execute", "exclamation"));
        assert!(a.permit(Some("alice/host@EXAMPLE.COM"), "execute", "exclamation"));
        assert!(a.permit(Some("bob@EXAMPLE.COM"), "execute", "exclamation"));
        assert!(!a.permit(Some("carol"), "execute", "exclamation"));
        assert!(!a.permit(None, "execute", "exclamation"));
        assert!(a.permit(Some("storm"), "fetchRequest", "exclamation"));
        assert!(a.permit(Some("storm"), "result", "words"));
        assert!(!a.permit(Some("alice"), "failRequest", "exclamation"));
        assert!(!a.permit(Some("storm"), "fetchRequest", "broken"));
        assert!(!a.permit(Some("storm"), "shutdown", "exclamation"));
        // Not strict: functions without an entry are open; strict: closed.
        assert!(a.permit(None, "execute", "unlisted"));
        let s = authorizer(&dir, true);
        assert!(!s.permit(Some("alice"), "execute", "unlisted"));
        assert_eq!(
            denied_message("execute", Some("carol")),
            "DRPC request 'execute' for 'carol' user is not authorized"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_acl_file_is_a_clear_error() {
        let mut conf = Config::defaults();
        conf.set("drpc.authorizer", DRPC_SIMPLE_ACL_AUTHORIZER);
        conf.set(
            "drpc.authorizer.acl.filename",
            "/nonexistent/storm-rs-acl.yaml",
        );
        let err = DrpcAuthorizer::from_config(&conf).unwrap_err().to_string();
        assert!(
            err.contains("drpc.authorizer.acl.filename") && err.contains("no such file"),
            "{err}"
        );
        conf.set("drpc.authorizer", "x.Y");
        assert!(DrpcAuthorizer::from_config(&conf).is_err());
    }
}
