//! ZooKeeper authentication and the ACLs znodes are created with, as Storm sets them up
//! (`ZookeeperAuthInfo`, `DaemonType.getDefaultZkAcls`, `Utils.getWorkerACL`,
//! `ClusterUtils.mkTopoReadOnlyAcls`/`mkTopoReadWriteAcls`, `StormSubmitter`'s topology payload).
//!
//! * A daemon authenticates its session with `storm.zookeeper.auth.scheme` + `.payload`
//!   ("digest", `"user:password"`); a worker with its topology's
//!   `storm.zookeeper.topology.auth.scheme` + `.payload` (the topology keys win, as in
//!   `ZookeeperAuthInfo`).
//! * With authentication on, nimbus and supervisors create their nodes `CREATOR_ALL` (only the
//!   daemons' own identity may read or change them); per-topology nodes also let the topology's digest
//!   identity READ (`/assignments/<id>`, `/storms/<id>`, `/credentials/<id>`, `/logconfigs/<id>`) or
//!   do ALL (`/workerbeats/<id>`, `/errors/<id>`, `/backpressure/<id>`); workers create theirs
//!   `CREATOR_ALL` + ALL for `storm.zookeeper.superACL` (the daemons' identity), so nimbus can read and
//!   clean them up. Without authentication everything is open (`world:anyone` ALL), as in Storm.
//!
//! This module only computes; [`ZkStorage`](super::ZkStorage) applies it. The in-memory storage
//! ignores ACLs.

use std::fmt;

use serde_json::{Map, Value};

/// ZooKeeper permission bits (`ZooDefs.Perms`).
pub mod perms {
    pub const READ: i32 = 1;
    pub const WRITE: i32 = 2;
    pub const CREATE: i32 = 4;
    pub const DELETE: i32 = 8;
    pub const ADMIN: i32 = 16;
    pub const ALL: i32 = READ | WRITE | CREATE | DELETE | ADMIN;
}

/// Storm's configuration keys this module reads.
pub const AUTH_SCHEME: &str = "storm.zookeeper.auth.scheme";
pub const AUTH_PAYLOAD: &str = "storm.zookeeper.auth.payload";
pub const TOPOLOGY_AUTH_SCHEME: &str = "storm.zookeeper.topology.auth.scheme";
pub const TOPOLOGY_AUTH_PAYLOAD: &str = "storm.zookeeper.topology.auth.payload";
pub const SUPER_ACL: &str = "storm.zookeeper.superACL";
pub const NETTY_AUTHENTICATION: &str = "storm.messaging.netty.authentication";

/// Why the ZooKeeper security settings cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AclError {
    #[error(
        "{key} = {value:?} is not of the form scheme:id (for example \"digest:storm:<base64 \
         sha1>\"); fix it in storm.toml"
    )]
    BadSuperAcl { key: &'static str, value: String },
    #[error(
        "the topology has ZooKeeper authentication ({TOPOLOGY_AUTH_SCHEME}) but no {SUPER_ACL}, and \
         no {AUTH_PAYLOAD} to derive it from; set {SUPER_ACL} (\"digest:<user>:<base64 sha1>\") in \
         the cluster's storm.toml"
    )]
    NoSuperAcl,
    #[error(
        "{key} must be \"user:password\" for the digest scheme (got a value without ':'); fix it \
         in storm.toml"
    )]
    BadDigestPayload { key: &'static str },
}

/// Credentials a ZooKeeper session adds (`addauth scheme payload`). Debug never shows the payload.
#[derive(Clone, PartialEq, Eq)]
pub struct ZkAuth {
    pub scheme: String,
    pub payload: String,
}

impl fmt::Debug for ZkAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZkAuth")
            .field("scheme", &self.scheme)
            .field("payload", &"<redacted>")
            .finish()
    }
}

/// One ACL entry: permissions for an identity (`scheme:id`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AclEntry {
    pub perms: i32,
    pub scheme: String,
    pub id: String,
}

impl AclEntry {
    pub fn new(perms: i32, scheme: impl Into<String>, id: impl Into<String>) -> AclEntry {
        AclEntry {
            perms,
            scheme: scheme.into(),
            id: id.into(),
        }
    }

    /// `auth:` ALL: every identity the creating session authenticated as (`Ids.CREATOR_ALL_ACL`).
    pub fn creator_all() -> AclEntry {
        AclEntry::new(perms::ALL, "auth", "")
    }

    /// `world:anyone` with `perms`.
    pub fn anyone(perms: i32) -> AclEntry {
        AclEntry::new(perms, "world", "anyone")
    }
}

/// The ACL list a node is created with. Empty means Storm's `null`: open to everyone
/// (`world:anyone` ALL, ZooKeeper's `OPEN_ACL_UNSAFE`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct NodeAcls(pub Vec<AclEntry>);

impl NodeAcls {
    /// Open to everyone (what Storm uses without ZooKeeper authentication).
    pub fn open() -> NodeAcls {
        NodeAcls(Vec::new())
    }

    /// Only the creator's identities (nimbus' and supervisors' nodes with authentication on).
    pub fn creator_all() -> NodeAcls {
        NodeAcls(vec![AclEntry::creator_all()])
    }

    pub fn is_open(&self) -> bool {
        self.0.is_empty()
    }

    /// The entries as ZooKeeper gets them (open = `world:anyone` ALL).
    pub fn entries(&self) -> Vec<AclEntry> {
        if self.0.is_empty() {
            vec![AclEntry::anyone(perms::ALL)]
        } else {
            self.0.clone()
        }
    }

    /// Whether creating with these ACLs needs an authenticated session (`auth:` entries).
    pub fn needs_auth(&self) -> bool {
        self.0.iter().any(|e| e.scheme == "auth")
    }
}

/// The ACLs of one topology's nodes (`ClusterUtils.mkTopoReadOnlyAcls` / `mkTopoReadWriteAcls`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TopologyAcls {
    /// `/assignments/<id>`, `/storms/<id>`, `/credentials/<id>`, `/logconfigs/<id>`.
    pub read_only: NodeAcls,
    /// `/workerbeats/<id>`, `/errors/<id>`, `/backpressure/<id>`.
    pub read_write: NodeAcls,
}

impl TopologyAcls {
    /// Open nodes (no topology authentication).
    pub fn open() -> TopologyAcls {
        TopologyAcls::default()
    }

    /// From the topology's whole configuration (the cluster's with the topology's over it):
    /// `CREATOR_ALL` plus the topology's digest identity with READ (read-only nodes) or ALL
    /// (read-write nodes) when the daemons use ZooKeeper authentication and
    /// `storm.zookeeper.topology.auth.scheme` is set; open otherwise (a topology may carry a payload
    /// only for worker-link authentication).
    pub fn from_topology_conf(topo_conf: &Map<String, Value>) -> TopologyAcls {
        if !is_topology_auth_configured(topo_conf) || !is_server_auth_configured(topo_conf) {
            return TopologyAcls::open();
        }
        let payload = str_key(topo_conf, TOPOLOGY_AUTH_PAYLOAD).unwrap_or_default();
        let id = digest_id(payload);
        let with = |p: i32| {
            NodeAcls(vec![
                AclEntry::creator_all(),
                AclEntry::new(p, "digest", id.clone()),
            ])
        };
        TopologyAcls {
            read_only: with(perms::READ),
            read_write: with(perms::ALL),
        }
    }
}

fn str_key<'a>(conf: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    conf.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// Storm's `isZkAuthenticationConfiguredStormServer`: the daemons use ZooKeeper authentication.
/// storm-rs reads it as scheme *and* payload set (its defaults carry the scheme "digest", so the
/// payload is what turns it on).
pub fn is_server_auth_configured(conf: &Map<String, Value>) -> bool {
    str_key(conf, AUTH_SCHEME).is_some() && str_key(conf, AUTH_PAYLOAD).is_some()
}

/// Storm's `isZkAuthenticationConfiguredTopology`: `storm.zookeeper.topology.auth.scheme` is set.
pub fn is_topology_auth_configured(conf: &Map<String, Value>) -> bool {
    str_key(conf, TOPOLOGY_AUTH_SCHEME).is_some()
}

/// Storm's `ZookeeperAuthInfo`: the topology's scheme and payload when both are set, else the
/// daemon's; `None` when neither pair is complete.
pub fn session_auth(conf: &Map<String, Value>) -> Option<ZkAuth> {
    let pair = |s: &str, p: &str| -> Option<ZkAuth> {
        Some(ZkAuth {
            scheme: str_key(conf, s)?.to_string(),
            payload: str_key(conf, p)?.to_string(),
        })
    };
    pair(TOPOLOGY_AUTH_SCHEME, TOPOLOGY_AUTH_PAYLOAD).or_else(|| pair(AUTH_SCHEME, AUTH_PAYLOAD))
}

/// ZooKeeper's `DigestAuthenticationProvider.generateDigest`: `user:base64(sha1("user:password"))`.
pub fn digest_id(payload: &str) -> String {
    use sha1::Digest;
    let user = payload.split_once(':').map_or(payload, |(u, _)| u);
    let hash = sha1::Sha1::digest(payload.as_bytes());
    format!("{user}:{}", base64_encode(&hash))
}

/// Standard base64 with padding (what Java's `Base64` encoder writes).
fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Parses `scheme:id` (`Utils.parseZkId`).
pub fn parse_zk_id(value: &str, key: &'static str) -> Result<(String, String), AclError> {
    match value.split_once(':') {
        Some((scheme, id)) if !scheme.is_empty() && !id.is_empty() => {
            Ok((scheme.to_string(), id.to_string()))
        }
        _ => Err(AclError::BadSuperAcl {
            key,
            value: value.to_string(),
        }),
    }
}

/// The default ACLs of nimbus' and supervisors' nodes (`DaemonType.getDefaultZkAcls`):
/// `CREATOR_ALL` with authentication, open without.
pub fn daemon_acls(conf: &Map<String, Value>) -> NodeAcls {
    if is_server_auth_configured(conf) {
        NodeAcls::creator_all()
    } else {
        NodeAcls::open()
    }
}

/// The daemons' super-user ACL value (`storm.zookeeper.superACL`, `scheme:id`): the configured one,
/// or (storm-rs) the digest identity of `storm.zookeeper.auth.payload` when it is unset.
pub fn super_acl_value(conf: &Map<String, Value>) -> Option<String> {
    if let Some(v) = str_key(conf, SUPER_ACL) {
        return Some(v.to_string());
    }
    if str_key(conf, AUTH_SCHEME) == Some("digest") {
        return str_key(conf, AUTH_PAYLOAD).map(|p| format!("digest:{}", digest_id(p)));
    }
    None
}

/// The ACLs of a worker's own nodes (`Utils.getWorkerACL`): `CREATOR_ALL` plus ALL for
/// `storm.zookeeper.superACL` when the topology uses ZooKeeper authentication (topology keys set and
/// the cluster's daemons authenticating: `conf` is the worker's whole configuration); open otherwise.
pub fn worker_acls(conf: &Map<String, Value>) -> Result<NodeAcls, AclError> {
    if !is_topology_auth_configured(conf) || !is_server_auth_configured(conf) {
        return Ok(NodeAcls::open());
    }
    let value = super_acl_value(conf).ok_or(AclError::NoSuperAcl)?;
    let (scheme, id) = parse_zk_id(&value, SUPER_ACL)?;
    Ok(NodeAcls(vec![
        AclEntry::creator_all(),
        AclEntry::new(perms::ALL, scheme, id),
    ]))
}

/// Storm's `StormSubmitter.validateZKDigestPayload`: `\S+:\S+`.
pub fn is_valid_digest_payload(payload: &str) -> bool {
    match payload.split_once(':') {
        Some((u, p)) => !u.is_empty() && !p.is_empty() && !payload.chars().any(char::is_whitespace),
        None => false,
    }
}

/// A fresh topology payload: `<user>:<64 hex digits of OS randomness>`.
pub fn generate_topology_payload(user: &str) -> String {
    let user: String = user
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    let user = if user.is_empty() {
        "storm".into()
    } else {
        user
    };
    format!("{user}:{}", random_hex(32))
}

/// `n` random bytes from the OS, as hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    fill_random(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Fills `buf` from the operating system's random source.
pub fn fill_random(buf: &mut [u8]) {
    if let Err(e) = getrandom::fill(buf) {
        // The OS source failing is not recoverable for a secret; never fall back to a weak one.
        panic!("the operating system's random source failed: {e}");
    }
}

/// What nimbus does to a submitted topology's configuration (Storm's `StormSubmitter`
/// `prepareZookeeperAuthentication` and nimbus' `submitTopologyWithOpts`):
///
/// * when the cluster uses ZooKeeper authentication, or the topology asks for authenticated worker
///   links (`storm.messaging.netty.authentication`), the topology gets the digest scheme and a
///   payload: its own when it set a valid `user:password`, else a generated
///   `<topology user>:<random secret>`;
/// * otherwise the topology keys are removed (Storm: ZooKeeper ACLs only where the daemons
///   authenticate);
/// * with ZooKeeper authentication the cluster's `storm.zookeeper.superACL` (or the digest identity
///   of the daemons' payload) is copied in, so workers let the daemons read and clean their nodes.
///
/// Returns whether a payload was generated.
pub fn prepare_topology_auth(
    cluster_conf: &Map<String, Value>,
    topo_conf: &mut Map<String, Value>,
    user: &str,
) -> bool {
    let server_auth = is_server_auth_configured(cluster_conf);
    let link_auth = topo_conf
        .get(NETTY_AUTHENTICATION)
        .or_else(|| cluster_conf.get(NETTY_AUTHENTICATION))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if !server_auth && !link_auth {
        topo_conf.remove(TOPOLOGY_AUTH_SCHEME);
        topo_conf.remove(TOPOLOGY_AUTH_PAYLOAD);
        return false;
    }
    let given = str_key(topo_conf, TOPOLOGY_AUTH_PAYLOAD).filter(|p| is_valid_digest_payload(p));
    let generated = given.is_none();
    let payload = match given {
        Some(p) => p.to_string(),
        None => generate_topology_payload(user),
    };
    topo_conf.insert(TOPOLOGY_AUTH_PAYLOAD.into(), Value::from(payload));
    topo_conf.insert(TOPOLOGY_AUTH_SCHEME.into(), Value::from("digest"));
    if server_auth {
        if let Some(super_acl) = super_acl_value(cluster_conf) {
            topo_conf.insert(SUPER_ACL.into(), Value::from(super_acl));
        }
    }
    generated
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conf(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn digest_matches_zookeeper() {
        // ZooKeeper's own: DigestAuthenticationProvider.generateDigest("super:test")
        // = "super:D/InIHSb7yEEbrWz8b9l71RjZJU=" (from ZooKeeper's documentation).
        assert_eq!(
            digest_id("super:test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
        // The user part is everything before the first ':'.
        assert!(digest_id("bob:pa:ss").starts_with("bob:"));
    }

    #[test]
    fn daemon_acls_follow_the_server_keys() {
        assert!(daemon_acls(&conf(json!({}))).is_open());
        // The scheme alone (storm-rs' default "digest") does not turn it on.
        assert!(daemon_acls(&conf(json!({AUTH_SCHEME: "digest"}))).is_open());
        let on = conf(json!({AUTH_SCHEME: "digest", AUTH_PAYLOAD: "storm:secret"}));
        assert_eq!(daemon_acls(&on), NodeAcls::creator_all());
        assert_eq!(
            daemon_acls(&on).entries(),
            vec![AclEntry::new(perms::ALL, "auth", "")]
        );
        assert_eq!(
            NodeAcls::open().entries(),
            vec![AclEntry::new(31, "world", "anyone")]
        );
    }

    #[test]
    fn topology_acls_are_storms() {
        assert_eq!(
            TopologyAcls::from_topology_conf(&conf(json!({}))),
            TopologyAcls::open()
        );
        // A payload only for link authentication (no daemon auth): open.
        let link_only =
            conf(json!({TOPOLOGY_AUTH_SCHEME: "digest", TOPOLOGY_AUTH_PAYLOAD: "alice:s3cret"}));
        assert_eq!(
            TopologyAcls::from_topology_conf(&link_only),
            TopologyAcls::open()
        );
        let t = conf(json!({
            AUTH_SCHEME: "digest", AUTH_PAYLOAD: "storm:pw",
            TOPOLOGY_AUTH_SCHEME: "digest", TOPOLOGY_AUTH_PAYLOAD: "alice:s3cret"
        }));
        let acls = TopologyAcls::from_topology_conf(&t);
        let id = digest_id("alice:s3cret");
        assert_eq!(
            acls.read_only,
            NodeAcls(vec![
                AclEntry::creator_all(),
                AclEntry::new(perms::READ, "digest", id.clone())
            ])
        );
        assert_eq!(
            acls.read_write,
            NodeAcls(vec![
                AclEntry::creator_all(),
                AclEntry::new(perms::ALL, "digest", id)
            ])
        );
    }

    #[test]
    fn worker_acls_add_the_super_acl() {
        assert!(worker_acls(&conf(json!({}))).unwrap().is_open());
        let t = conf(json!({
            TOPOLOGY_AUTH_SCHEME: "digest", TOPOLOGY_AUTH_PAYLOAD: "alice:x",
            SUPER_ACL: "digest:storm:abc=", AUTH_SCHEME: "digest", AUTH_PAYLOAD: "storm:pw"
        }));
        assert_eq!(
            worker_acls(&t).unwrap(),
            NodeAcls(vec![
                AclEntry::creator_all(),
                AclEntry::new(perms::ALL, "digest", "storm:abc=")
            ])
        );
        let no_super = conf(json!({
            TOPOLOGY_AUTH_SCHEME: "digest", TOPOLOGY_AUTH_PAYLOAD: "a:x",
            AUTH_SCHEME: "sasl", AUTH_PAYLOAD: "x"
        }));
        assert_eq!(worker_acls(&no_super), Err(AclError::NoSuperAcl));
        let bad = conf(json!({
            TOPOLOGY_AUTH_SCHEME: "digest", SUPER_ACL: "nocolon",
            AUTH_SCHEME: "digest", AUTH_PAYLOAD: "storm:pw"
        }));
        assert!(matches!(
            worker_acls(&bad),
            Err(AclError::BadSuperAcl { .. })
        ));
        // Derived from the daemons' payload when superACL is unset (storm-rs).
        let derived = conf(json!({
            TOPOLOGY_AUTH_SCHEME: "digest", AUTH_SCHEME: "digest", AUTH_PAYLOAD: "storm:pw"
        }));
        assert_eq!(
            worker_acls(&derived).unwrap().0[1],
            AclEntry::new(perms::ALL, "digest", digest_id("storm:pw"))
        );
    }

    #[test]
    fn session_auth_prefers_the_topology_pair() {
        assert_eq!(session_auth(&conf(json!({AUTH_SCHEME: "digest"}))), None);
        let both = conf(json!({
            AUTH_SCHEME: "digest", AUTH_PAYLOAD: "storm:pw",
            TOPOLOGY_AUTH_SCHEME: "digest", TOPOLOGY_AUTH_PAYLOAD: "alice:x"
        }));
        assert_eq!(session_auth(&both).unwrap().payload, "alice:x");
        let daemon = conf(json!({AUTH_SCHEME: "digest", AUTH_PAYLOAD: "storm:pw"}));
        assert_eq!(session_auth(&daemon).unwrap().payload, "storm:pw");
        assert!(!format!("{:?}", session_auth(&daemon).unwrap()).contains("pw"));
    }

    #[test]
    fn submit_generates_or_keeps_or_strips_the_payload() {
        let secure = conf(json!({AUTH_SCHEME: "digest", AUTH_PAYLOAD: "storm:pw"}));
        let mut t = conf(json!({}));
        assert!(prepare_topology_auth(&secure, &mut t, "alice"));
        let payload = t[TOPOLOGY_AUTH_PAYLOAD].as_str().unwrap().to_string();
        assert!(payload.starts_with("alice:") && payload.len() == "alice:".len() + 64);
        assert_eq!(t[TOPOLOGY_AUTH_SCHEME], "digest");
        assert_eq!(t[SUPER_ACL], format!("digest:{}", digest_id("storm:pw")));
        // Two submissions never share a secret.
        let mut t2 = conf(json!({}));
        prepare_topology_auth(&secure, &mut t2, "alice");
        assert_ne!(t2[TOPOLOGY_AUTH_PAYLOAD], t[TOPOLOGY_AUTH_PAYLOAD]);
        // A valid payload of the topology's own is kept; an invalid one replaced.
        let mut own = conf(json!({TOPOLOGY_AUTH_PAYLOAD: "bob:mine"}));
        assert!(!prepare_topology_auth(&secure, &mut own, "bob"));
        assert_eq!(own[TOPOLOGY_AUTH_PAYLOAD], "bob:mine");
        let mut invalid = conf(json!({TOPOLOGY_AUTH_PAYLOAD: "no colon"}));
        assert!(prepare_topology_auth(&secure, &mut invalid, "bob"));
        // Without ZooKeeper auth or link auth the keys are stripped (Storm's nimbus).
        let mut plain = conf(json!({TOPOLOGY_AUTH_SCHEME: "digest", TOPOLOGY_AUTH_PAYLOAD: "a:b"}));
        assert!(!prepare_topology_auth(&conf(json!({})), &mut plain, "a"));
        assert!(plain.is_empty());
        // Link authentication alone still gets a secret, but no superACL.
        let mut link = conf(json!({NETTY_AUTHENTICATION: true}));
        assert!(prepare_topology_auth(&conf(json!({})), &mut link, "a"));
        assert!(link.contains_key(TOPOLOGY_AUTH_PAYLOAD) && !link.contains_key(SUPER_ACL));
    }

    #[test]
    fn digest_payload_validation_is_storms() {
        assert!(is_valid_digest_payload("a:b"));
        assert!(!is_valid_digest_payload("ab"));
        assert!(!is_valid_digest_payload(":b"));
        assert!(!is_valid_digest_payload("a:"));
        assert!(!is_valid_digest_payload("a b:c"));
        assert_eq!(
            parse_zk_id("digest:u:h=", SUPER_ACL).unwrap(),
            ("digest".to_string(), "u:h=".to_string())
        );
    }
}
