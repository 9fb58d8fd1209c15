//! [`ShellSpout`]: a spout run by a multilang subprocess (Storm's `ShellSpout`).
//!
//! Every spout call is one synchronous exchange: send `{"command": "next"|"ack"|"fail"|"activate"|
//! "deactivate", "id": …}`, then handle `emit`/`log`/`error`/`metrics` (answering each non-direct emit
//! with its task ids unless `need_task_ids` is false) until `sync`. Waiting longer than the subprocess
//! timeout without any message kills the component; any other command is a protocol error (Storm's
//! "Unknown command received").

use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use super::codec::{
    context_json, handshake, json_to_value, spout_command, value_to_json, ShellMsg,
};
use super::process::{Incoming, Launch, ShellProcess, TempPidDir};
use super::{
    command_of, declare_outputs, halt, log_message, push_output, OutputDecl, Settings, ShellError,
    ShellErrorKind,
};
use crate::api::{
    ComponentError, ConfMap, MessageId, OutputFieldsDeclarer, Spout, SpoutOutputCollector,
    TopologyContext,
};
use crate::thrift::ShellComponent;
use crate::topology::system::DEFAULT_STREAM_ID;

/// A spout whose tuples come from a subprocess: `ShellSpout::new(["python3", "spout.py"]).declare(["sentence"])`.
#[derive(Serialize, Deserialize)]
pub struct ShellSpout {
    command: Vec<String>,
    outputs: Vec<OutputDecl>,
    #[serde(skip)]
    run: Option<SpoutRun>,
    #[serde(skip)]
    dead: Option<String>,
}

struct SpoutRun {
    process: ShellProcess,
    timeout: Duration,
    fatal: bool,
    _pid_dir: Option<TempPidDir>,
}

impl ShellSpout {
    /// A spout running `command` (`[execution_command, script]`).
    pub fn new<I, S>(command: I) -> ShellSpout
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ShellSpout {
            command: command.into_iter().map(Into::into).collect(),
            outputs: Vec::new(),
            run: None,
            dead: None,
        }
    }

    /// The spout of a Thrift `ShellComponent`.
    pub fn from_component(shell: &ShellComponent) -> ShellSpout {
        ShellSpout::new(command_of(shell))
    }

    pub fn command(&self) -> &[String] {
        &self.command
    }

    /// Declares the default stream's fields.
    pub fn declare<I, S>(self, fields: I) -> ShellSpout
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.declare_stream(DEFAULT_STREAM_ID, fields)
    }

    pub fn declare_stream<I, S>(mut self, stream: &str, fields: I) -> ShellSpout
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        push_output(&mut self.outputs, stream, false, fields);
        self
    }

    pub fn declare_direct_stream<I, S>(mut self, stream: &str, fields: I) -> ShellSpout
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        push_output(&mut self.outputs, stream, true, fields);
        self
    }

    pub fn pid(&self) -> Option<u32> {
        self.run.as_ref().map(|r| r.process.pid)
    }

    fn die_with(
        &mut self,
        error: Box<ShellError>,
        collector: &mut SpoutOutputCollector<'_>,
        fatal: bool,
    ) -> ComponentError {
        let text = format!("ShellSpout died: {error}");
        collector.report_error(&text);
        if let Some(run) = self.run.as_mut() {
            run.process.kill();
        }
        halt("ShellSpout", &error, fatal);
        self.run = None;
        self.dead = Some(text);
        Box::new(error)
    }

    /// One exchange: the command, then messages until `sync`.
    fn exchange(
        &mut self,
        command: &str,
        id: Json,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        if let Some(d) = &self.dead {
            return Err(d.clone().into());
        }
        let Some(run) = self.run.as_mut() else {
            return Ok(());
        };
        let fatal = run.fatal;
        match run.exchange(command, id, collector) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.die_with(e, collector, fatal)),
        }
    }
}

impl SpoutRun {
    fn exchange(
        &mut self,
        command: &str,
        id: Json,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), Box<ShellError>> {
        self.process.send_priority(&spout_command(command, id))?;
        let sent = Instant::now();
        let (component, task, pid) = (
            self.process.component.clone(),
            self.process.task,
            self.process.pid,
        );
        loop {
            let quiet = self.process.silence().min(sent.elapsed());
            let left = self.timeout.saturating_sub(quiet);
            let incoming = match self
                .process
                .incoming()
                .recv_timeout(left.max(Duration::from_millis(1)))
            {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => {
                    if self.process.silence().min(sent.elapsed()) > self.timeout {
                        return Err(self.process.fail(ShellErrorKind::Timeout {
                            secs: self.timeout.as_secs(),
                            waiting_for: "sync",
                        }));
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(self
                        .process
                        .fail(ShellErrorKind::Frame(super::FrameError::Eof {
                            partial: String::new(),
                        })))
                }
            };
            let msg = match incoming {
                Incoming::Msg(m) => m,
                Incoming::Failed(e) => return Err(self.process.fail(ShellErrorKind::Frame(e))),
                Incoming::Handshake(text) => {
                    return Err(self.process.fail(ShellErrorKind::Protocol(format!(
                        "unexpected second handshake reply: {text}"
                    ))))
                }
            };
            match msg {
                ShellMsg::Sync => return Ok(()),
                ShellMsg::Emit(e) => {
                    let values = e.tuple.iter().map(json_to_value).collect();
                    let message_id: Option<MessageId> = e.id.as_ref().map(json_to_value);
                    let result = match e.task {
                        Some(target) => collector
                            .emit_direct(target, &e.stream, values, message_id)
                            .map(|_| None),
                        None => collector
                            .emit_stream(&e.stream, values, message_id)
                            .map(Some),
                    };
                    match result {
                        Ok(Some(tasks)) if e.need_task_ids => {
                            self.process.send_priority(&json!(tasks))?;
                        }
                        Ok(_) => {}
                        Err(err) => {
                            return Err(self.process.fail(ShellErrorKind::Protocol(format!(
                                "emit on stream {}: {err}",
                                e.stream
                            ))))
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
                ShellMsg::Ack { .. } => {
                    return Err(self.process.fail(ShellErrorKind::Protocol(
                        "Unknown command received: ack".into(),
                    )))
                }
                ShellMsg::Fail { .. } => {
                    return Err(self.process.fail(ShellErrorKind::Protocol(
                        "Unknown command received: fail".into(),
                    )))
                }
                ShellMsg::Other { command } => {
                    return Err(self.process.fail(ShellErrorKind::Protocol(format!(
                        "Unknown command received: {command}"
                    ))))
                }
            }
        }
    }
}

#[typetag::serde(name = "storm::ShellSpout")]
impl Spout for ShellSpout {
    fn open(
        &mut self,
        conf: &ConfMap,
        context: &TopologyContext,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let settings = Settings::new(conf, context.topology_id());
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
            tuple_queue: None,
            heartbeats: false,
            timeout: settings.timeout,
            notify: None,
        });
        match launched {
            Ok(process) => {
                self.run = Some(SpoutRun {
                    process,
                    timeout: settings.timeout,
                    fatal: settings.fatal,
                    _pid_dir: settings.temp_pid_dir,
                });
                self.dead = None;
                Ok(())
            }
            Err(e) => Err(self.die_with(e, collector, settings.fatal)),
        }
    }

    fn next_tuple(
        &mut self,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        self.exchange("next", json!(""), collector)
    }

    fn ack(
        &mut self,
        message_id: MessageId,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        self.exchange("ack", value_to_json(&message_id), collector)
    }

    fn fail(
        &mut self,
        message_id: MessageId,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        self.exchange("fail", value_to_json(&message_id), collector)
    }

    fn activate(&mut self, collector: &mut SpoutOutputCollector<'_>) -> Result<(), ComponentError> {
        self.exchange("activate", json!(""), collector)
    }

    fn deactivate(
        &mut self,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        self.exchange("deactivate", json!(""), collector)
    }

    fn close(&mut self) {
        self.run = None;
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        declare_outputs(&self.outputs, declarer);
    }

    fn shell_command(&self) -> Option<&[String]> {
        Some(&self.command)
    }
}
