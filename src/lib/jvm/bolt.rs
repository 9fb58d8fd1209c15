//! [`JavaBolt`]: a Java bolt task (Storm's `IBolt`/`IRichBolt`, `IBasicBolt` through Storm's own
//! `BasicBoltExecutor`) as a storm-rs [`Bolt`]. A Java `ShellBolt` subclass (storm-starter's
//! `SplitSentence`) runs as storm-rs's own [`ShellBolt`](crate::multilang::ShellBolt) with the same
//! command, without a Java multilang loop in between.

use jni::objects::{JObject, JValue};
use serde::{Deserialize, Serialize};

use super::spout::{conf_json, explain_error, new_host, with_string, Live};
use super::{call_void, check, env, get, Jvm, JvmError};
use crate::api::{
    Bolt, ComponentError, ConfMap, OutputCollector, OutputFieldsDeclarer, TopologyContext, Tuple,
};

/// A Java bolt: the component's Thrift `ComponentObject`, made into the Java object by the bridge
/// when the task is prepared, on the executor thread.
#[derive(Serialize, Deserialize)]
pub struct JavaBolt {
    component: String,
    /// Thrift binary of the component's `ComponentObject`.
    object: Vec<u8>,
    #[serde(skip)]
    inner: Option<Inner>,
}

enum Inner {
    Java(Live),
    /// A Java `ShellBolt` subclass, run by storm-rs's multilang bolt.
    Shell(Box<dyn Bolt>),
}

impl JavaBolt {
    pub fn new(component: &str, object: Vec<u8>) -> JavaBolt {
        JavaBolt {
            component: component.to_owned(),
            object,
            inner: None,
        }
    }

    fn java(&self) -> Result<&Live, ComponentError> {
        match &self.inner {
            Some(Inner::Java(live)) => Ok(live),
            _ => Err(format!("Java bolt {} used before prepare", self.component).into()),
        }
    }
}

/// The command of a Java `ShellBolt`/`ShellSpout` component (`Bridge.shellCommand`), if it is one.
pub(crate) fn shell_command(
    jvm: &'static Jvm,
    object: &[u8],
) -> Result<Option<Vec<String>>, JvmError> {
    let mut env = env(jvm)?;
    env.with_local_frame(16, |env| -> Result<Option<Vec<String>>, JvmError> {
        let jni = |e: jni::errors::Error| JvmError::Jni {
            what: "Bridge.shellCommand".into(),
            message: e.to_string(),
        };
        let bytes = env.byte_array_from_slice(object).map_err(jni)?;
        let class: &jni::objects::JClass<'_> = jvm.api.bridge.as_obj().into();
        // SAFETY: shellCommand is ([B)[Ljava/lang/String;.
        let result = unsafe {
            env.call_static_method_unchecked(
                class,
                jvm.api.shell_command,
                jni::signature::ReturnType::Array,
                &[JValue::Object(&bytes).as_jni()],
            )
        };
        let array = check(
            env,
            &jvm.api,
            result.and_then(|v| v.l()),
            "Bridge.shellCommand",
        )?;
        if array.is_null() {
            return Ok(None);
        }
        let array = jni::objects::JObjectArray::from(array);
        let n = env.get_array_length(&array).map_err(jni)?;
        let mut command = Vec::with_capacity(n as usize);
        for i in 0..n {
            let s = env.get_object_array_element(&array, i).map_err(jni)?;
            let s = jni::objects::JString::from(s);
            let text: String = env.get_string(&s).map_err(jni)?.into();
            command.push(text);
        }
        Ok(Some(command))
    })
}

#[typetag::serde(name = "storm-rs:java-bolt")]
impl Bolt for JavaBolt {
    fn prepare(
        &mut self,
        conf: &ConfMap,
        context: &TopologyContext,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let jvm = get(&self.component)?;
        if let Some(command) =
            shell_command(jvm, &self.object).map_err(|e| explain_error(&self.component, e))?
        {
            tracing::info!(component = %self.component, ?command, "Java ShellBolt runs as a storm-rs shell bolt");
            let mut shell: Box<dyn Bolt> = Box::new(crate::multilang::ShellBolt::new(command));
            shell.prepare(conf, context, collector)?;
            self.inner = Some(Inner::Shell(shell));
            return Ok(());
        }
        let (host, state) = new_host(jvm, &self.component, &self.object, context, true)
            .map_err(|e| explain_error(&self.component, e))?;
        if let Some(w) = collector.waker() {
            state.wake.set_waker(w);
        }
        self.inner = Some(Inner::Java(Live { host, state, jvm }));
        let live = self.java()?;
        let _guard = live.state.enter_bolt(collector);
        with_string(jvm, &conf_json(conf), |env, arg| {
            call_void(
                env,
                &jvm.api,
                live.host.as_obj(),
                jvm.api.bolt_prepare,
                &[arg],
                "prepare",
            )
        })
        .map_err(|e| explain_error(&self.component, e))
    }

    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut OutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let live = match &mut self.inner {
            Some(Inner::Shell(shell)) => return shell.execute(input, collector),
            Some(Inner::Java(live)) => &*live,
            None => return Err(format!("Java bolt {} used before prepare", self.component).into()),
        };
        let explain = |e| explain_error(&self.component, e);
        let mut env = env(live.jvm)?;
        let state = &live.state;
        let (source, new) = state.source_index(input.source());
        if new {
            register_source(&mut env, live, source, &input).map_err(explain)?;
        }
        // A timed input runs alone, so the executor's clock measures it and nothing else.
        let timed = input.exec_start_ns() != 0;
        if timed {
            flush_inputs(&mut env, live, collector).map_err(explain)?;
        }
        let end = queue_input(&mut env, live, &input, collector).map_err(explain)?;
        let handle = state.tuples.borrow_mut().insert(input);
        let at = state.queued_bytes.get();
        // SAFETY: the Java host is not running; `queue_input` left room for the header at `at`.
        let buffer = unsafe { state.buffer() };
        buffer[at..at + 4].copy_from_slice(&source.to_le_bytes());
        buffer[at + 4..at + 12].copy_from_slice(&handle.to_le_bytes());
        state.queued_bytes.set(end);
        state.queued.set(state.queued.get() + 1);
        if timed || !state.batching.get() || state.queued.get() >= MAX_QUEUED_INPUTS {
            flush_inputs(&mut env, live, collector).map_err(explain)?;
        }
        Ok(())
    }

    fn end_batch(&mut self, collector: &mut OutputCollector<'_>) -> Result<(), ComponentError> {
        match &mut self.inner {
            Some(Inner::Shell(shell)) => shell.end_batch(collector),
            Some(Inner::Java(live)) => {
                // The executor calls this after its runs of `execute`: inputs may wait for it.
                live.state.batching.set(true);
                let mut env = env(live.jvm)?;
                flush_inputs(&mut env, live, collector)
                    .map_err(|e| explain_error(&self.component, e))
            }
            None => Ok(()),
        }
    }

    fn poll(&mut self, collector: &mut OutputCollector<'_>) -> Result<(), ComponentError> {
        match &mut self.inner {
            Some(Inner::Shell(shell)) => shell.poll(collector),
            Some(Inner::Java(live)) => {
                let mut env = env(live.jvm)?;
                flush_inputs(&mut env, live, collector)
                    .map_err(|e| explain_error(&self.component, e))?;
                if !live.state.wake.take() {
                    return Ok(());
                }
                let _guard = live.state.enter_bolt(collector);
                call_void(
                    &mut env,
                    &live.jvm.api,
                    live.host.as_obj(),
                    live.jvm.api.bolt_poll,
                    &[],
                    "poll",
                )
                .map_err(|e| explain_error(&self.component, e))
            }
            None => Ok(()),
        }
    }

    fn cleanup(&mut self) {
        match &mut self.inner {
            Some(Inner::Shell(shell)) => shell.cleanup(),
            Some(Inner::Java(live)) => {
                // Queued inputs were never executed; they go as undelivered input does.
                live.state.queued.set(0);
                live.state.queued_bytes.set(0);
                let held = live.state.tuples.borrow().len();
                if held > 0 {
                    tracing::debug!(component = %self.component, held, "inputs neither acked nor failed at cleanup");
                }
                if let Ok(mut env) = env(live.jvm) {
                    if let Err(e) = call_void(
                        &mut env,
                        &live.jvm.api,
                        live.host.as_obj(),
                        live.jvm.api.bolt_cleanup,
                        &[],
                        "cleanup",
                    ) {
                        tracing::warn!(component = %self.component, "cleanup failed: {e}");
                    }
                }
            }
            None => {}
        }
    }

    fn declare_output_fields(&self, _declarer: &mut OutputFieldsDeclarer) {
        // A Java topology's streams were declared when it was built (they are in the topology).
    }
}

/// Most inputs queued for one `executeBatch` (storm-rs's executor batch).
const MAX_QUEUED_INPUTS: usize = 64;

/// Bytes before each queued input: its source index (int) and tuple handle (long).
const INPUT_HEADER: usize = 12;

/// Encodes `input`'s values after the queued inputs, leaving [`INPUT_HEADER`] bytes for the
/// caller, and returns where the record ends. Runs the queue first, or grows the buffer, when it
/// does not fit.
fn queue_input(
    env: &mut jni::JNIEnv<'static>,
    live: &Live,
    input: &Tuple,
    collector: &mut OutputCollector<'_>,
) -> Result<usize, JvmError> {
    let state = &live.state;
    loop {
        let at = state.queued_bytes.get();
        // SAFETY: the Java host is not running.
        let encoded = match unsafe { state.write_values_at(at + INPUT_HEADER, input.values()) } {
            Ok(n) => return Ok(at + INPUT_HEADER + n),
            // Run what is queued, then try again at the start of the buffer.
            Err(_) if state.queued.get() > 0 => {
                flush_inputs(env, live, collector)?;
                continue;
            }
            Err(encoded) => encoded,
        };
        // SAFETY: as above.
        let buffer_len = unsafe { state.buffer() }.len();
        let len = encoded + INPUT_HEADER;
        let n = i32::try_from(len).map_err(|_| JvmError::Jni {
            what: "execute".into(),
            message: format!("a tuple of {len} bytes is too large"),
        })?;
        if n as usize <= buffer_len {
            // Cannot happen (it did not fit an empty buffer); avoid looping.
            return Err(JvmError::Jni {
                what: "execute".into(),
                message: format!("a tuple of {len} bytes does not fit the bridge buffer"),
            });
        }
        call_void(
            env,
            &live.jvm.api,
            live.host.as_obj(),
            live.jvm.api.host_ensure,
            &[JValue::Int(n).as_jni()],
            "ensure",
        )?;
    }
}

/// Runs the queued inputs (`BoltHost.executeBatch`).
fn flush_inputs(
    env: &mut jni::JNIEnv<'static>,
    live: &Live,
    collector: &mut OutputCollector<'_>,
) -> Result<(), JvmError> {
    let state = &live.state;
    let n = state.queued.replace(0);
    state.queued_bytes.set(0);
    if n == 0 {
        return Ok(());
    }
    let _guard = state.enter_bolt(collector);
    call_void(
        env,
        &live.jvm.api,
        live.host.as_obj(),
        live.jvm.api.bolt_execute,
        &[JValue::Int(n as i32).as_jni()],
        "execute",
    )
}

fn register_source(
    env: &mut jni::JNIEnv<'static>,
    live: &Live,
    index: i32,
    input: &Tuple,
) -> Result<(), JvmError> {
    let api = &live.jvm.api;
    env.with_local_frame(8, |env| -> Result<(), JvmError> {
        let jni = |e: jni::errors::Error| JvmError::Jni {
            what: "registerSource".into(),
            message: e.to_string(),
        };
        let component = env.new_string(input.source_component()).map_err(jni)?;
        let stream = env.new_string(input.source_stream()).map_err(jni)?;
        let component: &JObject<'_> = &component;
        let stream: &JObject<'_> = &stream;
        call_void(
            env,
            api,
            live.host.as_obj(),
            api.bolt_register_source,
            &[
                JValue::Int(index).as_jni(),
                JValue::Object(component).as_jni(),
                JValue::Int(input.source_task()).as_jni(),
                JValue::Object(stream).as_jni(),
            ],
            "registerSource",
        )
    })
}
