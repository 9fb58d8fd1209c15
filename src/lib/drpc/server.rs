//! The DRPC server's state, as Storm's `DRPC.java` keeps it, without any I/O: request ids, one FIFO queue
//! of not-yet-fetched requests per function, and the outstanding requests their clients are waiting on.
//!
//! * [`Drpc::execute`] registers a request under the next id (a per-server counter as a decimal string,
//!   starting at `"1"`), appends it to its function's queue and blocks until a result, a failure, the
//!   request timeout or shutdown.
//! * [`Drpc::fetch_request`] pops the oldest queued request of a function (`DRPCRequest{"", ""}` when there
//!   is none); [`Drpc::result`], [`Drpc::fail_request`] and [`Drpc::fail_request_v2`] answer it. Unknown
//!   ids (already answered, timed out, never issued) are ignored.
//! * Timeouts: each waiting client wakes at exactly `request_timeout` after it was registered and fails
//!   with `("Timed Out", SERVER_TIMEOUT)`; the request leaves its queue if it was not fetched yet. (Storm
//!   sweeps with a timer every `timeout/2`, so its effective timeout is anywhere in `[T, 1.5T]`; ours is
//!   `T`.)
//! * Every way out of `execute` (answer, timeout, shutdown, even a panic) removes the request from the
//!   registry and from its queue, so nothing leaks. A client that disconnects while waiting cannot be seen
//!   from here; its request is reclaimed by the timeout at the latest.
//! * [`Drpc::shutdown`] fails every outstanding request with `("Server Shutting Down", SERVER_SHUTDOWN)`,
//!   and so does every later `execute`.
//! * storm-rs addition: a function's queue of unfetched requests is bounded; past the bound `execute`
//!   fails at once with an `INTERNAL_ERROR` naming the function and the bound (Storm's queues are
//!   unbounded).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::thrift::{DRPCExceptionType, DRPCExecutionException, DRPCRequest};

/// What a waiting client gets back.
pub type Outcome = Result<String, DRPCExecutionException>;

/// Storm's message for `failRequest`.
pub const FAILED_MSG: &str = "Request failed";
/// Storm's message for a request that timed out.
pub const TIMED_OUT_MSG: &str = "Timed Out";
/// Storm's message for requests failed by shutdown.
pub const SHUTDOWN_MSG: &str = "Server Shutting Down";

/// A `DRPCExecutionException` of the given type.
pub fn exception(msg: impl Into<String>, type_: DRPCExceptionType) -> DRPCExecutionException {
    DRPCExecutionException {
        msg: msg.into(),
        type_: Some(type_),
    }
}

/// One outstanding request.
struct Request {
    func: String,
    args: String,
    fetched: bool,
    outcome: Option<Outcome>,
    /// Signalled when `outcome` is set.
    done: Arc<Condvar>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    requests: HashMap<String, Request>,
    /// Ids of requests not fetched yet, oldest first; a function without queued requests has no entry.
    queues: HashMap<String, VecDeque<String>>,
    shut_down: bool,
}

impl State {
    /// Removes `id` from the queue of `func`, dropping the queue when it becomes empty.
    fn unqueue(&mut self, func: &str, id: &str) {
        if let Some(q) = self.queues.get_mut(func) {
            q.retain(|i| i != id);
            if q.is_empty() {
                self.queues.remove(func);
            }
        }
    }

    /// Sets the outcome of `id` if it is outstanding and not yet answered; the first answer wins.
    fn complete(&mut self, id: &str, outcome: Outcome) -> bool {
        let Some(req) = self.requests.get_mut(id) else {
            return false;
        };
        if req.outcome.is_some() {
            return false;
        }
        req.outcome = Some(outcome);
        req.done.notify_all();
        let (func, fetched) = (req.func.clone(), req.fetched);
        if !fetched {
            self.unqueue(&func, id);
        }
        true
    }
}

/// The DRPC server core, shared by the Thrift and HTTP endpoints.
pub struct Drpc {
    state: Mutex<State>,
    request_timeout: Duration,
    max_queued_per_function: usize,
}

/// Removes a request from the registry and its queue when `execute` returns (or unwinds).
/// It must be declared before the state guard, so that it is dropped after the guard is released.
struct Registration<'a> {
    drpc: &'a Drpc,
    func: &'a str,
    id: Option<String>,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        if let Some(id) = &self.id {
            let mut st = self.drpc.lock();
            st.requests.remove(id);
            st.unqueue(self.func, id);
        }
    }
}

impl Drpc {
    /// A server whose requests time out after `request_timeout` and whose functions each queue at most
    /// `max_queued_per_function` unfetched requests (at least 1).
    pub fn new(request_timeout: Duration, max_queued_per_function: usize) -> Drpc {
        Drpc {
            state: Mutex::new(State {
                next_id: 1,
                ..State::default()
            }),
            request_timeout,
            max_queued_per_function: max_queued_per_function.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The request timeout.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// `DistributedRPC.execute`: queues `args` for `func` and blocks until the request is answered, fails,
    /// times out or the server shuts down.
    pub fn execute(&self, func: &str, args: &str) -> Outcome {
        let deadline = Instant::now() + self.request_timeout;
        let mut registration = Registration {
            drpc: self,
            func,
            id: None,
        };
        let mut st = self.lock();
        if st.shut_down {
            return Err(exception(SHUTDOWN_MSG, DRPCExceptionType::SERVER_SHUTDOWN));
        }
        let queued = st.queues.get(func).map_or(0, VecDeque::len);
        if queued >= self.max_queued_per_function {
            tracing::warn!(function = func, queued, "DRPC request refused: queue full");
            return Err(exception(
                format!(
                    "Too many requests for function '{func}': {queued} are waiting to be fetched by a \
                     topology (the limit is drpc.queue.size = {}); is the topology running?",
                    self.max_queued_per_function
                ),
                DRPCExceptionType::INTERNAL_ERROR,
            ));
        }
        let id = st.next_id.to_string();
        st.next_id += 1;
        let done = Arc::new(Condvar::new());
        st.requests.insert(
            id.clone(),
            Request {
                func: func.to_string(),
                args: args.to_string(),
                fetched: false,
                outcome: None,
                done: done.clone(),
            },
        );
        st.queues
            .entry(func.to_string())
            .or_default()
            .push_back(id.clone());
        registration.id = Some(id.clone());
        tracing::debug!(function = func, id = %id, "DRPC request queued");
        loop {
            let req = st
                .requests
                .get_mut(&id)
                .expect("a registered request stays until its registration is dropped");
            if let Some(outcome) = req.outcome.take() {
                return outcome;
            }
            let now = Instant::now();
            if now >= deadline {
                tracing::info!(function = func, id = %id, "DRPC request timed out");
                return Err(exception(TIMED_OUT_MSG, DRPCExceptionType::SERVER_TIMEOUT));
            }
            st = done
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        // `registration` (dropped after `st`) removes the request from the registry and the queue.
    }

    /// `DistributedRPCInvocations.fetchRequest`: the oldest queued request of `func`, or
    /// `DRPCRequest{"", ""}` when there is none.
    pub fn fetch_request(&self, func: &str) -> DRPCRequest {
        let mut st = self.lock();
        let Some(q) = st.queues.get_mut(func) else {
            return DRPCRequest::new(String::new(), String::new());
        };
        let id = q.pop_front();
        if q.is_empty() {
            st.queues.remove(func);
        }
        match id.and_then(|id| st.requests.get_mut(&id).map(|r| (id, r))) {
            Some((id, req)) => {
                req.fetched = true;
                DRPCRequest::new(req.args.clone(), id)
            }
            None => DRPCRequest::new(String::new(), String::new()),
        }
    }

    /// The function of outstanding request `id`.
    pub fn function_of(&self, id: &str) -> Option<String> {
        self.lock().requests.get(id).map(|r| r.func.clone())
    }

    /// `DistributedRPCInvocations.result`: answers request `id` (ignored when unknown).
    pub fn result(&self, id: &str, result: String) {
        if !self.lock().complete(id, Ok(result)) {
            tracing::debug!(id, "result for an unknown or answered DRPC request ignored");
        }
    }

    /// `DistributedRPCInvocations.failRequest`: fails request `id` with `("Request failed",
    /// FAILED_REQUEST)`.
    pub fn fail_request(&self, id: &str) {
        self.fail_request_v2(id, exception(FAILED_MSG, DRPCExceptionType::FAILED_REQUEST));
    }

    /// `DistributedRPCInvocations.failRequestV2`: fails request `id` with `e`.
    pub fn fail_request_v2(&self, id: &str, e: DRPCExecutionException) {
        if !self.lock().complete(id, Err(e)) {
            tracing::debug!(id, "failure of an unknown or answered DRPC request ignored");
        }
    }

    /// Fails every outstanding request with `("Server Shutting Down", SERVER_SHUTDOWN)`; later requests
    /// fail the same way at once. Idempotent.
    pub fn shutdown(&self) {
        let mut st = self.lock();
        st.shut_down = true;
        let ids: Vec<String> = st.requests.keys().cloned().collect();
        let n = ids.len();
        for id in ids {
            st.complete(
                &id,
                Err(exception(SHUTDOWN_MSG, DRPCExceptionType::SERVER_SHUTDOWN)),
            );
        }
        st.queues.clear();
        tracing::info!(failed = n, "DRPC server shutting down");
    }

    /// Whether [`Drpc::shutdown`] has been called.
    pub fn is_shut_down(&self) -> bool {
        self.lock().shut_down
    }

    /// Requests registered and not yet returned to their client.
    pub fn outstanding(&self) -> usize {
        self.lock().requests.len()
    }

    /// Requests of `func` waiting to be fetched.
    pub fn queued(&self, func: &str) -> usize {
        self.lock().queues.get(func).map_or(0, VecDeque::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread::JoinHandle;

    fn wait_for(what: &str, f: impl Fn() -> bool) {
        let start = Instant::now();
        while !f() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Starts `execute(func, args)` on a thread and waits until it is queued.
    fn start(drpc: &Arc<Drpc>, func: &str, args: &str) -> JoinHandle<Outcome> {
        let before = drpc.queued(func);
        let (d, f, a) = (drpc.clone(), func.to_string(), args.to_string());
        let h = std::thread::spawn(move || d.execute(&f, &a));
        wait_for("the request to be queued", || drpc.queued(func) > before);
        h
    }

    fn server() -> Arc<Drpc> {
        Arc::new(Drpc::new(Duration::from_secs(60), 16))
    }

    fn err_type(o: Outcome) -> (String, DRPCExceptionType) {
        let e = o.expect_err("a failure");
        (e.msg, e.type_.expect("a type"))
    }

    #[test]
    fn ids_count_from_one_and_queues_are_fifo_per_function() {
        let d = server();
        let a1 = start(&d, "a", "first");
        let b1 = start(&d, "b", "other");
        let a2 = start(&d, "a", "second");
        let r = d.fetch_request("a");
        assert_eq!(
            (r.func_args.as_str(), r.request_id.as_str()),
            ("first", "1")
        );
        let r = d.fetch_request("b");
        assert_eq!(
            (r.func_args.as_str(), r.request_id.as_str()),
            ("other", "2")
        );
        let r = d.fetch_request("a");
        assert_eq!(
            (r.func_args.as_str(), r.request_id.as_str()),
            ("second", "3")
        );
        d.result("3", "two".into());
        d.result("1", "one".into());
        d.result("2", "b!".into());
        assert_eq!(a1.join().unwrap().unwrap(), "one");
        assert_eq!(a2.join().unwrap().unwrap(), "two");
        assert_eq!(b1.join().unwrap().unwrap(), "b!");
        assert_eq!(d.outstanding(), 0);
    }

    #[test]
    fn fetch_of_nothing_is_the_empty_request() {
        let d = server();
        let r = d.fetch_request("none");
        assert_eq!((r.func_args.as_str(), r.request_id.as_str()), ("", ""));
        let h = start(&d, "f", "x");
        assert_eq!(d.fetch_request("f").request_id, "1");
        // Fetched once: it is no longer queued.
        assert_eq!(d.fetch_request("f").request_id, "");
        d.result("1", "ok".into());
        assert_eq!(h.join().unwrap().unwrap(), "ok");
    }

    #[test]
    fn unknown_and_repeated_answers_are_ignored() {
        let d = server();
        d.result("42", "nobody".into());
        d.fail_request("43");
        let h = start(&d, "f", "x");
        let id = d.fetch_request("f").request_id;
        d.result(&id, "first".into());
        d.result(&id, "second".into());
        d.fail_request(&id);
        assert_eq!(h.join().unwrap().unwrap(), "first");
        d.result(&id, "late".into());
        assert_eq!(d.outstanding(), 0);
    }

    #[test]
    fn fail_request_and_fail_request_v2() {
        let d = server();
        let h = start(&d, "f", "x");
        let id = d.fetch_request("f").request_id;
        d.fail_request(&id);
        assert_eq!(
            err_type(h.join().unwrap()),
            ("Request failed".into(), DRPCExceptionType::FAILED_REQUEST)
        );
        let h = start(&d, "f", "y");
        let id = d.fetch_request("f").request_id;
        d.fail_request_v2(&id, exception("custom", DRPCExceptionType::INTERNAL_ERROR));
        assert_eq!(
            err_type(h.join().unwrap()),
            ("custom".into(), DRPCExceptionType::INTERNAL_ERROR)
        );
        // A request can be answered before it is fetched; it then leaves its queue.
        let h = start(&d, "f", "z");
        d.fail_request("3");
        assert!(h.join().unwrap().is_err());
        assert_eq!(d.queued("f"), 0);
        assert_eq!(d.outstanding(), 0);
    }

    #[test]
    fn timeouts_fail_the_client_and_reclaim_the_request() {
        let d = Arc::new(Drpc::new(Duration::from_millis(300), 16));
        let started = Instant::now();
        // One never fetched, one fetched but never answered.
        let unfetched = start(&d, "f", "a");
        let fetched = start(&d, "g", "b");
        assert_eq!(d.fetch_request("g").request_id, "2");
        for h in [unfetched, fetched] {
            assert_eq!(
                err_type(h.join().unwrap()),
                ("Timed Out".into(), DRPCExceptionType::SERVER_TIMEOUT)
            );
        }
        assert!(started.elapsed() >= Duration::from_millis(300));
        // No leak: nothing registered, nothing queued, a late answer is ignored.
        assert_eq!(d.outstanding(), 0);
        assert_eq!(d.queued("f"), 0);
        assert_eq!(d.fetch_request("f").request_id, "");
        d.result("2", "late".into());
        assert_eq!(d.outstanding(), 0);
    }

    #[test]
    fn shutdown_fails_outstanding_and_later_requests() {
        let d = server();
        let waiting: Vec<_> = (0..5).map(|i| start(&d, "f", &i.to_string())).collect();
        assert_eq!(d.fetch_request("f").request_id, "1");
        d.shutdown();
        for h in waiting {
            assert_eq!(
                err_type(h.join().unwrap()),
                (
                    "Server Shutting Down".into(),
                    DRPCExceptionType::SERVER_SHUTDOWN
                )
            );
        }
        assert_eq!(
            err_type(d.execute("f", "late")).1,
            DRPCExceptionType::SERVER_SHUTDOWN
        );
        assert_eq!(d.outstanding(), 0);
        assert_eq!(d.fetch_request("f").request_id, "");
        assert!(d.is_shut_down());
    }

    #[test]
    fn a_full_queue_refuses_with_a_clear_error() {
        let d = Arc::new(Drpc::new(Duration::from_secs(60), 2));
        let a = start(&d, "f", "1");
        let b = start(&d, "f", "2");
        let (msg, t) = err_type(d.execute("f", "3"));
        assert_eq!(t, DRPCExceptionType::INTERNAL_ERROR);
        assert!(
            msg.contains("'f'") && msg.contains("drpc.queue.size = 2"),
            "{msg}"
        );
        // Other functions are not affected; fetching makes room again.
        let c = start(&d, "g", "x");
        assert_eq!(d.fetch_request("f").request_id, "1");
        let e = start(&d, "f", "4");
        d.shutdown();
        for h in [a, b, c, e] {
            assert!(h.join().unwrap().is_err());
        }
        assert_eq!(d.outstanding(), 0);
    }

    #[test]
    fn many_concurrent_clients_get_their_own_answers() {
        let d = Arc::new(Drpc::new(Duration::from_secs(60), 1000));
        let clients: Vec<_> = (0..100)
            .map(|i| {
                let d = d.clone();
                std::thread::spawn(move || (i, d.execute("f", &format!("n{i}"))))
            })
            .collect();
        let topo = {
            let d = d.clone();
            std::thread::spawn(move || {
                let mut answered = 0;
                while answered < 100 {
                    let r = d.fetch_request("f");
                    if r.request_id.is_empty() {
                        std::thread::yield_now();
                        continue;
                    }
                    d.result(&r.request_id, format!("{}!", r.func_args));
                    answered += 1;
                }
            })
        };
        for c in clients {
            let (i, out) = c.join().unwrap();
            assert_eq!(out.unwrap(), format!("n{i}!"));
        }
        topo.join().unwrap();
        assert_eq!(d.outstanding(), 0);
    }
}
