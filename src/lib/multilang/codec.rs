//! The multilang wire format (storm-internals §10, Storm's `JsonSerializer`): `<json>\nend\n` framing
//! with bounded lines and messages, the messages a subprocess sends ([`ShellMsg`]), the messages Storm
//! sends (handshake, tuples, heartbeats, task-id lists, spout commands), tuple values ↔ JSON, and the
//! handshake's `context` (Storm's `TopologyContext.toJSONString`).
//!
//! Nothing here panics on bad input: a broken frame or message is a [`FrameError`] carrying the
//! offending text (shortened).

use std::collections::BTreeMap;
use std::io::BufRead;

use serde_json::{json, Map, Value as Json};

use crate::api::TopologyContext;
use crate::thrift::Grouping;
use crate::topology::system::DEFAULT_STREAM_ID;
use crate::tuple::Value;

/// Largest message (all its lines) accepted from a subprocess.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// How much of an offending text an error quotes.
const QUOTE_CHARS: usize = 200;

/// The stream of Storm's heartbeat tuples to a shell bolt.
pub const HEARTBEAT_STREAM_ID: &str = "__heartbeat";

/// Why a frame or message from a subprocess could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// EOF before `end` (Storm: "Pipe to subprocess seems to be broken!").
    #[error("Pipe to subprocess seems to be broken! {}", if partial.is_empty() { "No output read.".to_owned() } else { format!("Currently read output: {partial}") })]
    Eof { partial: String },
    #[error("subprocess message longer than {limit} bytes (starts with {start:?})")]
    TooLong { limit: usize, start: String },
    #[error("subprocess output is not UTF-8 (starts with {start:?})")]
    NotUtf8 { start: String },
    #[error("subprocess sent invalid JSON ({error}): {text:?}")]
    BadJson { text: String, error: String },
    #[error("bad subprocess message ({problem}): {text:?}")]
    BadMessage { text: String, problem: String },
    #[error("cannot read from the subprocess: {0}")]
    Io(String),
}

/// The first `QUOTE_CHARS` characters of `text`, with `…` when cut.
pub fn quote(text: &str) -> String {
    let mut out: String = text.chars().take(QUOTE_CHARS).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

fn quote_bytes(bytes: &[u8]) -> String {
    quote(&String::from_utf8_lossy(
        &bytes[..bytes.len().min(QUOTE_CHARS * 4)],
    ))
}

/// Reads `<lines>\nend\n` frames from a subprocess's stdout.
pub struct FrameReader<R> {
    inner: R,
    limit: usize,
}

impl<R: BufRead> FrameReader<R> {
    pub fn new(inner: R) -> FrameReader<R> {
        FrameReader::with_limit(inner, MAX_MESSAGE_BYTES)
    }

    pub fn with_limit(inner: R, limit: usize) -> FrameReader<R> {
        FrameReader { inner, limit }
    }

    /// Reads one line into `buf` (without the newline), at most `room` bytes. `Ok(false)` at EOF
    /// before any byte.
    fn read_line(&mut self, buf: &mut Vec<u8>, room: usize) -> Result<bool, FrameError> {
        let start = buf.len();
        loop {
            let available = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(FrameError::Io(e.to_string())),
            };
            if available.is_empty() {
                return Ok(buf.len() > start);
            }
            let (chunk, used, done) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..i], i + 1, true),
                None => (available, available.len(), false),
            };
            if buf.len() - start + chunk.len() > room {
                let mut start_bytes = buf[start..].to_vec();
                start_bytes.extend_from_slice(chunk);
                return Err(FrameError::TooLong {
                    limit: self.limit,
                    start: quote_bytes(&start_bytes),
                });
            }
            buf.extend_from_slice(chunk);
            self.inner.consume(used);
            if done {
                if buf.len() > start && buf[buf.len() - 1] == b'\r' {
                    buf.pop();
                }
                return Ok(true);
            }
        }
    }

    /// The text of the next message: the lines before a line `end`, joined with `\n`.
    pub fn read_message(&mut self) -> Result<String, FrameError> {
        let mut message: Vec<u8> = Vec::new();
        let mut line: Vec<u8> = Vec::new();
        let mut lines = 0usize;
        loop {
            line.clear();
            let room = self.limit.saturating_sub(message.len());
            if !self.read_line(&mut line, room)? {
                return Err(FrameError::Eof {
                    partial: quote_bytes(&message),
                });
            }
            if line == b"end" {
                break;
            }
            if lines > 0 {
                if message.len() + 1 > self.limit {
                    return Err(FrameError::TooLong {
                        limit: self.limit,
                        start: quote_bytes(&message),
                    });
                }
                message.push(b'\n');
            }
            message.extend_from_slice(&line);
            lines += 1;
        }
        String::from_utf8(message).map_err(|e| FrameError::NotUtf8 {
            start: quote_bytes(e.as_bytes()),
        })
    }
}

/// One frame: `json` + `\nend\n`.
pub fn frame(message: &Json) -> Vec<u8> {
    let mut out = serde_json::to_vec(message).unwrap_or_else(|_| b"null".to_vec());
    out.extend_from_slice(b"\nend\n");
    out
}

/// Parses a message's text as JSON.
pub fn parse_json(text: &str) -> Result<Json, FrameError> {
    serde_json::from_str(text).map_err(|e| FrameError::BadJson {
        text: quote(text),
        error: e.to_string(),
    })
}

/// The `pid` of the handshake reply `{"pid": N}`.
pub fn parse_pid(text: &str) -> Result<u32, FrameError> {
    let json = parse_json(text)?;
    json.get("pid")
        .and_then(Json::as_u64)
        .and_then(|p| u32::try_from(p).ok())
        .ok_or_else(|| FrameError::BadMessage {
            text: quote(text),
            problem: "the handshake reply must be {\"pid\": <process id>}".into(),
        })
}

/// A `log` command's level (Storm's `ShellLogLevel`; anything else is INFO).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    pub fn from_number(n: i64) -> LogLevel {
        match n {
            0 => LogLevel::Trace,
            1 => LogLevel::Debug,
            3 => LogLevel::Warn,
            4 => LogLevel::Error,
            _ => LogLevel::Info,
        }
    }
}

/// An `emit` from a subprocess.
#[derive(Debug, Clone, PartialEq)]
pub struct Emit {
    /// Spouts: the message id (string or number); `None` for an unreliable tuple.
    pub id: Option<Json>,
    /// Bolts: the ids of the input tuples the emit is anchored to.
    pub anchors: Vec<String>,
    pub stream: String,
    /// A direct emit's target task (`task` present and non-zero).
    pub task: Option<i32>,
    pub tuple: Vec<Json>,
    /// Whether the subprocess waits for the target task ids (default true).
    pub need_task_ids: bool,
}

/// A message from a subprocess (Storm's `ShellMsg`).
#[derive(Debug, Clone, PartialEq)]
pub enum ShellMsg {
    Emit(Emit),
    Ack {
        id: Json,
    },
    Fail {
        id: Json,
    },
    Log {
        msg: String,
        level: LogLevel,
    },
    Error {
        msg: String,
    },
    Metrics {
        name: String,
        params: Json,
    },
    Sync,
    /// Any other command (ignored by bolts, fatal for spouts, as in Storm).
    Other {
        command: String,
    },
}

fn bad(text: &str, problem: impl Into<String>) -> FrameError {
    FrameError::BadMessage {
        text: quote(text),
        problem: problem.into(),
    }
}

impl ShellMsg {
    /// Parses one message's text.
    pub fn parse(text: &str) -> Result<ShellMsg, FrameError> {
        let json = parse_json(text)?;
        ShellMsg::from_json(json, text)
    }

    fn from_json(json: Json, text: &str) -> Result<ShellMsg, FrameError> {
        let Json::Object(mut obj) = json else {
            return Err(bad(text, "a message must be a JSON object"));
        };
        let command = match obj.remove("command") {
            Some(Json::String(c)) => c,
            Some(_) => return Err(bad(text, "\"command\" must be a string")),
            None => return Err(bad(text, "Command not found in message")),
        };
        let id = || -> Result<Json, FrameError> {
            match obj.get("id") {
                Some(v @ (Json::String(_) | Json::Number(_))) => Ok(v.clone()),
                _ => Err(bad(text, format!("\"{command}\" needs an \"id\""))),
            }
        };
        Ok(match command.as_str() {
            "emit" => {
                let anchors = match obj.get("anchors") {
                    None | Some(Json::Null) => Vec::new(),
                    Some(Json::String(s)) => vec![s.clone()],
                    Some(Json::Array(list)) => list
                        .iter()
                        .map(|a| match a {
                            Json::String(s) => Ok(s.clone()),
                            Json::Number(n) => Ok(n.to_string()),
                            _ => Err(bad(text, "an anchor must be a tuple id string")),
                        })
                        .collect::<Result<_, _>>()?,
                    Some(_) => {
                        return Err(bad(
                            text,
                            "\"anchors\" must be a list of tuple ids or one id",
                        ))
                    }
                };
                let stream = match obj.get("stream") {
                    None | Some(Json::Null) => DEFAULT_STREAM_ID.to_owned(),
                    Some(Json::String(s)) => s.clone(),
                    Some(_) => return Err(bad(text, "\"stream\" must be a string")),
                };
                let task = match obj.get("task") {
                    None | Some(Json::Null) => None,
                    Some(Json::Number(n)) => match n.as_i64() {
                        Some(0) => None,
                        Some(t) => Some(
                            i32::try_from(t).map_err(|_| bad(text, "\"task\" is out of range"))?,
                        ),
                        None => return Err(bad(text, "\"task\" must be an integer")),
                    },
                    Some(_) => return Err(bad(text, "\"task\" must be an integer")),
                };
                let tuple = match obj.remove("tuple") {
                    None | Some(Json::Null) => Vec::new(),
                    Some(Json::Array(values)) => values,
                    Some(_) => return Err(bad(text, "\"tuple\" must be a list")),
                };
                let need_task_ids = match obj.get("need_task_ids") {
                    None | Some(Json::Null) => true,
                    Some(Json::Bool(b)) => *b,
                    Some(_) => return Err(bad(text, "\"need_task_ids\" must be a boolean")),
                };
                let id = match obj.get("id") {
                    None | Some(Json::Null) => None,
                    Some(v) => Some(v.clone()),
                };
                ShellMsg::Emit(Emit {
                    id,
                    anchors,
                    stream,
                    task,
                    tuple,
                    need_task_ids,
                })
            }
            "ack" => ShellMsg::Ack { id: id()? },
            "fail" => ShellMsg::Fail { id: id()? },
            "log" | "error" => {
                let msg = match obj.get("msg") {
                    Some(Json::String(s)) => s.clone(),
                    None | Some(Json::Null) => String::new(),
                    Some(other) => other.to_string(),
                };
                if command == "error" {
                    ShellMsg::Error { msg }
                } else {
                    let level = obj
                        .get("level")
                        .and_then(Json::as_i64)
                        .map_or(LogLevel::Info, LogLevel::from_number);
                    ShellMsg::Log { msg, level }
                }
            }
            "metrics" => {
                let name = match obj.get("name") {
                    Some(Json::String(s)) => s.clone(),
                    _ => return Err(bad(text, "\"metrics\" needs a \"name\"")),
                };
                ShellMsg::Metrics {
                    name,
                    params: obj.remove("params").unwrap_or(Json::Null),
                }
            }
            "sync" => ShellMsg::Sync,
            _ => ShellMsg::Other { command },
        })
    }
}

/// An id as the string a bolt's input map is keyed by (ids are strings; a number is accepted).
pub fn id_string(id: &Json) -> String {
    match id {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A tuple value as JSON (json-simple's rendering in Storm: `byte[]` as a list of signed bytes, map keys
/// as their string form, non-finite floats as `null`).
pub fn value_to_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Long(l) => Json::from(*l),
        Value::Float(f) => {
            serde_json::Number::from_f64(f64::from(*f)).map_or(Json::Null, Json::Number)
        }
        Value::Double(d) => serde_json::Number::from_f64(*d).map_or(Json::Null, Json::Number),
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::Array(b.iter().map(|&x| Json::from(x as i8)).collect()),
        Value::Java(_) => Json::String(value.java_to_string()),
        Value::List(l) => Json::Array(l.iter().map(value_to_json).collect()),
        Value::Map(m) => {
            let mut obj = Map::new();
            for (k, v) in m {
                let key = match k {
                    Value::String(s) => s.clone(),
                    other => other.java_display().to_string(),
                };
                obj.insert(key, value_to_json(v));
            }
            Json::Object(obj)
        }
    }
}

/// A JSON value from a subprocess as a tuple value: integers as `Long` (beyond `i64`: `Double`),
/// other numbers as `Double`, objects as maps with string keys.
pub fn json_to_value(json: &Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Long(i),
            None => Value::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::String(s.clone()),
        Json::Array(a) => Value::List(a.iter().map(json_to_value).collect()),
        Json::Object(o) => Value::Map(
            o.iter()
                .map(|(k, v)| (Value::String(k.clone()), json_to_value(v)))
                .collect(),
        ),
    }
}

/// The handshake Storm sends first: `{"conf", "pidDir", "context"}`.
pub fn handshake(conf: &Map<String, Json>, pid_dir: &str, context: Json) -> Json {
    json!({ "conf": conf, "pidDir": pid_dir, "context": context })
}

/// A tuple to a shell bolt: `{"id", "comp", "stream", "task", "tuple"}`.
pub fn tuple_message(
    id: &str,
    comp: Option<&str>,
    stream: &str,
    task: i32,
    values: &[Value],
) -> Json {
    json!({
        "id": id,
        "comp": comp,
        "stream": stream,
        "task": task,
        "tuple": values.iter().map(value_to_json).collect::<Vec<_>>(),
    })
}

/// The heartbeat tuple (`comp` null, task −1, stream `__heartbeat`, no values).
pub fn heartbeat_message(id: &str) -> Json {
    tuple_message(id, None, HEARTBEAT_STREAM_ID, -1, &[])
}

/// A spout command: `{"command": "next"|"ack"|"fail"|"activate"|"deactivate", "id": …}`.
pub fn spout_command(command: &str, id: Json) -> Json {
    json!({ "command": command, "id": id })
}

fn grouping_json(grouping: &Grouping) -> Json {
    let kind = match grouping {
        Grouping::Fields(_) => "FIELDS",
        Grouping::Shuffle(_) => "SHUFFLE",
        Grouping::All(_) => "ALL",
        Grouping::None(_) => "NONE",
        Grouping::Direct(_) => "DIRECT",
        Grouping::CustomObject(_) => "CUSTOM_OBJECT",
        Grouping::CustomSerialized(_) => "CUSTOM_SERIALIZED",
        Grouping::LocalOrShuffle(_) => "LOCAL_OR_SHUFFLE",
    };
    match grouping {
        Grouping::Fields(fields) => json!({ "type": kind, "fields": fields }),
        _ => json!({ "type": kind }),
    }
}

/// Storm's `TopologyContext.toJSONString()`: `task->component`, `taskid`, `componentid`, `streams`,
/// `stream->outputfields`, `stream->target->grouping`, `source->stream->grouping`,
/// `source->stream->fields`.
pub fn context_json(context: &TopologyContext) -> Json {
    let task_to_component: Map<String, Json> = context
        .task_to_component()
        .iter()
        .map(|(t, c)| (t.to_string(), Json::String(c.clone())))
        .collect();
    let worker = context.worker();
    let me = context.this_component_id();
    let mut streams = Vec::new();
    let mut output_fields = Map::new();
    if let Some(decls) = worker.component_streams(me) {
        for (stream, decl) in decls {
            streams.push(Json::String(stream.clone()));
            output_fields.insert(
                stream.clone(),
                Json::Array(
                    decl.fields
                        .iter()
                        .map(|f| Json::String(f.to_owned()))
                        .collect(),
                ),
            );
        }
    }
    let mut targets = Map::new();
    if let Some(t) = context.this_targets() {
        for (stream, by_target) in t {
            let inner: Map<String, Json> = by_target
                .iter()
                .map(|(target, g)| (target.clone(), grouping_json(g)))
                .collect();
            targets.insert(stream.clone(), Json::Object(inner));
        }
    }
    let mut sources: BTreeMap<String, Map<String, Json>> = BTreeMap::new();
    let mut source_fields: BTreeMap<String, Map<String, Json>> = BTreeMap::new();
    if let Some(s) = context.this_sources() {
        for (gsid, g) in s {
            sources
                .entry(gsid.component_id.clone())
                .or_default()
                .insert(gsid.stream_id.clone(), grouping_json(g));
            if let Some(fields) =
                worker.component_output_fields(&gsid.component_id, &gsid.stream_id)
            {
                source_fields
                    .entry(gsid.component_id.clone())
                    .or_default()
                    .insert(
                        gsid.stream_id.clone(),
                        Json::Array(fields.iter().map(|f| Json::String(f.to_owned())).collect()),
                    );
            }
        }
    }
    let to_obj = |m: BTreeMap<String, Map<String, Json>>| -> Json {
        Json::Object(m.into_iter().map(|(k, v)| (k, Json::Object(v))).collect())
    };
    json!({
        "task->component": task_to_component,
        "taskid": context.this_task_id(),
        "componentid": me,
        "streams": streams,
        "stream->outputfields": output_fields,
        "stream->target->grouping": targets,
        "source->stream->grouping": to_obj(sources),
        "source->stream->fields": to_obj(source_fields),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Cursor;

    fn reader(bytes: &[u8]) -> FrameReader<Cursor<Vec<u8>>> {
        FrameReader::new(Cursor::new(bytes.to_vec()))
    }

    #[test]
    fn reads_frames_including_multiline_and_crlf() {
        let mut r = reader(b"{\"pid\": 12}\nend\n{\"command\":\n\"sync\"}\r\nend\r\n");
        assert_eq!(r.read_message().unwrap(), "{\"pid\": 12}");
        assert_eq!(parse_pid("{\"pid\": 12}").unwrap(), 12);
        let text = r.read_message().unwrap();
        assert_eq!(text, "{\"command\":\n\"sync\"}");
        assert_eq!(ShellMsg::parse(&text).unwrap(), ShellMsg::Sync);
        assert_eq!(
            r.read_message(),
            Err(FrameError::Eof {
                partial: String::new()
            })
        );
    }

    #[test]
    fn eof_mid_message_names_what_was_read() {
        let err = reader(b"{\"command\": \"sy").read_message().unwrap_err();
        assert!(matches!(&err, FrameError::Eof { partial } if partial == "{\"command\": \"sy"));
        assert!(err
            .to_string()
            .contains("Pipe to subprocess seems to be broken!"));
        let err = reader(b"").read_message().unwrap_err();
        assert!(err.to_string().contains("No output read."), "{err}");
    }

    #[test]
    fn oversize_lines_and_messages_are_refused() {
        let mut long = vec![b'x'; 100];
        long.extend_from_slice(b"\nend\n");
        let err = FrameReader::with_limit(Cursor::new(long), 50)
            .read_message()
            .unwrap_err();
        assert!(
            matches!(err, FrameError::TooLong { limit: 50, .. }),
            "{err}"
        );
        // Many short lines adding up beyond the limit.
        let many = "ab\n".repeat(40) + "end\n";
        let err = FrameReader::with_limit(Cursor::new(many.into_bytes()), 50)
            .read_message()
            .unwrap_err();
        assert!(matches!(err, FrameError::TooLong { .. }), "{err}");
    }

    #[test]
    fn bad_json_and_bad_messages_quote_the_text() {
        let err = ShellMsg::parse("{\"command\": emit}").unwrap_err();
        assert!(
            matches!(&err, FrameError::BadJson { text, .. } if text.contains("emit")),
            "{err}"
        );
        let err = ShellMsg::parse("{\"id\": 3}").unwrap_err();
        assert!(err.to_string().contains("Command not found"), "{err}");
        let err = ShellMsg::parse("[1,2]").unwrap_err();
        assert!(err.to_string().contains("JSON object"), "{err}");
        let err = ShellMsg::parse("{\"command\":\"emit\",\"tuple\":5}").unwrap_err();
        assert!(
            err.to_string().contains("\"tuple\" must be a list"),
            "{err}"
        );
        let err = ShellMsg::parse("{\"command\":\"ack\"}").unwrap_err();
        assert!(err.to_string().contains("needs an \"id\""), "{err}");
        let long = format!("{{\"command\": {}", "x".repeat(1000));
        let err = ShellMsg::parse(&long).unwrap_err();
        assert!(err.to_string().len() < 600, "quoted text is shortened");
    }

    #[test]
    fn emit_anchors_as_string_or_list_and_defaults() {
        let one = ShellMsg::parse(r#"{"command":"emit","anchors":"-42","tuple":["a"]}"#).unwrap();
        let many = ShellMsg::parse(
            r#"{"command":"emit","anchors":["1","2"],"tuple":["a",1],"stream":"s","task":7,"need_task_ids":false}"#,
        )
        .unwrap();
        match one {
            ShellMsg::Emit(e) => {
                assert_eq!(e.anchors, vec!["-42".to_owned()]);
                assert_eq!(e.stream, "default");
                assert_eq!(e.task, None);
                assert!(e.need_task_ids, "need_task_ids defaults to true");
                assert_eq!(e.id, None);
            }
            other => panic!("{other:?}"),
        }
        match many {
            ShellMsg::Emit(e) => {
                assert_eq!(e.anchors, vec!["1".to_owned(), "2".to_owned()]);
                assert_eq!(e.stream, "s");
                assert_eq!(e.task, Some(7));
                assert!(!e.need_task_ids);
                assert_eq!(e.tuple, vec![json!("a"), json!(1)]);
            }
            other => panic!("{other:?}"),
        }
        let zero = ShellMsg::parse(r#"{"command":"emit","task":0,"tuple":[],"id":5}"#).unwrap();
        assert!(matches!(
            zero,
            ShellMsg::Emit(Emit {
                task: None,
                id: Some(_),
                ..
            })
        ));
    }

    #[test]
    fn other_commands() {
        assert_eq!(
            ShellMsg::parse(r#"{"command":"log","msg":"hi","level":4}"#).unwrap(),
            ShellMsg::Log {
                msg: "hi".into(),
                level: LogLevel::Error
            }
        );
        assert_eq!(
            ShellMsg::parse(r#"{"command":"log","msg":"hi"}"#).unwrap(),
            ShellMsg::Log {
                msg: "hi".into(),
                level: LogLevel::Info
            }
        );
        assert_eq!(
            ShellMsg::parse(r#"{"command":"ack","id":"12"}"#).unwrap(),
            ShellMsg::Ack { id: json!("12") }
        );
        assert_eq!(
            ShellMsg::parse(r#"{"command":"metrics","name":"m","params":[1]}"#).unwrap(),
            ShellMsg::Metrics {
                name: "m".into(),
                params: json!([1])
            }
        );
        assert_eq!(
            ShellMsg::parse(r#"{"command":"bogus"}"#).unwrap(),
            ShellMsg::Other {
                command: "bogus".into()
            }
        );
    }

    #[test]
    fn outgoing_messages_have_storms_form() {
        let t = tuple_message(
            "7",
            Some("split"),
            "default",
            3,
            &[Value::from("the"), Value::Long(2)],
        );
        assert_eq!(
            String::from_utf8(frame(&t)).unwrap(),
            "{\"id\":\"7\",\"comp\":\"split\",\"stream\":\"default\",\"task\":3,\"tuple\":[\"the\",2]}\nend\n"
        );
        let hb = heartbeat_message("9");
        assert_eq!(hb["comp"], Json::Null);
        assert_eq!(hb["stream"], "__heartbeat");
        assert_eq!(hb["task"], -1);
        assert_eq!(
            String::from_utf8(frame(&json!([4, 5]))).unwrap(),
            "[4,5]\nend\n"
        );
        assert_eq!(
            spout_command("next", json!("")),
            json!({"command":"next","id":""})
        );
    }

    #[test]
    fn values_to_json() {
        let v = Value::Map(vec![
            (Value::from("a"), Value::Bytes(vec![1, 255])),
            (
                Value::Long(3),
                Value::List(vec![Value::Bool(true), Value::Null]),
            ),
            (Value::from("f"), Value::Double(f64::NAN)),
        ]);
        assert_eq!(
            value_to_json(&v),
            json!({"a": [1, -1], "3": [true, null], "f": null})
        );
        assert_eq!(json_to_value(&json!(1.5)), Value::Double(1.5));
        assert_eq!(
            json_to_value(&json!(u64::MAX)),
            Value::Double(u64::MAX as f64)
        );
    }

    fn arb_json() -> impl Strategy<Value = Json> {
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            any::<i64>().prop_map(Json::from),
            "[a-z\\n\"\\\\é]{0,12}".prop_map(Json::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
                prop::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                    .prop_map(|m| Json::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn framed_messages_round_trip(messages in prop::collection::vec(arb_json(), 1..6)) {
            let mut bytes = Vec::new();
            for m in &messages {
                bytes.extend_from_slice(&frame(m));
            }
            let mut r = reader(&bytes);
            for m in &messages {
                let text = r.read_message().unwrap();
                prop_assert_eq!(&parse_json(&text).unwrap(), m);
            }
            prop_assert!(
                matches!(r.read_message(), Err(FrameError::Eof { .. })),
                "EOF after the last message"
            );
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let mut r = FrameReader::with_limit(Cursor::new(bytes), 64);
            for _ in 0..8 {
                match r.read_message() {
                    Ok(text) => { let _ = ShellMsg::parse(&text); }
                    Err(_) => break,
                }
            }
        }

        #[test]
        fn emit_round_trips(
            tuple in prop::collection::vec(arb_json(), 0..4),
            anchors in prop::collection::vec("-?[0-9]{1,19}", 0..4),
            single in any::<bool>(),
            stream in "[a-z_]{1,8}",
            need in prop::option::of(any::<bool>()),
        ) {
            let mut msg = json!({"command": "emit", "tuple": tuple, "stream": stream});
            if single && anchors.len() == 1 {
                msg["anchors"] = json!(anchors[0]);
            } else {
                msg["anchors"] = json!(anchors);
            }
            if let Some(n) = need {
                msg["need_task_ids"] = json!(n);
            }
            let text = msg.to_string();
            match ShellMsg::parse(&text).unwrap() {
                ShellMsg::Emit(e) => {
                    prop_assert_eq!(e.anchors, anchors);
                    prop_assert_eq!(e.tuple, tuple);
                    prop_assert_eq!(e.stream, stream);
                    prop_assert_eq!(e.need_task_ids, need.unwrap_or(true));
                }
                other => prop_assert!(false, "{:?}", other),
            }
        }
    }
}
