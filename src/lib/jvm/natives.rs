//! The native methods of the bridge's `org.stormrs.bridge.Native` class: what Java collectors call
//! to emit, ack, fail and report into the Rust executor, and the bridge's log appender.
//!
//! Each runs on the thread that called into Java (the host's executor thread; the bridge queues calls
//! from other threads and runs them there), so the collector of the call in progress is reachable
//! through the host's state. A failure becomes a Java exception in the calling component (Storm's
//! `IllegalArgumentException` for a bad emit); a Rust panic becomes a `java.lang.Error`, never an
//! unwind across the JNI boundary.

use std::borrow::Cow;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

use jni::objects::{JByteBuffer, JClass, JIntArray, JLongArray, JString};
use jni::sys::{jint, jlong, jlongArray};
use jni::{JNIEnv, NativeMethod};

use super::host::{HostState, Wake};
use crate::api::{OutputCollector, SpoutOutputCollector, Tuple};
use crate::tuple::codec::{decode_values_prefix, decode_values_prefix_into};
use crate::tuple::Value;

/// An exception to throw in Java: its class and message.
struct Thrown(&'static str, String);

impl Thrown {
    fn argument(message: impl Into<String>) -> Thrown {
        Thrown("java/lang/IllegalArgumentException", message.into())
    }

    fn state(message: impl Into<String>) -> Thrown {
        Thrown("java/lang/IllegalStateException", message.into())
    }
}

impl From<jni::errors::Error> for Thrown {
    fn from(e: jni::errors::Error) -> Thrown {
        Thrown::state(format!("storm-rs JNI call failed: {e}"))
    }
}

/// Runs `body`, turning its error or panic into a pending Java exception (and `fallback`).
fn guarded<T>(
    env: &mut JNIEnv<'_>,
    fallback: T,
    body: impl FnOnce(&mut JNIEnv<'_>) -> Result<T, Thrown>,
) -> T {
    match catch_unwind(AssertUnwindSafe(|| body(env))) {
        Ok(Ok(v)) => v,
        Ok(Err(Thrown(class, message))) => {
            if !env.exception_check().unwrap_or(false) {
                let _ = env.throw_new(class, message);
            }
            fallback
        }
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            let _ = env.throw_new("java/lang/Error", format!("storm-rs panicked: {message}"));
            fallback
        }
    }
}

fn state<'a>(ctx: jlong) -> Result<&'a HostState, Thrown> {
    if ctx == 0 {
        return Err(Thrown::state(
            "the storm-rs executor of this component has stopped",
        ));
    }
    // SAFETY: a non-zero ctx is the address of a live HostState: the Java host clears it
    // (`detach`) before the Rust side frees the state.
    Ok(unsafe { &*(ctx as *const HostState) })
}

fn stream_name<'a>(
    env: &mut JNIEnv<'_>,
    state: &'a HostState,
    index: jint,
    name: &JString<'_>,
) -> Result<Cow<'a, str>, Thrown> {
    if let Some(s) = usize::try_from(index)
        .ok()
        .and_then(|i| state.streams.get(i))
    {
        return Ok(Cow::Borrowed(s));
    }
    if name.is_null() {
        return Err(Thrown::argument("emit on a null stream id"));
    }
    let s: String = env.get_string(name)?.into();
    Ok(Cow::Owned(s))
}

fn input_values(state: &HostState) -> Result<Vec<Value>, Thrown> {
    // SAFETY: called from a native during a call into the host; Java wrote the values and waits.
    let buffer = unsafe { state.buffer() };
    decode_values_prefix(buffer)
        .map(|(values, _)| values)
        .map_err(|e| Thrown::state(format!("storm-rs bridge: bad encoded tuple: {e}")))
}

/// Writes the chosen tasks at the start of the buffer; returns their count.
fn write_tasks(state: &HostState, tasks: &[i32]) -> Result<jint, Thrown> {
    // SAFETY: as in `input_values`.
    let buffer = unsafe { state.buffer() };
    if tasks.len() * 4 > buffer.len() {
        return Err(Thrown::state(format!(
            "{} target tasks do not fit the bridge buffer of {} bytes",
            tasks.len(),
            buffer.len()
        )));
    }
    for (i, t) in tasks.iter().enumerate() {
        buffer[4 * i..4 * i + 4].copy_from_slice(&t.to_le_bytes());
    }
    Ok(tasks.len() as jint)
}

/// The collector of the spout call in progress.
///
/// # Safety
/// As [`HostState::spout_collector`]: only from a native running during that call.
#[allow(clippy::mut_from_ref)]
unsafe fn spout_collector(state: &HostState) -> Result<&mut SpoutOutputCollector<'static>, Thrown> {
    state.spout_collector().ok_or_else(|| {
        Thrown::state(format!(
            "component {} emitted outside open/nextTuple/ack/fail/activate/deactivate",
            state.component
        ))
    })
}

/// The collector of the bolt call in progress.
///
/// # Safety
/// As [`HostState::bolt_collector`]: only from a native running during that call.
#[allow(clippy::mut_from_ref)]
unsafe fn bolt_collector(state: &HostState) -> Result<&mut OutputCollector<'static>, Thrown> {
    state.bolt_collector().ok_or_else(|| {
        Thrown::state(format!(
            "component {} emitted, acked or failed outside prepare/execute",
            state.component
        ))
    })
}

/// Calls `f` with references to `anchors` (one anchor, the usual case, needs no allocation).
fn with_refs<R>(anchors: &[Tuple], f: impl FnOnce(&[&Tuple]) -> R) -> R {
    match anchors {
        [] => f(&[]),
        [t] => f(&[t]),
        all => f(&all.iter().collect::<Vec<_>>()),
    }
}

extern "system" fn spout_emit(
    mut env: JNIEnv<'_>,
    _class: JClass<'_>,
    ctx: jlong,
    stream: jint,
    name: JString<'_>,
    direct: jint,
    key: jlong,
) -> jint {
    guarded(&mut env, 0, |env| {
        let state = state(ctx)?;
        let stream = stream_name(env, state, stream, &name)?;
        let values = input_values(state)?;
        // SAFETY: natives run during the host call that set the collector.
        let collector = unsafe { spout_collector(state) }?;
        let message_id = (key != 0).then_some(Value::Long(key));
        let tasks = if direct >= 0 {
            collector.emit_direct(direct, &stream, values, message_id)
        } else {
            collector.emit_stream(&stream, values, message_id)
        }
        .map_err(|e| Thrown::argument(e.to_string()))?;
        write_tasks(state, &tasks)
    })
}

/// `Native.spoutFlush`: the spout's queued emits, in order (see the Java docs for the layout).
extern "system" fn spout_flush(
    mut env: JNIEnv<'_>,
    _class: JClass<'_>,
    ctx: jlong,
    count: jint,
    results: JIntArray<'_>,
) -> jint {
    guarded(&mut env, 0, |env| {
        let state = state(ctx)?;
        // SAFETY: natives run during the host call that set the collector.
        let collector = unsafe { spout_collector(state) }?;
        // SAFETY: as in `input_values`.
        let buffer = unsafe { state.buffer() };
        let count = usize::try_from(count).unwrap_or(0);
        let mut out = start_results(state, count);
        let mut pos = 0usize;
        let refused = with_emit_values(state, |values| -> Result<Option<usize>, Thrown> {
            for i in 0..count {
                out[i] = out.len() as i32;
                let stream = i32::from_le_bytes(take::<4>(buffer, &mut pos)?);
                let key = i64::from_le_bytes(take::<8>(buffer, &mut pos)?);
                queued_values(buffer, &mut pos, values)?;
                let stream = queued_stream(state, stream)?;
                let message_id = (key != 0).then_some(Value::Long(key));
                if let Err(e) =
                    collector.emit_stream_copied_into(stream, values, message_id, &mut out)
                {
                    write_refusal(buffer, &e.to_string());
                    return Ok(Some(i));
                }
            }
            Ok(None)
        })?;
        match refused {
            Some(i) => Ok(-(i as jint) - 1),
            None => finish_results(env, &mut out, count, &results),
        }
    })
}

/// Runs a flush with the host's reused vector of emitted values, taken out of its cell for the
/// call (so nothing the emit calls into finds it borrowed) and put back after it.
fn with_emit_values<R>(state: &HostState, flush: impl FnOnce(&mut Vec<Value>) -> R) -> R {
    let mut values = state.emit_values.take();
    let result = flush(&mut values);
    state.emit_values.set(values);
    result
}

/// The host's results of this flush, with room for the `count` offsets.
fn start_results(state: &HostState, count: usize) -> std::cell::RefMut<'_, Vec<i32>> {
    let mut out = state.results.borrow_mut();
    out.clear();
    out.resize(count + 1, 0);
    out
}

/// Decodes a queued record's values at `*pos` into `values` (in place), advancing `pos`.
fn queued_values(buffer: &[u8], pos: &mut usize, values: &mut Vec<Value>) -> Result<(), Thrown> {
    let used = decode_values_prefix_into(buffer.get(*pos..).unwrap_or_default(), values)
        .map_err(|e| Thrown::state(format!("storm-rs bridge: bad queued emit: {e}")))?;
    *pos += used;
    Ok(())
}

/// The declared stream a queued emit names by index.
fn queued_stream(state: &HostState, index: i32) -> Result<&str, Thrown> {
    usize::try_from(index)
        .ok()
        .and_then(|s| state.streams.get(s))
        .map(String::as_str)
        .ok_or_else(|| Thrown::state("storm-rs bridge: bad queued stream index"))
}

/// Ends a flush's results (the end offset) and copies them to `results` when they fit; returns
/// how many ints they are.
fn finish_results(
    env: &mut JNIEnv<'_>,
    out: &mut [i32],
    count: usize,
    results: &JIntArray<'_>,
) -> Result<jint, Thrown> {
    out[count] = out.len() as i32;
    let total = out.len();
    if total <= env.get_array_length(results)? as usize {
        env.set_int_array_region(results, 0, out)?;
    }
    Ok(total as jint)
}

/// Writes why an emit was refused at the start of the buffer (an int length, then UTF-8).
fn write_refusal(buffer: &mut [u8], text: &str) {
    if buffer.len() < 4 {
        return;
    }
    let mut n = text.len().min(buffer.len() - 4);
    while !text.is_char_boundary(n) {
        n -= 1;
    }
    buffer[..4].copy_from_slice(&(n as i32).to_le_bytes());
    buffer[4..4 + n].copy_from_slice(&text.as_bytes()[..n]);
}

/// Reads `N` bytes at `*pos` of a queued record, advancing `pos`.
fn take<const N: usize>(buffer: &[u8], pos: &mut usize) -> Result<[u8; N], Thrown> {
    let bytes = buffer
        .get(*pos..*pos + N)
        .ok_or_else(|| Thrown::state("storm-rs bridge: truncated queued record"))?;
    *pos += N;
    Ok(bytes.try_into().expect("N bytes"))
}

/// `Native.boltFlush`: the bolt's queued emits, acks, fails and timeout resets, in order (see the
/// Java docs for the layout).
extern "system" fn bolt_flush(
    mut env: JNIEnv<'_>,
    _class: JClass<'_>,
    ctx: jlong,
    count: jint,
    results: JIntArray<'_>,
) -> jint {
    guarded(&mut env, 0, |env| {
        let state = state(ctx)?;
        // SAFETY: natives run during the host call that set the collector.
        let collector = unsafe { bolt_collector(state) }?;
        // SAFETY: as in `input_values`.
        let buffer = unsafe { state.buffer() };
        let count = usize::try_from(count).unwrap_or(0);
        let mut out = start_results(state, count);
        let mut refused: Option<(usize, String)> = None;
        let mut anchors: Vec<Tuple> = Vec::new();
        let mut pos = 0usize;
        with_emit_values(state, |values| -> Result<(), Thrown> {
            for i in 0..count {
                out[i] = out.len() as i32;
                let [kind] = take::<1>(buffer, &mut pos)?;
                if kind != 1 {
                    let handle = i64::from_le_bytes(take::<8>(buffer, &mut pos)?);
                    let verdict = match kind {
                        2 => Verdict::Ack,
                        3 => Verdict::Fail,
                        4 => Verdict::ResetTimeout,
                        _ => return Err(Thrown::state("storm-rs bridge: bad queued record kind")),
                    };
                    apply_verdict(state, collector, handle, verdict);
                    continue;
                }
                let stream = i32::from_le_bytes(take::<4>(buffer, &mut pos)?);
                let n = i32::from_le_bytes(take::<4>(buffer, &mut pos)?);
                anchors.clear();
                {
                    let slab = state.tuples.borrow();
                    for _ in 0..n.max(0) {
                        let handle = i64::from_le_bytes(take::<8>(buffer, &mut pos)?);
                        // Anchors the bolt already acked or failed are left out.
                        if let Some(t) = slab.get(handle) {
                            anchors.push(t.clone());
                        }
                    }
                }
                queued_values(buffer, &mut pos, values)?;
                if refused.is_some() {
                    continue;
                }
                let stream = queued_stream(state, stream)?;
                if let Err(e) = with_refs(&anchors, |refs| {
                    collector.emit_stream_copied_into(stream, refs, values, &mut out)
                }) {
                    refused = Some((i, e.to_string()));
                }
            }
            Ok(())
        })?;
        if let Some((i, text)) = refused {
            write_refusal(buffer, &text);
            return Ok(-(i as jint) - 1);
        }
        finish_results(env, &mut out, count, &results)
    })
}

/// `Native.lastResults`: the last flush's results, when they did not fit the first array.
extern "system" fn last_results(
    mut env: JNIEnv<'_>,
    _class: JClass<'_>,
    ctx: jlong,
    results: JIntArray<'_>,
) {
    guarded(&mut env, (), |env| {
        let state = state(ctx)?;
        let out = state.results.borrow();
        let n = out.len().min(env.get_array_length(&results)? as usize);
        env.set_int_array_region(&results, 0, &out[..n])?;
        Ok(())
    })
}

extern "system" fn spout_pending(mut env: JNIEnv<'_>, _class: JClass<'_>, ctx: jlong) -> jlong {
    guarded(&mut env, 0, |_| {
        let state = state(ctx)?;
        // SAFETY: as in `spout_emit`.
        let collector = unsafe { state.spout_collector() }
            .ok_or_else(|| Thrown::state("getPendingCount outside a spout call"))?;
        Ok(collector.pending_count() as jlong)
    })
}

#[allow(clippy::too_many_arguments)]
extern "system" fn bolt_emit(
    mut env: JNIEnv<'_>,
    _class: JClass<'_>,
    ctx: jlong,
    stream: jint,
    name: JString<'_>,
    direct: jint,
    anchor: jlong,
    anchors: JLongArray<'_>,
) -> jint {
    guarded(&mut env, 0, |env| {
        let state = state(ctx)?;
        let stream = stream_name(env, state, stream, &name)?;
        let values = input_values(state)?;
        // Anchors the bolt already acked or failed are left out (their trees no longer wait).
        let anchors: Vec<Tuple> = if anchors.is_null() {
            state
                .tuples
                .borrow()
                .get(anchor)
                .cloned()
                .into_iter()
                .collect()
        } else {
            let n = env.get_array_length(&anchors)? as usize;
            let mut handles = vec![0i64; n];
            env.get_long_array_region(&anchors, 0, &mut handles)?;
            let slab = state.tuples.borrow();
            handles
                .iter()
                .filter_map(|h| slab.get(*h).cloned())
                .collect()
        };
        // SAFETY: natives run during the host call that set the collector.
        let collector = unsafe { bolt_collector(state) }?;
        let tasks = with_refs(&anchors, |refs| {
            if direct >= 0 {
                collector.emit_direct(direct, &stream, refs, values)
            } else {
                collector.emit_stream(&stream, refs, values)
            }
        })
        .map_err(|e| Thrown::argument(e.to_string()))?;
        write_tasks(state, &tasks)
    })
}

/// What a bolt's ack, fail or reset-timeout does with its input.
#[derive(Clone, Copy)]
enum Verdict {
    Ack,
    Fail,
    ResetTimeout,
}

fn apply_verdict(
    state: &HostState,
    collector: &mut crate::api::OutputCollector<'static>,
    handle: jlong,
    verdict: Verdict,
) {
    match verdict {
        Verdict::Ack | Verdict::Fail => {
            let tuple = state.tuples.borrow_mut().remove(handle);
            if let Some(t) = tuple {
                match verdict {
                    Verdict::Ack => collector.ack(&t),
                    _ => collector.fail(&t),
                }
            }
        }
        Verdict::ResetTimeout => {
            let tuple = state.tuples.borrow().get(handle).cloned();
            if let Some(t) = tuple {
                collector.reset_timeout(&t);
            }
        }
    }
}

extern "system" fn release(mut env: JNIEnv<'_>, _class: JClass<'_>, ctx: jlong, handle: jlong) {
    guarded(&mut env, (), |_| {
        let state = state(ctx)?;
        drop(state.tuples.borrow_mut().remove(handle));
        Ok(())
    });
}

extern "system" fn message_ids(
    mut env: JNIEnv<'_>,
    _class: JClass<'_>,
    ctx: jlong,
    handle: jlong,
) -> jlongArray {
    guarded(&mut env, std::ptr::null_mut(), |env| {
        let state = state(ctx)?;
        let pairs: Vec<i64> = state
            .tuples
            .borrow()
            .get(handle)
            .map(|t| t.message_id().iter().flat_map(|&(r, e)| [r, e]).collect())
            .unwrap_or_default();
        let array = env.new_long_array(pairs.len() as i32)?;
        env.set_long_array_region(&array, 0, &pairs)?;
        Ok(array.into_raw())
    })
}

extern "system" fn report_error(
    mut env: JNIEnv<'_>,
    _class: JClass<'_>,
    ctx: jlong,
    text: JString<'_>,
) {
    guarded(&mut env, (), |env| {
        let state = state(ctx)?;
        let text: String = if text.is_null() {
            "null".into()
        } else {
            env.get_string(&text)?.into()
        };
        // SAFETY: as in `spout_emit`.
        unsafe {
            if let Some(c) = state.bolt_collector() {
                c.report_error(&text);
            } else if let Some(c) = state.spout_collector() {
                c.report_error(&text);
            } else {
                tracing::error!(component = %state.component, "{text}");
            }
        }
        Ok(())
    });
}

extern "system" fn set_buffer(
    mut env: JNIEnv<'_>,
    _class: JClass<'_>,
    ctx: jlong,
    buffer: JByteBuffer<'_>,
) {
    guarded(&mut env, (), |env| {
        let state = state(ctx)?;
        let ptr = env.get_direct_buffer_address(&buffer)?;
        let len = env.get_direct_buffer_capacity(&buffer)?;
        state.set_buffer(ptr, len);
        Ok(())
    });
}

extern "system" fn wake(mut env: JNIEnv<'_>, _class: JClass<'_>, wake_ctx: jlong) {
    guarded(&mut env, (), |_| {
        if wake_ctx != 0 {
            // SAFETY: wake flags are leaked, so the address stays valid.
            unsafe { &*(wake_ctx as *const Wake) }.raise();
        }
        Ok(())
    });
}

extern "system" fn log(
    mut env: JNIEnv<'_>,
    _class: JClass<'_>,
    level: jint,
    logger: JString<'_>,
    thread: JString<'_>,
    message: JString<'_>,
) {
    guarded(&mut env, (), |env| {
        let mut text = |s: &JString<'_>| -> Result<String, Thrown> {
            if s.is_null() {
                Ok(String::new())
            } else {
                Ok(env.get_string(s)?.into())
            }
        };
        let logger = text(&logger)?;
        let thread = text(&thread)?;
        let message = text(&message)?;
        // log4j's intLevel: FATAL 100, ERROR 200, WARN 300, INFO 400, DEBUG 500, TRACE 600.
        match level {
            ..=200 => {
                tracing::error!(target: "java", logger = %logger, thread = %thread, "{message}")
            }
            201..=300 => {
                tracing::warn!(target: "java", logger = %logger, thread = %thread, "{message}")
            }
            301..=400 => {
                tracing::info!(target: "java", logger = %logger, thread = %thread, "{message}")
            }
            401..=500 => {
                tracing::debug!(target: "java", logger = %logger, thread = %thread, "{message}")
            }
            _ => tracing::trace!(target: "java", logger = %logger, thread = %thread, "{message}"),
        }
        Ok(())
    });
}

/// Registers the natives on `org.stormrs.bridge.Native`.
pub(crate) fn register(env: &mut JNIEnv<'_>) -> jni::errors::Result<()> {
    let m = |name: &str, sig: &str, f: *mut c_void| NativeMethod {
        name: name.into(),
        sig: sig.into(),
        fn_ptr: f,
    };
    let methods = [
        m(
            "spoutEmit",
            "(JILjava/lang/String;IJ)I",
            spout_emit as *mut c_void,
        ),
        m("spoutPending", "(J)J", spout_pending as *mut c_void),
        m("spoutFlush", "(JI[I)I", spout_flush as *mut c_void),
        m("lastResults", "(J[I)V", last_results as *mut c_void),
        m(
            "boltEmit",
            "(JILjava/lang/String;IJ[J)I",
            bolt_emit as *mut c_void,
        ),
        m("boltFlush", "(JI[I)I", bolt_flush as *mut c_void),
        m("release", "(JJ)V", release as *mut c_void),
        m("messageIds", "(JJ)[J", message_ids as *mut c_void),
        m(
            "reportError",
            "(JLjava/lang/String;)V",
            report_error as *mut c_void,
        ),
        m(
            "setBuffer",
            "(JLjava/nio/ByteBuffer;)V",
            set_buffer as *mut c_void,
        ),
        m("wake", "(J)V", wake as *mut c_void),
        m(
            "log",
            "(ILjava/lang/String;Ljava/lang/String;Ljava/lang/String;)V",
            log as *mut c_void,
        ),
    ];
    let class = env.find_class("org/stormrs/bridge/Native")?;
    env.register_native_methods(&class, &methods)
}
