//! One multilang subprocess (Storm's `ShellProcess`): launching it in its working directory, the
//! handshake, and the three threads around it — a reader turning stdout frames into [`ShellMsg`]s (and
//! stamping liveness), a writer feeding stdin (priority messages first, then tuples from a bounded queue,
//! then a heartbeat tuple every second for bolts), and a stderr reader writing the child's lines into
//! the worker log. Dropping a [`ShellProcess`] kills the child and joins the threads.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, unbounded, Receiver, RecvTimeoutError, Sender};
use serde_json::Value as Json;

use super::codec::{frame, heartbeat_message, parse_pid, FrameError, FrameReader, ShellMsg};
use super::{ShellError, ShellErrorKind};
use crate::acker::EdgeIdGen;

/// How many parsed messages wait between the reader thread and the executor (backpressure on the
/// child's stdout beyond that).
const INCOMING_CAPACITY: usize = 1024;
/// Longest stderr line logged (longer lines are cut).
const MAX_STDERR_LINE: usize = 16 * 1024;
/// stderr lines kept for error messages.
const STDERR_TAIL: usize = 20;
/// How long an error about a child whose stdout ended waits for its exit and the end of its stderr.
const DYING_GRACE: Duration = Duration::from_millis(500);
/// Heartbeat tuples to a bolt subprocess.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);

/// What the reader thread hands over.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// The first message's text (the `{"pid": N}` reply).
    Handshake(String),
    Msg(ShellMsg),
    /// The stream is broken; nothing follows.
    Failed(FrameError),
}

/// Called by the reader thread when a message arrived and nobody was told yet.
pub(crate) type Notify = Arc<dyn Fn() + Send + Sync>;

/// How to start a subprocess.
pub(crate) struct Launch<'a> {
    pub component: &'a str,
    pub task: i32,
    pub command: &'a [String],
    pub cwd: &'a Path,
    pub pid_dir: &'a Path,
    /// The handshake message (`conf`, `pidDir`, `context`).
    pub handshake: Json,
    /// Bolts: capacity of the tuple queue (`topology.shellbolt.max.pending`); spouts: `None`.
    pub tuple_queue: Option<usize>,
    /// Bolts get heartbeat tuples.
    pub heartbeats: bool,
    /// How long to wait for the `{"pid": N}` reply.
    pub timeout: Duration,
    pub notify: Option<Notify>,
}

/// A running subprocess and its threads.
pub(crate) struct ShellProcess {
    pub component: String,
    pub task: i32,
    pub command: Vec<String>,
    pub pid: u32,
    child: Child,
    incoming: Option<Receiver<Incoming>>,
    priority: Option<Sender<Vec<u8>>>,
    tuples: Option<Sender<Vec<u8>>>,
    last_heard_ms: Arc<AtomicU64>,
    started: Instant,
    pub wake_pending: Arc<AtomicBool>,
    write_error: Arc<Mutex<Option<String>>>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    /// The stderr reader first (see [`ShellProcess::stderr_ended`]), then the stdout reader and the
    /// writer.
    threads: Vec<JoinHandle<()>>,
}

fn spawn_thread(
    name: String,
    f: impl FnOnce() + Send + 'static,
) -> Result<JoinHandle<()>, std::io::Error> {
    std::thread::Builder::new().name(name).spawn(f)
}

impl ShellProcess {
    fn error(&self, kind: ShellErrorKind) -> Box<ShellError> {
        Box::new(ShellError {
            component: self.component.clone(),
            task: self.task,
            command: self.command.clone(),
            pid: Some(self.pid),
            exit: None,
            stderr: self.stderr_tail(),
            kind,
        })
    }

    /// Starts the subprocess, sends the handshake and waits for its pid.
    pub fn launch(launch: Launch<'_>) -> Result<ShellProcess, Box<ShellError>> {
        let early = |kind: ShellErrorKind| {
            Box::new(ShellError {
                component: launch.component.to_owned(),
                task: launch.task,
                command: launch.command.to_vec(),
                pid: None,
                exit: None,
                stderr: Vec::new(),
                kind,
            })
        };
        let Some((program, args)) = launch.command.split_first() else {
            return Err(early(ShellErrorKind::Spawn {
                dir: launch.cwd.to_path_buf(),
                message: "the command is empty".into(),
            }));
        };
        std::fs::create_dir_all(launch.pid_dir).map_err(|e| {
            early(ShellErrorKind::Spawn {
                dir: launch.cwd.to_path_buf(),
                message: format!("cannot create pid dir {}: {e}", launch.pid_dir.display()),
            })
        })?;
        let mut child = Command::new(program)
            .args(args)
            .current_dir(launch.cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                early(ShellErrorKind::Spawn {
                    dir: launch.cwd.to_path_buf(),
                    message: e.to_string(),
                })
            })?;
        let os_pid = child.id();
        let (stdin, stdout, stderr) =
            match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
                (Some(i), Some(o), Some(e)) => (i, o, e),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(early(ShellErrorKind::Spawn {
                        dir: launch.cwd.to_path_buf(),
                        message: "no pipes to the child".into(),
                    }));
                }
            };
        let started = Instant::now();
        let last_heard_ms = Arc::new(AtomicU64::new(0));
        let wake_pending = Arc::new(AtomicBool::new(false));
        let write_error = Arc::new(Mutex::new(None));
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let (in_tx, in_rx) = bounded::<Incoming>(INCOMING_CAPACITY);
        let (prio_tx, prio_rx) = unbounded::<Vec<u8>>();
        let (tuple_tx, tuple_rx) = bounded::<Vec<u8>>(launch.tuple_queue.unwrap_or(1).max(1));
        let mut process = ShellProcess {
            component: launch.component.to_owned(),
            task: launch.task,
            command: launch.command.to_vec(),
            pid: os_pid,
            child,
            incoming: Some(in_rx),
            priority: Some(prio_tx),
            tuples: launch.tuple_queue.map(|_| tuple_tx),
            last_heard_ms: Arc::clone(&last_heard_ms),
            started,
            wake_pending: Arc::clone(&wake_pending),
            write_error: Arc::clone(&write_error),
            stderr_tail: Arc::clone(&stderr_tail),
            threads: Vec::new(),
        };
        let tag = format!("{}-{}", launch.component, launch.task);
        let thread_error = |e: std::io::Error| ShellErrorKind::Spawn {
            dir: launch.cwd.to_path_buf(),
            message: format!("cannot start a thread: {e}"),
        };

        // stderr → the worker log.
        {
            let component = launch.component.to_owned();
            let task = launch.task;
            let tail = Arc::clone(&stderr_tail);
            let h = spawn_thread(format!("shell-stderr-{tag}"), move || {
                stderr_loop(stderr, &component, task, os_pid, &tail)
            })
            .map_err(|e| process.error(thread_error(e)))?;
            process.threads.push(h);
        }
        // stdout → parsed messages.
        {
            let notify = launch.notify.clone();
            let heard = Arc::clone(&last_heard_ms);
            let wake = Arc::clone(&wake_pending);
            let h = spawn_thread(format!("shell-reader-{tag}"), move || {
                reader_loop(stdout, in_tx, heard, started, wake, notify)
            })
            .map_err(|e| process.error(thread_error(e)))?;
            process.threads.push(h);
        }
        // The handshake is the writer's first message.
        let _ = process
            .priority
            .as_ref()
            .map(|p| p.send(frame(&launch.handshake)));
        {
            let werr = Arc::clone(&write_error);
            let heartbeats = launch.heartbeats;
            let tuples = launch.tuple_queue.map(|_| tuple_rx);
            let h = spawn_thread(format!("shell-writer-{tag}"), move || {
                writer_loop(stdin, prio_rx, tuples, heartbeats, werr)
            })
            .map_err(|e| process.error(thread_error(e)))?;
            process.threads.push(h);
        }

        // The first message from the child is {"pid": N}.
        let reply = match process.incoming().recv_timeout(launch.timeout) {
            Ok(Incoming::Handshake(text)) => Ok(text),
            Ok(Incoming::Msg(m)) => Err(ShellErrorKind::Handshake(format!(
                "expected {{\"pid\": N}}, got {m:?}"
            ))),
            Ok(Incoming::Failed(e)) => Err(ShellErrorKind::Frame(e)),
            Err(RecvTimeoutError::Timeout) => Err(ShellErrorKind::Timeout {
                secs: launch.timeout.as_secs(),
                waiting_for: "the handshake reply {\"pid\": N}",
            }),
            Err(RecvTimeoutError::Disconnected) => Err(ShellErrorKind::Frame(FrameError::Eof {
                partial: String::new(),
            })),
        };
        let pid = match reply.and_then(|text| parse_pid(&text).map_err(ShellErrorKind::Frame)) {
            Ok(pid) => pid,
            Err(kind) => return Err(process.fail(kind)),
        };
        process.pid = pid;
        tracing::info!(
            component = launch.component,
            task = launch.task,
            pid,
            command = ?launch.command,
            dir = %launch.cwd.display(),
            "Launched subprocess with pid {pid}"
        );
        Ok(process)
    }

    /// The message channel from the reader thread.
    pub fn incoming(&self) -> &Receiver<Incoming> {
        self.incoming.as_ref().expect("incoming taken only on drop")
    }

    /// Queues a message ahead of tuples (task-id lists, spout commands).
    pub fn send_priority(&self, message: &Json) -> Result<(), Box<ShellError>> {
        match self.priority.as_ref().map(|p| p.send(frame(message))) {
            Some(Ok(())) => Ok(()),
            _ => Err(self.error(ShellErrorKind::Write(self.write_error_text()))),
        }
    }

    /// The bounded tuple queue (bolts).
    pub fn tuple_sender(&self) -> Option<&Sender<Vec<u8>>> {
        self.tuples.as_ref()
    }

    /// Time since the last message from the child (or since launch when none came yet).
    pub fn silence(&self) -> Duration {
        let heard = self.last_heard_ms.load(Ordering::Acquire);
        let now = self.started.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(heard))
    }

    pub fn write_error_text(&self) -> String {
        self.write_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_else(|| "the writer to the subprocess stopped".into())
    }

    pub fn has_write_error(&self) -> bool {
        self.write_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    pub fn stderr_tail(&self) -> Vec<String> {
        self.stderr_tail
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// The child's exit status if it has exited.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// An error about this process, with its exit status when it has exited.
    ///
    /// When the child's stdout ended or its stdin broke, the child is usually dying: give it a
    /// moment (at most [`DYING_GRACE`]) to be reaped so the exit code can be named, and for its
    /// stderr to be read to the end so the error quotes what it said last (a Python traceback
    /// arrives on stderr at about the time stdout closes, and the stderr thread may not have read
    /// it yet).
    pub fn fail(&mut self, kind: ShellErrorKind) -> Box<ShellError> {
        let mut status = self.exit_status();
        if matches!(
            kind,
            ShellErrorKind::Frame(FrameError::Eof { .. }) | ShellErrorKind::Write(_)
        ) {
            let until = Instant::now() + DYING_GRACE;
            while (status.is_none() || !self.stderr_ended()) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
                status = status.or_else(|| self.exit_status());
            }
        }
        let mut e = self.error(kind);
        e.exit = status.map(|s| s.to_string());
        e
    }

    /// Whether the stderr reader (the first thread started) has read the child's stderr to its end.
    fn stderr_ended(&self) -> bool {
        self.threads.first().is_none_or(JoinHandle::is_finished)
    }

    /// Kills the child (idempotent).
    pub fn kill(&mut self) {
        if self.exit_status().is_none() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for ShellProcess {
    fn drop(&mut self) {
        self.priority.take();
        self.tuples.take();
        self.kill();
        self.incoming.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn reader_loop(
    stdout: impl Read,
    tx: Sender<Incoming>,
    heard: Arc<AtomicU64>,
    started: Instant,
    wake: Arc<AtomicBool>,
    notify: Option<Notify>,
) {
    let mut reader = FrameReader::new(BufReader::new(stdout));
    let mut first = true;
    loop {
        let item = match reader.read_message() {
            Ok(text) => {
                heard.store(started.elapsed().as_millis() as u64, Ordering::Release);
                if first {
                    first = false;
                    Incoming::Handshake(text)
                } else {
                    match ShellMsg::parse(&text) {
                        Ok(m) => Incoming::Msg(m),
                        Err(e) => Incoming::Failed(e),
                    }
                }
            }
            Err(e) => Incoming::Failed(e),
        };
        let last = matches!(item, Incoming::Failed(_));
        if tx.send(item).is_err() {
            return;
        }
        if !wake.swap(true, Ordering::AcqRel) {
            if let Some(n) = &notify {
                n();
            }
        }
        if last {
            return;
        }
    }
}

fn writer_loop(
    mut stdin: ChildStdin,
    priority: Receiver<Vec<u8>>,
    tuples: Option<Receiver<Vec<u8>>>,
    heartbeats: bool,
    error: Arc<Mutex<Option<String>>>,
) {
    let mut ids = EdgeIdGen::from_entropy();
    let mut next_heartbeat = Instant::now() + HEARTBEAT_INTERVAL;
    let never = crossbeam_channel::never();
    let tuples = tuples.unwrap_or(never);
    let mut write = |bytes: &[u8]| -> bool {
        match stdin.write_all(bytes).and_then(|()| stdin.flush()) {
            Ok(()) => true,
            Err(e) => {
                *error.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(format!("cannot write to the subprocess: {e}"));
                false
            }
        }
    };
    loop {
        if let Ok(m) = priority.try_recv() {
            if !write(&m) {
                return;
            }
            continue;
        }
        if heartbeats && Instant::now() >= next_heartbeat {
            next_heartbeat = Instant::now() + HEARTBEAT_INTERVAL;
            let id = ids.next_id().to_string();
            if !write(&frame(&heartbeat_message(&id))) {
                return;
            }
            continue;
        }
        let timeout = if heartbeats {
            next_heartbeat.saturating_duration_since(Instant::now())
        } else {
            Duration::from_secs(3600)
        };
        crossbeam_channel::select! {
            recv(priority) -> m => match m {
                Ok(m) => if !write(&m) { return; },
                Err(_) => return,
            },
            recv(tuples) -> m => match m {
                Ok(m) => if !write(&m) { return; },
                Err(_) => return,
            },
            default(timeout) => {}
        }
    }
}

fn stderr_loop(
    stderr: impl Read,
    component: &str,
    task: i32,
    pid: u32,
    tail: &Mutex<VecDeque<String>>,
) {
    let mut reader = BufReader::new(stderr);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        // A bounded line read: take up to the limit, then skip to the newline.
        let mut limited = (&mut reader).take(MAX_STDERR_LINE as u64);
        match limited.read_until(b'\n', &mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(_) => return,
        }
        if buf.last() != Some(&b'\n') && buf.len() >= MAX_STDERR_LINE {
            let mut skip = Vec::new();
            loop {
                skip.clear();
                match (&mut reader)
                    .take(MAX_STDERR_LINE as u64)
                    .read_until(b'\n', &mut skip)
                {
                    Ok(0) | Err(_) => break,
                    Ok(_) if skip.last() == Some(&b'\n') => break,
                    Ok(_) => {}
                }
            }
            buf.extend_from_slice(b" [...]");
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end_matches(['\n', '\r']);
        tracing::info!(target: "storm::multilang::stderr", component, task, pid, "{line}");
        let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
        if t.len() == STDERR_TAIL {
            t.pop_front();
        }
        t.push_back(line.to_owned());
    }
}

/// A fresh temporary pid directory (local mode), removed when dropped.
#[derive(Debug)]
pub(crate) struct TempPidDir(pub PathBuf);

impl TempPidDir {
    pub fn new() -> TempPidDir {
        TempPidDir(std::env::temp_dir().join(format!(
            "storm-rs-multilang-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        )))
    }
}

impl Drop for TempPidDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
