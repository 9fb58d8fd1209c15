//! The checkpoint protocol: [`CheckPointState`] (Storm's `CheckPointState`: txid + PREPARING /
//! COMMITTING / COMMITTED, with Storm's `nextState`/`nextAction` transitions), the [`Action`]s sent on
//! the `$checkpoint` stream, and the [`CheckpointSpout`] (`$checkpointspout`) that drives them.
//!
//! The spout keeps its [`CheckPointState`] in its own key-value state (namespace
//! `$checkpointspout-<task>`, key `__state`, value `[txid, "PREPARING"|"COMMITTING"|"COMMITTED"]`) from
//! the topology's state provider, committed on every transition. It starts recovering: from
//! PREPARING it sends ROLLBACK (then state COMMITTED at txid − 1), from COMMITTING it sends COMMIT
//! (then COMMITTED), from COMMITTED it sends INITSTATE and recovery ends when that is acked. Then every
//! `topology.state.checkpoint.interval.ms` (at least 100 ms) from COMMITTED it moves to PREPARING
//! txid + 1 and sends PREPARE; the ack moves it to COMMITTING and COMMIT is sent; that ack moves it to
//! COMMITTED. Each checkpoint tuple is reliable with the txid as message id; a failed or timed-out
//! one (or a state store that cannot save the transition) starts recovery again.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{new_state, KeyValueState, StateError, CHECKPOINT_INTERVAL_MS};
use crate::api::{
    conf_i64, ComponentError, ConfMap, MessageId, OutputFieldsDeclarer, Spout,
    SpoutOutputCollector, TopologyContext,
};
use crate::tuple::Value;
use crate::values;

/// `CheckpointSpout.CHECKPOINT_STREAM_ID`.
pub const CHECKPOINT_STREAM_ID: &str = "$checkpoint";
/// `CheckpointSpout.CHECKPOINT_COMPONENT_ID`.
pub const CHECKPOINT_COMPONENT_ID: &str = "$checkpointspout";
pub const CHECKPOINT_FIELD_TXID: &str = "txid";
pub const CHECKPOINT_FIELD_ACTION: &str = "action";
/// The key of the spout's own state.
const TX_STATE_KEY: &str = "__state";

/// Where the last transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxState {
    Committed,
    Committing,
    Preparing,
}

impl TxState {
    pub fn name(self) -> &'static str {
        match self {
            TxState::Committed => "COMMITTED",
            TxState::Committing => "COMMITTING",
            TxState::Preparing => "PREPARING",
        }
    }

    pub fn parse(s: &str) -> Option<TxState> {
        [TxState::Committed, TxState::Committing, TxState::Preparing]
            .into_iter()
            .find(|t| t.name() == s)
    }
}

/// What a checkpoint tuple asks the bolts to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Prepare,
    Commit,
    Rollback,
    InitState,
}

impl Action {
    /// Storm's enum names, as carried in the `action` field.
    pub fn name(self) -> &'static str {
        match self {
            Action::Prepare => "PREPARE",
            Action::Commit => "COMMIT",
            Action::Rollback => "ROLLBACK",
            Action::InitState => "INITSTATE",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        [
            Action::Prepare,
            Action::Commit,
            Action::Rollback,
            Action::InitState,
        ]
        .into_iter()
        .find(|a| a.name() == s)
    }
}

/// Storm's `CheckPointState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CheckPointState {
    pub txid: i64,
    pub state: TxState,
}

impl CheckPointState {
    pub fn new(txid: i64, state: TxState) -> CheckPointState {
        CheckPointState { txid, state }
    }

    /// Storm's `nextState(recovering)`.
    pub fn next_state(self, recovering: bool) -> CheckPointState {
        match self.state {
            TxState::Preparing if recovering => {
                CheckPointState::new(self.txid - 1, TxState::Committed)
            }
            TxState::Preparing => CheckPointState::new(self.txid, TxState::Committing),
            TxState::Committing => CheckPointState::new(self.txid, TxState::Committed),
            TxState::Committed if recovering => self,
            TxState::Committed => CheckPointState::new(self.txid + 1, TxState::Preparing),
        }
    }

    /// Storm's `nextAction(recovering)`.
    pub fn next_action(self, recovering: bool) -> Action {
        match self.state {
            TxState::Preparing if recovering => Action::Rollback,
            TxState::Preparing => Action::Prepare,
            TxState::Committing => Action::Commit,
            TxState::Committed if recovering => Action::InitState,
            TxState::Committed => Action::Prepare,
        }
    }

    pub fn to_value(self) -> Value {
        Value::List(vec![Value::Long(self.txid), Value::from(self.state.name())])
    }

    pub fn from_value(value: &Value) -> Option<CheckPointState> {
        match value {
            Value::List(items) => match items.as_slice() {
                [Value::Long(txid), Value::String(s)] => {
                    Some(CheckPointState::new(*txid, TxState::parse(s)?))
                }
                _ => None,
            },
            _ => None,
        }
    }
}

/// The checkpoint spout's logic, clock passed in (so it is tested without waiting).
pub struct CheckpointCore {
    state: KeyValueState,
    interval: Duration,
    /// `None` until loaded from the state store.
    current: Option<CheckPointState>,
    recovering: bool,
    step_in_progress: bool,
    last_checkpoint: Option<Instant>,
    /// No step before this instant (after a failure).
    retry_at: Option<Instant>,
}

impl CheckpointCore {
    pub fn new(state: KeyValueState, interval: Duration) -> CheckpointCore {
        CheckpointCore {
            state,
            interval,
            current: None,
            recovering: true,
            step_in_progress: false,
            last_checkpoint: None,
            retry_at: None,
        }
    }

    pub fn current(&self) -> Option<CheckPointState> {
        self.current
    }

    pub fn recovering(&self) -> bool {
        self.recovering
    }

    /// How long to wait after a failed step before the next (Storm's sleep interval).
    fn backoff(&self) -> Duration {
        (self.interval / 10).max(Duration::from_millis(10))
    }

    fn load(&mut self) -> Result<CheckPointState, StateError> {
        if let Some(c) = self.current {
            return Ok(c);
        }
        let loaded = match self.state.get(TX_STATE_KEY)? {
            Some(v) => CheckPointState::from_value(&v).ok_or_else(|| StateError::Transaction {
                namespace: self.state.namespace(),
                message: format!("{TX_STATE_KEY} holds {v:?}, not a checkpoint state"),
            })?,
            None => {
                let initial = CheckPointState::new(-1, TxState::Committed);
                self.state.put(TX_STATE_KEY, initial.to_value())?;
                self.state.commit()?;
                initial
            }
        };
        tracing::info!(state = ?loaded, "checkpoint spout state loaded");
        self.current = Some(loaded);
        Ok(loaded)
    }

    fn save(&mut self, next: CheckPointState) -> Result<(), StateError> {
        self.state.put(TX_STATE_KEY, next.to_value())?;
        if let Err(e) = self.state.commit() {
            // The transition was not saved: the state stays what the store has.
            if let Some(previous) = self.current {
                self.state.put(TX_STATE_KEY, previous.to_value())?;
            }
            return Err(e);
        }
        self.current = Some(next);
        Ok(())
    }

    /// The checkpoint tuple to emit now, if any: `(txid, action)`.
    pub fn next_tuple(&mut self, now: Instant) -> Result<Option<(i64, Action)>, StateError> {
        if self.step_in_progress || self.retry_at.is_some_and(|t| now < t) {
            return Ok(None);
        }
        self.retry_at = None;
        let current = match self.load() {
            Ok(c) => c,
            Err(e) => {
                self.retry_at = Some(now + self.interval);
                return Err(e);
            }
        };
        if self.recovering {
            self.step_in_progress = true;
            return Ok(Some((current.txid, current.next_action(true))));
        }
        let elapsed = self
            .last_checkpoint
            .is_none_or(|t| now.duration_since(t) > self.interval);
        if current.state != TxState::Committed || elapsed {
            let mut current = current;
            if current.state == TxState::Committed {
                if let Err(e) = self.save(current.next_state(false)) {
                    self.retry_at = Some(now + self.interval);
                    return Err(e);
                }
                self.last_checkpoint = Some(now);
                current = self.current.expect("saved above");
            }
            self.step_in_progress = true;
            return Ok(Some((current.txid, current.next_action(false))));
        }
        Ok(None)
    }

    /// The checkpoint tuple with message id `txid` was acked by every bolt.
    pub fn ack(&mut self, txid: i64, now: Instant) -> Result<(), StateError> {
        self.step_in_progress = false;
        let Some(current) = self.current else {
            return Ok(());
        };
        if current.txid != txid {
            tracing::warn!(
                txid,
                current = current.txid,
                "checkpoint ack for another txid"
            );
            return Ok(());
        }
        let next = current.next_state(self.recovering);
        if self.recovering && next == current {
            tracing::info!(state = ?current, "checkpoint recovery complete");
            self.recovering = false;
            return Ok(());
        }
        if let Err(e) = self.save(next) {
            self.recovering = true;
            self.retry_at = Some(now + self.backoff());
            return Err(e);
        }
        Ok(())
    }

    /// The checkpoint tuple failed (a bolt failed it, or it timed out): recover.
    pub fn fail(&mut self, now: Instant) {
        self.step_in_progress = false;
        if !self.recovering {
            tracing::info!("checkpoint failed, recovering");
            self.recovering = true;
        }
        self.retry_at = Some(now + self.backoff());
    }
}

/// Storm's `CheckpointSpout`, added by the topology builder as `$checkpointspout` when the topology
/// has stateful bolts.
#[derive(Default, Serialize, Deserialize)]
pub struct CheckpointSpout {
    #[serde(skip)]
    core: Option<CheckpointCore>,
}

impl CheckpointSpout {
    pub fn new() -> CheckpointSpout {
        CheckpointSpout::default()
    }
}

/// The checkpoint interval of a topology: `topology.state.checkpoint.interval.ms`, at least 100 ms.
pub fn checkpoint_interval(conf: &ConfMap) -> Duration {
    let ms = conf_i64(conf, CHECKPOINT_INTERVAL_MS)
        .unwrap_or(1000)
        .max(100);
    Duration::from_millis(ms as u64)
}

#[typetag::serde(name = "storm::CheckpointSpout")]
impl Spout for CheckpointSpout {
    fn open(
        &mut self,
        conf: &ConfMap,
        context: &TopologyContext,
        _collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let state = new_state(&super::task_namespace(context), conf)?;
        let interval = checkpoint_interval(conf);
        tracing::info!(
            interval_ms = interval.as_millis() as u64,
            "checkpoint interval"
        );
        self.core = Some(CheckpointCore::new(state, interval));
        Ok(())
    }

    fn next_tuple(
        &mut self,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let Some(core) = self.core.as_mut() else {
            return Ok(());
        };
        match core.next_tuple(Instant::now()) {
            Ok(Some((txid, action))) => {
                tracing::debug!(txid, action = action.name(), "checkpoint");
                collector.emit_stream(
                    CHECKPOINT_STREAM_ID,
                    values![txid, action.name()],
                    Some(Value::Long(txid)),
                )?;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "checkpoint state unavailable; retrying");
                collector.report_error(e);
            }
        }
        Ok(())
    }

    fn ack(
        &mut self,
        message_id: MessageId,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        if let (Some(core), Value::Long(txid)) = (self.core.as_mut(), &message_id) {
            if let Err(e) = core.ack(*txid, Instant::now()) {
                tracing::warn!(error = %e, "cannot save the checkpoint state; recovering");
                collector.report_error(e);
            }
        }
        Ok(())
    }

    fn fail(
        &mut self,
        _message_id: MessageId,
        _collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        if let Some(core) = self.core.as_mut() {
            core.fail(Instant::now());
        }
        Ok(())
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declarer.declare_stream(
            CHECKPOINT_STREAM_ID,
            [CHECKPOINT_FIELD_TXID, CHECKPOINT_FIELD_ACTION],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_are_storms() {
        use TxState::*;
        let s = |t, st| CheckPointState::new(t, st);
        assert_eq!(s(3, Preparing).next_state(false), s(3, Committing));
        assert_eq!(s(3, Preparing).next_state(true), s(2, Committed));
        assert_eq!(s(3, Committing).next_state(false), s(3, Committed));
        assert_eq!(s(3, Committing).next_state(true), s(3, Committed));
        assert_eq!(s(3, Committed).next_state(false), s(4, Preparing));
        assert_eq!(s(3, Committed).next_state(true), s(3, Committed));
        assert_eq!(s(3, Preparing).next_action(false), Action::Prepare);
        assert_eq!(s(3, Preparing).next_action(true), Action::Rollback);
        assert_eq!(s(3, Committing).next_action(true), Action::Commit);
        assert_eq!(s(3, Committing).next_action(false), Action::Commit);
        assert_eq!(s(3, Committed).next_action(true), Action::InitState);
        assert_eq!(s(3, Committed).next_action(false), Action::Prepare);
        for st in [s(-1, Committed), s(9, Committing), s(4, Preparing)] {
            assert_eq!(CheckPointState::from_value(&st.to_value()), Some(st));
        }
        for a in [
            Action::Prepare,
            Action::Commit,
            Action::Rollback,
            Action::InitState,
        ] {
            assert_eq!(Action::parse(a.name()), Some(a));
        }
    }

    fn stored(state: &KeyValueState) -> CheckPointState {
        CheckPointState::from_value(&state.get(TX_STATE_KEY).unwrap().unwrap()).unwrap()
    }

    #[test]
    fn fresh_start_recovers_then_checkpoints_every_interval() {
        let state = KeyValueState::in_memory("$checkpointspout-1");
        let interval = Duration::from_millis(1000);
        let mut core = CheckpointCore::new(state.clone(), interval);
        let t0 = Instant::now();
        // Recovery from a fresh store: INITSTATE at -1.
        assert_eq!(core.next_tuple(t0).unwrap(), Some((-1, Action::InitState)));
        assert_eq!(core.next_tuple(t0).unwrap(), None, "one step at a time");
        core.ack(-1, t0).unwrap();
        assert!(!core.recovering());
        // First checkpoint at once: PREPARING 0 saved before PREPARE is sent.
        assert_eq!(core.next_tuple(t0).unwrap(), Some((0, Action::Prepare)));
        assert_eq!(stored(&state), CheckPointState::new(0, TxState::Preparing));
        core.ack(0, t0).unwrap();
        assert_eq!(stored(&state), CheckPointState::new(0, TxState::Committing));
        assert_eq!(core.next_tuple(t0).unwrap(), Some((0, Action::Commit)));
        core.ack(0, t0).unwrap();
        assert_eq!(stored(&state), CheckPointState::new(0, TxState::Committed));
        // The next prepare waits for the interval.
        assert_eq!(core.next_tuple(t0 + interval / 2).unwrap(), None);
        let t1 = t0 + interval + Duration::from_millis(1);
        assert_eq!(core.next_tuple(t1).unwrap(), Some((1, Action::Prepare)));
        // A failed prepare: recovery rolls back txid 1, then re-initialises at 0.
        core.fail(t1);
        assert!(core.recovering());
        assert_eq!(
            core.next_tuple(t1).unwrap(),
            None,
            "backs off after a failure"
        );
        let t2 = t1 + interval;
        assert_eq!(core.next_tuple(t2).unwrap(), Some((1, Action::Rollback)));
        core.ack(1, t2).unwrap();
        assert_eq!(stored(&state), CheckPointState::new(0, TxState::Committed));
        assert_eq!(core.next_tuple(t2).unwrap(), Some((0, Action::InitState)));
        core.ack(0, t2).unwrap();
        assert!(!core.recovering());
    }

    /// An in-memory store whose commits fail while `down` is set (a Redis outage).
    struct Flaky {
        inner: crate::state::InMemoryKeyValueState,
        down: std::sync::Arc<std::sync::atomic::AtomicBool>,
    }

    impl crate::state::StateBackend for Flaky {
        fn namespace(&self) -> &str {
            self.inner.namespace()
        }
        fn put(&mut self, k: Vec<u8>, v: Vec<u8>) -> Result<(), StateError> {
            self.inner.put(k, v)
        }
        fn get(&mut self, k: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
            self.inner.get(k)
        }
        fn delete(&mut self, k: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
            self.inner.delete(k)
        }
        fn entries(&mut self) -> Result<crate::state::Entries, StateError> {
            self.inner.entries()
        }
        fn prepare_commit(&mut self, txid: i64) -> Result<(), StateError> {
            self.inner.prepare_commit(txid)
        }
        fn commit_txid(&mut self, txid: i64) -> Result<(), StateError> {
            self.inner.commit_txid(txid)
        }
        fn commit(&mut self) -> Result<(), StateError> {
            if self.down.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(StateError::Redis {
                    addr: "test".into(),
                    message: "down".into(),
                });
            }
            self.inner.commit()
        }
        fn rollback(&mut self) -> Result<(), StateError> {
            self.inner.rollback()
        }
    }

    #[test]
    fn an_unsaved_transition_is_not_taken() {
        let down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let state = KeyValueState::new(Box::new(Flaky {
            inner: crate::state::InMemoryKeyValueState::new("$checkpointspout-1"),
            down: down.clone(),
        }));
        let interval = Duration::from_secs(1);
        let mut core = CheckpointCore::new(state.clone(), interval);
        let t = Instant::now();
        assert_eq!(core.next_tuple(t).unwrap(), Some((-1, Action::InitState)));
        core.ack(-1, t).unwrap();
        assert_eq!(core.next_tuple(t).unwrap(), Some((0, Action::Prepare)));
        // The store is down when PREPARE is acked: COMMITTING is not saved, so recovery rolls back.
        down.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(core.ack(0, t).is_err());
        assert!(core.recovering());
        assert_eq!(stored(&state), CheckPointState::new(0, TxState::Preparing));
        // While down, the next checkpoint cannot start either.
        let t1 = t + interval;
        assert_eq!(core.next_tuple(t1).unwrap(), Some((0, Action::Rollback)));
        assert!(core.ack(0, t1).is_err(), "COMMITTED -1 cannot be saved");
        down.store(false, std::sync::atomic::Ordering::SeqCst);
        let t2 = t1 + interval;
        assert_eq!(core.next_tuple(t2).unwrap(), Some((0, Action::Rollback)));
        core.ack(0, t2).unwrap();
        assert_eq!(stored(&state), CheckPointState::new(-1, TxState::Committed));
        assert_eq!(core.next_tuple(t2).unwrap(), Some((-1, Action::InitState)));
        core.ack(-1, t2).unwrap();
        assert_eq!(core.next_tuple(t2).unwrap(), Some((0, Action::Prepare)));
    }

    #[test]
    fn a_restart_resumes_from_the_stored_state() {
        let state = KeyValueState::in_memory("$checkpointspout-1");
        state
            .put(
                TX_STATE_KEY,
                CheckPointState::new(7, TxState::Committing).to_value(),
            )
            .unwrap();
        state.commit().unwrap();
        let mut core = CheckpointCore::new(state.clone(), Duration::from_secs(1));
        let t = Instant::now();
        assert_eq!(core.next_tuple(t).unwrap(), Some((7, Action::Commit)));
        // An ack for a stale txid changes nothing.
        core.ack(6, t).unwrap();
        assert_eq!(stored(&state), CheckPointState::new(7, TxState::Committing));
        assert_eq!(core.next_tuple(t).unwrap(), Some((7, Action::Commit)));
        core.ack(7, t).unwrap();
        assert_eq!(stored(&state), CheckPointState::new(7, TxState::Committed));
        assert_eq!(core.next_tuple(t).unwrap(), Some((7, Action::InitState)));
        core.ack(7, t).unwrap();
        assert_eq!(core.next_tuple(t).unwrap(), Some((8, Action::Prepare)));
    }
}
