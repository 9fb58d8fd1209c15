//! Storm's principal-to-local mapping (`storm.principal.tolocal`): from an authenticated principal
//! (`alice@EXAMPLE.COM`, `nimbus/host@REALM`) to the local user name ACLs and group lookups use.
//!
//! Two of Storm's classes are accepted: `DefaultPrincipalToLocal` (the name unchanged, Storm's
//! default) and `KerberosPrincipalToLocal` (the part before the first `/` or `@`).

use serde_json::{Map, Value};

use super::SecurityError;

/// Storm's default mapping: the principal's name is the user name.
pub const DEFAULT_PRINCIPAL_TO_LOCAL: &str =
    "org.apache.storm.security.auth.DefaultPrincipalToLocal";
/// Kerberos-style short names: `bob/host@REALM` → `bob`.
pub const KERBEROS_PRINCIPAL_TO_LOCAL: &str =
    "org.apache.storm.security.auth.KerberosPrincipalToLocal";

/// `storm.principal.tolocal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrincipalToLocal {
    /// `DefaultPrincipalToLocal`.
    #[default]
    Identity,
    /// `KerberosPrincipalToLocal`.
    Kerberos,
}

impl PrincipalToLocal {
    /// The mapping `storm.principal.tolocal` names (unset: Storm's default).
    pub fn from_conf(conf: &Map<String, Value>) -> Result<PrincipalToLocal, SecurityError> {
        let key = "storm.principal.tolocal";
        match conf.get(key) {
            None | Some(Value::Null) => Ok(PrincipalToLocal::Identity),
            Some(Value::String(s)) if s == DEFAULT_PRINCIPAL_TO_LOCAL => {
                Ok(PrincipalToLocal::Identity)
            }
            Some(Value::String(s)) if s == KERBEROS_PRINCIPAL_TO_LOCAL => {
                Ok(PrincipalToLocal::Kerberos)
            }
            Some(other) => Err(SecurityError::UnknownClass {
                key: key.into(),
                value: super::value_text(other),
                accepted: vec![DEFAULT_PRINCIPAL_TO_LOCAL, KERBEROS_PRINCIPAL_TO_LOCAL],
            }),
        }
    }

    /// The local user of `principal` (`None` stays `None`, as in Storm).
    pub fn to_local(self, principal: Option<&str>) -> Option<String> {
        let p = principal?;
        Some(match self {
            PrincipalToLocal::Identity => p.to_string(),
            PrincipalToLocal::Kerberos => p.split(['/', '@']).next().unwrap_or(p).to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn storm_mappings() {
        let conf = |v: Value| {
            json!({ "storm.principal.tolocal": v })
                .as_object()
                .unwrap()
                .clone()
        };
        let d = PrincipalToLocal::from_conf(&Map::new()).unwrap();
        assert_eq!(d.to_local(Some("bob/h@R")).as_deref(), Some("bob/h@R"));
        let k = PrincipalToLocal::from_conf(&conf(json!(KERBEROS_PRINCIPAL_TO_LOCAL))).unwrap();
        assert_eq!(k.to_local(Some("bob/h@R")).as_deref(), Some("bob"));
        assert_eq!(k.to_local(Some("alice@R")).as_deref(), Some("alice"));
        assert_eq!(k.to_local(None), None);
        let err = PrincipalToLocal::from_conf(&conf(json!("x.Y")))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("storm.principal.tolocal") && err.contains("KerberosPrincipalToLocal"),
            "{err}"
        );
    }
}
