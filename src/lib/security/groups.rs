//! Storm's group mapping (`storm.group.mapping.service`): the groups of a local user, for the
//! `*.groups` ACLs. `ShellBasedGroupsMapping` asks the operating system (`id -Gn <user>`, no shell)
//! and caches each answer for `storm.group.mapping.service.cache.duration.secs`, as Storm does; a
//! user the system does not know has no groups (and is not cached). The cache is bounded.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::SecurityError;

/// Storm's default group mapping.
pub const SHELL_BASED_GROUPS_MAPPING: &str =
    "org.apache.storm.security.auth.ShellBasedGroupsMapping";

/// The most users whose groups are cached at once (the oldest entries go first).
pub const MAX_CACHED_USERS: usize = 4096;

/// Where groups come from.
#[derive(Debug)]
pub enum GroupMapping {
    /// `ShellBasedGroupsMapping`: `id -Gn`, cached.
    Shell(ShellGroups),
    /// A fixed table (tests, and callers that know the groups already).
    Fixed(HashMap<String, BTreeSet<String>>),
}

impl GroupMapping {
    /// The mapping `storm.group.mapping.service` names; `None` when it is set to null/empty (no
    /// groups, as Storm when the key is unset).
    pub fn from_conf(conf: &Map<String, Value>) -> Result<Option<GroupMapping>, SecurityError> {
        let key = "storm.group.mapping.service";
        match conf.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) if s == SHELL_BASED_GROUPS_MAPPING => {
                let secs = conf
                    .get("storm.group.mapping.service.cache.duration.secs")
                    .and_then(Value::as_u64)
                    .unwrap_or(120);
                Ok(Some(GroupMapping::Shell(ShellGroups::new(
                    Duration::from_secs(secs),
                ))))
            }
            Some(other) => Err(SecurityError::UnknownClass {
                key: key.into(),
                value: super::value_text(other),
                accepted: vec![SHELL_BASED_GROUPS_MAPPING],
            }),
        }
    }

    /// The groups of `user` (empty when unknown or on error).
    pub fn groups(&self, user: &str) -> BTreeSet<String> {
        match self {
            GroupMapping::Shell(s) => s.groups(user),
            GroupMapping::Fixed(m) => m.get(user).cloned().unwrap_or_default(),
        }
    }
}

/// `ShellBasedGroupsMapping` with its cache.
#[derive(Debug)]
pub struct ShellGroups {
    ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, BTreeSet<String>)>>,
}

impl ShellGroups {
    /// Answers are kept for `ttl`.
    pub fn new(ttl: Duration) -> ShellGroups {
        ShellGroups {
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The user's groups, from the cache or `id -Gn`.
    pub fn groups(&self, user: &str) -> BTreeSet<String> {
        if user.is_empty() {
            return BTreeSet::new();
        }
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, groups)) = cache.get(user) {
                if at.elapsed() < self.ttl {
                    return groups.clone();
                }
            }
        }
        let groups = unix_groups(user);
        if !groups.is_empty() {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            let ttl = self.ttl;
            cache.retain(|_, (at, _)| at.elapsed() < ttl);
            if cache.len() >= MAX_CACHED_USERS {
                if let Some(oldest) = cache
                    .iter()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(k, _)| k.clone())
                {
                    cache.remove(&oldest);
                }
            }
            cache.insert(user.to_string(), (Instant::now(), groups.clone()));
        }
        groups
    }
}

/// `id -Gn -- <user>`; an unknown user or a failure is no groups.
fn unix_groups(user: &str) -> BTreeSet<String> {
    match std::process::Command::new("id")
        .args(["-Gn", "--", user])
        .output()
    {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        Ok(_) => {
            tracing::debug!(%user, "id -Gn failed; the user has no groups");
            BTreeSet::new()
        }
        Err(e) => {
            tracing::warn!(%user, error = %e, "cannot run id -Gn; the user has no groups");
            BTreeSet::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_mapping_finds_the_current_users_groups_and_caches_them() {
        let me = String::from_utf8(
            std::process::Command::new("id")
                .arg("-un")
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
        .trim()
        .to_string();
        let primary = String::from_utf8(
            std::process::Command::new("id")
                .arg("-gn")
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
        .trim()
        .to_string();
        let s = ShellGroups::new(Duration::from_secs(60));
        let g = s.groups(&me);
        assert!(g.contains(&primary), "{g:?} lacks {primary}");
        assert!(s.cache.lock().unwrap().contains_key(&me));
        assert!(s.groups("no-such-user-storm-rs-xyz").is_empty());
        assert!(s.groups("-x").is_empty());
    }

    #[test]
    fn config_selects_the_mapping() {
        let m = |v: Value| {
            serde_json::json!({ "storm.group.mapping.service": v })
                .as_object()
                .unwrap()
                .clone()
        };
        assert!(GroupMapping::from_conf(&Map::new()).unwrap().is_none());
        assert!(matches!(
            GroupMapping::from_conf(&m(SHELL_BASED_GROUPS_MAPPING.into())).unwrap(),
            Some(GroupMapping::Shell(_))
        ));
        assert!(GroupMapping::from_conf(&m("a.B".into())).is_err());
    }
}
