//! Components and groupings as they travel inside a `StormTopology`.
//!
//! * A Rust component is `ComponentObject::SerializedJava(b"STORMRS1" + json)`, the JSON being the
//!   `typetag` form of the `dyn Spout` / `dyn Bolt` (externally tagged with the type name).
//! * A shell (multilang) component is Storm's `ComponentObject::Shell`; it becomes a
//!   [`ShellSpout`](crate::multilang::ShellSpout) / [`ShellBolt`](crate::multilang::ShellBolt).
//! * Java-serialized bytes (`AC ED …`) and `java_object`s are Java components: a cluster worker runs
//!   them in its embedded JVM ([`crate::jvm`]); `LocalCluster` refuses them.
//! * Groupings: partial key is Storm's `PartialKeyGrouping` as a `custom_object` with the fields as
//!   string arguments; a user grouping is a `custom_object` naming a grouping registered with
//!   [`register_custom_grouping`], with one binary argument (its configuration).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use super::component::{Bolt, Spout};
use crate::grouping::{CustomStreamGrouping, Grouping as RouteGrouping, GroupingError};
use crate::thrift::{ComponentObject, Grouping, JavaObject, JavaObjectArg};

/// The prefix of a serialized Rust component.
pub const RUST_COMPONENT_MAGIC: &[u8; 8] = b"STORMRS1";

/// Java's object-stream magic.
const JAVA_SERIALIZATION_MAGIC: [u8; 2] = [0xAC, 0xED];

/// Storm's class name for partial-key grouping, kept so other Storm tools recognise it.
pub const PARTIAL_KEY_GROUPING_CLASS: &str = "org.apache.storm.grouping.PartialKeyGrouping";

/// Why a component object cannot be turned into (or made from) a runnable component.
#[derive(Debug, thiserror::Error)]
pub enum ComponentCodecError {
    #[error("component \"{component}\" is a Java component; Java components run in the embedded JVM of cluster workers (submit the topology with `storm jar` to a storm-rs cluster), not in local mode")]
    JavaSerialized { component: String },
    #[error("component \"{component}\" cannot be serialized: {message}")]
    Serialize { component: String, message: String },
    #[error("component \"{component}\" cannot be rebuilt from its serialized form ({message}); a Rust component's type must be compiled into the executable that runs the worker")]
    Deserialize { component: String, message: String },
    #[error(
        "component \"{component}\" is not a serialized storm-rs component (no STORMRS1 prefix)"
    )]
    NotRust { component: String },
    #[error("component \"{component}\" is a {kind} component, which this worker cannot run yet")]
    Unsupported {
        component: String,
        kind: &'static str,
    },
}

/// Refuses what `LocalCluster` cannot run (Java components: they need a cluster worker's JVM).
pub fn check_component_object(
    component: &str,
    object: &ComponentObject,
) -> Result<(), ComponentCodecError> {
    if is_java_object(object) {
        return Err(ComponentCodecError::JavaSerialized {
            component: component.to_owned(),
        });
    }
    Ok(())
}

/// The class name at the head of a Java object stream (`AC ED 00 05`, `TC_OBJECT`, `TC_CLASSDESC`,
/// the class name in modified UTF-8), or why the bytes are not one. This is all storm-rs reads of a
/// Java-serialized component outside the JVM: nimbus checks it at submit and errors name the class.
pub fn java_serialized_class(bytes: &[u8]) -> Result<String, String> {
    const TC_OBJECT: u8 = 0x73;
    const TC_CLASSDESC: u8 = 0x72;
    if !bytes.starts_with(&[0xAC, 0xED, 0x00, 0x05]) {
        return Err("it does not start with Java's serialization header AC ED 00 05".into());
    }
    match bytes.get(4..6) {
        Some([TC_OBJECT, TC_CLASSDESC]) => {}
        Some(_) => {
            return Err("it does not hold one serialized object with a class descriptor".into())
        }
        None => return Err(format!("it is truncated after {} bytes", bytes.len())),
    }
    let len = match bytes.get(6..8) {
        Some(&[hi, lo]) => usize::from(u16::from_be_bytes([hi, lo])),
        _ => return Err(format!("it is truncated after {} bytes", bytes.len())),
    };
    let name = bytes
        .get(8..8 + len)
        .ok_or_else(|| format!("it is truncated after {} bytes", bytes.len()))?;
    // Class names are ASCII in practice; modified UTF-8 differs from UTF-8 only for NUL and
    // supplementary characters, which a class name does not contain.
    let name =
        std::str::from_utf8(name).map_err(|_| "its class name is not valid UTF-8".to_string())?;
    if name.is_empty() {
        return Err("its class name is empty".into());
    }
    Ok(name.to_owned())
}

fn encode<T: serde::Serialize + ?Sized>(
    component: &str,
    value: &T,
) -> Result<ComponentObject, ComponentCodecError> {
    let json = serde_json::to_vec(value).map_err(|e| ComponentCodecError::Serialize {
        component: component.to_owned(),
        message: e.to_string(),
    })?;
    let mut bytes = Vec::with_capacity(RUST_COMPONENT_MAGIC.len() + json.len());
    bytes.extend_from_slice(RUST_COMPONENT_MAGIC);
    bytes.extend_from_slice(&json);
    Ok(ComponentObject::SerializedJava(bytes))
}

fn rust_bytes<'a>(
    component: &str,
    object: &'a ComponentObject,
) -> Result<&'a [u8], ComponentCodecError> {
    check_component_object(component, object)?;
    match object {
        ComponentObject::SerializedJava(bytes) => bytes
            .strip_prefix(RUST_COMPONENT_MAGIC.as_slice())
            .ok_or_else(|| ComponentCodecError::NotRust {
                component: component.to_owned(),
            }),
        ComponentObject::Shell(_) => Err(ComponentCodecError::NotRust {
            component: component.to_owned(),
        }),
        ComponentObject::JavaObject(_) => Err(ComponentCodecError::Unsupported {
            component: component.to_owned(),
            kind: "java_object",
        }),
    }
}

fn decode_error(component: &str, e: serde_json::Error) -> ComponentCodecError {
    ComponentCodecError::Deserialize {
        component: component.to_owned(),
        message: e.to_string(),
    }
}

/// A spout as the topology carries it.
pub fn spout_object(
    component: &str,
    spout: &dyn Spout,
) -> Result<ComponentObject, ComponentCodecError> {
    if let Some(command) = spout.shell_command() {
        return crate::multilang::shell_component_object(component, command);
    }
    encode(component, spout)
}

/// A bolt as the topology carries it.
pub fn bolt_object(
    component: &str,
    bolt: &dyn Bolt,
) -> Result<ComponentObject, ComponentCodecError> {
    if let Some(command) = bolt.shell_command() {
        return crate::multilang::shell_component_object(component, command);
    }
    encode(component, bolt)
}

/// Whether the component object is one only a JVM can make (Java-serialized, or a `java_object`).
pub fn is_java_object(object: &ComponentObject) -> bool {
    match object {
        ComponentObject::SerializedJava(bytes) => bytes.starts_with(&JAVA_SERIALIZATION_MAGIC),
        ComponentObject::JavaObject(_) => true,
        ComponentObject::Shell(_) => false,
    }
}

/// Rebuilds a spout from the topology's component object (a Java one becomes a
/// [`JavaSpout`](crate::jvm::JavaSpout), made in the worker's JVM when it opens).
pub fn decode_spout(
    component: &str,
    object: &ComponentObject,
) -> Result<Box<dyn Spout>, ComponentCodecError> {
    if is_java_object(object) {
        return Ok(Box::new(crate::jvm::JavaSpout::new(
            component,
            crate::thrift::serialize(object),
        )));
    }
    if let ComponentObject::Shell(shell) = object {
        return Ok(Box::new(crate::multilang::ShellSpout::from_component(
            shell,
        )));
    }
    let bytes = rust_bytes(component, object)?;
    serde_json::from_slice(bytes).map_err(|e| decode_error(component, e))
}

/// Rebuilds a bolt from the topology's component object (a Java one becomes a
/// [`JavaBolt`](crate::jvm::JavaBolt), made in the worker's JVM when it is prepared).
pub fn decode_bolt(
    component: &str,
    object: &ComponentObject,
) -> Result<Box<dyn Bolt>, ComponentCodecError> {
    if is_java_object(object) {
        return Ok(Box::new(crate::jvm::JavaBolt::new(
            component,
            crate::thrift::serialize(object),
        )));
    }
    if let ComponentObject::Shell(shell) = object {
        return Ok(Box::new(crate::multilang::ShellBolt::from_component(shell)));
    }
    let bytes = rust_bytes(component, object)?;
    serde_json::from_slice(bytes).map_err(|e| decode_error(component, e))
}

/// Whether `topology` has anything only a JVM can run: a Java-serialized component or custom
/// grouping, or a `java_object` component. Such a topology's workers start an embedded JVM.
pub fn has_java_components(topology: &crate::thrift::StormTopology) -> bool {
    let java_object = |o: &ComponentObject| match o {
        ComponentObject::SerializedJava(b) => b.starts_with(&JAVA_SERIALIZATION_MAGIC),
        ComponentObject::JavaObject(_) => true,
        ComponentObject::Shell(_) => false,
    };
    let java_grouping = |g: &Grouping| matches!(g, Grouping::CustomSerialized(b) if b.starts_with(&JAVA_SERIALIZATION_MAGIC));
    topology
        .spouts
        .values()
        .any(|s| java_object(&s.spout_object) || s.common.inputs.values().any(java_grouping))
        || topology
            .bolts
            .values()
            .any(|b| java_object(&b.bolt_object) || b.common.inputs.values().any(java_grouping))
}

/// Builds a user grouping from its configuration bytes.
pub type CustomGroupingFn =
    dyn Fn(&[u8]) -> Result<Box<dyn CustomStreamGrouping>, GroupingError> + Send + Sync;

fn registry() -> &'static RwLock<HashMap<String, Arc<CustomGroupingFn>>> {
    static REGISTRY: OnceLock<RwLock<HashMap<String, Arc<CustomGroupingFn>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// Registers a user grouping under `name` in this process (call it before topologies using it start;
/// a worker resolves `custom_grouping(…, name, …)` subscriptions through this registry).
pub fn register_custom_grouping<F>(name: &str, factory: F)
where
    F: Fn(&[u8]) -> Result<Box<dyn CustomStreamGrouping>, GroupingError> + Send + Sync + 'static,
{
    registry()
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .insert(name.to_owned(), Arc::new(factory));
}

/// The factory registered under `name`.
pub fn registered_custom_grouping(name: &str) -> Option<Arc<CustomGroupingFn>> {
    registry()
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(name)
        .cloned()
}

/// The Thrift grouping of a user grouping named `name` with configuration `payload`.
pub fn custom_grouping(name: &str, payload: Vec<u8>) -> Grouping {
    Grouping::CustomObject(JavaObject {
        full_class_name: name.to_owned(),
        args_list: vec![JavaObjectArg::BinaryArg(payload)],
    })
}

/// The Thrift grouping of a partial-key grouping on `fields`.
pub(crate) fn partial_key_grouping(fields: Vec<String>) -> Grouping {
    Grouping::CustomObject(JavaObject {
        full_class_name: PARTIAL_KEY_GROUPING_CLASS.to_owned(),
        args_list: fields.into_iter().map(JavaObjectArg::StringArg).collect(),
    })
}

/// The routing form of a subscription's Thrift grouping.
pub fn grouping_from_thrift(grouping: &Grouping) -> Result<RouteGrouping, GroupingError> {
    Ok(match grouping {
        Grouping::Fields(f) => RouteGrouping::Fields(f.clone()),
        Grouping::Shuffle(_) => RouteGrouping::Shuffle,
        Grouping::LocalOrShuffle(_) => RouteGrouping::LocalOrShuffle,
        Grouping::All(_) => RouteGrouping::All,
        Grouping::None(_) => RouteGrouping::None,
        Grouping::Direct(_) => RouteGrouping::Direct,
        Grouping::CustomObject(obj) if obj.full_class_name == PARTIAL_KEY_GROUPING_CLASS => {
            let mut fields = Vec::new();
            for arg in &obj.args_list {
                match arg {
                    JavaObjectArg::StringArg(s) => fields.push(s.clone()),
                    other => {
                        return Err(GroupingError::Custom {
                            name: obj.full_class_name.clone(),
                            message: format!("unexpected argument {other:?}"),
                        })
                    }
                }
            }
            RouteGrouping::PartialKey(fields)
        }
        Grouping::CustomObject(obj) => {
            let payload = match obj.args_list.as_slice() {
                [] => Vec::new(),
                [JavaObjectArg::BinaryArg(b)] => b.clone(),
                [JavaObjectArg::StringArg(s)] => s.clone().into_bytes(),
                _ => {
                    return Err(GroupingError::Custom {
                        name: obj.full_class_name.clone(),
                        message: "expected at most one binary argument".into(),
                    })
                }
            };
            RouteGrouping::Custom {
                name: obj.full_class_name.clone(),
                payload,
            }
        }
        Grouping::CustomSerialized(bytes) if bytes.starts_with(&JAVA_SERIALIZATION_MAGIC) => {
            // A Java CustomStreamGrouping: run in the worker's JVM (registered when it starts).
            RouteGrouping::Custom {
                name: crate::jvm::JAVA_GROUPING.to_owned(),
                payload: bytes.clone(),
            }
        }
        Grouping::CustomSerialized(_) => {
            return Err(GroupingError::Custom {
                name: "custom_serialized".into(),
                message: "custom_serialized groupings must be Java-serialized CustomStreamGroupings (run in the worker's JVM); for a Rust grouping register it and use custom_grouping".into(),
            })
        }
    })
}
