//! [`JavaSpout`]: a Java spout task (Storm's `ISpout`) as a storm-rs [`Spout`].

use jni::objects::{GlobalRef, JObject, JValue};
use jni::sys::jvalue;
use serde::{Deserialize, Serialize};

use super::host::HostState;
use super::{call_void, check, env, explain, get, Jvm, JvmError};
use crate::api::{
    ComponentError, ConfMap, MessageId, OutputFieldsDeclarer, Spout, SpoutOutputCollector,
    TopologyContext,
};
use crate::tuple::Value;

/// A Java spout: the component's Thrift `ComponentObject` (Java-serialized bytes or a
/// `java_object`), made into the Java object by the bridge when the task opens, on the executor
/// thread. Message ids stay Java objects on the Java side; here they are numeric keys.
#[derive(Serialize, Deserialize)]
pub struct JavaSpout {
    component: String,
    /// Thrift binary of the component's `ComponentObject`.
    object: Vec<u8>,
    #[serde(skip)]
    live: Option<Live>,
    /// A Java `ShellSpout` subclass, run by storm-rs's multilang spout.
    #[serde(skip)]
    shell: Option<Box<dyn Spout>>,
}

/// The Java host and its Rust state, once open.
pub(crate) struct Live {
    pub host: GlobalRef,
    pub state: Box<HostState>,
    pub jvm: &'static Jvm,
}

impl Drop for Live {
    fn drop(&mut self) {
        // Java must not reach the state after it is freed.
        if let Ok(mut env) = env(self.jvm) {
            let _ = call_void(
                &mut env,
                &self.jvm.api,
                self.host.as_obj(),
                self.jvm.api.host_detach,
                &[],
                "detach",
            );
        }
    }
}

impl JavaSpout {
    pub fn new(component: &str, object: Vec<u8>) -> JavaSpout {
        JavaSpout {
            component: component.to_owned(),
            object,
            live: None,
            shell: None,
        }
    }

    fn live(&self) -> Result<&Live, ComponentError> {
        self.live
            .as_ref()
            .ok_or_else(|| format!("Java spout {} used before open", self.component).into())
    }

    /// Calls the host (verdicts not yet delivered go first).
    fn call(
        &self,
        collector: &mut SpoutOutputCollector<'_>,
        method: impl Fn(&super::Api) -> jni::objects::JMethodID,
        args: &[jvalue],
        what: &str,
    ) -> Result<(), ComponentError> {
        self.deliver(collector)?;
        self.invoke(collector, method, args, what)
    }

    /// Calls the host as it is.
    fn invoke(
        &self,
        collector: &mut SpoutOutputCollector<'_>,
        method: impl Fn(&super::Api) -> jni::objects::JMethodID,
        args: &[jvalue],
        what: &str,
    ) -> Result<(), ComponentError> {
        let live = self.live()?;
        let mut env = env(live.jvm)?;
        let _guard = live.state.enter_spout(collector);
        call_void(
            &mut env,
            &live.jvm.api,
            live.host.as_obj(),
            method(&live.jvm.api),
            args,
            what,
        )
        .map_err(|e| explain_error(&self.component, e))
    }
}

impl JavaSpout {
    /// Writes the undelivered verdicts at the start of the buffer (8 bytes each) and returns how
    /// many there are; the caller makes the call that takes them.
    fn write_verdicts(&self, live: &Live) -> usize {
        let mut verdicts = live.state.verdicts.borrow_mut();
        if verdicts.is_empty() {
            return 0;
        }
        // SAFETY: the Java host is not running (we are about to call it).
        let buffer = unsafe { live.state.buffer() };
        let n = verdicts.len().min(buffer.len() / 8);
        for (i, key) in verdicts.drain(..n).enumerate() {
            buffer[8 * i..8 * i + 8].copy_from_slice(&key.to_le_bytes());
        }
        n
    }

    /// Delivers the undelivered verdicts (`SpoutHost.verdicts`).
    fn deliver(&self, collector: &mut SpoutOutputCollector<'_>) -> Result<(), ComponentError> {
        let Some(live) = &self.live else {
            return Ok(());
        };
        while !live.state.verdicts.borrow().is_empty() {
            let n = JValue::Int(self.write_verdicts(live) as i32).as_jni();
            self.invoke(collector, |a| a.spout_verdicts, &[n], "ack")?;
        }
        Ok(())
    }

    /// Queues an acker verdict for the next call into Java (at most a batch waits).
    fn verdict(
        &mut self,
        key: i64,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let live = self.live()?;
        let n = {
            let mut verdicts = live.state.verdicts.borrow_mut();
            verdicts.push(key);
            verdicts.len()
        };
        if n >= MAX_QUEUED_VERDICTS {
            self.deliver(collector)?;
        }
        Ok(())
    }
}

/// Most acker verdicts a Java spout's executor queues before delivering them.
const MAX_QUEUED_VERDICTS: usize = 64;

pub(crate) fn explain_error(component: &str, e: JvmError) -> ComponentError {
    match e {
        JvmError::Java { message, .. } => explain(component, message).into(),
        other => format!("component {component}: {other}").into(),
    }
}

/// The bridge buffer for a component: room for large tuples and for every task id of the topology.
pub(crate) fn buffer_bytes(context: &TopologyContext) -> i32 {
    let tasks = context.task_to_component().len() + 1;
    (64 * 1024).max(tasks * 4 + 64).min(i32::MAX as usize) as i32
}

/// Makes a host (`Bridge.newSpout` / `newBolt`) for the component.
pub(crate) fn new_host(
    jvm: &'static Jvm,
    component: &str,
    object: &[u8],
    context: &TopologyContext,
    bolt: bool,
) -> Result<(GlobalRef, Box<HostState>), JvmError> {
    let streams: Vec<String> = context
        .worker()
        .component_streams(component)
        .map(|s| s.keys().cloned().collect())
        .unwrap_or_default();
    let state = HostState::new(component, streams);
    let mut env = env(jvm)?;
    let what = if bolt {
        "Bridge.newBolt"
    } else {
        "Bridge.newSpout"
    };
    let host = env.with_local_frame(16, |env| -> Result<GlobalRef, JvmError> {
        let jni = |e: jni::errors::Error| JvmError::Jni {
            what: what.into(),
            message: e.to_string(),
        };
        let bytes = env.byte_array_from_slice(object).map_err(jni)?;
        let id = env.new_string(component).map_err(jni)?;
        let string_class = env.find_class("java/lang/String").map_err(jni)?;
        let streams = env
            .new_object_array(state.streams.len() as i32, &string_class, JObject::null())
            .map_err(jni)?;
        for (i, s) in state.streams.iter().enumerate() {
            let s = env.new_string(s).map_err(jni)?;
            env.set_object_array_element(&streams, i as i32, s)
                .map_err(jni)?;
        }
        let class: &jni::objects::JClass<'_> = jvm.api.bridge.as_obj().into();
        let method = if bolt {
            jvm.api.new_bolt
        } else {
            jvm.api.new_spout
        };
        let args = [
            JValue::Long(state.ctx()).as_jni(),
            JValue::Object(&bytes).as_jni(),
            JValue::Object(&id).as_jni(),
            JValue::Int(context.this_task_id()).as_jni(),
            JValue::Object(&streams).as_jni(),
            JValue::Int(buffer_bytes(context)).as_jni(),
            JValue::Long(state.wake_ctx()).as_jni(),
        ];
        // SAFETY: newSpout/newBolt take (J[BLjava/lang/String;I[Ljava/lang/String;IJ) and return
        // an object.
        let result = unsafe {
            env.call_static_method_unchecked(
                class,
                method,
                jni::signature::ReturnType::Object,
                &args,
            )
        };
        let obj = check(env, &jvm.api, result.and_then(|v| v.l()), what)?;
        env.new_global_ref(obj).map_err(jni)
    })?;
    Ok((host, state))
}

/// The topology conf as the Java component sees it (Storm's JSON form).
pub(crate) fn conf_json(conf: &ConfMap) -> String {
    serde_json::to_string(conf).unwrap_or_else(|_| "{}".into())
}

pub(crate) fn with_string<T>(
    jvm: &'static Jvm,
    text: &str,
    f: impl FnOnce(&mut jni::JNIEnv<'static>, jvalue) -> Result<T, JvmError>,
) -> Result<T, JvmError> {
    let mut env = env(jvm)?;
    let s = env.new_string(text).map_err(|e| JvmError::Jni {
        what: "new string".into(),
        message: e.to_string(),
    })?;
    let arg = JValue::Object(&s).as_jni();
    let result = f(&mut env, arg);
    let _ = env.delete_local_ref(s);
    result
}

fn key_of(message_id: &MessageId) -> i64 {
    match message_id {
        Value::Long(k) => *k,
        _ => 0,
    }
}

#[typetag::serde(name = "storm-rs:java-spout")]
impl Spout for JavaSpout {
    fn open(
        &mut self,
        conf: &ConfMap,
        context: &TopologyContext,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        let jvm = get(&self.component)?;
        if let Some(command) = super::bolt::shell_command(jvm, &self.object)
            .map_err(|e| explain_error(&self.component, e))?
        {
            tracing::info!(component = %self.component, ?command, "Java ShellSpout runs as a storm-rs shell spout");
            let mut shell: Box<dyn Spout> = Box::new(crate::multilang::ShellSpout::new(command));
            shell.open(conf, context, collector)?;
            self.shell = Some(shell);
            return Ok(());
        }
        let (host, state) = new_host(jvm, &self.component, &self.object, context, false)
            .map_err(|e| explain_error(&self.component, e))?;
        self.live = Some(Live { host, state, jvm });
        let live = self.live()?;
        let _guard = live.state.enter_spout(collector);
        with_string(jvm, &conf_json(conf), |env, arg| {
            call_void(
                env,
                &jvm.api,
                live.host.as_obj(),
                jvm.api.spout_open,
                &[arg],
                "open",
            )
        })
        .map_err(|e| explain_error(&self.component, e))
    }

    fn next_tuple(
        &mut self,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        self.next_tuples(1, usize::MAX, collector).map(drop)
    }

    fn next_tuples(
        &mut self,
        max_calls: usize,
        allowance: usize,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<usize, ComponentError> {
        if let Some(shell) = &mut self.shell {
            return shell.next_tuples(max_calls, allowance, collector);
        }
        let live = self.live()?;
        let verdicts = self.write_verdicts(live);
        let mut env = env(live.jvm)?;
        let _guard = live.state.enter_spout(collector);
        let args = [
            JValue::Int(verdicts as i32).as_jni(),
            JValue::Int(i32::try_from(max_calls.max(1)).unwrap_or(i32::MAX)).as_jni(),
            JValue::Long(i64::try_from(allowance).unwrap_or(i64::MAX)).as_jni(),
        ];
        // SAFETY: nextTuples is (IIJ)I.
        let result = unsafe {
            env.call_method_unchecked(
                live.host.as_obj(),
                live.jvm.api.spout_next,
                jni::signature::ReturnType::Primitive(jni::signature::Primitive::Int),
                &args,
            )
        };
        let calls = check(
            &mut env,
            &live.jvm.api,
            result.and_then(|v| v.i()),
            "nextTuple",
        )
        .map_err(|e| explain_error(&self.component, e))?;
        Ok(usize::try_from(calls).unwrap_or(0).max(1))
    }

    fn ack(
        &mut self,
        message_id: MessageId,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        if let Some(shell) = &mut self.shell {
            return shell.ack(message_id, collector);
        }
        self.verdict(key_of(&message_id), collector)
    }

    fn fail(
        &mut self,
        message_id: MessageId,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        if let Some(shell) = &mut self.shell {
            return shell.fail(message_id, collector);
        }
        self.verdict(-key_of(&message_id), collector)
    }

    fn end_batch(
        &mut self,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        if let Some(shell) = &mut self.shell {
            return shell.end_batch(collector);
        }
        self.deliver(collector)
    }

    fn activate(&mut self, collector: &mut SpoutOutputCollector<'_>) -> Result<(), ComponentError> {
        if let Some(shell) = &mut self.shell {
            return shell.activate(collector);
        }
        self.call(collector, |a| a.spout_activate, &[], "activate")
    }

    fn deactivate(
        &mut self,
        collector: &mut SpoutOutputCollector<'_>,
    ) -> Result<(), ComponentError> {
        if let Some(shell) = &mut self.shell {
            return shell.deactivate(collector);
        }
        self.call(collector, |a| a.spout_deactivate, &[], "deactivate")
    }

    fn close(&mut self) {
        if let Some(shell) = &mut self.shell {
            shell.close();
        }
        if let Some(live) = &self.live {
            if let Ok(mut env) = env(live.jvm) {
                if let Err(e) = call_void(
                    &mut env,
                    &live.jvm.api,
                    live.host.as_obj(),
                    live.jvm.api.spout_close,
                    &[],
                    "close",
                ) {
                    tracing::warn!(component = %self.component, "close failed: {e}");
                }
            }
        }
    }

    fn declare_output_fields(&self, _declarer: &mut OutputFieldsDeclarer) {
        // A Java topology's streams were declared when it was built (they are in the topology).
    }
}
