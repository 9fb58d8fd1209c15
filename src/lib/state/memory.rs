//! [`InMemoryKeyValueState`]: Storm's `InMemoryKeyValueState`, the default state backend. The state
//! lives in the task's memory: prepare snapshots it, commit keeps the snapshot, rollback returns to
//! the last committed snapshot. Nothing survives the process (local mode and tests).

use std::collections::BTreeMap;

use super::{StateBackend, StateError};

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

/// The in-memory state of one namespace.
#[derive(Debug, Clone)]
pub struct InMemoryKeyValueState {
    namespace: String,
    state: Map,
    committed: Option<(i64, Map)>,
    prepared: Option<(i64, Map)>,
}

impl InMemoryKeyValueState {
    pub fn new(namespace: &str) -> InMemoryKeyValueState {
        InMemoryKeyValueState {
            namespace: namespace.to_owned(),
            state: Map::new(),
            committed: None,
            prepared: None,
        }
    }

    fn txn_error(&self, message: String) -> StateError {
        StateError::Transaction {
            namespace: self.namespace.clone(),
            message,
        }
    }
}

impl StateBackend for InMemoryKeyValueState {
    fn namespace(&self) -> &str {
        &self.namespace
    }

    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) -> Result<(), StateError> {
        self.state.insert(key, value);
        Ok(())
    }

    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.state.get(key).cloned())
    }

    fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.state.remove(key))
    }

    fn entries(&mut self) -> Result<super::Entries, StateError> {
        Ok(self
            .state
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn prepare_commit(&mut self, txid: i64) -> Result<(), StateError> {
        if let Some((prepared, _)) = &self.prepared {
            if txid > *prepared {
                return Err(self.txn_error(format!(
                    "Cannot prepare a new txn {txid} while there is a pending txn {prepared}"
                )));
            }
        }
        self.prepared = Some((txid, self.state.clone()));
        Ok(())
    }

    fn commit_txid(&mut self, txid: i64) -> Result<(), StateError> {
        match self.prepared.take() {
            Some((prepared, map)) if prepared == txid => {
                self.committed = Some((txid, map));
                Ok(())
            }
            other => {
                let found = other.as_ref().map(|(t, _)| *t);
                self.prepared = other;
                Err(self.txn_error(format!(
                    "Invalid prepared state for commit, prepared txid {found:?}, commit txid {txid}"
                )))
            }
        }
    }

    fn commit(&mut self) -> Result<(), StateError> {
        self.committed = Some((-1, self.state.clone()));
        Ok(())
    }

    fn rollback(&mut self) -> Result<(), StateError> {
        self.prepared = None;
        self.state = self
            .committed
            .as_ref()
            .map(|(_, m)| m.clone())
            .unwrap_or_default();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::state::KeyValueState;
    use crate::tuple::Value;

    #[test]
    fn prepare_commit_rollback() {
        let s = KeyValueState::in_memory("c-1");
        s.put("a", 1i64).unwrap();
        s.prepare_commit(1).unwrap();
        s.commit_txid(1).unwrap();
        s.put("a", 2i64).unwrap();
        s.put("b", 5i64).unwrap();
        assert_eq!(s.get("a").unwrap(), Some(Value::Long(2)));
        s.prepare_commit(2).unwrap();
        s.rollback().unwrap();
        assert_eq!(s.get("a").unwrap(), Some(Value::Long(1)));
        assert_eq!(s.get("b").unwrap(), None);
        // commit without a matching prepare is refused
        assert!(s.commit_txid(3).is_err());
        s.put("a", 7i64).unwrap();
        s.prepare_commit(3).unwrap();
        assert!(
            s.prepare_commit(4).is_err(),
            "a pending txn blocks a newer prepare"
        );
        s.commit_txid(3).unwrap();
        s.delete("a").unwrap();
        assert_eq!(s.get("a").unwrap(), None);
        s.rollback().unwrap();
        assert_eq!(s.get("a").unwrap(), Some(Value::Long(7)));
    }
}
