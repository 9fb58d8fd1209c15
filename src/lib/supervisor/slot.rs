//! One supervisor slot (a port of `supervisor.slots.ports`) and Storm's `Slot` state machine
//! (reference §3.4): `EMPTY`, `WAITING_FOR_BLOB_LOCALIZATION`, `WAITING_FOR_WORKER_START`, `RUNNING`,
//! `KILL`, `KILL_AND_RELAUNCH`.
//!
//! The machine is pure logic: every side effect (downloads, launching and signalling workers, reading
//! heartbeats, persisting the slot's assignment, the clock) goes through [`SlotEnv`] and [`Worker`], so
//! the transitions are unit-tested with a fake environment. [`Slot::step`] runs one iteration and
//! returns how long to wait before the next one; the supervisor's slot thread calls it in a loop and
//! wakes it early when a new assignment arrives.
//!
//! Differences from Storm: no `WAITING_FOR_BLOB_UPDATE`/`KILL_BLOB_UPDATE` (topology files never change
//! after submit here), no profiler actions, no memory enforcement.

use std::time::{Duration, Instant};

use crate::thrift::{ExecutorInfo, LocalAssignment};

/// The states of Storm's `Slot.MachineState` that storm-rs implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotState {
    Empty,
    WaitingForBlobLocalization,
    WaitingForWorkerStart,
    Running,
    Kill,
    KillAndRelaunch,
}

impl SlotState {
    /// Storm's name for the state (as it appears in logs).
    pub fn name(self) -> &'static str {
        match self {
            SlotState::Empty => "EMPTY",
            SlotState::WaitingForBlobLocalization => "WAITING_FOR_BLOB_LOCALIZATION",
            SlotState::WaitingForWorkerStart => "WAITING_FOR_WORKER_START",
            SlotState::Running => "RUNNING",
            SlotState::Kill => "KILL",
            SlotState::KillAndRelaunch => "KILL_AND_RELAUNCH",
        }
    }
}

/// The slot timings, from the supervisor configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotTimeouts {
    /// `supervisor.worker.start.timeout.secs`: how long a launched worker may take to heartbeat.
    pub worker_start: Duration,
    /// `supervisor.worker.shutdown.sleep.secs`: grace between SIGTERM and SIGKILL.
    pub shutdown_sleep: Duration,
    /// `supervisor.monitor.frequency.secs`: the RUNNING poll.
    pub monitor: Duration,
    /// The poll of the other states (Storm: 1 s).
    pub poll: Duration,
    /// Wait after a failed download before retrying (Storm: 3 s).
    pub download_retry: Duration,
    /// How long a kill may take before it is logged as stuck (Storm: 120 s).
    pub kill_stuck: Duration,
}

impl Default for SlotTimeouts {
    fn default() -> Self {
        SlotTimeouts {
            worker_start: Duration::from_secs(120),
            shutdown_sleep: Duration::from_secs(3),
            monitor: Duration::from_secs(3),
            poll: Duration::from_secs(1),
            download_retry: Duration::from_secs(3),
            kill_stuck: Duration::from_secs(120),
        }
    }
}

/// The state of a topology's files on this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Localized {
    /// `supervisor/stormdist/<id>/` is complete.
    Ready,
    /// A download is in progress.
    Pending,
    /// The last download failed (the next request starts a new one).
    Failed(String),
}

/// A launched or re-adopted worker, as the slot sees it.
pub trait Worker: Send {
    /// The worker id (`workers/<id>`).
    fn id(&self) -> &str;
    /// The heartbeat timeout for this worker's topology: `supervisor.worker.timeout.secs`, or
    /// `topology.worker.timeout.secs` when larger (capped by `worker.max.timeout.secs`).
    fn heartbeat_timeout(&self) -> Duration;
    /// `time_secs` of the worker's newest local heartbeat, if it has written one.
    fn heartbeat_secs(&mut self) -> Option<i64>;
    /// Whether the main process has exited (reaping it when it is our child).
    fn main_exited(&mut self) -> bool;
    /// Whether no process of the worker is alive any more.
    fn all_dead(&mut self) -> bool;
    /// SIGTERM to every process of the worker.
    fn terminate(&mut self);
    /// SIGKILL to every process of the worker.
    fn force_kill(&mut self);
    /// Removes the worker's directories and records (after it is dead).
    fn clean_up(&mut self);
}

/// Everything a slot does outside itself.
pub trait SlotEnv {
    type W: Worker;
    /// A monotonic clock.
    fn now(&self) -> Instant;
    /// Wall-clock epoch seconds (compared with heartbeat `time_secs`).
    fn now_secs(&self) -> i64;
    /// Requests (or checks) the topology's files.
    fn localize(&self, topology_id: &str) -> Localized;
    /// Launches a new worker (new worker id) for `assignment` on `port`.
    fn launch(&self, port: u16, assignment: &LocalAssignment) -> Result<Self::W, String>;
    /// Persists what the slot runs (`local-assignments`), `None` when it runs nothing.
    fn save_assignment(&self, port: u16, assignment: Option<&LocalAssignment>);
}

/// Storm's `equivalent`: same topology, same executor set, same resources.
pub fn equivalent(a: Option<&LocalAssignment>, b: Option<&LocalAssignment>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            a.topology_id == b.topology_id
                && executor_set(&a.executors) == executor_set(&b.executors)
                && a.resources == b.resources
        }
        _ => false,
    }
}

fn executor_set(e: &[ExecutorInfo]) -> std::collections::BTreeSet<(i32, i32)> {
    e.iter().map(|e| (e.task_start, e.task_end)).collect()
}

/// One slot: its state, the assignment it runs, the one it should run, and its worker.
pub struct Slot<W: Worker> {
    port: u16,
    timeouts: SlotTimeouts,
    state: SlotState,
    /// What the supervisor wants this slot to run (`newAssignment` in Storm).
    desired: Option<LocalAssignment>,
    /// What the slot runs now, or is localizing for (`currentAssignment` / `pendingLocalization`).
    current: Option<LocalAssignment>,
    worker: Option<W>,
    /// When the current state was entered (launch time in WAITING_FOR_WORKER_START, kill start in KILL*).
    since: Option<Instant>,
    /// When SIGKILL was last sent in a KILL state.
    last_force_kill: Option<Instant>,
    /// In WAITING_FOR_BLOB_LOCALIZATION after a failure: not before this instant.
    retry_at: Option<Instant>,
    stuck_logged: bool,
}

impl<W: Worker> Slot<W> {
    /// A slot with nothing running.
    pub fn new(port: u16, timeouts: SlotTimeouts) -> Slot<W> {
        Slot {
            port,
            timeouts,
            state: SlotState::Empty,
            desired: None,
            current: None,
            worker: None,
            since: None,
            last_force_kill: None,
            retry_at: None,
            stuck_logged: false,
        }
    }

    /// A slot that re-adopts a worker found running after a supervisor restart: it starts RUNNING (the
    /// first step kills the worker if it is dead or its heartbeat is stale). The recovered assignment
    /// is also the desired one until the supervisor's first sync says otherwise.
    pub fn recovered(
        port: u16,
        timeouts: SlotTimeouts,
        assignment: LocalAssignment,
        worker: W,
        now: Instant,
    ) -> Slot<W> {
        let mut slot = Slot::new(port, timeouts);
        slot.state = SlotState::Running;
        slot.desired = Some(assignment.clone());
        slot.current = Some(assignment);
        slot.worker = Some(worker);
        slot.since = Some(now);
        slot
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> SlotState {
        self.state
    }

    /// The assignment the slot runs or is preparing.
    pub fn current(&self) -> Option<&LocalAssignment> {
        self.current.as_ref()
    }

    pub fn desired(&self) -> Option<&LocalAssignment> {
        self.desired.as_ref()
    }

    /// The id of the worker the slot holds, if any.
    pub fn worker_id(&self) -> Option<&str> {
        self.worker.as_ref().map(|w| w.id())
    }

    /// Sets the assignment the supervisor wants this slot to run (`None`: nothing).
    pub fn set_desired(&mut self, assignment: Option<LocalAssignment>) {
        self.desired = assignment;
    }

    fn enter(&mut self, state: SlotState, now: Instant) {
        if state != self.state {
            tracing::info!(
                port = self.port,
                from = self.state.name(),
                to = state.name(),
                topology = self
                    .current
                    .as_ref()
                    .map(|a| a.topology_id.as_str())
                    .unwrap_or(""),
                "slot state change"
            );
        }
        self.state = state;
        self.since = Some(now);
        self.last_force_kill = None;
        self.stuck_logged = false;
    }

    /// Runs one iteration of the state machine; returns how long to wait before the next.
    pub fn step<E: SlotEnv<W = W>>(&mut self, env: &E) -> Duration {
        let now = env.now();
        match self.state {
            SlotState::Empty => self.handle_empty(env, now),
            SlotState::WaitingForBlobLocalization => self.handle_localization(env, now),
            SlotState::WaitingForWorkerStart => self.handle_worker_start(env, now),
            SlotState::Running => self.handle_running(env, now),
            SlotState::Kill | SlotState::KillAndRelaunch => self.handle_kill(env, now),
        }
    }

    fn prepare_for_new(&mut self, env: &impl SlotEnv<W = W>, now: Instant) -> Duration {
        match self.desired.clone() {
            Some(a) => {
                self.current = Some(a);
                self.retry_at = None;
                self.enter(SlotState::WaitingForBlobLocalization, now);
                self.handle_localization(env, now)
            }
            None => {
                self.current = None;
                self.enter(SlotState::Empty, now);
                self.timeouts.poll
            }
        }
    }

    fn handle_empty(&mut self, env: &impl SlotEnv<W = W>, now: Instant) -> Duration {
        if self.desired.is_some() {
            return self.prepare_for_new(env, now);
        }
        self.timeouts.poll
    }

    fn handle_localization(&mut self, env: &impl SlotEnv<W = W>, now: Instant) -> Duration {
        if !equivalent(self.desired.as_ref(), self.current.as_ref()) {
            // The assignment changed while downloading: start over for the new one (or go empty).
            return self.prepare_for_new(env, now);
        }
        if let Some(at) = self.retry_at {
            if now < at {
                return at - now;
            }
            self.retry_at = None;
        }
        let Some(assignment) = self.current.clone() else {
            self.enter(SlotState::Empty, now);
            return self.timeouts.poll;
        };
        match env.localize(&assignment.topology_id) {
            Localized::Pending => self.timeouts.poll.min(Duration::from_millis(200)),
            Localized::Failed(e) => {
                tracing::warn!(
                    port = self.port,
                    topology = %assignment.topology_id,
                    "downloading the topology failed, retrying in {:?}: {e}",
                    self.timeouts.download_retry
                );
                self.retry_at = Some(now + self.timeouts.download_retry);
                self.timeouts.download_retry
            }
            Localized::Ready => self.launch(env, &assignment, now),
        }
    }

    fn launch(
        &mut self,
        env: &impl SlotEnv<W = W>,
        assignment: &LocalAssignment,
        now: Instant,
    ) -> Duration {
        env.save_assignment(self.port, Some(assignment));
        match env.launch(self.port, assignment) {
            Ok(w) => {
                tracing::info!(
                    port = self.port,
                    worker = w.id(),
                    topology = %assignment.topology_id,
                    "launched worker"
                );
                self.worker = Some(w);
                self.enter(SlotState::WaitingForWorkerStart, now);
                self.timeouts.poll
            }
            Err(e) => {
                tracing::error!(
                    port = self.port,
                    topology = %assignment.topology_id,
                    "cannot launch the worker, retrying in {:?}: {e}",
                    self.timeouts.download_retry
                );
                self.enter(SlotState::WaitingForBlobLocalization, now);
                self.retry_at = Some(now + self.timeouts.download_retry);
                self.timeouts.download_retry
            }
        }
    }

    fn heartbeat_fresh(&mut self, now_secs: i64) -> Option<bool> {
        let w = self.worker.as_mut()?;
        let timeout = w.heartbeat_timeout().as_secs() as i64;
        let hb = w.heartbeat_secs()?;
        Some(now_secs - hb <= timeout)
    }

    fn start_kill(&mut self, next: SlotState, reason: &str, now: Instant) -> Duration {
        tracing::warn!(
            port = self.port,
            worker = self.worker_id().unwrap_or(""),
            reason,
            "killing worker"
        );
        if let Some(w) = self.worker.as_mut() {
            if !w.all_dead() {
                w.terminate();
            }
        }
        self.enter(next, now);
        self.timeouts.poll.min(self.timeouts.shutdown_sleep)
    }

    fn handle_worker_start(&mut self, env: &impl SlotEnv<W = W>, now: Instant) -> Duration {
        if !equivalent(self.desired.as_ref(), self.current.as_ref()) {
            return self.start_kill(SlotState::Kill, "ASSIGNMENT_CHANGED", now);
        }
        if self.heartbeat_fresh(env.now_secs()) == Some(true) {
            self.enter(SlotState::Running, now);
            return self.timeouts.monitor;
        }
        let hb_timeout = self
            .worker
            .as_ref()
            .map(|w| w.heartbeat_timeout())
            .unwrap_or_default();
        let limit = hb_timeout.max(self.timeouts.worker_start);
        let since = self.since.unwrap_or(now);
        if now.duration_since(since) > limit {
            return self.start_kill(SlotState::KillAndRelaunch, "HB_TIMEOUT (start)", now);
        }
        self.timeouts.poll.min(limit - now.duration_since(since))
    }

    fn handle_running(&mut self, env: &impl SlotEnv<W = W>, now: Instant) -> Duration {
        if !equivalent(self.desired.as_ref(), self.current.as_ref()) {
            return self.start_kill(SlotState::Kill, "ASSIGNMENT_CHANGED", now);
        }
        if self.worker.as_mut().is_none_or(|w| w.main_exited()) {
            return self.start_kill(SlotState::KillAndRelaunch, "PROCESS_EXIT", now);
        }
        match self.heartbeat_fresh(env.now_secs()) {
            None => self.start_kill(SlotState::KillAndRelaunch, "HB_NULL", now),
            Some(false) => self.start_kill(SlotState::KillAndRelaunch, "HB_TIMEOUT", now),
            Some(true) => self.timeouts.monitor,
        }
    }

    fn handle_kill(&mut self, env: &impl SlotEnv<W = W>, now: Instant) -> Duration {
        let dead = self.worker.as_mut().is_none_or(|w| w.all_dead());
        if !dead {
            let since = self.since.unwrap_or(now);
            let grace_end = since + self.timeouts.shutdown_sleep;
            if now < grace_end {
                return (grace_end - now).min(self.timeouts.poll);
            }
            let due = self
                .last_force_kill
                .is_none_or(|t| now.duration_since(t) >= self.timeouts.poll);
            if due {
                if let Some(w) = self.worker.as_mut() {
                    w.force_kill();
                }
                self.last_force_kill = Some(now);
            }
            if now.duration_since(since) > self.timeouts.kill_stuck && !self.stuck_logged {
                self.stuck_logged = true;
                tracing::error!(
                    port = self.port,
                    worker = self.worker_id().unwrap_or(""),
                    "worker processes are still alive {:?} after the kill started",
                    now.duration_since(since)
                );
            }
            return self.timeouts.poll.min(Duration::from_millis(100));
        }
        if let Some(mut w) = self.worker.take() {
            w.clean_up();
        }
        let relaunch = self.state == SlotState::KillAndRelaunch
            && equivalent(self.desired.as_ref(), self.current.as_ref());
        if relaunch {
            if let Some(a) = self.current.clone() {
                return self.launch(env, &a, now);
            }
        }
        env.save_assignment(self.port, None);
        self.current = None;
        self.prepare_for_new(env, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};
    use std::collections::BTreeMap;
    use std::rc::Rc;

    #[derive(Default, Debug)]
    struct WorkerSim {
        hb: Option<i64>,
        exited: bool,
        dead: bool,
        /// Dies on SIGTERM.
        obeys_term: bool,
        terms: u32,
        kills: u32,
        cleaned: bool,
    }

    struct FakeWorker {
        id: String,
        sim: Rc<RefCell<WorkerSim>>,
    }

    // The fake lives on one thread only.
    unsafe impl Send for FakeWorker {}

    impl Worker for FakeWorker {
        fn id(&self) -> &str {
            &self.id
        }
        fn heartbeat_timeout(&self) -> Duration {
            Duration::from_secs(30)
        }
        fn heartbeat_secs(&mut self) -> Option<i64> {
            self.sim.borrow().hb
        }
        fn main_exited(&mut self) -> bool {
            let s = self.sim.borrow();
            s.exited || s.dead
        }
        fn all_dead(&mut self) -> bool {
            self.sim.borrow().dead
        }
        fn terminate(&mut self) {
            let mut s = self.sim.borrow_mut();
            s.terms += 1;
            if s.obeys_term {
                s.dead = true;
            }
        }
        fn force_kill(&mut self) {
            let mut s = self.sim.borrow_mut();
            s.kills += 1;
            s.dead = true;
        }
        fn clean_up(&mut self) {
            self.sim.borrow_mut().cleaned = true;
        }
    }

    struct FakeEnv {
        base: Instant,
        offset: Cell<Duration>,
        epoch: i64,
        localized: RefCell<Localized>,
        launches: RefCell<Vec<(String, Rc<RefCell<WorkerSim>>)>>,
        saved: RefCell<BTreeMap<u16, Option<LocalAssignment>>>,
        obeys_term: bool,
    }

    impl FakeEnv {
        fn new() -> FakeEnv {
            FakeEnv {
                base: Instant::now(),
                offset: Cell::new(Duration::ZERO),
                epoch: 1_700_000_000,
                localized: RefCell::new(Localized::Ready),
                launches: RefCell::new(Vec::new()),
                saved: RefCell::new(BTreeMap::new()),
                obeys_term: true,
            }
        }
        fn advance(&self, d: Duration) {
            self.offset.set(self.offset.get() + d);
        }
        fn last(&self) -> Rc<RefCell<WorkerSim>> {
            self.launches.borrow().last().unwrap().1.clone()
        }
        fn beat(&self) {
            self.last().borrow_mut().hb = Some(self.now_secs());
        }
    }

    impl SlotEnv for FakeEnv {
        type W = FakeWorker;
        fn now(&self) -> Instant {
            self.base + self.offset.get()
        }
        fn now_secs(&self) -> i64 {
            self.epoch + self.offset.get().as_secs() as i64
        }
        fn localize(&self, _id: &str) -> Localized {
            self.localized.borrow().clone()
        }
        fn launch(&self, _port: u16, _a: &LocalAssignment) -> Result<FakeWorker, String> {
            let mut launches = self.launches.borrow_mut();
            let id = format!("w{}", launches.len() + 1);
            let sim = Rc::new(RefCell::new(WorkerSim {
                obeys_term: self.obeys_term,
                ..WorkerSim::default()
            }));
            launches.push((id.clone(), sim.clone()));
            Ok(FakeWorker { id, sim })
        }
        fn save_assignment(&self, port: u16, a: Option<&LocalAssignment>) {
            self.saved.borrow_mut().insert(port, a.cloned());
        }
    }

    fn la(topo: &str, execs: &[(i32, i32)]) -> LocalAssignment {
        LocalAssignment::new(
            topo.to_string(),
            execs
                .iter()
                .map(|&(s, e)| ExecutorInfo::new(s, e))
                .collect(),
            None,
            None,
            None,
        )
    }

    fn timeouts() -> SlotTimeouts {
        SlotTimeouts {
            worker_start: Duration::from_secs(120),
            shutdown_sleep: Duration::from_secs(3),
            monitor: Duration::from_secs(3),
            poll: Duration::from_secs(1),
            download_retry: Duration::from_secs(3),
            kill_stuck: Duration::from_secs(120),
        }
    }

    /// Drives a slot to RUNNING for `a`.
    fn running(env: &FakeEnv, a: LocalAssignment) -> Slot<FakeWorker> {
        let mut slot = Slot::new(6700, timeouts());
        slot.set_desired(Some(a));
        slot.step(env);
        assert_eq!(slot.state(), SlotState::WaitingForWorkerStart);
        env.beat();
        slot.step(env);
        assert_eq!(slot.state(), SlotState::Running);
        slot
    }

    #[test]
    fn equivalence_ignores_executor_order() {
        let a = la("t", &[(1, 1), (2, 3)]);
        let b = la("t", &[(2, 3), (1, 1)]);
        assert!(equivalent(Some(&a), Some(&b)));
        assert!(!equivalent(Some(&a), Some(&la("t", &[(1, 1)]))));
        assert!(!equivalent(Some(&a), Some(&la("u", &[(1, 1), (2, 3)]))));
        assert!(!equivalent(Some(&a), None));
        assert!(equivalent(None, None));
    }

    #[test]
    fn empty_stays_empty_without_assignment() {
        let env = FakeEnv::new();
        let mut slot: Slot<FakeWorker> = Slot::new(6700, timeouts());
        assert_eq!(slot.step(&env), Duration::from_secs(1));
        assert_eq!(slot.state(), SlotState::Empty);
        assert!(env.launches.borrow().is_empty());
    }

    #[test]
    fn new_assignment_downloads_then_launches_then_runs() {
        let env = FakeEnv::new();
        *env.localized.borrow_mut() = Localized::Pending;
        let mut slot = Slot::new(6700, timeouts());
        slot.set_desired(Some(la("t1", &[(1, 2)])));
        slot.step(&env);
        assert_eq!(slot.state(), SlotState::WaitingForBlobLocalization);
        // A failed download is retried after download_retry.
        *env.localized.borrow_mut() = Localized::Failed("boom".into());
        assert_eq!(slot.step(&env), Duration::from_secs(3));
        *env.localized.borrow_mut() = Localized::Ready;
        env.advance(Duration::from_secs(1));
        slot.step(&env);
        assert!(env.launches.borrow().is_empty(), "retry waits");
        env.advance(Duration::from_secs(2));
        slot.step(&env);
        assert_eq!(slot.state(), SlotState::WaitingForWorkerStart);
        assert_eq!(env.launches.borrow().len(), 1);
        assert_eq!(
            env.saved.borrow()[&6700].as_ref().unwrap().topology_id,
            "t1"
        );
        // No heartbeat yet: still waiting.
        env.advance(Duration::from_secs(5));
        slot.step(&env);
        assert_eq!(slot.state(), SlotState::WaitingForWorkerStart);
        env.beat();
        slot.step(&env);
        assert_eq!(slot.state(), SlotState::Running);
        assert_eq!(slot.worker_id(), Some("w1"));
    }

    #[test]
    fn changed_assignment_kills_and_starts_the_new_one() {
        let env = FakeEnv::new();
        let mut slot = running(&env, la("t1", &[(1, 2)]));
        let first = env.last();
        slot.set_desired(Some(la("t1", &[(1, 1)])));
        slot.step(&env);
        assert_eq!(slot.state(), SlotState::Kill);
        assert_eq!(first.borrow().terms, 1);
        slot.step(&env);
        assert!(first.borrow().cleaned);
        assert_eq!(slot.state(), SlotState::WaitingForWorkerStart);
        assert_eq!(env.launches.borrow().len(), 2);
        assert_eq!(slot.current().unwrap().executors.len(), 1);
    }

    #[test]
    fn removed_assignment_kills_and_empties() {
        let env = FakeEnv::new();
        let mut slot = running(&env, la("t1", &[(1, 2)]));
        slot.set_desired(None);
        slot.step(&env);
        assert_eq!(slot.state(), SlotState::Kill);
        slot.step(&env);
        assert_eq!(slot.state(), SlotState::Empty);
        assert!(env.saved.borrow()[&6700].is_none());
        assert!(slot.current().is_none());
    }

    #[test]
    fn worker_exit_relaunches_with_a_new_worker() {
        let env = FakeEnv::new();
        let mut slot = running(&env, la("t1", &[(1, 2)]));
        let first = env.last();
        {
            let mut s = first.borrow_mut();
            s.exited = true;
            s.dead = true;
        }
        slot.step(&env);
        assert_eq!(slot.state(), SlotState::KillAndRelaunch);
        assert_eq!(first.borrow().terms, 0, "dead processes are not signalled");
        slot.step(&env);
        assert!(first.borrow().cleaned);
        assert_eq!(slot.state(), SlotState::WaitingForWorkerStart);
        assert_eq!(slot.worker_id(), Some("w2"));
    }

    #[test]
    fn stale_heartbeat_kills_with_sigkill_after_the_grace() {
        let mut env = FakeEnv::new();
        env.obeys_term = false;
        let mut slot = running(&env, la("t1", &[(1, 2)]));
        let first = env.last();
        env.advance(Duration::from_secs(20));
        slot.step(&env);
        assert_eq!(slot.state(), SlotState::Running, "20 s old is fresh");
        env.advance(Duration::from_secs(11));
        slot.step(&env);
        assert_eq!(slot.state(), SlotState::KillAndRelaunch);
        assert_eq!(first.borrow().terms, 1);
        // Within the shutdown grace: no SIGKILL yet.
        env.advance(Duration::from_secs(1));
        slot.step(&env);
        assert_eq!(first.borrow().kills, 0);
        env.advance(Duration::from_secs(2));
        slot.step(&env);
        assert_eq!(first.borrow().kills, 1);
        assert_eq!(slot.state(), SlotState::KillAndRelaunch);
        slot.step(&env);
        assert_eq!(slot.state(), SlotState::WaitingForWorkerStart);
        assert_eq!(env.launches.borrow().len(), 2);
    }

    #[test]
    fn start_timeout_relaunches() {
        let env = FakeEnv::new();
        let mut slot = Slot::new(6700, timeouts());
        slot.set_desired(Some(la("t1", &[(1, 2)])));
        slot.step(&env);
        let first = env.last();
        env.advance(Duration::from_secs(120));
        slot.step(&env);
        assert_eq!(slot.state(), SlotState::WaitingForWorkerStart);
        env.advance(Duration::from_secs(1));
        slot.step(&env);
        assert_eq!(slot.state(), SlotState::KillAndRelaunch);
        assert_eq!(first.borrow().terms, 1);
        slot.step(&env);
        assert_eq!(slot.state(), SlotState::WaitingForWorkerStart);
        assert_eq!(slot.worker_id(), Some("w2"));
    }

    #[test]
    fn assignment_change_during_download_restarts_localization() {
        let env = FakeEnv::new();
        *env.localized.borrow_mut() = Localized::Pending;
        let mut slot = Slot::new(6700, timeouts());
        slot.set_desired(Some(la("t1", &[(1, 2)])));
        slot.step(&env);
        slot.set_desired(Some(la("t2", &[(1, 2)])));
        slot.step(&env);
        assert_eq!(slot.state(), SlotState::WaitingForBlobLocalization);
        assert_eq!(slot.current().unwrap().topology_id, "t2");
        slot.set_desired(None);
        slot.step(&env);
        assert_eq!(slot.state(), SlotState::Empty);
        assert!(env.launches.borrow().is_empty());
    }

    #[test]
    fn recovered_worker_with_stale_heartbeat_is_killed() {
        let env = FakeEnv::new();
        let sim = Rc::new(RefCell::new(WorkerSim {
            hb: Some(env.now_secs() - 100),
            obeys_term: true,
            ..WorkerSim::default()
        }));
        let w = FakeWorker {
            id: "old".into(),
            sim: sim.clone(),
        };
        let a = la("t1", &[(1, 2)]);
        let mut slot = Slot::recovered(6700, timeouts(), a.clone(), w, env.now());
        slot.set_desired(Some(a));
        slot.step(&env);
        assert_eq!(slot.state(), SlotState::KillAndRelaunch);
        assert_eq!(sim.borrow().terms, 1);
    }

    #[test]
    fn recovered_worker_with_fresh_heartbeat_keeps_running() {
        let env = FakeEnv::new();
        let sim = Rc::new(RefCell::new(WorkerSim {
            hb: Some(env.now_secs()),
            ..WorkerSim::default()
        }));
        let w = FakeWorker {
            id: "old".into(),
            sim: sim.clone(),
        };
        let a = la("t1", &[(1, 2)]);
        let mut slot = Slot::recovered(6700, timeouts(), a.clone(), w, env.now());
        slot.set_desired(Some(a));
        slot.step(&env);
        assert_eq!(slot.state(), SlotState::Running);
        assert_eq!(sim.borrow().terms, 0);
        assert!(env.launches.borrow().is_empty());
    }
}
