//! [`ShellBolt`]: a bolt run by a multilang subprocess (Storm's `ShellBolt`).
//!
//! `execute` gives each input a random 64-bit id, keeps `id → tuple`, and queues the tuple for the
//! writer thread (at most `topology.shellbolt.max.pending` waiting; a full queue blocks `execute` while
//! the subprocess's messages keep being handled). The subprocess's `emit`/`ack`/`fail`/`log`/`error`/
//! `metrics`/`sync` are handled on the executor thread: during `execute`, and in `poll`, which the
//! executor calls when the reader thread wakes it and at least every 100 ms when idle. Heartbeat tuples
//! go out every second; any message counts as liveness.

use std::collections::HashMap;
use std::time::Duration;

use crossbeam_channel::TrySendError;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::codec::{
    context_json, frame, handshake, id_string, json_to_value, tuple_message, ShellMsg,
};
use super::process::{Incoming, Launch, ShellProcess, TempPidDir};
use super::{
    command_of, declare_outputs, halt, log_message, push_output, OutputDecl, Settings, ShellError,
    ShellErrorKind,
};
use crate::acker::EdgeIdGen;
use crate::api::{
    Bolt, ComponentError, ConfMap, OutputCollector, OutputFieldsDeclarer, TopologyContext, Tuple,
};
use crate::thrift::ShellComponent;
use crate::topology::system::DEFAULT_STREAM_ID;

/// Most subprocess messages handled per `poll` before the executor gets its loop back.
const MAX_PER_POLL: usize = 4096;

/// A bolt whose work is done by a subprocess: `ShellBolt::new(["python3", "split.py"]).declare(["word"])`.
///
/// In a topology it is Storm's `ComponentObject::Shell` with its declared streams in the component's
/// `ComponentCommon`, so any worker (and any Storm client) sees Storm's form.
#[derive(Serialize, Deserialize)]
pub struct ShellBolt {
    command: Vec<String>,
    outputs: Vec<OutputDecl>,
    #[serde(skip)]
    run: Option<BoltRun>,
    #[serde(skip)]
    dead: Option<String>,
}

struct BoltRun {
    process: ShellProcess,
    inputs: HashMap<String, Tuple>,
    ids: EdgeIdGen,
    timeout: Duration,
    fatal: bool,
    notify: Option<crate::api::Waker>,
    _pid_dir: Option<TempPidDir>,
}

impl ShellBolt {
    /// A bolt running `command` (`[execution_command, script]`, e.g. `["python3", "split.py"]`).
    pub fn new<I, S>(command: I) -> ShellBolt
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ShellBolt {
            command: command.into_iter().map(Into::into).collect(),
            outputs: Vec::new(),
            run: None,
            dead: None,
        }
    }

    /// The bolt of a Thrift `ShellComponent` (what a worker runs for `ComponentObject::Shell`).
    pub fn from_component(shell: &ShellComponent) -> ShellBolt {
        ShellBolt::new(command_of(shell))
    }

    pub fn command(&self) -> &[String] {
        &self.command
    }

    /// Declares the default stream's fields.
    pub fn declare<I, S>(self, fields: I) -> ShellBolt
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.declare_stream(DEFAULT_STREAM_ID, fields)
    }

    /// Declares `stream` with `fields`.
    pub fn declare_stream<I, S>(mut self, stream: &str, fields: I) -> ShellBolt
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        push_output(&mut self.outputs, stream, false, fields);
        self
    }

    /// Declares `stream` as a direct stream.
    pub fn declare_direct_stream<I, S>(mut self, stream: &str, fields: I) -> ShellBolt
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        push_output(&mut self.outputs, stream, true, fields);
        self
    }

    /// The pid of the running subprocess.
    pub fn pid(&self) -> Option<u32> {
        self.run.as_ref().map(|r| r.process.pid)
    }

    /// Dies as Storm's `ShellBolt.die`: logs, reports, kills the child; exits the worker in a cluster.
    fn die(
        &mut self,
        error: Box<ShellError>,
        collector: &mut OutputCollector<'_>,
    ) -> ComponentError {
        let fatal = self.run.as_ref().is_some_and(|r| r.fatal);
        self.die_with(error, collector, fatal)
    }

    fn die_with(
        &mut self,
        error: Box<ShellError>,
        collector: &mut OutputCollector<'_>,
        fatal: bool,
    ) -> ComponentError {
        let text = format!("ShellBolt died: {error}");
        collector.report_error(&text);
        if let Some(run) = self.run.as_mut() {
            run.process.kill();
        }
        halt("ShellBolt", &error, fatal);
        self.run = None;
        self.dead = Some(text);
        Box::new(error)
    }

    fn dead_error(&self) -> Option<ComponentError> {
        self.dead.as_ref().map(|d| d.clone().into())
    }

    /// Handles what the subprocess sent so far (at most `MAX_PER_POLL`) and checks its liveness.
    fn drain(&mut self, collector: &mut OutputCollector<'_>) -> Result<(), Box<ShellError>> {
        let Some(run) = self.run.as_mut() else {
            return Ok(());
        };
        run.process
            .wake_pending
            .store(false, std::sync::atomic::Ordering::Release);
        let mut handled = 0;
        while handled < MAX_PER_POLL {
            match run.process.incoming().try_recv() {
                Ok(m) => {
                    run.handle(m, collector)?;
                    handled += 1;
                }
                Err(_) => break,
            }
        }
        if handled == MAX_PER_POLL {
            if let Some(n) = &run.notify {
                n();
            }
        }
        run.check_alive()
    }

    fn send_tuple(
        &mut self,
        input: Tuple,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), Box<ShellError>> {
        let Some(run) = self.run.as_mut() else {
            return Ok(());
        };
        let id = loop {
            let id = run.ids.next_id().to_string();
            if !run.inputs.contains_key(&id) {
                break id;
            }
        };
        let comp = input.source_component().to_owned();
        let message = frame(&tuple_message(
            &id,
            Some(&comp),
            input.source_stream(),
            input.source_task(),
            input.values(),
        ));
        run.inputs.insert(id, input);
        let Some(tx) = run.process.tuple_sender().cloned() else {
            return Ok(());
        };
        let mut pending = message;
        loop {
            match tx.try_send(pending) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Disconnected(_)) => {
                    let text = run.process.write_error_text();
                    return Err(run.process.fail(ShellErrorKind::Write(text)));
                }
                Err(TrySendError::Full(m)) => pending = m,
            }
            // Full: topology.shellbolt.max.pending tuples wait. Keep handling the child's messages
            // (it may be blocked writing them) until there is room.
            let incoming = run.process.incoming().clone();
            crossbeam_channel::select! {
                recv(incoming) -> m => match m {
                    Ok(m) => run.handle(m, collector)?,
                    Err(_) => {
                        return Err(run.process.fail(ShellErrorKind::Frame(
                            super::FrameError::Eof { partial: String::new() },
                        )))
                    }
                },
                default(Duration::from_millis(20)) => {}
            }
            run.check_alive()?;
        }
    }
}

impl BoltRun {
    fn check_alive(&mut self) -> Result<(), Box<ShellError>> {
        if self.process.silence() > self.timeout {
            return Err(self.process.fail(ShellErrorKind::Timeout {
                secs: self.timeout.as_secs(),
                waiting_for:
                    "any message from the subprocess (heartbeat tuples are answered with sync)",
            }));
        }
        if self.process.has_write_error() {
            let text = self.process.write_error_text();
            return Err(self.process.fail(ShellErrorKind::Write(text)));
        }
        Ok(())
    }

    fn protocol(&mut self, message: String) -> Box<ShellError> {
        self.process.fail(ShellErrorKind::Protocol(message))
    }

    fn handle(
        &mut self,
        incoming: Incoming,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), Box<ShellError>> {
        let msg = match incoming {
            Incoming::Msg(m) => m,
            Incoming::Failed(e) => return Err(self.process.fail(ShellErrorKind::Frame(e))),
            Incoming::Handshake(text) => {
                return Err(self.protocol(format!("unexpected second handshake reply: {text}")))
            }
        };
        let (component, task, pid) = (
            self.process.component.clone(),
            self.process.task,
            self.process.pid,
        );
        match msg {
            ShellMsg::Emit(e) => {
                let mut anchors = Vec::with_capacity(e.anchors.len());
                for a in &e.anchors {
                    match self.inputs.get(a) {
                        Some(t) => anchors.push(t.clone()),
                        None => {
                            return Err(self.protocol(format!("Anchored onto {a} after ack/fail")))
                        }
                    }
                }
                let refs: Vec<&Tuple> = anchors.iter().collect();
                let values = e.tuple.iter().map(json_to_value).collect();
                match e.task {
                    Some(target) => {
                        if let Err(err) = collector.emit_direct(target, &e.stream, &refs, values) {
                            return Err(self.protocol(format!(
                                "emit to task {target} on stream {}: {err}",
                                e.stream
                            )));
                        }
                    }
                    None => match collector.emit_stream(&e.stream, &refs, values) {
                        Ok(tasks) => {
                            if e.need_task_ids {
                                self.process.send_priority(&json!(tasks))?;
                            }
                        }
                        Err(err) => {
                            return Err(self.protocol(format!("emit on stream {}: {err}", e.stream)))
                        }
                    },
                }
            }
            ShellMsg::Ack { id } => {
                let id = id_string(&id);
                match self.inputs.remove(&id) {
                    Some(t) => collector.ack(&t),
                    None => {
                        return Err(self.protocol(format!(
                            "Acked a non-existent or already acked/failed id: {id}"
                        )))
                    }
                }
            }
            ShellMsg::Fail { id } => {
                let id = id_string(&id);
                match self.inputs.remove(&id) {
                    Some(t) => collector.fail(&t),
                    None => {
                        return Err(self.protocol(format!(
                            "Failed a non-existent or already acked/failed id: {id}"
                        )))
                    }
                }
            }
            ShellMsg::Log { msg, level } => log_message(&component, task, pid, level, &msg),
            ShellMsg::Error { msg } => {
                tracing::error!(target: "storm::multilang", component, task, pid, "Shell Process Exception: {msg}");
                collector.report_error(format!("Shell Process Exception: {msg}"));
            }
            ShellMsg::Metrics { name, params } => {
                tracing::debug!(target: "storm::multilang", component, task, pid, metric = %name, "metrics: {params}");
            }
            ShellMsg::Sync => {}
            ShellMsg::Other { command } => {
                tracing::debug!(target: "storm::multilang", component, task, pid, "ignoring unknown command {command:?}");
            }
        }
        Ok(())
    }
}

#[typetag::serde(name = "storm::ShellBolt")]
impl Bolt for ShellBolt {
    fn prepare(
        &mut self,
        conf: &ConfMap,
        context: &TopologyContext,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let settings = Settings::new(conf, context.topology_id());
        let notify = collector.waker();
        let launched = ShellProcess::launch(Launch {
            component: context.this_component_id(),
            task: context.this_task_id(),
            command: &self.command,
            cwd: &settings.cwd,
            pid_dir: &settings.pid_dir,
            handshake: handshake(
                conf,
                &settings.pid_dir.to_string_lossy(),
                context_json(context),
            ),
            tuple_queue: Some(settings.max_pending),
            heartbeats: true,
            timeout: settings.timeout,
            notify: notify.clone(),
        });
        match launched {
            Ok(process) => {
                self.run = Some(BoltRun {
                    process,
                    inputs: HashMap::new(),
                    ids: EdgeIdGen::from_entropy(),
                    timeout: settings.timeout,
                    fatal: settings.fatal,
                    notify,
                    _pid_dir: settings.temp_pid_dir,
                });
                self.dead = None;
                Ok(())
            }
            Err(e) => Err(self.die_with(e, collector, settings.fatal)),
        }
    }

    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        if let Some(e) = self.dead_error() {
            return Err(e);
        }
        let result = self
            .drain(collector)
            .and_then(|()| self.send_tuple(input, collector))
            .and_then(|()| self.drain(collector));
        result.map_err(|e| self.die(e, collector))
    }

    fn poll(&mut self, collector: &mut OutputCollector<'_>) -> Result<(), ComponentError> {
        if let Some(e) = self.dead_error() {
            return Err(e);
        }
        self.drain(collector).map_err(|e| self.die(e, collector))
    }

    fn cleanup(&mut self) {
        self.run = None;
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declare_outputs(&self.outputs, declarer);
    }

    fn shell_command(&self) -> Option<&[String]> {
        Some(&self.command)
    }
}
