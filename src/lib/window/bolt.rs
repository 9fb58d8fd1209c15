//! The windowed bolt API: [`WindowedBolt`] (Storm's `IWindowedBolt`), [`TupleWindow`], the window
//! builder methods of Storm's `BaseWindowedBolt` ([`BaseWindowedBolt`], [`Count`], [`Duration`]),
//! and [`WindowedBoltExecutor`], the ordinary [`Bolt`] that runs a windowed bolt (Storm's
//! `WindowedBoltExecutor`).
//!
//! The executor keeps the tuples in a [`WindowManager`], acks each tuple when it leaves the window
//! (never before), anchors whatever the bolt emits while evaluating a window to every tuple of that
//! window, and sends late tuples (event-time windows) to the late-tuple stream. Clock-driven
//! windows and watermarks run on the executor's thread: a small timer thread per task only wakes
//! the executor (the bolt's `poll`), and every `execute` also looks at the clock.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::config::{
    self, Span, WindowConfig, LATE_TUPLE_FIELD, LATE_TUPLE_STREAM, SLIDING_INTERVAL_COUNT,
    SLIDING_INTERVAL_DURATION_MS, TUPLE_TIMESTAMP_FIELD_NAME, TUPLE_TIMESTAMP_MAX_LAG_MS,
    WATERMARK_EVENT_INTERVAL_MS, WINDOW_LENGTH_COUNT, WINDOW_LENGTH_DURATION_MS, WINDOW_MAX_TUPLES,
};
use super::manager::{Activation, WindowAction, WindowManager};
use super::policy::{Eviction, Trigger};
use super::watermark::{StreamKey, WatermarkGenerator};
use crate::api::{
    Bolt, BoltOutput, ComponentError, ConfMap, EmitError, OutputCollector, OutputFieldsDeclarer,
    TopologyContext, Tuple, Waker,
};
use crate::tuple::{Value, Values};

/// A bolt that processes windows of tuples (Storm's `IWindowedBolt`). Implement with
/// `#[typetag::serde]` on a serde type, configure the window with the [`BaseWindowedBolt`] methods
/// (`bolt.with_window(Count::of(30), Count::of(10))`), and add the result with
/// [`TopologyBuilder::set_bolt`](crate::api::TopologyBuilder::set_bolt).
#[typetag::serde]
pub trait WindowedBolt: Send {
    /// Called once per task before any window.
    fn prepare(
        &mut self,
        _conf: &ConfMap,
        _context: &TopologyContext,
    ) -> Result<(), ComponentError> {
        Ok(())
    }

    /// Processes one window. Emits through `collector` are anchored to every tuple in the window
    /// unless anchors are given; the window's tuples are acked by the executor when they expire.
    fn execute(
        &mut self,
        window: &TupleWindow,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError>;

    fn cleanup(&mut self) {}

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer);

    /// Further component configuration; the window keys set by the builder methods win.
    fn component_configuration(&self) -> Option<ConfMap> {
        None
    }
}

/// One evaluated window (Storm's `TupleWindow`).
#[derive(Debug, Clone, Default)]
pub struct TupleWindow {
    tuples: Vec<Tuple>,
    new: Vec<Tuple>,
    expired: Vec<Tuple>,
    start: Option<i64>,
    end: Option<i64>,
}

impl TupleWindow {
    /// A window built by hand (tests of a windowed bolt).
    pub fn new(
        tuples: Vec<Tuple>,
        new: Vec<Tuple>,
        expired: Vec<Tuple>,
        start: Option<i64>,
        end: Option<i64>,
    ) -> TupleWindow {
        TupleWindow {
            tuples,
            new,
            expired,
            start,
            end,
        }
    }

    /// Every tuple in the window, in arrival order.
    pub fn get(&self) -> &[Tuple] {
        &self.tuples
    }

    /// The tuples that were not in the previous window.
    pub fn get_new(&self) -> &[Tuple] {
        &self.new
    }

    /// The tuples that left the window since the previous one (already acked).
    pub fn get_expired(&self) -> &[Tuple] {
        &self.expired
    }

    /// The window's start (ms; `end - length`), for duration windows only.
    pub fn get_start_timestamp(&self) -> Option<i64> {
        self.start
    }

    /// The window's end (ms): the evaluation time, or the event time with a timestamp field.
    pub fn get_end_timestamp(&self) -> Option<i64> {
        self.end
    }
}

/// A number of tuples (Storm's `BaseWindowedBolt.Count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count(pub u32);

impl Count {
    pub fn of(n: u32) -> Count {
        Count(n)
    }
}

/// A duration in milliseconds (Storm's `BaseWindowedBolt.Duration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration(pub u64);

impl Duration {
    pub fn of(millis: u64) -> Duration {
        Duration(millis)
    }

    pub fn seconds(n: u64) -> Duration {
        Duration(n.saturating_mul(1000))
    }

    pub fn minutes(n: u64) -> Duration {
        Duration(n.saturating_mul(60_000))
    }

    pub fn hours(n: u64) -> Duration {
        Duration(n.saturating_mul(3_600_000))
    }

    pub fn days(n: u64) -> Duration {
        Duration(n.saturating_mul(86_400_000))
    }

    pub fn millis(self) -> u64 {
        self.0
    }
}

/// A window length or sliding interval: a [`Count`] or a [`Duration`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowSpan {
    Count(Count),
    Duration(Duration),
}

impl From<Count> for WindowSpan {
    fn from(c: Count) -> WindowSpan {
        WindowSpan::Count(c)
    }
}

impl From<Duration> for WindowSpan {
    fn from(d: Duration) -> WindowSpan {
        WindowSpan::Duration(d)
    }
}

/// Storm's `BaseWindowedBolt` builder methods, on every [`WindowedBolt`]: each turns the bolt into a
/// [`WindowedBoltExecutor`] (whose same methods continue the chain).
pub trait BaseWindowedBolt: WindowedBolt + Sized + 'static {
    /// A sliding window of `length` that slides every `sliding_interval` (counts or durations).
    fn with_window(
        self,
        length: impl Into<WindowSpan>,
        sliding_interval: impl Into<WindowSpan>,
    ) -> WindowedBoltExecutor {
        WindowedBoltExecutor::new(self).with_window(length, sliding_interval)
    }

    /// A window of `length` that slides with every tuple (Storm's one-argument `withWindow`).
    fn with_window_length(self, length: impl Into<WindowSpan>) -> WindowedBoltExecutor {
        WindowedBoltExecutor::new(self).with_window_length(length)
    }

    /// A tumbling window: `length` long, sliding by `length`.
    fn with_tumbling_window(self, length: impl Into<WindowSpan>) -> WindowedBoltExecutor {
        WindowedBoltExecutor::new(self).with_tumbling_window(length)
    }
}

impl<B: WindowedBolt + Sized + 'static> BaseWindowedBolt for B {}

/// The [`Bolt`] that runs a [`WindowedBolt`] (Storm's `WindowedBoltExecutor`), with the window
/// configuration in Storm's component-configuration keys.
#[derive(Serialize, Deserialize)]
pub struct WindowedBoltExecutor {
    bolt: Box<dyn WindowedBolt>,
    window_conf: ConfMap,
    /// Builder mistakes, reported by `create_topology`.
    errors: Vec<String>,
    #[serde(skip)]
    runtime: Option<Runtime>,
}

impl WindowedBoltExecutor {
    pub fn new(bolt: impl WindowedBolt + 'static) -> WindowedBoltExecutor {
        WindowedBoltExecutor::boxed(Box::new(bolt))
    }

    pub fn boxed(bolt: Box<dyn WindowedBolt>) -> WindowedBoltExecutor {
        WindowedBoltExecutor {
            bolt,
            window_conf: ConfMap::new(),
            errors: Vec::new(),
            runtime: None,
        }
    }

    fn set_span(&mut self, span: WindowSpan, count_key: &str, duration_key: &str) {
        self.window_conf.remove(count_key);
        self.window_conf.remove(duration_key);
        match span {
            WindowSpan::Count(c) => self.window_conf.insert(count_key.into(), c.0.into()),
            WindowSpan::Duration(d) => self.window_conf.insert(duration_key.into(), d.0.into()),
        };
    }

    pub fn with_window(
        mut self,
        length: impl Into<WindowSpan>,
        sliding_interval: impl Into<WindowSpan>,
    ) -> WindowedBoltExecutor {
        self.set_span(
            length.into(),
            WINDOW_LENGTH_COUNT,
            WINDOW_LENGTH_DURATION_MS,
        );
        self.set_span(
            sliding_interval.into(),
            SLIDING_INTERVAL_COUNT,
            SLIDING_INTERVAL_DURATION_MS,
        );
        self
    }

    pub fn with_window_length(self, length: impl Into<WindowSpan>) -> WindowedBoltExecutor {
        self.with_window(length, Count(1))
    }

    pub fn with_tumbling_window(self, length: impl Into<WindowSpan>) -> WindowedBoltExecutor {
        let length = length.into();
        self.with_window(length, length)
    }

    /// Windows over event time: the tuple field `field` holds the timestamp (ms, a `Long`/`Int`).
    pub fn with_timestamp_field(mut self, field: &str) -> WindowedBoltExecutor {
        if self.window_conf.contains_key(TUPLE_TIMESTAMP_FIELD_NAME) {
            self.errors.push(format!(
                "Window is already configured with a timestamp field ({field} given again)"
            ));
        }
        if field.is_empty() {
            self.errors
                .push("the timestamp field name must not be empty".into());
        }
        self.window_conf
            .insert(TUPLE_TIMESTAMP_FIELD_NAME.into(), field.into());
        self
    }

    /// How far out of order tuple timestamps may be (Storm's `withLag`).
    pub fn with_lag(mut self, lag: Duration) -> WindowedBoltExecutor {
        self.window_conf
            .insert(TUPLE_TIMESTAMP_MAX_LAG_MS.into(), lag.0.into());
        self
    }

    /// How often watermarks are computed (default 1 s).
    pub fn with_watermark_interval(mut self, interval: Duration) -> WindowedBoltExecutor {
        self.window_conf
            .insert(WATERMARK_EVENT_INTERVAL_MS.into(), interval.0.into());
        self
    }

    /// Emits late tuples on `stream` (field `late_tuple`) instead of only logging them.
    pub fn with_late_tuple_stream(mut self, stream: &str) -> WindowedBoltExecutor {
        if stream.is_empty() {
            self.errors
                .push("Cannot set late tuple stream id to an empty name".into());
        }
        self.window_conf
            .insert(LATE_TUPLE_STREAM.into(), stream.into());
        self
    }

    /// storm-rs: at most `n` tuples held per task (`topology.bolts.window.max.tuples`).
    pub fn with_max_tuples(mut self, n: u64) -> WindowedBoltExecutor {
        self.window_conf.insert(WINDOW_MAX_TUPLES.into(), n.into());
        self
    }

    /// Tuples this task dropped over the cap so far (0 before `prepare`).
    pub fn dropped_total(&self) -> u64 {
        self.runtime
            .as_ref()
            .map_or(0, |r| r.manager.dropped_total())
    }

    fn advance(&mut self, collector: &mut OutputCollector<'_>) -> Result<(), ComponentError> {
        let Some(rt) = self.runtime.as_mut() else {
            return Ok(());
        };
        let now = wall_ms();
        rt.advance(now);
        self.process(collector)
    }

    fn process(&mut self, collector: &mut OutputCollector<'_>) -> Result<(), ComponentError> {
        let Some(rt) = self.runtime.as_mut() else {
            return Ok(());
        };
        let mut actions = std::mem::take(&mut rt.actions);
        let mut result = Ok(());
        for action in actions.drain(..) {
            match action {
                WindowAction::Expire(tuples) => {
                    for t in &tuples {
                        collector.ack(t);
                    }
                }
                WindowAction::Drop(tuples) => {
                    for t in &tuples {
                        collector.fail(t);
                    }
                    rt.report_drops(tuples.len(), collector);
                }
                WindowAction::Activate(a) => {
                    if result.is_err() {
                        continue;
                    }
                    let window = window_of(a);
                    let mut anchoring = WindowAnchoring {
                        inner: &mut *collector,
                        anchors: &window.tuples,
                    };
                    let mut windowed = OutputCollector::new(&mut anchoring);
                    result = self.bolt.execute(&window, &mut windowed);
                }
            }
        }
        if let Some(rt) = self.runtime.as_mut() {
            rt.actions = actions;
        }
        result
    }
}

fn window_of(a: Activation<Tuple>) -> TupleWindow {
    TupleWindow {
        tuples: a.tuples,
        new: a.new,
        expired: a.expired,
        start: a.start_ts,
        end: a.end_ts,
    }
}

/// Milliseconds since the epoch (Storm's `System.currentTimeMillis()`).
fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A task's window state, made in `prepare`.
struct Runtime {
    component: String,
    task: i32,
    config: WindowConfig,
    manager: WindowManager<Tuple>,
    /// The generator and when the next watermark is due (event-time windows).
    watermarks: Option<(WatermarkGenerator, i64)>,
    actions: Vec<WindowAction<Tuple>>,
    dropped_unreported: u64,
    last_drop_report: Option<Instant>,
    /// Dropping this stops the timer thread.
    _timer: Option<crossbeam_channel::Sender<()>>,
}

impl Runtime {
    fn advance(&mut self, now: i64) {
        if let Some((generator, due)) = self.watermarks.as_mut() {
            if now >= *due {
                let interval = self.config.watermark_interval_ms.max(1);
                while *due <= now {
                    *due = due.saturating_add(interval);
                }
                if let Some(w) = generator.next_watermark() {
                    self.manager.add_watermark(w, now, &mut self.actions);
                }
            }
        }
        self.manager.tick(now, &mut self.actions);
    }

    fn report_drops(&mut self, n: usize, collector: &mut OutputCollector<'_>) {
        self.dropped_unreported += n as u64;
        let due = self
            .last_drop_report
            .is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(10));
        if !due {
            return;
        }
        let message = format!(
            "windowed bolt {} (task {}) holds more than {} tuples ({}): the oldest {} were dropped from the window and failed, so reliable spouts replay them; raise {} or shorten the window",
            self.component,
            self.task,
            self.config.max_tuples,
            WINDOW_MAX_TUPLES,
            self.dropped_unreported,
            WINDOW_MAX_TUPLES
        );
        tracing::warn!("{message}");
        collector.report_error(message);
        self.dropped_unreported = 0;
        self.last_drop_report = Some(Instant::now());
    }
}

/// Starts the thread that wakes the executor every `period` (until the sender is dropped).
fn start_timer(waker: Waker, period: std::time::Duration) -> Option<crossbeam_channel::Sender<()>> {
    let (tx, rx) = crossbeam_channel::bounded::<()>(0);
    let spawned = std::thread::Builder::new()
        .name("window-timer".into())
        .spawn(move || {
            while let Err(crossbeam_channel::RecvTimeoutError::Timeout) = rx.recv_timeout(period) {
                waker();
            }
        });
    match spawned {
        Ok(_) => Some(tx),
        Err(e) => {
            tracing::error!(error = %e, "cannot start the window timer thread; windows advance only with input and idle polls");
            None
        }
    }
}

/// The collector a windowed bolt emits through: unanchored emits are anchored to the window.
struct WindowAnchoring<'a, 'b> {
    inner: &'a mut OutputCollector<'b>,
    anchors: &'a [Tuple],
}

impl BoltOutput for WindowAnchoring<'_, '_> {
    fn emit(
        &mut self,
        stream: &str,
        anchors: &[&Tuple],
        values: Values,
        direct_task: Option<i32>,
    ) -> Result<Vec<i32>, EmitError> {
        let window: Vec<&Tuple>;
        let anchors = if anchors.is_empty() {
            window = self.anchors.iter().collect();
            &window[..]
        } else {
            anchors
        };
        match direct_task {
            Some(task) => self.inner.emit_direct(task, stream, anchors, values),
            None => self.inner.emit_stream(stream, anchors, values),
        }
    }

    fn ack(&mut self, input: &Tuple) {
        self.inner.ack(input);
    }

    fn fail(&mut self, input: &Tuple) {
        self.inner.fail(input);
    }

    fn reset_timeout(&mut self, input: &Tuple) {
        self.inner.reset_timeout(input);
    }

    fn report_error(&mut self, message: String) {
        self.inner.report_error(message);
    }

    fn waker(&self) -> Option<Waker> {
        self.inner.waker()
    }
}

/// A late tuple as a value (Storm's `DetachedTuple`): a map of its source component, task,
/// stream, fields and values.
pub fn detached_tuple(t: &Tuple) -> Value {
    Value::Map(vec![
        (Value::from("component"), Value::from(t.source_component())),
        (Value::from("task"), Value::Int(t.source_task())),
        (Value::from("stream"), Value::from(t.source_stream())),
        (
            Value::from("fields"),
            Value::List(t.fields().iter().map(Value::from).collect()),
        ),
        (Value::from("values"), Value::List(t.values().to_vec())),
    ])
}

fn timestamp_of(t: &Tuple, field: &str) -> Result<i64, String> {
    match t.value_by_field(field) {
        Ok(Value::Long(v)) => Ok(*v),
        Ok(Value::Int(v)) => Ok(i64::from(*v)),
        Ok(other) => Err(format!(
            "the timestamp field \"{field}\" of a tuple from {}:{} is {other:?}, not a Long (ms)",
            t.source_component(),
            t.source_stream()
        )),
        Err(e) => Err(e.to_string()),
    }
}

#[typetag::serde(name = "storm::WindowedBoltExecutor")]
impl Bolt for WindowedBoltExecutor {
    fn prepare(
        &mut self,
        conf: &ConfMap,
        context: &TopologyContext,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let component = context.this_component_id().to_owned();
        let config = WindowConfig::from_conf(&component, conf)?;
        config.validate_limits(&component, conf)?;
        if let Some(stream) = &config.late_tuple_stream {
            if config.timestamp_field.is_none() {
                return Err(
                    config::WindowConfigError::LateStreamWithoutTimestamp { component }.into(),
                );
            }
            if context.this_output_fields(stream).is_none() {
                return Err(config::WindowConfigError::LateStreamUndeclared {
                    component,
                    stream: stream.clone(),
                }
                .into());
            }
        }
        let now = wall_ms();
        let event_time = config.timestamp_field.is_some();
        let eviction = match (config.length, event_time) {
            (Span::Count(c), false) => Eviction::count(c),
            (Span::Count(c), true) => Eviction::watermark_count(c),
            (Span::DurationMs(d), false) => Eviction::time(d),
            (Span::DurationMs(d), true) => Eviction::watermark_time(d, config.lag_ms),
        };
        let trigger = match (config.sliding, event_time) {
            (Span::Count(c), false) => Trigger::count(c),
            (Span::Count(c), true) => Trigger::watermark_count(c),
            (Span::DurationMs(d), false) => Trigger::time(d, now),
            (Span::DurationMs(d), true) => Trigger::watermark_time(d),
        };
        let manager = WindowManager::new(
            eviction,
            trigger,
            config.length_ms(),
            usize::try_from(config.max_tuples).unwrap_or(usize::MAX),
        );
        let watermarks = event_time.then(|| {
            let inputs: Vec<StreamKey> = context
                .this_sources()
                .map(|s| {
                    s.keys()
                        .filter(|g| g.stream_id != "$checkpoint")
                        .map(|g| (g.component_id.clone(), g.stream_id.clone()))
                        .collect()
                })
                .unwrap_or_default();
            (
                WatermarkGenerator::new(inputs, config.lag_ms),
                now + config.watermark_interval_ms,
            )
        });
        let mut periods = Vec::new();
        if let Span::DurationMs(d) = config.sliding {
            if !event_time {
                periods.push(d);
            }
        }
        if event_time {
            periods.push(config.watermark_interval_ms);
        }
        let timer = match (periods.iter().min(), collector.waker()) {
            (Some(&p), Some(waker)) => start_timer(
                waker,
                std::time::Duration::from_millis(p.clamp(10, 100) as u64),
            ),
            _ => None,
        };
        self.bolt.prepare(conf, context)?;
        tracing::info!(component = %component, task = context.this_task_id(), window = ?config, "windowed bolt prepared");
        self.runtime = Some(Runtime {
            component,
            task: context.this_task_id(),
            config,
            manager,
            watermarks,
            actions: Vec::new(),
            dropped_unreported: 0,
            last_drop_report: None,
            _timer: timer,
        });
        Ok(())
    }

    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let Some(rt) = self.runtime.as_mut() else {
            return Err("windowed bolt executed before prepare".into());
        };
        let now = wall_ms();
        if input.is_tick() {
            // Tick tuples only move the clock; they are never part of a window.
            return self.advance(collector);
        }
        match rt.config.timestamp_field.clone() {
            Some(field) => match timestamp_of(&input, &field) {
                Err(message) => {
                    collector.report_error(format!(
                        "windowed bolt {}: {message}; the tuple is failed",
                        rt.component
                    ));
                    collector.fail(&input);
                }
                Ok(ts) => {
                    let (generator, _) = rt
                        .watermarks
                        .as_mut()
                        .ok_or("event-time window without a watermark generator")?;
                    let stream = (
                        input.source_component().to_owned(),
                        input.source_stream().to_owned(),
                    );
                    if generator.track(&stream, ts) {
                        rt.manager.add(input, ts, now, &mut rt.actions);
                    } else {
                        match &rt.config.late_tuple_stream {
                            Some(late) => {
                                collector.emit_stream(
                                    late,
                                    &[&input],
                                    vec![detached_tuple(&input)],
                                )?;
                            }
                            None => tracing::info!(
                                component = %rt.component,
                                ts,
                                watermark = generator.last_watermark(),
                                "Received a late tuple; it will not be processed"
                            ),
                        }
                        collector.ack(&input);
                    }
                }
            },
            None => rt.manager.add(input, now, now, &mut rt.actions),
        }
        rt.advance(now);
        self.process(collector)
    }

    fn poll(&mut self, collector: &mut OutputCollector<'_>) -> Result<(), ComponentError> {
        self.advance(collector)
    }

    fn cleanup(&mut self) {
        self.runtime = None;
        self.bolt.cleanup();
    }

    fn declare_output_fields(&self, declarer: &mut OutputFieldsDeclarer) {
        if let Some(stream) = self
            .window_conf
            .get(LATE_TUPLE_STREAM)
            .and_then(|v| v.as_str())
        {
            declarer.declare_stream(stream, [LATE_TUPLE_FIELD]);
        }
        self.bolt.declare_output_fields(declarer);
    }

    fn component_configuration(&self) -> Option<ConfMap> {
        let mut conf = self.bolt.component_configuration().unwrap_or_default();
        conf.extend(self.window_conf.clone());
        Some(conf)
    }

    fn configuration_error(&self) -> Option<String> {
        if let Some(e) = self.errors.first() {
            return Some(e.clone());
        }
        let conf = self.component_configuration().unwrap_or_default();
        let window = match WindowConfig::from_conf("", &conf) {
            Ok(w) => w,
            Err(e) => return Some(strip_component(&e.to_string())),
        };
        if window.late_tuple_stream.is_some() && window.timestamp_field.is_none() {
            return Some(
                "Late tuple stream can be defined only when specifying a timestamp field (with_timestamp_field)"
                    .into(),
            );
        }
        None
    }
}

/// The message of a [`config::WindowConfigError`] made with an empty component name.
fn strip_component(message: &str) -> String {
    message
        .strip_prefix("component \"\": ")
        .unwrap_or(message)
        .to_owned()
}
