//! Storm's UI REST API under `/api/v1` (`StormApiResource`): routing a method and path to the nimbus
//! calls behind it and to the JSON document of [`super::json`]. Every GET endpoint of Storm 2.x is
//! served, and the POST actions (activate, deactivate, rebalance with Storm 1.x's optional
//! `{"rebalanceOptions": {"numWorkers": N, "executors": {"comp": N}}}` body, kill, debug, log levels,
//! profiling requests) when `ui.actions.enabled` is true.
//!
//! Errors are Storm's: `{"error": "<status> <reason>", "errorMessage": "<message>"}` with status 500
//! for every failure of the request itself (an unknown topology id answers
//! `"errorMessage": "org.apache.storm.generated.NotAliveException"`, since that exception carries no
//! Java message; a wait time that is not a number answers `For input string: "x"`). storm-rs adds
//! 404 for a path that is no endpoint, 405 for a method an endpoint does not take, 403 for an action
//! while `ui.actions.enabled` is false and 413 for a request body over [`MAX_BODY_BYTES`] (Storm's
//! servlet answers those with other statuses or HTML).

use std::collections::BTreeMap;

use serde_json::{json, Value};
use thrift::OrderedFloat;

use super::format::{window_hint, ALL_TIME};
use super::json;
use super::nimbus::{Client, NimbusPool};
use crate::client::NimbusClientError;
use crate::config::Config;

use crate::thrift::{
    AlreadyAliveException, AuthorizationException, GetInfoOptions, IllegalStateException,
    InvalidTopologyException, KeyNotFoundException, KillOptions, LogConfig, LogLevel,
    LogLevelAction, NodeInfo, NotAliveException, NumErrorsChoice, ProfileAction, ProfileRequest,
    RebalanceOptions, TNimbusSyncClient, TopologyInfo,
};

/// The largest request body read (rebalance options, log levels).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The HTTP methods the API distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Other,
}

pub use crate::http::Query;

/// `window`, `:all-time` when absent or empty.
pub fn window(query: &Query) -> String {
    match query.get("window") {
        Some(w) if !w.trim().is_empty() => w.trim().to_string(),
        _ => ALL_TIME.to_string(),
    }
}

/// A response body: a JSON document, or JSON text passed through as nimbus sent it.
#[derive(Debug)]
pub enum Body {
    Json(Value),
    Raw(String),
}

/// Why a request failed; [`ApiError::status`] and [`ApiError::to_json`] give Storm's answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A nimbus call failed; `message` is what Storm's UI would say, `detail` is for the log.
    #[error("{message}")]
    Nimbus { message: String, detail: String },
    /// A parameter Storm would fail to parse (Storm answers 500).
    #[error("{0}")]
    Invalid(String),
    #[error("HTTP 404 Not Found")]
    NotFound,
    #[error("HTTP 405 Method Not Allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Forbidden(String),
    #[error("the request body is over {MAX_BODY_BYTES} bytes")]
    TooLarge,
}

/// The reason phrase Storm's Jetty writes for a status.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        503 => "Service Unavailable",
        _ => "Server Error",
    }
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Nimbus { .. } | ApiError::Invalid(_) => 500,
            ApiError::NotFound => 404,
            ApiError::MethodNotAllowed => 405,
            ApiError::Forbidden(_) => 403,
            ApiError::TooLarge => 413,
        }
    }

    /// Storm's error object.
    pub fn to_json(&self) -> Value {
        let status = self.status();
        json!({
            "error": format!("{status} {}", reason(status)),
            "errorMessage": self.to_string(),
        })
    }
}

/// The Java class of a Thrift exception nimbus declared (these carry no Java message, so Storm's
/// UI reports the class name).
fn java_exception_class(
    e: &(dyn std::error::Error + Send + Sync + 'static),
) -> Option<&'static str> {
    if e.downcast_ref::<NotAliveException>().is_some() {
        Some("org.apache.storm.generated.NotAliveException")
    } else if e.downcast_ref::<AlreadyAliveException>().is_some() {
        Some("org.apache.storm.generated.AlreadyAliveException")
    } else if e.downcast_ref::<InvalidTopologyException>().is_some() {
        Some("org.apache.storm.generated.InvalidTopologyException")
    } else if e.downcast_ref::<AuthorizationException>().is_some() {
        Some("org.apache.storm.generated.AuthorizationException")
    } else if e.downcast_ref::<KeyNotFoundException>().is_some() {
        Some("org.apache.storm.generated.KeyNotFoundException")
    } else if e.downcast_ref::<IllegalStateException>().is_some() {
        Some("org.apache.storm.generated.IllegalStateException")
    } else {
        None
    }
}

impl From<NimbusClientError> for ApiError {
    fn from(e: NimbusClientError) -> Self {
        let detail = format!("{e}");
        let message = match &e {
            NimbusClientError::Thrift {
                source: thrift::Error::User(u),
                ..
            } => java_exception_class(u.as_ref())
                .map(str::to_string)
                .unwrap_or_else(|| u.to_string()),
            NimbusClientError::Thrift {
                source: thrift::Error::Application(a),
                ..
            } => a.message.clone(),
            other => other.to_string(),
        };
        ApiError::Nimbus { message, detail }
    }
}

impl ApiError {
    /// Whether nimbus said the topology does not exist.
    pub fn is_not_alive(&self) -> bool {
        matches!(self, ApiError::Nimbus { message, .. } if message.ends_with("NotAliveException"))
    }
}

/// Java's `Integer.parseInt`, with its error text.
fn parse_int(s: &str) -> Result<i32, ApiError> {
    s.parse::<i32>()
        .map_err(|_| ApiError::Invalid(format!("For input string: \"{s}\"")))
}

/// `window`'s hint, or Storm's error for a window that is not a number.
fn check_window(window: &str) -> Result<(), ApiError> {
    window_hint(window)
        .map(|_| ())
        .ok_or_else(|| ApiError::Invalid(format!("For input string: \"{window}\"")))
}

/// An integer from a JSON number or a numeric string (Storm parses `toString()` of either).
fn json_int(v: &Value, what: &str) -> Result<i32, ApiError> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(|| ApiError::Invalid(format!("For input string: \"{n}\" ({what})"))),
        Value::String(s) => parse_int(s.trim()),
        other => Err(ApiError::Invalid(format!(
            "For input string: \"{other}\" ({what})"
        ))),
    }
}

/// The REST API over one nimbus pool.
pub struct Api {
    conf: Config,
    nimbus: NimbusPool,
    actions_enabled: bool,
    /// `ui.filter`: credentials asked of every request.
    auth: Option<crate::security::http_auth::BasicAuth>,
    /// `nimbus.authorizer`, applied by the UI to the HTTP user (Storm's `AuthorizedUserFilter`).
    authz: Option<crate::security::Authorizer>,
}

/// The nimbus operation a UI route stands for (Storm's `@AuthNimbusOp`), and the topology id it
/// needs the conf of.
pub fn ui_operation(method: Method, path: &str) -> Option<(&'static str, Option<String>)> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let id = |i: usize| parts.get(i).map(|s| crate::drpc::http::percent_decode(s));
    let op = match parts.as_slice() {
        ["cluster" | "nimbus" | "supervisor" | "topology", "summary"] => {
            return Some(("getClusterInfo", None))
        }
        ["owner-resources", ..] => return Some(("getOwnerResourceSummaries", None)),
        ["supervisor"] => return Some(("getSupervisorPageInfo", None)),
        ["topology-workers", _, ..] => "getTopology",
        ["topology", _, "activate"] => "activate",
        ["topology", _, "deactivate"] => "deactivate",
        ["topology", _, "kill", ..] => "killTopology",
        ["topology", _, "rebalance", ..] => "rebalance",
        ["topology", _, "debug", ..] | ["topology", _, "component", _, "debug", ..] => "debug",
        ["topology", _, "profiling", ..] => "setWorkerProfiler",
        ["topology", _, "logconfig"] if method == Method::Post => "setLogConfig",
        ["topology", _, ..] => "getTopology",
        _ => return None,
    };
    Some((op, id(1)))
}

fn no_errors() -> GetInfoOptions {
    GetInfoOptions::new(NumErrorsChoice::NONE)
}

/// Log4j's `Level.toLevel(name).name()`: a known level in upper case, `DEBUG` for anything else.
fn log4j_level(name: &str) -> String {
    let up = name.trim().to_ascii_uppercase();
    match up.as_str() {
        "OFF" | "FATAL" | "ERROR" | "WARN" | "INFO" | "DEBUG" | "TRACE" | "ALL" => up,
        _ => "DEBUG".to_string(),
    }
}

impl Api {
    pub fn new(conf: &Config) -> Api {
        Api {
            conf: conf.clone(),
            nimbus: NimbusPool::new(conf),
            actions_enabled: conf.get_bool("ui.actions.enabled").unwrap_or(true),
            auth: None,
            authz: None,
        }
    }

    /// With `ui.filter` credentials and the UI's `nimbus.authorizer`.
    pub fn with_security(
        mut self,
        auth: Option<crate::security::http_auth::BasicAuth>,
        authz: Option<crate::security::Authorizer>,
    ) -> Api {
        self.auth = auth;
        self.authz = authz;
        self
    }

    /// The `ui.filter` in force.
    pub fn basic_auth(&self) -> Option<&crate::security::http_auth::BasicAuth> {
        self.auth.as_ref()
    }

    /// Storm's `AuthorizedUserFilter`: may `user` use this route? Topology routes are checked against
    /// the topology's conf (from nimbus).
    pub fn authorize(
        &self,
        user: Option<&str>,
        method: Method,
        path: &str,
    ) -> Result<(), ApiError> {
        let Some(authz) = &self.authz else {
            return Ok(());
        };
        let Some((op, id)) = ui_operation(method, path) else {
            return Ok(());
        };
        let conf = match id {
            Some(id) => {
                let json = self.read(|c| c.get_topology_conf(id.clone()))?;
                serde_json::from_str::<serde_json::Map<String, Value>>(&json).unwrap_or_default()
            }
            None => serde_json::Map::new(),
        };
        if authz.permit(user, op, &conf) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "UI request '{op}' for '{}' user is not authorized",
                user.unwrap_or("unknown")
            )))
        }
    }

    /// The UI's configuration.
    pub fn conf(&self) -> &Config {
        &self.conf
    }

    /// Whether POST actions are allowed (`ui.actions.enabled`).
    pub fn actions_enabled(&self) -> bool {
        self.actions_enabled
    }

    fn read<T>(&self, f: impl FnMut(&mut Client) -> thrift::Result<T>) -> Result<T, ApiError> {
        Ok(self.nimbus.read(f)?)
    }

    fn act<T>(&self, f: impl FnMut(&mut Client) -> thrift::Result<T>) -> Result<T, ApiError> {
        if !self.actions_enabled {
            return Err(ApiError::Forbidden(
                "topology actions are disabled on this UI (ui.actions.enabled = false)".into(),
            ));
        }
        Ok(self.nimbus.act(f)?)
    }

    /// Serves `method path` (the path after `/api/v1`, still percent-encoded) with `query` and
    /// `body`.
    pub fn handle(
        &self,
        method: Method,
        path: &str,
        query: &Query,
        body: &[u8],
    ) -> Result<Body, ApiError> {
        let segments: Vec<String> = path
            .trim_matches('/')
            .split('/')
            .map(|s| crate::http::url_decode_lossy(s, false))
            .collect();
        let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
        let get = method == Method::Get;
        let post = method == Method::Post;
        let sys = query.flag("sys");
        let json = |v: Value| Ok(Body::Json(v));
        match seg.as_slice() {
            ["cluster", "configuration"] if get => {
                Ok(Body::Raw(self.read(|n| n.get_nimbus_conf())?))
            }
            ["cluster", "summary"] if get => {
                let s = self.read(|n| n.get_cluster_info())?;
                json(json::cluster_summary(&s, &self.conf))
            }
            ["nimbus", "summary"] if get => {
                let s = self.read(|n| n.get_cluster_info())?;
                json(json::nimbus_summary(&s.nimbuses, &self.conf))
            }
            ["supervisor", "summary"] if get => {
                let s = self.read(|n| n.get_cluster_info())?;
                json(json::supervisor_summary(&s.supervisors, &self.conf))
            }
            ["supervisor"] if get => {
                let id = query.get("id").unwrap_or("").to_string();
                let host = query.get("host").unwrap_or("").to_string();
                let p = self.read(|n| n.get_supervisor_page_info(id.clone(), host.clone(), sys))?;
                json(json::supervisor_page(&p, &self.conf))
            }
            ["owner-resources"] if get => {
                let list = self.read(|n| n.get_owner_resource_summaries(String::new()))?;
                json(json::owner_resources(&list, &self.conf))
            }
            ["owner-resources", owner] if get => {
                let (list, topologies) = self.read(|n| {
                    let list = n.get_owner_resource_summaries(owner.to_string())?;
                    let topologies = if list.is_empty() {
                        Vec::new()
                    } else {
                        n.get_topology_summaries()?
                    };
                    Ok((list, topologies))
                })?;
                json(json::owner_resource(&list, &topologies, owner, &self.conf))
            }
            ["history", "summary"] if get => {
                let h = self.read(|n| n.get_topology_history(String::new()))?;
                json(json::history(h.topo_ids.unwrap_or_default()))
            }
            ["topology", "summary"] if get => {
                let list = self.read(|n| n.get_topology_summaries())?;
                json(json::topology_summary(&list, &self.conf))
            }
            ["topology", id] if get => {
                let window = window(query);
                check_window(&window)?;
                let p =
                    self.read(|n| n.get_topology_page_info(id.to_string(), window.clone(), sys))?;
                let mut page = json::topology_page(&p, &window, &self.conf);
                // storm-rs addition: whether the page may offer the actions.
                page["uiActionsEnabled"] = json!(self.actions_enabled);
                json(page)
            }
            ["topology-workers", id] if get => {
                let info = self.read(|n| n.get_topology_info(id.to_string()))?;
                json(json::topology_workers(&info, &self.conf))
            }
            ["topology", id, "metrics"] if get => {
                let window = window(query);
                check_window(&window)?;
                let (info, topology) = self.read(|n| {
                    Ok((
                        n.get_topology_info_with_opts(id.to_string(), no_errors())?,
                        n.get_topology(id.to_string())?,
                    ))
                })?;
                json(json::metrics(&info, &topology, &window, sys))
            }
            ["topology", id, "lag"] if get => {
                // Spout lag is Kafka's (storm-kafka-monitor); storm-rs runs no Kafka spouts it could
                // ask, which is what Storm answers for topologies without them: an empty map.
                self.read(|n| n.get_topology_info_with_opts(id.to_string(), no_errors()))?;
                json(json!({}))
            }
            ["topology", id, which @ ("visualization" | "visualization-init")] if get => {
                let window = window(query);
                let (info, topology) = self.read(|n| {
                    Ok((
                        n.get_topology_info_with_opts(
                            id.to_string(),
                            GetInfoOptions::new(NumErrorsChoice::ONE),
                        )?,
                        n.get_topology(id.to_string())?,
                    ))
                })?;
                let viz = json::visualization(&info, &topology, id, &window, sys);
                if *which == "visualization" {
                    json(viz)
                } else {
                    json(json::visualization_init(&viz))
                }
            }
            ["topology", id, "component", component] if get => {
                let window = window(query);
                check_window(&window)?;
                let p = self.read(|n| {
                    n.get_component_page_info(
                        id.to_string(),
                        component.to_string(),
                        window.clone(),
                        sys,
                    )
                })?;
                json(json::component_page(&p, id, &window, &self.conf))
            }
            ["topology", id, "logconfig"] if get => {
                let lc = self.read(|n| n.get_log_config(id.to_string()))?;
                json(json::log_config(&lc))
            }
            ["topology", id, "logconfig"] if post => self.set_log_levels(id, body),
            ["topology", id, op @ ("activate" | "deactivate")] if post => {
                let activate = *op == "activate";
                self.act(|n| {
                    let info = n.get_topology_info_with_opts(id.to_string(), no_errors())?;
                    if activate {
                        n.activate(info.name)
                    } else {
                        n.deactivate(info.name)
                    }
                })?;
                json(json::topology_op(id, op))
            }
            ["topology", id, "rebalance", wait] if post => {
                let mut options = RebalanceOptions {
                    wait_secs: Some(parse_int(wait)?),
                    ..RebalanceOptions::default()
                };
                self.rebalance_body(body, &mut options)?;
                self.act(|n| {
                    let info = n.get_topology_info_with_opts(id.to_string(), no_errors())?;
                    n.rebalance(info.name, options.clone())
                })?;
                json(json::topology_op(id, "rebalance"))
            }
            ["topology", id, "kill", wait] if post => {
                let wait = parse_int(wait)?;
                self.act(|n| {
                    let info = n.get_topology_info_with_opts(id.to_string(), no_errors())?;
                    n.kill_topology_with_opts(info.name, KillOptions::new(wait))
                })?;
                json(json::topology_op(id, "kill"))
            }
            ["topology", id, "debug", action, pct] if post => self.debug(id, "", action, pct),
            ["topology", id, "component", component, "debug", action, pct] if post => {
                self.debug(id, component, action, pct)
            }
            ["topology", id, "profiling", action, host_port, rest @ ..] if post => {
                self.profiling(id, action, host_port, rest)
            }
            // The right path with the wrong method.
            ["cluster", "configuration" | "summary"]
            | ["nimbus", "summary"]
            | ["supervisor", ..]
            | ["owner-resources", ..]
            | ["history", "summary"]
            | ["topology-workers", _] => Err(ApiError::MethodNotAllowed),
            ["topology", _, ..] if seg.len() <= 7 => Err(ApiError::MethodNotAllowed),
            _ => Err(ApiError::NotFound),
        }
    }

    /// Storm 1.x's optional rebalance body (Storm 2.x ignores it; storm-rs reads it, STORM-861).
    fn rebalance_body(&self, body: &[u8], options: &mut RebalanceOptions) -> Result<(), ApiError> {
        let text = String::from_utf8_lossy(body);
        if text.trim().is_empty() {
            return Ok(());
        }
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            return Err(ApiError::Invalid(format!(
                "the rebalance request body is not JSON: {}",
                text.chars().take(100).collect::<String>()
            )));
        };
        let Some(r) = v.get("rebalanceOptions").filter(|r| !r.is_null()) else {
            return Ok(());
        };
        if let Some(n) = r.get("numWorkers").filter(|n| !n.is_null()) {
            options.num_workers = Some(json_int(n, "numWorkers")?);
        }
        if let Some(e) = r.get("executors").and_then(Value::as_object) {
            let mut m = BTreeMap::new();
            for (comp, n) in e {
                m.insert(comp.clone(), json_int(n, comp)?);
            }
            options.num_executors = Some(m);
        }
        Ok(())
    }

    fn debug(&self, id: &str, component: &str, action: &str, pct: &str) -> Result<Body, ApiError> {
        let pct = parse_int(pct)?;
        let enable = action == "enable";
        self.act(|n| {
            let info = n.get_topology_info_with_opts(id.to_string(), no_errors())?;
            n.debug(
                info.name,
                component.to_string(),
                enable,
                OrderedFloat(f64::from(pct)),
            )
        })?;
        Ok(Body::Json(json::topology_op(
            id,
            &format!("debug/{action}"),
        )))
    }

    /// `POST /topology/<id>/logconfig` with `{"namedLoggerLevels": {"<logger>": {"target_level":
    /// "DEBUG", "timeout": 30}}}` (`target_level` null removes the logger's level); answers the log
    /// configuration afterwards.
    fn set_log_levels(&self, id: &str, body: &[u8]) -> Result<Body, ApiError> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::Invalid(format!("the log configuration is not JSON: {e}")))?;
        let levels = v
            .get("namedLoggerLevels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut configs = Vec::new();
        for (logger, spec) in &levels {
            let target = spec.get("target_level").and_then(Value::as_str);
            let level = match target {
                None => LogLevel::new(LogLevelAction::REMOVE, None, None, None, None),
                Some(t) => {
                    let timeout = spec
                        .get("timeout")
                        .filter(|t| !t.is_null())
                        .ok_or_else(|| {
                            ApiError::Invalid(format!("the timeout of logger {logger} is missing"))
                        })
                        .and_then(|t| json_int(t, "timeout"))?;
                    LogLevel::new(LogLevelAction::UPDATE, log4j_level(t), timeout, None, None)
                }
            };
            configs.push(LogConfig {
                named_logger_level: Some(BTreeMap::from([(logger.clone(), level)])),
            });
        }
        let lc = self.act(|n| {
            for c in &configs {
                n.set_log_config(id.to_string(), c.clone())?;
            }
            n.get_log_config(id.to_string())
        })?;
        Ok(Body::Json(json::log_config(&lc)))
    }

    /// The profiling actions: Storm's `setWorkerProfiler` requests (nimbus answers whether it
    /// supports them).
    fn profiling(
        &self,
        id: &str,
        action: &str,
        host_port: &str,
        rest: &[&str],
    ) -> Result<Body, ApiError> {
        let (host, port) = host_port.rsplit_once(':').ok_or_else(|| {
            ApiError::Invalid(format!("Index 1 out of bounds for length 1 ({host_port})"))
        })?;
        let port_num = port
            .parse::<i64>()
            .map_err(|_| ApiError::Invalid(format!("For input string: \"{port}\"")))?;
        let now_ms = json::now_secs() * 1000;
        let (profile_action, at, timeout) = match (action, rest) {
            ("start", [timeout]) => {
                let minutes = timeout
                    .parse::<i64>()
                    .map_err(|_| ApiError::Invalid(format!("For input string: \"{timeout}\"")))?;
                (
                    ProfileAction::JPROFILE_STOP,
                    now_ms + minutes * 60_000,
                    Some(*timeout),
                )
            }
            ("stop", []) => (ProfileAction::JPROFILE_STOP, 0, None),
            ("dumpprofile", []) => (ProfileAction::JPROFILE_DUMP, now_ms, None),
            ("dumpjstack", []) => (ProfileAction::JSTACK_DUMP, now_ms, None),
            ("dumpheap", []) => (ProfileAction::JMAP_DUMP, now_ms, None),
            ("restartworker", []) => (ProfileAction::JVM_RESTART, now_ms, None),
            _ => return Err(ApiError::NotFound),
        };
        let request = ProfileRequest::new(
            NodeInfo::new(host.to_string(), [port_num].into_iter().collect()),
            profile_action,
            at,
        );
        self.act(|n| n.set_worker_profiler(id.to_string(), request.clone()))?;
        let mut out = json!({ "status": "ok", "id": host_port });
        if let Some(t) = timeout {
            out["timeout"] = json!(t);
            let (scheme, lv_port) = super::format::logviewer(&self.conf);
            out["dumplink"] = json!(format!(
                "{scheme}://{}:{lv_port}/api/v1/dumps/{}/{}%3A{}",
                super::format::url_encode(host),
                super::format::url_encode(id),
                super::format::url_encode(host),
                port_num
            ));
        }
        Ok(Body::Json(out))
    }

    /// The topology's name (for pages that only know the id).
    pub fn topology_info(&self, id: &str) -> Result<TopologyInfo, ApiError> {
        self.read(|n| n.get_topology_info_with_opts(id.to_string(), no_errors()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode_and_flags_read_like_storm() {
        let q = Query::parse("window=600&sys=true&callback=cb&x=a%20b+c&empty=");
        assert_eq!(q.get("window"), Some("600"));
        assert!(q.flag("sys"));
        assert_eq!(q.get("x"), Some("a b c"));
        assert_eq!(q.get("empty"), Some(""));
        assert_eq!(window(&q), "600");
        assert!(Query::parse("sys=1").flag("sys"));
        assert!(!Query::parse("sys=false").flag("sys"));
        assert!(!Query::parse("").flag("sys"));
        assert_eq!(window(&Query::parse("window=")), ":all-time");
    }

    #[test]
    fn errors_are_storms_objects() {
        let e = ApiError::Invalid("For input string: \"x\"".into());
        assert_eq!(e.status(), 500);
        assert_eq!(
            e.to_json(),
            json!({"error": "500 Server Error", "errorMessage": "For input string: \"x\""})
        );
        assert_eq!(ApiError::NotFound.to_json()["error"], "404 Not Found");
        let nimbus = ApiError::from(NimbusClientError::Thrift {
            addr: "h:1".into(),
            source: thrift::Error::User(Box::new(NotAliveException::new("t-1".to_string()))),
        });
        assert!(nimbus.is_not_alive());
        assert_eq!(
            nimbus.to_json()["errorMessage"],
            "org.apache.storm.generated.NotAliveException"
        );
        assert!(parse_int("12").is_ok());
        assert_eq!(
            parse_int("1x").unwrap_err().to_string(),
            "For input string: \"1x\""
        );
        assert!(check_window("abc").is_err());
        assert!(check_window(":all-time").is_ok());
        assert_eq!(log4j_level("warn"), "WARN");
        assert_eq!(log4j_level("bogus"), "DEBUG");
    }
}

#[cfg(test)]
mod authz_tests {
    use super::*;

    #[test]
    fn ui_routes_map_to_storms_nimbus_operations() {
        let op = |m, p| ui_operation(m, p);
        assert_eq!(
            op(Method::Get, "/cluster/summary"),
            Some(("getClusterInfo", None))
        );
        assert_eq!(
            op(Method::Get, "/supervisor"),
            Some(("getSupervisorPageInfo", None))
        );
        assert_eq!(
            op(Method::Post, "/topology/wc-1-2/kill/30"),
            Some(("killTopology", Some("wc-1-2".into())))
        );
        assert_eq!(
            op(
                Method::Post,
                "/topology/a%20b/component/split/debug/enable/10"
            ),
            Some(("debug", Some("a b".into())))
        );
        assert_eq!(
            op(Method::Post, "/topology/x/logconfig").unwrap().0,
            "setLogConfig"
        );
        assert_eq!(
            op(Method::Get, "/topology/x/logconfig").unwrap().0,
            "getTopology"
        );
        assert_eq!(
            op(Method::Get, "/topology/x/component/split").unwrap().0,
            "getTopology"
        );
        assert_eq!(op(Method::Get, "/history/summary"), None);
    }
}
