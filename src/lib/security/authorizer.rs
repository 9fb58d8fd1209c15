//! `nimbus.authorizer` (Storm's `IAuthorizer` for the `Nimbus` service): which caller may run which
//! operation, on which topology.
//!
//! The accepted values are Storm's class names ([`SIMPLE_ACL_AUTHORIZER`], [`DENY_AUTHORIZER`],
//! [`NOOP_AUTHORIZER`], [`SIMPLE_WHITELIST_AUTHORIZER`]); unset means no authorizer (everything is
//! allowed, as in Storm). `SimpleACLAuthorizer` follows Storm's rules exactly:
//!
//! 1. `nimbus.admins` (principal or local user) and members of `nimbus.admins.groups` may do anything;
//! 2. `nimbus.supervisor.users` may do the supervisor operations ([`SUPERVISOR_OPS`]) and nothing else;
//! 3. the user operations ([`USER_OPS`]) are open to everyone when `nimbus.users` is empty, else to
//!    `nimbus.users` and members of `nimbus.groups`;
//! 4. the topology operations ([`TOPOLOGY_OPS`], which include [`TOPOLOGY_READ_OPS`]) are for the
//!    topology's `topology.users`/`topology.groups` (nimbus adds the submitter to `topology.users`),
//!    the read-only ones also for `topology.readonly.users`/`topology.readonly.groups`;
//! 5. any other operation (blob and `beginFileDownload` calls are not checked here, as in Storm) is
//!    for admins only.
//!
//! A caller without a principal (the plain transport) matches no user list: it gets the user
//! operations when `nimbus.users` is empty, nothing else (Storm would fail on the missing principal).
//! `debug.simple.transport.user` names the principal of plain-transport callers, as in Storm.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::groups::GroupMapping;
use super::principal::PrincipalToLocal;
use super::{ReqContext, SecurityError};

/// Storm's ACL authorizer.
pub const SIMPLE_ACL_AUTHORIZER: &str =
    "org.apache.storm.security.auth.authorizer.SimpleACLAuthorizer";
/// Refuses everything.
pub const DENY_AUTHORIZER: &str = "org.apache.storm.security.auth.authorizer.DenyAuthorizer";
/// Allows everything.
pub const NOOP_AUTHORIZER: &str = "org.apache.storm.security.auth.authorizer.NoopAuthorizer";
/// Allows the principals in `storm.auth.simple-white-list.users`.
pub const SIMPLE_WHITELIST_AUTHORIZER: &str =
    "org.apache.storm.security.auth.authorizer.SimpleWhitelistAuthorizer";

/// Storm's `SimpleACLAuthorizer.userCommands` (Storm 2.8.3).
pub const USER_OPS: [&str; 11] = [
    "submitTopology",
    "fileUpload",
    "getNimbusConf",
    "getClusterInfo",
    "getLeader",
    "isTopologyNameAllowed",
    "getTopologySummaries",
    "getTopologySummaryByName",
    "getTopologySummary",
    "getSupervisorPageInfo",
    "getOwnerResourceSummaries",
];
/// Storm's `SimpleACLAuthorizer.supervisorCommands`.
pub const SUPERVISOR_OPS: [&str; 4] = [
    "fileDownload",
    "processWorkerMetrics",
    "getSupervisorAssignments",
    "sendSupervisorWorkerHeartbeats",
];
/// Storm's `SimpleACLAuthorizer.topoReadOnlyCommands`.
pub const TOPOLOGY_READ_OPS: [&str; 9] = [
    "getTopologyConf",
    "getTopology",
    "getUserTopology",
    "getTopologyInfo",
    "getTopologyPageInfo",
    "getComponentPageInfo",
    "getWorkerProfileActionExpiry",
    "getComponentPendingProfileActions",
    "getLogConfig",
];
/// Storm's `SimpleACLAuthorizer.topoCommands` (besides the read-only ones).
pub const TOPOLOGY_OPS: [&str; 14] = [
    "killTopology",
    "rebalance",
    "activate",
    "deactivate",
    "uploadNewCredentials",
    "setLogConfig",
    "setWorkerProfiler",
    "startProfiling",
    "stopProfiling",
    "dumpProfile",
    "dumpJstack",
    "dumpHeap",
    "debug",
    "sendSupervisorWorkerHeartbeat",
];

/// The user lists of `SimpleACLAuthorizer`, from the daemon's configuration.
#[derive(Debug, Clone, Default)]
pub struct AclLists {
    /// `nimbus.admins`.
    pub admins: BTreeSet<String>,
    /// `nimbus.admins.groups`.
    pub admins_groups: BTreeSet<String>,
    /// `nimbus.supervisor.users`.
    pub supervisors: BTreeSet<String>,
    /// `nimbus.users`.
    pub users: BTreeSet<String>,
    /// `nimbus.groups`.
    pub groups: BTreeSet<String>,
}

/// What an authorizer decides by.
#[derive(Debug, Clone)]
pub enum Policy {
    /// `NoopAuthorizer`.
    Noop,
    /// `DenyAuthorizer`.
    Deny,
    /// `SimpleACLAuthorizer`.
    SimpleAcl(AclLists),
    /// `SimpleWhitelistAuthorizer`.
    Whitelist(BTreeSet<String>),
}

/// A configured nimbus authorizer.
#[derive(Debug, Clone)]
pub struct Authorizer {
    policy: Policy,
    ptol: PrincipalToLocal,
    groups: Option<Arc<GroupMapping>>,
    simple_user: Option<String>,
}

/// The strings of a list value (a single string counts as a list of one, as Storm's
/// `ObjectReader.getStrings`); anything else is empty.
pub fn strings(v: Option<&Value>) -> BTreeSet<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| match x {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            })
            .collect(),
        Some(Value::String(s)) => [s.clone()].into_iter().collect(),
        _ => BTreeSet::new(),
    }
}

/// Storm's `AuthorizationException` text for a refused operation.
pub fn denied_message(operation: &str, topology: Option<&str>) -> String {
    match topology {
        Some(name) => format!("{operation} on topology {name} is not authorized"),
        None => format!("{operation} is not authorized"),
    }
}

impl Authorizer {
    /// The authorizer `key` (`nimbus.authorizer`, `supervisor.authorizer`) names in `conf`; `None`
    /// when unset (allow everything).
    pub fn from_conf(
        conf: &Map<String, Value>,
        key: &str,
    ) -> Result<Option<Authorizer>, SecurityError> {
        let class = match conf.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) if s.is_empty() => return Ok(None),
            Some(Value::String(s)) => s.as_str(),
            Some(other) => {
                return Err(SecurityError::UnknownClass {
                    key: key.into(),
                    value: super::value_text(other),
                    accepted: ACCEPTED.to_vec(),
                })
            }
        };
        let policy = match class {
            SIMPLE_ACL_AUTHORIZER => Policy::SimpleAcl(AclLists {
                admins: strings(conf.get("nimbus.admins")),
                admins_groups: strings(conf.get("nimbus.admins.groups")),
                supervisors: strings(conf.get("nimbus.supervisor.users")),
                users: strings(conf.get("nimbus.users")),
                groups: strings(conf.get("nimbus.groups")),
            }),
            DENY_AUTHORIZER => Policy::Deny,
            NOOP_AUTHORIZER => Policy::Noop,
            SIMPLE_WHITELIST_AUTHORIZER => {
                Policy::Whitelist(strings(conf.get("storm.auth.simple-white-list.users")))
            }
            other => {
                return Err(SecurityError::UnknownClass {
                    key: key.into(),
                    value: other.to_string(),
                    accepted: ACCEPTED.to_vec(),
                })
            }
        };
        let groups = match &policy {
            Policy::SimpleAcl(_) => GroupMapping::from_conf(conf)?.map(Arc::new),
            _ => None,
        };
        Ok(Some(Authorizer {
            policy,
            ptol: PrincipalToLocal::from_conf(conf)?,
            groups,
            simple_user: conf
                .get("debug.simple.transport.user")
                .and_then(Value::as_str)
                .map(str::to_string),
        }))
    }

    /// An authorizer with `policy` and the given mappings (tests, embedding).
    pub fn new(policy: Policy, ptol: PrincipalToLocal, groups: Option<GroupMapping>) -> Authorizer {
        Authorizer {
            policy,
            ptol,
            groups: groups.map(Arc::new),
            simple_user: None,
        }
    }

    /// The principal-to-local mapping in force.
    pub fn principal_to_local(&self) -> PrincipalToLocal {
        self.ptol
    }

    /// The principal of the calling thread's request: the transport's, else
    /// `debug.simple.transport.user` (Storm's plain-transport test principal).
    pub fn caller(&self) -> Option<String> {
        ReqContext::current()
            .principal
            .or_else(|| self.simple_user.clone())
    }

    /// Storm's `IAuthorizer.permit`: may `principal` run `operation` with `topo_conf` (the topology's
    /// conf over the cluster's for topology operations, `{topology.name}` or empty otherwise)?
    pub fn permit(
        &self,
        principal: Option<&str>,
        operation: &str,
        topo_conf: &Map<String, Value>,
    ) -> bool {
        match &self.policy {
            Policy::Noop => true,
            Policy::Deny => false,
            Policy::Whitelist(users) => principal.is_some_and(|p| users.contains(p)),
            Policy::SimpleAcl(acl) => self.simple_acl(acl, principal, operation, topo_conf),
        }
    }

    fn simple_acl(
        &self,
        acl: &AclLists,
        principal: Option<&str>,
        op: &str,
        topo_conf: &Map<String, Value>,
    ) -> bool {
        let user = self.ptol.to_local(principal);
        let names: Vec<&str> = principal.into_iter().chain(user.as_deref()).collect();
        let is_in = |set: &BTreeSet<String>| names.iter().any(|n| set.contains(*n));
        let user_groups = match (&self.groups, user.as_deref()) {
            (Some(g), Some(u)) => g.groups(u),
            _ => BTreeSet::new(),
        };
        let in_group = |set: &BTreeSet<String>| set.iter().any(|g| user_groups.contains(g));
        if is_in(&acl.admins) || in_group(&acl.admins_groups) {
            return true;
        }
        if is_in(&acl.supervisors) {
            return SUPERVISOR_OPS.contains(&op);
        }
        if USER_OPS.contains(&op) {
            return acl.users.is_empty()
                || user.as_ref().is_some_and(|u| acl.users.contains(u))
                || in_group(&acl.groups);
        }
        let read = TOPOLOGY_READ_OPS.contains(&op);
        if read || TOPOLOGY_OPS.contains(&op) {
            let topo = |users: &str, groups: &str| {
                is_in(&strings(topo_conf.get(users))) || in_group(&strings(topo_conf.get(groups)))
            };
            if topo("topology.users", "topology.groups") {
                return true;
            }
            if read && topo("topology.readonly.users", "topology.readonly.groups") {
                return true;
            }
        }
        false
    }
}

const ACCEPTED: [&str; 4] = [
    SIMPLE_ACL_AUTHORIZER,
    DENY_AUTHORIZER,
    NOOP_AUTHORIZER,
    SIMPLE_WHITELIST_AUTHORIZER,
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn acl() -> Authorizer {
        let conf = obj(json!({
            "nimbus.authorizer": SIMPLE_ACL_AUTHORIZER,
            "nimbus.admins": ["root"],
            "nimbus.admins.groups": ["wheel"],
            "nimbus.supervisor.users": ["sup"],
            "storm.principal.tolocal": crate::security::principal::KERBEROS_PRINCIPAL_TO_LOCAL,
        }));
        let mut a = Authorizer::from_conf(&conf, "nimbus.authorizer")
            .unwrap()
            .unwrap();
        let groups: HashMap<String, BTreeSet<String>> = [
            ("carol".to_string(), ["wheel".to_string()].into()),
            ("dave".to_string(), ["ops".to_string()].into()),
        ]
        .into();
        a.groups = Some(Arc::new(GroupMapping::Fixed(groups)));
        a
    }

    #[test]
    fn simple_acl_follows_storms_rules() {
        let a = acl();
        let topo = obj(
            json!({"topology.name": "t", "topology.users": ["alice"], "topology.groups": ["ops"],
            "topology.readonly.users": ["eve"]}),
        );
        let empty = Map::new();
        // Admins, by principal, local user or group.
        assert!(a.permit(Some("root@R"), "killTopology", &topo));
        assert!(a.permit(Some("carol"), "getLeader", &empty));
        // Owners and listed groups may act on their topology; others may not.
        assert!(a.permit(Some("alice@R"), "killTopology", &topo));
        assert!(a.permit(Some("dave"), "rebalance", &topo));
        assert!(!a.permit(Some("bob@R"), "killTopology", &topo));
        assert!(!a.permit(Some("bob"), "getTopologyConf", &topo));
        // Read-only users may read, not act.
        assert!(a.permit(Some("eve"), "getTopologyInfo", &topo));
        assert!(!a.permit(Some("eve"), "activate", &topo));
        // User operations are open while nimbus.users is empty; admin-only operations are not.
        assert!(a.permit(Some("bob"), "submitTopology", &empty));
        assert!(a.permit(Some("bob"), "getClusterInfo", &empty));
        assert!(a.permit(Some("bob"), "getLeader", &empty));
        assert!(a.permit(Some("bob"), "getTopologySummaryByName", &empty));
        assert!(!a.permit(Some("bob"), "someFutureCall", &empty));
        // Supervisors: their operations only.
        assert!(a.permit(Some("sup/host@R"), "getSupervisorAssignments", &empty));
        assert!(a.permit(Some("sup"), "fileDownload", &empty));
        assert!(!a.permit(Some("sup"), "getClusterInfo", &empty));
        assert!(!a.permit(Some("sup"), "killTopology", &topo));
        // No principal: user operations only.
        assert!(a.permit(None, "getClusterInfo", &empty));
        assert!(!a.permit(None, "killTopology", &topo));
    }

    #[test]
    fn nimbus_users_restrict_user_operations() {
        let conf = obj(
            json!({"nimbus.authorizer": SIMPLE_ACL_AUTHORIZER, "nimbus.users": ["alice"],
            "nimbus.groups": ["ops"], "storm.group.mapping.service": null}),
        );
        let mut a = Authorizer::from_conf(&conf, "nimbus.authorizer")
            .unwrap()
            .unwrap();
        a.groups = Some(Arc::new(GroupMapping::Fixed(
            [("dave".into(), ["ops".into()].into())].into(),
        )));
        let empty = Map::new();
        assert!(a.permit(Some("alice"), "submitTopology", &empty));
        assert!(a.permit(Some("dave"), "fileUpload", &empty));
        assert!(!a.permit(Some("bob"), "getClusterInfo", &empty));
        assert!(!a.permit(None, "getClusterInfo", &empty));
    }

    #[test]
    fn other_authorizers_and_bad_values() {
        let mk = |class: &str| {
            Authorizer::from_conf(
                &obj(
                    json!({"nimbus.authorizer": class, "storm.auth.simple-white-list.users": ["alice"]}),
                ),
                "nimbus.authorizer",
            )
        };
        let empty = Map::new();
        assert!(mk(NOOP_AUTHORIZER)
            .unwrap()
            .unwrap()
            .permit(None, "killTopology", &empty));
        assert!(!mk(DENY_AUTHORIZER).unwrap().unwrap().permit(
            Some("root"),
            "getClusterInfo",
            &empty
        ));
        let w = mk(SIMPLE_WHITELIST_AUTHORIZER).unwrap().unwrap();
        assert!(w.permit(Some("alice"), "killTopology", &empty));
        assert!(!w.permit(Some("bob"), "getClusterInfo", &empty));
        assert!(!w.permit(None, "getClusterInfo", &empty));
        assert!(Authorizer::from_conf(&empty, "nimbus.authorizer")
            .unwrap()
            .is_none());
        let err = mk("org.example.Mine").unwrap_err().to_string();
        assert!(
            err.contains("nimbus.authorizer") && err.contains(SIMPLE_ACL_AUTHORIZER),
            "{err}"
        );
    }

    #[test]
    fn denied_messages_are_storms() {
        assert_eq!(
            denied_message("killTopology", Some("wc")),
            "killTopology on topology wc is not authorized"
        );
        assert_eq!(
            denied_message("getLeader", None),
            "getLeader is not authorized"
        );
    }

    #[test]
    fn caller_falls_back_to_the_simple_transport_user() {
        let conf = obj(
            json!({"nimbus.authorizer": NOOP_AUTHORIZER, "debug.simple.transport.user": "alice"}),
        );
        let a = Authorizer::from_conf(&conf, "nimbus.authorizer")
            .unwrap()
            .unwrap();
        ReqContext::clear();
        assert_eq!(a.caller().as_deref(), Some("alice"));
        ReqContext {
            principal: Some("bob".into()),
            remote: None,
        }
        .install();
        assert_eq!(a.caller().as_deref(), Some("bob"));
        ReqContext::clear();
    }
}
