//! [`JavaGrouping`]: a subscription's Java `CustomStreamGrouping` (`custom_serialized` in the
//! topology, e.g. Storm's `PartialKeyGrouping` or a user's grouping) as a storm-rs
//! [`CustomStreamGrouping`], called on the emitting executor's thread.

use jni::objects::{GlobalRef, JValue};
use jni::signature::{Primitive, ReturnType};

use super::host::HostState;
use super::{call_void, check, env, get, int_array, Jvm, JvmError};
use crate::grouping::{CustomStreamGrouping, GrouperContext, GroupingError};
use crate::tuple::Value;

/// The name Java groupings are registered under ([`register`]); `api::grouping_from_thrift` maps a
/// Java-serialized `custom_serialized` grouping to it.
pub const JAVA_GROUPING: &str = "storm-rs:java-grouping";

/// A Java grouping object in the worker's JVM.
pub struct JavaGrouping {
    jvm: &'static Jvm,
    host: GlobalRef,
    state: Box<HostState>,
    class: String,
}

fn error(class: &str, e: impl std::fmt::Display) -> GroupingError {
    GroupingError::Custom {
        name: class.to_owned(),
        message: e.to_string(),
    }
}

impl JavaGrouping {
    /// Deserializes the grouping (`Bridge.newGrouping`).
    pub fn new(serialized: &[u8]) -> Result<JavaGrouping, GroupingError> {
        let class = crate::api::java_serialized_class(serialized)
            .unwrap_or_else(|_| "custom_serialized grouping".into());
        let jvm = get(&format!("grouping {class}")).map_err(|e| error(&class, e))?;
        let state = HostState::new(&class, Vec::new());
        let mut env = env(jvm).map_err(|e| error(&class, e))?;
        let host = env
            .with_local_frame(8, |env| -> Result<GlobalRef, JvmError> {
                let jni = |e: jni::errors::Error| JvmError::Jni {
                    what: "Bridge.newGrouping".into(),
                    message: e.to_string(),
                };
                let bytes = env.byte_array_from_slice(serialized).map_err(jni)?;
                let bridge: &jni::objects::JClass<'_> = jvm.api.bridge.as_obj().into();
                // SAFETY: newGrouping is (J[BIJ)Lorg/stormrs/bridge/GroupingHost;.
                let result = unsafe {
                    env.call_static_method_unchecked(
                        bridge,
                        jvm.api.new_grouping,
                        ReturnType::Object,
                        &[
                            JValue::Long(state.ctx()).as_jni(),
                            JValue::Object(&bytes).as_jni(),
                            JValue::Int(64 * 1024).as_jni(),
                            JValue::Long(state.wake_ctx()).as_jni(),
                        ],
                    )
                };
                let obj = check(
                    env,
                    &jvm.api,
                    result.and_then(|v| v.l()),
                    "Bridge.newGrouping",
                )?;
                env.new_global_ref(obj).map_err(jni)
            })
            .map_err(|e| error(&class, e))?;
        Ok(JavaGrouping {
            jvm,
            host,
            state,
            class,
        })
    }
}

impl Drop for JavaGrouping {
    fn drop(&mut self) {
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

impl CustomStreamGrouping for JavaGrouping {
    fn prepare(
        &mut self,
        context: &GrouperContext<'_>,
        target_tasks: &[i32],
    ) -> Result<(), GroupingError> {
        let api = &self.jvm.api;
        let mut env = env(self.jvm).map_err(|e| error(&self.class, e))?;
        let host = self.host.as_obj();
        env.with_local_frame(8, |env| -> Result<(), JvmError> {
            let jni = |e: jni::errors::Error| JvmError::Jni {
                what: "grouping prepare".into(),
                message: e.to_string(),
            };
            let component = env.new_string(context.source_component).map_err(jni)?;
            let stream = env.new_string(context.source_stream).map_err(jni)?;
            let targets = int_array(env, target_tasks).map_err(jni)?;
            call_void(
                env,
                api,
                host,
                api.grouping_prepare,
                &[
                    JValue::Object(&component).as_jni(),
                    JValue::Object(&stream).as_jni(),
                    JValue::Object(&targets).as_jni(),
                ],
                "prepare",
            )
        })
        .map_err(|e| error(&self.class, e))
    }

    fn choose_tasks(
        &mut self,
        source_task: i32,
        values: &[Value],
        out: &mut Vec<i32>,
    ) -> Result<(), GroupingError> {
        let api = &self.jvm.api;
        let mut env = env(self.jvm).map_err(|e| error(&self.class, e))?;
        let host = self.host.as_obj();
        // SAFETY: the Java host is not running.
        if let Err(len) = unsafe { self.state.write_values(values) } {
            let n = i32::try_from(len).map_err(|_| error(&self.class, "tuple too large"))?;
            call_void(
                &mut env,
                api,
                host,
                api.host_ensure,
                &[JValue::Int(n).as_jni()],
                "ensure",
            )
            .map_err(|e| error(&self.class, e))?;
            // SAFETY: as above.
            unsafe { self.state.write_scratch() }.map_err(|e| error(&self.class, e))?;
        }
        // SAFETY: chooseTasks is (I)I.
        let result = unsafe {
            env.call_method_unchecked(
                host,
                api.grouping_choose,
                ReturnType::Primitive(Primitive::Int),
                &[JValue::Int(source_task).as_jni()],
            )
        };
        let n = check(&mut env, api, result.and_then(|v| v.i()), "chooseTasks")
            .map_err(|e| error(&self.class, e))?;
        // SAFETY: Java wrote the chosen tasks and returned.
        let buffer = unsafe { self.state.buffer() };
        let n = usize::try_from(n).unwrap_or(0).min(buffer.len() / 4);
        for i in 0..n {
            let b = &buffer[4 * i..4 * i + 4];
            out.push(i32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        }
        Ok(())
    }
}

/// Registers [`JAVA_GROUPING`] in the process's custom grouping registry (done when the JVM starts).
pub fn register() {
    crate::api::register_custom_grouping(JAVA_GROUPING, |payload| {
        Ok(Box::new(JavaGrouping::new(payload)?))
    });
}
