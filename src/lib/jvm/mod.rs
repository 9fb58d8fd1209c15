//! The embedded JVM: how a storm-rs worker runs a topology's Java spouts, bolts and custom groupings
//! (Storm topology jars built against Storm's own API) while routing, groupings, acking, transport,
//! backpressure and stats stay in the Rust engine (DESIGN §12).
//!
//! * One JVM per worker process, started through JNI's invocation API ([`start`]) only when the
//!   topology has Java components, with the topology jar, its dependencies, Storm's client jars and
//!   storm-rs's Java bridge (`java/storm-rs-bridge`) on its classpath ([`classpath`]). `libjvm` is
//!   found from `JAVA_HOME` or the `java` on `PATH` ([`locate`]).
//! * The bridge's `Bridge.init` gets what Storm's `WorkerState` holds (both topologies, the conf, task
//!   numbering, the worker's tasks); a Java component is then one [`JavaSpout`] / [`JavaBolt`] — an
//!   ordinary [`Spout`](crate::api::Spout) / [`Bolt`](crate::api::Bolt) to the executor — whose Java
//!   host object makes the component (Storm's `Utils.getSetComponentObject`: Java deserialization or
//!   a `java_object`) on the executor thread and drives it. A Java `CustomStreamGrouping` is a
//!   [`CustomStreamGrouping`](crate::grouping::CustomStreamGrouping) ([`grouping`]).
//! * Values cross in the compact values codec (`tuple::codec`, mirrored by the bridge's `Codec`) in a
//!   direct buffer each host shares with its Rust state ([`host`]): one JNI call per `nextTuple`,
//!   `execute`, `ack` or `fail`, one native call back per emit, ack or fail ([`natives`]).
//! * Every executor thread attaches to the JVM once, as a daemon thread, and keeps its `JNIEnv`.
//!   Java exceptions become errors carrying the Java stack trace (the executor reports them and, in a
//!   cluster worker, the worker exits as Storm's does).

mod bolt;
pub mod classpath;
mod grouping;
mod host;
pub mod locate;
mod natives;
mod spout;

use std::cell::Cell;
use std::path::PathBuf;
use std::sync::OnceLock;

use jni::objects::{GlobalRef, JClass, JMethodID, JObject, JStaticMethodID, JString, JValue};
use jni::signature::{Primitive, ReturnType};
use jni::sys::jvalue;
use jni::{InitArgsBuilder, JNIEnv, JNIVersion, JavaVM};

pub use bolt::JavaBolt;
pub use classpath::{bridge_jar, storm_client_classpath, worker_classpath, JavaSetup};
pub use grouping::{JavaGrouping, JAVA_GROUPING};
pub use spout::JavaSpout;

/// Why the JVM could not be started or used.
#[derive(Debug, thiserror::Error)]
pub enum JvmError {
    #[error("{0}")]
    NoJava(String),
    #[error(
        "cannot load the JVM library {path}: {message}; set JAVA_HOME to a Java 11+ installation"
    )]
    Load { path: PathBuf, message: String },
    #[error("cannot start the embedded JVM: {0}")]
    Start(String),
    #[error("component \"{0}\" is a Java component, but this process has no JVM (Java components run in cluster workers started by a storm-rs supervisor)")]
    NotStarted(String),
    #[error("{0}")]
    Setup(String),
    #[error("{what}: {message}")]
    Java { what: String, message: String },
    #[error("JNI call failed ({what}): {message}")]
    Jni { what: String, message: String },
}

impl From<jni::errors::Error> for JvmError {
    fn from(e: jni::errors::Error) -> JvmError {
        JvmError::Jni {
            what: "JNI".into(),
            message: e.to_string(),
        }
    }
}

/// How the JVM is started: its classpath and options (`-Xmx…`, `-D…`).
#[derive(Debug, Clone, Default)]
pub struct JvmOptions {
    pub classpath: Vec<PathBuf>,
    pub options: Vec<String>,
}

/// What the bridge's `Bridge.init` gets: Storm's `WorkerState` in brief.
#[derive(Debug, Clone)]
pub struct WorkerInit {
    /// Thrift binary of the system topology (acker and system streams included).
    pub system_topology: Vec<u8>,
    /// Thrift binary of the user topology (what `TopologyContext.getRawTopology` returns).
    pub user_topology: Vec<u8>,
    /// The topology's configuration merged over the cluster's (JSON object).
    pub conf_json: String,
    pub topology_id: String,
    pub port: i32,
    pub worker_tasks: Vec<i32>,
    /// Every task of the system topology with its component.
    pub tasks: Vec<(i32, String)>,
    /// `supervisor/stormdist/<id>/resources` (Storm's `TopologyContext.getCodeDir`).
    pub code_dir: String,
    /// `workers/<worker-id>/pids`.
    pub pid_dir: String,
}

/// The running JVM and the bridge's classes and methods.
pub(crate) struct Jvm {
    vm: JavaVM,
    pub api: Api,
}

/// Class references and method ids of the bridge, looked up once.
pub(crate) struct Api {
    pub bridge: GlobalRef,
    pub new_spout: JStaticMethodID,
    pub new_bolt: JStaticMethodID,
    pub new_grouping: JStaticMethodID,
    pub describe: JStaticMethodID,
    pub shell_command: JStaticMethodID,
    pub host_ensure: JMethodID,
    pub host_detach: JMethodID,
    pub spout_open: JMethodID,
    pub spout_next: JMethodID,
    pub spout_verdicts: JMethodID,
    pub spout_activate: JMethodID,
    pub spout_deactivate: JMethodID,
    pub spout_close: JMethodID,
    pub bolt_prepare: JMethodID,
    pub bolt_register_source: JMethodID,
    pub bolt_execute: JMethodID,
    pub bolt_poll: JMethodID,
    pub bolt_cleanup: JMethodID,
    pub grouping_prepare: JMethodID,
    pub grouping_choose: JMethodID,
}

static JVM: OnceLock<Jvm> = OnceLock::new();

thread_local! {
    /// This thread's `JNIEnv` once attached (threads stay attached, as daemon threads).
    static ENV: Cell<*mut jni::sys::JNIEnv> = const { Cell::new(std::ptr::null_mut()) };
}

/// Whether this process runs a JVM.
pub fn is_running() -> bool {
    JVM.get().is_some()
}

pub(crate) fn get(component: &str) -> Result<&'static Jvm, JvmError> {
    JVM.get()
        .ok_or_else(|| JvmError::NotStarted(component.to_owned()))
}

/// Starts the process's JVM with `options`, registers the bridge's native methods and calls
/// `Bridge.init`. Only the first call starts anything; later calls are refused.
pub fn start(options: &JvmOptions, init: &WorkerInit) -> Result<(), JvmError> {
    if JVM.get().is_some() {
        return Err(JvmError::Start(
            "a JVM is already running in this process".into(),
        ));
    }
    let libjvm = locate::libjvm()?;
    // Keep libjvm loaded for the life of the process (the JVM cannot be unloaded).
    // SAFETY: loading a shared library runs its initialisers; libjvm's are meant for this.
    let lib = unsafe { libloading::Library::new(&libjvm) }.map_err(|e| JvmError::Load {
        path: libjvm.clone(),
        message: e.to_string(),
    })?;
    std::mem::forget(lib);

    let classpath = std::env::join_paths(&options.classpath)
        .map_err(|e| JvmError::Start(format!("bad classpath entry: {e}")))?;
    let mut all = vec![
        format!("-Djava.class.path={}", classpath.to_string_lossy()),
        // The worker handles SIGTERM/SIGINT itself.
        "-Xrs".to_owned(),
    ];
    all.extend(options.options.iter().cloned());
    // The JVM is not created on the process's first thread (HotSpot's stack guard handling
    // expects a thread it did not inherit), so a short-lived thread creates it.
    let path = libjvm.clone();
    let vm = std::thread::Builder::new()
        .name("jvm-start".into())
        .spawn(move || -> Result<JavaVM, JvmError> {
            let mut args = InitArgsBuilder::new()
                .version(JNIVersion::V8)
                .ignore_unrecognized(true);
            for o in &all {
                args = args.option(o.as_str());
            }
            let args = args
                .build()
                .map_err(|e| JvmError::Start(format!("bad JVM option: {e}")))?;
            JavaVM::with_libjvm(args, || Ok(path)).map_err(|e| JvmError::Start(e.to_string()))
        })
        .map_err(|e| JvmError::Start(e.to_string()))?
        .join()
        .map_err(|_| JvmError::Start("the JVM start thread panicked".into()))??;
    let raw = vm
        .attach_current_thread_as_daemon()
        .map_err(|e| JvmError::Start(format!("cannot attach: {e}")))?
        .get_raw();
    // SAFETY: this thread stays attached (as a daemon) for the life of the process.
    let mut env = unsafe { JNIEnv::from_raw(raw) }?;
    let api = lookup_api(&mut env).map_err(|e| JvmError::Setup(format!(
        "the storm-rs Java bridge is not usable ({e}); is storm-rs-bridge.jar on the classpath and built for this storm-rs version?"
    )))?;
    natives::register(&mut env).map_err(|e| {
        JvmError::Setup(format!("cannot register the bridge's native methods: {e}"))
    })?;
    let jvm = Jvm { vm, api };
    bridge_init(&mut env, &jvm, init)?;
    grouping::register();
    ENV.with(|e| e.set(raw));
    let _ = JVM.set(jvm);
    tracing::info!(libjvm = %libjvm.display(), "embedded JVM started");
    Ok(())
}

fn lookup_api(env: &mut JNIEnv<'_>) -> Result<Api, String> {
    let class = |env: &mut JNIEnv<'_>, name: &str| -> Result<GlobalRef, String> {
        let c = env.find_class(name).map_err(|e| {
            let _ = env.exception_clear();
            format!("class {name}: {e}")
        })?;
        env.new_global_ref(c).map_err(|e| e.to_string())
    };
    let bridge = class(env, "org/stormrs/bridge/Bridge")?;
    let host = class(env, "org/stormrs/bridge/Host")?;
    let spout = class(env, "org/stormrs/bridge/SpoutHost")?;
    let bolt = class(env, "org/stormrs/bridge/BoltHost")?;
    let grouping = class(env, "org/stormrs/bridge/GroupingHost")?;
    let stat = |env: &mut JNIEnv<'_>, name: &str, sig: &str| {
        let c: &JClass<'_> = bridge.as_obj().into();
        env.get_static_method_id(c, name, sig).map_err(|e| {
            let _ = env.exception_clear();
            format!("Bridge.{name}{sig}: {e}")
        })
    };
    let new_spout = stat(
        env,
        "newSpout",
        "(J[BLjava/lang/String;I[Ljava/lang/String;IJ)Lorg/stormrs/bridge/SpoutHost;",
    )?;
    let new_bolt = stat(
        env,
        "newBolt",
        "(J[BLjava/lang/String;I[Ljava/lang/String;IJ)Lorg/stormrs/bridge/BoltHost;",
    )?;
    let new_grouping = stat(
        env,
        "newGrouping",
        "(J[BIJ)Lorg/stormrs/bridge/GroupingHost;",
    )?;
    let describe = stat(env, "describe", "(Ljava/lang/Throwable;)Ljava/lang/String;")?;
    let shell_command = stat(env, "shellCommand", "([B)[Ljava/lang/String;")?;
    let method = |env: &mut JNIEnv<'_>, class: &GlobalRef, name: &str, sig: &str| {
        let c: &JClass<'_> = class.as_obj().into();
        env.get_method_id(c, name, sig).map_err(|e| {
            let _ = env.exception_clear();
            format!("{name}{sig}: {e}")
        })
    };
    Ok(Api {
        host_ensure: method(env, &host, "ensure", "(I)V")?,
        host_detach: method(env, &host, "detach", "()V")?,
        spout_open: method(env, &spout, "open", "(Ljava/lang/String;)V")?,
        spout_next: method(env, &spout, "nextTuples", "(IIJ)I")?,
        spout_verdicts: method(env, &spout, "verdicts", "(I)V")?,
        spout_activate: method(env, &spout, "activate", "()V")?,
        spout_deactivate: method(env, &spout, "deactivate", "()V")?,
        spout_close: method(env, &spout, "close", "()V")?,
        bolt_prepare: method(env, &bolt, "prepare", "(Ljava/lang/String;)V")?,
        bolt_register_source: method(
            env,
            &bolt,
            "registerSource",
            "(ILjava/lang/String;ILjava/lang/String;)V",
        )?,
        bolt_execute: method(env, &bolt, "executeBatch", "(I)V")?,
        bolt_poll: method(env, &bolt, "poll", "()V")?,
        bolt_cleanup: method(env, &bolt, "cleanup", "()V")?,
        grouping_prepare: method(
            env,
            &grouping,
            "prepare",
            "(Ljava/lang/String;Ljava/lang/String;[I)V",
        )?,
        grouping_choose: method(env, &grouping, "chooseTasks", "(I)I")?,
        bridge,
        new_spout,
        new_bolt,
        new_grouping,
        describe,
        shell_command,
    })
}

fn bridge_init(env: &mut JNIEnv<'_>, jvm: &Jvm, init: &WorkerInit) -> Result<(), JvmError> {
    let what = "Bridge.init";
    env.with_local_frame(32, |env| -> Result<(), JvmError> {
        let jni = |e: jni::errors::Error| JvmError::Jni {
            what: what.into(),
            message: e.to_string(),
        };
        let system = env.byte_array_from_slice(&init.system_topology).map_err(jni)?;
        let user = env.byte_array_from_slice(&init.user_topology).map_err(jni)?;
        let conf = env.new_string(&init.conf_json).map_err(jni)?;
        let id = env.new_string(&init.topology_id).map_err(jni)?;
        let tasks = int_array(env, &init.worker_tasks).map_err(jni)?;
        let ids: Vec<i32> = init.tasks.iter().map(|(t, _)| *t).collect();
        let task_ids = int_array(env, &ids).map_err(jni)?;
        let string_class = env.find_class("java/lang/String").map_err(jni)?;
        let components = env
            .new_object_array(init.tasks.len() as i32, &string_class, JObject::null())
            .map_err(jni)?;
        for (i, (_, c)) in init.tasks.iter().enumerate() {
            let c = env.new_string(c).map_err(jni)?;
            env.set_object_array_element(&components, i as i32, c)
                .map_err(jni)?;
        }
        let code_dir = env.new_string(&init.code_dir).map_err(jni)?;
        let pid_dir = env.new_string(&init.pid_dir).map_err(jni)?;
        let class: &JClass<'_> = jvm.api.bridge.as_obj().into();
        let result = env.call_static_method(
            class,
            "init",
            "([B[BLjava/lang/String;Ljava/lang/String;I[I[I[Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;)V",
            &[
                JValue::Object(&system),
                JValue::Object(&user),
                JValue::Object(&conf),
                JValue::Object(&id),
                JValue::Int(init.port),
                JValue::Object(&tasks),
                JValue::Object(&task_ids),
                JValue::Object(&components),
                JValue::Object(&code_dir),
                JValue::Object(&pid_dir),
            ],
        );
        check(env, &jvm.api, result.map(drop), what)
    })
}

/// Sets (`Some`) or restores (`None`: back to what it was before the first change) the level of
/// log4j logger `logger` (`ROOT` for the root logger) in the worker's JVM, if one runs. Storm's
/// `LogConfigManager` does this for `storm set_log_level`.
pub fn set_log_level(logger: &str, level: Option<&str>) -> Result<(), JvmError> {
    let Some(jvm) = JVM.get() else {
        return Ok(());
    };
    let what = format!("setting the log level of {logger}");
    let mut env = env(jvm)?;
    let env = &mut env;
    let jni = |e: jni::errors::Error| JvmError::Jni {
        what: what.clone(),
        message: e.to_string(),
    };
    env.with_local_frame(4, |env| -> Result<(), JvmError> {
        let name = env.new_string(logger).map_err(jni)?;
        let level = match level {
            Some(l) => JObject::from(env.new_string(l).map_err(jni)?),
            None => JObject::null(),
        };
        let class: &JClass<'_> = jvm.api.bridge.as_obj().into();
        let result = env.call_static_method(
            class,
            "setLogLevel",
            "(Ljava/lang/String;Ljava/lang/String;)V",
            &[JValue::Object(&name), JValue::Object(&level)],
        );
        check(env, &jvm.api, result.map(drop), &what)
    })
}

pub(crate) fn int_array<'l>(
    env: &mut JNIEnv<'l>,
    values: &[i32],
) -> jni::errors::Result<jni::objects::JIntArray<'l>> {
    let len = i32::try_from(values.len()).unwrap_or(i32::MAX);
    let array = env.new_int_array(len)?;
    env.set_int_array_region(&array, 0, values)?;
    Ok(array)
}

/// This thread's `JNIEnv`, attaching the thread (as a daemon) the first time.
pub(crate) fn env(jvm: &'static Jvm) -> Result<JNIEnv<'static>, JvmError> {
    let raw = ENV.with(Cell::get);
    if !raw.is_null() {
        // SAFETY: the pointer came from this thread's attachment, which is never undone.
        return unsafe { JNIEnv::from_raw(raw) }.map_err(|e| JvmError::Jni {
            what: "JNIEnv".into(),
            message: e.to_string(),
        });
    }
    let env = jvm
        .vm
        .attach_current_thread_as_daemon()
        .map_err(|e| JvmError::Jni {
            what: "attach thread".into(),
            message: e.to_string(),
        })?;
    ENV.with(|e| e.set(env.get_raw()));
    Ok(env)
}

/// Turns a JNI result into ours: a pending Java exception becomes [`JvmError::Java`] with its stack
/// trace (and is cleared).
pub(crate) fn check<T>(
    env: &mut JNIEnv<'_>,
    api: &Api,
    result: jni::errors::Result<T>,
    what: &str,
) -> Result<T, JvmError> {
    // jni's call wrappers check for a pending exception themselves (JavaException).
    match result {
        Ok(v) => Ok(v),
        Err(jni::errors::Error::JavaException) => Err(JvmError::Java {
            what: what.to_owned(),
            message: take_exception(env, api).unwrap_or_else(|| "a Java exception".into()),
        }),
        Err(e) => Err(JvmError::Jni {
            what: what.to_owned(),
            message: e.to_string(),
        }),
    }
}

/// The pending Java exception's stack trace (`Bridge.describe`), cleared.
pub(crate) fn take_exception(env: &mut JNIEnv<'_>, api: &Api) -> Option<String> {
    if !env.exception_check().unwrap_or(false) {
        return None;
    }
    let text = env
        .with_local_frame(8, |env| -> jni::errors::Result<String> {
            let throwable = env.exception_occurred()?;
            env.exception_clear()?;
            let class: &JClass<'_> = api.bridge.as_obj().into();
            // SAFETY: `describe` is (Ljava/lang/Throwable;)Ljava/lang/String;.
            let described = unsafe {
                env.call_static_method_unchecked(
                    class,
                    api.describe,
                    ReturnType::Object,
                    &[jvalue {
                        l: throwable.as_raw(),
                    }],
                )
            };
            let text = match described.and_then(|v| v.l()) {
                Ok(obj) if !obj.is_null() => {
                    let s = JString::from(obj);
                    let text: String = env.get_string(&s)?.into();
                    text
                }
                _ => {
                    let _ = env.exception_clear();
                    "a Java exception (its stack trace could not be read)".to_owned()
                }
            };
            Ok(text)
        })
        .unwrap_or_else(|e| {
            let _ = env.exception_clear();
            format!("a Java exception ({e})")
        });
    Some(text)
}

/// Calls a `void` method of `host` with `args`.
pub(crate) fn call_void(
    env: &mut JNIEnv<'_>,
    api: &Api,
    host: &JObject<'_>,
    method: JMethodID,
    args: &[jvalue],
    what: &str,
) -> Result<(), JvmError> {
    // SAFETY: every method id passed here was looked up with a `V` return type and the argument
    // types the callers pass.
    let result = unsafe {
        env.call_method_unchecked(host, method, ReturnType::Primitive(Primitive::Void), args)
    };
    check(env, api, result.map(drop), what)
}

/// A friendlier message for the usual deployment mistake (a class missing from the classpath).
pub(crate) fn explain(component: &str, message: String) -> String {
    if message.contains("ClassNotFoundException") || message.contains("NoClassDefFoundError") {
        format!(
            "component {component}: a class is missing from the worker's classpath (the topology jar, its --jars/--artifacts, topology.classpath and Storm's client jars): {message}"
        )
    } else {
        format!("component {component}: {message}")
    }
}
