//! Eviction and trigger policies (Storm's `org.apache.storm.windowing` `*EvictionPolicy` and
//! `*TriggerPolicy`), as plain state: the [`WindowManager`](super::WindowManager) drives them and
//! the clock is always an argument, so every decision is reproducible in tests.
//!
//! Eviction decides, per queued event, whether it is in the window being evaluated
//! ([`Action::Process`]), has left it for good ([`Action::Expire`]), is not yet due ([`Action::Keep`])
//! or ends the scan ([`Action::Stop`]). Triggers decide when a window is evaluated: after a number
//! of tuples, on a clock, or — with tuple timestamps — when a watermark passes window ends.

/// What the eviction policy says about one queued event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Left the window: removed from the queue (and acked).
    Expire,
    /// In the window being evaluated.
    Process,
    /// Not in this window but may be in a later one.
    Keep,
    /// Stop scanning: later events cannot be in this window.
    Stop,
}

/// Storm's `DefaultEvictionContext`: what a trigger tells the eviction policy before a window is
/// evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvictionContext {
    /// The window's end (ms): processing time or a watermark-derived event time.
    pub reference_time: i64,
    /// Events with a timestamp up to `reference_time` (watermark time triggers).
    pub current_count: Option<i64>,
    /// The sliding interval in tuples (watermark count triggers).
    pub sliding_count: Option<i64>,
    /// The sliding interval in ms (processing-time triggers).
    pub sliding_interval: Option<i64>,
}

impl EvictionContext {
    pub fn at(reference_time: i64) -> EvictionContext {
        EvictionContext {
            reference_time,
            current_count: None,
            sliding_count: None,
            sliding_interval: None,
        }
    }
}

/// The eviction policies: window length by count or duration, on processing time or on watermarks.
#[derive(Debug, Clone)]
pub enum Eviction {
    /// Storm's `CountEvictionPolicy`: the last `threshold` tuples.
    Count {
        threshold: i64,
        current: i64,
        reference: Option<i64>,
    },
    /// Storm's `TimeEvictionPolicy`: tuples younger than `length` ms at the reference time.
    /// `delta` corrects for a trigger that ran late (or, before the first window, is "everything").
    Time {
        length: i64,
        delta: i64,
        context: Option<EvictionContext>,
    },
    /// Storm's `WatermarkCountEvictionPolicy`: the last `threshold` tuples up to the reference time.
    WatermarkCount {
        threshold: i64,
        current: i64,
        processed: i64,
        context: Option<EvictionContext>,
    },
    /// Storm's `WatermarkTimeEvictionPolicy`: tuples in `(reference - length, reference]`; a tuple
    /// more than `lag` ms beyond the reference time stops the scan.
    WatermarkTime {
        length: i64,
        lag: i64,
        delta: i64,
        context: Option<EvictionContext>,
    },
}

impl Eviction {
    pub fn count(threshold: i64) -> Eviction {
        Eviction::Count {
            threshold,
            current: 0,
            reference: None,
        }
    }

    pub fn time(length: i64) -> Eviction {
        Eviction::Time {
            length,
            delta: 0,
            context: None,
        }
    }

    pub fn watermark_count(threshold: i64) -> Eviction {
        Eviction::WatermarkCount {
            threshold,
            current: 0,
            processed: 0,
            context: None,
        }
    }

    pub fn watermark_time(length: i64, lag: i64) -> Eviction {
        Eviction::WatermarkTime {
            length,
            lag,
            delta: 0,
            context: None,
        }
    }

    /// Decides about an event with timestamp `ts`; `now` is the processing time (used by the
    /// time policy before any trigger set a context).
    pub fn evict(&mut self, ts: i64, now: i64) -> Action {
        match self {
            Eviction::Count {
                threshold, current, ..
            } => {
                if *current > *threshold {
                    *current -= 1;
                    Action::Expire
                } else {
                    Action::Process
                }
            }
            Eviction::Time {
                length,
                delta,
                context,
            } => time_evict(
                *length,
                *delta,
                context.map_or(now, |c| c.reference_time),
                ts,
            ),
            Eviction::WatermarkCount {
                threshold,
                current,
                processed,
                context,
            } => {
                // Before the first watermark nothing is evicted (a compaction may ask early).
                let Some(ctx) = context else {
                    return Action::Stop;
                };
                if ts <= ctx.reference_time && *processed < *current {
                    if *current > *threshold {
                        *current -= 1;
                        Action::Expire
                    } else {
                        *processed += 1;
                        Action::Process
                    }
                } else {
                    Action::Keep
                }
            }
            Eviction::WatermarkTime {
                length,
                lag,
                delta,
                context,
            } => {
                let Some(ctx) = context else {
                    return Action::Stop;
                };
                let diff = ctx.reference_time.saturating_sub(ts);
                if diff < -*lag {
                    Action::Stop
                } else if diff < 0 {
                    Action::Keep
                } else {
                    time_evict(*length, *delta, ctx.reference_time, ts)
                }
            }
        }
    }

    /// Bookkeeping for a new event (watermarks excluded).
    pub fn track(&mut self) {
        if let Eviction::Count { current, .. } = self {
            *current += 1;
        }
    }

    /// `n` events left the queue without being evaluated (the per-window cap).
    pub fn dropped(&mut self, n: i64) {
        if let Eviction::Count { current, .. } = self {
            *current = (*current - n).max(0);
        }
    }

    /// A trigger is about to evaluate a window ending at `ctx.reference_time`.
    pub fn set_context(&mut self, ctx: EvictionContext) {
        match self {
            Eviction::Count { reference, .. } => *reference = Some(ctx.reference_time),
            Eviction::Time { delta, context, .. }
            | Eviction::WatermarkTime { delta, context, .. } => {
                if let Some(interval) = ctx.sliding_interval {
                    *delta = match context {
                        // The first window takes every event there is.
                        None => i64::from(i32::MAX),
                        Some(prev) => ctx.reference_time - prev.reference_time - interval,
                    };
                    if delta.abs() > 100 && context.is_some() {
                        tracing::debug!(
                            delta = *delta,
                            "window evaluated late (clock drift or a long computation)"
                        );
                    }
                }
                *context = Some(ctx);
            }
            Eviction::WatermarkCount {
                current,
                processed,
                context,
                ..
            } => {
                *current = ctx
                    .current_count
                    .unwrap_or(*processed + ctx.sliding_count.unwrap_or(0));
                *processed = 0;
                *context = Some(ctx);
            }
        }
    }

    /// The reference time of the last context (the end of the window last evaluated).
    pub fn reference_time(&self, now: i64) -> i64 {
        match self {
            Eviction::Count { reference, .. } => reference.unwrap_or(now),
            Eviction::Time { context, .. }
            | Eviction::WatermarkCount { context, .. }
            | Eviction::WatermarkTime { context, .. } => context.map_or(now, |c| c.reference_time),
        }
    }
}

fn time_evict(length: i64, delta: i64, reference: i64, ts: i64) -> Action {
    let diff = reference.saturating_sub(ts);
    if diff >= length.saturating_add(delta) {
        Action::Expire
    } else if diff < 0 {
        Action::Keep
    } else {
        Action::Process
    }
}

/// The trigger policies: when a window is evaluated.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// Storm's `CountTriggerPolicy`: every `count` tuples.
    Count { count: i64, current: i64 },
    /// Storm's `TimeTriggerPolicy`: every `interval` ms of processing time, from start.
    Time { interval: i64, next_due: i64 },
    /// Storm's `WatermarkCountTriggerPolicy`: every `count` tuples whose timestamps a watermark passed.
    WatermarkCount { count: i64, last_processed_ts: i64 },
    /// Storm's `WatermarkTimeTriggerPolicy`: at every multiple of `interval` a watermark passed that
    /// ends a non-empty window.
    WatermarkTime { interval: i64, next_window_end: i64 },
}

impl Trigger {
    pub fn count(count: i64) -> Trigger {
        Trigger::Count { count, current: 0 }
    }

    /// A clock trigger first due `interval` ms after `start`.
    pub fn time(interval: i64, start: i64) -> Trigger {
        Trigger::Time {
            interval,
            next_due: start.saturating_add(interval),
        }
    }

    pub fn watermark_count(count: i64) -> Trigger {
        Trigger::WatermarkCount {
            count,
            last_processed_ts: 0,
        }
    }

    pub fn watermark_time(interval: i64) -> Trigger {
        Trigger::WatermarkTime {
            interval,
            next_window_end: 0,
        }
    }

    /// Whether the trigger runs on watermarks (tuple timestamps).
    pub fn on_watermarks(&self) -> bool {
        matches!(
            self,
            Trigger::WatermarkCount { .. } | Trigger::WatermarkTime { .. }
        )
    }
}
