//! The topology side of DRPC (storm-internals §8.3): the components a topology uses to serve DRPC
//! functions, and [`LocalDRPC`], the in-process DRPC server of local mode.
//!
//! * [`DRPCSpout`] polls `fetchRequest(function)` on the DRPC servers (`drpc.servers` ×
//!   `drpc.invocations.port`, or a [`LocalDRPC`]) and emits `[args, return-info]`, reliably; a failed
//!   tuple tree becomes `failRequest` on the server the request came from.
//! * [`ReturnResults`] takes `[result, return-info]` and answers the request with `result(id, result)`
//!   on the server named by the return info.
//! * [`LinearDRPCTopologyBuilder`] builds Storm's linear DRPC topologies: `spout` → `prepare-request`
//!   → the user's bolts wrapped in [`CoordinatedBolt`]s (batch completion per request) → `JoinResult`
//!   → `ReturnResults`. [`BatchBolt`]s get one instance per request and `finish_batch` when the request
//!   is complete.
//! * [`ExclaimBolt`]: storm-starter's manual-DRPC exclamation bolt (`[args, return-info]` →
//!   `[args + "!", return-info]`), built in so that the stock worker can run it.
//!
//! The return info is Storm's JSON object `{"id": "<request id>", "host": "<drpc host>", "port":
//! <invocations port>}`. In local mode the host is `local:<LocalDRPC service id>` (and the port 0), and
//! both components reach the [`LocalDRPC`] through a process-wide registry instead of a socket.

mod coordinated;
mod invocations;
mod linear;
mod local;
pub mod reach;
mod return_results;
mod spout;

use serde_json::Value as Json;

pub use coordinated::{BatchBolt, CoordinatedBolt, SourceArgs, COORDINATED_STREAM_ID};
pub use invocations::{describe_exception, Invocations};
pub use linear::{
    JoinResult, LinearDRPCInputDeclarer, LinearDRPCTopologyBuilder, PrepareRequest,
    PREPARER_COMPONENT, SPOUT_ID,
};
pub use local::{local_service, LocalDRPC, LOCAL_HOST_PREFIX};
pub use return_results::ReturnResults;
pub use spout::{DRPCSpout, ExclaimBolt};

/// Where a request's result goes: Storm's return-info JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnInfo {
    /// The DRPC server's request id.
    pub id: String,
    /// The DRPC server's host (`local:<id>` for a [`LocalDRPC`]).
    pub host: String,
    /// Its `drpc.invocations.port` (0 for a [`LocalDRPC`]).
    pub port: u16,
}

impl ReturnInfo {
    /// The JSON text carried in the `return-info` field.
    pub fn to_json(&self) -> String {
        serde_json::json!({"id": self.id, "host": self.host, "port": self.port}).to_string()
    }

    /// Parses a return-info JSON text; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<ReturnInfo, String> {
        let json: Json = serde_json::from_str(text)
            .map_err(|e| format!("return info {text:?} is not JSON: {e}"))?;
        let obj = json
            .as_object()
            .ok_or_else(|| format!("return info {text:?} is not a JSON object"))?;
        let id = match obj.get("id") {
            Some(Json::String(s)) => s.clone(),
            Some(Json::Number(n)) => n.to_string(),
            _ => return Err(format!("return info {text:?} has no string \"id\"")),
        };
        let host = obj
            .get("host")
            .and_then(Json::as_str)
            .ok_or_else(|| format!("return info {text:?} has no string \"host\""))?
            .to_owned();
        let port = match obj.get("port") {
            None | Some(Json::Null) if host.starts_with(LOCAL_HOST_PREFIX) => 0,
            Some(Json::Number(n)) => n
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(|| format!("return info {text:?} has a bad \"port\""))?,
            Some(Json::String(s)) => s
                .trim()
                .parse()
                .map_err(|_| format!("return info {text:?} has a bad \"port\""))?,
            _ => return Err(format!("return info {text:?} has no \"port\"")),
        };
        Ok(ReturnInfo { id, host, port })
    }
}

#[cfg(test)]
mod tests;
